"""Dashboard forms for reports: the date range (presets or custom dates in the advertiser's time zone) and e-mail reports.

`ReportFilterForm` turns the page's query string into a validated `ReportQuery` through
`reporting.query.parse`, the same definition the API and the exports use; what `parse` refuses
lands on the field it names, so a bad date is a form error and never a 500.
"""

from datetime import date, timedelta
from typing import Any

from django import forms

from .models import ReportSubscription
from .query import LEVELS, ReportError, ReportQuery, parse

RANGES = (
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("last_7", "Last 7 days"),
    ("last_30", "Last 30 days"),
    ("this_month", "This month"),
    ("custom", "Custom"),
)
DEFAULT_RANGE = "last_7"
LEVEL_LABELS = {"campaign": "Campaigns", "ad_group": "Ad groups", "ad": "Ads"}
TABLE_METRICS = ("impressions", "clicks", "ctr", "spend", "cpm", "cpc", "conversions", "cpa")
PAGE_SIZE = 50
# Where parse's complaints are shown: the field of the same name, else above the form.
FIELD_OF = {"start_date": "start_date", "end_date": "end_date", "level": "level", "ordering": "ordering", "page": "page"}


def preset_bounds(preset: str, today: date) -> tuple[date, date]:
    """The first and last day of a preset range, both included, ending `today` (the advertiser's)."""
    if preset == "today":
        return today, today
    if preset == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if preset == "last_30":
        return today - timedelta(days=29), today
    if preset == "this_month":
        return today.replace(day=1), today
    return today - timedelta(days=6), today


class ReportFilterForm(forms.Form):
    """Which report the page shows: a date range, a level, the column it is ordered by and the page."""

    range = forms.ChoiceField(label="Dates", choices=RANGES, required=False)
    start_date = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    level = forms.ChoiceField(choices=[(level, LEVEL_LABELS[level]) for level in LEVELS], required=False)
    ordering = forms.CharField(max_length=40, required=False)
    page = forms.CharField(max_length=12, required=False)

    def __init__(self, data: Any, *, today: date, campaign_id: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(data, **kwargs)
        self.today = today
        self.campaign_id = campaign_id
        self.query: ReportQuery | None = None
        self.fields["range"].widget.attrs["data-range-preset"] = "true"

    def chosen_range(self) -> str:
        """The preset the dates came from: custom when dates were typed without one."""
        raw = self.data.get("range") or ""
        if raw in dict(RANGES):
            return raw
        return "custom" if self.data.get("start_date") or self.data.get("end_date") else DEFAULT_RANGE

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        preset = data.get("range") or self.chosen_range()
        data["range"] = preset
        if preset == "custom":
            start, end = data.get("start_date"), data.get("end_date")
            if start is None:
                self.add_error("start_date", "Choose the first day.")
            if end is None:
                self.add_error("end_date", "Choose the last day.")
            if start is None or end is None:
                return data
        else:
            start, end = preset_bounds(preset, self.today)
            data["start_date"], data["end_date"] = start, end
        parameters = {
            "level": data.get("level") or "campaign",
            "metrics": ",".join(TABLE_METRICS),
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "ordering": data.get("ordering") or "",
            "page": data.get("page") or "",
            "page_size": str(PAGE_SIZE),
        }
        if self.campaign_id is not None:
            parameters["campaign"] = str(self.campaign_id)
        try:
            self.query = parse(parameters, today=self.today)
        except ReportError as refusal:
            self.add_error(FIELD_OF.get(refusal.parameter), str(refusal))
        return data

    def shown_range(self) -> tuple[date, date] | None:
        """The dates the form stands for when valid (for the page heading)."""
        return (self.query.start, self.query.end) if self.query else None


class SubscriptionForm(forms.Form):
    """Subscribe to, or stop, a daily or weekly e-mailed report."""

    frequency = forms.ChoiceField(choices=ReportSubscription.Frequency.choices)
