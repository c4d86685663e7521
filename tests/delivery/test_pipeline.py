"""The event pipeline and the index against the real PostgreSQL and Redis.

The stream into the event store (exactly once, also when the consumer dies mid-batch), charged cost
into the ledger (ledger spend == event-store cost), Redis rebuilt from PostgreSQL after a flush,
the balance guard following the ledger, daily partitions, and the serveable-ad index.

Traffic goes the way the endpoints send it: decide and render (serve events), verify the signed
links, record impressions and clicks through the charge script.
"""

import hashlib
import multiprocessing
import os
import signal
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from random import Random
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Sum

from accounts.models import Advertiser, Role
from adplatform import clock
from adplatform.redis_client import get_redis
from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.models import Kind, Transaction
from campaigns.models import Ad, AdGroup, Interest
from delivery import charging, decision, index, links, services, tracking
from delivery.charging import Charger, Outcome
from delivery.index import LiveState
from delivery.models import AdPerformance, ConversionPixel, Event, PlacementPerformance, PostingWatermark, SpendDay
from delivery.types import Snapshot
from tests.factories import (
    AdFactory,
    AdGroupFactory,
    AdvertiserFactory,
    CampaignFactory,
    MembershipFactory,
    PlacementFactory,
    UserFactory,
)

UNIT = 1_000_000
MOMENT = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # Tuesday: 16:00 in Berlin, 11:00 in New York
FEED_FLOOR = 1_000_000  # 1.00 USD per mille: 1,000 US dollar micros per impression


@pytest.fixture(autouse=True)
def _frozen_clock():
    with clock.frozen(MOMENT):
        yield


def _truncate_event_store() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE delivery_event")


@pytest.fixture
def event_store(transactional_db):
    """Flushing after a transactional test skips unmanaged tables: empty the event store around each test."""
    _truncate_event_store()
    yield
    _truncate_event_store()


@pytest.fixture
def staff(db):
    return UserFactory(email="finance@adplatform.test", is_staff=True)


@pytest.fixture
def feed(db):
    return PlacementFactory(key="feed", name="In-feed", floor_cpm_usd_micros=FEED_FLOOR)


@dataclass
class Shop:
    advertiser: Advertiser
    campaign: object
    ad_group: object
    ad: Ad


def open_shop(
    *,
    name: str,
    currency: str = "USD",
    time_zone: str = "America/New_York",
    funds: int = 0,
    staff=None,
    strategy: str = "cpm",
    bid: int = 3 * UNIT,
    ad_group_budget: int = 20 * UNIT,
    campaign_mode: str = "daily",
    campaign_budget: int = 50 * UNIT,
    advertiser: Advertiser | None = None,
) -> Shop:
    """An advertiser (or a new campaign of it) with one ad group and one approved ad on the feed, funded by staff."""
    if advertiser is None:
        advertiser = AdvertiserFactory(name=name, currency=currency, time_zone=time_zone)
    if funds:
        billing_services.adjustment_post(staff=staff, advertiser=advertiser, amount_micros=funds, reason="Test funds")
    campaign = CampaignFactory(advertiser=advertiser, budget_mode=campaign_mode, budget_micros=campaign_budget)
    ad_group = AdGroupFactory(
        campaign=campaign,
        bid_strategy=strategy,
        bid_micros=bid,
        budget_micros=ad_group_budget,
        start_time=MOMENT - timedelta(days=30),
    )
    return Shop(advertiser, campaign, ad_group, AdFactory(ad_group=ad_group, display_name=name[:40]))


def snapshot_now() -> Snapshot:
    """Compile and publish the index, and read it back as the web processes do."""
    version, _ = index.compile_snapshot()
    snapshot = index.load(version)
    assert snapshot is not None
    return snapshot


def serve(
    snapshot: Snapshot, users: list[str], *, moment: datetime = MOMENT, count: int = 1, seed: int = 0
) -> list[links.Served]:
    """Ask for ads for each user; the facts of every served ad, read back from its verified impression link."""
    client, rng, served = get_redis(), Random(seed), []
    for user in users:
        request = decision.parse_request({"placement": "feed", "user_id": user, "count": count})
        result = decision.decide(snapshot, LiveState(), request, client, moment=moment, rng=rng)
        body = decision.render(result, request, client, base_url="http://testserver", moment=moment)
        for ad in body["ads"]:
            query = parse_qs(urlsplit(ad["impression_url"]).query)
            served.append(links.verify(query["d"][0], query["s"][0], "i", now=moment.timestamp()))
    return served


def track(
    snapshot: Snapshot, served: list[links.Served], kind: str, *, moment: datetime = MOMENT
) -> list[tuple[links.Served, Outcome]]:
    """Record the impressions ("i") or clicks ("c") of served ads as the tracking endpoints do."""
    charger = Charger(get_redis())
    return [(s, tracking.record(charger, kind, s, tracking.context_for(snapshot, s), moment=moment)) for s in served]


def charged_per_campaign(outcomes: list[tuple[links.Served, Outcome]]) -> dict[tuple[int, int], int]:
    totals: dict[tuple[int, int], int] = defaultdict(int)
    for served, outcome in outcomes:
        if outcome.cost_micros:
            totals[(served.advertiser_id, served.campaign_id)] += outcome.cost_micros
    return dict(totals)


def store_cost_per_campaign() -> dict[tuple[int, int], int]:
    rows = Event.objects.filter(cost_micros__gt=0).values("advertiser_id", "campaign_id").annotate(cost=Sum("cost_micros"))
    return {(row["advertiser_id"], row["campaign_id"]): row["cost"] for row in rows}


def ledger_spend_per_campaign() -> dict[tuple[int, int], int]:
    rows = Transaction.objects.filter(kind=Kind.SPEND).values("advertiser_id", "campaign_id").annotate(total=Sum("amount_micros"))
    return {(row["advertiser_id"], row["campaign_id"]): -row["total"] for row in rows}


def stored_keys() -> Counter:
    """Every row of the event store by its primary key (a count above 1 is impossible; the table enforces it)."""
    return Counter(Event.objects.values_list("occurred_at", "event_id", "kind", "status"))


def stream_entries() -> list[tuple[bytes, dict[bytes, bytes]]]:
    return get_redis().xrange(charging.STREAM)


def pending() -> int:
    return get_redis().xpending(charging.STREAM, services.GROUP)["pending"]


def counters(shop: Shop, day: str) -> dict[str, int]:
    a, ag, c = shop.advertiser.pk, shop.ad_group.pk, shop.campaign.pk
    keys = {
        "ag_day": charging.ad_group_day_key(a, ag, day),
        "ag_life": charging.ad_group_life_key(a, ag),
        "c_day": charging.campaign_day_key(a, c, day),
        "c_life": charging.campaign_life_key(a, c),
        "charged": charging.charged_key(a),
        "allowance": charging.allowance_key(a),
    }
    values = get_redis().mget(list(keys.values()))
    return {name: None if value is None else int(value) for name, value in zip(keys, values, strict=True)}


def allowance(advertiser: Advertiser) -> int | None:
    value = get_redis().get(charging.allowance_key(advertiser.pk))
    return None if value is None else int(value)


# --- the stream into the event store -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_consume_stores_each_stream_entry_once_and_acknowledges_it(event_store, feed, staff):
    # given five ads served, their impressions recorded, and one impression replayed (an invalid duplicate)
    shop = open_shop(name="Bakery", funds=100 * UNIT, staff=staff)
    snapshot = snapshot_now()
    served = serve(snapshot, [f"user-{n}" for n in range(5)])
    track(snapshot, served, "i")
    track(snapshot, served[:1], "i", moment=MOMENT + timedelta(seconds=1))
    # and a forged link and a conversion nobody clicked for (events without some ids)
    forged = links.sign(replace(served[1], price_micros=1), "c").split("&")[0].removeprefix("d=")
    tracking.record_bad_link(get_redis(), "c", forged, "bad_signature", moment=MOMENT + timedelta(seconds=2))
    unclicked = tracking.Conversion(f"{shop.advertiser.pk}.unknown", "order-9", "purchase", 5 * UNIT, "USD")
    tracking.record_conversion(get_redis(), shop.advertiser.pk, unclicked, moment=MOMENT + timedelta(seconds=3))
    entries = stream_entries()
    assert len(entries) == 13
    # when the consumer runs, twice
    first, second = services.consume_events(), services.consume_events()
    # then every entry is stored once, acknowledged and trimmed from the stream; the second run finds nothing
    assert (first, second) == (13, 0)
    assert Event.objects.count() == 13
    assert (get_redis().xlen(charging.STREAM), pending()) == (0, 0)
    assert Counter(Event.objects.values_list("kind", "status", "reason")) == Counter(
        {
            ("serve", "valid", ""): 5,
            ("impression", "valid", ""): 5,
            ("impression", "invalid", "duplicate"): 1,
            ("click", "invalid", "bad_signature"): 1,
            ("conversion", "invalid", "unattributed"): 1,
        }
    )
    conversion = Event.objects.get(kind="conversion")
    assert (conversion.request_id, conversion.ad_id, conversion.value_micros, conversion.currency, conversion.cost_micros) == (
        None,
        None,
        5 * UNIT,
        "USD",
        0,
    )
    # and a stored impression says exactly what happened, under the pseudonymous user key
    row = Event.objects.get(kind="impression", status="valid", request_id=served[0].request_id)
    assert (row.occurred_at, row.ad_id, row.ad_group_id, row.campaign_id, row.advertiser_id) == (
        MOMENT,
        shop.ad.pk,
        shop.ad_group.pk,
        shop.campaign.pk,
        shop.advertiser.pk,
    )
    assert (row.placement, row.billed_on, row.price_micros, row.cost_micros, row.user_key) == (
        "feed",
        "impression",
        1_000,
        1_000,
        links.user_key("user-0"),
    )


@pytest.mark.django_db(transaction=True)
def test_replaying_the_same_stream_entries_stores_nothing_twice(event_store, feed, staff):
    # given traffic already stored
    open_shop(name="Bakery", funds=100 * UNIT, staff=staff)
    snapshot = snapshot_now()
    track(snapshot, serve(snapshot, [f"user-{n}" for n in range(4)]), "i")
    entries = stream_entries()
    services.consume_events()
    before = stored_keys()
    # when the very same entries arrive in the stream again (a redelivery) and are consumed
    for _, fields in entries:
        get_redis().xadd(charging.STREAM, fields)
    again = services.consume_events()
    # then nothing new is stored and the stream is empty again
    assert again == 0
    assert stored_keys() == before
    assert sum(before.values()) == 8
    assert (get_redis().xlen(charging.STREAM), pending()) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_a_consumer_that_read_and_died_before_storing_is_resumed_on_restart(event_store, feed, staff):
    # given 30 entries in the stream, 12 of them read by the consumer that then died (read, never acknowledged)
    open_shop(name="Bakery", funds=100 * UNIT, staff=staff)
    snapshot = snapshot_now()
    track(snapshot, serve(snapshot, [f"user-{n}" for n in range(15)]), "i")
    client = get_redis()
    services._ensure_group(client)
    read = client.xreadgroup(services.GROUP, services.CONSUMER, {charging.STREAM: ">"}, count=12)
    assert len(read[0][1]) == 12
    assert pending() == 12
    # when the consumer restarts with small batches
    stored = services.consume_events(batch=5)
    # then its 12 unacknowledged entries and the 18 unread ones are each stored exactly once, and all acknowledged
    assert stored == 30
    assert sum(stored_keys().values()) == len(stored_keys()) == 30
    assert (client.xlen(charging.STREAM), pending()) == (0, 0)


BAD_ENTRIES = {
    "a request id that is not a UUID": {"r": "not-a-uuid"},
    "an ad id that is not a number": {"a": "12; DROP TABLE"},
    "an advertiser id that is too big": {"v": "9" * 30},
    "an unknown kind": {"k": "purchase"},
    "an unknown status": {"status": "maybe"},
    "no time": {"t": "yesterday"},
    "a time beyond any calendar": {"t": "1e300"},
    "an amount that is not a number": {"cost": "lots"},
}


@pytest.mark.parametrize("damage", BAD_ENTRIES.values(), ids=BAD_ENTRIES.keys())
@pytest.mark.django_db(transaction=True)
def test_a_malformed_stream_entry_is_dead_lettered_and_the_rest_flows(event_store, feed, staff, damage):
    # given a served ad, a forged stream entry in front of its events, and a NUL byte in one of them
    shop = open_shop(name="Bakery", funds=100 * UNIT, staff=staff)
    snapshot = snapshot_now()
    served = serve(snapshot, ["user-1", "user-2"])
    client = get_redis()
    good = client.xrange(charging.STREAM)[0][1]
    client.xadd(charging.STREAM, {**{key.decode(): value for key, value in good.items()}, **damage})
    client.xadd(charging.STREAM, {**{key.decode(): value for key, value in good.items()}, "p": "fe\x00ed", "r": str(uuid4())})
    track(snapshot, served, "i")
    # when the consumer runs
    services.consume_events(batch=3)
    # then the forged entry waits in the dead-letter stream with why, and everything else is stored and posted
    dead = client.xrange(services.DEAD_LETTERS)
    assert len(dead) == 1
    assert dead[0][1][b"dead_why"]
    assert (client.xlen(charging.STREAM), pending()) == (0, 0)
    assert Counter(Event.objects.values_list("kind", flat=True)) == {"serve": 3, "impression": 2}
    assert Event.objects.filter(placement="feed").count() == 5
    services.post_spend()
    assert ledger_spend_per_campaign() == store_cost_per_campaign() == {(shop.advertiser.pk, shop.campaign.pk): 2_000}


class SimulatedCrashError(Exception):
    """A process dying at a chosen point."""


@pytest.mark.django_db(transaction=True)
def test_a_consumer_killed_after_commit_before_acknowledging_duplicates_nothing(event_store, feed, staff, monkeypatch):
    # given 25 entries, and a consumer that dies right after its first batch of 10 commits, before it acknowledges
    open_shop(name="Bakery", funds=100 * UNIT, staff=staff)
    snapshot = snapshot_now()
    served = serve(snapshot, [f"user-{n}" for n in range(12)])
    track(snapshot, served, "i")
    track(snapshot, served[:1], "c")
    assert len(stream_entries()) == 25
    real_store_rows = services.store_rows

    def store_then_die_after_commit(rows):
        stored = real_store_rows(rows)
        monkeypatch.setattr(services, "store_rows", real_store_rows)

        def die() -> None:
            raise SimulatedCrashError()

        transaction.on_commit(die)  # runs after COMMIT, before the acknowledgement
        return stored

    monkeypatch.setattr(services, "store_rows", store_then_die_after_commit)
    with pytest.raises(SimulatedCrashError):
        services.consume_events(batch=10)
    assert Event.objects.count() == 10
    assert pending() == 10
    # when the consumer restarts
    stored = services.consume_events(batch=10)
    # then the 10 committed entries are read again and skipped, the other 15 stored: 25 rows, each once, all acknowledged
    assert stored == 15
    assert sum(stored_keys().values()) == len(stored_keys()) == 25
    assert (get_redis().xlen(charging.STREAM), pending()) == (0, 0)
    assert Event.objects.filter(kind="click").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_consumer_killed_between_copy_and_commit_loses_nothing(event_store, feed, staff, monkeypatch):
    # given 24 entries, and a consumer that dies after COPYing its first batch, inside the transaction
    open_shop(name="Bakery", funds=100 * UNIT, staff=staff)
    snapshot = snapshot_now()
    track(snapshot, serve(snapshot, [f"user-{n}" for n in range(12)]), "i")
    real_store_rows = services.store_rows

    def store_then_die(rows):
        real_store_rows(rows)
        monkeypatch.setattr(services, "store_rows", real_store_rows)
        raise SimulatedCrashError()

    monkeypatch.setattr(services, "store_rows", store_then_die)
    with pytest.raises(SimulatedCrashError):
        services.consume_events(batch=10)
    assert Event.objects.count() == 0
    assert pending() == 10
    # when the consumer restarts
    stored = services.consume_events(batch=10)
    # then everything is stored exactly once and acknowledged
    assert stored == 24
    assert sum(stored_keys().values()) == len(stored_keys()) == 24
    assert (get_redis().xlen(charging.STREAM), pending()) == (0, 0)


def _consume_and_get_killed(batch: int) -> None:
    """In a forked process: consume with a fresh database connection, and be SIGKILLed right after the first COPY."""
    connection.connection = None  # the parent's socket stays the parent's: open our own
    real_store_rows = services.store_rows

    def store_then_sigkill(rows):
        real_store_rows(rows)
        os.kill(os.getpid(), signal.SIGKILL)

    services.store_rows = store_then_sigkill
    services.consume_events(batch=batch)


@pytest.mark.django_db(transaction=True)
def test_a_consumer_process_killed_mid_batch_and_restarted_loses_and_duplicates_nothing(event_store, feed, staff):
    # given 20 entries in the stream
    open_shop(name="Bakery", funds=100 * UNIT, staff=staff)
    snapshot = snapshot_now()
    track(snapshot, serve(snapshot, [f"user-{n}" for n in range(10)]), "i")
    # when a consumer process is killed with SIGKILL in the middle of its first batch
    worker = multiprocessing.get_context("fork").Process(target=_consume_and_get_killed, args=(8,))
    worker.start()
    worker.join(timeout=60)
    assert worker.exitcode == -signal.SIGKILL
    # then nothing of that batch was stored, its entries wait unacknowledged, and its lock keeps others out until it times out
    assert Event.objects.count() == 0
    assert pending() == 8
    assert services.consume_events() == 0
    assert 0 < get_redis().ttl(services.CONSUMER_LOCK) <= 300
    # and once the dead consumer's lock has timed out, a restarted consumer stores everything exactly once
    get_redis().delete(services.CONSUMER_LOCK)
    assert services.consume_events(batch=8) == 20
    assert sum(stored_keys().values()) == len(stored_keys()) == 20
    assert (get_redis().xlen(charging.STREAM), pending()) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_a_consumer_batch_that_outlives_its_lock_keeps_what_it_stored_and_leaves_the_rest(
    event_store, feed, staff, monkeypatch, caplog
):
    # given 20 entries in the stream
    open_shop(name="Bakery", funds=100 * UNIT, staff=staff)
    snapshot = snapshot_now()
    track(snapshot, serve(snapshot, [f"user-{n}" for n in range(10)]), "i")
    real_store_rows = services.store_rows

    def slow_store_rows(rows):  # the database was slow: the lock's minute ran out during this batch
        get_redis().delete(services.CONSUMER_LOCK)
        return real_store_rows(rows)

    monkeypatch.setattr(services, "store_rows", slow_store_rows)
    # when a consumer reads them in batches of 8 and its lock runs out during the first
    stored = services.consume_events(batch=8)
    # then that batch stands, it stops there (another consumer may hold the lock now) and says so, instead of failing
    assert stored == 8
    assert sum(stored_keys().values()) == len(stored_keys()) == 8
    assert get_redis().xlen(charging.STREAM) == 12
    assert "timed out during the run" in caplog.text
    # and the next run stores the rest, exactly once
    monkeypatch.undo()
    assert services.consume_events(batch=8) == 12
    assert sum(stored_keys().values()) == len(stored_keys()) == 20
    assert (get_redis().xlen(charging.STREAM), pending()) == (0, 0)


# --- charged cost into the ledger ----------------------------------------------------------------


def traffic(snapshot: Snapshot, round_no: int, *, users: int = 12) -> list[tuple[links.Served, Outcome]]:
    """One round: three ads per request, impressions of all, clicks on every third, two replays, one conversion."""
    moment = MOMENT + timedelta(minutes=round_no)
    served = serve(snapshot, [f"r{round_no}-user-{n}" for n in range(users)], moment=moment, count=3, seed=round_no)
    outcomes = track(snapshot, served, "i", moment=moment)
    clicked = served[::3]
    outcomes += track(snapshot, clicked, "c", moment=moment + timedelta(seconds=5))
    outcomes += track(snapshot, served[:2], "i", moment=moment + timedelta(seconds=9))
    client = get_redis()
    click_id = tracking.remember_click(client, clicked[0], moment=moment)
    conversion = tracking.Conversion(click_id, f"order-{round_no}", "purchase", 12 * UNIT, "USD")
    tracking.record_conversion(client, clicked[0].advertiser_id, conversion, moment=moment + timedelta(seconds=30))
    return outcomes


@pytest.fixture
def market(event_store, feed, staff):
    """Three advertisers on the feed: one in dollars with a CPM and a CPC campaign, a CPM bidder in euros, a CPC bidder."""
    usd = open_shop(name="Dollar Diner", funds=500 * UNIT, staff=staff, bid=3 * UNIT)
    usd_second = open_shop(name="Dollar Diner", advertiser=usd.advertiser, strategy="cpc", bid=350_000)
    eur = open_shop(name="Euro Bakery", currency="EUR", time_zone="Europe/Berlin", funds=500 * UNIT, staff=staff, bid=2_300_000)
    cpc = open_shop(name="Click Shop", funds=500 * UNIT, staff=staff, strategy="cpc", bid=400_000)
    return usd, usd_second, eur, cpc


def stored_performance() -> dict[int, list[int]]:
    """Valid impressions, clicks and conversions per ad, counted in the event store."""
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    slots = {"impression": 0, "click": 1, "conversion": 2}
    for ad_id, kind in Event.objects.filter(status="valid").exclude(kind="serve").values_list("ad_id", "kind"):
        counts[ad_id][slots[kind]] += 1
    return dict(counts)


def performance() -> dict[int, list[int]]:
    return {row.ad_id: [row.impressions, row.clicks, row.conversions] for row in AdPerformance.objects.all()}


def assert_ledger_matches_event_store(charged: dict[tuple[int, int], int]) -> None:
    """Ledger spend == event-store cost == what the charge script charged, per advertiser and campaign, to the micro."""
    assert store_cost_per_campaign() == charged
    assert ledger_spend_per_campaign() == charged
    per_day = Event.objects.filter(cost_micros__gt=0).values("ad_group_id").annotate(cost=Sum("cost_micros"))
    assert dict(SpendDay.objects.values_list("ad_group_id").annotate(Sum("cost_micros"))) == {
        row["ad_group_id"]: row["cost"] for row in per_day
    }


@pytest.mark.django_db(transaction=True)
def test_post_spend_posts_exactly_the_event_store_cost_once(market):
    # given one round of traffic stored in the event store
    snapshot = snapshot_now()
    outcomes = traffic(snapshot, 0)
    services.consume_events()
    charged = charged_per_campaign(outcomes)
    assert set(charged) == {(shop.advertiser.pk, shop.campaign.pk) for shop in market}
    # when spend is posted, twice
    first, second = services.post_spend(), services.post_spend()
    # then one ledger row per charged campaign moves exactly the stored cost, and the second run posts nothing
    assert (first, second) == (len(charged), 0)
    assert_ledger_matches_event_store(charged)
    watermark = PostingWatermark.objects.get(name=services.WATERMARK)
    assert watermark.seq == Event.objects.order_by("-seq").values_list("seq", flat=True).first()
    for (advertiser_id, campaign_id), cost in charged.items():
        row = Transaction.objects.get(kind=Kind.SPEND, advertiser_id=advertiser_id, campaign_id=campaign_id)
        assert row.amount_micros == -cost
        assert row.idempotency_key.startswith(f"spend:{advertiser_id}:{campaign_id}:")
    # and the balances went down by it
    for shop in (market[0], market[2], market[3]):
        spent = sum(cost for (advertiser_id, _), cost in charged.items() if advertiser_id == shop.advertiser.pk)
        assert billing_selectors.balance_micros(shop.advertiser) == 500 * UNIT - spent


@pytest.mark.django_db(transaction=True)
def test_a_posting_run_that_outlives_its_lock_still_posts_and_does_not_fail(market, monkeypatch, caplog):
    # given a round of traffic in the event store
    snapshot = snapshot_now()
    charged = charged_per_campaign(traffic(snapshot, 0))
    services.consume_events()
    real_post_rows = services._post_rows

    def slow_post_rows(*args):  # the database was slow: the lock's 300 seconds ran out meanwhile
        get_redis().delete(services.POSTING_LOCK)
        return real_post_rows(*args)

    monkeypatch.setattr(services, "_post_rows", slow_post_rows)
    # when spend is posted
    posted = services.post_spend()
    # then the run's work stands, and it says what happened instead of failing after committing it
    assert posted == len(charged)
    assert_ledger_matches_event_store(charged)
    assert "timed out during the run" in caplog.text
    monkeypatch.undo()
    assert services.post_spend() == 0


@pytest.mark.django_db(transaction=True)
def test_ad_and_placement_performance_count_valid_events_exactly(market):
    # given one round of traffic, consumed and posted
    snapshot = snapshot_now()
    traffic(snapshot, 0)
    services.consume_events()
    services.post_spend()
    # when the performance rows are read
    # then each ad has exactly its valid impressions, clicks and conversions of the event store (duplicates not counted)
    expected = stored_performance()
    assert performance() == expected
    served = Event.objects.filter(kind="serve").count()
    clicks = len(range(0, served, 3))
    assert [sum(counts[slot] for counts in expected.values()) for slot in range(3)] == [served, clicks, 1]
    feed_row = PlacementPerformance.objects.get(placement__key="feed")
    assert (feed_row.impressions, feed_row.clicks) == (served, clicks)


@pytest.mark.django_db(transaction=True)
def test_ledger_spend_equals_event_store_cost_after_several_rounds(market):
    # given rounds of traffic, each consumed and posted (one round consumed twice, posting run twice)
    snapshot = snapshot_now()
    outcomes = []
    for round_no in range(4):
        outcomes += traffic(snapshot, round_no)
        services.consume_events()
        services.post_spend()
        if round_no == 2:
            services.consume_events()
            services.post_spend()
    # then every micro the charge script charged is in the event store once and in the ledger once
    charged = charged_per_campaign(outcomes)
    assert_ledger_matches_event_store(charged)
    assert sum(charged.values()) > 0
    # and the ads' performance counts are exact
    assert performance() == stored_performance()
    # and Redis's charged totals are the same numbers
    advertisers = [shop.advertiser for shop in market]
    for shop in market:
        advertiser_id = shop.advertiser.pk
        total = sum(cost for (advertiser, _), cost in charged.items() if advertiser == advertiser_id)
        assert int(get_redis().get(charging.charged_key(advertiser_id))) == total
    # and the ledger is consistent with its cached balances
    for advertiser in advertisers:
        assert billing_selectors.ledger_sum_micros(advertiser) == billing_selectors.balance_micros(advertiser)


@pytest.mark.django_db(transaction=True)
def test_spend_days_are_the_advertisers_local_days(event_store, feed, staff):
    # given a New York advertiser's impressions at 03:30 UTC (still the 9th in New York) and at 15:00 UTC on the 10th
    shop = open_shop(name="Diner", funds=100 * UNIT, staff=staff)
    snapshot = snapshot_now()
    early = datetime(2026, 3, 10, 3, 30, tzinfo=UTC)
    track(snapshot, serve(snapshot, ["night-owl-1", "night-owl-2"], moment=early), "i", moment=early)
    track(snapshot, serve(snapshot, ["day-1", "day-2", "day-3"]), "i")
    # when consumed and posted
    services.consume_events()
    services.post_spend()
    # then the cost is split by New York's calendar days
    assert dict(SpendDay.objects.filter(ad_group=shop.ad_group).values_list("day", "cost_micros")) == {
        date(2026, 3, 9): 2_000,
        date(2026, 3, 10): 3_000,
    }


# --- Redis flushed mid-day, rebuilt from PostgreSQL ----------------------------------------------


@pytest.fixture
def spent_today(event_store, feed, staff):
    """An ad group with a 10,000 daily budget: 4,000 spent yesterday, today 6,000 posted and 4,000 stored but unposted."""
    shop = open_shop(
        name="Diner", funds=100 * UNIT, staff=staff, ad_group_budget=10_000, campaign_mode="lifetime", campaign_budget=1 * UNIT
    )
    snapshot = snapshot_now()
    yesterday = MOMENT - timedelta(days=1)
    track(snapshot, serve(snapshot, [f"y-{n}" for n in range(4)], moment=yesterday), "i", moment=yesterday)
    services.consume_events()
    services.post_spend()
    track(snapshot, serve(snapshot, [f"a-{n}" for n in range(6)]), "i")
    services.consume_events()
    services.post_spend()
    later = MOMENT + timedelta(hours=2)
    last = track(snapshot, serve(snapshot, [f"b-{n}" for n in range(4)], moment=later), "i", moment=later)
    assert {outcome for _, outcome in last} == {Outcome("valid", 1_000, "")}
    services.consume_events()
    return shop, snapshot


@pytest.mark.django_db(transaction=True)
def test_redis_flushed_mid_day_is_rebuilt_from_postgresql(spent_today):
    # given Redis's counters after a day of charging, with today's 10,000 budget spent
    shop, snapshot = spent_today
    before = counters(shop, "2026-03-10")
    assert before == {
        "ag_day": 10_000,
        "ag_life": 14_000,
        "c_day": 10_000,
        "c_life": 14_000,
        "charged": 14_000,
        "allowance": 100 * UNIT,
    }
    # when Redis loses everything and reconciliation runs, twice
    get_redis().flushdb()
    rebuilt, again = services.reconcile_counters(), services.reconcile_counters()
    # then it rebuilt once, and every counter is back: charged totals, allowance, today's and lifetime budgets
    assert (rebuilt, again) == (True, False)
    assert counters(shop, "2026-03-10") == before
    # and the budget already spent today stays spent: the ad is no longer served, and an impression of it is not billed
    later = MOMENT + timedelta(hours=3)
    assert serve(snapshot, ["c-0"], moment=later) == []
    shown_before = Event.objects.filter(kind="serve").first()
    fresh = serve(snapshot, ["c-1"], moment=MOMENT - timedelta(days=1))  # served yesterday, its impression arrives now
    assert [s.ad_id for s in fresh] == [shown_before.ad_id]
    assert track(snapshot, fresh, "i", moment=later)[0][1] == Outcome("unbilled", 0, "ag_daily_budget")
    assert counters(shop, "2026-03-10") == before


@pytest.mark.django_db(transaction=True)
def test_rebuilt_counters_let_the_unspent_rest_of_the_budget_be_spent_to_the_micro(event_store, feed, staff):
    # given an ad group with a 10,000 daily budget of which 7,000 were charged (5,000 posted, 2,000 not yet)
    shop = open_shop(name="Diner", funds=100 * UNIT, staff=staff, ad_group_budget=10_000)
    snapshot = snapshot_now()
    track(snapshot, serve(snapshot, [f"a-{n}" for n in range(5)]), "i")
    services.consume_events()
    services.post_spend()
    track(snapshot, serve(snapshot, ["b-0", "b-1"]), "i")
    services.consume_events()
    # when Redis is flushed and rebuilt, and eight more impressions come
    get_redis().flushdb()
    services.reconcile_counters()
    outcomes = track(snapshot, serve(snapshot, [f"c-{n}" for n in range(8)]), "i")
    # then exactly three more fit
    assert [outcome.status for _, outcome in outcomes] == ["valid"] * 3 + ["unbilled"] * 5
    assert counters(shop, "2026-03-10")["ag_day"] == 10_000


@pytest.mark.django_db(transaction=True)
def test_the_balance_guard_is_rebuilt_so_unposted_spend_still_counts(event_store, feed, staff):
    # given an advertiser with 10,000 of money, 6,000 charged and stored but not yet posted to the ledger
    shop = open_shop(name="Diner", funds=10_000, staff=staff, ad_group_budget=5 * UNIT)
    snapshot = snapshot_now()
    track(snapshot, serve(snapshot, [f"a-{n}" for n in range(6)]), "i")
    services.consume_events()
    # when Redis is flushed and rebuilt, and six more impressions come
    get_redis().flushdb()
    services.reconcile_counters()
    outcomes = track(snapshot, serve(snapshot, [f"b-{n}" for n in range(6)]), "i")
    # then only the 4,000 left can be charged
    assert [outcome.reason for _, outcome in outcomes] == [""] * 4 + ["no_balance"] * 2
    assert counters(shop, "2026-03-10")["charged"] == counters(shop, "2026-03-10")["allowance"] == 10_000


@pytest.mark.django_db(transaction=True)
def test_a_link_replayed_after_redis_was_flushed_and_rebuilt_is_still_not_charged_twice(event_store, feed, staff):
    # given three impressions charged and stored, with plenty of budget left, a moment before Redis lost everything
    shop = open_shop(name="Diner", funds=100 * UNIT, staff=staff)
    snapshot = snapshot_now()
    served = serve(snapshot, ["u-0", "u-1", "u-2"])
    track(snapshot, served, "i")
    services.consume_events()
    get_redis().flushdb()
    services.reconcile_counters()
    # when one of those impression links is replayed an hour later (links live 24 hours)
    replay = track(snapshot, served[:1], "i", moment=MOMENT + timedelta(hours=1))
    # then it is still a repeat, never charged: the advertiser paid for that impression once
    assert replay[0][1] == Outcome("invalid", 0, "duplicate")
    assert counters(shop, "2026-03-10")["charged"] == 3_000


# --- the balance guard follows the ledger --------------------------------------------------------


@pytest.fixture
def sandbox_payments(settings):
    settings.STRIPE_SECRET_KEY = ""  # the sandbox gateway: no network in tests


@pytest.mark.django_db(transaction=True)
def test_the_allowance_follows_top_ups_adjustments_and_posted_spend(event_store, feed, staff, sandbox_payments):
    # given an advertiser with an admin, and no money yet
    shop = open_shop(name="Diner")
    admin = MembershipFactory(advertiser=shop.advertiser, role=Role.ADMIN).user
    assert allowance(shop.advertiser) == 0
    # when the admin tops up 100.00
    billing_services.top_up(actor=admin, advertiser=shop.advertiser, amount_micros=100 * UNIT, payment_method="pm_card_visa")
    # then the allowance is 100.00
    assert allowance(shop.advertiser) == 100 * UNIT
    # when staff takes 30.00 back
    billing_services.adjustment_post(staff=staff, advertiser=shop.advertiser, amount_micros=-30 * UNIT, reason="Chargeback")
    assert allowance(shop.advertiser) == 70 * UNIT
    # when 5,000 of spend is charged, stored and posted
    snapshot = snapshot_now()
    track(snapshot, serve(snapshot, [f"u-{n}" for n in range(5)]), "i")
    services.consume_events()
    services.post_spend()
    # then the allowance (spendable + posted spend) is unchanged while the balance went down: charged may still grow to it
    assert billing_selectors.balance_micros(shop.advertiser) == 70 * UNIT - 5_000
    assert allowance(shop.advertiser) == 70 * UNIT
    assert int(get_redis().get(charging.charged_key(shop.advertiser.pk))) == 5_000


@pytest.mark.django_db(transaction=True)
def test_the_allowance_follows_credit_limit_changes(event_store, feed, staff):
    # given an advertiser with 20.00 of balance
    shop = open_shop(name="Diner", funds=20 * UNIT, staff=staff)
    advertiser = Advertiser.objects.get(pk=shop.advertiser.pk)
    # when it moves to a credit line of 50.00, and later the limit is lowered to 10.00
    advertiser.billing_mode, advertiser.credit_limit_micros = Advertiser.BillingMode.CREDIT_LINE, 50 * UNIT
    advertiser.save()
    raised = allowance(advertiser)
    advertiser.credit_limit_micros = 10 * UNIT
    advertiser.save()
    # then the allowance follows: balance plus credit limit
    assert (raised, allowance(advertiser)) == (70 * UNIT, 30 * UNIT)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_credit_limit_change_does_not_move_the_allowance(event_store, feed, staff):
    # given an advertiser with 20.00 of balance on prepaid
    shop = open_shop(name="Diner", funds=20 * UNIT, staff=staff)
    advertiser = Advertiser.objects.get(pk=shop.advertiser.pk)

    @transaction.atomic
    def save_credit_line_then_fail() -> None:
        advertiser.billing_mode, advertiser.credit_limit_micros = Advertiser.BillingMode.CREDIT_LINE, 50 * UNIT
        advertiser.save()
        raise SimulatedCrashError()

    # when a credit line of 50.00 is saved inside a transaction that then rolls back
    with pytest.raises(SimulatedCrashError):
        save_credit_line_then_fail()
    # then the balance guard still allows only the 20.00 that the committed data allows
    assert Advertiser.objects.get(pk=advertiser.pk).credit_limit_micros == 0
    assert allowance(advertiser) == 20 * UNIT


@pytest.mark.django_db(transaction=True)
def test_an_allowance_refresh_overlapping_a_spend_posting_still_sees_one_moment(event_store, feed, staff):
    # given 5,000 charged and stored but not yet posted, out of 100.00
    shop = open_shop(name="Diner", funds=100 * UNIT, staff=staff)
    snapshot = snapshot_now()
    track(snapshot, serve(snapshot, [f"u-{n}" for n in range(5)]), "i")
    services.consume_events()
    # and a spend posting (another worker, its own connection) that commits while the refresh is under way:
    # between the refresh's reads if it makes several, just before its only one otherwise
    posted_meanwhile = []

    def posting_commits_before_a_read(execute, sql, params, many, context):
        if not posted_meanwhile:
            posted_meanwhile.append(True)
            worker = threading.Thread(target=post_spend_in_own_connection)
            worker.start()
            worker.join(timeout=30)
        return execute(sql, params, many, context)

    # when the refresh completes
    with connection.execute_wrapper(posting_commits_before_a_read):
        refreshed = services.refresh_allowance(shop.advertiser)
    # then the allowance is still spendable + posted of one moment: 100.00, not 100.00 plus the spend just posted
    assert posted_meanwhile == [True]
    assert ledger_spend_per_campaign() == {(shop.advertiser.pk, shop.campaign.pk): 5_000}
    assert refreshed == allowance(shop.advertiser) == 100 * UNIT


def post_spend_in_own_connection() -> None:
    try:
        services.post_spend()
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_refresh_allowance_sets_it_and_reopens_an_exhausted_advertiser(event_store, feed, staff):
    # given an advertiser marked as out of money, whose Redis allowance is stale
    shop = open_shop(name="Diner", funds=20 * UNIT, staff=staff)
    client = get_redis()
    client.set(charging.allowance_key(shop.advertiser.pk), 1)
    client.zadd(charging.EXHAUSTED, {f"a:{shop.advertiser.pk}": MOMENT.timestamp() + 3600, "ag:1": MOMENT.timestamp() + 60})
    # when its allowance is refreshed
    result = services.refresh_allowance(shop.advertiser)
    # then the allowance is its spendable money again and only its own exhaustion mark is gone
    assert result == allowance(shop.advertiser) == 20 * UNIT
    assert client.zrange(charging.EXHAUSTED, 0, -1) == [b"ag:1"]


# --- partitions ----------------------------------------------------------------------------------


def partition_of(occurred_at: datetime) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM delivery_event WHERE occurred_at = %s", [occurred_at])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_ensure_partitions_creates_missing_days_and_leaves_days_with_default_rows_alone():
    # given 2031-06-15 as today, and a straggler event of 2031-06-17 already in the default partition
    today = datetime(2031, 6, 15, 9, 0, tzinfo=UTC)
    with clock.frozen(today):
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO delivery_event (occurred_at, event_id, kind, status, advertiser_id) "
                "VALUES (%s, gen_random_uuid(), 'serve', 'valid', 1)",
                [datetime(2031, 6, 17, 8, 0, tzinfo=UTC)],
            )
        # when partitions are ensured (one day back, three ahead), twice
        created, again = services.ensure_partitions(), services.ensure_partitions()
    # then each missing day got its partition except the one holding default rows, and the second run created none
    assert created == ["delivery_event_20310614", "delivery_event_20310615", "delivery_event_20310616", "delivery_event_20310618"]
    assert again == []
    assert partition_of(datetime(2031, 6, 17, 8, 0, tzinfo=UTC)) == "delivery_event_default"
    # and new events land in their day's partition, with the day's edges in the right one
    with connection.cursor() as cursor:
        for moment in (datetime(2031, 6, 15, 0, 0, tzinfo=UTC), datetime(2031, 6, 15, 23, 59, 59, tzinfo=UTC)):
            cursor.execute(
                "INSERT INTO delivery_event (occurred_at, event_id, kind, status, advertiser_id) "
                "VALUES (%s, gen_random_uuid(), 'serve', 'valid', 1)",
                [moment],
            )
    assert partition_of(datetime(2031, 6, 15, 0, 0, tzinfo=UTC)) == "delivery_event_20310615"
    assert partition_of(datetime(2031, 6, 15, 23, 59, 59, tzinfo=UTC)) == "delivery_event_20310615"


# --- the serveable-ad index -----------------------------------------------------------------------


def candidates_by_ad(data: dict) -> dict[int, dict]:
    return {row["ad"]: row for row in data["candidates"]}


@pytest.mark.django_db
def test_the_index_holds_only_what_may_serve(feed):
    # given ads in every state, down the whole chain
    live = AdFactory(ad_group=AdGroupFactory(placements=[feed]))
    not_started = AdFactory(ad_group=AdGroupFactory(placements=[feed], start_time=MOMENT + timedelta(days=1)))
    excluded = {
        "in review": AdFactory(review_status="pending"),
        "rejected": AdFactory(review_status="rejected", review_reason="Blurry."),
        "ad paused": AdFactory(status="paused"),
        "ad archived": AdFactory(status="archived"),
        "ad group paused": AdFactory(ad_group=AdGroupFactory(status="paused")),
        "campaign paused": AdFactory(ad_group__campaign=CampaignFactory(status="paused")),
        "campaign archived": AdFactory(ad_group__campaign=CampaignFactory(status="archived")),
        "account suspended": AdFactory(ad_group__campaign__advertiser=AdvertiserFactory(status="suspended")),
        "ended": AdFactory(ad_group=AdGroupFactory(start_time=MOMENT - timedelta(days=2), end_time=MOMENT)),
        "format the placement cannot show": AdFactory(
            format="text", ad_group=AdGroupFactory(placements=[PlacementFactory(key="stories", allowed_formats=["video"])])
        ),
        "only on an inactive placement": AdFactory(
            ad_group=AdGroupFactory(placements=[PlacementFactory(key="old", is_active=False)])
        ),
    }
    # when the index is built
    data = index.build()
    # then it holds the live ad and the one about to start (schedule is checked per request), nothing else
    assert set(candidates_by_ad(data)) == {live.pk, not_started.pk}
    assert not {ad.pk for ad in excluded.values()} & set(candidates_by_ad(data))
    assert set(data["placements"]) == {"feed", "stories"}


@pytest.mark.django_db
def test_the_index_carries_targeting_schedule_caps_bid_and_currency(feed):
    # given a euro advertiser's CPC ad group with a daily budget, targeting, dayparting and a frequency cap,
    # in a campaign with a lifetime budget
    advertiser = AdvertiserFactory(currency="EUR", time_zone="Europe/Berlin")
    campaign = CampaignFactory(advertiser=advertiser, budget_mode="lifetime", budget_micros=500 * UNIT)
    ad_group = AdGroupFactory(
        campaign=campaign,
        placements=[feed],
        countries=["DE", "AT"],
        age_ranges=["18-24", "55+"],
        genders=["female"],
        languages=["de"],
        device_types=["mobile"],
        operating_systems=["ios"],
        dayparting=[18, 19],
        start_time=MOMENT - timedelta(days=1),
        end_time=MOMENT + timedelta(days=6),
        bid_strategy="cpc",
        bid_micros=400_000,
        budget_mode="lifetime",
        budget_micros=200 * UNIT,
        frequency_cap_impressions=3,
        frequency_cap_days=2,
        pacing="accelerated",
    )
    ad_group.interests.set(Interest.objects.filter(key__in=["gaming", "travel"]))
    ad = AdFactory(ad_group=ad_group, format="video", video_duration_seconds=15)
    # when the index is built, published and read back
    snapshot = snapshot_now()
    (candidate,) = snapshot.candidates["feed"]
    # then the candidate carries everything the decision and the charge need
    assert (candidate.ad_id, candidate.ad_group_id, candidate.campaign_id, candidate.advertiser_id, candidate.format) == (
        ad.pk,
        ad_group.pk,
        campaign.pk,
        advertiser.pk,
        "video",
    )
    assert candidate.targeting.countries == frozenset({"DE", "AT"})
    assert candidate.targeting.age_ranges == ((18, 24), (55, 200))
    assert (candidate.targeting.genders, candidate.targeting.languages) == (frozenset({"female"}), frozenset({"de"}))
    assert candidate.targeting.interests == frozenset({"gaming", "travel"})
    assert (candidate.targeting.device_types, candidate.targeting.operating_systems) == (
        frozenset({"mobile"}),
        frozenset({"ios"}),
    )
    assert (candidate.start_ts, candidate.end_ts) == (
        (MOMENT - timedelta(days=1)).timestamp(),
        (MOMENT + timedelta(days=6)).timestamp(),
    )
    assert (candidate.dayparting, candidate.time_zone) == (frozenset({18, 19}), "Europe/Berlin")
    assert (candidate.bid_strategy, candidate.bid_micros, candidate.units_per_usd) == ("cpc", 400_000, 0.92)
    assert (candidate.ad_group_daily_cap, candidate.ad_group_lifetime_cap) == (0, 200 * UNIT)
    assert (candidate.campaign_daily_cap, candidate.campaign_lifetime_cap) == (0, 500 * UNIT)
    assert (candidate.frequency_impressions, candidate.frequency_days, candidate.pacing) == (3, 2, "accelerated")
    assert candidate.creative == {
        "display_name": ad.display_name,
        "headline": ad.headline,
        "body": ad.body,
        "media_url": ad.media_url,
        "call_to_action": ad.call_to_action,
        "landing_url": ad.landing_url,
    }
    assert snapshot.placements["feed"].floor_cpm_usd_micros == FEED_FLOOR
    assert snapshot.key_hashes[feed.api_key_hash] == "feed"


@pytest.mark.django_db
def test_daily_budgets_become_daily_caps_and_unlimited_none():
    # given an ad group with a daily budget in a campaign without a limit
    ad = AdFactory(
        ad_group__budget_micros=20 * UNIT, ad_group__campaign__budget_mode="unlimited", ad_group__campaign__budget_micros=0
    )
    # when the index is built
    row = candidates_by_ad(index.build())[ad.pk]
    # then only the ad group's daily cap is set
    assert row["caps"] == [20 * UNIT, 0, 0, 0]


@pytest.mark.django_db
def test_the_posteriors_start_at_the_placements_ctr_and_add_the_ads_evidence(feed):
    # given a placement with 300 clicks in 10,000 impressions, a proven ad and a new one
    PlacementPerformance.objects.create(placement=feed, impressions=10_000, clicks=300)
    proven, new = AdFactory(ad_group__placements=[feed]), AdFactory(ad_group__placements=[feed])
    AdPerformance.objects.create(ad=proven, impressions=1_000, clicks=50, conversions=5)
    # when the index is built
    data = index.build()
    rows = candidates_by_ad(data)
    # then the prior is the placement's CTR shrunk toward 1% with the weight of 200 impressions,
    # the new ad has just that prior, and the proven ad adds its clicks and non-clicks (and conversions per click)
    prior = (300 + 0.01 * 200) / (10_000 + 200)
    assert data["placements"]["feed"]["prior_ctr"] == pytest.approx(prior)
    assert rows[new.pk]["ctr"] == pytest.approx([prior * 200, (1 - prior) * 200])
    assert rows[new.pk]["cvr"] == pytest.approx([1.0, 19.0])
    assert rows[proven.pk]["ctr"] == pytest.approx([prior * 200 + 50, (1 - prior) * 200 + 950])
    assert rows[proven.pk]["cvr"] == pytest.approx([1.0 + 5, 19.0 + 45])


@pytest.mark.django_db
def test_a_published_version_is_stable_while_nothing_changes(feed):
    # given a published index
    AdFactory(ad_group__placements=[feed])
    version, changed = index.compile_snapshot()
    get_redis().zadd(charging.EXHAUSTED, {"ag:1": MOMENT.timestamp() + 60})
    # when it is compiled again, also a minute later
    same, changed_again = index.compile_snapshot()
    with clock.frozen(MOMENT + timedelta(minutes=1)):
        later, changed_later = index.compile_snapshot()
    # then the version stays, nothing is republished, and the exhausted marks stay
    assert changed is True
    assert (same, changed_again, later, changed_later) == (version, False, version, False)
    assert get_redis().get(index.VERSION_KEY) == version.encode()
    assert get_redis().zcard(charging.EXHAUSTED) == 1


@pytest.mark.django_db
def test_a_change_publishes_a_new_version_and_clears_the_exhausted_marks(feed):
    # given a published index and an ad group marked exhausted
    ad = AdFactory(ad_group__placements=[feed])
    version, _ = index.compile_snapshot()
    get_redis().zadd(charging.EXHAUSTED, {f"ag:{ad.ad_group_id}": MOMENT.timestamp() + 60})
    # when the ad group's budget is raised and the index compiled
    AdGroup.objects.filter(pk=ad.ad_group_id).update(budget_micros=40 * UNIT)
    new_version, changed = index.compile_snapshot()
    # then a new version is published, the old data stays readable until it expires, and budgets are re-checked
    assert changed is True
    assert new_version != version
    assert get_redis().get(index.VERSION_KEY) == new_version.encode()
    assert get_redis().exists(index.DATA_KEY.format(version)) == 1
    assert get_redis().zcard(charging.EXHAUSTED) == 0
    assert snapshot_now().candidates["feed"][0].ad_group_daily_cap == 40 * UNIT


@pytest.mark.django_db
def test_a_change_that_is_not_a_budget_keeps_the_marks_of_spent_budgets(feed):
    # given a published index, two ad groups and a campaign marked spent, and an advertiser without money
    ad = AdFactory(ad_group__placements=[feed])
    other = AdFactory(ad_group__placements=[feed])
    index.compile_snapshot()
    later = MOMENT.timestamp() + 3_600
    spent = {f"ag:{ad.ad_group_id}": later, f"c:{ad.ad_group.campaign_id}": later, f"ag:{other.ad_group_id}": later}
    get_redis().zadd(charging.EXHAUSTED, {**spent, f"a:{ad.ad_group.campaign.advertiser_id}": later})
    # when an ad's evidence grows (a new posterior) and the other ad group's budget is raised
    AdPerformance.objects.create(ad=ad, impressions=500, clicks=9, conversions=0, updated_at=MOMENT)
    AdGroup.objects.filter(pk=other.ad_group_id).update(budget_micros=other.ad_group.budget_micros + UNIT)
    _, changed = index.compile_snapshot()
    # then only the edited budget's mark and the advertiser's go: the spent ones stay out of auctions
    assert changed is True
    marks = {member.decode() for member in get_redis().zrange(charging.EXHAUSTED, 0, -1)}
    assert marks == {f"ag:{ad.ad_group_id}", f"c:{ad.ad_group.campaign_id}"}


@pytest.mark.django_db
def test_the_index_holder_loads_the_published_snapshot_and_the_live_state(feed):
    # given nothing published yet
    holder = index.IndexHolder()
    assert holder.current()[0] is None
    # when an index, a pacing throttle and an exhausted mark are published, and a fresh holder looks
    ad = AdFactory(ad_group__placements=[feed])
    version, _ = index.compile_snapshot()
    client = get_redis()
    client.hset(index.THROTTLE_KEY, str(ad.ad_group_id), "0.25")
    client.zadd(charging.EXHAUSTED, {f"ag:{ad.ad_group_id}": 4_102_444_800, "ag:999": 1})  # 2100 and 1970
    holder = index.IndexHolder()
    snapshot, live = holder.current()
    # then it decides with that snapshot, that throttle and only the marks still in force
    assert snapshot.version == version
    assert [c.ad_id for c in snapshot.candidates["feed"]] == [ad.pk]
    assert live.throttles == {ad.ad_group_id: 0.25}
    assert live.exhausted == frozenset({f"ag:{ad.ad_group_id}"})


@pytest.mark.django_db
def test_the_index_holder_reads_exhausted_marks_on_the_platform_clock(feed):
    # given the platform clock at 10 March 2026 15:00 UTC, one ad group whose daily budget ran out until Berlin's
    # midnight (the charge script scores the mark with the platform clock) and one whose mark lapsed a second ago
    AdFactory(ad_group__placements=[feed])
    index.compile_snapshot()
    berlin_midnight = datetime(2026, 3, 10, 23, 0, tzinfo=UTC).timestamp()
    get_redis().zadd(charging.EXHAUSTED, {"ag:5": berlin_midnight, "ag:6": MOMENT.timestamp() - 1})
    # when a web process loads its live state, and another one at Berlin's midnight
    _, live = index.IndexHolder().current()
    with clock.frozen(datetime(2026, 3, 10, 23, 0, tzinfo=UTC)):
        _, at_midnight = index.IndexHolder().current()
    # then the mark still in force on the platform clock keeps its ad group out, and only that one,
    # until the moment its day ends: the new day's budget is not spent
    assert live.exhausted == frozenset({"ag:5"})
    assert at_midnight.exhausted == frozenset()


@pytest.mark.django_db
def test_the_index_knows_conversion_pixels_by_key_hash():
    # given an admin who creates a pixel
    advertiser = AdvertiserFactory()
    admin = MembershipFactory(advertiser=advertiser, role=Role.ADMIN).user
    pixel, raw = services.pixel_create(actor=admin, advertiser=advertiser, name="  Checkout  ")
    # when the index is built
    data = index.build()
    # then the raw key is shown once, only its hash is stored, and the index maps the hash to the advertiser
    assert raw.startswith("pix_")
    assert (pixel.name, pixel.key_hash, pixel.key_hint) == ("Checkout", hashlib.sha256(raw.encode()).hexdigest(), raw[-4:])
    assert data["pixels"] == {pixel.key_hash: advertiser.pk}


@pytest.mark.django_db
def test_only_admins_create_pixels_with_a_name():
    # given an analyst and an admin of the advertiser
    advertiser = AdvertiserFactory()
    analyst = MembershipFactory(advertiser=advertiser, role=Role.ANALYST).user
    admin = MembershipFactory(advertiser=advertiser, role=Role.ADMIN).user
    # when the analyst tries, and the admin tries without a name
    # then both are refused and no pixel exists
    with pytest.raises(PermissionDenied):
        services.pixel_create(actor=analyst, advertiser=advertiser, name="Checkout")
    with pytest.raises(ValidationError):
        services.pixel_create(actor=admin, advertiser=advertiser, name="   ")
    assert ConversionPixel.objects.count() == 0
