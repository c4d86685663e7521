"""OAuth2 authorization code + PKCE (RFC 9700 settings) for partner apps, mounted at /o/."""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.contrib.auth.hashers import check_password
from django.test import Client
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken
from rest_framework.test import APIClient

from accounts.models import Advertiser, Membership
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REDIRECT_URI = "https://partner.example/callback"
VERIFIER = "partner-app-code-verifier-" + "x" * 40
STATE = "state-3f9c"
CLIENT_SECRET = "partner-client-secret-0123456789abcdef"  # plaintext, kept before the model hashes it
LIST = "/api/v1/advertisers/"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def make_application(client_type: str = Application.CLIENT_CONFIDENTIAL, *, developer_is_staff: bool = False) -> Application:
    developer = UserFactory(email="developer@partner.example", is_staff=developer_is_staff)
    return Application.objects.create(
        name="Partner Reports",
        user=developer,
        client_type=client_type,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=REDIRECT_URI,
        client_secret=CLIENT_SECRET,
        algorithm="",
    )


def authorize_params(application: Application, **overrides: str | None) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": application.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "campaigns:read",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        "state": STATE,
    }
    params.update(overrides)
    return {key: value for key, value in params.items() if value is not None}


def signed_in(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def consent(browser: Client, application: Application, **overrides: str | None):
    """The user presses 'Authorize' on the consent page."""
    return browser.post("/o/authorize/", {**authorize_params(application, **overrides), "allow": "Authorize"})


def redirect_query(response) -> dict[str, list[str]]:
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return parse_qs(location.query)


def exchange(application: Application, code: str, verifier: str = VERIFIER):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": application.client_id,
        "code_verifier": verifier,
    }
    if application.client_type == Application.CLIENT_CONFIDENTIAL:
        data["client_secret"] = CLIENT_SECRET
    return Client().post("/o/token/", urlencode(data), content_type="application/x-www-form-urlencoded")


def bearer_client(access_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return client


def db_state() -> dict[str, list]:
    return {
        "advertisers": list(Advertiser.objects.order_by("pk").values_list()),
        "memberships": list(Membership.objects.order_by("pk").values_list()),
        "grants": list(Grant.objects.order_by("pk").values_list("pk", flat=True)),
        "access_tokens": list(AccessToken.objects.order_by("pk").values_list("pk", flat=True)),
    }


@pytest.mark.parametrize(
    ("client_type", "developer_is_staff"),
    [(Application.CLIENT_CONFIDENTIAL, False), (Application.CLIENT_PUBLIC, False), (Application.CLIENT_CONFIDENTIAL, True)],
)
def test_authorization_code_with_pkce_gives_a_token_limited_to_the_granted_scope(tenancy, client_type, developer_is_staff):
    # given: a partner application and the advertiser's owner signed in
    application = make_application(client_type, developer_is_staff=developer_is_staff)
    browser = signed_in(tenancy.owner)

    # when: the partner sends the owner to the consent page
    page = browser.get("/o/authorize/", authorize_params(application))

    # then: the owner sees what the app asks for
    assert page.status_code == 200
    assert "oauth2_provider/authorize.html" in [template.name for template in page.templates]
    assert page.context["scopes_descriptions"] == ["Read campaigns, ad groups, ads and advertiser accounts"]
    assert "Partner Reports" in page.content.decode()
    assert Grant.objects.count() == 0

    # when: they allow it
    allowed = consent(browser, application)

    # then: the partner gets a code and its state back on its https callback
    assert allowed.status_code == 302
    query = redirect_query(allowed)
    assert query["state"] == [STATE]
    assert len(query["code"]) == 1
    assert query["iss"] == ["http://testserver/o"]
    assert Grant.objects.get().user_id == tenancy.owner.pk

    # when: the partner exchanges the code with the verifier
    token_response = exchange(application, query["code"][0])

    # then: it gets a bearer token for exactly the granted scope, stored only as a hash
    assert token_response.status_code == 200
    token = token_response.json()
    assert (token["token_type"], token["scope"], token["expires_in"]) == ("Bearer", "campaigns:read", 3600)
    assert token["refresh_token"]
    stored = AccessToken.objects.get(application=application)
    assert (stored.user_id, stored.scope) == (tenancy.owner.pk, "campaigns:read")
    assert stored.token_checksum == hashlib.sha256(token["access_token"].encode()).hexdigest()
    assert not AccessToken.objects.filter(token=token["access_token"]).exists()
    assert not RefreshToken.objects.filter(token=token["refresh_token"]).exists()
    assert Grant.objects.count() == 0

    # and the token reads the owner's advertisers but cannot write
    api = bearer_client(token["access_token"])
    listing = api.get(LIST)
    assert listing.status_code == 200
    assert [(row["name"], row["role"]) for row in listing.json()["results"]] == [("Bakery", "admin")]
    assert api.get(f"{LIST}{tenancy.client_a1.pk}/").status_code == 404
    before = db_state()
    created = api.post(LIST, {"name": "Partner Made", "currency": "EUR", "time_zone": "UTC"}, format="json")
    changed = api.patch(f"{LIST}{tenancy.bakery.pk}/", {"name": "Partner Renamed"}, format="json")
    for refused in (created, changed):
        assert refused.status_code == 403
        assert refused.json() == {
            "error": {
                "code": "insufficient_scope",
                "message": "This token lacks the scope this operation needs: campaigns:write.",
                "fields": {},
            }
        }
    assert db_state() == before


def test_a_token_granted_campaigns_write_can_create(tenancy):
    application = make_application()
    browser = signed_in(tenancy.agent_a)
    allowed = consent(browser, application, scope="campaigns:read campaigns:write")
    token = exchange(application, redirect_query(allowed)["code"][0]).json()

    response = bearer_client(token["access_token"]).post(
        LIST, {"name": "Client A3", "currency": "EUR", "time_zone": "UTC"}, format="json"
    )

    assert token["scope"] == "campaigns:read campaigns:write"
    assert response.status_code == 201
    assert Advertiser.objects.get(name="Client A3").agency_id == tenancy.agency_a.pk


def test_declining_the_consent_gives_the_partner_an_error_and_no_code(tenancy):
    application = make_application()
    browser = signed_in(tenancy.owner)
    before = db_state()

    declined = browser.post("/o/authorize/", authorize_params(application))

    assert declined.status_code == 302
    query = redirect_query(declined)
    assert query["error"] == ["access_denied"]
    assert query["state"] == [STATE]
    assert "code" not in query
    assert db_state() == before


def test_an_anonymous_visitor_is_sent_to_log_in_first(tenancy):
    application = make_application()

    response = Client().get("/o/authorize/", authorize_params(application))

    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/login/"
    assert Grant.objects.count() == 0


def test_authorization_without_a_code_challenge_is_refused(tenancy):
    application = make_application()
    browser = signed_in(tenancy.owner)
    before = db_state()

    page = browser.get("/o/authorize/", authorize_params(application, code_challenge=None, code_challenge_method=None))
    allowed = consent(browser, application, code_challenge=None, code_challenge_method=None)

    for response in (page, allowed):
        assert response.status_code == 302
        query = redirect_query(response)
        assert query["error"] == ["invalid_request"]
        assert query["error_description"] == ["Code challenge required."]
        assert query["state"] == [STATE]
        assert "code" not in query
    assert db_state() == before


@pytest.mark.parametrize(
    "overrides",
    [{"code_challenge": VERIFIER, "code_challenge_method": "plain"}, {"code_challenge": VERIFIER, "code_challenge_method": None}],
)
def test_a_plain_code_challenge_is_refused(tenancy, overrides):
    application = make_application()
    browser = signed_in(tenancy.owner)
    before = db_state()

    allowed = consent(browser, application, **overrides)

    assert allowed.status_code == 302
    query = redirect_query(allowed)
    assert query["error"] == ["invalid_request"]
    assert "code" not in query
    assert db_state() == before


def test_an_unregistered_redirect_uri_is_refused_without_redirecting(tenancy):
    application = make_application()
    browser = signed_in(tenancy.owner)
    before = db_state()

    page = browser.get("/o/authorize/", authorize_params(application, redirect_uri="https://attacker.example/callback"))
    allowed = consent(browser, application, redirect_uri="https://attacker.example/callback")

    for response in (page, allowed):
        assert response.status_code == 400
        assert "Location" not in response
        assert "Mismatching redirect URI." in response.content.decode()
    assert db_state() == before


@pytest.mark.parametrize("verifier", ["another-verifier-" + "y" * 40, ""])
def test_a_wrong_code_verifier_is_refused_at_the_token_endpoint(tenancy, verifier):
    application = make_application()
    code = redirect_query(consent(signed_in(tenancy.owner), application))["code"][0]

    response = exchange(application, code, verifier=verifier)

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant"}
    assert AccessToken.objects.filter(application=application).count() == 0


def test_a_code_can_be_exchanged_only_once(tenancy):
    application = make_application()
    code = redirect_query(consent(signed_in(tenancy.owner), application))["code"][0]
    first = exchange(application, code)

    second = exchange(application, code)

    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert AccessToken.objects.filter(application=application).count() == 1


def test_a_confidential_client_must_authenticate_at_the_token_endpoint(tenancy):
    application = make_application()
    code = redirect_query(consent(signed_in(tenancy.owner), application))["code"][0]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": application.client_id,
        "client_secret": "wrong-secret",
        "code_verifier": VERIFIER,
    }

    response = Client().post("/o/token/", urlencode(data), content_type="application/x-www-form-urlencoded")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert AccessToken.objects.filter(application=application).count() == 0


def test_the_client_secret_is_stored_hashed(db):
    application = make_application()

    stored = Application.objects.get(pk=application.pk).client_secret

    assert stored != CLIENT_SECRET
    assert check_password(CLIENT_SECRET, stored)


def test_an_unknown_scope_is_refused(tenancy):
    application = make_application()
    browser = signed_in(tenancy.owner)

    response = browser.get("/o/authorize/", authorize_params(application, scope="campaigns:delete"))

    assert response.status_code == 302
    assert redirect_query(response)["error"] == ["invalid_scope"]
    assert Grant.objects.count() == 0


def test_the_partner_token_acts_only_within_the_users_tenancy(tenancy):
    application = make_application()
    code = redirect_query(consent(signed_in(tenancy.agent_b), application))["code"][0]
    token = exchange(application, code).json()["access_token"]
    api = bearer_client(token)

    listing = api.get(LIST)
    other = api.get(f"{LIST}{tenancy.client_a1.pk}/")

    assert [row["name"] for row in listing.json()["results"]] == ["Client B1"]
    assert other.status_code == 404


def test_a_random_token_string_is_not_a_token(tenancy):
    response = bearer_client(secrets.token_urlsafe(30)).get(LIST)

    assert response.status_code == 401
