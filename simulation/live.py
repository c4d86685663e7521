"""The simulator's live mode: simulated people using the marketplace in the database, in real time.

`manage.py simulate --live` is the `traffic` process of `make run`. Where the batch simulator
builds its own marketplace and runs days on a simulated clock, the live mode takes the platform as
it is — every placement and serveable ad in the index, the demo advertisers' and whatever anyone
creates while it runs — and plays its people on the real clock: ad requests arrive at random
(a Poisson stream at `requests_per_day`, shaped by the engine's diurnal curve over the UTC day),
each through `Visitor.visit`, so the decision, the charge script and the event stream are the
platform's own code, exactly as in the batch simulator.

The people are drawn as the batch simulator's are (country, device, age, gender, affinity) and
also say their language, operating system and interests, so ad groups targeting those (the demo
bakery's do) can win. Person n is drawn from the seed and n whenever they come back, so a large
population costs no memory and is the same from run to run (frequency caps and reach see the
same people). Each ad's hidden true CTR and conversion rate are drawn from the seed and the ad's
id the same way: an ad created a minute ago has them too.

Everything else is the rest of `make run`'s business: Celery beat compiles the index, runs the
pacing controller, the stream consumer, spend posting and the rollups. The live mode reads the
index as the decision endpoint does (`index.holder.current()`, which looks for a new snapshot,
throttles and spent budgets at most once a second) and sends its request counts to pacing's
traffic profile the same way.
"""

import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC

from django.db import DatabaseError, connection
from redis.exceptions import RedisError

from adplatform import clock
from adplatform.redis_client import get_redis
from campaigns.models import Interest
from delivery import index
from delivery.charging import Charger
from delivery.index import LiveState
from delivery.types import Snapshot

from .engine import DIURNAL
from .market import Person, draw_person, draw_rates
from .visit import Visitor

logger = logging.getLogger(__name__)

WAIT_SECONDS = 10.0  # no placement in the index yet: look again this much later
ERROR_PAUSE_SECONDS = 2.0  # after a Redis or database error, before the next request
PROGRESS_SECONDS = 60.0
NAP_SECONDS = 0.25  # sleeps are cut into naps this long, so a signal or the deadline ends a run promptly
MEAN_DIURNAL = sum(DIURNAL) / len(DIURNAL)
LANGUAGES = {  # country -> languages its people speak, drawn from (the rest speak English)
    "DE": ("de", "de", "de", "en"),
    "FR": ("fr", "fr", "fr", "en"),
    "JP": ("ja", "ja", "ja", "en"),
    "BR": ("pt", "pt", "pt", "en"),
    "IN": ("en", "hi"),
}
SYSTEMS = {"mobile": ("android", "android", "ios"), "tablet": ("android", "ios"), "desktop": ("windows", "windows", "macos")}
MAX_INTERESTS = 5


@dataclass
class Counts:
    """What the live traffic has done so far."""

    requests: int = 0
    filled: int = 0
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    errors: int = 0

    def text(self) -> str:
        line = (
            f"{self.requests:,} requests ({self.filled:,} filled), {self.impressions:,} impressions, "
            f"{self.clicks:,} clicks, {self.conversions:,} conversions"
        )
        return f"{line}, {self.errors:,} errors" if self.errors else line


def requests_per_second(requests_per_day: float, hour: int) -> float:
    """The request rate at `hour` (UTC): the day's requests spread along the diurnal curve."""
    return requests_per_day / 86_400 * DIURNAL[hour] / MEAN_DIURNAL


def hidden_rates(seed: int, ad_id: int) -> tuple[float, float]:
    """An ad's hidden true CTR and conversion rate, drawn as the batch marketplace draws them, from the seed and its id."""
    return draw_rates(random.Random(f"live-{seed}-ad-{ad_id}"))  # noqa: S311 - simulated people, not security


def live_person(seed: int, number: int, interests: list[str]) -> Person:
    """Person `number` of the population, the same each time: drawn like the batch simulator's, plus language, OS, interests."""
    rng = random.Random(f"live-{seed}-person-{number}")  # noqa: S311 - simulated people, not security
    person = draw_person(rng, f"live{seed}-person-{number}")
    language = rng.choice(LANGUAGES.get(person.country, ("en",)))
    os = rng.choice(SYSTEMS[person.device])
    liked = tuple(sorted(rng.sample(interests, min(rng.randint(0, MAX_INTERESTS), len(interests)))))
    return replace(person, language=language, os=os, interests=liked)


class LiveTraffic:
    """Simulated people asking the platform for ads on the real clock, until stopped or for `minutes`."""

    def __init__(
        self,
        *,
        requests_per_day: int,
        seed: int,
        people: int,
        minutes: float | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.requests_per_day = requests_per_day
        self.seed = seed
        self.population = people
        self.minutes = minutes
        self.progress = progress or (lambda line: None)
        self.rng = random.Random(seed)  # noqa: S311 - simulated people, not security
        self.counts = Counts()
        self.interests: list[str] | None = None  # the taxonomy's, once read from the database
        self._rates: dict[int, tuple[float, float]] = {}
        self._stopping = False
        self._deadline: float | None = None
        self.visitor = Visitor(
            client=get_redis(),
            charger=Charger(get_redis()),
            rng=self.rng,
            auction_rng=random.Random(seed + 1),  # noqa: S311
            rates=self._rates_of,
        )

    def stop(self) -> None:
        """End the run after the request in flight (what SIGINT and SIGTERM do)."""
        self._stopping = True

    def run(self) -> Counts:
        """Send requests until stopped or out of time; print progress every minute and a summary at the end."""
        began = time.monotonic()
        self._deadline = began + self.minutes * 60 if self.minutes is not None else None
        with _stopping_on_signals(self.stop):
            self._loop()
        try:
            index.holder.flush_traffic()  # the last second's requests count in pacing's traffic profile too
        except RedisError as exc:
            logger.warning("live traffic: could not send the last request counts: %s", exc)
        self.progress(f"live traffic stopped after {_duration(time.monotonic() - began)}: {self.counts.text()}")
        return self.counts

    # --- the loop ------------------------------------------------------------------------------

    def _loop(self) -> None:
        last_progress = time.monotonic()
        next_at: float | None = None  # when the next request is due (None: now, after a wait)
        waiting = announced = False
        while not self._over():
            if self.interests is None and not self._read_interests():
                self._nap(WAIT_SECONDS)
                continue
            try:
                snapshot, live = index.holder.current()
            except RedisError as exc:
                self._failed(exc)
                continue
            if snapshot is None or not snapshot.placements:
                if not waiting:
                    self.progress(
                        f"live traffic: no placement in the index yet, looking again every {WAIT_SECONDS:.0f} s "
                        "(Celery beat compiles it every minute; seed_demo creates the demo placements)"
                    )
                    waiting = True
                self._nap(WAIT_SECONDS)
                next_at = None
                continue
            placements = sorted(snapshot.placements)
            if not announced or waiting:
                self._announce(len(placements), len({ad.ad_id for ads in snapshot.candidates.values() for ad in ads}))
                announced, waiting = True, False
            now = time.monotonic()
            if next_at is None or next_at < now - 1.0:  # after a wait or a slow spell: no burst to catch up
                next_at = now
            if next_at > now:
                self._nap(next_at - now)
                continue  # the index may have changed meanwhile; look again, then send
            self._request(snapshot, live, placements)
            next_at += self.rng.expovariate(requests_per_second(self.requests_per_day, clock.now().astimezone(UTC).hour))
            if time.monotonic() - last_progress >= PROGRESS_SECONDS:
                last_progress = time.monotonic()
                self.progress(f"{clock.now().astimezone(UTC):%H:%M:%S} UTC  {self.counts.text()}")

    def _request(self, snapshot: Snapshot, live: LiveState, placements: list[str]) -> None:
        """One person asks one placement for an ad (the index and Redis, no SQL); a Redis error is logged and traffic goes on."""
        person = live_person(self.seed, self.rng.randrange(self.population), self.interests or [])
        placement = self.rng.choice(placements)
        self.counts.requests += 1
        try:
            views = self.visitor.visit(person, placement, snapshot, live, moment=clock.now())
        except RedisError as exc:
            self._failed(exc)
            return
        if not views:
            return
        self.counts.filled += 1
        for view in views:
            self.counts.impressions += 1
            if view.click is not None:
                self.counts.clicks += 1
                if view.converted:
                    self.counts.conversions += 1

    def _read_interests(self) -> bool:
        """The interests people may have: the platform's taxonomy, read once (False if the database cannot be read yet)."""
        try:
            interests = list(Interest.objects.filter(is_active=True).order_by("key").values_list("key", flat=True))
        except DatabaseError as exc:
            connection.close()  # a broken connection is opened afresh by the next try
            self._failed(exc)
            return False
        self.interests = interests
        return True

    def _announce(self, placements: int, ads: int) -> None:
        per_minute = requests_per_second(self.requests_per_day, clock.now().astimezone(UTC).hour) * 60
        self.progress(
            f"live traffic: {self.population:,} people asking {placements} placement(s) with {ads} serveable ad(s) "
            f"for ads, {self.requests_per_day:,} requests a day on the diurnal curve (about {per_minute:,.0f} a minute "
            f"now), seed {self.seed}; Ctrl-C stops"
        )

    def _rates_of(self, ad_id: int) -> tuple[float, float]:
        rates = self._rates.get(ad_id)
        if rates is None:
            rates = self._rates[ad_id] = hidden_rates(self.seed, ad_id)
        return rates

    # --- time ----------------------------------------------------------------------------------

    def _over(self) -> bool:
        return self._stopping or (self._deadline is not None and time.monotonic() >= self._deadline)

    def _nap(self, seconds: float) -> None:
        """Sleep `seconds`, or less if stopped or out of time meanwhile."""
        until = time.monotonic() + seconds
        if self._deadline is not None:
            until = min(until, self._deadline)
        while not self._stopping and (left := until - time.monotonic()) > 0:
            time.sleep(min(left, NAP_SECONDS))

    def _failed(self, exc: Exception) -> None:
        self.counts.errors += 1
        message = " ".join(str(exc).split())  # one line, however the driver words it
        logger.warning("live traffic: %s: %s; going on in %.0f s", type(exc).__name__, message, ERROR_PAUSE_SECONDS)
        self._nap(ERROR_PAUSE_SECONDS)


@contextmanager
def _stopping_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM call `stop` instead of ending the process, while inside (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, lambda *_: stop()) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"
