"""/api/v1/advertisers/ end to end: tenancy, roles, scopes, validation and the database behind them."""

from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import Advertiser, AgencyMembership, IdempotencyKey, Membership, Role
from tests.factories import AdvertiserFactory, AgencyFactory, AgencyMembershipFactory, MembershipFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/advertisers/"
READ_SCOPES_MESSAGE = "This token lacks the scope this operation needs: campaigns:read or reports:read or billing:read."
WRITE_SCOPE_MESSAGE = "This token lacks the scope this operation needs: campaigns:write."


def detail(advertiser_or_id: Advertiser | int) -> str:
    pk = advertiser_or_id.pk if isinstance(advertiser_or_id, Advertiser) else advertiser_or_id
    return f"/api/v1/advertisers/{pk}/"


def iso(moment) -> str:
    """How DRF renders an aware UTC datetime."""
    return moment.isoformat().replace("+00:00", "Z")


def db_state() -> dict[str, list[tuple]]:
    """Every row a refused advertiser request could have touched, for before/after comparisons."""
    return {
        "advertisers": list(Advertiser.objects.order_by("pk").values_list()),
        "memberships": list(Membership.objects.order_by("pk").values_list()),
        "agency_memberships": list(AgencyMembership.objects.order_by("pk").values_list()),
        "idempotency_keys": list(IdempotencyKey.objects.order_by("pk").values_list()),
        "advertiser_history": list(Advertiser.history.order_by("pk").values_list("history_id", flat=True)),
    }


def names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


def error(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


NOT_FOUND = error("not_found", "Not found.")
NOT_AUTHENTICATED = error("not_authenticated", "Authentication credentials were not provided.")


# --- GET list ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("agent_a", ["Client A1", "Client A2"]),
        ("agent_b", ["Client B1"]),
        ("owner", ["Bakery"]),
        ("analyst", ["Bakery"]),
        ("stranger", []),
    ],
)
def test_list_shows_exactly_the_callers_advertisers(tenancy, api_client_for, who, expected):
    client = api_client_for(getattr(tenancy, who))

    response = client.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert names(response) == expected
    assert body["count"] == len(expected)
    assert body["next"] is None
    assert body["previous"] is None


def test_list_is_refused_to_anonymous_callers(tenancy):
    response = APIClient().get(LIST)

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


def test_list_rows_have_the_documented_shape_and_the_callers_role(tenancy, api_client_for):
    credit_client = AdvertiserFactory(
        name="Client A0",
        agency=tenancy.agency_a,
        billing_mode=Advertiser.BillingMode.CREDIT_LINE,
        credit_limit_micros=50_000_000_000,
    )
    operator = AgencyMembershipFactory(agency=tenancy.agency_a, role=Role.OPERATOR).user

    response = api_client_for(operator).get(LIST)

    assert response.status_code == 200
    a0, a1, a2 = (Advertiser.objects.get(pk=pk) for pk in (credit_client.pk, tenancy.client_a1.pk, tenancy.client_a2.pk))
    assert response.json()["results"] == [
        {
            "id": a0.pk,
            "name": "Client A0",
            "currency": "EUR",
            "time_zone": "Europe/Berlin",
            "status": "active",
            "billing_mode": "credit_line",
            "credit_limit": "50000.00",
            "agency": tenancy.agency_a.pk,
            "role": "operator",
            "created_at": iso(a0.created_at),
            "updated_at": iso(a0.updated_at),
        },
        {
            "id": a1.pk,
            "name": "Client A1",
            "currency": "EUR",
            "time_zone": "Europe/Berlin",
            "status": "active",
            "billing_mode": "prepaid",
            "credit_limit": "0.00",
            "agency": tenancy.agency_a.pk,
            "role": "operator",
            "created_at": iso(a1.created_at),
            "updated_at": iso(a1.updated_at),
        },
        {
            "id": a2.pk,
            "name": "Client A2",
            "currency": "USD",
            "time_zone": "America/New_York",
            "status": "active",
            "billing_mode": "prepaid",
            "credit_limit": "0.00",
            "agency": tenancy.agency_a.pk,
            "role": "operator",
            "created_at": iso(a2.created_at),
            "updated_at": iso(a2.updated_at),
        },
    ]


@pytest.mark.parametrize(("who", "role"), [("owner", "admin"), ("analyst", "analyst")])
def test_role_is_the_callers_own_role_on_the_advertiser(tenancy, api_client_for, who, role):
    response = api_client_for(getattr(tenancy, who)).get(LIST)

    assert [(row["name"], row["role"], row["agency"]) for row in response.json()["results"]] == [("Bakery", role, None)]


def test_role_is_the_strongest_of_direct_and_agency_roles(tenancy, api_client_for):
    user = AgencyMembershipFactory(agency=tenancy.agency_a, role=Role.ANALYST).user
    MembershipFactory(user=user, advertiser=tenancy.client_a2, role=Role.OPERATOR)

    response = api_client_for(user).get(LIST)

    assert [(row["name"], row["role"]) for row in response.json()["results"]] == [
        ("Client A1", "analyst"),
        ("Client A2", "operator"),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?name=a2", ["Client A2"]),
        ("?name=CLIENT", ["Client A1", "Client A2", "Client A3"]),
        ("?name=bakery", []),
        ("?status=suspended", ["Client A3"]),
        ("?status=active", ["Client A1", "Client A2"]),
        ("?currency=USD", ["Client A2"]),
        ("?currency=EUR&status=active", ["Client A1"]),
        ("?ordering=-name", ["Client A3", "Client A2", "Client A1"]),
        ("?ordering=name", ["Client A1", "Client A2", "Client A3"]),
        ("?ordering=-created_at", ["Client A3", "Client A2", "Client A1"]),
        ("?ordering=-id", ["Client A3", "Client A2", "Client A1"]),
    ],
)
def test_list_filters_and_ordering(tenancy, api_client_for, query, expected):
    AdvertiserFactory(name="Client A3", agency=tenancy.agency_a, status=Advertiser.Status.SUSPENDED, currency="GBP")

    response = api_client_for(tenancy.agent_a).get(LIST + query)

    assert response.status_code == 200
    assert names(response) == expected
    assert response.json()["count"] == len(expected)


def test_filters_never_widen_the_tenancy(tenancy, api_client_for):
    response = api_client_for(tenancy.agent_a).get(f"{LIST}?agency={tenancy.agency_b.pk}")

    assert response.status_code == 200
    assert names(response) == []


def test_the_agency_filter_does_not_reveal_which_agencies_exist(tenancy, api_client_for):
    """Outside the tenancy, an agency that exists and one that does not must look the same."""
    client = api_client_for(tenancy.agent_a)

    someone_elses = client.get(f"{LIST}?agency={tenancy.agency_b.pk}")
    nobodys = client.get(f"{LIST}?agency=999999999")

    assert (nobodys.status_code, nobodys.json()) == (someone_elses.status_code, someone_elses.json())


def test_an_invalid_filter_value_is_a_400_naming_the_filter(tenancy, api_client_for):
    response = api_client_for(tenancy.agent_a).get(f"{LIST}?status=deleted")

    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "validation_error"
    assert list(body["error"]["fields"]) == ["status"]


# --- GET detail -------------------------------------------------------------------------------


def test_detail_inside_the_tenancy(tenancy, api_client_for):
    response = api_client_for(tenancy.agent_a).get(detail(tenancy.client_a2))

    assert response.status_code == 200
    a2 = Advertiser.objects.get(pk=tenancy.client_a2.pk)
    assert response.json() == {
        "id": a2.pk,
        "name": "Client A2",
        "currency": "USD",
        "time_zone": "America/New_York",
        "status": "active",
        "billing_mode": "prepaid",
        "credit_limit": "0.00",
        "agency": tenancy.agency_a.pk,
        "role": "admin",
        "created_at": iso(a2.created_at),
        "updated_at": iso(a2.updated_at),
    }


@pytest.mark.parametrize(
    ("who", "target"),
    [
        ("agent_a", "client_b1"),
        ("agent_b", "client_a1"),
        ("agent_a", "bakery"),
        ("owner", "client_a1"),
        ("stranger", "bakery"),
    ],
)
def test_detail_of_another_tenants_advertiser_is_a_404(tenancy, api_client_for, who, target):
    response = api_client_for(getattr(tenancy, who)).get(detail(getattr(tenancy, target)))

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize("missing", [999_999_999, "not-a-number"])
def test_detail_of_a_non_existent_advertiser_is_a_404(tenancy, api_client_for, missing):
    response = api_client_for(tenancy.owner).get(f"{LIST}{missing}/")

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_detail_is_refused_to_anonymous_callers(tenancy):
    response = APIClient().get(detail(tenancy.bakery))

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


# --- POST -------------------------------------------------------------------------------------

NEW_CLIENT = {"name": "Client A3", "currency": "GBP", "time_zone": "Europe/London"}


def assert_created(response, *, name: str, agency_id: int | None, role: str) -> Advertiser:
    assert response.status_code == 201
    advertiser = Advertiser.objects.get(name=name)
    assert response["Location"] == detail(advertiser)
    assert response.json() == {
        "id": advertiser.pk,
        "name": name,
        "currency": advertiser.currency,
        "time_zone": advertiser.time_zone,
        "status": "active",
        "billing_mode": "prepaid",
        "credit_limit": "0.00",
        "agency": agency_id,
        "role": role,
        "created_at": iso(advertiser.created_at),
        "updated_at": iso(advertiser.updated_at),
    }
    assert advertiser.agency_id == agency_id
    return advertiser


def test_agency_member_creates_a_client_of_their_agency_when_agency_is_omitted(tenancy, api_client_for):
    response = api_client_for(tenancy.agent_a).post(LIST, NEW_CLIENT)

    advertiser = assert_created(response, name="Client A3", agency_id=tenancy.agency_a.pk, role="admin")
    assert (advertiser.currency, advertiser.time_zone, advertiser.status) == ("GBP", "Europe/London", "active")
    assert not Membership.objects.filter(advertiser=advertiser).exists()
    assert Advertiser.objects.count() == 5


def test_agency_member_creates_a_client_of_the_agency_they_name(tenancy, api_client_for):
    response = api_client_for(tenancy.agent_a).post(LIST, {**NEW_CLIENT, "agency": tenancy.agency_a.pk})

    advertiser = assert_created(response, name="Client A3", agency_id=tenancy.agency_a.pk, role="admin")
    assert not Membership.objects.filter(advertiser=advertiser).exists()
    # the new client is visible to the agency's other members too
    colleague = AgencyMembershipFactory(agency=tenancy.agency_a, role=Role.ANALYST).user
    assert names(api_client_for(colleague).get(LIST)) == ["Client A1", "Client A2", "Client A3"]


def test_agency_null_creates_the_callers_own_account_with_them_as_admin(tenancy, api_client_for):
    response = api_client_for(tenancy.agent_a).post(
        LIST, {"name": "Agent A Own", "currency": "EUR", "time_zone": "UTC", "agency": None}
    )

    advertiser = assert_created(response, name="Agent A Own", agency_id=None, role="admin")
    assert list(Membership.objects.filter(advertiser=advertiser).values_list("user_id", "role")) == [
        (tenancy.agent_a.pk, "admin")
    ]
    assert names(api_client_for(tenancy.agent_b).get(LIST)) == ["Client B1"]


def test_a_user_without_agency_creates_their_own_account(tenancy, api_client_for):
    response = api_client_for(tenancy.stranger).post(LIST, {"name": "Florist", "currency": "chf", "time_zone": "Europe/Zurich"})

    advertiser = assert_created(response, name="Florist", agency_id=None, role="admin")
    assert advertiser.currency == "CHF"
    assert list(Membership.objects.filter(advertiser=advertiser).values_list("user_id", "role")) == [
        (tenancy.stranger.pk, "admin")
    ]


def test_create_is_refused_to_anonymous_callers(tenancy):
    before = db_state()

    response = APIClient().post(LIST, NEW_CLIENT, format="json")

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED
    assert db_state() == before


def test_member_of_two_agencies_must_say_which_agency(tenancy, api_client_for):
    AgencyMembershipFactory(user=tenancy.agent_a, agency=tenancy.agency_b)
    before = db_state()

    response = api_client_for(tenancy.agent_a).post(LIST, NEW_CLIENT)

    assert response.status_code == 400
    message = "You belong to several agencies: say which one (or null for your own account)."
    assert response.json() == error("validation_error", f"Invalid input: agency: {message}", {"agency": [message]})
    assert db_state() == before


def test_member_of_two_agencies_creates_under_the_agency_they_name(tenancy, api_client_for):
    AgencyMembershipFactory(user=tenancy.agent_a, agency=tenancy.agency_b)

    response = api_client_for(tenancy.agent_a).post(LIST, {**NEW_CLIENT, "agency": tenancy.agency_b.pk})

    assert_created(response, name="Client A3", agency_id=tenancy.agency_b.pk, role="admin")


@pytest.mark.parametrize("agency", ["agency_b", "missing"])
def test_create_under_an_agency_the_caller_is_not_in_is_a_400_naming_agency(tenancy, api_client_for, agency):
    agency_id = getattr(tenancy, agency).pk if agency != "missing" else 999_999_999
    before = db_state()

    response = api_client_for(tenancy.agent_a).post(LIST, {**NEW_CLIENT, "agency": agency_id})

    assert response.status_code == 400
    assert response.json() == error("validation_error", "Invalid input: agency: No such agency.", {"agency": ["No such agency."]})
    assert db_state() == before


@pytest.mark.parametrize("names_the_agency", [False, True])
def test_agency_analyst_cannot_create_a_client(tenancy, api_client_for, names_the_agency):
    analyst = AgencyMembershipFactory(agency=tenancy.agency_a, role=Role.ANALYST).user
    payload = {**NEW_CLIENT, "agency": tenancy.agency_a.pk} if names_the_agency else NEW_CLIENT
    before = db_state()

    response = api_client_for(analyst).post(LIST, payload)

    assert response.status_code == 403
    assert response.json() == error("permission_denied", "This needs the operator role in Agency A.")
    assert db_state() == before


def test_agency_operator_can_create_a_client(tenancy, api_client_for):
    operator = AgencyMembershipFactory(agency=tenancy.agency_a, role=Role.OPERATOR).user

    response = api_client_for(operator).post(LIST, NEW_CLIENT)

    assert_created(response, name="Client A3", agency_id=tenancy.agency_a.pk, role="operator")


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({**NEW_CLIENT, "currency": "ABC"}, {"currency": ["ABC is not an ISO 4217 currency code."]}),
        ({**NEW_CLIENT, "currency": "XAU"}, {"currency": ["XAU is not an ISO 4217 currency code."]}),
        ({**NEW_CLIENT, "currency": "EURO"}, {"currency": ["Ensure this field has no more than 3 characters."]}),
        ({**NEW_CLIENT, "time_zone": "Mars/Olympus_Mons"}, {"time_zone": ["Mars/Olympus_Mons is not an IANA time zone."]}),
        ({"currency": "EUR", "time_zone": "UTC"}, {"name": ["This field is required."]}),
        ({**NEW_CLIENT, "name": "   "}, {"name": ["This field may not be blank."]}),
        ({**NEW_CLIENT, "name": "x" * 201}, {"name": ["Ensure this field has no more than 200 characters."]}),
        ({**NEW_CLIENT, "colour": "red"}, {"colour": ["Unknown field."]}),
        ({**NEW_CLIENT, "status": "suspended"}, {"status": ["Unknown field."]}),
        ({**NEW_CLIENT, "agency": "first"}, {"agency": ["A valid integer is required."]}),
    ],
)
def test_create_with_invalid_input_is_a_400_naming_the_field_and_writes_nothing(tenancy, api_client_for, payload, fields):
    before = db_state()

    response = api_client_for(tenancy.agent_a).post(LIST, payload)

    assert response.status_code == 400
    (field, messages), *_ = fields.items()
    assert response.json() == error("validation_error", f"Invalid input: {field}: {messages[0]}", fields)
    assert db_state() == before


def test_create_with_malformed_json_is_a_400_and_writes_nothing(tenancy, api_client_for):
    before = db_state()

    response = api_client_for(tenancy.agent_a).post(LIST, '{"name": "Client A3",', content_type="application/json")

    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "malformed_request"
    assert body["error"]["message"].startswith("Malformed request body: JSON parse error")
    assert body["error"]["fields"] == {}
    assert db_state() == before


def test_create_with_a_json_array_body_is_a_400(tenancy, api_client_for):
    before = db_state()

    response = api_client_for(tenancy.agent_a).post(LIST, [NEW_CLIENT])

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert db_state() == before


# --- PATCH ------------------------------------------------------------------------------------


def test_admin_renames_and_moves_the_time_zone(tenancy, api_client_for):
    before = Advertiser.objects.get(pk=tenancy.bakery.pk)

    response = api_client_for(tenancy.owner).patch(
        detail(tenancy.bakery), {"name": " Bakery & Café ", "time_zone": "Europe/Paris"}
    )

    assert response.status_code == 200
    after = Advertiser.objects.get(pk=tenancy.bakery.pk)
    assert (after.name, after.time_zone, after.currency, after.status) == ("Bakery & Café", "Europe/Paris", "EUR", "active")
    assert after.updated_at > before.updated_at
    assert response.json() == {
        "id": tenancy.bakery.pk,
        "name": "Bakery & Café",
        "currency": "EUR",
        "time_zone": "Europe/Paris",
        "status": "active",
        "billing_mode": "prepaid",
        "credit_limit": "0.00",
        "agency": None,
        "role": "admin",
        "created_at": iso(after.created_at),
        "updated_at": iso(after.updated_at),
    }


def test_agency_admin_renames_a_client(tenancy, api_client_for):
    response = api_client_for(tenancy.agent_a).patch(detail(tenancy.client_a1), {"name": "Client A1 (EU)"})

    assert response.status_code == 200
    assert response.json()["name"] == "Client A1 (EU)"
    client = Advertiser.objects.get(pk=tenancy.client_a1.pk)
    assert (client.name, client.time_zone) == ("Client A1 (EU)", "Europe/Berlin")


@pytest.mark.parametrize("role", [Role.ANALYST, Role.OPERATOR])
def test_patch_needs_the_admin_role(tenancy, api_client_for, role):
    user = MembershipFactory(advertiser=tenancy.bakery, role=role).user
    before = db_state()

    response = api_client_for(user).patch(detail(tenancy.bakery), {"name": "Renamed"})

    assert response.status_code == 403
    assert response.json() == error("permission_denied", "This needs the admin role on Bakery.")
    assert db_state() == before


def test_patch_by_an_agency_operator_is_refused(tenancy, api_client_for):
    operator = AgencyMembershipFactory(agency=tenancy.agency_a, role=Role.OPERATOR).user
    before = db_state()

    response = api_client_for(operator).patch(detail(tenancy.client_a1), {"time_zone": "UTC"})

    assert response.status_code == 403
    assert response.json() == error("permission_denied", "This needs the admin role on Client A1.")
    assert db_state() == before


@pytest.mark.parametrize(("who", "target"), [("agent_b", "client_a1"), ("agent_a", "bakery"), ("stranger", "bakery")])
def test_patch_of_another_tenants_advertiser_is_a_404(tenancy, api_client_for, who, target):
    before = db_state()

    response = api_client_for(getattr(tenancy, who)).patch(detail(getattr(tenancy, target)), {"name": "Mine now"})

    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert db_state() == before


def test_patch_is_refused_to_anonymous_callers(tenancy):
    before = db_state()

    response = APIClient().patch(detail(tenancy.bakery), {"name": "Renamed"}, format="json")

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED
    assert db_state() == before


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"currency": "USD"}, {"currency": ["This field cannot be changed."]}),
        ({"status": "suspended"}, {"status": ["This field cannot be changed."]}),
        ({"name": "Renamed", "billing_mode": "credit_line"}, {"billing_mode": ["This field cannot be changed."]}),
        ({"credit_limit": "1000.00"}, {"credit_limit": ["This field cannot be changed."]}),
        ({"agency": 1}, {"agency": ["This field cannot be changed."]}),
        ({"time_zone": "Europe/Atlantis"}, {"time_zone": ["Europe/Atlantis is not an IANA time zone."]}),
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"colour": "red"}, {"colour": ["Unknown field."]}),
    ],
)
def test_patch_with_invalid_input_is_a_400_and_changes_nothing(tenancy, api_client_for, payload, fields):
    before = db_state()

    response = api_client_for(tenancy.owner).patch(detail(tenancy.bakery), payload)

    assert response.status_code == 400
    (field, messages), *_ = fields.items()
    assert response.json() == error("validation_error", f"Invalid input: {field}: {messages[0]}", fields)
    assert db_state() == before


def test_patch_with_an_empty_body_is_a_400(tenancy, api_client_for):
    before = db_state()

    response = api_client_for(tenancy.owner).patch(detail(tenancy.bakery), {})

    assert response.status_code == 400
    message = "Send at least one of: name, time_zone."
    assert response.json() == error("validation_error", message, {"non_field_errors": [message]})
    assert db_state() == before


def test_put_is_not_allowed(tenancy, api_client_for):
    before = db_state()

    response = api_client_for(tenancy.owner).put(detail(tenancy.bakery), {**NEW_CLIENT, "name": "Bakery"})

    assert response.status_code == 405
    assert response.json() == error("method_not_allowed", 'Method "PUT" not allowed.')
    assert db_state() == before


def test_delete_is_not_allowed(tenancy, api_client_for):
    before = db_state()

    response = api_client_for(tenancy.owner).delete(detail(tenancy.bakery))

    assert response.status_code == 405
    assert response.json() == error("method_not_allowed", 'Method "DELETE" not allowed.')
    assert db_state() == before


# --- Scopes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["campaigns:read", "reports:read", "billing:read"])
def test_any_read_scope_lists_and_shows_advertisers(tenancy, api_client_for, scope):
    client = api_client_for(tenancy.owner, scopes=[scope])

    assert names(client.get(LIST)) == ["Bakery"]
    assert client.get(detail(tenancy.bakery)).json()["name"] == "Bakery"


@pytest.mark.parametrize("scopes", [["billing:write"], ["campaigns:write"]])
def test_a_token_without_a_read_scope_cannot_list(tenancy, api_client_for, scopes):
    client = api_client_for(tenancy.owner, scopes=scopes)

    listing = client.get(LIST)
    showing = client.get(detail(tenancy.bakery))

    assert listing.status_code == 403
    assert listing.json() == error("insufficient_scope", READ_SCOPES_MESSAGE)
    assert showing.status_code == 403
    assert showing.json() == error("insufficient_scope", READ_SCOPES_MESSAGE)


@pytest.mark.parametrize("scopes", [["campaigns:read"], ["campaigns:read", "reports:read", "billing:read", "billing:write"]])
def test_a_token_without_campaigns_write_cannot_create_or_change(tenancy, api_client_for, scopes):
    client = api_client_for(tenancy.agent_a, scopes=scopes)
    before = db_state()

    created = client.post(LIST, NEW_CLIENT, HTTP_IDEMPOTENCY_KEY="scope-test")
    changed = client.patch(detail(tenancy.client_a1), {"name": "Renamed"})

    assert created.status_code == 403
    assert created.json() == error("insufficient_scope", WRITE_SCOPE_MESSAGE)
    assert changed.status_code == 403
    assert changed.json() == error("insufficient_scope", WRITE_SCOPE_MESSAGE)
    assert db_state() == before


def test_a_write_only_token_can_create_but_not_read(tenancy, api_client_for):
    client = api_client_for(tenancy.agent_a, scopes=["campaigns:write"])

    response = client.post(LIST, NEW_CLIENT)

    assert_created(response, name="Client A3", agency_id=tenancy.agency_a.pk, role="admin")
    assert client.get(response["Location"]).status_code == 403


def test_a_signed_in_dashboard_session_uses_the_api_with_its_roles(tenancy):
    client = APIClient()
    client.force_login(tenancy.analyst)

    listing = client.get(LIST)
    changed = client.patch(detail(tenancy.bakery), {"name": "Renamed"}, format="json")

    assert names(listing) == ["Bakery"]
    assert changed.status_code == 403
    assert changed.json() == error("permission_denied", "This needs the admin role on Bakery.")
    assert Advertiser.objects.get(pk=tenancy.bakery.pk).name == "Bakery"


# --- The "done when" script -------------------------------------------------------------------


def issue_token(email: str, *scopes: str) -> str:
    out = StringIO()
    args = [arg for scope in scopes for arg in ("--scope", scope)]
    call_command("issue_token", email, *args, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def test_an_agency_works_with_only_issue_token_and_http():
    # given: two agencies, created the way operations does it, and one client of the other agency
    call_command("create_agency", "North Media", owner="north@example.com", stdout=StringIO())
    call_command("create_agency", "South Media", owner="south@example.com", stdout=StringIO())
    north_token = issue_token("north@example.com", "campaigns:read", "campaigns:write")
    south_token = issue_token("south@example.com", "campaigns:read", "campaigns:write")
    north, south = APIClient(), APIClient()
    north.credentials(HTTP_AUTHORIZATION=f"Bearer {north_token}")
    south.credentials(HTTP_AUTHORIZATION=f"Bearer {south_token}")
    south_client = south.post(LIST, {"name": "Southern Client", "currency": "EUR", "time_zone": "Europe/Madrid"}, format="json")
    assert south_client.status_code == 201

    # when: the agency lists and creates through HTTP only
    empty = north.get(LIST)
    first = north.post(LIST, {"name": "Northern Bakery", "currency": "SEK", "time_zone": "Europe/Stockholm"}, format="json")
    second = north.post(LIST, {"name": "Northern Florist", "currency": "NOK", "time_zone": "Europe/Oslo"}, format="json")
    listing = north.get(LIST)

    # then
    assert north_token.startswith("adp_")
    assert empty.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["agency"] == second.json()["agency"] is not None
    assert names(listing) == ["Northern Bakery", "Northern Florist"]
    assert north.get(first["Location"]).json()["name"] == "Northern Bakery"
    assert north.get(south_client["Location"]).status_code == 404
    assert north.get(south_client["Location"]).json() == NOT_FOUND
    assert south_client.json()["id"] not in [row["id"] for row in listing.json()["results"]]
    assert names(south.get(LIST)) == ["Southern Client"]


def test_agencies_do_not_see_each_others_clients_by_id(tenancy, api_client_for):
    other = AgencyFactory(name="Agency C")
    other_client = AdvertiserFactory(name="Client C1", agency=other)

    response = api_client_for(tenancy.agent_a).get(detail(other_client))

    assert response.status_code == 404
