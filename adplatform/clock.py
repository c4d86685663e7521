"""The one place code reads the time, so the traffic simulator can run a day in minutes.

Everything calls `clock.now()` instead of `timezone.now()`. Tests and the simulator swap the
source with `clock.frozen(...)` or `clock.use(...)`.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

_source: Callable[[], datetime] = timezone.now


def now() -> datetime:
    """The current aware datetime (UTC) from the active time source."""
    return _source()


def today_in(tz_name: str) -> date:
    """Today's date in the IANA time zone `tz_name` (an advertiser's day)."""
    return now().astimezone(ZoneInfo(tz_name)).date()


def day_start(zone: ZoneInfo | str, day: date) -> datetime:
    """When the local `day` of `zone` begins, in UTC.

    In UTC because two datetimes of one tzinfo subtract as wall clocks: every local day would be 24 hours.
    """
    zone = ZoneInfo(zone) if isinstance(zone, str) else zone
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def day_bounds(zone: ZoneInfo | str, day: date) -> tuple[datetime, datetime]:
    """When the local `day` of `zone` begins and when the next one begins, in UTC (23 or 25 hours apart on DST days)."""
    return day_start(zone, day), day_start(zone, day + timedelta(days=1))


@contextmanager
def use(source: Callable[[], datetime]) -> Iterator[None]:
    """Read time from `source` inside the block."""
    global _source
    previous = _source
    _source = source
    try:
        yield
    finally:
        _source = previous


@contextmanager
def frozen(moment: datetime) -> Iterator[None]:
    """Stop the clock at the aware datetime `moment` inside the block."""
    if timezone.is_naive(moment):
        raise ValueError("clock.frozen needs an aware datetime")
    with use(lambda: moment):
        yield
