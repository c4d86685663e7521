"""How campaigns look on the dashboard: badges, money and schedule texts, summaries, history rows."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from adplatform import money
from delivery.status import (
    LEARNING_CLICKS,
    LEARNING_CONVERSIONS,
    LEARNING_IMPRESSIONS,
    LIMITED_BY_BUDGET_HINT,
    NOTHING_SPENT,
    DeliveryStatus,
    PaceCode,
    Reason,
    SpendState,
    TodaysPace,
    ad_group_pace,
    ad_group_status,
    ad_status,
    campaign_status,
)

from . import selectors
from .choices import (
    SLOTS_PER_DAY,
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
    ReviewStatus,
    Status,
)
from .forms import country_choices, language_choices
from .models import Ad, AdGroup, Campaign

TONES = {
    Reason.DELIVERING: "success",
    Reason.LEARNING: "primary",  # serving, like delivering, but not settled yet
    Reason.IN_REVIEW: "info",
    Reason.NOT_STARTED: "info",
    Reason.OFF_SCHEDULE: "info",
    Reason.REJECTED: "danger",
    Reason.ACCOUNT_SUSPENDED: "danger",
    Reason.NO_ADS: "warning",
    Reason.NO_AD_GROUPS: "warning",
    Reason.ENDED: "dark",
    Reason.NO_BALANCE: "danger",
    Reason.LIFETIME_BUDGET_SPENT: "warning",
    Reason.DAILY_BUDGET_SPENT: "warning",
}
HINTS = {
    Reason.LEARNING: (
        f"Delivering while the system learns how people respond to its ads, until they have together "
        f"{LEARNING_IMPRESSIONS:,} impressions and {LEARNING_CLICKS} clicks (and {LEARNING_CONVERSIONS} conversions for oCPM). "
        "Results and costs can vary until then."
    ),
}
PACE_TONES = {PaceCode.ON_PACE: "success", PaceCode.AHEAD: "warning", PaceCode.BEHIND: "warning", PaceCode.SPENT: "secondary"}
REVIEW_TONES = {ReviewStatus.PENDING: "info", ReviewStatus.APPROVED: "success", ReviewStatus.REJECTED: "danger"}
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DASH = "\u2013"  # the en dash of ranges: Mon-Fri 09:00-18:00 as people write it
FIELD_LABELS = {
    "budget_mode": "Budget type",
    "bid_strategy": "Bid strategy",
    "age_ranges": "Age",
    "device_types": "Devices",
    "operating_systems": "Operating systems",
    "start_time": "Start",
    "end_time": "End",
    "frequency_cap_impressions": "Frequency cap (impressions)",
    "frequency_cap_days": "Frequency cap (days)",
    "display_name": "Display name",
    "media_url": "Media URL",
    "video_duration_seconds": "Video length (s)",
    "call_to_action": "Call to action",
    "landing_url": "Landing page",
    "review_status": "Review",
    "review_reason": "Review reason",
}
CHOICES_OF_FIELD: dict[str, Any] = {
    "objective": Objective,
    "budget_mode": BudgetMode,
    "status": Status,
    "pacing": Pacing,
    "bid_strategy": BidStrategy,
    "format": AdFormat,
    "call_to_action": CallToAction,
    "review_status": ReviewStatus,
}
HISTORY_HIDDEN = {"reviewed_by", "reviewed_at"}
REVIEW_NOTES = {"approved", "rejected"}  # decisions taken by platform staff
HISTORY_RANK = {Campaign: 0, AdGroup: 1, Ad: 2}
BID_UNITS = {BidStrategy.CPM: "per 1,000 impressions", BidStrategy.CPC: "per click", BidStrategy.OCPM: "per conversion"}

HISTORY_LIMIT = 200


# --- presentation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Badge:
    code: str
    label: str
    tone: str
    hint: str = ""


def delivery_badge(status: DeliveryStatus) -> Badge:
    return Badge(status.code, status.label, TONES.get(status.reason, "secondary"), HINTS.get(status.reason, ""))


@dataclass(frozen=True)
class PaceView:
    """Today's pace of a budget as the campaign page shows it (`delivery.status.TodaysPace`)."""

    badge: Badge
    spent: str  # "3.20 of 5.00 EUR spent today"
    planned: str  # "3.10 EUR planned by now"
    limited_by_budget: bool

    @property
    def limited_hint(self) -> str:
        return LIMITED_BY_BUDGET_HINT


def pace_view(pace: TodaysPace | None, currency: str) -> PaceView | None:
    if pace is None:
        return None
    return PaceView(
        Badge(pace.code, pace.label, PACE_TONES[pace.code], pace.hint),
        f"{money.format_amount(pace.spent_micros)} of {amount(pace.budget_micros, currency)} spent today",
        f"{amount(pace.planned_micros, currency)} planned by now",
        pace.limited_by_budget and pace.code != PaceCode.SPENT,
    )


def amount(micros: int, currency: str) -> str:
    return f"{money.format_amount(micros)} {currency}"


def budget_text(mode: str, micros: int, currency: str) -> str:
    if mode == BudgetMode.UNLIMITED:
        return "No limit"
    return f"{amount(micros, currency)} {'a day' if mode == BudgetMode.DAILY else 'lifetime'}"


def _runs(values: list[int]) -> list[tuple[int, int]]:
    """Contiguous runs of sorted integers as (first, last)."""
    runs: list[tuple[int, int]] = []
    for value in values:
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def _clock_time(half_hour: int) -> str:
    return f"{half_hour // 2:02d}:{30 * (half_hour % 2):02d}"


def dayparting_summary(slots: Iterable[int]) -> str:
    """'Mon-Fri 09:00-18:00; Sat, Sun 10:00-14:00' (with en dashes) for half-hour slots; empty means always."""
    chosen = sorted(set(slots))
    if not chosen or len(chosen) == 7 * SLOTS_PER_DAY:
        return "All day, every day"
    hours_by_day: dict[str, list[int]] = {}
    for day in range(7):
        halves = [slot % SLOTS_PER_DAY for slot in chosen if slot // SLOTS_PER_DAY == day]
        if halves:
            hours = ", ".join(f"{_clock_time(first)}{DASH}{_clock_time(last + 1)}" for first, last in _runs(halves))
            hours_by_day.setdefault(hours.replace(f"00:00{DASH}24:00", "all day"), []).append(day)
    parts = []
    for hours, days in hours_by_day.items():
        if len(days) == 7:
            names = "Every day"
        else:
            names = ", ".join(
                DAY_NAMES[first] if first == last else f"{DAY_NAMES[first]}{DASH if last - first > 1 else ', '}{DAY_NAMES[last]}"
                for first, last in _runs(days)
            )
        parts.append(f"{names} {hours}")
    return "; ".join(parts)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%-d %b %Y, %H:%M")


def schedule_text(ad_group: AdGroup, zone: ZoneInfo) -> str:
    end = f"until {_local(ad_group.end_time, zone)}" if ad_group.end_time else "no end date"
    return f"From {_local(ad_group.start_time, zone)}, {end}"


def _names(codes: Iterable[str], choices: Iterable[tuple[str, str]], everyone: str) -> str:
    labels = dict(choices)
    names = [labels.get(code, code) for code in codes]
    return ", ".join(names) if names else everyone


def targeting_summary(ad_group: AdGroup) -> list[tuple[str, str]]:
    """Who an ad group reaches, one line per dimension, 'All …' where it does not narrow."""
    interests = sorted(interest.name for interest in ad_group.interests.all())
    cap = "None"
    if ad_group.frequency_cap_impressions and ad_group.frequency_cap_days:
        days = ad_group.frequency_cap_days
        cap = f"{ad_group.frequency_cap_impressions} impressions per {days} day{'s' if days > 1 else ''}"
    return [
        ("Locations", _names(ad_group.countries, country_choices(), "All countries")),
        ("Languages", _names(ad_group.languages, language_choices(), "All languages")),
        ("Age", _names(ad_group.age_ranges, AgeRange.choices, "All ages")),
        ("Gender", _names(ad_group.genders, Gender.choices, "All genders")),
        ("Interests", ", ".join(interests) if interests else "No interest targeting"),
        ("Devices", _names(ad_group.device_types, DeviceType.choices, "All devices")),
        ("Operating systems", _names(ad_group.operating_systems, OperatingSystem.choices, "All operating systems")),
        ("Frequency cap", cap),
    ]


@dataclass
class CampaignRow:
    campaign: Campaign
    delivery: Badge
    budget: str
    ad_groups: int
    ads: int


def campaign_row(campaign: Campaign, now: datetime, spend: SpendState = NOTHING_SPENT) -> CampaignRow:
    live_groups = [group for group in campaign.ad_groups.all() if group.status != Status.ARCHIVED]
    live_ads = sum(1 for group in live_groups for ad in group.ads.all() if ad.status != Status.ARCHIVED)
    return CampaignRow(
        campaign,
        delivery_badge(campaign_status(campaign, now=now, spend=spend)),
        budget_text(campaign.budget_mode, campaign.budget_micros, campaign.advertiser.currency),
        len(live_groups),
        live_ads,
    )


@dataclass
class AdView:
    ad: Ad
    delivery: Badge
    review: Badge


@dataclass
class AdGroupView:
    ad_group: AdGroup
    delivery: Badge
    budget: str
    bid: str
    schedule: str
    dayparting: str
    placements: str
    targeting: list[tuple[str, str]]
    ads: list[AdView] = field(default_factory=list)
    pace: PaceView | None = None


def ad_group_view(
    ad_group: AdGroup, now: datetime, currency: str, zone: ZoneInfo, spend: SpendState = NOTHING_SPENT
) -> AdGroupView:
    ads = [
        AdView(
            ad,
            delivery_badge(ad_status(ad, now=now, spend=spend)),
            Badge(ad.review_status, ad.get_review_status_display(), REVIEW_TONES[ReviewStatus(ad.review_status)]),
        )
        for ad in ad_group.ads.all()
    ]
    strategy = BidStrategy(ad_group.bid_strategy)
    return AdGroupView(
        ad_group=ad_group,
        delivery=delivery_badge(ad_group_status(ad_group, now=now, spend=spend)),
        budget=budget_text(ad_group.budget_mode, ad_group.budget_micros, currency),
        bid=f"{strategy.name} {amount(ad_group.bid_micros, currency)} {BID_UNITS[strategy]}",
        schedule=schedule_text(ad_group, zone),
        dayparting=dayparting_summary(ad_group.dayparting),
        placements=", ".join(placement.name for placement in ad_group.placements.all()),
        targeting=targeting_summary(ad_group),
        ads=ads,
        pace=pace_view(ad_group_pace(ad_group, now=now, spend=spend), currency),
    )


def _history_value(name: str, value: Any, currency: str, zone: ZoneInfo) -> str:
    if name == "dayparting" and isinstance(value, list):
        return dayparting_summary(value)
    if value is None or value == "" or value == []:
        return "—"
    if name in ("budget", "bid"):
        return f"{value} {currency}"
    if name in CHOICES_OF_FIELD and isinstance(value, str):
        return str(dict(CHOICES_OF_FIELD[name].choices).get(value, value))
    if name in ("start_time", "end_time") and isinstance(value, str):
        try:
            return _local(datetime.fromisoformat(value), zone)
        except ValueError:
            return value
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def history_entries(items: Iterable[tuple[str, Campaign | AdGroup | Ad]], currency: str, zone: ZoneInfo) -> list[dict[str, Any]]:
    """The change history of several items as one timeline, newest first."""
    entries = []
    for label, item in items:
        for entry in selectors.change_history(item):
            by = "Adplatform review" if entry["note"] in REVIEW_NOTES else (entry["by"] or "Adplatform")
            changes = [
                {
                    "field": FIELD_LABELS.get(change["field"], change["field"].replace("_", " ").capitalize()),
                    "old": _history_value(change["field"], change["old"], currency, zone),
                    "new": _history_value(change["field"], change["new"], currency, zone),
                }
                for change in entry["changes"]
                if change["field"] not in HISTORY_HIDDEN
            ]
            entries.append({**entry, "item": label, "by": by, "changes": changes, "rank": HISTORY_RANK[type(item)]})
    # Newest first; within one moment children after parents, as they are created.
    entries.sort(key=lambda entry: (entry["at"], entry["rank"], entry["id"]), reverse=True)
    return entries[:HISTORY_LIMIT]


# --- plumbing --------------------------------------------------------------------------------------
