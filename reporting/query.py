"""What a report asks for, validated: the one definition the API, the exports and the dashboard share.

`parse` turns query parameters into a `ReportQuery` or raises `ReportError` naming the parameter
that is wrong, so every caller answers a clear 400 and never runs a bad query.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from adplatform.text import is_id

LEVELS = ("campaign", "ad_group", "ad")
DIMENSIONS = ("date", "hour", "country", "device", "placement")
COUNTED = ("requests_won", "impressions", "clicks", "conversions", "conversion_value", "spend", "invalid_events")
DERIVED = ("ctr", "cpm", "cpc", "cpa", "roas")
PEOPLE = ("reach", "frequency")
METRICS = (*COUNTED, *DERIVED, *PEOPLE)
MONEY = frozenset({"spend", "cpm", "cpc", "cpa", "conversion_value"})
DEFAULT_METRICS = ("impressions", "clicks", "ctr", "spend", "cpm", "cpc", "conversions", "cpa")
MAX_DAYS = 400
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
FILTERS = ("campaign", "ad_group", "ad", "country")


class ReportError(ValueError):
    """A report parameter that cannot be honoured; `parameter` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class ReportQuery:
    level: str
    dimensions: tuple[str, ...]
    metrics: tuple[str, ...]
    start: date
    end: date
    campaigns: frozenset[int] = frozenset()
    ad_groups: frozenset[int] = frozenset()
    ads: frozenset[int] = frozenset()
    countries: frozenset[str] = frozenset()
    ordering: tuple[str, bool] | None = None  # (column, descending)
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def as_parameters(self) -> dict[str, str]:
        """The query as parameters `parse` accepts (kept with report jobs)."""
        parameters = {
            "level": self.level,
            "dimensions": ",".join(self.dimensions),
            "metrics": ",".join(self.metrics),
            "start_date": self.start.isoformat(),
            "end_date": self.end.isoformat(),
        }
        for name, values in (
            ("campaign", self.campaigns),
            ("ad_group", self.ad_groups),
            ("ad", self.ads),
            ("country", self.countries),
        ):
            if values:
                parameters[name] = ",".join(str(value) for value in sorted(values))  # type: ignore[type-var]
        if self.ordering:
            parameters["ordering"] = ("-" if self.ordering[1] else "") + self.ordering[0]
        return parameters


def _names(raw: str | None, parameter: str, allowed: tuple[str, ...], default: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return default
    names = [name.strip() for name in raw.split(",") if name.strip()]
    for name in names:
        if name not in allowed:
            what = parameter.removesuffix("s")
            raise ReportError(parameter, f"Unknown {what} {name[:40]!r}; choose from {', '.join(allowed)}.")
    if len(set(names)) != len(names):
        raise ReportError(parameter, "Name each one once.")
    return tuple(names)


def _date(raw: str | None, parameter: str, default: date) -> date:
    if raw is None or not raw.strip():
        return default
    try:
        return date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise ReportError(parameter, "Send a date as YYYY-MM-DD.") from exc


def _ids(raw: str | None, parameter: str) -> frozenset[int]:
    if raw is None or not raw.strip():
        return frozenset()
    values = [value.strip() for value in raw.split(",")]
    if len(values) > 500 or not all(is_id(value) for value in values):
        raise ReportError(parameter, "Send ids separated by commas (at most 500).")
    return frozenset(int(value) for value in values)


def _int(raw: str | None, parameter: str, default: int, low: int, high: int) -> int:
    if raw is None or not raw.strip():
        return default
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ReportError(parameter, f"Send a whole number from {low} to {high}.")
    return int(text)


def parse(parameters: Mapping[str, str], *, today: date) -> ReportQuery:
    """The validated report query; the range defaults to the last 7 days up to `today` (the advertiser's)."""
    level = (parameters.get("level") or "campaign").strip()
    if level not in LEVELS:
        raise ReportError("level", f"Choose one of: {', '.join(LEVELS)}.")
    dimensions = _names(parameters.get("dimensions"), "dimensions", DIMENSIONS, ())
    metrics = _names(parameters.get("metrics"), "metrics", METRICS, DEFAULT_METRICS)
    end = _date(parameters.get("end_date"), "end_date", today)
    # The last 7 days up to the end (no earlier than the calendar's first day: 0001-01-03 must not overflow).
    start = _date(parameters.get("start_date"), "start_date", end - min(timedelta(days=6), end - date.min))
    if end < start:
        raise ReportError("end_date", "The end date is before the start date.")
    if (end - start).days + 1 > MAX_DAYS:
        raise ReportError("end_date", f"A report covers at most {MAX_DAYS} days.")
    countries: frozenset[str] = frozenset()
    if (raw := parameters.get("country")) and raw.strip():
        codes = [code.strip().upper() for code in raw.split(",")]
        if len(codes) > 300 or not all(len(code) == 2 and code.isascii() and code.isalpha() for code in codes):
            raise ReportError("country", "Send two-letter country codes separated by commas.")
        countries = frozenset(codes)
    query = ReportQuery(
        level=level,
        dimensions=dimensions,
        metrics=metrics,
        start=start,
        end=end,
        campaigns=_ids(parameters.get("campaign"), "campaign"),
        ad_groups=_ids(parameters.get("ad_group"), "ad_group"),
        ads=_ids(parameters.get("ad"), "ad"),
        countries=countries,
        page=_int(parameters.get("page"), "page", 1, 1, 1_000_000),
        page_size=_int(parameters.get("page_size"), "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
    )
    if set(metrics) & set(PEOPLE) and (level == "ad" or set(dimensions) - {"date"} or query.ads or countries):
        raise ReportError(
            "metrics",
            "Reach and frequency are counted per ad group and day: ask for them at campaign or ad_group level, "
            "by date at most, without ad or country filters.",
        )
    ordering = (parameters.get("ordering") or "").strip()
    if ordering:
        column = ordering.removeprefix("-")
        allowed = {*metrics, *dimensions, "name", "id"}
        if column not in allowed:
            raise ReportError("ordering", f"Order by one of the report's columns: {', '.join(sorted(allowed))}.")
        query = ReportQuery(**{**query.__dict__, "ordering": (column, ordering.startswith("-"))})
    return query
