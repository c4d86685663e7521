"""Who may see an ad right now: targeting, schedule and dayparting. Pure functions.

`matches` and `in_schedule` answer for one candidate. `CandidateIndex` gives the same answers for
all of a placement's candidates at once, as bit masks (bit i is candidate i), so a decision costs a
few integer ANDs instead of a loop over every candidate: masks are built once per snapshot, per
request value on first use, and per schedule window (between two start or end times, per
half-hour slot of each time zone).
"""

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from itertools import compress
from zoneinfo import ZoneInfo

from campaigns.choices import SLOTS_PER_DAY

from .types import AdRequest, Candidate, Snapshot, Targeting

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


# --- all candidates at once -----------------------------------------------------------------------

_BIT_VALUES = bytes.maketrans(b"01", b"\x00\x01")


def _by_value(value_sets: Iterable[frozenset]) -> tuple[int, dict[object, int]]:
    """(mask of candidates without the restriction, value -> mask of candidates a request with that value passes)."""
    everyone = 0
    members: dict[object, list[int]] = {}
    for position, values in enumerate(value_sets):
        if not values:
            everyone |= 1 << position
        for value in values:
            members.setdefault(value, []).append(position)
    return everyone, {value: everyone | _mask(positions) for value, positions in members.items()}


def _mask(positions: Iterable[int]) -> int:
    mask = 0
    for position in positions:
        mask |= 1 << position
    return mask


class CandidateIndex:
    """The answers of `in_schedule` and `matches` for a fixed list of candidates, a whole request at a time."""

    def __init__(self, candidates: list[Candidate]) -> None:
        self.candidates = candidates
        targetings = [candidate.targeting for candidate in candidates]
        self.everyone = (1 << len(candidates)) - 1
        self._countries = _by_value(t.countries for t in targetings)
        self._languages = _by_value(t.languages for t in targetings)
        self._genders = _by_value(t.genders for t in targetings)
        self._devices = _by_value(t.device_types for t in targetings)
        self._systems = _by_value(t.operating_systems for t in targetings)
        self._interests = _by_value(t.interests for t in targetings)
        self._aged = [(position, t.age_ranges) for position, t in enumerate(targetings) if t.age_ranges]
        self._any_age = self.everyone & ~_mask(position for position, _ in self._aged)
        self._ages: dict[int, int] = {}
        # Whether now is between start and end changes only at one of these times, so the answer is
        # the same for every moment between two neighbours: one mask per such window.
        self._bounds = sorted({c.start_ts for c in candidates} | {c.end_ts for c in candidates if c.end_ts is not None})
        self._windows: dict[int, int] = {}
        self._always = _mask(position for position, c in enumerate(candidates) if not c.dayparting)
        zones: dict[str, list[int]] = {}
        for position, candidate in enumerate(candidates):
            if candidate.dayparting:
                zones.setdefault(candidate.time_zone, []).append(position)
        self._zones = [(zone, _mask(positions), positions) for zone, positions in zones.items()]
        self._slots: dict[tuple[str, int], int] = {}
        self._spent: tuple[frozenset[str], int] | None = None

    def select(self, mask: int) -> list[Candidate]:
        """The candidates whose bits are set, in their order."""
        if not mask:
            return []
        return list(compress(self.candidates, bin(mask)[:1:-1].encode().translate(_BIT_VALUES)))

    def matching(self, request: AdRequest) -> int:
        """Mask of the candidates whose targeting `matches` the request."""
        everyone, members = self._countries
        mask = members.get(request.country, everyone)
        everyone, members = self._languages
        mask &= members.get(request.language, everyone)
        everyone, members = self._genders
        mask &= members.get(request.gender, everyone)
        everyone, members = self._devices
        mask &= members.get(request.device, everyone)
        everyone, members = self._systems
        mask &= members.get(request.os, everyone)
        mask &= self._age_mask(request.age)
        everyone, members = self._interests
        if everyone != self.everyone:
            interested = everyone
            for interest in request.interests:
                interested |= members.get(interest, 0)
            mask &= interested
        return mask

    def _age_mask(self, age: int | None) -> int:
        if age is None or not self._aged:
            return self._any_age
        mask = self._ages.get(age)
        if mask is None:
            fits = (position for position, ranges in self._aged if any(low <= age <= high for low, high in ranges))
            mask = self._ages[age] = self._any_age | _mask(fits)
        return mask

    def scheduled(self, moment: datetime, among: int | None = None) -> int:
        """Mask of the candidates `in_schedule` at `moment` (of those in `among`, when given: only their
        time zones are looked at)."""
        now = moment.timestamp()
        window = bisect_right(self._bounds, now)
        running = self._windows.get(window)
        if running is None:
            running = self._windows[window] = _mask(
                position
                for position, c in enumerate(self.candidates)
                if not (now < c.start_ts or (c.end_ts is not None and now >= c.end_ts))
            )
        if among is not None:
            running &= among
        mask = running & self._always
        for zone, in_zone, positions in self._zones:
            if running & in_zone:
                mask |= running & self._slot_mask(zone, week_slot(moment, zone), positions)
        return mask

    def _slot_mask(self, zone: str, slot: int, positions: list[int]) -> int:
        mask = self._slots.get((zone, slot))
        if mask is None:
            mask = self._slots[(zone, slot)] = _mask(p for p in positions if slot in self.candidates[p].dayparting)
        return mask

    def unspent(self, exhausted: frozenset[str]) -> int:
        """Mask of the candidates whose ad group, campaign and advertiser are all absent from `exhausted`."""
        spent = self._spent
        if spent is not None and spent[0] is exhausted:
            return spent[1]
        mask = _mask(
            position
            for position, c in enumerate(self.candidates)
            if not (
                f"ag:{c.ad_group_id}" in exhausted or f"c:{c.campaign_id}" in exhausted or f"a:{c.advertiser_id}" in exhausted
            )
        )
        self._spent = (exhausted, mask)
        return mask


# The indexes of the two snapshots seen last: requests still deciding with the old one while the
# new one is swapped in do not throw the new one's away.
_indexes: list[tuple[Snapshot, dict[str, tuple[object, object, int, CandidateIndex]]]] = []


def candidate_index(snapshot: Snapshot, placement_key: str) -> CandidateIndex:
    """The index of the placement's candidates in a format it shows, built once per snapshot."""
    global _indexes
    placement = snapshot.placements[placement_key]
    listed = snapshot.candidates.get(placement_key, [])
    built = next((indexes for held, indexes in _indexes if held is snapshot), None)
    if built is None:
        built = {}
        _indexes = [(snapshot, built), *_indexes[:1]]
    entry = built.get(placement_key)
    if entry is not None and entry[0] is listed and entry[1] is placement and entry[2] == len(listed):
        return entry[3]
    index = CandidateIndex([c for c in listed if c.format in placement.formats])
    built[placement_key] = (listed, placement, len(listed), index)
    return index
