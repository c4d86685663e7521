"""campaigns.selectors: every read stays inside the caller's tenancy; staff reach ads only for review."""

from datetime import UTC, datetime, timedelta

import pytest
from django.http import Http404

from accounts.models import Role
from campaigns import selectors
from campaigns.models import Ad
from tests.factories import AdFactory, AdGroupFactory, AgencyMembershipFactory, CampaignFactory, UserFactory

MOMENT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def world(tenancy):
    """One campaign with one ad group and one ad for each of the four advertisers."""
    rows = {}
    for name in ("client_a1", "client_a2", "client_b1", "bakery"):
        campaign = CampaignFactory(advertiser=getattr(tenancy, name), name=f"{name} campaign")
        ad_group = AdGroupFactory(campaign=campaign, name=f"{name} ad group")
        ad = AdFactory(ad_group=ad_group, headline=f"{name} ad")
        rows[name] = (campaign, ad_group, ad)
    return rows


def ids(queryset):
    return sorted(queryset.values_list("pk", flat=True))


def expected(world, names, index):
    return sorted(world[name][index].pk for name in names)


SEES = {
    "agent_a": ["client_a1", "client_a2"],
    "agent_b": ["client_b1"],
    "owner": ["bakery"],
    "analyst": ["bakery"],
    "stranger": [],
}


@pytest.mark.parametrize(("who", "names"), SEES.items())
def test_campaigns_ad_groups_and_ads_for_a_user_are_exactly_those_of_their_advertisers(tenancy, world, who, names):
    user = getattr(tenancy, who)

    assert ids(selectors.campaigns_for(user)) == expected(world, names, 0)
    assert ids(selectors.ad_groups_for(user)) == expected(world, names, 1)
    assert ids(selectors.ads_for(user)) == expected(world, names, 2)


def test_a_member_of_an_agency_and_an_advertiser_sees_both(tenancy, world):
    AgencyMembershipFactory(agency=tenancy.agency_b, user=tenancy.owner, role=Role.ANALYST)

    assert ids(selectors.campaigns_for(tenancy.owner)) == expected(world, ["client_b1", "bakery"], 0)


def test_an_inactive_user_sees_nothing(tenancy, world):
    tenancy.owner.is_active = False
    tenancy.owner.save(update_fields=["is_active"])

    assert ids(selectors.campaigns_for(tenancy.owner)) == []
    assert ids(selectors.ads_for(tenancy.owner)) == []


@pytest.mark.parametrize(("who", "names"), SEES.items())
def test_get_for_user_returns_own_items_and_404_for_everything_else(tenancy, world, who, names):
    user = getattr(tenancy, who)

    for name, (campaign, ad_group, ad) in world.items():
        if name in names:
            assert selectors.campaign_get_for_user(user=user, campaign_id=campaign.pk) == campaign
            assert selectors.ad_group_get_for_user(user=user, ad_group_id=str(ad_group.pk)) == ad_group
            assert selectors.ad_get_for_user(user=user, ad_id=ad.pk) == ad
        else:
            with pytest.raises(Http404, match=r"^No such campaign\.$"):
                selectors.campaign_get_for_user(user=user, campaign_id=campaign.pk)
            with pytest.raises(Http404, match=r"^No such ad group\.$"):
                selectors.ad_group_get_for_user(user=user, ad_group_id=ad_group.pk)
            with pytest.raises(Http404, match=r"^No such ad\.$"):
                selectors.ad_get_for_user(user=user, ad_id=ad.pk)


@pytest.mark.parametrize("bad_id", ["abc", "", None, "1.5", 10**9])
def test_get_for_user_answers_404_for_ids_that_are_not_ids(tenancy, world, bad_id):
    with pytest.raises(Http404):
        selectors.campaign_get_for_user(user=tenancy.owner, campaign_id=bad_id)
    with pytest.raises(Http404):
        selectors.ad_group_get_for_user(user=tenancy.owner, ad_group_id=bad_id)
    with pytest.raises(Http404):
        selectors.ad_get_for_user(user=tenancy.owner, ad_id=bad_id)


def test_campaigns_for_prefetches_what_delivery_status_needs(tenancy, world, django_assert_num_queries):
    AdFactory(ad_group=world["bakery"][1], headline="second ad")

    with django_assert_num_queries(3):  # campaigns + advertiser, ad groups, ads
        campaigns = list(selectors.campaigns_for(tenancy.owner))
        headlines = sorted(ad.headline for c in campaigns for group in c.ad_groups.all() for ad in group.ads.all())
        advertisers = {c.advertiser.name for c in campaigns}

    assert headlines == ["bakery ad", "second ad"]
    assert advertisers == {"Bakery"}


def test_staff_get_any_ad_for_review(tenancy, world):
    staff = UserFactory(email="reviewer@adplatform.test", is_staff=True)

    for _campaign, _ad_group, ad in world.values():
        assert selectors.ad_get_for_review(user=staff, ad_id=ad.pk) == ad
    with pytest.raises(Http404, match=r"^No such ad\.$"):
        selectors.ad_get_for_review(user=staff, ad_id=10**9)


@pytest.mark.parametrize("who", ["owner", "agent_a", "stranger"])
def test_ad_get_for_review_is_404_for_anyone_but_staff_even_for_their_own_ads(tenancy, world, who):
    user = getattr(tenancy, who)
    own_ad = world["bakery"][2]

    with pytest.raises(Http404, match=r"^No such ad\.$"):
        selectors.ad_get_for_review(user=user, ad_id=own_ad.pk)


def test_review_queue_holds_only_pending_ads_oldest_first(tenancy):
    ad_group = AdGroupFactory(campaign__advertiser=tenancy.bakery)
    newest = AdFactory(ad_group=ad_group, review_status="pending", submitted_at=MOMENT + timedelta(minutes=5))
    oldest = AdFactory(ad_group=ad_group, review_status="pending", submitted_at=MOMENT - timedelta(hours=1))
    tie_first = AdFactory(ad_group=ad_group, review_status="pending", submitted_at=MOMENT)
    tie_second = AdFactory(ad_group=ad_group, review_status="pending", submitted_at=MOMENT)
    AdFactory(ad_group=ad_group, review_status="approved", submitted_at=MOMENT - timedelta(days=1))
    AdFactory(ad_group=ad_group, review_status="rejected", review_reason="Blurry.", submitted_at=MOMENT - timedelta(days=1))

    queue = list(selectors.review_queue())

    assert [ad.pk for ad in queue] == [oldest.pk, tie_first.pk, tie_second.pk, newest.pk]
    assert Ad.objects.count() == 6
