"""Rollups against the event store and the ledger: the same numbers everywhere, to the micro.

Generated traffic (many ads, placements, countries and devices; invalid events, unbilled
impressions, clicks, conversions with values in several currencies) is stored in several steps,
some of it late (after the hour or even the day it happened in was rolled up and closed), and
rolled up after each step. Then the rollups must equal an independent count of the events made
here in Python, the raw event store, and the ledger; the three grains must agree; a reroll of any
window must give the very rows the incremental rollups gave; and rolling up again changes nothing.
"""

import itertools
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from random import Random
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.db.models import Count, Q, Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Advertiser, Currency
from adplatform import clock, money
from adplatform.redis_client import get_redis
from billing import services as billing_services
from billing.models import Kind, Transaction
from delivery import decision, links, tracking
from delivery import services as delivery_services
from delivery.index import LiveState
from delivery.models import Event, SpendDay
from reporting import query as report_query
from reporting import selectors, services
from reporting.models import METRIC_FIELDS, DailyAdRow, DailyRow, HourlyRow
from tests.delivery.test_pipeline import open_shop, snapshot_now, track
from tests.factories import AdFactory, AdGroupFactory, AdvertiserFactory, CampaignFactory, PlacementFactory, UserFactory

pytestmark = pytest.mark.django_db

UNIT = 1_000_000
START = datetime(2026, 3, 9, 20, 0, tzinfo=UTC)
PLACEMENTS = ("feed", "stories", "search", "explore")
COUNTRIES = ("DE", "US", "NZ", "FR", "JP", "BR")
DEVICES = ("mobile", "tablet", "desktop", "connected_tv")
NULL = delivery_services.NULL
COUNTED = ("requests_won", "impressions", "clicks", "conversions", "conversion_value", "spend", "invalid_events")


@dataclass(frozen=True)
class Target:
    """An ad and everything above it, as the event store names them."""

    ad: int
    ad_group: int
    campaign: int
    advertiser: int
    billed_on: str


def event(
    target: Target | None,
    kind: str,
    at: datetime,
    *,
    advertiser: int | None = None,
    status: str = "valid",
    reason: str = "",
    request_id: str | None = None,
    placement: str = "feed",
    country: str = "DE",
    device: str = "mobile",
    user: str = "",
    price: int = 0,
    cost: int = 0,
    value: int = 0,
    currency: str = "",
    event_id: str | None = None,
) -> list[str]:
    """One event-store row, in delivery.services.COLUMNS order (no target: an event no ad can be named for)."""
    ids = [str(target.ad), str(target.ad_group), str(target.campaign), str(target.advertiser)] if target else [NULL] * 3
    if target is None:
        ids.append(str(advertiser))
    return [
        at.isoformat(), event_id or str(uuid.uuid4()), kind, status, reason, request_id or NULL, *ids, placement, country,
        device, user, target.billed_on if target else "", str(price), str(cost), str(value), currency,
        "purchase" if kind == "conversion" else "",
    ]  # fmt: skip


# --- an independent count of the events ---------------------------------------------------------


def local(at: str, time_zone: str) -> datetime:
    return datetime.fromisoformat(at).astimezone(ZoneInfo(time_zone))


def expected_hourly(rows: list[list[str]]) -> dict[tuple, tuple[int, ...]]:
    """What the hourly rollup must hold for these events, counted here from their definitions."""
    advertisers = {a.pk: a for a in Advertiser.objects.all()}
    rates = dict(Currency.objects.values_list("code", "units_per_usd"))
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(METRIC_FIELDS))
    for at, _, kind, status, _, _, ad, ad_group, campaign, advertiser_id, placement, country, device, *rest in rows:
        if NULL in (ad, ad_group, campaign):
            continue
        _, _, _, cost, value, currency, _ = rest
        advertiser = advertisers[int(advertiser_id)]
        moment = local(at, advertiser.time_zone)
        key = (int(advertiser_id), int(campaign), int(ad_group), int(ad), moment.date(), moment.hour, placement, country, device)
        counts = sums[key]
        valid, counted = status == "valid", status != "invalid"
        counts[0] += kind == "serve" and counted
        counts[1] += kind == "impression" and counted
        counts[2] += kind == "click" and counted
        if kind == "conversion" and valid:
            counts[3] += 1
            if currency in ("", advertiser.currency):
                counts[4] += int(value)
            else:
                counts[4] += money.convert(
                    int(value), from_units_per_usd=rates[currency], to_units_per_usd=rates[advertiser.currency]
                )
        counts[5] += int(cost)
        counts[6] += status == "invalid"
    return {key: tuple(counts) for key, counts in sums.items()}


def rolled_up(model: type) -> dict[tuple, tuple[int, ...]]:
    """A rollup table as {key: metrics}, keys in the order of the hourly key's fields."""
    fields = ["advertiser_id", "campaign_id", "ad_group_id", "ad_id", "local_date"]
    if model is HourlyRow:
        fields.append("local_hour")
    if model is not DailyAdRow:
        fields += ["placement", "country", "device"]
    rows = model.objects.values_list(*fields, *METRIC_FIELDS)
    found = {tuple(row[: len(fields)]): tuple(row[len(fields) :]) for row in rows}
    assert len(found) == len(rows)
    return found


def summed(rows: dict[tuple, tuple[int, ...]], keep: slice | list[int]) -> dict[tuple, tuple[int, ...]]:
    """Rows added up over the key fields not kept."""
    out: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(METRIC_FIELDS))
    for key, values in rows.items():
        picked = key[keep] if isinstance(keep, slice) else tuple(key[i] for i in keep)
        out[picked] = [a + b for a, b in zip(out[picked], values, strict=True)]
    return {key: tuple(values) for key, values in out.items()}


def snapshot() -> tuple[dict, dict, dict]:
    return rolled_up(HourlyRow), rolled_up(DailyRow), rolled_up(DailyAdRow)


def assert_grains_agree() -> None:
    """Each grain is the sum of the one below it, row for row."""
    hourly, daily, daily_ad = snapshot()
    assert summed(hourly, [0, 1, 2, 3, 4, 6, 7, 8]) == daily
    assert summed(daily, slice(0, 5)) == daily_ad


def without_zero_rows(rows: dict[tuple, tuple[int, ...]]) -> dict[tuple, tuple[int, ...]]:
    return {key: values for key, values in rows.items() if any(values)}


# --- generated traffic ------------------------------------------------------------------------------


def marketplace() -> list[Target]:
    """Three funded advertisers in three time zones and currencies, 2 campaigns x 2 ad groups x 2 ads each: 24 ads."""
    targets = []
    staff = UserFactory(is_staff=True)
    for currency, time_zone in (("EUR", "Europe/Berlin"), ("USD", "America/Los_Angeles"), ("NZD", "Pacific/Auckland")):
        advertiser = AdvertiserFactory(currency=currency, time_zone=time_zone)
        billing_services.adjustment_post(staff=staff, advertiser=advertiser, amount_micros=10_000 * UNIT, reason="Test funds")
        for c in range(2):
            campaign = CampaignFactory(advertiser=advertiser)
            for g in range(2):
                ad_group = AdGroupFactory(campaign=campaign, bid_strategy="cpc" if (c + g) % 2 else "cpm")
                for _ in range(2):
                    ad = AdFactory(ad_group=ad_group)
                    billed_on = "click" if ad_group.bid_strategy == "cpc" else "impression"
                    targets.append(Target(ad.pk, ad_group.pk, campaign.pk, advertiser.pk, billed_on))
    return targets


def generate(rng: Random, targets: list[Target], *, requests: int, since: datetime, hours: int) -> list[list[str]]:
    """Served ads and what followed them, with every kind of event the store holds."""
    currencies = {a.pk: a.currency for a in Advertiser.objects.all()}
    rows = []

    def rid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128)))

    for _ in range(requests):
        t = rng.choice(targets)
        at = since + timedelta(seconds=rng.randrange(hours * 3600), microseconds=rng.randrange(1_000_000))
        where = {"placement": rng.choice(PLACEMENTS), "country": rng.choice(COUNTRIES), "device": rng.choice(DEVICES)}
        request_id, user, price = rid(), f"person-{rng.randrange(400)}", rng.randrange(400, 6000)
        facts: dict[str, Any] = {**where, "request_id": request_id, "user": user, "price": price}
        rows.append(event(t, "serve", at, **facts, event_id=rid()))
        if rng.random() < 0.1:
            continue  # served, never shown
        shown = at + timedelta(seconds=rng.randrange(1, 300))
        if rng.random() < 0.03:  # a bot: recorded, never counted
            rows.append(event(t, "impression", shown, **facts, status="invalid", reason="bot", event_id=rid()))
            continue
        status = "unbilled" if rng.random() < 0.1 else "valid"
        billed = status == "valid" and t.billed_on == "impression"
        reason = "ag_daily_budget" if status == "unbilled" else ""
        rows.append(
            event(t, "impression", shown, **facts, status=status, reason=reason, cost=price if billed else 0, event_id=rid())
        )
        if rng.random() < 0.05:  # the same link again
            again = shown + timedelta(seconds=rng.randrange(1, 90))
            rows.append(event(t, "impression", again, **facts, status="invalid", reason="duplicate", event_id=rid()))
        if rng.random() > 0.15:
            continue
        clicked = shown + timedelta(seconds=rng.randrange(1, 900))
        roll = rng.random()
        status, reason = ("valid", "")
        if roll < 0.1:
            status, reason = ("invalid", "click_burst") if roll < 0.05 else ("unbilled", "no_balance")
        billed = status == "valid" and t.billed_on == "click"
        rows.append(
            event(t, "click", clicked, **facts, status=status, reason=reason, cost=price if billed else 0, event_id=rid())
        )
        if status == "invalid" or rng.random() > 0.5:
            continue
        converted = clicked + timedelta(seconds=rng.randrange(60, 2 * 86_400))
        currency = rng.choice(["", currencies[t.advertiser], "USD", "JPY", "EUR"])
        value = rng.randrange(1, 500 * UNIT)
        rows.append(event(t, "conversion", converted, **facts, value=value, currency=currency, event_id=rid()))
        if rng.random() < 0.2:  # reported twice: a duplicate carries no ad
            rows.append(event(None, "conversion", converted, advertiser=t.advertiser, status="invalid", reason="duplicate"))
    for _ in range(requests // 50):  # conversions no click explains
        at = since + timedelta(seconds=rng.randrange(hours * 3600))
        rows.append(event(None, "conversion", at, advertiser=rng.choice(targets).advertiser, status="invalid", value=UNIT))
    return rows


def arrivals(rng: Random, rows: list[list[str]], cuts: list[datetime], late_share: float) -> list[list[list[str]]]:
    """Rows as they reach the store in steps: step i brings what happened before cut i, some of it a step or more late."""
    steps: list[list[list[str]]] = [[] for _ in cuts]
    for row in rows:
        at = datetime.fromisoformat(row[0])
        first = next((i for i, cut in enumerate(cuts) if at < cut), len(cuts) - 1)
        if rng.random() < late_share and first < len(cuts) - 1:
            first = rng.randrange(first + 1, len(cuts))
        steps[first].append(row)
    return steps


def ledger_spend(advertiser_id: int) -> int:
    total = Transaction.objects.filter(advertiser_id=advertiser_id, kind=Kind.SPEND).aggregate(total=Sum("amount_micros"))
    return -(total["total"] or 0)


def store_counts(advertiser: Advertiser, start: date, end: date) -> dict[str, int]:
    """The raw event store's figures for the advertiser's local days start..end, by the ORM."""
    since, until = services.utc_bounds(advertiser.time_zone, start, end)
    named = Event.objects.filter(advertiser_id=advertiser.pk, occurred_at__gte=since, occurred_at__lt=until, ad_id__isnull=False)
    counted = ~Q(status="invalid")
    figures = named.aggregate(
        requests_won=Count("pk", filter=Q(kind="serve") & counted),
        impressions=Count("pk", filter=Q(kind="impression") & counted),
        clicks=Count("pk", filter=Q(kind="click") & counted),
        conversions=Count("pk", filter=Q(kind="conversion", status="valid")),
        spend=Sum("cost_micros"),
        invalid_events=Count("pk", filter=Q(status="invalid")),
    )
    figures["spend"] = figures["spend"] or 0
    return figures


def report(advertiser: Advertiser, start: date, end: date, **parameters: str) -> selectors.Report:
    query = report_query.parse(
        {"metrics": ",".join(COUNTED), "start_date": start.isoformat(), "end_date": end.isoformat(), **parameters},
        today=end,
    )
    return selectors.run_report(advertiser, query, paged=False)


# --- the generated-traffic consistency test ------------------------------------------------------------


def test_incremental_rollups_with_late_events_agree_with_the_event_store_and_the_ledger_to_the_micro():
    # given three advertisers in three time zones, 24 ads, and 3,000 requests' worth of traffic over two days,
    rng = Random(20261129)
    targets = marketplace()
    rows = generate(rng, targets, requests=3000, since=START, hours=48)
    # arriving in six steps, 8% of it one or more steps late (the hour, often the day, already rolled up and closed)
    cuts = [START + timedelta(hours=h) for h in (6, 14, 23, 30, 41, 48 + 60)]
    steps = arrivals(rng, rows, cuts, late_share=0.08)
    assert sum(len(step) for step in steps) == len(rows)
    zones = dict(Advertiser.objects.values_list("pk", "time_zone"))
    late, after_close = 0, 0
    for n, step in enumerate(steps[1:], start=1):
        previous_rollup = cuts[n - 1] + timedelta(minutes=5)
        for row in step:
            if datetime.fromisoformat(row[0]) < previous_rollup:
                late += 1
                day = local(row[0], zones[int(row[9])]).date()
                after_close += services.utc_bounds(zones[int(row[9])], day, day)[1] <= previous_rollup
    assert late >= 300  # hundreds of events arrive after their hour was rolled up ...
    assert after_close >= 100  # ... many of them after their advertiser's day had closed
    # when after each step the events are stored, rolled up, days closed and spend posted
    for cut, step in zip(cuts, steps, strict=True):
        delivery_services.store_rows(step)
        with clock.frozen(cut + timedelta(minutes=5)):
            assert services.rollup() > 0
            services.close_days()
            delivery_services.post_spend()
    # then the hourly rows are exactly the events' own count, and the coarser grains are their sums
    expected = expected_hourly(rows)
    assert rolled_up(HourlyRow) == expected
    assert_grains_agree()
    # and per advertiser, the report's totals == the raw event store == the ledger's spend, to the micro
    for advertiser in Advertiser.objects.order_by("pk"):
        days = sorted({key[4] for key in expected if key[0] == advertiser.pk})
        start, end = days[0], days[-1]
        totals = report(advertiser, start, end).totals
        raw = store_counts(advertiser, start, end)
        assert {name: totals[name] for name in raw} == raw
        assert totals["spend"] == ledger_spend(advertiser.pk) > 0
        mine = [values for key, values in expected.items() if key[0] == advertiser.pk]
        assert totals["conversion_value"] == sum(values[4] for values in mine) > 0
        # and per ad group and day, the report's spend == delivery's spend days (posted to the ledger per local day)
        by_day = report(advertiser, start, end, level="ad_group", dimensions="date").rows
        spend_days = SpendDay.objects.filter(advertiser_id=advertiser.pk, cost_micros__gt=0)
        assert {(row["ad_group_id"], row["date"]): row["spend"] for row in by_day if row["spend"]} == {
            (day.ad_group_id, day.day.isoformat()): day.cost_micros for day in spend_days
        }
        assert len(days) >= 2
    # and the traffic had every kind of event in it
    kinds = Counter((row[2], row[3]) for row in rows)
    assert {("impression", "unbilled"), ("impression", "invalid"), ("click", "invalid"), ("conversion", "valid")} <= set(kinds)
    # and rolling up again changes nothing
    before = snapshot()
    with clock.frozen(cuts[-1] + timedelta(hours=1)):
        assert services.rollup() == 0
    assert snapshot() == before


def test_a_reroll_of_any_window_gives_the_incremental_rows_and_never_counts_beyond_the_watermark():
    # given generated traffic rolled up in four steps, with late events
    rng = Random(7)
    targets = marketplace()
    rows = generate(rng, targets, requests=1200, since=START, hours=40)
    cuts = [START + timedelta(hours=h) for h in (10, 20, 30, 40 + 60)]
    for step in arrivals(rng, rows, cuts, late_share=0.1):
        delivery_services.store_rows(step)
        services.rollup()
    incremental = snapshot()
    assert rolled_up(HourlyRow) == expected_hourly(rows)
    # and some more events stored after the last rollup (beyond the watermark)
    pending = generate(Random(8), targets, requests=100, since=START, hours=40)
    delivery_services.store_rows(pending)
    # when any window of any advertiser is rolled up again from scratch: each day, two days, the whole range and beyond
    for advertiser in Advertiser.objects.order_by("pk"):
        days = sorted({key[4] for key in incremental[2] if key[0] == advertiser.pk})
        windows = [(day, day) for day in days] + [(days[0], days[1]), (days[1], days[-1])]
        windows.append((days[0] - timedelta(days=3), days[-1] + timedelta(days=3)))
        for start, end in windows:
            rows_of_window = services.reroll(advertiser, start, end)
            # then every row is what the incremental rollups gave (the unrolled events stay uncounted)
            assert rows_of_window == sum(1 for key in incremental[2] if key[0] == advertiser.pk and start <= key[4] <= end)
            assert snapshot() == incremental
    # and the next rollup counts the pending events once: the rows are again exactly the count of all events
    assert services.rollup() > 0
    assert rolled_up(HourlyRow) == expected_hourly(rows + pending)
    assert_grains_agree()


def test_a_conversion_in_another_currency_is_converted_as_money_converts_it():
    # given a euro advertiser and conversions reported in dollars and yen, values whose conversion is not a whole micro
    advertiser = AdvertiserFactory(currency="EUR", time_zone="Europe/Berlin")
    ad = AdFactory(ad_group=AdGroupFactory(campaign=CampaignFactory(advertiser=advertiser)))
    t = Target(ad.pk, ad.ad_group_id, ad.ad_group.campaign_id, advertiser.pk, "impression")
    at = datetime(2026, 3, 10, 12, tzinfo=UTC)
    values = [("USD", 12_345_679), ("JPY", 1_000_000_001), ("EUR", 7), ("", 5)]
    delivery_services.store_rows([event(t, "conversion", at, value=value, currency=cur) for cur, value in values])
    # when it is rolled up
    services.rollup()
    # then each value is converted exactly as adplatform.money.convert converts money (rounded down to the micro)
    rates = dict(Currency.objects.values_list("code", "units_per_usd"))
    euro = [money.convert(value, from_units_per_usd=rates[cur], to_units_per_usd=rates["EUR"]) for cur, value in values[:2]]
    assert euro == [11_358_024, 6_133_333]
    assert DailyAdRow.objects.get().conversion_value_micros == sum(euro) + 7 + 5


# --- a property: any arrival order, any rollup schedule ------------------------------------------------


def test_any_arrival_order_and_rollup_schedule_counts_every_event_once():
    # given two ads of advertisers on opposite sides of the date line
    targets = []
    for currency, time_zone in (("NZD", "Pacific/Auckland"), ("USD", "America/Los_Angeles")):
        advertiser = AdvertiserFactory(currency=currency, time_zone=time_zone)
        ad = AdFactory(ad_group=AdGroupFactory(campaign=CampaignFactory(advertiser=advertiser)))
        targets.append(Target(ad.pk, ad.ad_group_id, ad.ad_group.campaign_id, advertiser.pk, "impression"))
    since = datetime(2026, 4, 4, 0, tzinfo=UTC)  # across Auckland's change back to standard time
    events = st.lists(
        st.tuples(
            st.integers(0, 1),
            st.sampled_from(["serve", "impression", "click", "conversion"]),
            st.sampled_from(["valid", "valid", "unbilled", "invalid"]),
            st.integers(0, 3 * 86_400 - 1),
            st.sampled_from(PLACEMENTS[:2]),
            st.sampled_from(COUNTRIES[:2]),
            st.integers(0, 5_000),
        ),
        min_size=1,
        max_size=40,
    )

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(events=events, order=st.randoms(use_true_random=False), cuts=st.lists(st.integers(0, 40), max_size=4))
    def check(events: list[tuple], order: Random, cuts: list[int]) -> None:
        rows = []
        for which, kind, status, second, placement, country, amount in events:
            charged = amount if status == "valid" and kind in ("impression", "click") else 0
            value = amount if kind == "conversion" else 0
            rows.append(
                event(
                    targets[which], kind, since + timedelta(seconds=second), status=status, placement=placement,
                    country=country, cost=charged, value=value, currency="USD" if value else "",
                )
            )  # fmt: skip
        order.shuffle(rows)
        bounds = sorted({0, *(min(cut, len(rows)) for cut in cuts), len(rows)})
        with transaction.atomic():
            for low, high in itertools.pairwise(bounds):
                delivery_services.store_rows(rows[low:high])
                services.rollup()
            expected = expected_hourly(rows)
            assert rolled_up(HourlyRow) == expected
            assert_grains_agree()
            incremental = snapshot()
            for advertiser in Advertiser.objects.filter(pk__in=[t.advertiser for t in targets]):
                services.reroll(advertiser, date(2026, 4, 3), date(2026, 4, 8))
            assert snapshot() == incremental
            transaction.set_rollback(True)

    check()


# --- traffic through the real decision, tracking and consumer path ---------------------------------------


def decide_and_show(snapshot: Any, requests: list[dict[str, Any]], *, moment: datetime, seed: int) -> list[links.Served]:
    """Ask for ads as the decision endpoint does; the facts of every served ad, from its verified impression link."""
    client, rng, served = get_redis(), Random(seed), []
    for body in requests:
        request = decision.parse_request(body)
        result = decision.decide(snapshot, LiveState(), request, client, moment=moment, rng=rng)
        rendered = decision.render(result, request, client, base_url="http://testserver", moment=moment)
        for ad in rendered["ads"]:
            link = parse_qs(urlsplit(ad["impression_url"]).query)
            served.append(links.verify(link["d"][0], link["s"][0], "i", now=moment.timestamp()))
    return served


@pytest.mark.django_db(transaction=True)
def test_real_traffic_rolled_up_while_the_consumer_lags_equals_the_store_and_the_ledger():
    # given two funded advertisers (dollars in Los Angeles, euros in Berlin) with CPM and CPC campaigns on two placements,
    # budgets small enough that some impressions go unbilled
    staff = UserFactory(email="finance@adplatform.test", is_staff=True)
    PlacementFactory(key="feed", name="In-feed", floor_cpm_usd_micros=1_000_000)
    moment = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)  # 23:30 the evening before in Los Angeles, 07:30 in Berlin
    with clock.frozen(moment):
        la = open_shop(name="Diner", time_zone="America/Los_Angeles", funds=500 * UNIT, staff=staff)
        la_cpc = open_shop(name="Diner", advertiser=la.advertiser, strategy="cpc", bid=300_000)
        berlin = open_shop(
            name="Bakery", currency="EUR", time_zone="Europe/Berlin", funds=500 * UNIT, staff=staff, ad_group_budget=100_000
        )
        snapshot = snapshot_now()
    client = get_redis()
    # when over six half-hour rounds people are served and shown ads, click, convert, some replay links,
    # and the consumer stores only part of each round before the rollup runs
    for round_no in range(6):
        at = moment + timedelta(minutes=30 * round_no)
        with clock.frozen(at):
            requests = [
                {
                    "placement": "feed",
                    "user_id": f"r{round_no}-u{n}",
                    "country": COUNTRIES[n % 4],
                    "device": DEVICES[n % 3],
                    "count": 3,
                }
                for n in range(30)
            ]
            served = decide_and_show(snapshot, requests, moment=at, seed=round_no)
            track(snapshot, served, "i", moment=at + timedelta(seconds=2))
            track(snapshot, served[:4], "i", moment=at + timedelta(seconds=3))  # replays: invalid duplicates
            clicked = served[::4]
            track(snapshot, clicked, "c", moment=at + timedelta(seconds=20))
            for n, one in enumerate(clicked[:3]):
                click = tracking.remember_click(client, one, moment=at + timedelta(seconds=20))
                conversion = tracking.Conversion(click, f"order-{round_no}-{n}", "purchase", 12_340_000 + n, "USD")
                tracking.record_conversion(client, one.advertiser_id, conversion, moment=at + timedelta(minutes=5))
            delivery_services.consume_events(batch=150, max_batches=1)  # the consumer lags behind
            services.rollup()
            delivery_services.post_spend()
    with clock.frozen(moment + timedelta(hours=4)):
        delivery_services.consume_events()
        services.rollup()
        delivery_services.post_spend()
    # then the rollups hold exactly the stored events, the grains agree, and per advertiser report == store == ledger
    stored = [
        [value.isoformat() if isinstance(value, datetime) else NULL if value is None else str(value) for value in row]
        for row in Event.objects.values_list(*delivery_services.COLUMNS)
    ]
    assert rolled_up(HourlyRow) == expected_hourly(stored)
    assert_grains_agree()
    statuses = Counter(Event.objects.values_list("kind", "status"))
    assert statuses[("impression", "unbilled")] > 0
    assert statuses[("impression", "invalid")] == 24
    assert statuses[("conversion", "valid")] == 18
    for shop in (la, berlin):
        advertiser = shop.advertiser
        days = DailyAdRow.objects.filter(advertiser_id=advertiser.pk).values_list("local_date", flat=True)
        start, end = min(days), max(days)
        totals = report(advertiser, start, end).totals
        raw = store_counts(advertiser, start, end)
        assert {name: totals[name] for name in raw} == raw
        assert totals["spend"] == ledger_spend(advertiser.pk) > 0
    # and the Los Angeles advertiser's traffic straddles its midnight: two local days
    la_days = sorted(set(DailyAdRow.objects.filter(advertiser_id=la.advertiser.pk).values_list("local_date", flat=True)))
    assert la_days == [date(2026, 3, 9), date(2026, 3, 10)]
    assert DailyAdRow.objects.filter(ad_id=la_cpc.ad.pk, clicks__gt=0).exists()
