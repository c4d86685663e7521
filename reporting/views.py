"""Dashboard pages for reports: the overview (KPIs, charts, a table per level, CSV), a campaign's charts, e-mail reports.

Thin: the query string goes through `ReportFilterForm` (which uses `reporting.query.parse`, like
the API), numbers come from `reporting.selectors.run_report` for the current advertiser only, and
the CSV is `reporting.services.report_csv` of the very report the page shows. Any member may read
reports (analysts too) and subscribe themselves to e-mailed ones. Dates are the advertiser's.
"""

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Advertiser
from accounts.session import current_advertiser, signed_in_user
from adplatform import clock, money
from adplatform.text import is_id
from campaigns.forms import country_choices
from campaigns.models import AdGroup, Campaign, Placement
from campaigns.selectors import campaign_get_for_user, campaigns_for

from . import emails, selectors, services
from .forms import DEFAULT_RANGE, LEVEL_LABELS, PAGE_SIZE, RANGES, ReportFilterForm, SubscriptionForm
from .models import ReportSubscription
from .query import LEVELS, ReportQuery

CHART_METRICS = ("spend", "impressions", "clicks", "conversions")
METRIC_LABELS = {"spend": "Spend", "impressions": "Impressions", "clicks": "Clicks", "conversions": "Conversions"}
BREAKDOWNS = (("country", "Countries"), ("device", "Devices"), ("placement", "Placements"))
DEVICE_LABELS = {"mobile": "Mobile", "tablet": "Tablet", "desktop": "Desktop", "connected_tv": "Connected TV"}
# Table columns: (metric, heading, how it is shown).
COLUMNS = (
    ("impressions", "Impressions", "count"),
    ("clicks", "Clicks", "count"),
    ("ctr", "CTR", "percent"),
    ("spend", "Spend", "money"),
    ("cpm", "CPM", "rate"),
    ("cpc", "CPC", "rate"),
    ("conversions", "Conversions", "count"),
    ("cpa", "CPA", "rate"),
)
DEFAULT_ORDERING = "-spend"
CENT = Decimal("0.01")
SUBSCRIPTION_LABELS = {"daily": ("Daily", "daily reports"), "weekly": ("Weekly", "weekly reports (Mondays)")}
IN = "\N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK}"  # between a campaign and its ad group
CAMPAIGN_PRESETS = ("today", "yesterday", "last_7", "last_30", "this_month")


# --- what the pages show -------------------------------------------------------------------------


def shown(value: Any, kind: str) -> str:
    """A table or card value: 12,345 · 1.23% · 0.125 (money as `present` gives it) · 0.06 (a cost per, to the cent).

    Money that was spent is shown to the micro, as the CSV and the API have it; costs per thousand,
    per click and per conversion are ratios, shown rounded to the cent.
    """
    if value is None or value == "":
        return "\N{EM DASH}"
    if kind == "count":
        return f"{int(value):,}"
    if kind == "percent":
        return f"{float(value) * 100:.2f}%"
    if kind == "rate":
        return str(Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP))
    return str(value)


@dataclass(frozen=True)
class Column:
    metric: str
    heading: str
    sort_url: str
    sorted: str  # "ascending", "descending" or ""


@dataclass(frozen=True)
class TableRow:
    name: str
    url: str
    context: str
    cells: list[str]


def _sum_rows(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, int]]:
    sums: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CHART_METRICS, 0))
    for row in rows:
        for metric in CHART_METRICS:
            sums[row[key]][metric] += row[metric] or 0
    return sums


def _series(sums: list[dict[str, int]]) -> dict[str, list[Any]]:
    """Values per metric, money as decimal strings (Chart.js reads them as numbers)."""
    return {
        metric: [money.format_amount(point[metric]) if metric == "spend" else point[metric] for point in sums]
        for metric in CHART_METRICS
    }


def _padded(series: dict[str, list[Any]], length: int) -> dict[str, list[Any]]:
    return {metric: values + [None] * (length - len(values)) for metric, values in series.items()}


def _breakdown_query(query: ReportQuery, dimension: str) -> ReportQuery:
    return replace(query, level="campaign", dimensions=(dimension,), metrics=CHART_METRICS, ordering=None, page=1)


def _shown_sums(sums: dict[str, int]) -> list[str]:
    return [shown(money.format_amount(sums[m]), "money") if m == "spend" else shown(sums[m], "count") for m in CHART_METRICS]


@dataclass(frozen=True)
class Breakdown:
    key: str
    title: str
    rows: list[list[str]]  # label, then each chart metric as shown


@dataclass(frozen=True)
class Charts:
    data: dict[str, Any]  # what reports.js draws (embedded with json_script)
    breakdowns: list[Breakdown]
    hourly: bool
    has_data: bool


def chart_data(advertiser: Advertiser, query: ReportQuery) -> Charts:
    """Spend, impressions, clicks and conversions over time (by hour for one day) and by country, device and placement."""
    hourly = query.start == query.end
    over_time = _breakdown_query(query, "hour" if hourly else "date")
    by_time = _sum_rows(selectors.run_report(advertiser, over_time, paged=False).rows, over_time.dimensions[0])
    local_now = clock.now().astimezone(ZoneInfo(advertiser.time_zone))
    if hourly:
        keys: list[Any] = list(range(24))
        if query.start == local_now.date():  # the hours still to come are blank, not zero
            keys = keys[: local_now.hour + 1]
        labels = [f"{hour:02d}:00" for hour in range(24)]
    else:
        days = [query.start + timedelta(days=n) for n in range(query.days)]
        keys = [day.isoformat() for day in days]
        labels = [f"{day.day} {day:%b}" + (f" {day:%Y}" if query.start.year != query.end.year else "") for day in days]
    empty = dict.fromkeys(CHART_METRICS, 0)
    names = {
        "country": dict(country_choices()),
        "device": DEVICE_LABELS,
        "placement": dict(Placement.objects.values_list("key", "name")),
    }
    data: dict[str, Any] = {
        "currency": advertiser.currency,
        "hourly": hourly,
        "metrics": [{"key": metric, "label": METRIC_LABELS[metric], "money": metric == "spend"} for metric in CHART_METRICS],
        "timeline": {"labels": labels, "series": _padded(_series([by_time.get(key, empty) for key in keys]), len(labels))},
        "breakdowns": {},
    }
    breakdowns = []
    for dimension, title in BREAKDOWNS:
        sums = _sum_rows(selectors.run_report(advertiser, _breakdown_query(query, dimension), paged=False).rows, dimension)
        order = sorted(sums, key=lambda key, sums=sums: (-sums[key]["impressions"], -sums[key]["spend"], str(key)))  # type: ignore[misc]
        labels = [names[dimension].get(key) or key or "Unknown" for key in order]
        data["breakdowns"][dimension] = {"labels": labels, "series": _series([sums[key] for key in order])}
        rows = [[label, *_shown_sums(sums[key])] for label, key in zip(labels, order, strict=True)]
        breakdowns.append(Breakdown(dimension, title, rows))
    return Charts(data=data, breakdowns=breakdowns, hourly=hourly, has_data=bool(by_time))


def kpis(totals: dict[str, Any], currency: str) -> list[dict[str, str]]:
    """The KPI cards from a report's presented totals."""
    money_suffix = f" {currency}"
    return [
        {"key": "spend", "label": "Spend", "value": shown(totals["spend"], "money"), "unit": money_suffix},
        {"key": "impressions", "label": "Impressions", "value": shown(totals["impressions"], "count"), "unit": ""},
        {"key": "clicks", "label": "Clicks", "value": shown(totals["clicks"], "count"), "unit": ""},
        {"key": "ctr", "label": "CTR", "value": shown(totals["ctr"], "percent"), "unit": ""},
        {"key": "conversions", "label": "Conversions", "value": shown(totals["conversions"], "count"), "unit": ""},
        {
            "key": "cpa",
            "label": "CPA",
            "value": shown(totals["cpa"], "rate"),
            "unit": money_suffix if totals["cpa"] is not None else "",
        },
    ]


def _table_rows(advertiser: Advertiser, level: str, rows: list[dict[str, Any]]) -> list[TableRow]:
    """The presented rows with names, links to the campaign page and where an ad group or ad sits."""
    campaign_ids = {row["campaign_id"] for row in rows}
    campaign_names = dict(Campaign.objects.filter(advertiser=advertiser, pk__in=campaign_ids).values_list("pk", "name"))
    group_names: dict[int, str] = {}
    if level == "ad":
        group_ids = {row["ad_group_id"] for row in rows}
        group_names = dict(AdGroup.objects.filter(campaign__advertiser=advertiser, pk__in=group_ids).values_list("pk", "name"))
    shown_rows = []
    for row in rows:
        campaign_id = row["campaign_id"]
        url = reverse("campaigns:detail", args=[campaign_id]) if campaign_id in campaign_names else ""
        if level == "ad_group" and url:
            url += f"#ad-group-{row['ad_group_id']}"
        elif level == "ad" and url:
            url += f"#ad-{row['ad_id']}"
        context = ""
        if level == "ad_group":
            context = campaign_names.get(campaign_id, "")
        elif level == "ad":
            context = f" {IN} ".join(
                name for name in (campaign_names.get(campaign_id), group_names.get(row["ad_group_id"])) if name
            )
        shown_rows.append(
            TableRow(
                name=row[f"{level}_name"] or f"#{row[f'{level}_id']}",
                url=url,
                context=context,
                cells=[shown(row[metric], kind) for metric, _, kind in COLUMNS],
            )
        )
    return shown_rows


# --- plumbing --------------------------------------------------------------------------------------


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _filter_parameters(form: ReportFilterForm, campaign: Campaign | None) -> dict[str, str]:
    """The page's own parameters, to keep in its links (tabs, sorting, paging, export)."""
    data = form.cleaned_data
    chosen = data.get("range") or DEFAULT_RANGE
    parameters = {"range": chosen, "level": data.get("level") or "campaign", "ordering": data.get("ordering") or ""}
    if chosen == "custom":
        parameters["start_date"] = data["start_date"].isoformat()
        parameters["end_date"] = data["end_date"].isoformat()
    if campaign is not None:
        parameters["campaign"] = str(campaign.pk)
    return {name: value for name, value in parameters.items() if value}


def _link(parameters: dict[str, str], **changes: str) -> str:
    merged = {**parameters, **changes}
    return "?" + urlencode({name: value for name, value in merged.items() if value})


def _columns(parameters: dict[str, str], query: ReportQuery) -> list[Column]:
    current = query.ordering
    columns = []
    for metric, heading, _ in (("name", "Name", ""), *COLUMNS):
        is_sorted = current is not None and current[0] == metric
        if metric == "name":  # names sort A to Z first
            flip = is_sorted and current is not None and not current[1]
            ordering = "-name" if flip else "name"
        else:  # figures sort the largest first
            flip = is_sorted and current is not None and current[1]
            ordering = metric if flip else f"-{metric}"
        state = ("descending" if current[1] else "ascending") if is_sorted and current is not None else ""
        columns.append(Column(metric, heading, _link(parameters, ordering=ordering), state))
    return columns


def _campaign_filter(request: HttpRequest, advertiser: Advertiser) -> Campaign | None:
    """The campaign the overview is narrowed to (?campaign=ID): one of the current advertiser's, else 404."""
    raw = request.GET.get("campaign", "").strip()
    if not raw:
        return None
    if not is_id(raw):
        raise Http404("No such campaign.")
    campaign = campaigns_for(signed_in_user(request)).filter(advertiser=advertiser, pk=int(raw)).first()
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def _with_ordering(request: HttpRequest) -> Any:
    """The query string, ordered by spend (largest first) unless it says otherwise."""
    data = request.GET.copy()
    if not data.get("ordering"):
        data["ordering"] = DEFAULT_ORDERING
    return data


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], advertiser: Advertiser, status: int = 200
) -> HttpResponse:
    context = {"advertiser": advertiser, "currency": advertiser.currency, "ranges": RANGES, **context}
    with timezone.override(ZoneInfo(advertiser.time_zone)):
        return render(request, template, context, status=status)


# --- the overview ------------------------------------------------------------------------------------


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    """The current advertiser's KPIs, charts and a sortable table per level for a date range."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return redirect("advertiser_new")
    user = signed_in_user(request)
    campaign = _campaign_filter(request, advertiser)
    today = clock.today_in(advertiser.time_zone)
    form = ReportFilterForm(_with_ordering(request), today=today, campaign_id=campaign.pk if campaign else None)
    subscribed = set(selectors.subscriptions_for(user).filter(advertiser=advertiser).values_list("frequency", flat=True))
    context: dict[str, Any] = {
        "form": form,
        "campaign": campaign,
        "today": today,
        "subscriptions": [(value, *SUBSCRIPTION_LABELS[value], value in subscribed) for value in ReportSubscription.Frequency],
        "send_from_hour": f"{emails.SEND_FROM_HOUR:02d}:00",
        "next_url": request.get_full_path(),
        "table_level": "campaign",
        "table_ordering": DEFAULT_ORDERING,
    }
    if not form.is_valid() or form.query is None:
        return _render(request, "reporting/overview.html", context, advertiser, status=400)
    query = form.query
    if query.ordering is not None:
        context["table_ordering"] = ("-" if query.ordering[1] else "") + query.ordering[0]
    context["table_level"] = query.level
    report = selectors.run_report(advertiser, query)
    rows, totals = selectors.present(report)
    parameters = _filter_parameters(form, campaign)
    pages = max((report.count + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    context.update(
        query=query,
        report=report,
        level_label=LEVEL_LABELS[query.level],
        kpis=kpis(totals, advertiser.currency),
        columns=_columns(parameters, query),
        rows=_table_rows(advertiser, query.level, rows),
        totals=[shown(totals[metric], kind) for metric, _, kind in COLUMNS],
        levels=[(level, LEVEL_LABELS[level], _link(parameters, level=level, ordering=DEFAULT_ORDERING)) for level in LEVELS],
        page_number=query.page,
        pages=pages,
        previous_url=_link(parameters, page=str(query.page - 1)) if query.page > 1 else "",
        next_url_page=_link(parameters, page=str(query.page + 1)) if query.page < pages else "",
        first_url=_link(parameters),
        export_url=reverse("reports:export") + _link(parameters),
        clear_campaign_url=_link({k: v for k, v in parameters.items() if k != "campaign"}),
    )
    if _is_htmx(request) and request.headers.get("HX-Target") == "report-table":
        return _render(request, "reporting/_table_response.html", context, advertiser)
    context["charts"] = chart_data(advertiser, query)
    return _render(request, "reporting/overview.html", context, advertiser)


@login_required
@require_GET
def export_csv(request: HttpRequest) -> HttpResponse:
    """The report the overview shows, every row of it, as CSV with a totals row (money as decimal strings)."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        raise Http404("No advertiser.")
    campaign = _campaign_filter(request, advertiser)
    form = ReportFilterForm(
        _with_ordering(request), today=clock.today_in(advertiser.time_zone), campaign_id=campaign.pk if campaign else None
    )
    if not form.is_valid() or form.query is None:
        problems = "; ".join(f"{name}: {' '.join(str(error) for error in errors)}" for name, errors in form.errors.items())
        return HttpResponse(f"Fix the report's parameters: {problems}\n", status=400, content_type="text/plain; charset=utf-8")
    report = selectors.run_report(advertiser, form.query, paged=False)
    response = HttpResponse(services.report_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{emails.csv_filename(advertiser, form.query)}"'
    return response


# --- a campaign's charts (loaded into its page) ----------------------------------------------------------------


@login_required
@require_GET
def campaign_charts(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """KPIs and charts of one campaign for a preset range: the panel on the campaign's page (404 outside the tenancy)."""
    campaign = campaign_get_for_user(user=signed_in_user(request), campaign_id=campaign_id)
    advertiser = campaign.advertiser
    today = clock.today_in(advertiser.time_zone)
    form = ReportFilterForm(request.GET, today=today, campaign_id=campaign.pk)
    context: dict[str, Any] = {
        "campaign": campaign,
        "form": form,
        "presets": [(value, label) for value, label in RANGES if value in CAMPAIGN_PRESETS],
        "panel_url": reverse("reports:campaign_charts", args=[campaign.pk]),
        "chart_dom_id": f"campaign-{campaign.pk}-charts",
    }
    if not form.is_valid() or form.query is None:
        return _render(request, "reporting/_campaign_charts.html", context, advertiser, status=200 if _is_htmx(request) else 400)
    query = form.query
    _, totals = selectors.present(selectors.run_report(advertiser, query))
    parameters = _filter_parameters(form, campaign)
    parameters.pop("ordering", None)
    context.update(
        query=query,
        chosen=form.cleaned_data.get("range"),
        kpis=kpis(totals, advertiser.currency),
        charts=chart_data(advertiser, query),
        full_report_url=reverse("reports:overview") + _link(parameters, level="ad_group"),
        export_url=reverse("reports:export") + _link(parameters, level="ad_group"),
    )
    return _render(request, "reporting/_campaign_charts.html", context, advertiser)


# --- e-mailed reports --------------------------------------------------------------------------------------


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    overview_path = reverse("reports:overview")
    if target.startswith(overview_path) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target.split("#")[0] + "#email-reports"
    return overview_path + "#email-reports"


@login_required
@require_POST
def subscribe(request: HttpRequest) -> HttpResponse:
    """E-mail me the current advertiser's daily or weekly report."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return redirect("advertiser_new")
    form = SubscriptionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose daily or weekly reports.")
        return redirect(_back(request))
    user = signed_in_user(request)
    frequency = ReportSubscription.Frequency(form.cleaned_data["frequency"])
    try:
        emails.subscription_subscribe(actor=user, advertiser=advertiser, frequency=frequency)
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
        return redirect(_back(request))
    when = (
        f"every morning after {emails.SEND_FROM_HOUR:02d}:00"
        if frequency == ReportSubscription.Frequency.DAILY
        else f"every Monday after {emails.SEND_FROM_HOUR:02d}:00"
    )
    messages.success(
        request,
        f"Subscribed: {user.email} gets the {frequency.label.split(' ')[0].lower()} report of {advertiser.name} "
        f"{when} ({advertiser.time_zone}), with the CSV attached.",
    )
    return redirect(_back(request))


@login_required
@require_POST
def unsubscribe(request: HttpRequest) -> HttpResponse:
    """Stop my daily or weekly report of the current advertiser."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return redirect("advertiser_new")
    form = SubscriptionForm(request.POST)
    if form.is_valid():
        frequency = ReportSubscription.Frequency(form.cleaned_data["frequency"])
        if emails.subscription_cancel(actor=signed_in_user(request), advertiser=advertiser, frequency=frequency):
            messages.success(
                request, f"Unsubscribed: no more {frequency.label.split(' ')[0].lower()} reports of {advertiser.name}."
            )
    return redirect(_back(request))
