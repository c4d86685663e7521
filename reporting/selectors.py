"""Reporting's reads: reports over the rollups, tenant-scoped, with reach from the day sketches.

A report picks the smallest grain that answers it: daily rows per ad unless it breaks down by
hour (hourly rows) or by placement, country or device (daily rows with those breakdowns). Sums
are exact integers; ratios are computed from the sums of the whole group, never averaged.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from accounts.models import Advertiser, User
from accounts.selectors import advertiser_get_for_user, advertisers_for
from adplatform import money
from adplatform.redis_client import get_redis
from delivery import charging

from . import services
from .models import ClosedDay, DailyAdRow, ReachSketch, ReportJob, ReportSubscription
from .query import MONEY, PEOPLE, ReportQuery

LEVEL_TABLES = {"campaign": "campaigns_campaign", "ad_group": "campaigns_adgroup", "ad": "campaigns_ad"}
LEVEL_NAMES = {"campaign": "n.name", "ad_group": "n.name", "ad": "n.headline"}
DIMENSION_COLUMNS = {
    "date": "local_date",
    "hour": "local_hour",
    "country": "country",
    "device": "device",
    "placement": "placement",
}
SUMMED = {
    "requests_won": "requests_won",
    "impressions": "impressions",
    "clicks": "clicks",
    "conversions": "conversions",
    "conversion_value": "conversion_value_micros",
    "spend": "cost_micros",
    "invalid_events": "invalid_events",
}
# Ordering expressions over the grouped sums (g.*): ratios of sums.
ORDER_EXPRESSIONS = {
    **{name: f"g.{column}" for name, column in SUMMED.items()},
    "ctr": "g.clicks::float8 / nullif(g.impressions, 0)",
    "cpm": "g.cost_micros * 1000.0 / nullif(g.impressions, 0)",
    "cpc": "g.cost_micros::float8 / nullif(g.clicks, 0)",
    "cpa": "g.cost_micros::float8 / nullif(g.conversions, 0)",
    "roas": "g.conversion_value_micros::float8 / nullif(g.cost_micros, 0)",
    "name": "name",
    "id": "g.level_id",
    **{name: f"g.{name}" for name in DIMENSION_COLUMNS},
}


@dataclass
class Report:
    advertiser: Advertiser
    query: ReportQuery
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    count: int  # rows over all pages


def _source(query: ReportQuery) -> str:
    if "hour" in query.dimensions:
        return "reporting_hourly"
    if set(query.dimensions) & {"country", "device", "placement"} or query.countries:
        return "reporting_daily"
    return "reporting_daily_ad"


def _where(advertiser: Advertiser, query: ReportQuery) -> tuple[str, list[Any]]:
    clauses = ["advertiser_id = %s", "local_date BETWEEN %s AND %s"]
    params: list[Any] = [advertiser.pk, query.start, query.end]
    for column, values in (
        ("campaign_id", query.campaigns),
        ("ad_group_id", query.ad_groups),
        ("ad_id", query.ads),
        ("country", query.countries),
    ):
        if values:
            clauses.append(f"{column} = ANY(%s)")
            params.append(sorted(values))  # type: ignore[type-var]
    return " AND ".join(clauses), params


def _ratio(numerator: int, denominator: int, places: str = "0.000001") -> float | None:
    if not denominator:
        return None
    return float((Decimal(numerator) / Decimal(denominator)).quantize(Decimal(places), rounding=ROUND_HALF_UP))


def _per(numerator_micros: int, denominator: int, scale: int = 1) -> int | None:
    """Micros per unit (or per `scale` units), rounded half up."""
    if not denominator:
        return None
    return int((Decimal(numerator_micros * scale) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def metrics_of(sums: dict[str, int], metrics: tuple[str, ...], reach: int | None = None) -> dict[str, Any]:
    """The asked metrics from a group's sums; money in micros, ratios as numbers, None where undefined."""
    impressions, clicks, conversions = sums["impressions"], sums["clicks"], sums["conversions"]
    cost, value = sums["cost_micros"], sums["conversion_value_micros"]
    every: dict[str, Any] = {name: sums[column] for name, column in SUMMED.items()}
    every.update(
        ctr=_ratio(clicks, impressions),
        cpm=_per(cost, impressions, 1000),
        cpc=_per(cost, clicks),
        cpa=_per(cost, conversions),
        roas=_ratio(value, cost, "0.0001"),
        reach=reach,
        frequency=_ratio(impressions, reach, "0.01") if reach is not None else None,
    )
    return {name: every[name] for name in metrics}


def run_report(advertiser: Advertiser, query: ReportQuery, *, paged: bool = True) -> Report:
    """The report's rows (one page, or all with `paged=False`) and its totals."""
    table = _source(query)
    where, params = _where(advertiser, query)
    level_column = f"{query.level}_id"
    dimensions = [DIMENSION_COLUMNS[name] for name in query.dimensions]
    group = [f"{level_column} AS level_id"] + [
        f"{column} AS {name}" for name, column in zip(query.dimensions, dimensions, strict=True)
    ]
    extra = ", campaign_id" if query.level != "campaign" else ""
    extra += ", ad_group_id" if query.level == "ad" else ""
    sums = ", ".join(f"sum({column})::bigint AS {column}" for column in SUMMED.values())
    group_by = ", ".join(str(n) for n in range(1, len(group) + 1 + extra.count(",")))
    ordering = query.ordering
    by_people = ordering is not None and ordering[0] in PEOPLE
    order_sql = "name, g.level_id"
    if ordering is not None and not by_people:
        expression = ORDER_EXPRESSIONS[ordering[0]]
        order_sql = f"{expression} {'DESC' if ordering[1] else 'ASC'} NULLS LAST, name, g.level_id"
    order_sql += "".join(f", g.{name}" for name in query.dimensions)
    limit = ""
    if paged and not by_people:
        limit = f" LIMIT {int(query.page_size)} OFFSET {int((query.page - 1) * query.page_size)}"
    sql = (
        f"WITH g AS (SELECT {', '.join(group)}{extra}, {sums} FROM {table} WHERE {where} GROUP BY {group_by}) "  # noqa: S608
        f"SELECT g.*, {LEVEL_NAMES[query.level]} AS name, count(*) OVER () AS total_rows "
        f"FROM g LEFT JOIN {LEVEL_TABLES[query.level]} n ON n.id = g.level_id ORDER BY {order_sql}{limit}"
    )
    total_sql = f"SELECT {sums} FROM {table} WHERE {where}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column.name for column in cursor.description]
        found = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        cursor.execute(total_sql, params)
        total_sums = dict(zip(SUMMED.values(), (value or 0 for value in cursor.fetchone()), strict=True))
    count = int(found[0]["total_rows"]) if found else 0
    if not found and limit and query.page > 1:  # a page past the end: the count still says how many there are
        with connection.cursor() as cursor:
            grouped = ", ".join([level_column, *dimensions])
            cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {where} GROUP BY {grouped}) g", params)  # noqa: S608
            count = int(cursor.fetchone()[0])
    wants_people = bool(set(query.metrics) & set(PEOPLE))
    reach: dict[Any, int] = {}

    def reach_key(row: dict[str, Any]) -> tuple[Any, Any]:
        return row["level_id"], row["date"].isoformat() if "date" in query.dimensions else None

    if wants_people:
        reach = reach_for(advertiser, query, [reach_key(row) for row in found] + [(None, None)])  # rows and totals at once
    rows = []
    for row in found:
        out: dict[str, Any] = {f"{query.level}_id": row["level_id"], f"{query.level}_name": row["name"] or ""}
        if query.level != "campaign":
            out["campaign_id"] = row["campaign_id"]
        if query.level == "ad":
            out["ad_group_id"] = row["ad_group_id"]
        for name in query.dimensions:
            value = row[name]
            out[name] = value.isoformat() if isinstance(value, date) else value
        out.update(metrics_of(row, query.metrics, reach.get(reach_key(row)) if wants_people else None))
        rows.append(out)
    if by_people and ordering is not None:
        column, sign = ordering[0], -1 if ordering[1] else 1
        rows.sort(key=lambda row: (row[column] is None, sign * (row[column] or 0)))
        if paged:
            rows = rows[(query.page - 1) * query.page_size : query.page * query.page_size]
    total_reach = reach.get((None, None)) if wants_people else None
    totals = metrics_of(total_sums, query.metrics, total_reach)
    return Report(advertiser, query, rows, totals, count)


def _dates(query: ReportQuery) -> list[date]:
    return [query.start + timedelta(days=n) for n in range(query.days)]


def reach_for(advertiser: Advertiser, query: ReportQuery, groups: list[tuple[Any, Any]]) -> dict[tuple[Any, Any], int]:
    """Distinct people per (level id or None for all, date ISO string or None for the whole range)."""
    closed = set(
        ClosedDay.objects.filter(advertiser=advertiser, local_date__range=(query.start, query.end)).values_list(
            "local_date", flat=True
        )
    )
    sketches: list[tuple[int, int, date, bytes]] = []  # ad group, campaign, day, sketch
    stored = ReachSketch.objects.filter(advertiser=advertiser, local_date__range=(query.start, query.end))
    live = DailyAdRow.objects.filter(advertiser=advertiser, local_date__range=(query.start, query.end), impressions__gt=0)
    if query.campaigns:
        stored, live = stored.filter(campaign_id__in=query.campaigns), live.filter(campaign_id__in=query.campaigns)
    if query.ad_groups:
        stored, live = stored.filter(ad_group_id__in=query.ad_groups), live.filter(ad_group_id__in=query.ad_groups)
    for ad_group_id, campaign_id, day, sketch in stored.filter(local_date__in=closed).values_list(
        "ad_group_id", "campaign_id", "local_date", "sketch"
    ):
        sketches.append((ad_group_id, campaign_id, day, bytes(sketch)))
    open_groups = sorted(
        set(live.exclude(local_date__in=closed).values_list("ad_group_id", "campaign_id", "local_date").distinct())
    )
    if open_groups:
        client = get_redis()
        whole_since = services.live_sketches_whole_since()
        found = client.mget([charging.reach_key(advertiser.pk, ag, day.isoformat()) for ag, _, day in open_groups])
        for (ad_group_id, campaign_id, day), live_sketch in zip(open_groups, found, strict=True):
            # Redis lost it, or may have lost some of it since the day began: count the day's people from the event store
            if not isinstance(live_sketch, bytes) or not services.live_sketch_trusted(advertiser.time_zone, day, whole_since):
                live_sketch = services.sketch_from_events(advertiser, ad_group_id, day)
            sketches.append((ad_group_id, campaign_id, day, live_sketch))
    wanted: dict[tuple[Any, Any], list[bytes]] = {group: [] for group in groups}
    for ad_group_id, campaign_id, day, sketch in sketches:
        level_id = ad_group_id if query.level == "ad_group" else campaign_id
        for key in ((level_id, day.isoformat()), (level_id, None), (None, day.isoformat()), (None, None)):
            if key in wanted:
                wanted[key].append(sketch)
    return services.count_reach(wanted)


def present(report: Report) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows and totals as the API and CSV show them: money as decimal strings in the advertiser's currency."""

    def shown(values: dict[str, Any]) -> dict[str, Any]:
        return {
            name: (money.format_amount(value) if name in MONEY and value is not None else value) for name, value in values.items()
        }

    return [shown(row) for row in report.rows], shown(report.totals)


# --- tenancy-scoped lookups -----------------------------------------------------------------------


def report_advertiser_for(*, user: User, advertiser_id: int | str) -> Advertiser:
    """The advertiser whose numbers `user` asks for (Http404 outside the user's tenancy)."""
    return advertiser_get_for_user(user=user, advertiser_id=advertiser_id)


def report_jobs_for(user: User) -> QuerySet[ReportJob]:
    return ReportJob.objects.filter(advertiser__in=advertisers_for(user)).defer("csv")


def subscriptions_for(user: User) -> QuerySet[ReportSubscription]:
    return ReportSubscription.objects.filter(advertiser__in=advertisers_for(user), user=user)
