"""delivery.charging (the Lua charge script) and the tracking shell around it, against the real Redis.

Every charge is checked against every cap at once; a charge that would cross one is refused and
recorded as unbilled; every event lands in the stream exactly once. The concurrency test fires
impressions from 8 OS processes, each with its own connection, at one ad group.
"""

import multiprocessing
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
import redis
from django.conf import settings
from django.db.models import Sum

from adplatform.redis_client import get_redis
from delivery import charging, links, services, tracking
from delivery.charging import EXHAUSTED, STREAM, Caps, Charger, Outcome
from delivery.models import Event
from delivery.tracking import Context

ADVERTISER, CAMPAIGN, AD_GROUP, AD = 7, 70, 700, 7000
DAY = "2026-03-10"
NOW = 1_773_144_000  # Tuesday 10 March 2026, 12:00 UTC
DAY_ENDS = 1_773_183_600  # 23:00 UTC: midnight in Berlin
TEN_YEARS = 86_400 * 3650
NO_CAPS = Caps(0, 0, 0, 0)
PLENTY = 10**12


@pytest.fixture
def client() -> redis.Redis:
    return get_redis()


@pytest.fixture
def charger(client) -> Charger:
    return Charger(client)


def fund(client, amount: int = PLENTY, advertiser_id: int = ADVERTISER) -> None:
    client.set(charging.allowance_key(advertiser_id), amount)


def record(
    charger: Charger,
    request_id: str,
    *,
    kind: str = "i",
    price: int = 1_000,
    caps: Caps = NO_CAPS,
    ad_group_id: int = AD_GROUP,
    campaign_id: int = CAMPAIGN,
    ad_id: int = AD,
    day: str = DAY,
    day_ends_at: int = DAY_ENDS,
    now: int = NOW,
    user_key: str = "user-1",
    frequency_ttl: int = 0,
    invalid_reason: str = "",
    burst_limit: int = 0,
) -> Outcome:
    """Record one event of the advertiser's ad as the tracking endpoints do."""
    return charger.record(
        kind=kind,
        advertiser_id=ADVERTISER,
        ad_group_id=ad_group_id,
        campaign_id=campaign_id,
        request_id=request_id,
        ad_id=ad_id,
        day=day,
        day_ends_at=day_ends_at,
        now=now,
        price_micros=price,
        caps=caps,
        frequency_key_ttl=frequency_ttl,
        user_key=user_key,
        fields={
            "k": "impression" if kind == "i" else "click",
            "t": f"{now:.6f}",
            "r": request_id,
            "a": ad_id,
            "g": ad_group_id,
            "c": campaign_id,
            "v": ADVERTISER,
        },
        invalid_reason=invalid_reason,
        burst_limit=burst_limit,
    )


# what the tracking shell gives the script to stream, as the stream returns it
STREAMED = {"k": "impression", "t": "1773144000.000000", "a": "7000", "g": "700", "c": "70", "v": "7"}


def counters(client, *, ad_group_id: int = AD_GROUP, campaign_id: int = CAMPAIGN, day: str = DAY) -> dict[str, int]:
    """Every charge counter of the advertiser's ad group and campaign (a missing key reads 0)."""
    keys = {
        "ag_day": charging.ad_group_day_key(ADVERTISER, ad_group_id, day),
        "ag_life": charging.ad_group_life_key(ADVERTISER, ad_group_id),
        "c_day": charging.campaign_day_key(ADVERTISER, campaign_id, day),
        "c_life": charging.campaign_life_key(ADVERTISER, campaign_id),
        "charged": charging.charged_key(ADVERTISER),
        "allowance": charging.allowance_key(ADVERTISER),
    }
    values = client.mget(list(keys.values()))
    return {name: int(value or 0) for name, value in zip(keys, values, strict=True)}


def moved(total: int, allowance: int = PLENTY) -> dict[str, int]:
    """What `counters` reads after `total` was charged in one ad group and campaign."""
    return {"ag_day": total, "ag_life": total, "c_day": total, "c_life": total, "charged": total, "allowance": allowance}


def stream(client) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in client.xrange(STREAM)]


def exhausted(client) -> dict[str, float]:
    return {member.decode(): score for member, score in client.zrange(EXHAUSTED, 0, -1, withscores=True)}


# --- a charge within every cap -------------------------------------------------------------------


def test_a_charge_within_caps_moves_every_counter_by_the_price_and_streams_one_valid_event(client, charger):
    # given a funded advertiser and roomy caps
    fund(client)
    caps = Caps(1_000_000, 10_000_000, 5_000_000, 50_000_000)
    # when one impression priced 2,345 micros is recorded
    outcome = record(charger, "r1", price=2_345, caps=caps)
    # then it is charged exactly the price on every counter, and streamed once as valid with that cost
    assert outcome == Outcome("valid", 2_345, "")
    assert counters(client) == moved(2_345)
    assert stream(client) == [{**STREAMED, "r": "r1", "status": "valid", "cost": "2345", "reason": ""}]
    assert exhausted(client) == {}


def test_charges_add_up_and_day_counters_expire_while_lifetime_counters_do_not(client, charger):
    # given a funded advertiser
    fund(client)
    # when three impressions are recorded
    for index, price in enumerate((1_000, 2_000, 3_000)):
        record(charger, f"r{index}", price=price)
    # then each counter holds the sum; daily ones expire after three days, lifetime ones and the charged total never
    assert counters(client) == moved(6_000)
    assert 0 < client.ttl(charging.ad_group_day_key(ADVERTISER, AD_GROUP, DAY)) <= charging.DAY_COUNTER_TTL
    assert 0 < client.ttl(charging.campaign_day_key(ADVERTISER, CAMPAIGN, DAY)) <= charging.DAY_COUNTER_TTL
    assert client.ttl(charging.ad_group_life_key(ADVERTISER, AD_GROUP)) == -1
    assert client.ttl(charging.campaign_life_key(ADVERTISER, CAMPAIGN)) == -1
    assert client.ttl(charging.charged_key(ADVERTISER)) == -1


def test_no_caps_means_only_the_balance_limits(client, charger):
    # given an advertiser with 1.00 to spend and no budgets (0 = none)
    fund(client, 1_000_000)
    # when a 999,999 micro charge and then a 2 micro one are recorded
    first, second = record(charger, "r1", price=999_999), record(charger, "r2", price=2)
    # then the first fits, the second would cross the balance
    assert (first, second) == (Outcome("valid", 999_999, ""), Outcome("unbilled", 0, "no_balance"))
    assert counters(client) == moved(999_999, allowance=1_000_000)


def test_a_free_event_is_valid_and_touches_no_counter(client, charger):
    # given an advertiser with no money at all
    # when an impression of a CPC ad (not what is billed: price 0) is recorded
    outcome = record(charger, "r1", price=0)
    # then it is valid, charged nothing, and no counter exists
    assert outcome == Outcome("valid", 0, "")
    assert counters(client) == moved(0, allowance=0)
    assert client.keys(f"{charging.tag(ADVERTISER)}:ag:*") == []
    assert [entry["status"] for entry in stream(client)] == ["valid"]


# --- each cap refuses the charge that would cross it ---------------------------------------------

CAP_TABLE = {
    # cap under test: (caps, allowance, reason, exhausted member, when to look again)
    "ad group daily": (Caps(9_000, 0, 0, 0), PLENTY, "ag_daily_budget", f"ag:{AD_GROUP}", DAY_ENDS),
    "ad group lifetime": (Caps(0, 9_000, 0, 0), PLENTY, "ag_lifetime_budget", f"ag:{AD_GROUP}", NOW + TEN_YEARS),
    "campaign daily": (Caps(0, 0, 9_000, 0), PLENTY, "campaign_daily_budget", f"c:{CAMPAIGN}", DAY_ENDS),
    "campaign lifetime": (Caps(0, 0, 0, 9_000), PLENTY, "campaign_lifetime_budget", f"c:{CAMPAIGN}", NOW + TEN_YEARS),
    "balance": (Caps(0, 0, 0, 0), 9_000, "no_balance", f"a:{ADVERTISER}", NOW + 3600),
}


@pytest.mark.parametrize(("caps", "allowance", "reason", "member", "until"), CAP_TABLE.values(), ids=CAP_TABLE.keys())
def test_each_cap_refuses_the_charge_that_would_cross_it(client, charger, caps, allowance, reason, member, until):
    # given 9,000 micros of room under one cap, and 7,000 already charged
    fund(client, allowance)
    assert record(charger, "r1", price=7_000, caps=caps) == Outcome("valid", 7_000, "")
    before = counters(client)
    # when an impression priced 2,001 (one micro too many) is recorded
    refused = record(charger, "r2", price=2_001, caps=caps)
    # then it is refused and streamed as unbilled with the cap's reason; no counter moved; the cap is marked exhausted
    assert refused == Outcome("unbilled", 0, reason)
    assert counters(client) == before == moved(7_000, allowance=allowance)
    assert stream(client)[-1] == {**STREAMED, "r": "r2", "status": "unbilled", "cost": "0", "reason": reason}
    assert exhausted(client) == {member: until}
    # and a charge that exactly fills the cap still fits
    assert record(charger, "r3", price=2_000, caps=caps) == Outcome("valid", 2_000, "")
    assert counters(client) == moved(9_000, allowance=allowance)


@pytest.mark.parametrize(
    ("caps", "member", "until"),
    [
        (Caps(9_000, 0, 0, 0), f"ag:{AD_GROUP}", DAY_ENDS),
        (Caps(0, 9_000, 0, 0), f"ag:{AD_GROUP}", NOW + TEN_YEARS),
        (Caps(0, 0, 9_000, 0), f"c:{CAMPAIGN}", DAY_ENDS),
        (Caps(0, 0, 0, 9_000), f"c:{CAMPAIGN}", NOW + TEN_YEARS),
    ],
    ids=["ad group daily", "ad group lifetime", "campaign daily", "campaign lifetime"],
)
def test_a_budget_is_marked_exhausted_by_the_charge_after_which_another_would_not_fit(client, charger, caps, member, until):
    # given 9,000 micros of budget and impressions priced 4,000
    fund(client)
    # when the first charge leaves room for another, and the second leaves 1,000
    record(charger, "r1", price=4_000, caps=caps)
    assert exhausted(client) == {}
    record(charger, "r2", price=4_000, caps=caps)
    # then the budget is marked exhausted as soon as another charge at that price would not fit
    assert exhausted(client) == {member: until}
    assert counters(client)["ag_day"] == 8_000


def test_the_first_cap_crossed_is_the_reason_and_nothing_else_moves(client, charger):
    # given every cap at 5,000 and a balance of 5,000
    fund(client, 5_000)
    caps = Caps(5_000, 5_000, 5_000, 5_000)
    # when an impression priced 5,001 is recorded
    outcome = record(charger, "r1", price=5_001, caps=caps)
    # then the ad group's daily budget is named, and nothing moved
    assert outcome == Outcome("unbilled", 0, "ag_daily_budget")
    assert counters(client) == moved(0, allowance=5_000)


def test_a_campaign_budget_is_shared_by_its_ad_groups(client, charger):
    # given a campaign with a daily budget of 10,000 and two ad groups without their own budgets
    fund(client)
    caps = Caps(0, 0, 10_000, 0)
    # when both ad groups take turns charging 3,000
    outcomes = [record(charger, f"r{n}", price=3_000, caps=caps, ad_group_id=700 + n % 2) for n in range(5)]
    # then three fit (9,000) and the rest is refused for the campaign's budget
    assert [o.status for o in outcomes] == ["valid", "valid", "valid", "unbilled", "unbilled"]
    assert {o.reason for o in outcomes[3:]} == {"campaign_daily_budget"}
    assert counters(client, ad_group_id=700)["ag_day"] == 6_000
    assert counters(client, ad_group_id=701)["ag_day"] == 3_000
    assert counters(client)["c_day"] == 9_000


def test_the_balance_is_shared_by_all_campaigns(client, charger):
    # given an advertiser with 10,000 to spend and two campaigns without budgets
    fund(client, 10_000)
    # when both campaigns charge 4,000 in turn
    outcomes = [record(charger, f"r{n}", price=4_000, campaign_id=70 + n, ad_group_id=700 + n) for n in range(3)]
    # then the third is refused for the balance and the charged total is 8,000
    assert [(o.status, o.reason) for o in outcomes] == [("valid", ""), ("valid", ""), ("unbilled", "no_balance")]
    assert int(client.get(charging.charged_key(ADVERTISER))) == 8_000


def test_no_allowance_in_redis_means_no_money(client, charger):
    # given an advertiser whose allowance was never set
    # when an impression is recorded
    # then it is unbilled for the balance
    assert record(charger, "r1", price=1) == Outcome("unbilled", 0, "no_balance")
    assert counters(client) == moved(0, allowance=0)


def test_a_new_day_has_a_new_daily_budget_but_the_lifetime_budget_remembers(client, charger):
    # given an ad group that spent its 5,000 daily budget yesterday, of its campaign's 8,000 lifetime budget
    fund(client)
    caps = Caps(5_000, 0, 0, 8_000)
    assert record(charger, "r1", price=5_000, caps=caps).status == "valid"
    assert record(charger, "r2", price=1, caps=caps) == Outcome("unbilled", 0, "ag_daily_budget")
    # when it charges on the next day
    tomorrow = {"day": "2026-03-11", "day_ends_at": DAY_ENDS + 86_400, "now": NOW + 86_400}
    outcomes = [record(charger, f"t{n}", price=2_000, caps=caps, **tomorrow) for n in range(3)]
    # then the new day starts from zero, until the lifetime budget runs out
    assert [(o.status, o.reason) for o in outcomes] == [
        ("valid", ""),
        ("unbilled", "campaign_lifetime_budget"),
        ("unbilled", "campaign_lifetime_budget"),
    ]
    assert counters(client, day="2026-03-11")["ag_day"] == 2_000
    assert counters(client)["ag_day"] == 5_000
    assert counters(client)["c_life"] == 7_000


# --- what is never charged -----------------------------------------------------------------------


def test_a_repeated_event_is_invalid_duplicate_and_charges_nothing(client, charger):
    # given an impression already recorded
    fund(client)
    record(charger, "r1", price=2_000, frequency_ttl=86_400)
    before = counters(client)
    # when the same impression (request and ad) is recorded again, twice
    again = [record(charger, "r1", price=2_000, frequency_ttl=86_400) for _ in range(2)]
    # then both repeats are invalid duplicates, nothing moved, the frequency counter still reads 1, and all three are streamed
    assert again == [Outcome("invalid", 0, "duplicate")] * 2
    assert counters(client) == before == moved(2_000)
    assert int(client.get(charging.frequency_key(ADVERTISER, AD_GROUP, "user-1"))) == 1
    assert [(e["status"], e["cost"], e["reason"]) for e in stream(client)] == [
        ("valid", "2000", ""),
        ("invalid", "0", "duplicate"),
        ("invalid", "0", "duplicate"),
    ]


def test_an_impression_and_a_click_of_the_same_ad_are_different_events(client, charger):
    # given a CPC ad's impression (free) recorded
    fund(client)
    record(charger, "r1", kind="i", price=0)
    # when its click (billed) is recorded, then the click again
    click, repeat = record(charger, "r1", kind="c", price=30_000), record(charger, "r1", kind="c", price=30_000)
    # then the click is charged once
    assert (click, repeat) == (Outcome("valid", 30_000, ""), Outcome("invalid", 0, "duplicate"))
    assert counters(client) == moved(30_000)


def test_a_click_without_its_impression_is_invalid_and_charges_nothing(client, charger):
    # given a CPC ad whose impression was never recorded (but another ad's of the same request was)
    fund(client)
    record(charger, "r1", kind="i", price=0, ad_id=AD + 1)
    # when its click is recorded
    outcome = record(charger, "r1", kind="c", price=30_000)
    # then it is invalid for having no impression, and nothing was charged
    assert outcome == Outcome("invalid", 0, "no_impression")
    assert counters(client) == moved(0)
    assert stream(client)[-1]["reason"] == "no_impression"


def test_a_reason_given_by_the_caller_makes_the_event_invalid_and_uncharged(client, charger):
    # given a funded advertiser and an impression from a known bot
    fund(client)
    # when it is recorded with the caller's reason
    outcome = record(charger, "r1", price=2_000, frequency_ttl=86_400, invalid_reason="bot")
    # then it is invalid, nothing moved, the person's frequency was not counted
    assert outcome == Outcome("invalid", 0, "bot")
    assert counters(client) == moved(0)
    assert client.get(charging.frequency_key(ADVERTISER, AD_GROUP, "user-1")) is None


def test_a_burst_of_clicks_from_one_person_is_invalid_beyond_the_limit(client, charger):
    # given six ads shown to one person, each impression recorded
    fund(client)
    for n in range(6):
        record(charger, f"r{n}", kind="i", price=0)
    # when the person clicks all six within the minute (limit 5), and another person clicks once
    outcomes = [record(charger, f"r{n}", kind="c", price=10_000, burst_limit=5) for n in range(6)]
    record(charger, "s1", kind="i", price=0, user_key="user-2")
    other = record(charger, "s1", kind="c", price=10_000, burst_limit=5, user_key="user-2")
    # then the sixth click is invalid as a burst and not charged; the other person is not affected
    assert outcomes == [Outcome("valid", 10_000, "")] * 5 + [Outcome("invalid", 0, "click_burst")]
    assert other == Outcome("valid", 10_000, "")
    assert counters(client)["charged"] == 60_000
    assert 0 < client.ttl(charging.burst_key(ADVERTISER, "user-1")) <= 60


def test_frequency_counters_count_each_person_per_ad_group_and_expire(client, charger):
    # given an ad group capping frequency over two days
    fund(client)
    ttl = 2 * 86_400
    # when one person sees three of its ads' impressions, another person one, and a click is recorded
    for n in range(3):
        record(charger, f"r{n}", price=1_000, frequency_ttl=ttl)
    record(charger, "s1", price=1_000, frequency_ttl=ttl, user_key="user-2")
    record(charger, "r0", kind="c", price=0)
    # then each person's counter holds their impressions, and expires at most two days after the first
    key = charging.frequency_key(ADVERTISER, AD_GROUP, "user-1")
    assert int(client.get(key)) == 3
    assert int(client.get(charging.frequency_key(ADVERTISER, AD_GROUP, "user-2"))) == 1
    assert ttl - 5 <= client.ttl(key) <= ttl


def test_without_a_frequency_cap_nothing_is_counted(client, charger):
    # given an ad group without a frequency cap (ttl 0)
    fund(client)
    # when an impression is recorded
    record(charger, "r1", price=1_000, frequency_ttl=0)
    # then no frequency counter exists
    assert client.get(charging.frequency_key(ADVERTISER, AD_GROUP, "user-1")) is None


# --- 8 processes at one ad group ------------------------------------------------------------------

PROCESSES = 8


def request_id_of(process: int, n: int) -> str:
    """The request id of the `n`th impression `process` fires (a UUID, as the event store wants)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"test-charging/{process}/{n}"))


FIRED = {request_id_of(process, n): (process, n) for process in range(PROCESSES) for n in range(40)}


def fire(url: str, process: int, count: int, prices: list[int], caps: Caps, barrier) -> None:
    """One OS process: its own Redis connection, `count` impressions at the ad group, all released together."""
    own = Charger(redis.Redis.from_url(url))
    barrier.wait(timeout=30)
    for n in range(count):
        record(own, request_id_of(process, n), price=prices[(process * count + n) % len(prices)], caps=caps)


def fire_from_processes(count: int, prices: list[int], caps: Caps) -> None:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(PROCESSES)
    workers = [
        context.Process(target=fire, args=(settings.REDIS_URL, process, count, prices, caps, barrier))
        for process in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES


CONCURRENCY_TABLE = {
    # (caps, allowance, price per impression, impressions per process, reason of the refusals): the smallest binds
    "ad group daily, price divides": (Caps(300_000, 0, 0, 0), PLENTY, 3_000, 40, "ag_daily_budget"),
    "ad group daily, price does not divide": (Caps(300_000, 0, 0, 0), PLENTY, 7_000, 40, "ag_daily_budget"),
    "ad group lifetime": (Caps(0, 250_000, 0, 0), PLENTY, 7_000, 40, "ag_lifetime_budget"),
    "campaign daily under a larger ad group budget": (Caps(900_000, 0, 250_000, 0), PLENTY, 3_000, 40, "campaign_daily_budget"),
    "balance": (Caps(0, 0, 0, 0), 200_000, 7_000, 40, "no_balance"),
}


@pytest.mark.parametrize(
    ("caps", "allowance", "price", "count", "reason"), CONCURRENCY_TABLE.values(), ids=CONCURRENCY_TABLE.keys()
)
def test_eight_processes_never_bill_above_the_budget(client, caps, allowance, price, count, reason):
    # given a budget that covers fewer impressions than 8 processes x 40 will fire
    fund(client, allowance)
    budget = min(
        cap
        for cap in (caps.ad_group_daily, caps.ad_group_lifetime, caps.campaign_daily, caps.campaign_lifetime, allowance)
        if cap
    )
    assert budget // price < PROCESSES * count
    # when the processes fire together
    fire_from_processes(count, [price], caps)
    # then every impression is in the stream exactly once, valid or unbilled for the binding cap
    events = stream(client)
    assert sorted(e["r"] for e in events) == sorted(request_id_of(p, n) for p in range(PROCESSES) for n in range(count))
    assert {(e["status"], e["reason"]) for e in events} == {("valid", ""), ("unbilled", reason)}
    # and billed spend is the budget rounded down to whole prices: never above it, short of it by less than one price
    billed = sum(int(e["cost"]) for e in events if e["status"] == "valid")
    assert billed == (budget // price) * price
    assert billed <= budget < billed + price
    if budget % price == 0:
        assert billed == budget
    assert all(int(e["cost"]) == price for e in events if e["status"] == "valid")
    assert all(e["cost"] == "0" for e in events if e["status"] == "unbilled")
    # and Redis's counters say the same
    assert counters(client) == moved(billed, allowance=allowance)


def test_eight_processes_with_mixed_prices_never_bill_above_the_budget(client):
    # given an ad group's daily budget of 100,000 and impressions at second prices between 1,000 and 9,000
    fund(client)
    budget, count = 100_000, 30
    prices = [9_000, 1_000, 4_321, 2_500, 7_777, 1_234, 8_888, 3_000, 5_555, 6_001]
    # when 8 processes fire 30 impressions each together
    fire_from_processes(count, prices, Caps(budget, 0, 0, 0))
    # then each impression is streamed once and billed spend never exceeds the budget
    events = stream(client)
    assert len(events) == len({e["r"] for e in events}) == PROCESSES * count
    billed = sum(int(e["cost"]) for e in events if e["status"] == "valid")
    assert billed <= budget
    # and what is left is smaller than every price that was refused (spend only grows after a refusal)
    refused = [price_of(e["r"], count, prices) for e in events if e["status"] == "unbilled"]
    assert refused
    assert budget - billed < min(refused)
    assert all(int(e["cost"]) == price_of(e["r"], count, prices) for e in events if e["status"] == "valid")
    assert counters(client) == moved(billed)


def price_of(request_id: str, count: int, prices: list[int]) -> int:
    """The price `fire` gave the impression `request_id`."""
    process, n = FIRED[request_id]
    return prices[(process * count + n) % len(prices)]


@pytest.mark.django_db
def test_eight_processes_then_the_consumer_store_every_impression_once(client):
    # given 8 processes that fired 40 impressions each at an ad group whose 300,000 budget covers 42 at 7,000
    fund(client)
    fire_from_processes(40, [7_000], Caps(300_000, 0, 0, 0))
    # when the consumer copies the stream into the event store
    stored = services.consume_events()
    # then every impression is stored exactly once, and the stored cost is the billed spend: 42 x 7,000
    assert stored == PROCESSES * 40
    rows = Event.objects.filter(kind="impression")
    assert Counter(str(request_id) for request_id in rows.values_list("request_id", flat=True)) == Counter(set(FIRED))
    assert rows.filter(status="valid").aggregate(total=Sum("cost_micros"))["total"] == 294_000
    assert Counter(rows.values_list("status", "reason")) == {("valid", ""): 42, ("unbilled", "ag_daily_budget"): 278}
    assert counters(client)["charged"] == 294_000


# --- the tracking shell: links and index facts into the charge script ----------------------------

MOMENT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def served(**changes) -> links.Served:
    facts = {
        "request_id": "0b6f3c1e-4d1a-4a59-9a3e-1c2b3d4e5f60",
        "ad_id": AD,
        "ad_group_id": AD_GROUP,
        "campaign_id": CAMPAIGN,
        "advertiser_id": ADVERTISER,
        "placement": "feed",
        "billed_on": "impression",
        "price_micros": 2_000,
        "user_key": "user-1",
        "country": "DE",
        "device": "mobile",
        "served_at": NOW,
        "expires_at": NOW + links.LINK_LIFETIME_SECONDS,
        "landing_url": "https://bakery.example.com/",
    }
    return links.Served(**{**facts, **changes})


BERLIN = Context(Caps(1_000_000, 0, 0, 0), "Europe/Berlin", 2)


def test_tracking_charges_a_cpm_impression_at_the_link_price_on_the_advertisers_day(client, charger):
    # given a CPM ad served at 2,000 micros per impression, and 23:30 UTC (already the 11th in Berlin)
    fund(client)
    late = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
    # when its impression is recorded, then replayed
    outcome = tracking.record(charger, "i", served(), BERLIN, moment=late)
    replay = tracking.record(charger, "i", served(), BERLIN, moment=late)
    # then it is charged once, on Berlin's 11 March, and counted for the person's frequency for 2 days
    assert (outcome, replay) == (Outcome("valid", 2_000, ""), Outcome("invalid", 0, "duplicate"))
    assert counters(client, day="2026-03-11")["ag_day"] == 2_000
    assert counters(client)["ag_day"] == 0
    assert 2 * 86_400 - 5 <= client.ttl(charging.frequency_key(ADVERTISER, AD_GROUP, "user-1")) <= 2 * 86_400
    entry = stream(client)[0]
    assert (entry["k"], entry["r"], entry["pr"], entry["b"], entry["status"], entry["cost"]) == (
        "impression",
        served().request_id,
        "2000",
        "impression",
        "valid",
        "2000",
    )
    assert float(entry["t"]) == late.timestamp()


def test_tracking_charges_a_cpc_ad_on_its_click_not_its_impression(client, charger):
    # given a CPC ad served at 40,000 micros per click
    fund(client)
    cpc = served(billed_on="click", price_micros=40_000)
    # when its impression and its click are recorded
    impression = tracking.record(charger, "i", cpc, BERLIN, moment=MOMENT)
    click = tracking.record(charger, "c", cpc, BERLIN, moment=MOMENT)
    # then the impression is free and the click costs the link's price
    assert (impression, click) == (Outcome("valid", 0, ""), Outcome("valid", 40_000, ""))
    assert counters(client) == moved(40_000)


def test_tracking_an_ad_the_index_does_not_know_charges_nothing(client, charger):
    # given a served ad that is no longer in the index (no caps known)
    fund(client)
    context = tracking.context_for(None, served())
    # when its impression is recorded
    outcome = tracking.record(charger, "i", served(), context, moment=MOMENT)
    # then it is invalid as an unknown ad, and nothing was charged
    assert context.caps == Caps(-1, -1, -1, -1)
    assert outcome == Outcome("invalid", 0, "unknown_ad")
    assert counters(client) == moved(0)


def test_a_refused_link_is_streamed_as_invalid_and_garbage_only_counted(client):
    # given a forged link (readable facts) and an unreadable one
    payload, _ = links.sign(served(price_micros=1), "i").split("&")
    # when both are recorded as refused
    tracking.record_bad_link(client, "i", payload.removeprefix("d="), "bad_signature", moment=MOMENT)
    tracking.record_bad_link(client, "c", "%%%", "malformed", moment=MOMENT)
    # then the forgery is an invalid, uncharged event and the garbage a counter; nothing was charged
    (entry,) = stream(client)
    assert (entry["k"], entry["status"], entry["cost"], entry["reason"], entry["pr"]) == (
        "impression",
        "invalid",
        "0",
        "bad_signature",
        "1",
    )
    assert int(client.get("delivery:invalid:malformed")) == 1
    assert counters(client) == moved(0, allowance=0)


@pytest.mark.parametrize(
    ("user_agent", "bot"),
    [
        ("", True),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True),
        ("curl/8.5.0", True),
        ("python-requests/2.32", True),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36", True),
        ("facebookexternalhit/1.1", True),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1", False),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/123.0 Mobile Safari/537.36", False),
    ],
)
def test_is_bot(user_agent, bot):
    # given a user agent
    # when it is judged
    # then known robots and an empty agent are bots, browsers are not
    assert tracking.is_bot(user_agent) is bot


def test_a_conversion_is_attributed_to_its_click_once(client):
    # given a click remembered for attribution
    click = served(billed_on="click", price_micros=40_000)
    click_id = tracking.remember_click(client, click, moment=MOMENT)
    conversion = tracking.Conversion(click_id, "order-1", "purchase", 25_000_000, "EUR")
    # when the conversion is reported, then reported again
    first = tracking.record_conversion(client, ADVERTISER, conversion, moment=MOMENT)
    again = tracking.record_conversion(client, ADVERTISER, conversion, moment=MOMENT)
    # then it is attributed once to the click's ad, the repeat is a duplicate, and neither is charged
    assert (first, again) == ("attributed", "duplicate")
    valid, duplicate = stream(client)
    assert (valid["status"], valid["a"], valid["g"], valid["c"], valid["r"], valid["val"], valid["cur"], valid["cost"]) == (
        "valid",
        str(AD),
        str(AD_GROUP),
        str(CAMPAIGN),
        click.request_id,
        "25000000",
        "EUR",
        "0",
    )
    assert (duplicate["status"], duplicate["reason"]) == ("invalid", "duplicate")
    assert click_id.startswith(f"{ADVERTISER}.")
    assert 7 * 86_400 - 5 <= client.ttl(f"{charging.tag(ADVERTISER)}:click:{click_id}") <= 7 * 86_400


def test_a_conversion_without_a_known_click_of_the_advertiser_is_unattributed(client):
    # given a click of advertiser 7
    click_id = tracking.remember_click(client, served(), moment=MOMENT)
    # when advertiser 8 reports a conversion with it, and advertiser 7 one with an unknown click
    foreign = tracking.record_conversion(client, 8, tracking.Conversion(click_id, "e1", "lead", 0, ""), moment=MOMENT)
    unknown = tracking.record_conversion(client, ADVERTISER, tracking.Conversion("7.nope", "e2", "lead", 0, ""), moment=MOMENT)
    # then neither is attributed
    assert (foreign, unknown) == ("unattributed", "unattributed")
    assert [(e["v"], e["status"], e["reason"]) for e in stream(client)] == [
        ("8", "invalid", "unattributed"),
        ("7", "invalid", "unattributed"),
    ]
