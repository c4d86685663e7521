"""Reach: distinct people per ad group and day, kept as HyperLogLog sketches, within 2% of the exact count.

People are shown ads through the real charge script (delivery.tracking.record -> Charger), which
PFADDs them to the ad group's live sketch for the advertiser's day; the consumer stores the
events; rollups and closing keep the sketches. Reports merge them for any date range and up to
campaign level as a union (a person reached twice is one person), never as a sum. The exact
figure to compare with is the distinct count of user keys in the event store.
"""

import hashlib
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db.models import Q

from accounts.models import Advertiser
from adplatform import clock
from adplatform.redis_client import get_redis
from billing import services as billing_services
from campaigns.models import AdGroup, Campaign
from delivery import charging, links, tracking
from delivery import services as delivery_services
from delivery.models import Event
from reporting import query as report_query
from reporting import selectors, services
from reporting.models import ClosedDay, ReachSketch
from tests.factories import AdFactory, AdGroupFactory, AdvertiserFactory, CampaignFactory, UserFactory

pytestmark = pytest.mark.django_db

TOLERANCE = 0.02
TIME_ZONE = "Europe/Berlin"
DAY_1, DAY_2 = date(2026, 3, 10), date(2026, 3, 11)
NOON_1 = datetime(2026, 3, 10, 11, tzinfo=UTC)  # 12:00 in Berlin
NOON_2 = NOON_1 + timedelta(days=1)
PRICE = 1_000  # micros per impression: the funds run out part way, so some impressions are shown unbilled


def person(n: int) -> str:
    return hashlib.sha256(f"person-{n}".encode()).hexdigest()[:32]


def advertiser_with(*campaigns: int) -> tuple[Advertiser, list[list[AdGroup]]]:
    """A funded advertiser in Berlin with the given number of ad groups (one ad each) per campaign."""
    advertiser = AdvertiserFactory(time_zone=TIME_ZONE, currency="EUR")
    billing_services.adjustment_post(
        staff=UserFactory(is_staff=True), advertiser=advertiser, amount_micros=15_000_000, reason="Test funds"
    )
    delivery_services.refresh_allowance(advertiser)
    groups = []
    for count in campaigns:
        campaign = CampaignFactory(advertiser=advertiser)
        groups.append([AdFactory(ad_group=AdGroupFactory(campaign=campaign)).ad_group for _ in range(count)])
    return advertiser, groups


def show(ad_group: AdGroup, people: Iterable[int], *, moment: datetime) -> None:
    """Each person is shown the ad group's ad once, through the charge script, as the impression endpoint records it."""
    charger = charging.Charger(get_redis())
    context = tracking.Context(charging.Caps(0, 0, 0, 0), TIME_ZONE, None)
    ad = ad_group.ads.get()
    for n in people:
        served = links.Served(
            request_id=str(uuid.uuid4()), ad_id=ad.pk, ad_group_id=ad_group.pk, campaign_id=ad_group.campaign_id,
            advertiser_id=ad_group.campaign.advertiser_id, placement="feed", billed_on="impression", price_micros=PRICE,
            user_key=person(n), country="DE", device="mobile", served_at=int(moment.timestamp()),
            expires_at=int(moment.timestamp()) + 86_400,
        )  # fmt: skip
        assert tracking.record(charger, "i", served, context, moment=moment).status in ("valid", "unbilled")


def exact(advertiser: Advertiser, start: date, end: date, **filters: object) -> int:
    """Distinct people shown the advertiser's ads (invalid impressions aside) on its local days start..end."""
    since, until = services.utc_bounds(advertiser.time_zone, start, end)
    return (
        Event.objects.filter(
            Q(**filters), advertiser_id=advertiser.pk, kind="impression", occurred_at__gte=since, occurred_at__lt=until
        )
        .exclude(status="invalid")
        .values("user_key")
        .distinct()
        .count()
    )


def assert_close(estimate: int | None, truth: int) -> None:
    assert estimate is not None
    assert abs(estimate - truth) <= TOLERANCE * truth, (estimate, truth, f"{(estimate - truth) / truth:+.2%}")


def reach_report(advertiser: Advertiser, level: str, start: date, end: date, dimensions: str = "") -> selectors.Report:
    query = report_query.parse(
        {"level": level, "dimensions": dimensions, "metrics": "impressions,reach,frequency", "start_date": str(start),
         "end_date": str(end)},
        today=end,
    )  # fmt: skip
    return selectors.run_report(advertiser, query, paged=False)


def stored_people(ad_group: AdGroup, day: date) -> int:
    return ReachSketch.objects.get(ad_group=ad_group, local_date=day).people


def redis_kept_everything_since(moment: datetime) -> None:
    """Reporting looked at Redis at `moment` (the rollup runs every few minutes): its live sketches are whole since then."""
    with clock.frozen(moment):
        services.rollup()


@pytest.fixture
def two_days() -> tuple[Advertiser, list[list[AdGroup]]]:
    """Over two days, 25,000 impressions to 14,000 people in three ad groups of two campaigns, with heavy overlap.

    Day 1: ad group A reaches people 0-9,999 (the first 1,000 twice), B 6,000-12,999.
    Day 2: A reaches 8,000-13,999, C (the other campaign) 0-2,999.
    """
    advertiser, ((a, b), (c,)) = advertiser_with(2, 1)
    redis_kept_everything_since(NOON_1 - timedelta(days=1))
    with clock.frozen(NOON_1):
        show(a, range(10_000), moment=NOON_1)
        show(a, range(1_000), moment=NOON_1 + timedelta(hours=3))
        show(b, range(6_000, 13_000), moment=NOON_1 + timedelta(hours=5))
        delivery_services.consume_events()
        services.rollup()
    with clock.frozen(NOON_2):
        show(a, range(8_000, 14_000), moment=NOON_2)
        show(c, range(3_000), moment=NOON_2)
        delivery_services.consume_events()
        services.rollup()
    return advertiser, [[a, b], [c]]


def test_reach_per_ad_group_and_day_and_merged_over_days_and_campaigns_is_within_two_percent(two_days):
    advertiser, ((a, b), (c,)) = two_days
    client = get_redis()
    statuses = set(Event.objects.filter(kind="impression").values_list("status", flat=True))
    assert statuses == {"valid", "unbilled"}  # the money ran out part way: unbilled impressions reach people too
    live_a_1 = client.get(charging.reach_key(advertiser.pk, a.pk, DAY_1.isoformat()))
    # when day 1 has closed (Berlin's midnight passed) and day 2 is still open
    with clock.frozen(NOON_2 + timedelta(hours=1)):
        assert services.close_days() == 1
        by_day = reach_report(advertiser, "ad_group", DAY_1, DAY_2, "date")
        by_group = reach_report(advertiser, "ad_group", DAY_1, DAY_2)
        by_campaign = reach_report(advertiser, "campaign", DAY_1, DAY_2)
    # then the closed day kept the live sketches, within 2% of the exact distinct count
    assert bytes(ReachSketch.objects.get(ad_group=a, local_date=DAY_1).sketch) == live_a_1
    assert exact(advertiser, DAY_1, DAY_1, ad_group_id=a.pk) == 10_000
    assert_close(stored_people(a, DAY_1), 10_000)
    assert_close(stored_people(b, DAY_1), exact(advertiser, DAY_1, DAY_1, ad_group_id=b.pk))
    # and each ad group's day, closed or still open (its live sketch), is within 2%
    rows = {(row["ad_group_id"], row["date"]): row for row in by_day.rows}
    assert set(rows) == {(a.pk, "2026-03-10"), (b.pk, "2026-03-10"), (a.pk, "2026-03-11"), (c.pk, "2026-03-11")}
    for (ad_group_id, day), row in rows.items():
        when = date.fromisoformat(day)
        truth = exact(advertiser, when, when, ad_group_id=ad_group_id)
        assert_close(row["reach"], truth)
        assert row["frequency"] == pytest.approx(row["impressions"] / row["reach"], abs=0.005)
    assert rows[(a.pk, "2026-03-10")]["impressions"] == 11_000
    # and over both days an ad group's reach is the union of its days' people, not their sum
    group_a = next(row for row in by_group.rows if row["ad_group_id"] == a.pk)
    union_a = exact(advertiser, DAY_1, DAY_2, ad_group_id=a.pk)
    assert union_a == 14_000
    assert_close(group_a["reach"], union_a)
    assert rows[(a.pk, "2026-03-10")]["reach"] + rows[(a.pk, "2026-03-11")]["reach"] > 1.1 * union_a
    # and a campaign's reach is the union of its ad groups' people over the range
    first_campaign = next(row for row in by_campaign.rows if row["campaign_id"] == a.campaign_id)
    assert exact(advertiser, DAY_1, DAY_2, campaign_id=a.campaign_id) == 14_000
    assert_close(first_campaign["reach"], 14_000)
    second_campaign = next(row for row in by_campaign.rows if row["campaign_id"] == c.campaign_id)
    assert_close(second_campaign["reach"], 3_000)
    # and the totals row is everybody reached, once: 14,000 people (C's 3,000 were all reached by A too)
    assert exact(advertiser, DAY_1, DAY_2) == 14_000
    assert_close(by_campaign.totals["reach"], 14_000)
    assert_close(by_day.totals["reach"], 14_000)
    assert by_campaign.totals["impressions"] == 10_000 + 1_000 + 7_000 + 6_000 + 3_000
    # and a sketch rebuilt from the event store estimates exactly what the live one does (same people, same registers)
    rebuilt = services.sketch_from_events(advertiser, a.pk, DAY_1)
    assert services.count_reach({0: [rebuilt]}) == services.count_reach({0: [live_a_1]})
    # and when Redis loses the open day's live sketch, the report counts that day's people from the event store
    client.delete(charging.reach_key(advertiser.pk, a.pk, DAY_2.isoformat()))
    with clock.frozen(NOON_2 + timedelta(hours=2)):
        open_day = reach_report(advertiser, "ad_group", DAY_2, DAY_2)
    assert_close(next(row for row in open_day.rows if row["ad_group_id"] == a.pk)["reach"], 6_000)


def test_redis_losing_a_live_sketch_is_made_good_from_the_event_store_at_close():
    # given two ad groups' live sketches of a day, and Redis then lost one of them (expired, evicted, deleted)
    advertiser, ((a, b),) = advertiser_with(2)
    redis_kept_everything_since(NOON_1 - timedelta(days=1))
    with clock.frozen(NOON_1):
        show(a, range(5_000), moment=NOON_1)
        show(b, range(4_000, 6_000), moment=NOON_1)
        delivery_services.consume_events()
        services.rollup()
    get_redis().delete(charging.reach_key(advertiser.pk, a.pk, DAY_1.isoformat()))
    # when the day closes
    with clock.frozen(NOON_2):
        services.close_days()
    # then the lost one is rebuilt from the event store, within 2%, the other kept as it was in Redis
    assert_close(stored_people(a, DAY_1), 5_000)
    assert_close(stored_people(b, DAY_1), 2_000)
    assert bytes(ReachSketch.objects.get(ad_group=b).sketch) == get_redis().get(
        charging.reach_key(advertiser.pk, b.pk, DAY_1.isoformat())
    )


def test_redis_flushed_mid_day_still_gives_the_whole_days_reach():
    # given an ad group that reached 6,000 people in the morning, then Redis lost everything (a restart without
    # persistence) and delivery carried on: 3,000 more people in the afternoon, 1,000 of them seen in the morning
    advertiser, ((a,),) = advertiser_with(1)
    redis_kept_everything_since(NOON_1 - timedelta(days=1))
    with clock.frozen(NOON_1 - timedelta(hours=3)):
        show(a, range(6_000), moment=NOON_1 - timedelta(hours=3))
        delivery_services.consume_events()
        services.rollup()
    get_redis().flushdb()
    with clock.frozen(NOON_1 + timedelta(hours=2)):
        show(a, range(5_000, 8_000), moment=NOON_1 + timedelta(hours=2))
        delivery_services.consume_events()
        services.rollup()
        afternoon = reach_report(advertiser, "ad_group", DAY_1, DAY_1)
    # when the day closes
    with clock.frozen(NOON_2):
        services.close_days()
    # then the day's reach is all 8,000 people, in the open-day report and in the sketch kept at close
    # (Redis's own sketch of the day now holds only the afternoon's 3,000)
    assert exact(advertiser, DAY_1, DAY_1) == 8_000
    live = get_redis().get(charging.reach_key(advertiser.pk, a.pk, DAY_1.isoformat()))
    assert_close(services.count_reach({0: [live]})[0], 3_000)
    assert_close(afternoon.rows[0]["reach"], 8_000)
    assert_close(stored_people(a, DAY_1), 8_000)
    # and the next day, begun after Redis came back, is trusted to its live sketch again
    day_3 = NOON_2 + timedelta(days=1)
    with clock.frozen(day_3):
        show(a, range(10), moment=day_3)
        delivery_services.consume_events()
        services.rollup()
    with clock.frozen(day_3 + timedelta(days=1)):
        services.close_days()
    assert bytes(ReachSketch.objects.get(ad_group=a, local_date=day_3.date()).sketch) == get_redis().get(
        charging.reach_key(advertiser.pk, a.pk, day_3.date().isoformat())
    )


def test_late_impressions_for_a_closed_day_refresh_its_sketch():
    # given a day with 5,000 people shown the ad, but the consumer had stored only the first 3,000 when the day
    # closed, and Redis then lost the live sketch (so the sketch kept at close was counted from the event store)
    advertiser, ((a,),) = advertiser_with(1)
    redis_kept_everything_since(NOON_1 - timedelta(days=1))
    with clock.frozen(NOON_1):
        show(a, range(3_000), moment=NOON_1)
        delivery_services.consume_events()
        services.rollup()
        show(a, range(3_000, 5_000), moment=NOON_1 + timedelta(hours=10))  # 22:00 in Berlin, still in the stream
    get_redis().delete(charging.reach_key(advertiser.pk, a.pk, DAY_1.isoformat()))
    with clock.frozen(NOON_2):
        services.close_days()
    assert ClosedDay.objects.filter(advertiser=advertiser, local_date=DAY_1).exists()
    assert_close(stored_people(a, DAY_1), 3_000)
    # when the late impressions are stored and rolled up
    with clock.frozen(NOON_2 + timedelta(minutes=5)):
        delivery_services.consume_events()
        services.rollup()
        report = reach_report(advertiser, "ad_group", DAY_1, DAY_1)
    # then the closed day's sketch counts them too
    assert exact(advertiser, DAY_1, DAY_1) == 5_000
    assert_close(stored_people(a, DAY_1), 5_000)
    assert_close(report.rows[0]["reach"], 5_000)
    assert report.rows[0]["impressions"] == 5_000


def test_an_ad_group_first_shown_after_its_day_closed_gets_a_sketch():
    # given a closed day on which ad group B had shown nothing yet, as far as the event store knew
    advertiser, ((a, b),) = advertiser_with(2)
    redis_kept_everything_since(NOON_1 - timedelta(days=1))
    client = get_redis()
    with clock.frozen(NOON_1):
        show(a, range(40), moment=NOON_1)
        show(b, range(20, 60), moment=NOON_1 + timedelta(hours=1))
        entries = client.xrange(charging.STREAM)
        client.delete(charging.STREAM)
        for _, fields in entries[:40]:  # B's impressions are held up on the way to the event store
            client.xadd(charging.STREAM, fields)
        delivery_services.consume_events()
        services.rollup()
    with clock.frozen(NOON_2):
        services.close_days()
    assert list(ReachSketch.objects.values_list("ad_group_id", flat=True)) == [a.pk]
    # when B's impressions arrive late
    for _, fields in entries[40:]:
        client.xadd(charging.STREAM, fields)
    with clock.frozen(NOON_2 + timedelta(minutes=5)):
        delivery_services.consume_events()
        services.rollup()
        report = reach_report(advertiser, "campaign", DAY_1, DAY_1)
    # then B has its sketch, and the campaign's reach is the union of both groups' people (small counts are exact)
    assert stored_people(b, DAY_1) == 40
    assert report.rows[0]["reach"] == 60
    assert Campaign.objects.count() == 1


def test_many_sketches_are_merged_a_chunk_at_a_time_into_the_same_union():
    # given 600 sketches (more than one merge chunk), each of 50 people, overlapping their neighbours by half
    client = get_redis()
    sketches = []
    for n in range(600):
        client.pfadd("sketch", *(person(k) for k in range(25 * n, 25 * n + 50)))
        sketches.append(client.get("sketch"))
        client.delete("sketch")
    client.pfadd("everyone", *(person(k) for k in range(25 * 600 + 25)))
    # when their unions are counted, in groups smaller and larger than a chunk, one sketch in several groups
    counts = services.count_reach({"all": sketches, "first ten": sketches[:10], "none": [], "last": sketches[-1:]})
    # then the large group's union is what one PFCOUNT over all of them says, within 2% of the 15,025 people
    assert len(sketches) > services.MERGE_CHUNK
    assert counts["all"] == client.pfcount("everyone")
    assert_close(counts["all"], 15_025)
    assert_close(counts["first ten"], 275)
    assert (counts["none"], counts["last"]) == (0, 50)
    # and nothing is left behind in Redis
    assert sorted(client.keys("*scratch*")) == []
