"""manage.py create_agency, issue_token and seed_demo, run through call_command."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from oauth2_provider.models import AccessToken
from rest_framework.test import APIClient

from accounts.demo import DEMO_PASSWORD
from accounts.models import Advertiser, Agency, AgencyMembership, Membership, PersonalAccessToken, Role, User
from accounts.selectors import advertisers_for
from tests.factories import DEFAULT_PASSWORD, UserFactory


def run(*args: str) -> list[str]:
    """Run a management command and return its stdout lines."""
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue().splitlines()


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "agencies": Agency.objects.count(),
        "agency_memberships": AgencyMembership.objects.count(),
        "advertisers": Advertiser.objects.count(),
        "memberships": Membership.objects.count(),
        "access_tokens": AccessToken.objects.count(),
        "personal_tokens": PersonalAccessToken.objects.count(),
    }


def advertiser_names_via_api(raw_token: str) -> tuple[int, list[str]]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    response = client.get("/api/v1/advertisers/")
    names = [row["name"] for row in response.json()["results"]] if response.status_code == 200 else []
    return response.status_code, names


# --- create_agency ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_agency_creates_the_owner_when_missing():
    before = counts()

    lines = run("create_agency", "Northwind Media", "--owner", "Boss@Northwind.example")

    agency = Agency.objects.get()
    owner = User.objects.get(email="boss@northwind.example")
    assert lines == [
        f"Created agency Northwind Media (id {agency.pk}) with admin boss@northwind.example.",
        "Created user boss@northwind.example without a password: set one with the password reset page.",
    ]
    assert owner.has_usable_password() is False
    assert list(AgencyMembership.objects.values_list("user__email", "agency__name", "role")) == [
        ("boss@northwind.example", "Northwind Media", Role.ADMIN)
    ]
    assert counts() == before | {"users": 1, "agencies": 1, "agency_memberships": 1}


@pytest.mark.django_db
def test_create_agency_reuses_an_existing_user():
    existing = UserFactory(email="boss@northwind.example")
    before = counts()

    lines = run("create_agency", "Northwind Media", "--owner", "BOSS@northwind.example")

    agency = Agency.objects.get()
    assert lines == [f"Created agency Northwind Media (id {agency.pk}) with admin boss@northwind.example."]
    assert AgencyMembership.objects.get().user == existing
    existing.refresh_from_db()
    assert existing.check_password(DEFAULT_PASSWORD)
    assert counts() == before | {"agencies": 1, "agency_memberships": 1}


@pytest.mark.django_db
def test_create_agency_refuses_a_blank_name_and_writes_nothing():
    before = counts()

    with pytest.raises(CommandError, match=r"^Enter a name\.$"):
        run("create_agency", "   ", "--owner", "boss@northwind.example")

    assert counts() == before


@pytest.mark.django_db
def test_create_agency_refuses_a_missing_owner_and_writes_nothing():
    before = counts()

    with pytest.raises(CommandError, match="--owner"):
        run("create_agency", "Northwind Media")

    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("owner", ["not-an-email", "", "boss@"])
def test_create_agency_refuses_an_invalid_owner_email_and_writes_nothing(owner):
    before = counts()

    with pytest.raises(CommandError):
        run("create_agency", "Northwind Media", "--owner", owner)

    assert counts() == before


# --- issue_token ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_issue_token_prints_a_working_bearer_token_last(tenancy):
    before = counts()

    lines = run("issue_token", "agent.a@example.com", "--scope", "campaigns:read", "--scope", "reports:read", "--days", "30")

    raw = lines[-1]
    assert raw.startswith("adp_")
    assert lines[0].startswith(
        "Token 'Issued by manage.py issue_token' for agent.a@example.com, scopes campaigns:read reports:read, "
    )
    assert advertiser_names_via_api(raw) == (200, ["Client A1", "Client A2"])
    token = PersonalAccessToken.objects.get()
    assert token.user == tenancy.agent_a
    assert token.access_token.token == ""  # only the checksum is stored
    assert counts() == before | {"access_tokens": 1, "personal_tokens": 1}


@pytest.mark.django_db
def test_issue_token_finds_the_user_in_any_letter_case_and_takes_a_name(tenancy):
    lines = run("issue_token", "  OWNER@Example.com ", "--scope", "campaigns:read", "--name", "Nightly export")

    assert advertiser_names_via_api(lines[-1]) == (200, ["Bakery"])
    assert PersonalAccessToken.objects.get().name == "Nightly export"
    assert PersonalAccessToken.objects.get().user == tenancy.owner


@pytest.mark.django_db
def test_issue_token_gives_the_token_only_the_scopes_asked_for(tenancy):
    lines = run("issue_token", "owner@example.com", "--scope", "billing:read")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {lines[-1]}")

    response = client.post("/api/v1/advertisers/", {"name": "Extra", "currency": "EUR", "time_zone": "UTC"}, format="json")

    assert response.status_code == 403
    assert Advertiser.objects.filter(name="Extra").exists() is False
    assert PersonalAccessToken.objects.get().access_token.scope == "billing:read"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("owner@example.com", "--scope", "campaigns:delete"), "Unknown scope: campaigns:delete"),
        (("owner@example.com", "--scope", "campaigns:read", "--scope", "bogus"), "Unknown scope: bogus"),
        (("nobody@example.com", "--scope", "campaigns:read"), "No user with e-mail nobody@example.com."),
        (("owner@example.com", "--scope", "review"), "The review scope is for platform staff only."),
        (("owner@example.com", "--scope", "campaigns:read", "--days", "0"), "Choose between 1 and 365 days."),
        (("owner@example.com", "--scope", "campaigns:read", "--days", "366"), "Choose between 1 and 365 days."),
        (("owner@example.com", "--scope", "campaigns:read", "--days", "many"), "invalid int value"),
        (("owner@example.com", "--scope", "campaigns:read", "--name", " "), "Enter a name."),
        (("owner@example.com",), "--scope"),
    ],
)
def test_issue_token_refuses_bad_input_and_creates_no_token(tenancy, args, message):
    before = counts()

    with pytest.raises(CommandError, match=message):
        run("issue_token", *args)

    assert counts() == before


@pytest.mark.django_db
def test_issue_token_with_the_review_scope_for_staff(db):
    UserFactory(email="staff@example.com", is_staff=True)

    lines = run("issue_token", "staff@example.com", "--scope", "review", "--scope", "campaigns:read")

    assert lines[-1].startswith("adp_")
    assert PersonalAccessToken.objects.get().access_token.scope == "campaigns:read review"
    assert advertiser_names_via_api(lines[-1]) == (200, [])


# --- seed_demo --------------------------------------------------------------------------------

DEMO_EMAILS = ["staff@adplatform.test", "baker@example.com", "analyst@example.com", "agency@example.com"]


@pytest.mark.django_db
def test_seed_demo_creates_the_demo_accounts():
    output = run("seed_demo")
    placements, lines = output[: output.index("Demo logins:")], output[output.index("Demo logins:") :]

    assert [line.split(":")[0] for line in placements] == ["placement feed", "placement topview", "placement search"]
    assert len(lines) == 5
    assert all(DEMO_PASSWORD in line for line in lines[1:])
    assert counts() == {
        "users": 4,
        "agencies": 1,
        "agency_memberships": 1,
        "advertisers": 3,
        "memberships": 2,
        "access_tokens": 0,
        "personal_tokens": 0,
    }
    baker, analyst, agent = (
        User.objects.get(email=e) for e in ["baker@example.com", "analyst@example.com", "agency@example.com"]
    )
    assert [a.name for a in advertisers_for(baker)] == ["Corner Bakery"]
    assert [a.name for a in advertisers_for(analyst)] == ["Corner Bakery"]
    assert [a.name for a in advertisers_for(agent)] == ["Brand Co", "Gadget Shop"]
    brand = Advertiser.objects.get(name="Brand Co")
    assert (brand.currency, brand.time_zone, brand.billing_mode, brand.credit_limit_micros) == (
        "USD",
        "America/New_York",
        Advertiser.BillingMode.CREDIT_LINE,
        50_000_000_000,
    )
    staff = User.objects.get(email="staff@adplatform.test")
    assert (staff.is_staff, staff.is_superuser) == (True, True)
    assert (baker.is_staff, baker.is_superuser) == (False, False)


@pytest.mark.django_db
def test_seed_demo_twice_gives_the_same_rows():
    run("seed_demo")
    first = counts()
    first_ids = sorted(Advertiser.objects.values_list("pk", "name"))

    run("seed_demo")

    assert counts() == first
    assert sorted(Advertiser.objects.values_list("pk", "name")) == first_ids
    assert sorted(Membership.objects.values_list("user__email", "advertiser__name", "role")) == [
        ("analyst@example.com", "Corner Bakery", Role.ANALYST),
        ("baker@example.com", "Corner Bakery", Role.ADMIN),
    ]


@pytest.mark.django_db
def test_seed_demo_keeps_other_data():
    UserFactory(email="someone@example.com")

    run("seed_demo")
    run("seed_demo")

    assert User.objects.count() == 5
    assert User.objects.get(email="someone@example.com").check_password(DEFAULT_PASSWORD)


@pytest.mark.django_db
@pytest.mark.parametrize("email", DEMO_EMAILS)
def test_demo_users_can_log_in(client, email):
    run("seed_demo")

    assert authenticate(username=email, password=DEMO_PASSWORD) == User.objects.get(email=email)
    assert client.login(username=email, password=DEMO_PASSWORD) is True
    assert authenticate(username=email, password="wrong-password") is None


@pytest.mark.django_db
def test_seed_demo_brings_back_a_changed_demo_account():
    run("seed_demo")
    baker = User.objects.get(email="baker@example.com")
    baker.set_password("something-else-entirely")
    baker.is_active = False
    baker.save()
    Membership.objects.filter(user=baker).update(role=Role.ANALYST)

    run("seed_demo")

    baker.refresh_from_db()
    assert baker.is_active is True
    assert baker.check_password(DEMO_PASSWORD)
    assert Membership.objects.get(user=baker).role == Role.ADMIN
