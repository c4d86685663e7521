"""The simulator's engine: simulated people ask for ads, see them, click and convert, minute by minute.

Everything that decides, charges, stores and counts is the platform's own code, run on the
simulated clock (`adplatform.clock.use`): the decision and its links (`delivery.decision`), the
link check and the charge script (`delivery.links`, `delivery.tracking`, `delivery.charging`),
the stream consumer, spend posting to the ledger, the pacing controller and the index compiler
(`delivery.services`, `delivery.index`), the rollups and day closing (`reporting.services`). Only
the people are simulated: who asks when (the traffic curve), and whether they click (each ad's
hidden true CTR) and buy (its true conversion rate).

Beside the platform the engine keeps its own books, from what it sees happen, so the report does
not take the controller's word for anything: the requests of every minute per placement, what
each ad group was charged, and each ad group's *demand* — what it would have spent at full
throttle, estimated from what it won while throttled (see `Books`).
"""

import json
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from adplatform import clock
from adplatform.redis_client import get_redis
from campaigns.models import AdGroup
from delivery import charging, index, links, services
from delivery.charging import Charger
from reporting import services as reporting_services

from .market import Market
from .visit import Visitor

PROFILES = ("diurnal", "flat", "spiky")
# Share of a day's requests per UTC hour for the diurnal profile (a global app, busiest in the evening).
DIURNAL = (
    1.4, 1.0, 0.8, 0.7, 0.8, 1.2, 2.0, 3.0, 3.8, 4.2, 4.4, 4.6,
    4.9, 4.9, 4.7, 4.6, 4.8, 5.2, 5.8, 6.4, 6.8, 6.5, 4.8, 2.6,
)  # fmt: skip
# How often the engine runs what Celery beat runs every few seconds or minutes (in simulated
# minutes). The controller runs every minute as in production; the consumer, spend posting and
# the index compile (about 0.1 s for 200 advertisers) every 5 minutes, so the posteriors the
# auction samples lag by up to 5 minutes rather than one; the rollups less often still (no
# figure of the report reads them).
POST_EVERY = 5
COMPILE_EVERY = 5
ROLLUP_EVERY = 15
CLOSE_EVERY = 60


def traffic_shape(profile: str, rng: random.Random, days: int) -> list[float]:
    """Relative request rate per simulated minute, for `days` days."""
    minutes = days * 1440
    if profile == "flat":
        return [1.0] * minutes
    shape = [DIURNAL[(minute // 60) % 24] for minute in range(minutes)]
    if profile == "spiky":  # a few bursts a day, 3-6x the usual traffic for 10-40 minutes (a push, a viral post)
        for day in range(days):
            for _ in range(rng.randint(2, 4)):
                start = day * 1440 + rng.randint(0, 1400)
                factor, length = rng.uniform(3, 6), rng.randint(10, 40)
                for minute in range(start, min(start + length, minutes)):
                    shape[minute] *= factor
    return shape


@dataclass
class Totals:
    """Run-wide counts, and the CTR sums the oracle comparison needs."""

    requests: int = 0
    filled: int = 0
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    unbilled_micros: int = 0  # what over-delivered impressions and clicks would have cost (the whole run)
    true_ctr_shown: float = 0.0  # sum of the shown ads' true CTRs (delivered CTR without click noise)
    oracle_ctr: float = 0.0  # sum of the best true CTR in the winning ad's ad group, per impression
    rotating_impressions: int = 0  # impressions of ad groups with more than one ad (where choosing matters)
    rotating_true_ctr_shown: float = 0.0
    rotating_oracle_ctr: float = 0.0


@dataclass(frozen=True)
class Group:
    """What the engine knows of an ad group (from the database once, and the market's hidden rates)."""

    pk: int
    advertiser_id: int
    campaign_id: int
    zone: str
    budget: int
    pacing: str
    ads: int
    placements: tuple[str, ...]
    best_ctr: float


Key = tuple[int, str]  # (ad group id, its advertiser's local date)


@dataclass
class Books:
    """What the engine saw, per ad group and local day, independent of the controller's own state.

    Demand: every billed event an ad group wins (charged or refused as over budget) counts its
    price divided by the chance the pacing gate let the ad group into that auction: its throttle
    (the decision draws once per ad group and request). The sum estimates what it would have won
    at full throttle, in the minutes it was open (throttle above 0 and a budget left); spread over
    the traffic of those minutes' share of the day it gives the day's demand (an inverse-probability
    estimate: unbiased, noisy for ad groups that win rarely).
    """

    requests: list[dict[str, int]] = field(default_factory=list)  # per simulated minute: placement -> requests
    # per hour: (hour, spent so far, the controller's F(t), its throttle then, the mean gate over the hour)
    hourly: dict[Key, list[tuple[int, int, float, float | None, float]]] = field(default_factory=lambda: defaultdict(list))
    charged: dict[Key, int] = field(default_factory=lambda: defaultdict(int))
    max_price: dict[Key, int] = field(default_factory=lambda: defaultdict(int))
    unbilled: dict[Key, int] = field(default_factory=lambda: defaultdict(int))
    events: dict[Key, int] = field(default_factory=lambda: defaultdict(int))  # billed events charged
    demand: dict[Key, float] = field(default_factory=lambda: defaultdict(float))  # micros won / participation
    demand_by_hour: dict[tuple[int, str, int], float] = field(default_factory=lambda: defaultdict(float))  # ... per local hour
    open_requests: dict[Key, int] = field(default_factory=lambda: defaultdict(int))
    participation: dict[Key, float] = field(default_factory=lambda: defaultdict(float))  # sum over open requests
    exhausted_seen: set[Key] = field(default_factory=set)
    controller: dict[Key, dict[str, Any]] = field(default_factory=dict)  # the controller's state at local midnight


class Simulation:
    """One simulated run: the marketplace's people asking for ads minute by minute, and the platform's beat."""

    def __init__(
        self,
        market: Market,
        *,
        start: datetime,
        days: int,
        requests_per_day: int,
        profile: str,
        seed: int,
        draws: int = 0,
        speed: float = 0.0,
        history_days: int = 7,
        warmup_hours: int = 0,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.market = market
        self.start = start
        self.days = days
        self.warmup_hours = warmup_hours
        self.began = start - timedelta(hours=warmup_hours)  # the marketplace runs from here; the report measures from `start`
        self.requests_per_day = requests_per_day
        # The people's and the auction's draws: the seed's own, or stream `draws` of them (another
        # realisation of the same marketplace; a string seed, so no stream is another seed's).
        self.rng = random.Random(f"{seed}:{draws}:people" if draws else seed)  # noqa: S311 - simulated people, not security
        self.auction_rng = random.Random(f"{seed}:{draws}:auction" if draws else seed + 1)  # noqa: S311
        self.shape = traffic_shape(profile, random.Random(seed + 2), days)  # noqa: S311
        # The days before `start`: their last `warmup_hours` are simulated (the warm-up), the rest of
        # the last `history_days` only counted as pacing's traffic history.
        before = traffic_shape(profile, random.Random(seed + 3), max(history_days, math.ceil(warmup_hours / 24)))  # noqa: S311
        self.warmup_shape = before[len(before) - warmup_hours * 60 :]
        self.history = before[len(before) - history_days * 1440 : len(before) - warmup_hours * 60]
        self.speed = speed
        self.progress = progress or (lambda line: None)
        self.totals = Totals()
        self.books = Books()
        self.now = self.began
        self.client = get_redis()
        self.charger = Charger(self.client)
        self.visitor = Visitor(
            client=self.client,
            charger=self.charger,
            rng=self.rng,
            auction_rng=self.auction_rng,
            rates=lambda ad: (market.true_ctr.get(ad, 0.0), market.true_cvr.get(ad, 0.0)),
        )
        self.groups: dict[int, Group] = {}
        self.zones: dict[str, ZoneInfo] = {}
        self.placement_keys = sorted(market.placements)
        self._gate: dict[int, float] = {}  # ad group -> chance it takes part in an auction this minute
        self._today: dict[str, str] = {}  # time zone -> local date this minute
        self._gates_this_hour: dict[int, list[float]] = defaultdict(list)
        self.elapsed = 0.0
        self.timings: dict[str, float] = defaultdict(float)  # seconds spent per part of the platform, for the profile

    # --- set-up --------------------------------------------------------------------------------

    def _load(self) -> None:
        groups = AdGroup.objects.filter(pk__in=self.market.ad_groups).select_related("campaign__advertiser")
        for group in groups.prefetch_related("ads", "placements").order_by("pk"):
            ads = [ad.pk for ad in group.ads.all()]
            self.groups[group.pk] = Group(
                pk=group.pk,
                advertiser_id=group.campaign.advertiser_id,
                campaign_id=group.campaign_id,
                zone=group.campaign.advertiser.time_zone,
                budget=group.budget_micros,
                pacing=group.pacing,
                ads=len(ads),
                placements=tuple(sorted(placement.key for placement in group.placements.all())),
                best_ctr=max((self.market.true_ctr[ad] for ad in ads), default=0.0),
            )
        self.zones = {name: ZoneInfo(name) for name in sorted({group.zone for group in self.groups.values()})}

    def _count_history(self, per_shape: float) -> None:
        """The ad requests of the days before the run, in the hourly counters pacing learns its traffic profile from.

        A platform in production has weeks of history; without it the first day would be paced on
        the default profile (`--history-days 0` runs that case). Counted as the decision view
        counts (`index.TRAFFIC_KEY`), the placements sharing each hour's requests evenly.
        """
        if not self.history:
            return
        first = self.began - timedelta(minutes=len(self.history))
        pipe = self.client.pipeline(transaction=False)
        for hour in range(len(self.history) // 60):
            requests = sum(self.history[hour * 60 : hour * 60 + 60]) * per_shape / len(self.placement_keys)
            key = index.TRAFFIC_KEY.format(hour=(first + timedelta(hours=hour)).strftime("%Y%m%d%H"))
            pipe.hset(key, mapping=dict.fromkeys(self.placement_keys, round(requests)))
            pipe.expire(key, index.TRAFFIC_TTL)
        pipe.execute()

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        """Simulate every minute of the run, then one last beat so everything charged is stored, posted and rolled up.

        The warm-up hours come first: the marketplace is paced, served and charged as on any other
        hour, so the first measured day begins in a market that has been running (a platform is
        never started with every ad group at once); the totals count from `start`.
        """
        began = time.monotonic()
        with clock.use(lambda: self.now):
            self._load()
            services.ensure_partitions(days_ahead=self.days + 1, days_back=1 + math.ceil(self.warmup_hours / 24))
            services.rebuild_counters()
            index.compile_snapshot()
            started = time.monotonic()
            per_minute = self.requests_per_day / 1440
            mean_shape = sum(self.shape) / len(self.shape)
            self._count_history(per_minute / mean_shape)
            warmup = len(self.warmup_shape)
            for minute in range(-warmup, self.days * 1440):
                if minute == 0:
                    self.totals = Totals()
                self.now = self.start + timedelta(minutes=minute)
                self._today = {name: self.now.astimezone(zone).date().isoformat() for name, zone in self.zones.items()}
                self._housekeeping(minute)
                snapshot, live = self._live()
                self._open_gates(live)
                counted: dict[str, int] = dict.fromkeys(self.placement_keys, 0)
                shape = self.shape[minute] if minute >= 0 else self.warmup_shape[warmup + minute]
                expected = per_minute * shape / mean_shape
                began_requests = time.perf_counter()
                for offset in sorted(self.rng.random() * 60 for _ in range(poisson(self.rng, expected))):
                    self.now = self.start + timedelta(minutes=minute, seconds=offset)
                    self._request(snapshot, live, counted)
                self.timings["requests"] += time.perf_counter() - began_requests
                self._count_open(counted)
                self.books.requests.append(counted)
                if self.speed > 0:
                    ahead = (minute + warmup + 1) * 60 / self.speed - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
                if minute % 360 == 359:
                    when = f"day {minute // 1440 + 1}" if minute >= 0 else "warm-up"
                    self.progress(
                        f"{when} {(minute % 1440 + 1) // 60:02d}:00  {self.totals.requests:,} requests, "
                        f"{self.totals.impressions:,} impressions, {self.totals.clicks:,} clicks  "
                        f"({time.monotonic() - began:.0f} s)"
                    )
            self.now = self.start + timedelta(days=self.days)
            self._today = {name: self.now.astimezone(zone).date().isoformat() for name, zone in self.zones.items()}
            self._housekeeping(self.days * 1440, final=True)
        self.elapsed = time.monotonic() - began

    def _live(self) -> tuple[Any, Any]:
        index.holder._checked_at = 0.0  # read the throttles and exhausted budgets of this simulated minute
        return index.holder.current()

    def _timed(self, name: str, task: Callable[[], Any]) -> None:
        began = time.perf_counter()
        task()
        self.timings[name] += time.perf_counter() - began

    def _housekeeping(self, minute: int, *, final: bool = False) -> None:
        """What Celery beat runs, on the simulated clock: consumer, posting, pacing, index, rollups."""
        index.holder.flush_traffic()  # the last minute's requests count in the traffic profile pace reads
        if minute % POST_EVERY == 0 or final:
            self._timed("consume_events", services.consume_events)
            self._timed("post_spend", services.post_spend)
        if minute % 60 == 0 or final:
            self._sample_hour()
        if minute % COMPILE_EVERY == 0:
            self._timed("compile_snapshot", index.compile_snapshot)  # learning: posteriors from what post_spend counted
        if minute % ROLLUP_EVERY == 0 or final:
            self._timed("rollup", reporting_services.rollup)
        if minute % CLOSE_EVERY == 0 or final:
            self._timed("close_days", reporting_services.close_days)
        if not final:
            self._timed("pace", services.pace)

    def _open_gates(self, live: Any) -> None:
        """Each ad group's chance to take part in an auction this minute (0: closed), from the live state."""
        throttles, exhausted = live.throttles, live.exhausted
        gate = {}
        for group in self.groups.values():
            key = (group.pk, self._today[group.zone])
            if exhausted and f"ag:{group.pk}" in exhausted:
                self.books.exhausted_seen.add(key)
            throttle = throttles.get(group.pk, 1.0)
            spent, price = self.books.charged[key], self.books.max_price[key]
            if throttle <= 0 or (price and spent + price > group.budget) or spent >= group.budget:
                gate[group.pk] = 0.0
            else:
                gate[group.pk] = min(throttle, 1.0)  # the decision draws once per ad group and request
            self._gates_this_hour[group.pk].append(gate[group.pk])
        self._gate = gate

    def _count_open(self, counted: dict[str, int]) -> None:
        books = self.books
        for group in self.groups.values():
            gate = self._gate[group.pk]
            if gate > 0:
                requests = sum(counted[key] for key in group.placements)
                key = (group.pk, self._today[group.zone])
                books.open_requests[key] += requests
                books.participation[key] += gate * requests

    def _sample_hour(self) -> None:
        """Each ad group's spend today so far (its Redis counter) and the controller's F(t), at this simulated hour."""
        plans: list[tuple[Group, str, int]] = []
        for group in self.groups.values():
            local = self.now.astimezone(self.zones[group.zone])
            if local.hour == 0 and local.minute == 0:  # the end of the previous local day
                plans.append((group, (local.date() - timedelta(days=1)).isoformat(), 24))
            else:
                plans.append((group, local.date().isoformat(), local.hour))
        keys = [charging.ad_group_day_key(group.advertiser_id, group.pk, day) for group, day, _ in plans]
        pipe = self.client.pipeline(transaction=False)
        pipe.mget(keys)
        pipe.hmget(services.PACING_STATE_KEY, [f"ag:{group.pk}" for group, _, _ in plans])
        spent, states = pipe.execute()
        for (group, day, hour), value, raw in zip(plans, spent, states, strict=True):
            state = json.loads(raw) if raw else None
            if state is not None and state.get("day") != day:
                state = None
            share = 1.0 if hour == 24 else float(state["share"]) if state else 0.0
            throttle = float(state["throttle"]) if state else None
            gates = self._gates_this_hour.pop(group.pk, [])
            gate = sum(gates) / len(gates) if gates else 0.0
            self.books.hourly[(group.pk, day)].append((hour, int(value or 0), share, throttle, gate))
            if hour == 24 and state is not None:
                self.books.controller[(group.pk, day)] = state

    def _request(self, snapshot: Any, live: Any, counted: dict[str, int]) -> None:
        """One person's ad request at `self.now` (see `Visitor.visit`), booked in the totals and the books."""
        market, rng = self.market, self.rng
        person = market.people[rng.randrange(len(market.people))]
        placement = rng.choice(self.placement_keys)
        self.totals.requests += 1
        counted[placement] += 1
        views = self.visitor.visit(person, placement, snapshot, live, moment=self.now)
        if not views:
            return
        self.totals.filled += 1
        for view in views:
            served, true_ctr = view.served, view.true_ctr
            self._count(view.impression, served, "impression")
            group = self.groups.get(served.ad_group_id)
            best = group.best_ctr if group else true_ctr
            self.totals.impressions += 1
            self.totals.true_ctr_shown += true_ctr
            self.totals.oracle_ctr += best
            if group is not None and group.ads > 1:
                self.totals.rotating_impressions += 1
                self.totals.rotating_true_ctr_shown += true_ctr
                self.totals.rotating_oracle_ctr += best
            if view.click is not None:
                self._count(view.click, served, "click")
                self.totals.clicks += 1
                if view.converted:
                    self.totals.conversions += 1

    def _count(self, outcome: Any, served: links.Served, kind: str) -> None:
        """Book a billed event: what it cost, what it would have cost if refused, and its weight in the demand."""
        if served.billed_on != kind or outcome.status == "invalid":
            return
        group = self.groups.get(served.ad_group_id)
        if group is None:
            return
        local = self.now.astimezone(self.zones[group.zone])
        key = (group.pk, local.date().isoformat())
        books = self.books
        gate = self._gate.get(group.pk, 1.0)
        if gate > 0:
            books.demand[key] += served.price_micros / gate
            books.demand_by_hour[(*key, local.hour)] += served.price_micros / gate
        books.max_price[key] = max(books.max_price[key], served.price_micros)
        if outcome.status == "unbilled":
            self.totals.unbilled_micros += served.price_micros
            books.unbilled[key] += served.price_micros
        else:
            books.charged[key] += outcome.cost_micros
            books.events[key] += 1


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method for small means, a rounded normal for large ones)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
