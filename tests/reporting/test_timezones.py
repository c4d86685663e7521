"""Each advertiser sees its own days: rollups, reports and closing follow its time zone, DST included.

An advertiser in Pacific/Auckland and one in America/Los_Angeles get events at the very same UTC
instants; each must find them on its own local dates and hours. On a daylight-saving change day
the local day has 23 or 25 hours (the repeated hour is one local hour holding both), and a day
closes only once the advertiser's own midnight has passed.
"""

import hashlib
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from adplatform import clock
from adplatform.redis_client import get_redis
from campaigns.models import Ad
from delivery import charging, links, tracking
from delivery import services as delivery_services
from reporting import query as report_query
from reporting import selectors, services
from reporting.models import ClosedDay, DailyAdRow, HourlyRow, ReachSketch
from tests.factories import AdFactory, AdGroupFactory, AdvertiserFactory, CampaignFactory

pytestmark = pytest.mark.django_db

AUCKLAND, LOS_ANGELES = "Pacific/Auckland", "America/Los_Angeles"


def ad_in(time_zone: str, currency: str = "USD") -> Ad:
    advertiser = AdvertiserFactory(time_zone=time_zone, currency=currency)
    return AdFactory(ad_group=AdGroupFactory(campaign=CampaignFactory(advertiser=advertiser)))


def impression(ad: Ad, at: datetime, *, user: str = "u1", cost: int = 1000) -> list[str]:
    """A billed impression as the event store holds it (delivery.services.COLUMNS order)."""
    ag = ad.ad_group
    return [
        at.isoformat(), str(uuid.uuid4()), "impression", "valid", "", str(uuid.uuid4()), str(ad.pk), str(ag.pk),
        str(ag.campaign_id), str(ag.campaign.advertiser_id), "feed", "NZ", "mobile", user, "impression", str(cost),
        str(cost), "0", "", "",
    ]  # fmt: skip


def hours_of(ad: Ad, day: date) -> Counter:
    """Impressions per local hour of the ad's `day`."""
    return Counter(dict(HourlyRow.objects.filter(ad_id=ad.pk, local_date=day).values_list("local_hour", "impressions")))


def report(ad: Ad, start: date, end: date, dimensions: str) -> selectors.Report:
    advertiser = ad.ad_group.campaign.advertiser
    query = report_query.parse(
        {"dimensions": dimensions, "metrics": "impressions,spend", "start_date": str(start), "end_date": str(end)},
        today=end,
    )
    return selectors.run_report(advertiser, query, paged=False)


def test_the_same_utc_instants_fall_on_each_advertisers_own_dates_and_hours():
    # given an ad in Auckland (UTC+13 in March) and one in Los Angeles (UTC-7 after 8 March), events at the same instants
    auckland, los_angeles = ad_in(AUCKLAND, "NZD"), ad_in(LOS_ANGELES)
    instants = [datetime(2026, 3, 10, 10, 30, tzinfo=UTC), datetime(2026, 3, 10, 12, 0, tzinfo=UTC)]
    delivery_services.store_rows([impression(ad, at) for ad in (auckland, los_angeles) for at in instants])
    # when they are rolled up
    services.rollup()
    # then Auckland has them late on the 10th and early on the 11th, Los Angeles early in the morning of the 10th
    assert set(HourlyRow.objects.filter(ad_id=auckland.pk).values_list("local_date", "local_hour")) == {
        (date(2026, 3, 10), 23),
        (date(2026, 3, 11), 1),
    }
    assert set(HourlyRow.objects.filter(ad_id=los_angeles.pk).values_list("local_date", "local_hour")) == {
        (date(2026, 3, 10), 3),
        (date(2026, 3, 10), 5),
    }
    # and each one's report by date shows its own days, a range in its own zone
    assert [(r["date"], r["impressions"]) for r in report(auckland, date(2026, 3, 9), date(2026, 3, 12), "date").rows] == [
        ("2026-03-10", 1),
        ("2026-03-11", 1),
    ]
    assert [(r["date"], r["impressions"]) for r in report(los_angeles, date(2026, 3, 9), date(2026, 3, 12), "date").rows] == [
        ("2026-03-10", 2)
    ]
    only_the_11th = report(auckland, date(2026, 3, 11), date(2026, 3, 11), "hour")
    assert [(r["hour"], r["impressions"]) for r in only_the_11th.rows] == [(1, 1)]
    assert only_the_11th.totals == {"impressions": 1, "spend": 1000}


DST_DAYS = {
    "Los Angeles springs forward: 23 hours, no 02:00": (LOS_ANGELES, date(2026, 3, 8), 23, {2: 0}),
    "Los Angeles falls back: 25 hours, 01:00 twice": (LOS_ANGELES, date(2026, 11, 1), 25, {1: 2}),
    "Auckland falls back: 25 hours, 02:00 twice": (AUCKLAND, date(2026, 4, 5), 25, {2: 2}),
    "Auckland springs forward: 23 hours, no 02:00": (AUCKLAND, date(2026, 9, 27), 23, {2: 0}),
}


@pytest.mark.parametrize(("time_zone", "day", "length", "unusual"), DST_DAYS.values(), ids=DST_DAYS.keys())
def test_a_daylight_saving_change_day_has_its_real_length(time_zone, day, length, unusual):
    # given an impression every UTC hour (at :20) from a day before to a day after the change day
    ad = ad_in(time_zone)
    first = datetime.combine(day - timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(minutes=20)
    instants = [first + timedelta(hours=n) for n in range(24 * 3)]
    delivery_services.store_rows([impression(ad, at, user=f"u{n}") for n, at in enumerate(instants)])
    # when they are rolled up in two steps
    services.rollup()
    delivery_services.store_rows([impression(ad, instants[30] + timedelta(minutes=1), user="late")])
    services.rollup()
    # then the change day has as many impressions as it has hours (plus the late one) ...
    since, until = services.utc_bounds(time_zone, day, day)
    assert until.astimezone(UTC) - since.astimezone(UTC) == timedelta(hours=length)
    late_day = (instants[30] + timedelta(minutes=1)).astimezone(ZoneInfo(time_zone)).date()
    on_day = DailyAdRow.objects.get(ad_id=ad.pk, local_date=day).impressions
    assert on_day == length + (late_day == day)
    # ... one per local hour, except the skipped hour (none) and the repeated one (both of its hours)
    hours = hours_of(ad, day)
    late_hour = (instants[30] + timedelta(minutes=1)).astimezone(ZoneInfo(time_zone)).hour
    expected = Counter(dict.fromkeys(range(24), 1)) + Counter({hour: count - 1 for hour, count in unusual.items()})
    expected = Counter({hour: count for hour, count in expected.items() if count})
    if late_day == day:
        expected[late_hour] += 1
    assert hours == expected
    # and the days around it have 24 hours each, so nothing is lost or counted twice
    assert sum(DailyAdRow.objects.filter(ad_id=ad.pk).values_list("impressions", flat=True)) == len(instants) + 1
    # and the report by hour shows the day's hours, by date the day's length
    by_hour = report(ad, day, day, "hour")
    assert {row["hour"]: row["impressions"] for row in by_hour.rows} == dict(expected)
    assert by_hour.totals["impressions"] == on_day
    # and a reroll of the change day gives the same rows
    rows = set(HourlyRow.objects.filter(ad_id=ad.pk).values_list("local_date", "local_hour", "impressions", "cost_micros"))
    services.reroll(ad.ad_group.campaign.advertiser, day, day)
    assert (
        set(HourlyRow.objects.filter(ad_id=ad.pk).values_list("local_date", "local_hour", "impressions", "cost_micros")) == rows
    )


def test_a_day_closes_only_after_the_advertisers_own_midnight():
    # given both advertisers with impressions at the same instants: 08:00 and 12:00 UTC on 10 March
    auckland, los_angeles = ad_in(AUCKLAND, "NZD"), ad_in(LOS_ANGELES)
    instants = [datetime(2026, 3, 10, 8, tzinfo=UTC), datetime(2026, 3, 10, 12, tzinfo=UTC)]
    delivery_services.store_rows(
        [impression(ad, at, user=f"u{n}") for ad in (auckland, los_angeles) for n, at in enumerate(instants)]
    )
    services.rollup()
    a, la = auckland.ad_group.campaign.advertiser, los_angeles.ad_group.campaign.advertiser

    def closed() -> set[tuple[int, date]]:
        return set(ClosedDay.objects.values_list("advertiser_id", "local_date"))

    # when days are closed at moments around each advertiser's midnight, then only days that have ended close:
    # Auckland's 10 March ends at 11:00 UTC on the 10th (NZDT), its 11 March at 11:00 UTC on the 11th,
    # Los Angeles's 10 March at 07:00 UTC on the 11th (PDT)
    steps = [
        (datetime(2026, 3, 10, 10, 59, 59, tzinfo=UTC), set()),
        (datetime(2026, 3, 10, 11, 0, tzinfo=UTC), {(a.pk, date(2026, 3, 10))}),
        (datetime(2026, 3, 11, 6, 59, 59, tzinfo=UTC), {(a.pk, date(2026, 3, 10))}),
        (datetime(2026, 3, 11, 7, 0, tzinfo=UTC), {(a.pk, date(2026, 3, 10)), (la.pk, date(2026, 3, 10))}),
        (datetime(2026, 3, 11, 10, 59, 59, tzinfo=UTC), {(a.pk, date(2026, 3, 10)), (la.pk, date(2026, 3, 10))}),
        (
            datetime(2026, 3, 11, 11, 0, tzinfo=UTC),
            {(a.pk, date(2026, 3, 10)), (la.pk, date(2026, 3, 10)), (a.pk, date(2026, 3, 11))},
        ),
    ]
    for moment, expected in steps:
        with clock.frozen(moment):
            services.close_days()
        assert closed() == expected, moment
    # and each closed day kept its ad group's reach: one person each on Auckland's two days, two in Los Angeles
    assert sorted(ReachSketch.objects.values_list("advertiser_id", "local_date", "people")) == sorted(
        [(a.pk, date(2026, 3, 10), 1), (a.pk, date(2026, 3, 11), 1), (la.pk, date(2026, 3, 10), 2)]
    )
    # and closing again closes nothing more
    with clock.frozen(datetime(2026, 3, 12, tzinfo=UTC)):
        assert services.close_days() == 0


@pytest.mark.parametrize(
    ("time_zone", "day", "ends_at"),
    [
        (LOS_ANGELES, date(2026, 11, 1), datetime(2026, 11, 2, 8, tzinfo=UTC)),  # 25 hours: midnight is back in PST
        (LOS_ANGELES, date(2026, 3, 8), datetime(2026, 3, 9, 7, tzinfo=UTC)),  # 23 hours: midnight is in PDT
        (AUCKLAND, date(2026, 4, 5), datetime(2026, 4, 5, 12, tzinfo=UTC)),  # 25 hours: midnight is in NZST
        (AUCKLAND, date(2026, 9, 27), datetime(2026, 9, 27, 11, tzinfo=UTC)),  # 23 hours: midnight is in NZDT
    ],
)
def test_a_daylight_saving_change_day_closes_at_its_own_midnight(time_zone, day, ends_at):
    # given an impression in the last local hour of a change day
    ad = ad_in(time_zone)
    delivery_services.store_rows([impression(ad, ends_at - timedelta(minutes=30))])
    services.rollup()
    assert DailyAdRow.objects.get(ad_id=ad.pk).local_date == day
    # when days are closed a second before its midnight, then it stays open; at its midnight it closes
    with clock.frozen(ends_at - timedelta(seconds=1)):
        assert services.close_days() == 0
    with clock.frozen(ends_at):
        assert services.close_days() == 1
    assert ClosedDay.objects.get().local_date == day


def test_tracking_and_rollups_agree_on_the_day_of_an_impression_around_a_change_days_midnight():
    # given people shown an ad through the charge script just before and after midnight at both ends of
    # Auckland's 25-hour 5 April (it starts 11:00 UTC on the 4th, NZDT, and ends 12:00 UTC on the 5th, NZST)
    ad = ad_in(AUCKLAND, "NZD")
    ag = ad.ad_group
    charger = charging.Charger(get_redis())
    context = tracking.Context(charging.Caps(0, 0, 0, 0), AUCKLAND, None)
    moments = {
        "before the day": datetime(2026, 4, 4, 10, 59, 59, tzinfo=UTC),
        "its first second": datetime(2026, 4, 4, 11, 0, tzinfo=UTC),
        "its last second": datetime(2026, 4, 5, 11, 59, 59, tzinfo=UTC),
        "after the day": datetime(2026, 4, 5, 12, 0, tzinfo=UTC),
    }
    for n, (name, moment) in enumerate(moments.items()):
        for person in range(n + 1):  # 1, 2, 3 and 4 people, so each moment's day can be told apart
            served = links.Served(
                request_id=str(uuid.uuid4()), ad_id=ad.pk, ad_group_id=ag.pk, campaign_id=ag.campaign_id,
                advertiser_id=ag.campaign.advertiser_id, placement="feed", billed_on="impression", price_micros=0,
                user_key=hashlib.sha256(f"{name}-{person}".encode()).hexdigest()[:32], country="NZ", device="mobile",
                served_at=int(moment.timestamp()), expires_at=int(moment.timestamp()) + 86_400,
            )  # fmt: skip
            assert tracking.record(charger, "i", served, context, moment=moment).status == "valid"
    # when the events are stored and rolled up, and the days close
    delivery_services.consume_events()
    services.rollup()
    with clock.frozen(datetime(2026, 4, 6, 12, tzinfo=UTC)):
        services.close_days()
    # then impressions and the people in each day's reach sketch are on the same local days
    impressions = dict(DailyAdRow.objects.filter(ad_id=ad.pk).values_list("local_date", "impressions"))
    assert impressions == {date(2026, 4, 4): 1, date(2026, 4, 5): 2 + 3, date(2026, 4, 6): 4}
    assert dict(ReachSketch.objects.values_list("local_date", "people")) == impressions
