"""accounts.selectors: the tenancy gate and the reads built on it."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from accounts import selectors, services
from accounts.models import Advertiser, Invitation, Role
from adplatform import clock
from tests.factories import AdvertiserFactory, AgencyFactory, AgencyMembershipFactory, MembershipFactory, UserFactory


def names(queryset):
    return sorted(advertiser.name for advertiser in queryset)


# --- advertisers_for: the one tenancy gate ------------------------------------------------------


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
def test_advertisers_for_is_exactly_the_users_own_and_agency_accounts(tenancy, who, expected):
    user = getattr(tenancy, who)

    visible = selectors.advertisers_for(user)

    assert names(visible) == expected
    assert visible.count() == len(expected)


def test_advertisers_for_an_anonymous_user_is_empty(tenancy):
    assert list(selectors.advertisers_for(AnonymousUser())) == []


def test_advertisers_for_an_inactive_user_is_empty(tenancy):
    tenancy.owner.is_active = False
    tenancy.owner.save(update_fields=["is_active"])
    tenancy.agent_a.is_active = False
    tenancy.agent_a.save(update_fields=["is_active"])

    assert list(selectors.advertisers_for(tenancy.owner)) == []
    assert list(selectors.advertisers_for(tenancy.agent_a)) == []


def test_a_direct_member_of_an_agency_client_sees_it_once(tenancy):
    MembershipFactory(user=tenancy.agent_a, advertiser=tenancy.client_a1, role=Role.ANALYST)

    visible = list(selectors.advertisers_for(tenancy.agent_a))

    assert [advertiser.name for advertiser in visible] == ["Client A1", "Client A2"]


def test_a_member_of_two_agencies_and_a_direct_account_sees_all_of_them_once(tenancy):
    AgencyMembershipFactory(user=tenancy.agent_a, agency=tenancy.agency_b, role=Role.ANALYST)
    MembershipFactory(user=tenancy.agent_a, advertiser=tenancy.bakery, role=Role.OPERATOR)
    MembershipFactory(user=tenancy.agent_a, advertiser=tenancy.client_b1, role=Role.ANALYST)

    visible = list(selectors.advertisers_for(tenancy.agent_a))

    assert [advertiser.name for advertiser in visible] == ["Bakery", "Client A1", "Client A2", "Client B1"]


def test_advertisers_for_follows_a_client_moving_to_another_agency(tenancy):
    tenancy.client_a2.agency = tenancy.agency_b
    tenancy.client_a2.save(update_fields=["agency"])

    assert names(selectors.advertisers_for(tenancy.agent_a)) == ["Client A1"]
    assert names(selectors.advertisers_for(tenancy.agent_b)) == ["Client A2", "Client B1"]


def test_advertisers_for_drops_an_account_when_the_membership_goes(tenancy):
    tenancy.analyst.memberships.all().delete()

    assert names(selectors.advertisers_for(tenancy.analyst)) == []
    assert names(selectors.advertisers_for(tenancy.owner)) == ["Bakery"]


def test_advertisers_with_roles_for_annotates_direct_and_agency_roles(tenancy):
    MembershipFactory(user=tenancy.agent_a, advertiser=tenancy.client_a1, role=Role.ANALYST)

    rows = {a.name: (a.direct_role, a.agency_role) for a in selectors.advertisers_with_roles_for(tenancy.agent_a)}

    assert rows == {"Client A1": ("analyst", "admin"), "Client A2": (None, "admin")}


# --- advertiser_get_for_user ------------------------------------------------------------------


def test_advertiser_get_for_user_returns_an_advertiser_inside_the_tenancy(tenancy):
    assert selectors.advertiser_get_for_user(user=tenancy.owner, advertiser_id=tenancy.bakery.pk) == tenancy.bakery
    assert selectors.advertiser_get_for_user(user=tenancy.analyst, advertiser_id=str(tenancy.bakery.pk)) == tenancy.bakery
    client = selectors.advertiser_get_for_user(user=tenancy.agent_a, advertiser_id=tenancy.client_a2.pk)
    assert client == tenancy.client_a2
    assert client.agency == tenancy.agency_a


@pytest.mark.parametrize(
    ("who", "target"),
    [
        ("stranger", "bakery"),
        ("agent_a", "bakery"),
        ("agent_a", "client_b1"),
        ("agent_b", "client_a1"),
        ("owner", "client_a1"),
        ("analyst", "client_b1"),
    ],
)
def test_advertiser_get_for_user_is_404_outside_the_tenancy(tenancy, who, target):
    with pytest.raises(Http404):
        selectors.advertiser_get_for_user(user=getattr(tenancy, who), advertiser_id=getattr(tenancy, target).pk)


@pytest.mark.parametrize("advertiser_id", ["abc", "", None, "1.5", 2**70])
def test_advertiser_get_for_user_is_404_for_a_malformed_id(tenancy, advertiser_id):
    with pytest.raises(Http404):
        selectors.advertiser_get_for_user(user=tenancy.owner, advertiser_id=advertiser_id)


def test_advertiser_get_for_user_is_404_for_an_id_that_does_not_exist(tenancy):
    missing = Advertiser.objects.order_by("-pk").first().pk + 1

    with pytest.raises(Http404):
        selectors.advertiser_get_for_user(user=tenancy.owner, advertiser_id=missing)


def test_advertiser_get_for_user_is_404_for_anonymous_and_inactive_users(tenancy):
    tenancy.owner.is_active = False
    tenancy.owner.save(update_fields=["is_active"])

    with pytest.raises(Http404):
        selectors.advertiser_get_for_user(user=AnonymousUser(), advertiser_id=tenancy.bakery.pk)
    with pytest.raises(Http404):
        selectors.advertiser_get_for_user(user=tenancy.owner, advertiser_id=tenancy.bakery.pk)


# --- role_for ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "target", "role"),
    [
        ("owner", "bakery", Role.ADMIN),
        ("analyst", "bakery", Role.ANALYST),
        ("agent_a", "client_a1", Role.ADMIN),
        ("agent_a", "client_a2", Role.ADMIN),
        ("agent_b", "client_b1", Role.ADMIN),
        ("agent_a", "client_b1", None),
        ("agent_a", "bakery", None),
        ("owner", "client_a1", None),
        ("stranger", "bakery", None),
        ("stranger", "client_a1", None),
    ],
)
def test_role_for_each_user_of_the_tenancy(tenancy, who, target, role):
    assert selectors.role_for(user=getattr(tenancy, who), advertiser=getattr(tenancy, target)) is role


@pytest.mark.parametrize(
    ("direct", "via_agency", "strongest"),
    [
        (Role.OPERATOR, Role.ANALYST, Role.OPERATOR),
        (Role.ANALYST, Role.OPERATOR, Role.OPERATOR),
        (Role.ANALYST, Role.ADMIN, Role.ADMIN),
        (Role.ADMIN, Role.ANALYST, Role.ADMIN),
        (Role.ADMIN, Role.OPERATOR, Role.ADMIN),
        (Role.OPERATOR, Role.OPERATOR, Role.OPERATOR),
        (Role.ANALYST, None, Role.ANALYST),
        (None, Role.OPERATOR, Role.OPERATOR),
    ],
)
def test_role_for_is_the_strongest_of_the_direct_and_the_agency_role(db, direct, via_agency, strongest):
    user = UserFactory()
    agency = AgencyFactory()
    client = AdvertiserFactory(agency=agency)
    if direct is not None:
        MembershipFactory(user=user, advertiser=client, role=direct)
    if via_agency is not None:
        AgencyMembershipFactory(user=user, agency=agency, role=via_agency)

    assert selectors.role_for(user=user, advertiser=client) is strongest


def test_role_for_ignores_an_agency_role_in_an_agency_that_does_not_manage_the_advertiser(tenancy):
    AgencyMembershipFactory(user=tenancy.analyst, agency=tenancy.agency_a, role=Role.ADMIN)

    assert selectors.role_for(user=tenancy.analyst, advertiser=tenancy.bakery) is Role.ANALYST
    assert selectors.role_for(user=tenancy.analyst, advertiser=tenancy.client_a1) is Role.ADMIN
    assert selectors.role_for(user=tenancy.analyst, advertiser=tenancy.client_b1) is None


# --- agencies_for -----------------------------------------------------------------------------


def test_agencies_for_lists_the_users_agencies(tenancy):
    AgencyMembershipFactory(user=tenancy.agent_b, agency=tenancy.agency_a, role=Role.ANALYST)

    assert [agency.name for agency in selectors.agencies_for(tenancy.agent_a)] == ["Agency A"]
    assert [agency.name for agency in selectors.agencies_for(tenancy.agent_b)] == ["Agency A", "Agency B"]
    assert list(selectors.agencies_for(tenancy.owner)) == []
    assert list(selectors.agencies_for(tenancy.stranger)) == []


def test_agencies_for_an_anonymous_user_is_empty(tenancy):
    assert list(selectors.agencies_for(AnonymousUser())) == []


def test_agencies_for_an_inactive_user_is_empty_like_the_tenancy_gate(tenancy):
    tenancy.agent_a.is_active = False
    tenancy.agent_a.save(update_fields=["is_active"])

    assert list(selectors.agencies_for(tenancy.agent_a)) == []


def test_agency_get_for_user_is_404_outside_the_users_agencies(tenancy):
    assert selectors.agency_get_for_user(user=tenancy.agent_a, agency_id=tenancy.agency_a.pk) == tenancy.agency_a
    with pytest.raises(Http404):
        selectors.agency_get_for_user(user=tenancy.agent_a, agency_id=tenancy.agency_b.pk)
    with pytest.raises(Http404):
        selectors.agency_get_for_user(user=tenancy.owner, agency_id=tenancy.agency_a.pk)
    with pytest.raises(Http404):
        selectors.agency_get_for_user(user=tenancy.agent_a, agency_id="abc")


# --- invitation_get_by_secret -----------------------------------------------------------------


def test_invitation_get_by_secret_finds_a_pending_invitation(tenancy):
    invitation, secret = services.invitation_create(
        actor=tenancy.owner, email="new@example.com", role=Role.OPERATOR, advertiser=tenancy.bakery
    )

    found = selectors.invitation_get_by_secret(secret=secret)

    assert found == invitation
    assert found.advertiser == tenancy.bakery
    assert found.invited_by == tenancy.owner


def test_invitation_get_by_secret_finds_an_agency_invitation(tenancy):
    invitation, secret = services.invitation_create(
        actor=tenancy.agent_a, email="new@example.com", role=Role.ANALYST, agency=tenancy.agency_a
    )

    assert selectors.invitation_get_by_secret(secret=secret) == invitation


def test_invitation_get_by_secret_is_none_for_an_unknown_secret(tenancy):
    _, secret = services.invitation_create(
        actor=tenancy.owner, email="new@example.com", role=Role.ANALYST, advertiser=tenancy.bakery
    )

    assert selectors.invitation_get_by_secret(secret=secret + "x") is None
    assert selectors.invitation_get_by_secret(secret="") is None
    assert selectors.invitation_get_by_secret(secret=selectors.secret_hash(secret)) is None  # the stored hash is no key


def test_invitation_get_by_secret_is_none_once_accepted(tenancy):
    invitation, secret = services.invitation_create(
        actor=tenancy.owner, email="stranger@example.com", role=Role.ANALYST, advertiser=tenancy.bakery
    )
    services.invitation_accept(invitation=invitation, user=tenancy.stranger)

    assert selectors.invitation_get_by_secret(secret=secret) is None


def test_invitation_get_by_secret_is_none_once_revoked(tenancy):
    invitation, secret = services.invitation_create(
        actor=tenancy.owner, email="new@example.com", role=Role.ANALYST, advertiser=tenancy.bakery
    )
    services.invitation_revoke(actor=tenancy.owner, invitation=invitation)

    assert selectors.invitation_get_by_secret(secret=secret) is None


def test_invitation_get_by_secret_is_none_once_expired(tenancy):
    invitation, secret = services.invitation_create(
        actor=tenancy.owner, email="new@example.com", role=Role.ANALYST, advertiser=tenancy.bakery
    )

    with clock.frozen(invitation.expires_at - timedelta(seconds=1)):
        assert selectors.invitation_get_by_secret(secret=secret) == invitation
    with clock.frozen(invitation.expires_at):
        assert selectors.invitation_get_by_secret(secret=secret) is None


def test_invitations_store_only_the_hash_of_the_secret(tenancy):
    invitation, secret = services.invitation_create(
        actor=tenancy.owner, email="new@example.com", role=Role.ANALYST, advertiser=tenancy.bakery
    )

    stored = Invitation.objects.get(pk=invitation.pk)
    assert stored.token_hash == selectors.secret_hash(secret)
    assert secret not in stored.token_hash
    assert len(stored.token_hash) == 64
