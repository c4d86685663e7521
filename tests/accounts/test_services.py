"""accounts.services: sign-up, advertisers, agencies, invitations, memberships, tokens."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from oauth2_provider.models import AccessToken
from rest_framework.test import APIClient

from accounts import services
from accounts.models import (
    Advertiser,
    Agency,
    AgencyMembership,
    IdempotencyKey,
    Invitation,
    Membership,
    PersonalAccessToken,
    Role,
    User,
)
from accounts.selectors import advertisers_for, invitation_get_by_secret, role_for
from adplatform import clock
from tests.factories import (
    DEFAULT_PASSWORD,
    AdvertiserFactory,
    AgencyFactory,
    AgencyMembershipFactory,
    MembershipFactory,
    UserFactory,
)

MOMENT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
STRONG_PASSWORD = "lantern-quiet-orbit-42"


def counts() -> dict[str, int]:
    """Row counts of every accounts table a service might write."""
    return {
        "users": User.objects.count(),
        "advertisers": Advertiser.objects.count(),
        "agencies": Agency.objects.count(),
        "memberships": Membership.objects.count(),
        "agency_memberships": AgencyMembership.objects.count(),
        "invitations": Invitation.objects.count(),
        "access_tokens": AccessToken.objects.count(),
        "personal_tokens": PersonalAccessToken.objects.count(),
    }


def sign_up(**overrides):
    fields = {
        "email": "jane@example.com",
        "password": STRONG_PASSWORD,
        "advertiser_name": "Jane's Plants",
        "currency": "EUR",
        "time_zone": "Europe/Berlin",
        "full_name": "Jane Doe",
    } | overrides
    return services.user_sign_up(**fields)


def memberships_of(advertiser):
    return sorted((m.user.email, m.role) for m in Membership.objects.filter(advertiser=advertiser).select_related("user"))


def advertiser_row(advertiser):
    return Advertiser.objects.filter(pk=advertiser.pk).values("name", "currency", "time_zone", "agency_id").get()


def api_status(raw_token: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    return client.get("/api/v1/advertisers/").status_code


# --- user_sign_up -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_sign_up_creates_user_advertiser_and_admin_membership():
    before = counts()

    user, advertiser = sign_up(
        email="  Jane.Doe@Example.COM ", advertiser_name="  Jane's Plants ", currency=" usd ", full_name=" Jane Doe "
    )

    user.refresh_from_db()
    assert user.email == "jane.doe@example.com"
    assert user.full_name == "Jane Doe"
    assert user.check_password(STRONG_PASSWORD)
    assert user.is_active is True
    assert user.is_staff is False
    assert advertiser_row(advertiser) == {
        "name": "Jane's Plants",
        "currency": "USD",
        "time_zone": "Europe/Berlin",
        "agency_id": None,
    }
    assert advertiser.status == Advertiser.Status.ACTIVE
    assert advertiser.billing_mode == Advertiser.BillingMode.PREPAID
    assert memberships_of(advertiser) == [("jane.doe@example.com", Role.ADMIN)]
    assert counts() == before | {
        "users": before["users"] + 1,
        "advertisers": before["advertisers"] + 1,
        "memberships": before["memberships"] + 1,
    }
    assert [a.name for a in advertisers_for(user)] == ["Jane's Plants"]


@pytest.mark.django_db
def test_sign_up_accepts_a_lower_case_currency_and_stores_it_upper_case():
    _, advertiser = sign_up(currency="gbp")

    assert Advertiser.objects.get(pk=advertiser.pk).currency == "GBP"


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["taken@example.com", "TAKEN@example.com", "Taken@Example.Com", "  taken@EXAMPLE.com  "])
def test_sign_up_refuses_an_email_that_exists_in_any_letter_case(email):
    existing = UserFactory(email="taken@example.com")
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        sign_up(email=email)

    assert excinfo.value.message_dict == {"email": ["An account with this e-mail address already exists."]}
    assert counts() == before
    existing.refresh_from_db()
    assert existing.check_password(DEFAULT_PASSWORD)


@pytest.mark.django_db
def test_sign_up_refuses_an_email_stored_in_upper_case_by_someone_else():
    UserFactory(email="Mixed.Case@Example.com")  # written around the manager, so not lower-cased
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        sign_up(email="mixed.case@example.com")

    assert set(excinfo.value.error_dict) == {"email"}
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "This password is too short. It must contain at least 10 characters."),
        ("password123", "This password is too common."),
        ("3141592653589793", "This password is entirely numeric."),
        ("jane.doe@example.com", "The password is too similar to the email."),
    ],
)
def test_sign_up_refuses_a_weak_password(password, message):
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        sign_up(email="jane.doe@example.com", password=password)

    assert set(excinfo.value.error_dict) == {"password"}
    assert message in excinfo.value.message_dict["password"]
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("currency", ["ZZZ", "XXX", "XAU", "XTS", "EURO", "", "€"])
def test_sign_up_refuses_what_is_not_a_currency_one_can_pay_in(currency):
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        sign_up(currency=currency)

    assert set(excinfo.value.error_dict) == {"currency"}
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("time_zone", ["Mars/Olympus_Mons", "", "Berlin", "GMT+25"])
def test_sign_up_refuses_an_unknown_time_zone(time_zone):
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        sign_up(time_zone=time_zone)

    assert excinfo.value.message_dict == {"time_zone": [f"{time_zone} is not an IANA time zone."]}
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_sign_up_refuses_a_blank_business_name(name):
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        sign_up(advertiser_name=name)

    assert excinfo.value.message_dict == {"advertiser_name": ["Enter a name."]}
    assert counts() == before


@pytest.mark.django_db
def test_sign_up_reports_every_bad_field_at_once():
    UserFactory(email="taken@example.com")
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        sign_up(email="TAKEN@example.com", password="123", advertiser_name=" ", currency="XXX", time_zone="Nowhere/Land")

    assert set(excinfo.value.error_dict) == {"email", "password", "advertiser_name", "currency", "time_zone"}
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["not-an-email", "", "jane@", "@example.com"])
def test_sign_up_refuses_an_invalid_email(email):
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        sign_up(email=email)

    assert set(excinfo.value.error_dict) == {"email"}
    assert counts() == before


# --- advertiser_create ------------------------------------------------------------------------


@pytest.mark.django_db
def test_advertiser_create_for_the_actors_own_account_makes_them_admin():
    actor = UserFactory(email="maker@example.com")
    before = counts()

    advertiser = services.advertiser_create(actor=actor, name=" Second Shop ", currency="chf", time_zone="Europe/Zurich")

    assert advertiser_row(advertiser) == {
        "name": "Second Shop",
        "currency": "CHF",
        "time_zone": "Europe/Zurich",
        "agency_id": None,
    }
    assert memberships_of(advertiser) == [("maker@example.com", Role.ADMIN)]
    assert counts() == before | {"advertisers": before["advertisers"] + 1, "memberships": before["memberships"] + 1}


@pytest.mark.django_db
@pytest.mark.parametrize("agency_role", [Role.ADMIN, Role.OPERATOR])
def test_advertiser_create_for_an_agency_client_by_an_agency_admin_or_operator(agency_role):
    agency = AgencyFactory(name="Northwind")
    actor = AgencyMembershipFactory(agency=agency, role=agency_role).user
    before = counts()

    advertiser = services.advertiser_create(
        actor=actor, name="Client", currency="USD", time_zone="America/New_York", agency=agency
    )

    assert advertiser_row(advertiser) == {
        "name": "Client",
        "currency": "USD",
        "time_zone": "America/New_York",
        "agency_id": agency.pk,
    }
    assert memberships_of(advertiser) == []  # agency members reach clients through the agency, not directly
    assert counts() == before | {"advertisers": before["advertisers"] + 1}
    assert role_for(user=actor, advertiser=advertiser) is agency_role
    assert advertiser in advertisers_for(actor)


@pytest.mark.django_db
def test_advertiser_create_for_an_agency_refuses_an_agency_analyst():
    agency = AgencyFactory()
    analyst = AgencyMembershipFactory(agency=agency, role=Role.ANALYST).user
    before = counts()

    with pytest.raises(PermissionDenied):
        services.advertiser_create(actor=analyst, name="Client", currency="EUR", time_zone="UTC", agency=agency)

    assert counts() == before


@pytest.mark.django_db
def test_advertiser_create_for_an_agency_refuses_a_member_of_another_agency():
    agency, other = AgencyFactory(), AgencyFactory()
    outsider = AgencyMembershipFactory(agency=other, role=Role.ADMIN).user
    direct_admin = MembershipFactory(role=Role.ADMIN).user
    before = counts()

    with pytest.raises(PermissionDenied):
        services.advertiser_create(actor=outsider, name="Client", currency="EUR", time_zone="UTC", agency=agency)
    with pytest.raises(PermissionDenied):
        services.advertiser_create(actor=direct_admin, name="Client", currency="EUR", time_zone="UTC", agency=agency)

    assert counts() == before


@pytest.mark.django_db
def test_advertiser_create_checks_permission_before_input():
    agency = AgencyFactory()
    outsider = UserFactory()
    before = counts()

    with pytest.raises(PermissionDenied):
        services.advertiser_create(actor=outsider, name="", currency="XXX", time_zone="Nowhere", agency=agency)

    assert counts() == before


@pytest.mark.django_db
def test_advertiser_create_refuses_bad_fields_and_writes_nothing():
    actor = UserFactory()
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        services.advertiser_create(actor=actor, name="  ", currency="XAU", time_zone="Europe/Nowhere")

    assert excinfo.value.message_dict == {
        "name": ["Enter a name."],
        "currency": ["XAU is not an ISO 4217 currency code."],
        "time_zone": ["Europe/Nowhere is not an IANA time zone."],
    }
    assert counts() == before


# --- advertiser_update ------------------------------------------------------------------------


@pytest.mark.django_db
def test_advertiser_update_by_an_admin_renames_and_moves_the_time_zone():
    advertiser = AdvertiserFactory(name="Old Name", currency="EUR", time_zone="Europe/Berlin")
    admin = MembershipFactory(advertiser=advertiser, role=Role.ADMIN).user
    history_before = advertiser.history.count()

    updated = services.advertiser_update(actor=admin, advertiser=advertiser, name="  New Name ", time_zone="Asia/Tokyo")

    assert updated.name == "New Name"
    assert advertiser_row(advertiser) == {"name": "New Name", "currency": "EUR", "time_zone": "Asia/Tokyo", "agency_id": None}
    assert advertiser.history.count() == history_before + 1


@pytest.mark.django_db
def test_advertiser_update_changes_only_the_fields_given():
    advertiser = AdvertiserFactory(name="Keep Me", time_zone="Europe/Berlin")
    admin = MembershipFactory(advertiser=advertiser, role=Role.ADMIN).user

    services.advertiser_update(actor=admin, advertiser=advertiser, time_zone="America/Chicago")
    assert advertiser_row(advertiser)["name"] == "Keep Me"
    assert advertiser_row(advertiser)["time_zone"] == "America/Chicago"

    services.advertiser_update(actor=admin, advertiser=advertiser, name="Renamed")
    assert advertiser_row(advertiser) == {"name": "Renamed", "currency": "EUR", "time_zone": "America/Chicago", "agency_id": None}


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ANALYST])
def test_advertiser_update_refuses_operators_and_analysts(role):
    advertiser = AdvertiserFactory(name="Old Name", time_zone="Europe/Berlin")
    member = MembershipFactory(advertiser=advertiser, role=role).user
    before = advertiser_row(advertiser)

    with pytest.raises(PermissionDenied):
        services.advertiser_update(actor=member, advertiser=advertiser, name="Hijacked", time_zone="UTC")

    assert advertiser_row(advertiser) == before


@pytest.mark.django_db
def test_advertiser_update_refuses_outsiders(tenancy):
    before = advertiser_row(tenancy.bakery)

    for outsider in (tenancy.stranger, tenancy.agent_a, tenancy.agent_b):
        with pytest.raises(PermissionDenied):
            services.advertiser_update(actor=outsider, advertiser=tenancy.bakery, name="Hijacked")

    assert advertiser_row(tenancy.bakery) == before


@pytest.mark.django_db
def test_advertiser_update_by_the_agency_admin_of_a_client(tenancy):
    services.advertiser_update(actor=tenancy.agent_a, advertiser=tenancy.client_a1, name="Client A1 (renamed)")

    assert advertiser_row(tenancy.client_a1)["name"] == "Client A1 (renamed)"


@pytest.mark.django_db
def test_advertiser_update_refuses_an_agency_operator_and_another_agency(tenancy):
    operator = AgencyMembershipFactory(agency=tenancy.agency_a, role=Role.OPERATOR).user
    before = advertiser_row(tenancy.client_a1)

    with pytest.raises(PermissionDenied):
        services.advertiser_update(actor=operator, advertiser=tenancy.client_a1, name="Nope")
    with pytest.raises(PermissionDenied):
        services.advertiser_update(actor=tenancy.agent_b, advertiser=tenancy.client_a1, name="Nope")

    assert advertiser_row(tenancy.client_a1) == before


@pytest.mark.django_db
def test_advertiser_update_refuses_a_bad_time_zone_and_a_blank_name(tenancy):
    before = advertiser_row(tenancy.bakery)
    history_before = tenancy.bakery.history.count()

    with pytest.raises(ValidationError) as excinfo:
        services.advertiser_update(actor=tenancy.owner, advertiser=tenancy.bakery, name="Fine", time_zone="Europe/Atlantis")
    assert excinfo.value.message_dict == {"time_zone": ["Europe/Atlantis is not an IANA time zone."]}

    with pytest.raises(ValidationError) as excinfo:
        services.advertiser_update(actor=tenancy.owner, advertiser=tenancy.bakery, name="   ")
    assert excinfo.value.message_dict == {"name": ["Enter a name."]}

    assert advertiser_row(tenancy.bakery) == before
    assert tenancy.bakery.history.count() == history_before


# --- agency_create ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_agency_create_creates_the_owner_without_a_password():
    before = counts()

    agency, owner, created_user = services.agency_create(name="  Northwind Media ", owner_email=" Boss@Northwind.example ")

    assert created_user is True
    assert agency.name == "Northwind Media"
    assert owner.email == "boss@northwind.example"
    assert owner.has_usable_password() is False
    assert list(AgencyMembership.objects.filter(agency=agency).values_list("user__email", "role")) == [
        ("boss@northwind.example", Role.ADMIN)
    ]
    assert counts() == before | {
        "users": before["users"] + 1,
        "agencies": before["agencies"] + 1,
        "agency_memberships": before["agency_memberships"] + 1,
    }


@pytest.mark.django_db
def test_agency_create_reuses_an_existing_user_in_any_letter_case():
    existing = UserFactory(email="boss@northwind.example")
    before = counts()

    agency, owner, created_user = services.agency_create(name="Northwind", owner_email="BOSS@Northwind.Example")

    assert created_user is False
    assert owner == existing
    existing.refresh_from_db()
    assert existing.check_password(DEFAULT_PASSWORD)
    assert AgencyMembership.objects.get(agency=agency).user == existing
    assert counts() == before | {"agencies": before["agencies"] + 1, "agency_memberships": before["agency_memberships"] + 1}


@pytest.mark.django_db
def test_agency_create_refuses_a_blank_name():
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        services.agency_create(name="   ", owner_email="boss@northwind.example")

    assert excinfo.value.message_dict == {"name": ["Enter a name."]}
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("owner_email", ["not-an-email", "", "   ", "boss@"])
def test_agency_create_refuses_an_invalid_owner_email(owner_email):
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        services.agency_create(name="Northwind", owner_email=owner_email)

    assert set(excinfo.value.error_dict) == {"owner_email"}
    assert counts() == before


# --- invitation_create ------------------------------------------------------------------------


@pytest.mark.django_db
def test_invitation_create_by_an_admin_sends_the_accept_link_on_commit(tenancy, mailoutbox, django_capture_on_commit_callbacks):
    tenancy.owner.full_name = "Olga Owner"
    tenancy.owner.save(update_fields=["full_name"])
    before = counts()

    with clock.frozen(MOMENT), django_capture_on_commit_callbacks(execute=True) as callbacks:
        invitation, secret = services.invitation_create(
            actor=tenancy.owner, email="  New.Person@Example.com ", role=Role.OPERATOR, advertiser=tenancy.bakery
        )

    invitation.refresh_from_db()
    assert (invitation.email, invitation.role, invitation.advertiser, invitation.agency) == (
        "new.person@example.com",
        Role.OPERATOR,
        tenancy.bakery,
        None,
    )
    assert invitation.invited_by == tenancy.owner
    assert invitation.expires_at == MOMENT + timedelta(days=7)
    assert (invitation.accepted_at, invitation.accepted_by, invitation.revoked_at) == (None, None, None)
    assert invitation.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert counts() == before | {"invitations": before["invitations"] + 1}
    assert len(callbacks) == 1
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["new.person@example.com"]
    assert mail.subject == "Olga Owner invited you to Bakery on Adplatform"
    assert f"http://testserver/invitations/{secret}/" in mail.body
    assert "as operator" in mail.body
    assert "The link works for 7 days." in mail.body


@pytest.mark.django_db
def test_invitation_create_sends_nothing_before_the_transaction_commits(tenancy, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.invitation_create(actor=tenancy.owner, email="new@example.com", role=Role.ANALYST, advertiser=tenancy.bakery)

    assert len(callbacks) == 1
    assert mailoutbox == []


@pytest.mark.django_db
def test_each_invitation_gets_its_own_secret(tenancy):
    _, first = services.invitation_create(
        actor=tenancy.owner, email="one@example.com", role=Role.ANALYST, advertiser=tenancy.bakery
    )
    _, second = services.invitation_create(
        actor=tenancy.owner, email="two@example.com", role=Role.ANALYST, advertiser=tenancy.bakery
    )

    assert first != second
    assert len(first) >= 40


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["analyst", "stranger", "agent_a"])
def test_invitation_create_refuses_non_admins(tenancy, mailoutbox, django_capture_on_commit_callbacks, who):
    before = counts()

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(PermissionDenied):
        services.invitation_create(
            actor=getattr(tenancy, who), email="new@example.com", role=Role.ANALYST, advertiser=tenancy.bakery
        )

    assert counts() == before
    assert callbacks == []
    assert mailoutbox == []


@pytest.mark.django_db
def test_invitation_create_refuses_an_operator(tenancy, mailoutbox, django_capture_on_commit_callbacks):
    operator = MembershipFactory(advertiser=tenancy.bakery, role=Role.OPERATOR).user
    before = counts()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(PermissionDenied):
        services.invitation_create(actor=operator, email="new@example.com", role=Role.ANALYST, advertiser=tenancy.bakery)

    assert counts() == before
    assert mailoutbox == []


@pytest.mark.django_db
def test_invitation_create_by_the_agency_admin_of_a_client(tenancy, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation, _ = services.invitation_create(
            actor=tenancy.agent_a, email="client.staff@example.com", role=Role.ANALYST, advertiser=tenancy.client_a1
        )

    assert invitation.advertiser == tenancy.client_a1
    assert [m.to for m in mailoutbox] == [["client.staff@example.com"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("email", "role", "errors"),
    [
        ("not-an-email", Role.ANALYST, {"email": ["Enter a valid e-mail address."]}),
        ("", Role.ANALYST, {"email": ["Enter a valid e-mail address."]}),
        ("new@example.com", "owner", {"role": ["Choose one of: admin, operator, analyst."]}),
        ("new@example.com", "", {"role": ["Choose one of: admin, operator, analyst."]}),
        (
            "nope",
            "superuser",
            {"email": ["Enter a valid e-mail address."], "role": ["Choose one of: admin, operator, analyst."]},
        ),
    ],
)
def test_invitation_create_refuses_bad_input_on_the_right_field(
    tenancy, mailoutbox, django_capture_on_commit_callbacks, email, role, errors
):
    before = counts()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError) as excinfo:
        services.invitation_create(actor=tenancy.owner, email=email, role=role, advertiser=tenancy.bakery)

    assert excinfo.value.message_dict == errors
    assert counts() == before
    assert mailoutbox == []


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["analyst@example.com", "ANALYST@Example.com"])
def test_invitation_create_refuses_someone_already_a_member(tenancy, mailoutbox, django_capture_on_commit_callbacks, email):
    before = counts()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError) as excinfo:
        services.invitation_create(actor=tenancy.owner, email=email, role=Role.ADMIN, advertiser=tenancy.bakery)

    assert excinfo.value.message_dict == {"email": ["This person is already a member."]}
    assert counts() == before
    assert mailoutbox == []


@pytest.mark.django_db
def test_invitation_create_refuses_a_second_pending_invitation(tenancy, mailoutbox, django_capture_on_commit_callbacks):
    first, _ = services.invitation_create(
        actor=tenancy.owner, email="new@example.com", role=Role.ANALYST, advertiser=tenancy.bakery
    )
    before = counts()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError) as excinfo:
        services.invitation_create(actor=tenancy.owner, email="NEW@example.com", role=Role.ADMIN, advertiser=tenancy.bakery)

    assert excinfo.value.message_dict == {"email": ["This person already has a pending invitation."]}
    assert counts() == before
    assert mailoutbox == []
    first.refresh_from_db()
    assert (first.role, first.revoked_at) == (Role.ANALYST, None)


@pytest.mark.django_db
def test_invitation_create_allows_the_same_person_on_another_advertiser(tenancy):
    services.invitation_create(actor=tenancy.owner, email="new@example.com", role=Role.ANALYST, advertiser=tenancy.bakery)

    other, _ = services.invitation_create(
        actor=tenancy.agent_a, email="new@example.com", role=Role.ANALYST, advertiser=tenancy.client_a1
    )

    assert Invitation.objects.filter(email="new@example.com", revoked_at__isnull=True).count() == 2
    assert other.advertiser == tenancy.client_a1


@pytest.mark.django_db
def test_invitation_create_replaces_an_expired_pending_invitation(tenancy):
    with clock.frozen(MOMENT):
        old, old_secret = services.invitation_create(
            actor=tenancy.owner, email="new@example.com", role=Role.ANALYST, advertiser=tenancy.bakery
        )
    later = MOMENT + timedelta(days=8)

    with clock.frozen(later):
        new, new_secret = services.invitation_create(
            actor=tenancy.owner, email="new@example.com", role=Role.OPERATOR, advertiser=tenancy.bakery
        )

        old.refresh_from_db()
        assert old.revoked_at == later
        assert new.expires_at == later + timedelta(days=7)
        assert invitation_get_by_secret(secret=old_secret) is None
        assert invitation_get_by_secret(secret=new_secret) == new
    assert Invitation.objects.filter(advertiser=tenancy.bakery).count() == 2


@pytest.mark.django_db
def test_invitation_create_after_a_revoked_one_is_allowed(tenancy):
    old, _ = services.invitation_create(
        actor=tenancy.owner, email="new@example.com", role=Role.ANALYST, advertiser=tenancy.bakery
    )
    services.invitation_revoke(actor=tenancy.owner, invitation=old)

    new, _ = services.invitation_create(
        actor=tenancy.owner, email="new@example.com", role=Role.ANALYST, advertiser=tenancy.bakery
    )

    assert new.pk != old.pk
    assert new.revoked_at is None


@pytest.mark.django_db
def test_invitation_create_to_an_agency_by_its_admin(tenancy, mailoutbox, django_capture_on_commit_callbacks):
    tenancy.agent_a.full_name = "Alex Agent"
    tenancy.agent_a.save(update_fields=["full_name"])

    with django_capture_on_commit_callbacks(execute=True):
        invitation, secret = services.invitation_create(
            actor=tenancy.agent_a, email="junior@example.com", role=Role.OPERATOR, agency=tenancy.agency_a
        )

    invitation.refresh_from_db()
    assert (invitation.advertiser, invitation.agency, invitation.role) == (None, tenancy.agency_a, Role.OPERATOR)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == "Alex Agent invited you to Agency A on Adplatform"
    assert f"http://testserver/invitations/{secret}/" in mailoutbox[0].body


@pytest.mark.django_db
@pytest.mark.parametrize("agency_role", [Role.OPERATOR, Role.ANALYST])
def test_invitation_create_to_an_agency_refuses_non_admins(tenancy, mailoutbox, django_capture_on_commit_callbacks, agency_role):
    member = AgencyMembershipFactory(agency=tenancy.agency_a, role=agency_role).user
    before = counts()

    with django_capture_on_commit_callbacks(execute=True):
        for actor in (member, tenancy.agent_b, tenancy.owner):
            with pytest.raises(PermissionDenied):
                services.invitation_create(actor=actor, email="junior@example.com", role=Role.ANALYST, agency=tenancy.agency_a)

    assert counts() == before
    assert mailoutbox == []


@pytest.mark.django_db
def test_invitation_create_to_an_agency_refuses_a_member_and_a_pending_invitee(tenancy):
    services.invitation_create(actor=tenancy.agent_a, email="junior@example.com", role=Role.ANALYST, agency=tenancy.agency_a)
    before = counts()

    with pytest.raises(ValidationError) as member_error:
        services.invitation_create(actor=tenancy.agent_a, email="Agent.A@example.com", role=Role.ANALYST, agency=tenancy.agency_a)
    with pytest.raises(ValidationError) as pending_error:
        services.invitation_create(actor=tenancy.agent_a, email="junior@example.com", role=Role.ADMIN, agency=tenancy.agency_a)

    assert member_error.value.message_dict == {"email": ["This person is already a member."]}
    assert pending_error.value.message_dict == {"email": ["This person already has a pending invitation."]}
    assert counts() == before


@pytest.mark.django_db
def test_invitation_create_needs_exactly_one_target(tenancy):
    before = counts()

    with pytest.raises(ValueError, match="exactly one"):
        services.invitation_create(actor=tenancy.owner, email="new@example.com", role=Role.ANALYST)
    with pytest.raises(ValueError, match="exactly one"):
        services.invitation_create(
            actor=tenancy.agent_a,
            email="new@example.com",
            role=Role.ANALYST,
            advertiser=tenancy.client_a1,
            agency=tenancy.agency_a,
        )

    assert counts() == before


# --- invitation_accept ------------------------------------------------------------------------


def invite(tenancy, *, email="stranger@example.com", role=Role.OPERATOR, **target):
    target = target or {"advertiser": tenancy.bakery}
    actor = tenancy.agent_a if "agency" in target else tenancy.owner
    invitation, _ = services.invitation_create(actor=actor, email=email, role=role, **target)
    return invitation


@pytest.mark.django_db
def test_invitation_accept_grants_the_role(tenancy):
    invitation = invite(tenancy, role=Role.OPERATOR)

    accepted = services.invitation_accept(invitation=invitation, user=tenancy.stranger)

    assert role_for(user=tenancy.stranger, advertiser=tenancy.bakery) is Role.OPERATOR
    assert Membership.objects.get(user=tenancy.stranger, advertiser=tenancy.bakery).role == Role.OPERATOR
    accepted.refresh_from_db()
    assert accepted.accepted_by == tenancy.stranger
    assert accepted.accepted_at is not None
    assert accepted.revoked_at is None
    assert [a.name for a in advertisers_for(tenancy.stranger)] == ["Bakery"]


@pytest.mark.django_db
def test_invitation_accept_records_the_moment(tenancy):
    with clock.frozen(MOMENT):
        invitation = invite(tenancy)
    accepted_at = MOMENT + timedelta(days=2)

    with clock.frozen(accepted_at):
        services.invitation_accept(invitation=invitation, user=tenancy.stranger)

    invitation.refresh_from_db()
    assert invitation.accepted_at == accepted_at


@pytest.mark.django_db
def test_invitation_accept_matches_the_email_in_any_letter_case(tenancy):
    user = UserFactory(email="Mixed.Case@Example.com")
    invitation = invite(tenancy, email="MIXED.case@example.COM", role=Role.ANALYST)

    services.invitation_accept(invitation=invitation, user=user)

    assert role_for(user=user, advertiser=tenancy.bakery) is Role.ANALYST


@pytest.mark.django_db
def test_invitation_accept_refuses_someone_else(tenancy):
    invitation = invite(tenancy, email="invitee@example.com")
    before = counts()

    with pytest.raises(PermissionDenied, match=r"invitee@example\.com"):
        services.invitation_accept(invitation=invitation, user=tenancy.stranger)

    assert counts() == before
    assert role_for(user=tenancy.stranger, advertiser=tenancy.bakery) is None
    invitation.refresh_from_db()
    assert (invitation.accepted_at, invitation.accepted_by) == (None, None)


@pytest.mark.django_db
def test_invitation_accept_cannot_be_used_twice(tenancy):
    invitation = invite(tenancy, role=Role.OPERATOR)
    services.invitation_accept(invitation=invitation, user=tenancy.stranger)
    invitation.refresh_from_db()
    first_accepted_at = invitation.accepted_at
    membership = Membership.objects.get(user=tenancy.stranger, advertiser=tenancy.bakery)
    membership.role = Role.ANALYST  # an admin demoted them in between
    membership.save(update_fields=["role"])
    before = counts()

    with pytest.raises(ValidationError):
        services.invitation_accept(invitation=invitation, user=tenancy.stranger)

    assert counts() == before
    membership.refresh_from_db()
    assert membership.role == Role.ANALYST
    invitation.refresh_from_db()
    assert invitation.accepted_at == first_accepted_at


@pytest.mark.django_db
def test_invitation_accept_refuses_an_expired_invitation(tenancy):
    with clock.frozen(MOMENT):
        invitation = invite(tenancy)
    before = counts()

    with clock.frozen(MOMENT + timedelta(days=7)), pytest.raises(ValidationError, match="expired"):
        services.invitation_accept(invitation=invitation, user=tenancy.stranger)

    assert counts() == before
    assert role_for(user=tenancy.stranger, advertiser=tenancy.bakery) is None
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


@pytest.mark.django_db
def test_invitation_accept_just_before_expiry_works(tenancy):
    with clock.frozen(MOMENT):
        invitation = invite(tenancy, role=Role.ANALYST)

    with clock.frozen(MOMENT + timedelta(days=7) - timedelta(seconds=1)):
        services.invitation_accept(invitation=invitation, user=tenancy.stranger)

    assert role_for(user=tenancy.stranger, advertiser=tenancy.bakery) is Role.ANALYST


@pytest.mark.django_db
def test_invitation_accept_refuses_a_revoked_invitation(tenancy):
    invitation = invite(tenancy)
    services.invitation_revoke(actor=tenancy.owner, invitation=invitation)
    before = counts()

    with pytest.raises(ValidationError):
        services.invitation_accept(invitation=invitation, user=tenancy.stranger)

    assert counts() == before
    assert role_for(user=tenancy.stranger, advertiser=tenancy.bakery) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("held", "invited", "kept"),
    [
        (Role.ADMIN, Role.ANALYST, Role.ADMIN),
        (Role.ADMIN, Role.OPERATOR, Role.ADMIN),
        (Role.OPERATOR, Role.ANALYST, Role.OPERATOR),
        (Role.ANALYST, Role.OPERATOR, Role.OPERATOR),
        (Role.ANALYST, Role.ADMIN, Role.ADMIN),
    ],
)
def test_invitation_accept_never_downgrades_a_stronger_role(tenancy, held, invited, kept):
    invitation = invite(tenancy, role=invited)
    MembershipFactory(user=tenancy.stranger, advertiser=tenancy.bakery, role=held)  # joined meanwhile by another way

    services.invitation_accept(invitation=invitation, user=tenancy.stranger)

    assert Membership.objects.get(user=tenancy.stranger, advertiser=tenancy.bakery).role == kept
    assert Membership.objects.filter(user=tenancy.stranger).count() == 1


@pytest.mark.django_db
def test_invitation_accept_to_an_agency_grants_the_agency_role(tenancy):
    invitation = invite(tenancy, email="stranger@example.com", role=Role.OPERATOR, agency=tenancy.agency_a)

    services.invitation_accept(invitation=invitation, user=tenancy.stranger)

    assert AgencyMembership.objects.get(user=tenancy.stranger, agency=tenancy.agency_a).role == Role.OPERATOR
    assert Membership.objects.filter(user=tenancy.stranger).count() == 0
    assert sorted(a.name for a in advertisers_for(tenancy.stranger)) == ["Client A1", "Client A2"]
    assert role_for(user=tenancy.stranger, advertiser=tenancy.client_a2) is Role.OPERATOR


@pytest.mark.django_db
def test_invitation_accept_to_an_agency_never_downgrades(tenancy):
    invitation = invite(tenancy, email="stranger@example.com", role=Role.ANALYST, agency=tenancy.agency_a)
    AgencyMembershipFactory(user=tenancy.stranger, agency=tenancy.agency_a, role=Role.ADMIN)

    services.invitation_accept(invitation=invitation, user=tenancy.stranger)

    assert AgencyMembership.objects.get(user=tenancy.stranger, agency=tenancy.agency_a).role == Role.ADMIN


# --- invitation_accept_with_sign_up -----------------------------------------------------------


@pytest.mark.django_db
def test_invitation_accept_with_sign_up_creates_the_user_and_grants_the_role(tenancy):
    invitation = invite(tenancy, email="newbie@example.com", role=Role.ANALYST)
    before = counts()

    user = services.invitation_accept_with_sign_up(invitation=invitation, password=STRONG_PASSWORD, full_name="  Nia Newbie ")

    user.refresh_from_db()
    assert user.email == "newbie@example.com"
    assert user.full_name == "Nia Newbie"
    assert user.check_password(STRONG_PASSWORD)
    assert role_for(user=user, advertiser=tenancy.bakery) is Role.ANALYST
    invitation.refresh_from_db()
    assert invitation.accepted_by == user
    assert counts() == before | {"users": before["users"] + 1, "memberships": before["memberships"] + 1}
    assert Advertiser.objects.count() == before["advertisers"]  # joins the team, gets no account of their own


@pytest.mark.django_db
def test_invitation_accept_with_sign_up_refuses_a_weak_password(tenancy):
    invitation = invite(tenancy, email="newbie@example.com")
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        services.invitation_accept_with_sign_up(invitation=invitation, password="12345")

    assert set(excinfo.value.error_dict) == {"password"}
    assert counts() == before
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


@pytest.mark.django_db
def test_invitation_accept_with_sign_up_refuses_an_existing_user(tenancy):
    invitation = invite(tenancy, email="stranger@example.com")
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        services.invitation_accept_with_sign_up(invitation=invitation, password=STRONG_PASSWORD)

    assert excinfo.value.message_dict == {"email": ["An account with this e-mail address already exists."]}
    assert counts() == before
    tenancy.stranger.refresh_from_db()
    assert tenancy.stranger.check_password(DEFAULT_PASSWORD)


@pytest.mark.django_db
def test_invitation_accept_with_sign_up_of_an_expired_invitation_creates_no_user(tenancy):
    with clock.frozen(MOMENT):
        invitation = invite(tenancy, email="newbie@example.com")
    before = counts()

    with clock.frozen(MOMENT + timedelta(days=30)), pytest.raises(ValidationError):
        services.invitation_accept_with_sign_up(invitation=invitation, password=STRONG_PASSWORD)

    assert counts() == before
    assert not User.objects.filter(email="newbie@example.com").exists()


# --- invitation_revoke ------------------------------------------------------------------------


@pytest.mark.django_db
def test_invitation_revoke_by_an_admin(tenancy):
    invitation, secret = services.invitation_create(
        actor=tenancy.owner, email="new@example.com", role=Role.ANALYST, advertiser=tenancy.bakery
    )
    before = counts()

    with clock.frozen(MOMENT):
        services.invitation_revoke(actor=tenancy.owner, invitation=invitation)

    invitation.refresh_from_db()
    assert invitation.revoked_at == MOMENT
    assert invitation_get_by_secret(secret=secret) is None
    assert counts() == before


@pytest.mark.django_db
def test_invitation_revoke_refuses_non_admins(tenancy):
    invitation = invite(tenancy, email="new@example.com")
    operator = MembershipFactory(advertiser=tenancy.bakery, role=Role.OPERATOR).user

    for actor in (operator, tenancy.analyst, tenancy.stranger, tenancy.agent_a):
        with pytest.raises(PermissionDenied):
            services.invitation_revoke(actor=actor, invitation=invitation)

    invitation.refresh_from_db()
    assert invitation.revoked_at is None


@pytest.mark.django_db
def test_invitation_revoke_leaves_an_accepted_invitation_alone(tenancy):
    invitation = invite(tenancy, email="stranger@example.com", role=Role.ANALYST)
    services.invitation_accept(invitation=invitation, user=tenancy.stranger)

    services.invitation_revoke(actor=tenancy.owner, invitation=invitation)

    invitation.refresh_from_db()
    assert invitation.revoked_at is None
    assert invitation.accepted_by == tenancy.stranger
    assert role_for(user=tenancy.stranger, advertiser=tenancy.bakery) is Role.ANALYST


@pytest.mark.django_db
def test_invitation_revoke_twice_keeps_the_first_moment(tenancy):
    invitation = invite(tenancy, email="new@example.com")
    with clock.frozen(MOMENT):
        services.invitation_revoke(actor=tenancy.owner, invitation=invitation)

    with clock.frozen(MOMENT + timedelta(hours=1)):
        services.invitation_revoke(actor=tenancy.owner, invitation=invitation)

    invitation.refresh_from_db()
    assert invitation.revoked_at == MOMENT


@pytest.mark.django_db
def test_invitation_revoke_of_an_agency_invitation(tenancy):
    invitation = invite(tenancy, email="junior@example.com", agency=tenancy.agency_a)
    operator = AgencyMembershipFactory(agency=tenancy.agency_a, role=Role.OPERATOR).user

    for actor in (operator, tenancy.agent_b):
        with pytest.raises(PermissionDenied):
            services.invitation_revoke(actor=actor, invitation=invitation)
    invitation.refresh_from_db()
    assert invitation.revoked_at is None

    services.invitation_revoke(actor=tenancy.agent_a, invitation=invitation)

    invitation.refresh_from_db()
    assert invitation.revoked_at is not None


# --- membership_change_role and membership_remove ---------------------------------------------


def membership(tenancy, user):
    return Membership.objects.get(user=user, advertiser=tenancy.bakery)


@pytest.mark.django_db
def test_membership_change_role_by_an_admin(tenancy):
    target = membership(tenancy, tenancy.analyst)

    changed = services.membership_change_role(actor=tenancy.owner, membership=target, role=Role.OPERATOR)

    assert changed.role == Role.OPERATOR
    assert membership(tenancy, tenancy.analyst).role == Role.OPERATOR
    assert role_for(user=tenancy.analyst, advertiser=tenancy.bakery) is Role.OPERATOR


@pytest.mark.django_db
def test_membership_change_role_by_the_agency_admin_of_a_client(tenancy):
    member = MembershipFactory(advertiser=tenancy.client_a1, role=Role.ANALYST)

    services.membership_change_role(actor=tenancy.agent_a, membership=member, role=Role.ADMIN)

    member.refresh_from_db()
    assert member.role == Role.ADMIN


@pytest.mark.django_db
def test_membership_change_role_refuses_non_admins(tenancy):
    operator = MembershipFactory(advertiser=tenancy.bakery, role=Role.OPERATOR).user
    target = membership(tenancy, tenancy.analyst)

    for actor in (operator, tenancy.analyst, tenancy.stranger, tenancy.agent_a):
        with pytest.raises(PermissionDenied):
            services.membership_change_role(actor=actor, membership=target, role=Role.ADMIN)

    assert membership(tenancy, tenancy.analyst).role == Role.ANALYST
    assert membership(tenancy, operator).role == Role.OPERATOR


@pytest.mark.django_db
def test_membership_change_role_refuses_an_unknown_role(tenancy):
    target = membership(tenancy, tenancy.analyst)

    with pytest.raises(ValidationError) as excinfo:
        services.membership_change_role(actor=tenancy.owner, membership=target, role="owner")

    assert excinfo.value.message_dict == {"role": ["Choose one of: admin, operator, analyst."]}
    assert membership(tenancy, tenancy.analyst).role == Role.ANALYST


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ANALYST])
def test_the_last_admin_cannot_be_demoted(tenancy, role):
    with pytest.raises(ValidationError) as excinfo:
        services.membership_change_role(actor=tenancy.owner, membership=membership(tenancy, tenancy.owner), role=role)

    assert excinfo.value.message_dict == {"role": ["An advertiser needs at least one admin."]}
    assert membership(tenancy, tenancy.owner).role == Role.ADMIN


@pytest.mark.django_db
def test_an_admin_can_be_demoted_while_another_admin_remains(tenancy):
    services.membership_change_role(actor=tenancy.owner, membership=membership(tenancy, tenancy.analyst), role=Role.ADMIN)

    services.membership_change_role(actor=tenancy.analyst, membership=membership(tenancy, tenancy.owner), role=Role.ANALYST)

    assert membership(tenancy, tenancy.owner).role == Role.ANALYST
    assert membership(tenancy, tenancy.analyst).role == Role.ADMIN
    with pytest.raises(ValidationError):
        services.membership_change_role(
            actor=tenancy.analyst, membership=membership(tenancy, tenancy.analyst), role=Role.OPERATOR
        )
    assert membership(tenancy, tenancy.analyst).role == Role.ADMIN


@pytest.mark.django_db
def test_an_admin_of_another_advertiser_does_not_count_as_another_admin(tenancy):
    MembershipFactory(user=tenancy.stranger, role=Role.ADMIN)  # admin of some other advertiser

    with pytest.raises(ValidationError):
        services.membership_change_role(actor=tenancy.owner, membership=membership(tenancy, tenancy.owner), role=Role.ANALYST)

    assert membership(tenancy, tenancy.owner).role == Role.ADMIN


@pytest.mark.django_db
def test_membership_remove_by_an_admin(tenancy):
    before = counts()

    services.membership_remove(actor=tenancy.owner, membership=membership(tenancy, tenancy.analyst))

    assert not Membership.objects.filter(user=tenancy.analyst).exists()
    assert list(advertisers_for(tenancy.analyst)) == []
    assert counts() == before | {"memberships": before["memberships"] - 1}
    assert User.objects.filter(pk=tenancy.analyst.pk).exists()


@pytest.mark.django_db
def test_membership_remove_refuses_non_admins(tenancy):
    operator = MembershipFactory(advertiser=tenancy.bakery, role=Role.OPERATOR).user
    before = counts()

    for actor in (operator, tenancy.analyst, tenancy.stranger, tenancy.agent_b):
        with pytest.raises(PermissionDenied):
            services.membership_remove(actor=actor, membership=membership(tenancy, tenancy.analyst))

    assert counts() == before


@pytest.mark.django_db
def test_the_last_admin_cannot_be_removed(tenancy):
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        services.membership_remove(actor=tenancy.owner, membership=membership(tenancy, tenancy.owner))

    assert excinfo.value.message_dict == {"role": ["An advertiser needs at least one admin."]}
    assert counts() == before
    assert membership(tenancy, tenancy.owner).role == Role.ADMIN


@pytest.mark.django_db
def test_an_admin_can_leave_while_another_admin_remains(tenancy):
    co_admin = MembershipFactory(advertiser=tenancy.bakery, role=Role.ADMIN).user

    services.membership_remove(actor=tenancy.owner, membership=membership(tenancy, tenancy.owner))

    assert memberships_of(tenancy.bakery) == sorted([(co_admin.email, Role.ADMIN), ("analyst@example.com", Role.ANALYST)])


# --- personal tokens --------------------------------------------------------------------------


@pytest.mark.django_db
def test_personal_token_create_stores_only_a_checksum(tenancy):
    before = counts()

    with clock.frozen(MOMENT):
        token, raw = services.personal_token_create(
            user=tenancy.owner, name="  CI pipeline ", scopes=["reports:read", "campaigns:read", "reports:read"], days=30
        )

    assert raw.startswith("adp_")
    assert len(raw) > 40
    stored = AccessToken.objects.get(pk=token.access_token.pk)
    assert stored.token == ""
    assert stored.token_checksum == hashlib.sha256(raw.encode()).hexdigest()
    assert stored.user == tenancy.owner
    assert stored.application is None
    assert stored.scope == "campaigns:read reports:read"
    assert stored.expires == MOMENT + timedelta(days=30)
    token.refresh_from_db()
    assert (token.name, token.user) == ("CI pipeline", tenancy.owner)
    assert not AccessToken.objects.filter(token=raw).exists()
    assert counts() == before | {"access_tokens": before["access_tokens"] + 1, "personal_tokens": before["personal_tokens"] + 1}


@pytest.mark.django_db
def test_personal_token_authenticates_as_its_user(tenancy):
    _, raw = services.personal_token_create(user=tenancy.agent_a, name="Agency tool", scopes=["campaigns:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    response = client.get("/api/v1/advertisers/")

    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == ["Client A1", "Client A2"]


@pytest.mark.django_db
def test_personal_token_defaults_to_ninety_days(tenancy):
    with clock.frozen(MOMENT):
        token, _ = services.personal_token_create(user=tenancy.owner, name="Default", scopes=["campaigns:read"])

    assert token.access_token.expires == MOMENT + timedelta(days=90)


@pytest.mark.django_db
@pytest.mark.parametrize("days", [1, 365])
def test_personal_token_accepts_one_to_365_days(tenancy, days):
    with clock.frozen(MOMENT):
        token, _ = services.personal_token_create(user=tenancy.owner, name="Edge", scopes=["campaigns:read"], days=days)

    assert token.access_token.expires == MOMENT + timedelta(days=days)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"scopes": []}, {"scopes": ["Choose at least one scope."]}),
        (
            {"scopes": ["campaigns:read", "admin"]},
            {
                "scopes": [
                    (
                        "Unknown scope: admin. Choose from: campaigns:read, campaigns:write, reports:read, "
                        "billing:read, billing:write, review."
                    )
                ]
            },
        ),
        ({"scopes": ["review"]}, {"scopes": ["The review scope is for platform staff only."]}),
        ({"scopes": ["campaigns:read", "review"]}, {"scopes": ["The review scope is for platform staff only."]}),
        ({"name": "   "}, {"name": ["Enter a name."]}),
        ({"days": 0}, {"days": ["Choose between 1 and 365 days."]}),
        ({"days": 366}, {"days": ["Choose between 1 and 365 days."]}),
        ({"days": -5}, {"days": ["Choose between 1 and 365 days."]}),
        (
            {"scopes": [], "name": "", "days": 1000},
            {
                "scopes": ["Choose at least one scope."],
                "name": ["Enter a name."],
                "days": ["Choose between 1 and 365 days."],
            },
        ),
    ],
)
def test_personal_token_create_refuses_bad_input_and_writes_nothing(tenancy, overrides, errors):
    fields = {"name": "Script", "scopes": ["campaigns:read"], "days": 30} | overrides
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        services.personal_token_create(user=tenancy.owner, **fields)

    assert excinfo.value.message_dict == errors
    assert counts() == before


@pytest.mark.django_db
def test_personal_token_with_the_review_scope_for_staff(db):
    staff = UserFactory(email="staff@example.com", is_staff=True)

    token, _ = services.personal_token_create(user=staff, name="Review bot", scopes=["review", "campaigns:read"])

    assert token.access_token.scope == "campaigns:read review"


@pytest.mark.django_db
def test_personal_token_revoke_deletes_it_and_the_bearer_stops_working(tenancy):
    token, raw = services.personal_token_create(user=tenancy.owner, name="Script", scopes=["campaigns:read"])
    assert api_status(raw) == 200
    before = counts()

    services.personal_token_revoke(user=tenancy.owner, token=token)

    assert api_status(raw) == 401
    assert not PersonalAccessToken.objects.filter(pk=token.pk).exists()
    assert not AccessToken.objects.filter(pk=token.access_token.pk).exists()
    assert counts() == before | {"access_tokens": before["access_tokens"] - 1, "personal_tokens": before["personal_tokens"] - 1}


@pytest.mark.django_db
def test_personal_token_revoke_leaves_the_users_other_tokens_working(tenancy):
    first, first_raw = services.personal_token_create(user=tenancy.owner, name="One", scopes=["campaigns:read"])
    _, second_raw = services.personal_token_create(user=tenancy.owner, name="Two", scopes=["campaigns:read"])

    services.personal_token_revoke(user=tenancy.owner, token=first)

    assert api_status(first_raw) == 401
    assert api_status(second_raw) == 200


@pytest.mark.django_db
def test_personal_token_revoke_of_someone_elses_token_is_refused(tenancy):
    token, raw = services.personal_token_create(user=tenancy.owner, name="Script", scopes=["campaigns:read"])
    before = counts()

    for other in (tenancy.analyst, tenancy.stranger, tenancy.agent_a):
        with pytest.raises(PermissionDenied):
            services.personal_token_revoke(user=other, token=token)

    assert counts() == before
    assert PersonalAccessToken.objects.filter(pk=token.pk).exists()
    assert api_status(raw) == 200


@pytest.mark.django_db
def test_a_made_up_adp_token_does_not_authenticate(tenancy):
    services.personal_token_create(user=tenancy.owner, name="Script", scopes=["campaigns:read"])

    assert api_status("adp_not-a-real-token") == 401


# --- idempotency_keys_purge -------------------------------------------------------------------


def idempotency_key(user, key, created_at):
    row = IdempotencyKey.objects.create(user=user, key=key, fingerprint="0" * 64, method="POST", path="/api/v1/advertisers/")
    IdempotencyKey.objects.filter(pk=row.pk).update(created_at=created_at)
    return row


@pytest.mark.django_db
def test_idempotency_keys_purge_removes_only_keys_past_the_retention_window():
    user = UserFactory()
    ttl = timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    idempotency_key(user, "ancient", MOMENT - timedelta(days=30))
    idempotency_key(user, "just-expired", MOMENT - ttl - timedelta(microseconds=1))
    idempotency_key(user, "at-the-cutoff", MOMENT - ttl)
    idempotency_key(user, "recent", MOMENT - ttl + timedelta(minutes=1))
    idempotency_key(user, "fresh", MOMENT)

    with clock.frozen(MOMENT):
        purged = services.idempotency_keys_purge()

    assert purged == 2
    assert sorted(IdempotencyKey.objects.values_list("key", flat=True)) == ["at-the-cutoff", "fresh", "recent"]


@pytest.mark.django_db
def test_idempotency_keys_purge_with_nothing_to_purge():
    user = UserFactory()
    idempotency_key(user, "fresh", MOMENT - timedelta(hours=1))

    with clock.frozen(MOMENT):
        assert services.idempotency_keys_purge() == 0

    assert IdempotencyKey.objects.count() == 1
