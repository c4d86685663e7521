"""Who may see an ad right now: targeting, schedule and dayparting. Pure functions."""

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from campaigns.choices import SLOTS_PER_DAY

from .types import AdRequest, Candidate, Targeting

AGE_BOUNDS = {"13-17": (13, 17), "18-24": (18, 24), "25-34": (25, 34), "35-44": (35, 44), "45-54": (45, 54), "55+": (55, 200)}


def age_ranges(codes: list[str]) -> tuple[tuple[int, int], ...]:
    return tuple(AGE_BOUNDS[code] for code in codes if code in AGE_BOUNDS)


def matches(targeting: Targeting, request: AdRequest) -> bool:
    """Whether the request's person fits. A restriction the request cannot answer does not match."""
    if targeting.countries and request.country not in targeting.countries:
        return False
    if targeting.languages and request.language not in targeting.languages:
        return False
    if targeting.genders and request.gender not in targeting.genders:
        return False
    if targeting.device_types and request.device not in targeting.device_types:
        return False
    if targeting.operating_systems and request.os not in targeting.operating_systems:
        return False
    if targeting.age_ranges:
        age = request.age
        if age is None or not any(low <= age <= high for low, high in targeting.age_ranges):
            return False
    return not (targeting.interests and targeting.interests.isdisjoint(request.interests))


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def week_slot(moment: datetime, time_zone: str) -> int:
    """The half-hour slot of the week (Monday 00:00 = 0) that `moment` falls in, in `time_zone`."""
    local = moment.astimezone(_zone(time_zone))
    return local.weekday() * SLOTS_PER_DAY + local.hour * 2 + (local.minute >= 30)


def in_schedule(candidate: Candidate, moment: datetime) -> bool:
    """Started, not ended, and inside its dayparting hours (advertiser's time zone)."""
    now = moment.timestamp()
    if now < candidate.start_ts or (candidate.end_ts is not None and now >= candidate.end_ts):
        return False
    return not candidate.dayparting or week_slot(moment, candidate.time_zone) in candidate.dayparting


def local_date(moment: datetime, time_zone: str) -> str:
    """The advertiser's calendar day of `moment`, ISO format (budgets reset at their midnight)."""
    return moment.astimezone(_zone(time_zone)).date().isoformat()
