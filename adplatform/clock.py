"""The one place code reads the time, so the traffic simulator can run a day in minutes.

Everything calls `clock.now()` instead of `timezone.now()`. Tests and the simulator swap the
source with `clock.frozen(...)` or `clock.use(...)`.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

_source: Callable[[], datetime] = timezone.now


def now() -> datetime:
    """The current aware datetime (UTC) from the active time source."""
    return _source()


def today_in(tz_name: str) -> date:
    """Today's date in the IANA time zone `tz_name` (an advertiser's day)."""
    return now().astimezone(ZoneInfo(tz_name)).date()


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
