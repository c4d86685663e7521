"""The rules a campaign, ad group or ad must satisfy, as pure functions returning errors per field.

Services gather the whole intended state (current values merged with the changes) and call these,
so a rule that spans fields (a lifetime budget needs an end time) holds however the change came in.
No ORM here: callers pass the facts the rules need.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import urlparse

import pycountry

from adplatform import money

from .choices import (
    BID_STRATEGIES_FOR_OBJECTIVE,
    FREQUENCY_CAP_MAX_DAYS,
    SLOTS_PER_WEEK,
    VIDEO_MAX_SECONDS,
    AdFormat,
    AgeRange,
    BidStrategy,
    BudgetMode,
    CallToAction,
    DeviceType,
    Gender,
    Objective,
    OperatingSystem,
    Pacing,
    Status,
)

Errors = dict[str, list[str]]
FREQUENCY_CAP_MAX_IMPRESSIONS = 1000
SECONDS_PER_DAY = 86_400
# Schedules are read back, shown and paced in any time zone: far from the calendar's ends, none overflows.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CurrencyFacts:
    """What budget and bid rules need to know about the advertiser's currency."""

    code: str
    units_per_usd: Decimal
    min_daily_budget_micros: int

    def show(self, micros: int) -> str:
        return f"{money.format_amount(micros)} {self.code}"


@dataclass(frozen=True)
class PlacementFacts:
    key: str
    name: str
    allowed_formats: tuple[str, ...]
    floor_cpm_usd_micros: int
    is_active: bool


@cache
def country_codes() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries)


@cache
def language_codes() -> frozenset[str]:
    return frozenset(language.alpha_2 for language in pycountry.languages if hasattr(language, "alpha_2"))


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _choice(errors: Errors, field: str, value: Any, choices: Iterable[str]) -> None:
    allowed = list(choices)
    if value not in allowed:
        _add(errors, field, f"Choose one of: {', '.join(allowed)}.")


def _name(errors: Errors, field: str, value: str, limit: int) -> None:
    if not value or not value.strip():
        _add(errors, field, "Enter a name." if field == "name" else "This field is required.")
    elif len(value) > limit:
        _add(errors, field, f"Use at most {limit} characters.")


def budget_errors(
    *, mode: str, micros: int, currency: CurrencyFacts, start: datetime | None = None, end: datetime | None = None
) -> Errors:
    """A budget: none for unlimited; at least the currency's daily minimum per day otherwise."""
    errors: Errors = {}
    if mode not in BudgetMode.values:
        _choice(errors, "budget_mode", mode, BudgetMode.values)
        return errors
    if mode == BudgetMode.UNLIMITED:
        if micros:
            _add(errors, "budget", "An unlimited budget has no amount; choose daily or lifetime to set one.")
        return errors
    if micros <= 0:
        _add(errors, "budget", "Enter a budget above zero.")
        return errors
    if micros > money.MAX_AMOUNT_MICROS:
        _add(errors, "budget", "This budget is too large.")
        return errors
    minimum = currency.min_daily_budget_micros
    if mode == BudgetMode.LIFETIME and start is not None and end is not None and end > start:
        days = math.ceil((end - start).total_seconds() / SECONDS_PER_DAY)
        if micros < minimum * days:
            _add(
                errors,
                "budget",
                f"A lifetime budget over {days} days must be at least {currency.show(minimum * days)} "
                f"({currency.show(minimum)} a day).",
            )
    elif micros < minimum:
        _add(errors, "budget", f"The smallest {mode} budget is {currency.show(minimum)}.")
    return errors


def campaign_errors(
    *, state: Mapping[str, Any], currency: CurrencyFacts, ad_groups_without_end: int = 0, ad_group_strategies: Iterable[str] = ()
) -> Errors:
    """Every rule for a campaign's fields (`state` is the full intended state)."""
    errors: Errors = {}
    _name(errors, "name", state["name"], 200)
    _choice(errors, "objective", state["objective"], Objective.values)
    _choice(errors, "status", state["status"], Status.values)
    errors.update(budget_errors(mode=state["budget_mode"], micros=state["budget_micros"], currency=currency))
    if state["budget_mode"] == BudgetMode.LIFETIME and ad_groups_without_end:
        _add(errors, "budget_mode", f"A lifetime budget needs an end time: {ad_groups_without_end} ad group(s) have none.")
    if state["objective"] in Objective.values:
        allowed = BID_STRATEGIES_FOR_OBJECTIVE[Objective(state["objective"])]
        unfit = sorted({strategy for strategy in ad_group_strategies if strategy not in allowed})
        if unfit:
            _add(errors, "objective", f"Ad groups bid {', '.join(unfit)}, which does not fit this objective.")
    return errors


def _codes(errors: Errors, field: str, values: Any, known: Iterable[str], what: str) -> None:
    if not isinstance(values, list | tuple):
        _add(errors, field, "Send a list.")
        return
    known_set = set(known)
    unknown = [str(value) for value in values if value not in known_set]
    if unknown:
        _add(errors, field, f"Unknown {what}: {', '.join(unknown)}.")


def targeting_errors(*, state: Mapping[str, Any], known_interests: Iterable[str]) -> Errors:
    """Targeting lists hold only known values (an empty list means everyone)."""
    errors: Errors = {}
    _codes(errors, "countries", state["countries"], country_codes(), "country")
    _codes(errors, "age_ranges", state["age_ranges"], AgeRange.values, "age range")
    _codes(errors, "genders", state["genders"], Gender.values, "gender")
    _codes(errors, "languages", state["languages"], language_codes(), "language")
    _codes(errors, "interests", state["interests"], known_interests, "interest")
    _codes(errors, "device_types", state["device_types"], DeviceType.values, "device type")
    _codes(errors, "operating_systems", state["operating_systems"], OperatingSystem.values, "operating system")
    slots = state["dayparting"]
    if not isinstance(slots, list | tuple) or not all(isinstance(slot, int) and not isinstance(slot, bool) for slot in slots):
        _add(errors, "dayparting", "Send a list of half-hour slots (whole numbers).")
    elif any(not 0 <= slot < SLOTS_PER_WEEK for slot in slots):
        _add(errors, "dayparting", f"Slots run from 0 (Monday 00:00) to {SLOTS_PER_WEEK - 1} (Sunday 23:30).")
    impressions, days = state["frequency_cap_impressions"], state["frequency_cap_days"]
    if (impressions is None) != (days is None):
        _add(errors, "frequency_cap", "Give both impressions and days, or neither.")
    elif impressions is not None:
        if not 1 <= impressions <= FREQUENCY_CAP_MAX_IMPRESSIONS:
            _add(errors, "frequency_cap", f"Impressions must be between 1 and {FREQUENCY_CAP_MAX_IMPRESSIONS}.")
        if not 1 <= days <= FREQUENCY_CAP_MAX_DAYS:
            _add(errors, "frequency_cap", f"Days must be between 1 and {FREQUENCY_CAP_MAX_DAYS}.")
    return errors


def ad_group_errors(
    *,
    state: Mapping[str, Any],
    objective: str,
    campaign_budget_mode: str,
    placements: list[PlacementFacts],
    unknown_placements: list[str],
    currency: CurrencyFacts,
    known_interests: Iterable[str],
) -> Errors:
    """Every rule for an ad group's fields (`state` is the full intended state)."""
    errors: Errors = {}
    _name(errors, "name", state["name"], 200)
    _choice(errors, "status", state["status"], Status.values)
    _choice(errors, "pacing", state["pacing"], Pacing.values)
    if unknown_placements:
        _add(errors, "placements", f"Unknown placement: {', '.join(unknown_placements)}.")
    elif not placements:
        _add(errors, "placements", "Choose at least one placement.")
    inactive = [placement.key for placement in placements if not placement.is_active]
    if inactive:
        _add(errors, "placements", f"No longer available: {', '.join(inactive)}.")
    errors.update(targeting_errors(state=state, known_interests=known_interests))

    start, end = state["start_time"], state["end_time"]
    for field, moment in (("start_time", start), ("end_time", end)):
        if moment is not None and not EARLIEST_TIME <= moment < LATEST_TIME:
            _add(errors, field, f"Choose a time from {EARLIEST_TIME.year} to {LATEST_TIME.year - 1}.")
    if end is not None and end <= start:
        _add(errors, "end_time", "The end must be after the start.")
    if state["budget_mode"] == BudgetMode.LIFETIME and end is None:
        _add(errors, "end_time", "A lifetime budget needs an end time.")
    if campaign_budget_mode == BudgetMode.LIFETIME and end is None:
        _add(errors, "end_time", "The campaign has a lifetime budget, so its ad groups need an end time.")
    errors.update(
        budget_errors(mode=state["budget_mode"], micros=state["budget_micros"], currency=currency, start=start, end=end)
    )

    strategy, bid = state["bid_strategy"], state["bid_micros"]
    if strategy not in BidStrategy.values:
        _choice(errors, "bid_strategy", strategy, BidStrategy.values)
    elif objective in Objective.values and strategy not in BID_STRATEGIES_FOR_OBJECTIVE[Objective(objective)]:
        fitting = ", ".join(sorted(BID_STRATEGIES_FOR_OBJECTIVE[Objective(objective)]))
        _add(errors, "bid_strategy", f"{strategy} does not fit the {objective} objective; use {fitting}.")
    if bid is None or bid <= 0:
        _add(errors, "bid", "Enter a bid above zero.")
    elif bid > money.MAX_AMOUNT_MICROS:
        _add(errors, "bid", "This bid is too large.")
    elif strategy == BidStrategy.CPM:
        for placement in placements:
            floor = money.usd_to_currency(placement.floor_cpm_usd_micros, currency.units_per_usd)
            if bid < floor:
                _add(errors, "bid", f"The CPM bid must be at least {currency.show(floor)}, the floor of {placement.name}.")
    return errors


def _https_url(errors: Errors, field: str, value: str) -> None:
    if not value:
        _add(errors, field, "This field is required.")
        return
    try:
        parts = urlparse(value)
    except ValueError:  # an unclosed IPv6 bracket: "https://[::1"
        parts = None
    if parts is None or parts.scheme != "https" or not parts.netloc or "." not in parts.netloc or " " in value:
        _add(errors, field, "Enter a full https:// address, e.g. https://example.com/offer.")
    elif len(value) > 2048:
        _add(errors, field, "Use at most 2048 characters.")


def ad_errors(*, state: Mapping[str, Any]) -> Errors:
    """Every rule for an ad's fields (`state` is the full intended state)."""
    errors: Errors = {}
    _choice(errors, "format", state["format"], AdFormat.values)
    _choice(errors, "status", state["status"], Status.values)
    _choice(errors, "call_to_action", state["call_to_action"], CallToAction.values)
    _name(errors, "display_name", state["display_name"], 40)
    _name(errors, "headline", state["headline"], 100)
    if len(state["body"]) > 500:
        _add(errors, "body", "Use at most 500 characters.")
    if state["format"] == AdFormat.TEXT:
        if not state["body"].strip():
            _add(errors, "body", "A text ad needs a body.")
        if state["media_url"]:
            _add(errors, "media_url", "A text ad has no media.")
    elif state["format"] in AdFormat.values:
        _https_url(errors, "media_url", state["media_url"])
    duration = state["video_duration_seconds"]
    if state["format"] == AdFormat.VIDEO:
        if duration is None:
            _add(errors, "video_duration_seconds", "Give the video's length in seconds.")
        elif not 1 <= duration <= VIDEO_MAX_SECONDS:
            _add(errors, "video_duration_seconds", f"Videos run 1 to {VIDEO_MAX_SECONDS} seconds.")
    elif duration is not None:
        _add(errors, "video_duration_seconds", "Only video ads have a duration.")
    _https_url(errors, "landing_url", state["landing_url"])
    return errors
