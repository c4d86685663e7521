"""delivery.status: the one reason an ad, ad group or campaign is or is not delivering, for every reason."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import Advertiser
from adplatform import clock
from campaigns import selectors
from delivery.status import LABELS, DeliveryStatus, Reason, ad_group_status, ad_status, campaign_status, in_dayparting
from tests.delivery.test_status_spend import MONEY_CHAIN
from tests.factories import AdFactory, AdGroupFactory, CampaignFactory

# Tuesday 10 March 2026, 12:00 UTC = 13:00 in Berlin (CET): slot 1 * 48 + 26 = 74 of the advertiser's week.
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
NOW_SLOT_BERLIN = 74
STARTED = NOW - timedelta(days=9)


def build(tenancy, setup):
    """Rows for the bakery (Europe/Berlin) as `setup` describes; returns (campaign, ad_group, ad) ids."""
    if setup.get("advertiser"):
        Advertiser.objects.filter(pk=tenancy.bakery.pk).update(status=setup["advertiser"])
    campaign = CampaignFactory(advertiser=tenancy.bakery, status=setup.get("campaign", "active"))
    if not setup.get("with_ad_group", True):
        return campaign.pk, None, None
    ad_group = AdGroupFactory(
        campaign=campaign,
        status=setup.get("ad_group", "active"),
        start_time=setup.get("start", STARTED),
        end_time=setup.get("end"),
        dayparting=setup.get("dayparting", []),
    )
    if not setup.get("with_ad", True):
        return campaign.pk, ad_group.pk, None
    review = setup.get("review", "approved")
    ad = AdFactory(
        ad_group=ad_group,
        status=setup.get("ad", "active"),
        review_status=review,
        review_reason="The image is blurry." if review == "rejected" else "",
    )
    return campaign.pk, ad_group.pk, ad.pk


def statuses(tenancy, campaign_id, ad_group_id, ad_id, now=NOW):
    """The three statuses, each loaded through campaigns.selectors as pages and the API load them."""
    user = tenancy.owner
    campaign = campaign_status(selectors.campaign_get_for_user(user=user, campaign_id=campaign_id), now=now).reason
    ad_group = ad_id_reason = None
    if ad_group_id is not None:
        ad_group = ad_group_status(selectors.ad_group_get_for_user(user=user, ad_group_id=ad_group_id), now=now).reason
    if ad_id is not None:
        ad_id_reason = ad_status(selectors.ad_get_for_user(user=user, ad_id=ad_id), now=now).reason
    return ad_id_reason, ad_group, campaign


R = Reason
# (setup, ad, ad group, campaign): one row per reason, then the precedence between them.
SINGLE_CHAIN = {
    "delivering": ({}, R.DELIVERING, R.DELIVERING, R.DELIVERING),
    "account suspended": ({"advertiser": "suspended"}, R.ACCOUNT_SUSPENDED, R.ACCOUNT_SUSPENDED, R.ACCOUNT_SUSPENDED),
    "campaign archived": ({"campaign": "archived"}, R.CAMPAIGN_ARCHIVED, R.CAMPAIGN_ARCHIVED, R.ARCHIVED),
    "ad group archived": ({"ad_group": "archived"}, R.AD_GROUP_ARCHIVED, R.ARCHIVED, R.NO_AD_GROUPS),
    "ad archived": ({"ad": "archived"}, R.ARCHIVED, R.NO_ADS, R.NO_ADS),
    "rejected": ({"review": "rejected"}, R.REJECTED, R.REJECTED, R.REJECTED),
    "ended": ({"end": NOW - timedelta(minutes=1)}, R.ENDED, R.ENDED, R.ENDED),
    "ends exactly now": ({"end": NOW}, R.ENDED, R.ENDED, R.ENDED),
    "ad paused": ({"ad": "paused"}, R.PAUSED, R.ADS_PAUSED, R.ADS_PAUSED),
    "campaign paused": ({"campaign": "paused"}, R.CAMPAIGN_PAUSED, R.CAMPAIGN_PAUSED, R.PAUSED),
    "ad group paused": ({"ad_group": "paused"}, R.AD_GROUP_PAUSED, R.PAUSED, R.AD_GROUPS_PAUSED),
    "in review": ({"review": "pending"}, R.IN_REVIEW, R.IN_REVIEW, R.IN_REVIEW),
    "not started": ({"start": NOW + timedelta(minutes=1)}, R.NOT_STARTED, R.NOT_STARTED, R.NOT_STARTED),
    "starts exactly now": ({"start": NOW}, R.DELIVERING, R.DELIVERING, R.DELIVERING),
    "off schedule": ({"dayparting": [0, 1, NOW_SLOT_BERLIN + 1]}, R.OFF_SCHEDULE, R.OFF_SCHEDULE, R.OFF_SCHEDULE),
    "in schedule": ({"dayparting": [NOW_SLOT_BERLIN]}, R.DELIVERING, R.DELIVERING, R.DELIVERING),
    "no ads": ({"with_ad": False}, None, R.NO_ADS, R.NO_ADS),
    "no ad groups": ({"with_ad_group": False}, None, None, R.NO_AD_GROUPS),
    # precedence: the stronger reason wins
    "suspended beats everything": (
        {
            "advertiser": "suspended",
            "campaign": "archived",
            "ad_group": "paused",
            "ad": "paused",
            "review": "rejected",
            "end": NOW,
        },
        R.ACCOUNT_SUSPENDED,
        R.ACCOUNT_SUSPENDED,
        R.ACCOUNT_SUSPENDED,
    ),
    "campaign archived beats ad group archived": (
        {"campaign": "archived", "ad_group": "archived", "ad": "archived"},
        R.CAMPAIGN_ARCHIVED,
        R.CAMPAIGN_ARCHIVED,
        R.ARCHIVED,
    ),
    "ad group archived beats rejected": (
        {"ad_group": "archived", "review": "rejected"},
        R.AD_GROUP_ARCHIVED,
        R.ARCHIVED,
        R.NO_AD_GROUPS,
    ),
    "archived ad beats rejected": ({"ad": "archived", "review": "rejected"}, R.ARCHIVED, R.NO_ADS, R.NO_ADS),
    "rejected beats paused": ({"ad": "paused", "review": "rejected"}, R.REJECTED, R.REJECTED, R.REJECTED),
    "rejected ad beats ended, the ended ad group beats its ads": (
        {"review": "rejected", "end": NOW - timedelta(days=1)},
        R.REJECTED,
        R.ENDED,
        R.ENDED,
    ),
    "ended beats paused": ({"ad": "paused", "end": NOW - timedelta(days=1)}, R.ENDED, R.ENDED, R.ENDED),
    "ended beats campaign paused": ({"campaign": "paused", "end": NOW - timedelta(days=1)}, R.ENDED, R.ENDED, R.PAUSED),
    "ended beats ad group paused": ({"ad_group": "paused", "end": NOW - timedelta(days=1)}, R.ENDED, R.ENDED, R.ENDED),
    "ad paused beats campaign paused": ({"ad": "paused", "campaign": "paused"}, R.PAUSED, R.CAMPAIGN_PAUSED, R.PAUSED),
    "campaign paused beats ad group paused": (
        {"campaign": "paused", "ad_group": "paused"},
        R.CAMPAIGN_PAUSED,
        R.PAUSED,
        R.PAUSED,
    ),
    "paused beats in review": ({"ad": "paused", "review": "pending"}, R.PAUSED, R.ADS_PAUSED, R.ADS_PAUSED),
    "ad group paused beats in review": (
        {"ad_group": "paused", "review": "pending"},
        R.AD_GROUP_PAUSED,
        R.PAUSED,
        R.AD_GROUPS_PAUSED,
    ),
    "in review beats not started": (
        {"review": "pending", "start": NOW + timedelta(days=1)},
        R.IN_REVIEW,
        R.IN_REVIEW,
        R.IN_REVIEW,
    ),
    "not started beats off schedule": (
        {"start": NOW + timedelta(days=1), "dayparting": [0]},
        R.NOT_STARTED,
        R.NOT_STARTED,
        R.NOT_STARTED,
    ),
    "ended beats off schedule": ({"end": NOW - timedelta(days=1), "dayparting": [0]}, R.ENDED, R.ENDED, R.ENDED),
}


@pytest.mark.parametrize(("setup", "ad", "ad_group", "campaign"), SINGLE_CHAIN.values(), ids=SINGLE_CHAIN.keys())
def test_delivery_status_of_an_ad_its_ad_group_and_its_campaign(tenancy, setup, ad, ad_group, campaign):
    ids = build(tenancy, setup)

    assert statuses(tenancy, *ids) == (ad, ad_group, campaign)


def test_every_reason_is_tested():
    covered = {reason for row in SINGLE_CHAIN.values() for reason in row[1:] if reason is not None}
    covered |= {reason for _, expected in MONEY_CHAIN.values() for reason in expected}  # budgets and balance

    assert covered == set(Reason)


def test_every_reason_has_a_label():
    assert set(LABELS) == set(Reason)
    assert DeliveryStatus(Reason.OFF_SCHEDULE).as_dict() == {
        "code": "off_schedule",
        "label": "Outside its dayparting hours",
        "delivering": False,
    }
    assert DeliveryStatus(Reason.DELIVERING).as_dict() == {"code": "delivering", "label": "Delivering", "delivering": True}


# --- aggregation: the best child -----------------------------------------------------------------


def ad_group_in(campaign, **fields):
    return AdGroupFactory(campaign=campaign, start_time=fields.pop("start_time", STARTED), **fields)


def load_campaign(tenancy, campaign):
    return selectors.campaign_get_for_user(user=tenancy.owner, campaign_id=campaign.pk)


def load_ad_group(tenancy, ad_group):
    return selectors.ad_group_get_for_user(user=tenancy.owner, ad_group_id=ad_group.pk)


def test_a_campaign_with_one_delivering_ad_group_is_delivering(tenancy):
    campaign = CampaignFactory(advertiser=tenancy.bakery)
    AdFactory(ad_group=ad_group_in(campaign, status="paused"))
    AdFactory(ad_group=ad_group_in(campaign), review_status="rejected", review_reason="Blurry.")
    AdFactory(ad_group=ad_group_in(campaign))

    assert campaign_status(load_campaign(tenancy, campaign), now=NOW) == DeliveryStatus(Reason.DELIVERING)


def test_a_campaign_whose_ad_groups_are_all_paused(tenancy):
    campaign = CampaignFactory(advertiser=tenancy.bakery)
    AdFactory(ad_group=ad_group_in(campaign, status="paused"))
    ad_group_in(campaign, status="paused")
    ad_group_in(campaign, status="archived")

    assert campaign_status(load_campaign(tenancy, campaign), now=NOW).reason == Reason.AD_GROUPS_PAUSED


def test_a_campaign_whose_ad_groups_are_all_archived_has_no_ad_groups(tenancy):
    campaign = CampaignFactory(advertiser=tenancy.bakery)
    AdFactory(ad_group=ad_group_in(campaign, status="archived"))

    assert campaign_status(load_campaign(tenancy, campaign), now=NOW).reason == Reason.NO_AD_GROUPS


def test_an_ad_group_with_one_delivering_ad_is_delivering(tenancy):
    campaign = CampaignFactory(advertiser=tenancy.bakery)
    ad_group = ad_group_in(campaign)
    AdFactory(ad_group=ad_group, review_status="rejected", review_reason="Blurry.")
    AdFactory(ad_group=ad_group, status="paused")
    AdFactory(ad_group=ad_group)

    assert ad_group_status(load_ad_group(tenancy, ad_group), now=NOW).reason == Reason.DELIVERING


def test_in_review_is_preferred_over_rejected_among_ads(tenancy):
    campaign = CampaignFactory(advertiser=tenancy.bakery)
    ad_group = ad_group_in(campaign)
    AdFactory(ad_group=ad_group, review_status="rejected", review_reason="Blurry.")
    AdFactory(ad_group=ad_group, review_status="pending")

    assert ad_group_status(load_ad_group(tenancy, ad_group), now=NOW).reason == Reason.IN_REVIEW
    assert campaign_status(load_campaign(tenancy, campaign), now=NOW).reason == Reason.IN_REVIEW


def test_in_review_is_preferred_over_rejected_among_ad_groups(tenancy):
    campaign = CampaignFactory(advertiser=tenancy.bakery)
    AdFactory(ad_group=ad_group_in(campaign), review_status="rejected", review_reason="Blurry.")
    AdFactory(ad_group=ad_group_in(campaign), review_status="pending")

    assert campaign_status(load_campaign(tenancy, campaign), now=NOW).reason == Reason.IN_REVIEW


def test_the_child_closest_to_delivering_is_shown(tenancy):
    campaign = CampaignFactory(advertiser=tenancy.bakery)
    AdFactory(ad_group=ad_group_in(campaign, end_time=NOW - timedelta(days=1)))
    AdFactory(ad_group=ad_group_in(campaign), status="paused")
    AdFactory(ad_group=ad_group_in(campaign, start_time=NOW + timedelta(days=1)))
    AdFactory(ad_group=ad_group_in(campaign, dayparting=[0]))

    assert campaign_status(load_campaign(tenancy, campaign), now=NOW).reason == Reason.OFF_SCHEDULE


def test_rejected_is_preferred_over_ended_and_paused_ads(tenancy):
    campaign = CampaignFactory(advertiser=tenancy.bakery)
    ad_group = ad_group_in(campaign)
    AdFactory(ad_group=ad_group, status="paused")
    AdFactory(ad_group=ad_group, review_status="rejected", review_reason="Blurry.")
    AdFactory(ad_group=ad_group, status="archived")

    assert ad_group_status(load_ad_group(tenancy, ad_group), now=NOW).reason == Reason.REJECTED


def test_an_ad_group_whose_live_ads_are_all_paused(tenancy):
    campaign = CampaignFactory(advertiser=tenancy.bakery)
    ad_group = ad_group_in(campaign)
    AdFactory(ad_group=ad_group, status="paused")
    AdFactory(ad_group=ad_group, status="paused", review_status="pending")
    AdFactory(ad_group=ad_group, status="archived")

    assert ad_group_status(load_ad_group(tenancy, ad_group), now=NOW).reason == Reason.ADS_PAUSED


def test_a_campaign_whose_ad_groups_all_have_paused_ads(tenancy):
    campaign = CampaignFactory(advertiser=tenancy.bakery)
    AdFactory(ad_group=ad_group_in(campaign), status="paused")
    AdFactory(ad_group=ad_group_in(campaign), status="paused")

    assert campaign_status(load_campaign(tenancy, campaign), now=NOW).reason == Reason.ADS_PAUSED


def test_statuses_of_a_whole_list_cost_no_query_per_row(tenancy, django_assert_num_queries):
    for _ in range(3):
        campaign = CampaignFactory(advertiser=tenancy.bakery)
        AdFactory(ad_group=ad_group_in(campaign))
        AdFactory(ad_group=ad_group_in(campaign), status="paused")

    with django_assert_num_queries(3):
        reasons = [campaign_status(campaign, now=NOW).reason for campaign in selectors.campaigns_for(tenancy.owner)]

    assert reasons == [Reason.DELIVERING] * 3


# --- dayparting in the advertiser's time zone ----------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "zone", "slot"),
    [
        # Monday 23 March 2026, 06:15 UTC: 07:15 in Berlin (CET, UTC+1) -> slot 14; 06:15 in UTC -> slot 12
        (datetime(2026, 3, 23, 6, 15, tzinfo=UTC), "Europe/Berlin", 14),
        (datetime(2026, 3, 23, 6, 15, tzinfo=UTC), "UTC", 12),
        # a week later, after the switch to summer time: 08:15 in Berlin (CEST, UTC+2) -> slot 16
        (datetime(2026, 3, 30, 6, 15, tzinfo=UTC), "Europe/Berlin", 16),
        (datetime(2026, 3, 30, 6, 15, tzinfo=UTC), "UTC", 12),
        # Sunday 23:15 UTC is already Monday 00:15 in Berlin: the week wraps
        (datetime(2026, 3, 22, 23, 15, tzinfo=UTC), "Europe/Berlin", 0),
        (datetime(2026, 3, 22, 23, 15, tzinfo=UTC), "UTC", 334),
        # the last half hour of the week
        (datetime(2026, 3, 22, 22, 59, 59, tzinfo=UTC), "Europe/Berlin", 335),
        # half-hour boundaries: 13:29:59 and 13:30 in Berlin
        (datetime(2026, 3, 10, 12, 29, 59, tzinfo=UTC), "Europe/Berlin", 74),
        (datetime(2026, 3, 10, 12, 30, tzinfo=UTC), "Europe/Berlin", 75),
        # the hour that repeats when summer time ends (Sunday 25 October 2026): 02:30 CEST and 02:30 CET
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "Europe/Berlin", 6 * 48 + 5),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "Europe/Berlin", 6 * 48 + 5),
        # New York on Tuesday 10 March 2026 is already on summer time (UTC-4): 08:00 -> slot 64
        (datetime(2026, 3, 10, 12, 0, tzinfo=UTC), "America/New_York", 64),
    ],
)
def test_in_dayparting_finds_the_half_hour_of_the_week_in_the_zone(moment, zone, slot):
    assert in_dayparting([slot], moment, zone) is True
    assert in_dayparting([(slot + 1) % 336, (slot - 1) % 336], moment, zone) is False


def test_no_dayparting_means_always():
    assert in_dayparting([], datetime(2026, 3, 22, 23, 15, tzinfo=UTC), "Pacific/Kiritimati") is True


def test_an_ad_group_follows_the_advertisers_time_zone_across_the_change_to_summer_time(tenancy):
    # Monday 08:00-08:30 in the advertiser's zone only.
    berlin = CampaignFactory(advertiser=tenancy.bakery)
    berlin_ad = AdFactory(ad_group=ad_group_in(berlin, dayparting=[16]))
    new_york = CampaignFactory(advertiser=tenancy.client_a2)  # America/New_York
    new_york_ad = AdFactory(ad_group=ad_group_in(new_york, dayparting=[16]))
    winter, summer = datetime(2026, 3, 23, 6, 15, tzinfo=UTC), datetime(2026, 3, 30, 6, 15, tzinfo=UTC)

    def reason(user, ad, now):
        return ad_status(selectors.ad_get_for_user(user=user, ad_id=ad.pk), now=now).reason

    assert reason(tenancy.owner, berlin_ad, winter) == Reason.OFF_SCHEDULE  # 07:15 CET
    assert reason(tenancy.owner, berlin_ad, winter + timedelta(hours=1)) == Reason.DELIVERING  # 08:15 CET
    assert reason(tenancy.owner, berlin_ad, summer) == Reason.DELIVERING  # 08:15 CEST
    assert reason(tenancy.owner, berlin_ad, summer + timedelta(hours=1)) == Reason.OFF_SCHEDULE  # 09:15 CEST
    assert reason(tenancy.agent_a, new_york_ad, summer) == Reason.OFF_SCHEDULE  # 02:15 EDT
    assert reason(tenancy.agent_a, new_york_ad, datetime(2026, 3, 30, 12, 15, tzinfo=UTC)) == Reason.DELIVERING  # 08:15 EDT


def test_status_at_the_frozen_clock_time(tenancy):
    campaign = CampaignFactory(advertiser=tenancy.bakery)
    ad = AdFactory(ad_group=ad_group_in(campaign, dayparting=[16]))
    loaded = selectors.ad_get_for_user(user=tenancy.owner, ad_id=ad.pk)

    with clock.frozen(datetime(2026, 3, 30, 6, 15, tzinfo=UTC)):
        in_hours = ad_status(loaded, now=clock.now()).reason
    with clock.frozen(datetime(2026, 3, 30, 6, 45, tzinfo=UTC)):
        after_hours = ad_status(loaded, now=clock.now()).reason

    assert (in_hours, after_hours) == (Reason.DELIVERING, Reason.OFF_SCHEDULE)
