"""Staff admin for reporting: platform totals per day and top advertisers, report jobs, e-mailed reports.

The totals page sits where the daily rows per ad would be listed (those rows are written by the
rollups only), and reads them summed: per day, impressions, clicks, spend per currency, invalid
events and the invalid-traffic rate; and the advertisers that spent most over the same range,
ranked in US dollars at today's rates. Dates are each advertiser's own local dates.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from adplatform import clock, money

from .models import PlatformTotals, ReportJob, ReportSubscription

DEFAULT_DAYS = 30
MAX_DAYS = 400
TOP_ADVERTISERS = 20


class ReadOnlyAdmin(admin.ModelAdmin):
    """Look and filter; reporting writes these rows itself."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _amount(micros: int, currency: str) -> str:
    return f"{money.format_amount(micros)} {currency}"


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "—"


def _about_usd(micros: int, units_per_usd: Decimal) -> str:
    """An amount in US dollars at today's rate, to the cent: only to compare advertisers."""
    usd = money.from_micros(money.convert(micros, from_units_per_usd=units_per_usd, to_units_per_usd=Decimal(1)))
    return f"{usd.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)} USD"


# --- platform totals -----------------------------------------------------------------------------------


@dataclass
class DayTotals:
    day: date
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    invalid_events: int = 0
    spend: list[str] = field(default_factory=list)  # one amount per currency

    @property
    def ctr(self) -> str:
        return _rate(self.clicks, self.impressions)

    @property
    def invalid_rate(self) -> str:
        """Invalid events among all tracked ones (valid impressions, clicks and conversions, and the invalid)."""
        return _rate(self.invalid_events, self.impressions + self.clicks + self.conversions + self.invalid_events)


@dataclass(frozen=True)
class TopAdvertiser:
    advertiser_id: int
    name: str
    spend: str
    spend_usd: str
    impressions: int
    clicks: int
    invalid_rate: str


def platform_totals(start: date, end: date) -> tuple[list[DayTotals], DayTotals]:
    """Every platform figure per local day, newest first, and the range's total (spend per currency)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT d.local_date, a.currency, sum(d.impressions)::bigint, sum(d.clicks)::bigint,
                   sum(d.conversions)::bigint, sum(d.invalid_events)::bigint, sum(d.cost_micros)::bigint
            FROM reporting_daily_ad d JOIN accounts_advertiser a ON a.id = d.advertiser_id
            WHERE d.local_date BETWEEN %s AND %s
            GROUP BY 1, 2 ORDER BY 1 DESC, 2
            """,
            [start, end],
        )
        found = cursor.fetchall()
    days: dict[date, DayTotals] = {}
    total = DayTotals(end)
    total_spend: dict[str, int] = {}
    for day, currency, impressions, clicks, conversions, invalid, cost in found:
        row = days.setdefault(day, DayTotals(day))
        for figures in (row, total):
            figures.impressions += impressions
            figures.clicks += clicks
            figures.conversions += conversions
            figures.invalid_events += invalid
        row.spend.append(_amount(cost, currency))
        total_spend[currency] = total_spend.get(currency, 0) + cost
    total.spend = [_amount(cost, currency) for currency, cost in sorted(total_spend.items())]
    return list(days.values()), total


def top_advertisers(start: date, end: date, limit: int = TOP_ADVERTISERS) -> list[TopAdvertiser]:
    """The advertisers that spent most in the range, compared in US dollars at the current rates."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.id, a.name, a.currency, c.units_per_usd, sum(d.cost_micros)::bigint AS cost,
                   sum(d.impressions)::bigint, sum(d.clicks)::bigint, sum(d.conversions)::bigint,
                   sum(d.invalid_events)::bigint
            FROM reporting_daily_ad d
            JOIN accounts_advertiser a ON a.id = d.advertiser_id
            JOIN accounts_currency c ON c.code = a.currency
            WHERE d.local_date BETWEEN %s AND %s
            GROUP BY a.id, a.name, a.currency, c.units_per_usd
            HAVING sum(d.cost_micros) > 0
            ORDER BY sum(d.cost_micros) / c.units_per_usd DESC, a.id
            LIMIT %s
            """,
            [start, end, limit],
        )
        found = cursor.fetchall()
    return [
        TopAdvertiser(
            advertiser_id=advertiser_id,
            name=name,
            spend=_amount(cost, currency),
            spend_usd=_about_usd(cost, units_per_usd),
            impressions=impressions,
            clicks=clicks,
            invalid_rate=_rate(invalid, impressions + clicks + conversions + invalid),
        )
        for advertiser_id, name, currency, units_per_usd, cost, impressions, clicks, conversions, invalid in found
    ]


class TotalsRangeForm(forms.Form):
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end date is before the start date.")
        elif start and end and (end - start).days + 1 > MAX_DAYS:
            self.add_error("end", f"Choose at most {MAX_DAYS} days.")
        return data


@admin.register(PlatformTotals)
class PlatformTotalsAdmin(ReadOnlyAdmin):
    """Platform totals per day and the top advertisers by spend, over a date range (staff with view rights)."""

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [path("", self.admin_site.admin_view(self.changelist_view), name="{}_{}_changelist".format(*info))]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        today = clock.now().date()
        form = TotalsRangeForm(request.GET or None)
        start, end = today - timedelta(days=DEFAULT_DAYS - 1), today
        if form.is_bound and form.is_valid():
            end = form.cleaned_data.get("end") or end
            start = form.cleaned_data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        days, total = ([], DayTotals(end)) if form.errors else platform_totals(start, end)
        context = {
            **self.admin_site.each_context(request),
            "title": "Platform totals",
            "opts": self.opts,
            "form": form,
            "start": start,
            "end": end,
            "days": days,
            "total": total,
            "top": [] if form.errors else top_advertisers(start, end),
            "presets": [(n, (today - timedelta(days=n - 1)).isoformat(), today.isoformat()) for n in (7, 30, 90)],
            **(extra_context or {}),
        }
        return TemplateResponse(request, "reporting/admin/platform_totals.html", context, status=400 if form.errors else 200)


# --- report jobs and subscriptions ---------------------------------------------------------------------


@admin.register(ReportJob)
class ReportJobAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "advertiser", "requested_by", "status", "row_count", "finished_at", "download")
    list_filter = ("status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("advertiser__name", "requested_by__email", "id")
    list_select_related = ("advertiser", "requested_by")
    fields = ("id", "advertiser", "requested_by", "status", "parameters", "error", "row_count", "created_at", "finished_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer("csv")

    @admin.display(description="CSV")
    def download(self, job: ReportJob) -> str:
        if job.status != ReportJob.Status.DONE:
            return "—"
        return format_html('<a href="{}">Download</a>', reverse("admin:reporting_reportjob_csv", args=[job.pk]))

    def get_urls(self) -> list[URLPattern]:
        return [
            path("<uuid:job_id>/csv/", self.admin_site.admin_view(self.csv_view), name="reporting_reportjob_csv"),
            *super().get_urls(),
        ]

    def csv_view(self, request: HttpRequest, job_id: str) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(ReportJob, pk=job_id, status=ReportJob.Status.DONE)
        response = HttpResponse(bytes(job.csv or b""), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="report-job-{job.pk}.csv"'
        return response


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    """Members subscribe themselves on the reports page; staff may clear `last sent on` to send a period again, or delete."""

    list_display = ("advertiser", "user", "frequency", "level", "last_sent_on", "created_at")
    list_filter = ("frequency",)
    search_fields = ("advertiser__name", "user__email")
    list_select_related = ("advertiser", "user")
    fields = ("advertiser", "user", "frequency", "level", "last_sent_on", "created_at")
    readonly_fields = ("advertiser", "user", "frequency", "level", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if "last_sent_on" in form.base_fields:  # nullable in the model, so clearing it is allowed
            form.base_fields["last_sent_on"].required = False
            form.base_fields["last_sent_on"].help_text = "Clear it to send the last period's report again on the next run."
        return form
