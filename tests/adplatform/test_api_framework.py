"""The shared API framework in adplatform/api/: idempotency, throttling, errors, pagination, schema and docs."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from django.conf import settings as django_settings
from django.db import connection
from oauth2_provider.models import AccessToken
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Advertiser, IdempotencyKey, Membership, Role
from adplatform import clock
from tests.factories import AdvertiserFactory, AgencyMembershipFactory, UserFactory

LIST = "/api/v1/advertisers/"
NEW_CLIENT = {"name": "Client A3", "currency": "GBP", "time_zone": "Europe/London"}


def error(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def db_state() -> dict[str, list[tuple]]:
    return {
        "advertisers": list(Advertiser.objects.order_by("pk").values_list()),
        "memberships": list(Membership.objects.order_by("pk").values_list()),
        "idempotency_keys": list(IdempotencyKey.objects.order_by("pk").values_list()),
    }


# --- Idempotency-Key --------------------------------------------------------------------------


@pytest.mark.django_db
def test_same_key_and_body_replays_the_first_response_byte_for_byte(tenancy, api_client_for):
    client = api_client_for(tenancy.agent_a)

    first = client.post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="create-a3")
    second = client.post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="create-a3")

    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second["Location"] == first["Location"]
    assert second["Content-Type"] == "application/json"
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert list(Advertiser.objects.filter(name="Client A3").values_list("pk", flat=True)) == [first.json()["id"]]
    record = IdempotencyKey.objects.get()
    assert (record.user_id, record.key, record.method, record.path, record.response_status) == (
        tenancy.agent_a.pk,
        "create-a3",
        "POST",
        LIST,
        201,
    )
    assert record.response_body.encode() == first.content


@pytest.mark.django_db
def test_key_order_of_the_json_body_does_not_matter_for_a_replay(tenancy, api_client_for):
    client = api_client_for(tenancy.agent_a)

    first = client.post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="k1")
    second = client.post(LIST, dict(reversed(NEW_CLIENT.items())), HTTP_IDEMPOTENCY_KEY="k1")

    assert second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    assert Advertiser.objects.filter(name="Client A3").count() == 1


@pytest.mark.django_db
def test_same_key_with_another_body_is_a_409(tenancy, api_client_for):
    client = api_client_for(tenancy.agent_a)
    client.post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="create-a3")
    before = db_state()

    response = client.post(LIST, {**NEW_CLIENT, "name": "Client A4"}, HTTP_IDEMPOTENCY_KEY="create-a3")

    assert response.status_code == 409
    assert response.json() == error("idempotency_key_reused", "This Idempotency-Key was already used with a different request.")
    assert db_state() == before
    assert not Advertiser.objects.filter(name="Client A4").exists()


@pytest.mark.django_db
def test_a_refused_request_is_not_stored_so_the_fixed_request_may_reuse_the_key(tenancy, api_client_for):
    client = api_client_for(tenancy.agent_a)
    before = db_state()

    refused = client.post(LIST, {**NEW_CLIENT, "currency": "ABC"}, HTTP_IDEMPOTENCY_KEY="retry-me")

    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"currency": ["ABC is not an ISO 4217 currency code."]}
    assert db_state() == before

    fixed = client.post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="retry-me")

    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed
    assert Advertiser.objects.filter(name="Client A3").count() == 1
    assert IdempotencyKey.objects.get().response_status == 201


@pytest.mark.django_db
def test_a_permission_refusal_is_not_stored(tenancy, api_client_for):
    analyst = AgencyMembershipFactory(agency=tenancy.agency_a, role=Role.ANALYST).user
    client = api_client_for(analyst)
    before = db_state()

    first = client.post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="k")
    second = client.post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="k")

    assert first.status_code == second.status_code == 403
    assert "Idempotent-Replayed" not in second
    assert db_state() == before


@pytest.mark.django_db
def test_keys_belong_to_their_user(tenancy, api_client_for):
    agent_a, agent_b = api_client_for(tenancy.agent_a), api_client_for(tenancy.agent_b)

    for_a = agent_a.post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="shared-key")
    for_b = agent_b.post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="shared-key")

    assert for_a.status_code == for_b.status_code == 201
    assert "Idempotent-Replayed" not in for_b
    assert for_a.json()["id"] != for_b.json()["id"]
    assert (for_a.json()["agency"], for_b.json()["agency"]) == (tenancy.agency_a.pk, tenancy.agency_b.pk)
    assert sorted(IdempotencyKey.objects.values_list("user_id", "key")) == sorted(
        [(tenancy.agent_a.pk, "shared-key"), (tenancy.agent_b.pk, "shared-key")]
    )


@pytest.mark.django_db
def test_keys_are_shared_by_all_tokens_of_a_user(tenancy, api_client_for):
    first = api_client_for(tenancy.agent_a).post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="k")

    second = api_client_for(tenancy.agent_a).post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="k")

    assert second["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    assert Advertiser.objects.filter(name="Client A3").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["k" * 256, "   "])
def test_an_over_long_or_blank_key_is_a_400_naming_the_header(tenancy, api_client_for, key):
    before = db_state()

    response = api_client_for(tenancy.agent_a).post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    message = "Send 1 to 255 characters."
    assert response.json() == error(
        "validation_error", f"Invalid input: Idempotency-Key: {message}", {"Idempotency-Key": [message]}
    )
    assert db_state() == before


@pytest.mark.django_db
def test_a_key_of_255_characters_is_accepted(tenancy, api_client_for):
    response = api_client_for(tenancy.agent_a).post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="k" * 255)

    assert response.status_code == 201
    assert IdempotencyKey.objects.get().key == "k" * 255


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_the_same_key_create_one_advertiser(tenancy, api_client_for):
    clients = [api_client_for(tenancy.agent_a), api_client_for(tenancy.agent_a)]
    start = threading.Barrier(len(clients))
    responses: list = [None, None]
    failures: list[BaseException] = []

    def post(index: int) -> None:
        try:
            start.wait(timeout=10)
            responses[index] = clients[index].post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="concurrent")
        except BaseException as exc:  # surfaced in the main thread below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(index,)) for index in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert [response.status_code for response in responses] == [201, 201]
    ids = {response.json()["id"] for response in responses}
    assert len(ids) == 1
    assert list(Advertiser.objects.filter(name="Client A3").values_list("pk", flat=True)) == list(ids)
    assert sorted(response.get("Idempotent-Replayed", "") for response in responses) == ["", "true"]
    assert responses[0].content == responses[1].content
    assert IdempotencyKey.objects.count() == 1


# --- Throttling -------------------------------------------------------------------------------


# Ten seconds into a minute: the throttle's one-minute window has 50 seconds left.
TEN_PAST = datetime(2026, 11, 29, 12, 0, 10, tzinfo=UTC)


@pytest.mark.django_db
def test_the_request_after_the_rate_is_a_429_with_retry_after(tenancy, api_client_for, settings):
    settings.API_THROTTLE_RATE = "3/min"
    client = api_client_for(tenancy.owner)
    other_token = api_client_for(tenancy.owner)

    with clock.frozen(TEN_PAST):
        allowed = [client.get(LIST).status_code for _ in range(3)]
        refused = client.get(LIST)
        others = [other_token.get(LIST).status_code, api_client_for(tenancy.agent_a).get(LIST).status_code]
    with clock.frozen(TEN_PAST + timedelta(seconds=50)):
        next_window = client.get(LIST)

    assert allowed == [200, 200, 200]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "50"
    assert others == [200, 200]
    assert next_window.status_code == 200
    body = refused.json()
    assert body == error("throttled", body["error"]["message"])
    assert body["error"]["message"] == "Request was throttled. Expected available in 50 seconds."


@pytest.mark.django_db
def test_a_throttled_create_writes_nothing(tenancy, api_client_for, settings):
    settings.API_THROTTLE_RATE = "1/min"
    client = api_client_for(tenancy.agent_a)
    with clock.frozen(TEN_PAST):
        assert client.get(LIST).status_code == 200
        before = db_state()

        response = client.post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert db_state() == before


# --- Error shape ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_401_without_credentials(tenancy):
    response = APIClient().get(LIST)

    assert response.status_code == 401
    assert response.json() == error("not_authenticated", "Authentication credentials were not provided.")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_401_with_an_unknown_bearer_token(tenancy):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer adp_not-a-real-token")

    response = client.get(LIST)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
def test_401_with_an_expired_token(tenancy, api_client_for):
    client = api_client_for(tenancy.owner)
    AccessToken.objects.filter(user=tenancy.owner).update(expires=clock.now() - timedelta(seconds=1))

    response = client.get(LIST)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
def test_401_with_a_token_of_a_deactivated_user(tenancy, api_client_for):
    """A deactivated account is locked out everywhere: its tokens must stop working like its sessions do."""
    client = api_client_for(tenancy.agent_a)
    client.raise_request_exception = False
    type(tenancy.agent_a).objects.filter(pk=tenancy.agent_a.pk).update(is_active=False)
    before = db_state()

    listing = client.get(LIST)
    created = client.post(LIST, NEW_CLIENT)

    assert (listing.status_code, created.status_code) == (401, 401)
    assert listing.json()["error"]["code"] == created.json()["error"]["code"] == "not_authenticated"
    assert db_state() == before


@pytest.mark.django_db
def test_403_for_a_missing_role(tenancy, api_client_for):
    response = api_client_for(tenancy.analyst).patch(f"{LIST}{tenancy.bakery.pk}/", {"name": "Renamed"})

    assert response.status_code == 403
    assert response.json() == error("permission_denied", "This needs the admin role on Bakery.")


@pytest.mark.django_db
def test_403_for_a_missing_scope(tenancy, api_client_for):
    response = api_client_for(tenancy.owner, scopes=["billing:write"]).get(LIST)

    assert response.status_code == 403
    assert response.json() == error(
        "insufficient_scope",
        "This token lacks the scope this operation needs: campaigns:read or reports:read or billing:read.",
    )


@pytest.mark.django_db
def test_404_inside_the_api(tenancy, api_client_for):
    response = api_client_for(tenancy.owner).get(f"{LIST}{tenancy.client_a1.pk}/")

    assert response.status_code == 404
    assert response.json() == error("not_found", "Not found.")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/unknown/", "/api/v1/advertisers/1/members/", "/api/v2/advertisers/"])
def test_404_for_an_unknown_api_path_is_json(tenancy, api_client_for, path):
    response = api_client_for(tenancy.owner).get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == error("not_found", "Not found.")


@pytest.mark.django_db
def test_404_outside_the_api_is_a_page(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_405_for_an_unsupported_method(tenancy, api_client_for):
    response = api_client_for(tenancy.owner).put(LIST, NEW_CLIENT)

    assert response.status_code == 405
    assert response.json() == error("method_not_allowed", 'Method "PUT" not allowed.')


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/plain", "name=Client A3"), ("application/x-www-form-urlencoded", "name=Client+A3&currency=GBP")],
)
def test_415_for_a_non_json_body(tenancy, api_client_for, content_type, body):
    before = db_state()

    response = api_client_for(tenancy.agent_a).post(LIST, body, content_type=content_type)

    assert response.status_code == 415
    assert response.json() == error("unsupported_media_type", f'Unsupported media type "{content_type}" in request.')
    assert db_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("idempotency_key", [None, "k"])
def test_400_for_malformed_json(tenancy, api_client_for, idempotency_key):
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    before = db_state()

    response = api_client_for(tenancy.agent_a).post(LIST, "{not json", content_type="application/json", **headers)

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "malformed_request"
    assert body["error"]["message"].startswith("Malformed request body: JSON parse error - ")
    assert body["error"]["fields"] == {}
    assert db_state() == before


@pytest.mark.django_db
def test_validation_errors_carry_every_field(tenancy, api_client_for):
    response = api_client_for(tenancy.agent_a).post(LIST, {"name": "", "currency": "EURO"})

    assert response.status_code == 400
    assert response.json() == error(
        "validation_error",
        "Invalid input: name: This field may not be blank.",
        {
            "name": ["This field may not be blank."],
            "currency": ["Ensure this field has no more than 3 characters."],
            "time_zone": ["This field is required."],
        },
    )


# --- Pagination -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_have_count_and_absolute_links(tenancy, api_client_for):
    AdvertiserFactory(name="Client A3", agency=tenancy.agency_a)
    client = api_client_for(tenancy.agent_a)

    first = client.get(f"{LIST}?page_size=2")
    second = client.get(first.json()["next"])

    assert first.status_code == 200
    assert first.json()["count"] == 3
    assert first.json()["next"] == "http://testserver/api/v1/advertisers/?page=2&page_size=2"
    assert first.json()["previous"] is None
    assert [row["name"] for row in first.json()["results"]] == ["Client A1", "Client A2"]
    assert second.status_code == 200
    assert second.json()["count"] == 3
    assert second.json()["next"] is None
    assert second.json()["previous"] == "http://testserver/api/v1/advertisers/?page_size=2"
    assert [row["name"] for row in second.json()["results"]] == ["Client A3"]


@pytest.mark.django_db
def test_links_keep_filters_and_ordering(tenancy, api_client_for):
    AdvertiserFactory(name="Client A3", agency=tenancy.agency_a)

    response = api_client_for(tenancy.agent_a).get(f"{LIST}?page_size=1&ordering=-name&name=client")

    assert response.json()["next"] == "http://testserver/api/v1/advertisers/?name=client&ordering=-name&page=2&page_size=1"
    assert [row["name"] for row in response.json()["results"]] == ["Client A3"]


@pytest.mark.django_db
def test_page_size_is_capped_at_200(tenancy, api_client_for):
    Advertiser.objects.bulk_create(
        Advertiser(name=f"Bulk {n:03d}", currency="EUR", time_zone="UTC", agency=tenancy.agency_b) for n in range(200)
    )

    response = api_client_for(tenancy.agent_b).get(f"{LIST}?page_size=1000")

    body = response.json()
    assert body["count"] == 201
    assert len(body["results"]) == 200
    assert body["results"][-1]["name"] == "Bulk 199"
    assert body["next"] == "http://testserver/api/v1/advertisers/?page=2&page_size=1000"


@pytest.mark.django_db
def test_default_page_size_is_50(tenancy, api_client_for):
    Advertiser.objects.bulk_create(
        Advertiser(name=f"Bulk {n:03d}", currency="EUR", time_zone="UTC", agency=tenancy.agency_b) for n in range(55)
    )

    body = api_client_for(tenancy.agent_b).get(LIST).json()

    assert (body["count"], len(body["results"])) == (56, 50)
    assert body["next"] == "http://testserver/api/v1/advertisers/?page=2"


@pytest.mark.django_db
def test_a_page_past_the_end_is_a_400_naming_page(tenancy, api_client_for):
    response = api_client_for(tenancy.agent_a).get(f"{LIST}?page=9")

    assert response.status_code == 400
    assert response.json() == error("validation_error", "Invalid input: page: Invalid page.", {"page": ["Invalid page."]})


# --- Schema and docs --------------------------------------------------------------------------

EXPECTED_OAUTH2_SCHEME = {
    "type": "oauth2",
    "flows": {
        "authorizationCode": {
            "authorizationUrl": "/o/authorize/",
            "tokenUrl": "/o/token/",
            "refreshUrl": "/o/token/",
            "scopes": {
                "campaigns:read": "Read campaigns, ad groups, ads and advertiser accounts",
                "campaigns:write": "Create and change campaigns, ad groups, ads and advertiser accounts",
                "reports:read": "Read reports",
                "billing:read": "Read balances, transactions and invoices",
                "billing:write": "Top up balances and redeem credits",
                "review": "Review ads (platform staff only)",
            },
        }
    },
}


@pytest.mark.django_db
def test_schema_is_yaml_by_default_and_json_on_request(client):
    as_yaml = client.get("/api/schema/")
    as_json = client.get("/api/schema/?format=json")

    assert as_yaml.status_code == as_json.status_code == 200
    assert as_yaml["Content-Type"] == "application/vnd.oai.openapi; charset=utf-8"
    assert as_json["Content-Type"] == "application/vnd.oai.openapi+json"
    assert yaml.safe_load(as_yaml.content) == as_json.json()


@pytest.mark.django_db
def test_schema_describes_the_advertisers_resource_and_oauth2(client):
    schema = client.get("/api/schema/?format=json").json()

    assert schema["info"]["title"] == "Adplatform API"
    assert {"/api/v1/advertisers/", "/api/v1/advertisers/{id}/"} <= set(schema["paths"])
    assert set(schema["paths"]["/api/v1/advertisers/"]) == {"get", "post"}
    assert set(schema["paths"]["/api/v1/advertisers/{id}/"]) == {"get", "patch"}
    assert schema["components"]["securitySchemes"]["oauth2"] == EXPECTED_OAUTH2_SCHEME
    assert set(EXPECTED_OAUTH2_SCHEME["flows"]["authorizationCode"]["scopes"]) == set(django_settings.API_SCOPES)
    create = schema["paths"]["/api/v1/advertisers/"]["post"]
    assert {"in": "header", "name": "Idempotency-Key"}.items() <= create["parameters"][0].items()
    assert schema["components"]["schemas"]["AdvertiserCreateRequest"]["required"] == ["currency", "name", "time_zone"]


def oauth2_scopes(operation: dict) -> list[str]:
    return sorted(scope for requirement in operation.get("security", []) for scope in requirement.get("oauth2", []))


@pytest.mark.django_db
def test_schema_operations_accept_oauth2_bearer_tokens_with_their_scopes(client):
    """Every advertiser operation takes a bearer token, so each must list the oauth2 scheme and its scopes."""
    paths = client.get("/api/schema/?format=json").json()["paths"]

    assert oauth2_scopes(paths["/api/v1/advertisers/"]["get"]) == ["billing:read", "campaigns:read", "reports:read"]
    assert oauth2_scopes(paths["/api/v1/advertisers/{id}/"]["get"]) == ["billing:read", "campaigns:read", "reports:read"]
    assert oauth2_scopes(paths["/api/v1/advertisers/"]["post"]) == ["campaigns:write"]
    assert oauth2_scopes(paths["/api/v1/advertisers/{id}/"]["patch"]) == ["campaigns:write"]


@pytest.mark.django_db
def test_docs_are_swagger_ui_served_without_a_cdn(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = response.content.decode()
    assert "cdn.jsdelivr.net" not in page
    assert "unpkg.com" not in page
    assert '<div id="swagger-ui"></div>' in page
    assert "/api/schema/" in page
    bundle = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert f'<script src="{bundle}"></script>' in page
    asset = client.get(bundle)
    assert asset.status_code == 200
    assert b"SwaggerUIBundle" in b"".join(asset.streaming_content)


@pytest.mark.django_db
def test_signed_in_sessions_are_throttled_per_user(tenancy, settings):
    settings.API_THROTTLE_RATE = "2/min"
    session, same_user, other_user = APIClient(), APIClient(), APIClient()
    session.force_login(tenancy.owner)
    same_user.force_login(tenancy.owner)
    other_user.force_login(tenancy.analyst)

    with clock.frozen(TEN_PAST):
        codes = [session.get(LIST).status_code for _ in range(2)]
        same, other = same_user.get(LIST).status_code, other_user.get(LIST).status_code

    assert codes == [200, 200]
    assert (same, other) == (429, 200)


@pytest.mark.django_db
def test_idempotency_keys_are_purged_after_the_retention_window(tenancy, api_client_for):
    client = api_client_for(tenancy.agent_a)
    client.post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="old")
    client.post(LIST, {**NEW_CLIENT, "name": "Client A4"}, HTTP_IDEMPOTENCY_KEY="new")
    IdempotencyKey.objects.filter(key="old").update(created_at=clock.now() - timedelta(hours=25))

    purged = services.idempotency_keys_purge()

    assert purged == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.django_db
def test_an_unrelated_user_cannot_replay_someone_elses_key(tenancy, api_client_for):
    api_client_for(tenancy.agent_a).post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="k")
    stranger = UserFactory(email="new@example.com")

    response = api_client_for(stranger).post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert response.json()["agency"] is None
    assert response.json()["role"] == "admin"


@pytest.mark.django_db
@pytest.mark.parametrize("size", ["abc", "0", "-1", "1.5", "²", "9" * 5000, ""])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_a_400_naming_it(tenancy, api_client_for, size):
    response = api_client_for(tenancy.agent_a).get(LIST, {"page_size": size})

    assert response.status_code == 400
    message = "Send a whole number from 1 to 200."
    assert response.json() == error("validation_error", f"Invalid input: page_size: {message}", {"page_size": [message]})


@pytest.mark.django_db
@pytest.mark.parametrize("ordering", ["-create_at", "name,budget", "name,", "password", "?"])
def test_an_ordering_the_list_does_not_have_is_a_400_naming_it(tenancy, api_client_for, ordering):
    # DRF would drop the unknown term and sort by the default: a typo must not pass silently
    response = api_client_for(tenancy.agent_a).get(LIST, {"ordering": ordering})

    assert response.status_code == 400
    message = "Order by created_at, id, name, or several joined by commas; - before one for descending."
    assert response.json() == error("validation_error", f"Invalid input: ordering: {message}", {"ordering": [message]})


@pytest.mark.django_db
def test_several_orderings_sort_by_each_in_turn(tenancy, api_client_for):
    AdvertiserFactory(name="Client A1", agency=tenancy.agency_a)

    response = api_client_for(tenancy.agent_a).get(LIST, {"ordering": "name,-id"})

    names_ids = [(row["name"], row["id"]) for row in response.json()["results"]]
    assert names_ids == sorted(names_ids, key=lambda pair: (pair[0], -pair[1]))
    assert len({name for name, _ in names_ids}) < len(names_ids)  # a tie on name, broken by id descending
