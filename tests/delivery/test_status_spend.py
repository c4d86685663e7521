"""delivery.status with money: no balance, lifetime and daily budgets spent, read from real Redis counters.

The counters are set through delivery.charging's key helpers, exactly where the charge script keeps
them; delivery.selectors.spend_state_for reads them for a whole list in one round trip (and the
ads' learning evidence in one query). Ads here have the evidence of an ad group past learning
unless a case says otherwise (tests/delivery/test_learning.py covers learning itself).
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from django.conf import settings

from adplatform import clock
from adplatform.redis_client import get_redis
from campaigns import selectors
from delivery import charging
from delivery.models import AdPerformance
from delivery.selectors import spend_state_for
from delivery.status import (
    LABELS,
    LEARNING_CLICKS,
    LEARNING_CONVERSIONS,
    LEARNING_IMPRESSIONS,
    NOTHING_SPENT,
    DeliveryStatus,
    Reason,
    SpendState,
    ad_group_status,
    ad_status,
    campaign_status,
)
from tests.factories import AdFactory, AdGroupFactory, CampaignFactory, UserFactory, fund

# Tuesday 10 March 2026, 12:00 UTC = 13:00 in Berlin (CET): the bakery's day is 2026-03-10, slot 74 of its week.
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TODAY, YESTERDAY = "2026-03-10", "2026-03-09"
BERLIN_MIDNIGHT = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)  # when the bakery's day ends
NOW_SLOT_BERLIN = 74
STARTED = NOW - timedelta(days=9)
FUNDS = 100_000_000  # 100.00 EUR
AD_GROUP_DAILY = 20_000_000
CAMPAIGN_DAILY = 50_000_000
LIFETIME = 300_000_000

R = Reason
SEASONED = {"impressions": LEARNING_IMPRESSIONS, "clicks": LEARNING_CLICKS, "conversions": LEARNING_CONVERSIONS}


def season(*ads, **evidence):
    """Give `ads` the evidence of an ad group past learning (what delivery.services.post_spend counts), or `evidence`."""
    AdPerformance.objects.bulk_create(AdPerformance(ad=ad, **(SEASONED | evidence)) for ad in ads)


def build(tenancy, setup):
    """The bakery's campaign -> ad group -> ad as `setup` describes, its money and Redis counters; returns the ids."""
    bakery = tenancy.bakery
    if setup.get("funds", FUNDS):
        fund(actor=tenancy.owner, advertiser=bakery, amount_micros=setup.get("funds", FUNDS))
    campaign_mode, campaign_budget = setup.get("campaign_budget", ("unlimited", 0))
    campaign = CampaignFactory(
        advertiser=bakery, status=setup.get("campaign", "active"), budget_mode=campaign_mode, budget_micros=campaign_budget
    )
    ad_group_mode, ad_group_budget = setup.get("ad_group_budget", ("daily", AD_GROUP_DAILY))
    ad_group = AdGroupFactory(
        campaign=campaign,
        status=setup.get("ad_group", "active"),
        start_time=setup.get("start", STARTED),
        end_time=setup.get("end"),
        dayparting=setup.get("dayparting", []),
        budget_mode=ad_group_mode,
        budget_micros=ad_group_budget,
    )
    review = setup.get("review", "approved")
    ad = AdFactory(
        ad_group=ad_group,
        status=setup.get("ad", "active"),
        review_status=review,
        review_reason="The image is blurry." if review == "rejected" else "",
    )
    if setup.get("evidence", SEASONED) is not None:
        season(ad, **setup.get("evidence", SEASONED))
    set_counters(bakery.pk, campaign.pk, ad_group.pk, setup)
    return campaign.pk, ad_group.pk, ad.pk


def set_counters(advertiser_id, campaign_id, ad_group_id, setup):
    """Write what the charge script would have written: today's and lifetime counters, charged total, marks."""
    client = get_redis()
    counters = {
        charging.ad_group_day_key(advertiser_id, ad_group_id, setup.get("day", TODAY)): setup.get("ad_group_today"),
        charging.ad_group_life_key(advertiser_id, ad_group_id): setup.get("ad_group_lifetime"),
        charging.campaign_day_key(advertiser_id, campaign_id, setup.get("day", TODAY)): setup.get("campaign_today"),
        charging.campaign_life_key(advertiser_id, campaign_id): setup.get("campaign_lifetime"),
        charging.charged_key(advertiser_id): setup.get("charged"),
    }
    for key, value in counters.items():
        if value is not None:
            client.set(key, value)
    names = {"ad_group": f"ag:{ad_group_id}", "campaign": f"c:{campaign_id}", "advertiser": f"a:{advertiser_id}"}
    for whose, until in setup.get("marks", {}).items():
        client.zadd(charging.EXHAUSTED, {names[whose]: until.timestamp()})


def statuses(tenancy, campaign_id, ad_group_id, ad_id, now=NOW):
    """(ad, ad group, campaign) reasons, each loaded as pages and the API load them, with one spend read each."""
    user = tenancy.owner
    ad = selectors.ad_get_for_user(user=user, ad_id=ad_id)
    ad_group = selectors.ad_group_get_for_user(user=user, ad_group_id=ad_group_id)
    campaign = selectors.campaign_get_for_user(user=user, campaign_id=campaign_id)
    return (
        ad_status(ad, now=now, spend=spend_state_for([ad], now=now)).reason,
        ad_group_status(ad_group, now=now, spend=spend_state_for([ad_group], now=now)).reason,
        campaign_status(campaign, now=now, spend=spend_state_for([campaign], now=now)).reason,
    )


def everywhere(reason):
    return (reason, reason, reason)


MONEY_CHAIN = {
    "funded, nothing spent": ({}, everywhere(R.DELIVERING)),
    # no balance
    "never topped up": ({"funds": 0}, everywhere(R.NO_BALANCE)),
    "everything charged": ({"charged": FUNDS}, everywhere(R.NO_BALANCE)),
    "one micro left": ({"charged": FUNDS - 1}, everywhere(R.DELIVERING)),
    "charge refused for want of money": (
        {"charged": FUNDS - 500, "marks": {"advertiser": NOW + timedelta(minutes=30)}},
        everywhere(R.NO_BALANCE),
    ),
    # the ad group's own budget
    "ad group daily budget reached": ({"ad_group_today": AD_GROUP_DAILY}, everywhere(R.DAILY_BUDGET_SPENT)),
    "ad group daily budget one micro short": ({"ad_group_today": AD_GROUP_DAILY - 1}, everywhere(R.DELIVERING)),
    "ad group daily budget short by less than a price, marked by the charge script": (
        {"ad_group_today": AD_GROUP_DAILY - 1_500, "marks": {"ad_group": BERLIN_MIDNIGHT}},
        everywhere(R.DAILY_BUDGET_SPENT),
    ),
    "a mark from a day that is over": (
        {"ad_group_today": AD_GROUP_DAILY - 1_500, "marks": {"ad_group": NOW - timedelta(seconds=1)}},
        everywhere(R.DELIVERING),
    ),
    "yesterday's spend is not today's": ({"ad_group_today": AD_GROUP_DAILY, "day": YESTERDAY}, everywhere(R.DELIVERING)),
    "ad group lifetime budget reached": (
        {"ad_group_budget": ("lifetime", LIFETIME), "end": NOW + timedelta(days=30), "ad_group_lifetime": LIFETIME},
        everywhere(R.LIFETIME_BUDGET_SPENT),
    ),
    "ad group lifetime budget short by less than a price, marked": (
        {
            "ad_group_budget": ("lifetime", LIFETIME),
            "end": NOW + timedelta(days=30),
            "ad_group_lifetime": LIFETIME - 900,
            "marks": {"ad_group": NOW + timedelta(days=3650)},
        },
        everywhere(R.LIFETIME_BUDGET_SPENT),
    ),
    "a daily counter does not spend a lifetime budget": (
        {"ad_group_budget": ("lifetime", LIFETIME), "end": NOW + timedelta(days=30), "ad_group_today": LIFETIME},
        everywhere(R.DELIVERING),
    ),
    "unlimited budgets never run out": (
        {"ad_group_budget": ("unlimited", 0), "ad_group_today": 10**12, "ad_group_lifetime": 10**12},
        everywhere(R.DELIVERING),
    ),
    # the campaign's budget
    "campaign daily budget reached": (
        {"campaign_budget": ("daily", CAMPAIGN_DAILY), "campaign_today": CAMPAIGN_DAILY},
        everywhere(R.DAILY_BUDGET_SPENT),
    ),
    "campaign daily budget marked": (
        {
            "campaign_budget": ("daily", CAMPAIGN_DAILY),
            "campaign_today": CAMPAIGN_DAILY - 10,
            "marks": {"campaign": BERLIN_MIDNIGHT},
        },
        everywhere(R.DAILY_BUDGET_SPENT),
    ),
    "campaign lifetime budget reached": (
        {"campaign_budget": ("lifetime", LIFETIME), "campaign_lifetime": LIFETIME},
        everywhere(R.LIFETIME_BUDGET_SPENT),
    ),
    "campaign lifetime budget not reached": (
        {"campaign_budget": ("lifetime", LIFETIME), "campaign_lifetime": LIFETIME - 1},
        everywhere(R.DELIVERING),
    ),
    # precedence among the money reasons
    "no balance beats a spent budget": (
        {
            "charged": FUNDS,
            "ad_group_today": AD_GROUP_DAILY,
            "campaign_budget": ("lifetime", LIFETIME),
            "campaign_lifetime": LIFETIME,
        },
        everywhere(R.NO_BALANCE),
    ),
    "the campaign's spent lifetime budget binds over the ad group's daily one": (
        {"ad_group_today": AD_GROUP_DAILY, "campaign_budget": ("lifetime", LIFETIME), "campaign_lifetime": LIFETIME},
        everywhere(R.LIFETIME_BUDGET_SPENT),
    ),
    "the ad group's spent lifetime budget binds over the campaign's daily one": (
        {
            "ad_group_budget": ("lifetime", LIFETIME),
            "end": NOW + timedelta(days=30),
            "ad_group_lifetime": LIFETIME,
            "campaign_budget": ("daily", CAMPAIGN_DAILY),
            "campaign_today": CAMPAIGN_DAILY,
        },
        everywhere(R.LIFETIME_BUDGET_SPENT),
    ),
    # precedence against the other reasons
    "a spent budget beats off schedule": (
        {"ad_group_today": AD_GROUP_DAILY, "dayparting": [NOW_SLOT_BERLIN + 1]},
        everywhere(R.DAILY_BUDGET_SPENT),
    ),
    "no balance beats off schedule": ({"charged": FUNDS, "dayparting": [NOW_SLOT_BERLIN + 1]}, everywhere(R.NO_BALANCE)),
    "off schedule with money and budget left": ({"dayparting": [NOW_SLOT_BERLIN + 1]}, everywhere(R.OFF_SCHEDULE)),
    # learning: serving, but the ad group's ads have not shown enough yet (no evidence at all here)
    "learning": ({"evidence": None}, everywhere(R.LEARNING)),
    "learning with money and budget left": ({"evidence": None, "ad_group_today": AD_GROUP_DAILY - 1}, everywhere(R.LEARNING)),
    "no balance beats learning": ({"evidence": None, "charged": FUNDS}, everywhere(R.NO_BALANCE)),
    "a spent budget beats learning": ({"evidence": None, "ad_group_today": AD_GROUP_DAILY}, everywhere(R.DAILY_BUDGET_SPENT)),
    "off schedule beats learning": ({"evidence": None, "dayparting": [NOW_SLOT_BERLIN + 1]}, everywhere(R.OFF_SCHEDULE)),
    "not started beats no balance": ({"charged": FUNDS, "start": NOW + timedelta(hours=1)}, everywhere(R.NOT_STARTED)),
    "not started beats a spent budget": (
        {"ad_group_today": AD_GROUP_DAILY, "start": NOW + timedelta(hours=1)},
        everywhere(R.NOT_STARTED),
    ),
    "in review beats no balance": ({"charged": FUNDS, "review": "pending"}, everywhere(R.IN_REVIEW)),
    "in review beats a spent budget": ({"ad_group_today": AD_GROUP_DAILY, "review": "pending"}, everywhere(R.IN_REVIEW)),
    "a paused ad beats no balance": ({"charged": FUNDS, "ad": "paused"}, (R.PAUSED, R.ADS_PAUSED, R.ADS_PAUSED)),
    "a paused campaign beats a spent budget": (
        {"ad_group_today": AD_GROUP_DAILY, "campaign": "paused"},
        (R.CAMPAIGN_PAUSED, R.CAMPAIGN_PAUSED, R.PAUSED),
    ),
    "a paused ad group beats no balance": (
        {"charged": FUNDS, "ad_group": "paused"},
        (R.AD_GROUP_PAUSED, R.PAUSED, R.AD_GROUPS_PAUSED),
    ),
    "ended beats a spent budget": ({"ad_group_today": AD_GROUP_DAILY, "end": NOW - timedelta(minutes=1)}, everywhere(R.ENDED)),
    "rejected beats no balance": ({"charged": FUNDS, "review": "rejected"}, everywhere(R.REJECTED)),
    "archived beats no balance": ({"charged": FUNDS, "ad": "archived"}, (R.ARCHIVED, R.NO_ADS, R.NO_ADS)),
}


@pytest.mark.parametrize(("setup", "expected"), MONEY_CHAIN.values(), ids=MONEY_CHAIN.keys())
def test_delivery_status_with_budgets_and_balance(tenancy, setup, expected):
    ids = build(tenancy, setup)

    assert statuses(tenancy, *ids) == expected


def test_every_money_reason_is_tested_and_labelled():
    covered = {reason for _, expected in MONEY_CHAIN.values() for reason in expected}

    assert {R.NO_BALANCE, R.LIFETIME_BUDGET_SPENT, R.DAILY_BUDGET_SPENT} <= covered
    assert [DeliveryStatus(reason).as_dict() for reason in (R.NO_BALANCE, R.LIFETIME_BUDGET_SPENT, R.DAILY_BUDGET_SPENT)] == [
        {"code": "no_balance", "label": "No balance", "delivering": False},
        {"code": "lifetime_budget_spent", "label": "Lifetime budget spent", "delivering": False},
        {"code": "daily_budget_spent", "label": "Daily budget spent", "delivering": False},
    ]
    assert set(LABELS) == set(Reason)


def test_the_day_is_the_advertisers_day(tenancy):
    # 23:30 UTC on 10 March is already 00:30 on 11 March in Berlin: today's counter is the 11th's.
    late = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
    ids = build(tenancy, {"ad_group_today": AD_GROUP_DAILY, "day": "2026-03-11"})

    assert statuses(tenancy, *ids, now=late) == everywhere(R.DAILY_BUDGET_SPENT)
    assert statuses(tenancy, *ids, now=late - timedelta(hours=1)) == everywhere(R.DELIVERING)  # 23:30 on the 10th in Berlin


def test_without_a_spend_state_nothing_is_spent(tenancy):
    *_, ad_id = build(tenancy, {"funds": 0, "ad_group_today": AD_GROUP_DAILY})
    ad = selectors.ad_get_for_user(user=tenancy.owner, ad_id=ad_id)

    assert ad_status(ad, now=NOW) == ad_status(ad, now=NOW, spend=NOTHING_SPENT) == DeliveryStatus(R.DELIVERING)
    assert spend_state_for([], now=NOW) == SpendState()


# --- the best child ---------------------------------------------------------------------------------


def ad_group_in(campaign, **fields):
    return AdGroupFactory(campaign=campaign, start_time=fields.pop("start_time", STARTED), **fields)


def campaign_reason(tenancy, campaign):
    loaded = selectors.campaign_get_for_user(user=tenancy.owner, campaign_id=campaign.pk)
    return campaign_status(loaded, now=NOW, spend=spend_state_for([loaded], now=NOW)).reason


def test_one_ad_group_with_budget_left_keeps_the_campaign_delivering(tenancy):
    fund(actor=tenancy.owner, advertiser=tenancy.bakery)
    campaign = CampaignFactory(advertiser=tenancy.bakery, budget_mode="unlimited", budget_micros=0)
    spent = ad_group_in(campaign)
    AdFactory(ad_group=spent)
    season(AdFactory(ad_group=ad_group_in(campaign)))
    set_counters(tenancy.bakery.pk, campaign.pk, spent.pk, {"ad_group_today": AD_GROUP_DAILY})

    assert campaign_reason(tenancy, campaign) == R.DELIVERING


def test_a_daily_budget_that_refills_tonight_is_shown_before_a_spent_lifetime_budget(tenancy):
    fund(actor=tenancy.owner, advertiser=tenancy.bakery)
    campaign = CampaignFactory(advertiser=tenancy.bakery, budget_mode="unlimited", budget_micros=0)
    daily = ad_group_in(campaign)
    lifetime = ad_group_in(campaign, budget_mode="lifetime", budget_micros=LIFETIME, end_time=NOW + timedelta(days=30))
    AdFactory(ad_group=daily)
    AdFactory(ad_group=lifetime)
    set_counters(tenancy.bakery.pk, campaign.pk, daily.pk, {"ad_group_today": AD_GROUP_DAILY})
    set_counters(tenancy.bakery.pk, campaign.pk, lifetime.pk, {"ad_group_lifetime": LIFETIME})

    assert campaign_reason(tenancy, campaign) == R.DAILY_BUDGET_SPENT


def test_an_ad_group_whose_approved_ad_is_out_of_budget_shows_the_budget_not_the_ad_in_review(tenancy):
    fund(actor=tenancy.owner, advertiser=tenancy.bakery)
    campaign = CampaignFactory(advertiser=tenancy.bakery, budget_mode="unlimited", budget_micros=0)
    ad_group = ad_group_in(campaign)
    AdFactory(ad_group=ad_group, review_status="pending")
    AdFactory(ad_group=ad_group)
    set_counters(tenancy.bakery.pk, campaign.pk, ad_group.pk, {"ad_group_today": AD_GROUP_DAILY})
    loaded = selectors.ad_group_get_for_user(user=tenancy.owner, ad_group_id=ad_group.pk)

    assert ad_group_status(loaded, now=NOW, spend=spend_state_for([loaded], now=NOW)).reason == R.DAILY_BUDGET_SPENT
    assert campaign_reason(tenancy, campaign) == R.DAILY_BUDGET_SPENT


# --- reading the counters --------------------------------------------------------------------------


class CountingConnection(redis.Connection):
    """A real connection that counts what it sends: one packed send is one round trip."""

    sends = 0

    def send_packed_command(self, command, check_health=True):
        type(self).sends += 1
        super().send_packed_command(command, check_health)


@pytest.fixture
def counting_client():
    pool = redis.ConnectionPool.from_url(settings.REDIS_URL, connection_class=CountingConnection)
    client = redis.Redis(connection_pool=pool)
    client.ping()  # connect (and its handshake) before counting
    CountingConnection.sends = 0
    yield client
    pool.disconnect()


def test_one_round_trip_and_one_query_for_a_whole_list(tenancy, counting_client, django_assert_num_queries):
    # given: two advertisers' campaigns, ten ad groups each, with budgets on both levels and money
    fund(actor=tenancy.owner, advertiser=tenancy.bakery)
    fund(actor=tenancy.agent_a, advertiser=tenancy.client_a1)
    spent_ids = []
    for advertiser in (tenancy.bakery, tenancy.client_a1):
        for number in range(3):
            campaign = CampaignFactory(advertiser=advertiser, budget_mode="daily", budget_micros=CAMPAIGN_DAILY)
            for _ in range(10):
                season(AdFactory(ad_group=ad_group_in(campaign)))
            if number == 0:
                spent_ids.append(campaign.pk)
                get_redis().set(charging.campaign_day_key(advertiser.pk, campaign.pk, TODAY), CAMPAIGN_DAILY)
    campaigns = list(selectors.campaigns_for(tenancy.agent_a).filter(advertiser=tenancy.client_a1)) + list(
        selectors.campaigns_for(tenancy.owner)
    )

    # when: the spend state of the whole list is read
    with django_assert_num_queries(1):  # the learning evidence of all 60 ad groups
        spend = spend_state_for(campaigns, now=NOW, client=counting_client)

    # then: one round trip and one query for 6 campaigns, 60 ad groups and 2 advertisers
    assert CountingConnection.sends == 1
    assert (len(spend.ad_group_today), len(spend.campaign_today), dict(spend.money_left), len(spend.evidence)) == (
        60,
        6,
        {tenancy.bakery.pk: FUNDS, tenancy.client_a1.pk: FUNDS},
        60,
    )
    reasons = {campaign.pk: campaign_status(campaign, now=NOW, spend=spend).reason for campaign in campaigns}
    assert sorted(pk for pk, reason in reasons.items() if reason == R.DAILY_BUDGET_SPENT) == sorted(spent_ids)
    assert [reason for pk, reason in reasons.items() if pk not in spent_ids] == [R.DELIVERING] * 4


def test_an_advertiser_redis_lost_is_judged_by_its_ledger(tenancy, counting_client, django_assert_num_queries):
    # given: the bakery has money, the Client A1 account none, and Redis lost both balance guards
    fund(actor=tenancy.owner, advertiser=tenancy.bakery)
    bakery_campaign = CampaignFactory(advertiser=tenancy.bakery)
    season(AdFactory(ad_group=ad_group_in(bakery_campaign)))
    client_campaign = CampaignFactory(advertiser=tenancy.client_a1)
    AdFactory(ad_group=ad_group_in(client_campaign))
    get_redis().delete(charging.allowance_key(tenancy.bakery.pk), charging.allowance_key(tenancy.client_a1.pk))
    campaigns = [
        selectors.campaign_get_for_user(user=tenancy.owner, campaign_id=bakery_campaign.pk),
        selectors.campaign_get_for_user(user=tenancy.agent_a, campaign_id=client_campaign.pk),
    ]

    # when
    with django_assert_num_queries(2):  # the learning evidence, and one query of the ledger's balances for both
        spend = spend_state_for(campaigns, now=NOW, client=counting_client)

    # then: still one round trip; the ledger says who has money
    assert CountingConnection.sends == 1
    assert dict(spend.money_left) == {tenancy.bakery.pk: FUNDS, tenancy.client_a1.pk: 0}
    assert [campaign_status(campaign, now=NOW, spend=spend).reason for campaign in campaigns] == [R.DELIVERING, R.NO_BALANCE]


# --- every place that shows delivery status ----------------------------------------------------------


@pytest.fixture
def spent_today(tenancy):
    """The bakery (funded) with one campaign whose ad group spent its daily budget today; the clock stopped."""
    moment = datetime.now(UTC).replace(microsecond=0)
    with clock.frozen(moment):
        fund(actor=tenancy.owner, advertiser=tenancy.bakery)
        campaign = CampaignFactory(advertiser=tenancy.bakery, name="Bread", budget_mode="unlimited", budget_micros=0)
        ad_group = ad_group_in(campaign, start_time=moment - timedelta(days=1))
        ad = AdFactory(ad_group=ad_group)
        day = moment.astimezone(ZoneInfo(tenancy.bakery.time_zone)).date().isoformat()
        set_counters(tenancy.bakery.pk, campaign.pk, ad_group.pk, {"ad_group_today": AD_GROUP_DAILY, "day": day})
        yield campaign, ad_group, ad


SPENT = {"code": "daily_budget_spent", "label": "Daily budget spent", "delivering": False}


def test_the_api_shows_a_spent_budget(tenancy, api_client_for, spent_today):
    _, ad_group, ad = spent_today
    client = api_client_for(tenancy.owner, scopes=["campaigns:read"])

    listing = client.get("/api/v1/campaigns/")
    bodies = [client.get(url).json() for url in (f"/api/v1/ad-groups/{ad_group.pk}/", f"/api/v1/ads/{ad.pk}/")]

    assert [row["delivery_status"] for row in listing.json()["results"]] == [SPENT]
    assert [body["delivery_status"] for body in bodies] == [SPENT, SPENT]


def test_the_dashboard_shows_a_spent_budget(client, tenancy, spent_today):
    campaign, _, _ = spent_today
    client.force_login(tenancy.owner)

    listing = client.get("/campaigns/")
    detail = client.get(f"/campaigns/{campaign.pk}/")

    assert listing.content.decode().count('data-delivery="daily_budget_spent"') == 1
    assert detail.content.decode().count('data-delivery="daily_budget_spent"') == 3  # campaign, ad group, ad


def test_the_admin_shows_a_spent_budget(client, spent_today):
    client.force_login(UserFactory(email="staff@adplatform.example", is_staff=True, is_superuser=True))

    pages = [client.get(f"/admin/campaigns/{model}/") for model in ("campaign", "adgroup", "ad")]

    assert [(page.status_code, page.content.decode().count("Daily budget spent")) for page in pages] == [(200, 1)] * 3
