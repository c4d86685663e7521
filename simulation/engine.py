"""The simulator's engine: simulated people ask for ads, see them, click and convert, minute by minute.

Everything that decides, charges, stores and counts is the platform's own code, run on the
simulated clock (`adplatform.clock.use`): the decision and its links (`delivery.decision`), the
link check and the charge script (`delivery.links`, `delivery.tracking`, `delivery.charging`),
the stream consumer, spend posting to the ledger, the pacing controller and the index compiler
(`delivery.services`, `delivery.index`), the rollups and day closing (`reporting.services`). Only
the people are simulated: who asks when (the traffic curve), and whether they click (each ad's
hidden true CTR) and buy (its true conversion rate).
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
from delivery import charging, decision, index, links, services, tracking
from delivery.charging import Charger
from reporting import services as reporting_services

from .market import Market

PROFILES = ("diurnal", "flat", "spiky")
# Share of a day's requests per UTC hour for the diurnal profile (a global app, busiest in the evening).
DIURNAL = (
    1.4, 1.0, 0.8, 0.7, 0.8, 1.2, 2.0, 3.0, 3.8, 4.2, 4.4, 4.6,
    4.9, 4.9, 4.7, 4.6, 4.8, 5.2, 5.8, 6.4, 6.8, 6.5, 4.8, 2.6,
)  # fmt: skip


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
    requests: int = 0
    filled: int = 0
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    unbilled_micros: int = 0  # what over-delivered impressions and clicks would have cost
    true_ctr_shown: float = 0.0  # sum of the shown ads' true CTRs (delivered CTR without click noise)
    oracle_ctr: float = 0.0  # sum of the best true CTR in the winning ad's ad group, per impression


@dataclass
class Recorder:
    """What the report needs, sampled at every simulated hour: each ad group's spend against its target."""

    hourly: dict[tuple[int, str], list[tuple[int, int, int]]] = field(default_factory=lambda: defaultdict(list))
    limited: dict[tuple[int, str], bool] = field(default_factory=dict)
    unbilled: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))


class Simulation:
    def __init__(
        self,
        market: Market,
        *,
        start: datetime,
        days: int,
        requests_per_day: int,
        profile: str,
        seed: int,
        speed: float = 0.0,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.market = market
        self.start = start
        self.days = days
        self.requests_per_day = requests_per_day
        self.rng = random.Random(seed)  # noqa: S311 - simulated people, not security
        self.auction_rng = random.Random(seed + 1)  # noqa: S311
        self.shape = traffic_shape(profile, random.Random(seed + 2), days)  # noqa: S311
        self.speed = speed
        self.progress = progress or (lambda line: None)
        self.totals = Totals()
        self.recorder = Recorder()
        self.now = start
        self.client = get_redis()
        self.charger = Charger(self.client)
        self.group_of: dict[int, int] = {}
        self.best_ctr_of_group: dict[int, float] = {}
        self.zones: dict[int, ZoneInfo] = {}
        self.budgets: dict[int, int] = {}
        self.advertiser_of: dict[int, int] = {}

    # --- set-up --------------------------------------------------------------------------------

    def _load(self) -> None:
        groups = AdGroup.objects.filter(pk__in=self.market.ad_groups).select_related("campaign__advertiser")
        for group in groups.prefetch_related("ads"):
            ctrs = [self.market.true_ctr[ad.pk] for ad in group.ads.all()]
            self.best_ctr_of_group[group.pk] = max(ctrs) if ctrs else 0.0
            for ad in group.ads.all():
                self.group_of[ad.pk] = group.pk
            self.zones[group.pk] = ZoneInfo(group.campaign.advertiser.time_zone)
            self.budgets[group.pk] = group.budget_micros
            self.advertiser_of[group.pk] = group.campaign.advertiser_id

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        with clock.use(lambda: self.now):
            self._load()
            services.ensure_partitions(days_ahead=self.days + 1, days_back=1)
            services.rebuild_counters()
            index.compile_snapshot()
            started = time.monotonic()
            per_minute = self.requests_per_day / 1440
            mean_shape = sum(self.shape) / len(self.shape)
            for minute in range(self.days * 1440):
                self.now = self.start + timedelta(minutes=minute)
                self._housekeeping(minute)
                snapshot, live = self._live()
                expected = per_minute * self.shape[minute] / mean_shape
                for offset in sorted(self.rng.random() * 60 for _ in range(_poisson(self.rng, expected))):
                    self.now = self.start + timedelta(minutes=minute, seconds=offset)
                    self._request(snapshot, live)
                if self.speed > 0:
                    ahead = (minute + 1) * 60 / self.speed - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
                if minute % 360 == 359:
                    self.progress(
                        f"day {minute // 1440 + 1} {(minute % 1440 + 1) // 60:02d}:00  {self.totals.requests} requests, "
                        f"{self.totals.impressions} impressions, {self.totals.clicks} clicks"
                    )
            self.now = self.start + timedelta(days=self.days)
            self._housekeeping(self.days * 1440, final=True)

    def _live(self) -> tuple[Any, Any]:
        index.holder._checked_at = 0.0  # read the throttles and exhausted budgets of this simulated minute
        return index.holder.current()

    def _housekeeping(self, minute: int, *, final: bool = False) -> None:
        """What Celery beat runs, on the simulated clock: consumer, posting, pacing, index, rollups."""
        index.holder.flush_traffic()
        services.consume_events()
        if minute % 5 == 0 or final:
            services.post_spend()
        if minute % 60 == 0 or final:
            self._sample_hour()
        if minute % 15 == 0:
            index.compile_snapshot()  # learning: posteriors from what post_spend counted
        if minute % 15 == 0 or final:
            reporting_services.rollup()
        if minute % 60 == 0 or final:
            reporting_services.close_days()
        if not final:
            services.pace()

    def _sample_hour(self) -> None:
        """Each ad group's spend today so far against its pacing target, at this simulated hour."""
        keys, plans = [], []
        for group_id, zone in self.zones.items():
            local = self.now.astimezone(zone)
            day = local.date()
            if local.hour == 0 and local.minute == 0:  # the end of the previous local day
                day -= timedelta(days=1)
                hour = 24
            else:
                hour = local.hour
            keys.append(charging.ad_group_day_key(self.advertiser_of[group_id], group_id, day.isoformat()))
            plans.append((group_id, day, hour))
        states = self.client.hmget(services.PACING_STATE_KEY, [f"ag:{group_id}" for group_id, _, _ in plans])
        spent = self.client.mget(keys) if keys else []
        for (group_id, day, hour), value, state in zip(plans, spent, states, strict=True):
            share = 1.0 if hour == 24 else _state_share(state, day.isoformat())
            budget = self.budgets[group_id]
            self.recorder.hourly[(group_id, day.isoformat())].append((hour, int(value or 0), int(budget * share)))
            if hour == 24:
                self.recorder.limited[(group_id, day.isoformat())] = _limited(state, budget)

    def _request(self, snapshot: Any, live: Any) -> None:
        market, rng = self.market, self.rng
        person = market.people[rng.randrange(len(market.people))]
        placement = rng.choice(sorted(market.placements))
        self.totals.requests += 1
        if snapshot is None or placement not in snapshot.placements:
            return
        request = decision.parse_request(
            {
                "placement": placement,
                "user_id": person.user_id,
                "country": person.country,
                "device": person.device,
                "age": person.age,
                "gender": person.gender,
            }
        )
        index.holder.count_request(placement)
        result = decision.decide(snapshot, live, request, self.client, moment=self.now, rng=self.auction_rng)
        if not result.winners:
            return
        self.totals.filled += 1
        body = decision.render(result, request, self.client, base_url="https://sim.invalid", moment=self.now)
        for ad in body["ads"]:
            query = dict(part.split("=", 1) for part in ad["impression_url"].split("?", 1)[1].split("&"))
            served = links.verify(query["d"], query["s"], "i", now=self.now.timestamp())
            context = tracking.context_for(snapshot, served)
            shown = tracking.record(self.charger, "i", served, context, moment=self.now)
            self._count(shown, served, "impression")
            true_ctr = market.true_ctr.get(served.ad_id, 0.0)
            self.totals.impressions += 1
            self.totals.true_ctr_shown += true_ctr
            self.totals.oracle_ctr += self.best_ctr_of_group.get(served.ad_group_id, true_ctr)
            if rng.random() < min(true_ctr * person.affinity, 1.0):
                clicked = tracking.record(self.charger, "c", served, context, moment=self.now)
                self._count(clicked, served, "click")
                self.totals.clicks += 1
                if clicked.status != "invalid" and rng.random() < market.true_cvr.get(served.ad_id, 0.0):
                    click_id = tracking.remember_click(self.client, served, moment=self.now)
                    conversion = tracking.Conversion(click_id, f"{click_id}-order", "purchase", 0, "")
                    tracking.record_conversion(self.client, served.advertiser_id, conversion, moment=self.now)
                    self.totals.conversions += 1

    def _count(self, outcome: Any, served: links.Served, kind: str) -> None:
        if served.billed_on == kind and outcome.status == "unbilled":
            self.totals.unbilled_micros += served.price_micros
            day = self.now.astimezone(self.zones[served.ad_group_id]).date().isoformat()
            self.recorder.unbilled[(served.ad_group_id, day)] += served.price_micros


def _state_share(raw: Any, day: str) -> float:
    if raw is None:
        return 0.0
    state = json.loads(raw)
    return float(state["share"]) if state.get("day") == day else 0.0


def _limited(raw: Any, budget: int) -> bool:
    """Whether the ad group could have spent more than its budget that day at full throttle (the controller's potential)."""
    if raw is None:
        return False
    state = json.loads(raw)
    exposure = float(state.get("exposure") or 0.0)
    return exposure > 0 and float(state["spend_seen"]) / exposure >= budget


def _poisson(rng: random.Random, mean: float) -> int:
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
