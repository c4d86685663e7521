"""Learning: an ad group learns until its ads have shown enough, and the auction learns which ads to show.

The status follows delivery.status's thresholds over the ads' AdPerformance rows (counted from the
event store by delivery.services.post_spend), read for a page by delivery.selectors.spend_state_for.
Traffic follows Thompson samples of the Beta posteriors delivery.index compiles from the same rows.
Decisions run on a seeded Random and the people's clicks on another, so every number here is the
same on every run.
"""

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from random import Random

import pytest
from django.db import connection
from django.db.models import F

from adplatform import clock
from adplatform.redis_client import get_redis
from campaigns import selectors
from campaigns.models import Ad, AdGroup
from campaigns.presentation import delivery_badge
from delivery import decision, index, services
from delivery.index import LiveState
from delivery.models import AdPerformance, Event
from delivery.selectors import evidence_for, spend_state_for
from delivery.status import (
    LABELS,
    LEARNING_CLICKS,
    LEARNING_CONVERSIONS,
    LEARNING_IMPRESSIONS,
    NOTHING_SPENT,
    DeliveryStatus,
    Evidence,
    Reason,
    ad_group_status,
    ad_status,
    campaign_status,
    learned,
)
from delivery.types import Candidate, Snapshot
from tests.delivery.test_pipeline import MOMENT, UNIT, open_shop, serve, snapshot_now, track
from tests.factories import AdFactory, AdGroupFactory, CampaignFactory, MembershipFactory, PlacementFactory, UserFactory, fund

R = Reason
REQUESTS = 4_000  # decisions per measurement: a share's standard error is at most 0.8 points


@pytest.fixture(autouse=True)
def _frozen_clock():
    with clock.frozen(MOMENT):
        yield


@pytest.fixture
def feed(db):
    return PlacementFactory(key="feed", name="In-feed", floor_cpm_usd_micros=1_000_000)


@pytest.fixture
def staff(db):
    return UserFactory(email="finance@adplatform.test", is_staff=True)


@pytest.fixture
def event_store(transactional_db):
    """The event store is not flushed between transactional tests: empty it around each one."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE delivery_event")
    yield
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE delivery_event")


def post(ad: Ad, impressions: int, clicks: int = 0, conversions: int = 0) -> None:
    """Add evidence to an ad's AdPerformance the way delivery.services.post_spend does (F() increments)."""
    now = clock.now()
    if not AdPerformance.objects.filter(ad=ad).update(
        impressions=F("impressions") + impressions,
        clicks=F("clicks") + clicks,
        conversions=F("conversions") + conversions,
        updated_at=now,
    ):
        AdPerformance.objects.create(ad=ad, impressions=impressions, clicks=clicks, conversions=conversions, updated_at=now)


def reasons(user, ads: list[Ad], ad_group: AdGroup) -> tuple[list[Reason], Reason, Reason]:
    """(each ad, the ad group, the campaign), loaded through campaigns.selectors, one spend state each, as pages do."""
    loaded_ads = [selectors.ad_get_for_user(user=user, ad_id=ad.pk) for ad in ads]
    loaded_group = selectors.ad_group_get_for_user(user=user, ad_group_id=ad_group.pk)
    campaign = selectors.campaign_get_for_user(user=user, campaign_id=ad_group.campaign_id)
    now = clock.now()
    return (
        [ad_status(ad, now=now, spend=spend_state_for([ad], now=now)).reason for ad in loaded_ads],
        ad_group_status(loaded_group, now=now, spend=spend_state_for([loaded_group], now=now)).reason,
        campaign_status(campaign, now=now, spend=spend_state_for([campaign], now=now)).reason,
    )


def wins(snapshot: Snapshot, *, seed: int, requests: int = REQUESTS, live: LiveState | None = None) -> Counter[int]:
    """Ads winning the feed's single slot over `requests` decisions (different people), drawn from Random(seed)."""
    client, rng, won, live = get_redis(), Random(seed), Counter[int](), live or LiveState()
    for n in range(requests):
        request = decision.parse_request({"placement": "feed", "user_id": f"person-{seed}-{n}", "count": 1})
        for winner in decision.decide(snapshot, live, request, client, moment=MOMENT, rng=rng).winners:
            won[winner.candidate.ad_id] += 1
    return won


def funded_shop(staff, **fields):
    """open_shop's advertiser, its Redis balance guard brought up to date (the ledger's signal fires only on commit)."""
    shop = open_shop(funds=100 * UNIT, staff=staff, **fields)
    services.refresh_allowance(shop.advertiser)
    return shop


def candidate(snapshot: Snapshot, ad: Ad) -> Candidate:
    (found,) = [c for c in snapshot.candidates["feed"] if c.ad_id == ad.pk]
    return found


def relative_spread(alpha: float, beta: float) -> float:
    """Standard deviation over mean of Beta(alpha, beta)."""
    return math.sqrt(beta / (alpha * (alpha + beta + 1)))


# --- the thresholds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "evidence", "expected"),
    [
        ("cpm", Evidence(), False),
        ("cpm", Evidence(LEARNING_IMPRESSIONS - 1, LEARNING_CLICKS), False),
        ("cpm", Evidence(LEARNING_IMPRESSIONS, LEARNING_CLICKS - 1), False),
        ("cpm", Evidence(LEARNING_IMPRESSIONS, LEARNING_CLICKS), True),
        ("cpc", Evidence(LEARNING_IMPRESSIONS - 1, 500), False),
        ("cpc", Evidence(LEARNING_IMPRESSIONS, LEARNING_CLICKS), True),
        ("cpc", Evidence(50_000, LEARNING_CLICKS - 1), False),
        ("ocpm", Evidence(LEARNING_IMPRESSIONS, LEARNING_CLICKS), False),
        ("ocpm", Evidence(LEARNING_IMPRESSIONS, LEARNING_CLICKS, LEARNING_CONVERSIONS - 1), False),
        ("ocpm", Evidence(LEARNING_IMPRESSIONS, LEARNING_CLICKS, LEARNING_CONVERSIONS), True),
        ("ocpm", Evidence(LEARNING_IMPRESSIONS - 1, 400, LEARNING_CONVERSIONS), False),
    ],
)
def test_an_ad_group_leaves_learning_at_the_thresholds(strategy, evidence, expected):
    assert learned(evidence, strategy) is expected


def test_the_thresholds_are_a_thousand_impressions_twenty_clicks_and_ten_conversions_for_ocpm():
    assert (LEARNING_IMPRESSIONS, LEARNING_CLICKS, LEARNING_CONVERSIONS) == (1_000, 20, 10)


def test_at_the_thresholds_the_posteriors_are_far_narrower_than_the_priors():
    # given the priors delivery.index starts a new ad from (CTR at a placement's 1%, conversion rate 5%)
    ctr_prior = (index.DEFAULT_CTR * index.PRIOR_IMPRESSIONS, (1 - index.DEFAULT_CTR) * index.PRIOR_IMPRESSIONS)
    cvr_prior = (index.DEFAULT_CVR * index.PRIOR_CLICKS, (1 - index.DEFAULT_CVR) * index.PRIOR_CLICKS)
    assert relative_spread(*ctr_prior) == pytest.approx(0.70, abs=0.01)
    assert relative_spread(*cvr_prior) == pytest.approx(0.95, abs=0.01)

    # when an ad group just reaches the thresholds, at a high, the placement's and a low CTR
    for impressions in (LEARNING_IMPRESSIONS, 2_000, 4_000):
        clicks = LEARNING_CLICKS
        alpha, beta = ctr_prior[0] + clicks, ctr_prior[1] + impressions - clicks
        # then its CTR is known to within 22% (1 / sqrt(20)), a third of the prior's spread or less
        assert relative_spread(alpha, beta) < 1 / math.sqrt(LEARNING_CLICKS) < relative_spread(*ctr_prior) / 3
    # and 1,000 impressions outweigh the prior five to one: the mean is 5/6 of the way to the ad group's own CTR
    own = 0.04
    mean = (ctr_prior[0] + own * LEARNING_IMPRESSIONS) / (index.PRIOR_IMPRESSIONS + LEARNING_IMPRESSIONS)
    assert (mean - index.DEFAULT_CTR) / (own - index.DEFAULT_CTR) == pytest.approx(5 / 6)
    # and 10 conversions know the conversion rate to within 30%, under a third of the prior's 95%
    for clicks in (100, 200, 400):
        alpha, beta = cvr_prior[0] + LEARNING_CONVERSIONS, cvr_prior[1] + clicks - LEARNING_CONVERSIONS
        assert relative_spread(alpha, beta) < 1 / math.sqrt(LEARNING_CONVERSIONS) < relative_spread(*cvr_prior) / 3


def test_learning_is_a_kind_of_delivering():
    status = DeliveryStatus(R.LEARNING)

    assert status.as_dict() == {"code": "learning", "label": "Learning", "delivering": True}
    assert status.delivering is True
    assert LABELS[R.LEARNING] == "Learning"
    badge = delivery_badge(status)
    assert (badge.code, badge.label, badge.tone) == ("learning", "Learning", "primary")
    assert "1,000 impressions and 20 clicks (and 10 conversions for oCPM)" in badge.hint
    assert delivery_badge(DeliveryStatus(R.DELIVERING)).hint == ""


# --- the status, from AdPerformance -----------------------------------------------------------------


@pytest.fixture
def bakery(tenancy):
    fund(actor=tenancy.owner, advertiser=tenancy.bakery)
    return tenancy


def serving_ad_group(tenancy, *, ads: int = 1, **fields) -> tuple[AdGroup, list[Ad]]:
    campaign = CampaignFactory(advertiser=tenancy.bakery, budget_mode="unlimited", budget_micros=0)
    ad_group = AdGroupFactory(campaign=campaign, start_time=MOMENT - timedelta(days=3), **fields)
    return ad_group, [AdFactory(ad_group=ad_group) for _ in range(ads)]


def test_an_ad_group_learns_until_its_ads_together_reach_the_thresholds(bakery):
    # given a CPM ad group with two approved ads that have shown nothing yet
    ad_group, (first, second) = serving_ad_group(bakery, ads=2)
    owner = bakery.owner
    assert reasons(owner, [first, second], ad_group) == ([R.LEARNING, R.LEARNING], R.LEARNING, R.LEARNING)

    # when the ads have 999 impressions and 20 clicks together
    post(first, 600, 12)
    post(second, 399, 8)
    # then everything still learns
    assert reasons(owner, [first, second], ad_group) == ([R.LEARNING, R.LEARNING], R.LEARNING, R.LEARNING)

    # when one more impression is counted
    post(second, 1)
    # then the ad group, both its ads (the second one with only 400 impressions) and the campaign deliver
    assert reasons(owner, [first, second], ad_group) == ([R.DELIVERING, R.DELIVERING], R.DELIVERING, R.DELIVERING)


def test_an_ocpm_ad_group_learns_until_its_tenth_conversion(bakery):
    ad_group, (ad,) = serving_ad_group(bakery, bid_strategy="ocpm", bid_micros=5 * UNIT)
    post(ad, 3_000, 120, 9)

    assert reasons(bakery.owner, [ad], ad_group) == ([R.LEARNING], R.LEARNING, R.LEARNING)

    post(ad, 10, 1, 1)

    assert reasons(bakery.owner, [ad], ad_group) == ([R.DELIVERING], R.DELIVERING, R.DELIVERING)


def test_evidence_of_paused_and_archived_ads_counts_for_the_ad_group(bakery):
    # given an ad group whose evidence came from an ad now archived, and a new ad that replaced it
    ad_group, (old, new) = serving_ad_group(bakery, ads=2)
    post(old, LEARNING_IMPRESSIONS, LEARNING_CLICKS)
    Ad.objects.filter(pk=old.pk).update(status="archived")

    # then the ad group has learned: the new ad delivers on what the ad group learned
    assert reasons(bakery.owner, [new], ad_group) == ([R.DELIVERING], R.DELIVERING, R.DELIVERING)


def test_a_campaign_delivers_if_one_ad_group_delivers_and_learns_if_the_best_one_learns(bakery):
    # given a campaign with a learning, a delivering and a paused ad group
    campaign = CampaignFactory(advertiser=bakery.bakery, budget_mode="unlimited", budget_micros=0)
    started = MOMENT - timedelta(days=3)
    AdFactory(ad_group=AdGroupFactory(campaign=campaign, start_time=started))  # learning: nothing shown yet
    delivering = AdFactory(ad_group=AdGroupFactory(campaign=campaign, start_time=started))
    AdFactory(ad_group=AdGroupFactory(campaign=campaign, start_time=started, status="paused"))
    post(delivering, LEARNING_IMPRESSIONS, LEARNING_CLICKS)

    def campaign_reason():
        loaded = selectors.campaign_get_for_user(user=bakery.owner, campaign_id=campaign.pk)
        return campaign_status(loaded, now=MOMENT, spend=spend_state_for([loaded], now=MOMENT)).reason

    assert campaign_reason() == R.DELIVERING
    # when the delivering ad group stops for the day, the learning one is what the campaign shows
    AdGroup.objects.filter(pk=delivering.ad_group_id).update(dayparting=[0])
    assert campaign_reason() == R.LEARNING
    # and when it is paused too, the learning one still serves
    AdGroup.objects.filter(pk=delivering.ad_group_id).update(status="paused")
    assert campaign_reason() == R.LEARNING


def test_without_evidence_learning_is_not_judged(bakery):
    # given a new ad group: a spend state that read no evidence does not judge it (as it judges no money)
    ad_group, _ = serving_ad_group(bakery)
    loaded = selectors.ad_group_get_for_user(user=bakery.owner, ad_group_id=ad_group.pk)

    assert ad_group_status(loaded, now=MOMENT).reason == R.DELIVERING
    assert ad_group_status(loaded, now=MOMENT, spend=NOTHING_SPENT).reason == R.DELIVERING
    assert ad_group_status(loaded, now=MOMENT, spend=spend_state_for([loaded], now=MOMENT)).reason == R.LEARNING


def test_the_evidence_of_a_whole_list_is_one_query_with_an_entry_for_every_ad_group(bakery, django_assert_num_queries):
    quiet, _ = serving_ad_group(bakery)
    busy, (first, second) = serving_ad_group(bakery, ads=2)
    post(first, 700, 15, 2)
    post(second, 500, 9, 1)

    with django_assert_num_queries(1):
        evidence = evidence_for([quiet.pk, busy.pk])

    assert evidence == {quiet.pk: Evidence(0, 0, 0), busy.pk: Evidence(1_200, 24, 3)}
    assert evidence_for([]) == {}


# --- the status and the posteriors, from real traffic ------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_learning_ends_when_post_spend_counts_the_thousandth_valid_impression(event_store, feed, staff):
    # given a funded CPM ad group whose ad was served to 999 people, seen by all and clicked by 20,
    # with five impressions replayed (invalid duplicates, which are no evidence)
    shop = open_shop(name="Bakery", funds=100 * UNIT, staff=staff)
    owner = MembershipFactory(advertiser=shop.advertiser).user
    snapshot = snapshot_now()
    served = serve(snapshot, [f"person-{n}" for n in range(LEARNING_IMPRESSIONS - 1)])
    track(snapshot, served, "i")
    track(snapshot, served[:5], "i", moment=MOMENT + timedelta(seconds=1))
    track(snapshot, served[:: len(served) // LEARNING_CLICKS][:LEARNING_CLICKS], "c", moment=MOMENT + timedelta(seconds=2))

    # when the consumer stores the events and post_spend counts them
    services.consume_events()
    services.post_spend()

    # then the ad has 999 valid impressions and 20 clicks, and everything is learning
    assert Event.objects.filter(kind="impression", status="invalid", reason="duplicate").count() == 5
    performance = AdPerformance.objects.get(ad=shop.ad)
    assert (performance.impressions, performance.clicks, performance.conversions) == (999, 20, 0)
    assert reasons(owner, [shop.ad], shop.ad_group) == ([R.LEARNING], R.LEARNING, R.LEARNING)
    # and the index, compiled again, carries the ad's posterior: the prior plus its clicks and non-clicks,
    # the prior itself moved from the default 1% toward the feed's own CTR
    compiled = snapshot_now()
    placement_prior = compiled.placements["feed"].prior_ctr
    assert snapshot.placements["feed"].prior_ctr == pytest.approx(index.DEFAULT_CTR)
    assert placement_prior == pytest.approx((20 + 0.01 * 200) / (999 + 200))
    ad = candidate(compiled, shop.ad)
    assert (ad.ctr_alpha, ad.ctr_beta) == pytest.approx((placement_prior * 200 + 20, (1 - placement_prior) * 200 + 979))
    assert (ad.cvr_alpha, ad.cvr_beta) == pytest.approx((1.0, 19.0 + 20))

    # when one more person sees the ad, and it is stored and counted
    one_more = serve(compiled, ["person-999"], moment=MOMENT + timedelta(minutes=1))
    track(compiled, one_more, "i", moment=MOMENT + timedelta(minutes=1))
    services.consume_events()
    services.post_spend()

    # then the ad group has left learning: it, its ad and its campaign are delivering
    assert reasons(owner, [shop.ad], shop.ad_group) == ([R.DELIVERING], R.DELIVERING, R.DELIVERING)


@pytest.mark.django_db
def test_the_indexs_posteriors_follow_ad_performance_after_a_compile(feed):
    # given an ad with no evidence in a published index
    ad = AdFactory(ad_group__placements=[feed], ad_group__bid_strategy="ocpm")
    before = candidate(snapshot_now(), ad)
    assert (before.ctr_alpha, before.ctr_beta, before.cvr_alpha, before.cvr_beta) == pytest.approx((2, 198, 1, 19))

    # when post_spend's counters move and the index is compiled again
    post(ad, 1_000, 40, 4)
    after_first = candidate(snapshot_now(), ad)
    post(ad, 1_000, 10, 0)
    after_second = candidate(snapshot_now(), ad)

    # then the posteriors add exactly the evidence: clicks and non-clicks, conversions and clicks without one
    assert (after_first.ctr_alpha, after_first.ctr_beta, after_first.cvr_alpha, after_first.cvr_beta) == pytest.approx(
        (2 + 40, 198 + 960, 1 + 4, 19 + 36)
    )
    assert (after_second.ctr_alpha, after_second.ctr_beta, after_second.cvr_alpha, after_second.cvr_beta) == pytest.approx(
        (2 + 50, 198 + 1_950, 1 + 4, 19 + 46)
    )


# --- traffic follows performance ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_ad_group_shows_its_better_ad_more_as_its_evidence_accumulates(event_store, feed, staff):
    # given a CPM ad group with a good ad (true CTR 4%) and a bad one (0.5%), neither with evidence
    shop = open_shop(name="Bakery", funds=100 * UNIT, staff=staff)
    good, bad = shop.ad, AdFactory(ad_group=shop.ad_group, display_name="Bakery, take two")
    true_ctr = {good.pk: 0.04, bad.pk: 0.005}
    people = Random(2026)  # who clicks

    # when six rounds of 600 people are served, their impressions and clicks recorded, stored and
    # counted, and the index compiled again after each round (as beat does every minute)
    good_share = []
    for round_no in range(6):
        moment = MOMENT + timedelta(minutes=round_no)
        snapshot = snapshot_now()
        served = serve(snapshot, [f"r{round_no}-person-{n}" for n in range(600)], moment=moment, seed=round_no)
        track(snapshot, served, "i", moment=moment)
        track(snapshot, [s for s in served if people.random() < true_ctr[s.ad_id]], "c", moment=moment + timedelta(seconds=5))
        services.consume_events()
        services.post_spend()
        good_share.append(sum(s.ad_id == good.pk for s in served) / len(served))

    # then both start with about half of the traffic, and the good ad soon takes nearly all of it
    assert 0.4 < good_share[0] < 0.6
    assert min(good_share[2:]) > 0.85
    assert good_share[-1] > 0.95
    # and a compiled index now gives the good ad most auctions on its own
    won = wins(snapshot_now(), seed=99)
    assert won[good.pk] / REQUESTS > 0.95
    assert won[good.pk] + won[bad.pk] == REQUESTS


@pytest.mark.django_db
def test_a_new_ad_still_gets_a_small_share_beside_a_proven_one(feed, staff):
    # given a CPM ad group whose ad has a proven 3% CTR over 1,000 impressions, and a new ad beside it
    shop = funded_shop(staff, name="Bakery")
    post(shop.ad, 1_000, 30)
    new = AdFactory(ad_group=shop.ad_group, display_name="Bakery, new")

    # when 4,000 people are served
    won = wins(snapshot_now(), seed=1)

    # then the new ad explores on a small share (its prior's tail above the proven 3%), never none
    share = won[new.pk] / REQUESTS
    assert 0.01 < share < 0.08
    assert won[shop.ad.pk] + won[new.pk] == REQUESTS


@pytest.mark.django_db
def test_a_cpc_ad_with_the_better_ctr_wins_more_against_an_equal_bid(feed, staff):
    # given two advertisers bidding the same 0.40 USD per click, one ad with a 3% CTR and one with 2%
    better = funded_shop(staff, name="Better", strategy="cpc", bid=400_000)
    worse = funded_shop(staff, name="Worse", strategy="cpc", bid=400_000)
    post(better.ad, 1_000, 30)
    post(worse.ad, 1_000, 20)
    # and a third with no evidence at all
    newcomer = funded_shop(staff, name="Newcomer", strategy="cpc", bid=400_000)

    # when 4,000 people are served
    won = wins(snapshot_now(), seed=3)

    # then the better CTR wins most auctions, the worse one some, and the newcomer explores
    shares = {shop.advertiser.name: won[shop.ad.pk] / REQUESTS for shop in (better, worse, newcomer)}
    assert shares["Better"] > 0.7
    assert 0.03 < shares["Worse"] < shares["Better"] / 3
    assert 0.01 < shares["Newcomer"] < 0.2
    assert sum(won.values()) == REQUESTS


# --- where people see it ---------------------------------------------------------------------------


@pytest.fixture
def new_ad_group(tenancy):
    """The bakery's new ad group with one approved ad, funded, nothing shown yet; the clock stopped at today's time."""
    moment = datetime.now(UTC).replace(microsecond=0)
    with clock.frozen(moment):
        fund(actor=tenancy.owner, advertiser=tenancy.bakery)
        campaign = CampaignFactory(advertiser=tenancy.bakery, name="Bread", budget_mode="unlimited", budget_micros=0)
        ad_group = AdGroupFactory(campaign=campaign, start_time=moment - timedelta(days=1))
        ad = AdFactory(ad_group=ad_group)
        yield campaign, ad_group, ad


LEARNING = {"code": "learning", "label": "Learning", "delivering": True}
DELIVERING = {"code": "delivering", "label": "Delivering", "delivering": True}


def test_the_api_shows_learning_then_delivering(tenancy, api_client_for, new_ad_group):
    campaign, ad_group, ad = new_ad_group
    client = api_client_for(tenancy.owner, scopes=["campaigns:read"])
    urls = [f"/api/v1/campaigns/{campaign.pk}/", f"/api/v1/ad-groups/{ad_group.pk}/", f"/api/v1/ads/{ad.pk}/"]

    listing = client.get("/api/v1/campaigns/").json()["results"]
    bodies = [client.get(url).json() for url in urls]
    assert [row["delivery_status"] for row in listing] == [LEARNING]
    assert [body["delivery_status"] for body in bodies] == [LEARNING] * 3

    post(ad, LEARNING_IMPRESSIONS, LEARNING_CLICKS)

    assert [client.get(url).json()["delivery_status"] for url in urls] == [DELIVERING] * 3


def test_the_api_schema_documents_the_learning_code(tenancy, api_client_for):
    schema = api_client_for(tenancy.owner).get("/api/schema/", HTTP_ACCEPT="application/json")

    assert schema.status_code == 200
    assert '"learning"' in schema.content.decode()


def test_the_dashboard_shows_learning_with_what_it_waits_for(client, tenancy, new_ad_group):
    campaign, _, ad = new_ad_group
    client.force_login(tenancy.owner)

    listing = client.get("/campaigns/").content.decode()
    detail = client.get(f"/campaigns/{campaign.pk}/").content.decode()

    assert listing.count('data-delivery="learning"') == 1
    assert detail.count('data-delivery="learning"') == 3  # campaign, ad group, ad
    assert detail.count("text-bg-primary") >= 3
    assert "until they have together 1,000 impressions and 20 clicks" in detail

    post(ad, LEARNING_IMPRESSIONS, LEARNING_CLICKS)
    detail = client.get(f"/campaigns/{campaign.pk}/").content.decode()

    assert (detail.count('data-delivery="learning"'), detail.count('data-delivery="delivering"')) == (0, 3)


def test_the_admin_shows_learning(client, new_ad_group):
    client.force_login(UserFactory(email="staff@adplatform.example", is_staff=True, is_superuser=True))

    pages = [client.get(f"/admin/campaigns/{model}/") for model in ("campaign", "adgroup", "ad")]

    assert [(page.status_code, page.content.decode().count(">Learning<")) for page in pages] == [(200, 1)] * 3
