"""Reporting's writes: rolling the event store up, closing advertisers' days, reach sketches.

`rollup` counts what the event store gained since its watermark (`seq`, the order events were
stored in) into the three grains, adding to the rows their events fall in, in one transaction
with the watermark: no event is ever counted twice or missed, and a late event simply adds to the
hour and day it happened in. `reroll` recounts any window from scratch, up to the same watermark,
and gives identical rows; `close_days` finalises each advertiser's days as its midnight passes
and keeps the day's reach sketches.
"""

import logging
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from accounts.models import Advertiser
from adplatform import clock
from adplatform.redis_client import get_redis
from delivery import charging

from .models import METRIC_FIELDS, ClosedDay, RollupWatermark

logger = logging.getLogger(__name__)

WATERMARK = "events"
KEY = ("advertiser_id", "campaign_id", "ad_group_id", "ad_id", "local_date")
DIMENSIONS = ("placement", "country", "device")
SUMS = ", ".join(f"sum({name})::bigint AS {name}" for name in METRIC_FIELDS)

# One row per (ad, local hour, placement, country, device) of the events chosen by {where}; the
# local time is computed once per event, in its advertiser's time zone. A conversion value in another
# currency is converted as adplatform.money.convert converts money: through the US dollar rates,
# rounded down to the micro.
AGGREGATE = """
SELECT e.advertiser_id, e.campaign_id, e.ad_group_id, e.ad_id,
       local.at::date AS local_date, extract(hour FROM local.at)::smallint AS local_hour,
       e.placement, e.country, e.device,
       count(*) FILTER (WHERE e.kind = 'serve' AND e.status <> 'invalid') AS requests_won,
       count(*) FILTER (WHERE e.kind = 'impression' AND e.status <> 'invalid') AS impressions,
       count(*) FILTER (WHERE e.kind = 'click' AND e.status <> 'invalid') AS clicks,
       count(*) FILTER (WHERE e.kind = 'conversion' AND e.status = 'valid') AS conversions,
       coalesce(sum(CASE WHEN e.currency IN ('', a.currency) THEN e.value_micros ELSE (
           SELECT floor(e.value_micros * mine.units_per_usd / theirs.units_per_usd)::bigint
           FROM accounts_currency mine, accounts_currency theirs WHERE mine.code = a.currency AND theirs.code = e.currency
       ) END) FILTER (WHERE e.kind = 'conversion' AND e.status = 'valid'), 0)::bigint AS conversion_value_micros,
       sum(e.cost_micros)::bigint AS cost_micros,
       count(*) FILTER (WHERE e.status = 'invalid') AS invalid_events
FROM delivery_event e
JOIN accounts_advertiser a ON a.id = e.advertiser_id
CROSS JOIN LATERAL (SELECT e.occurred_at AT TIME ZONE a.time_zone AS at) local
WHERE e.ad_id IS NOT NULL AND e.ad_group_id IS NOT NULL AND e.campaign_id IS NOT NULL AND {where}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
"""


def _upsert(cursor: Any, table: str, columns: tuple[str, ...], conflict: tuple[str, ...]) -> None:
    """Add the batch's figures, summed per `columns`, to `table`'s rows (creating the missing ones)."""
    names = ", ".join(columns)
    adds = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in METRIC_FIELDS)
    cursor.execute(
        f"INSERT INTO {table} ({names}, {', '.join(METRIC_FIELDS)}) "  # noqa: S608 - fixed names
        f"SELECT {names}, {SUMS} FROM reporting_batch GROUP BY {names} "
        f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {adds}"
    )


def _count_batch(cursor: Any, where: str, params: list[Any]) -> list[tuple[int, date]]:
    """Aggregate the chosen events into the temporary batch, add it to all three grains; the (advertiser, day)s touched."""
    cursor.execute("DROP TABLE IF EXISTS reporting_batch")
    cursor.execute(f"CREATE TEMP TABLE reporting_batch ON COMMIT DROP AS {AGGREGATE.format(where=where)}", params)
    _upsert(
        cursor,
        "reporting_hourly",
        (*KEY, "local_hour", *DIMENSIONS),
        ("local_date", "local_hour", "ad_id", "placement", "country", "device"),
    )
    _upsert(cursor, "reporting_daily", (*KEY, *DIMENSIONS), ("local_date", "ad_id", "placement", "country", "device"))
    _upsert(cursor, "reporting_daily_ad", KEY, ("local_date", "ad_id"))
    cursor.execute("SELECT DISTINCT advertiser_id, local_date FROM reporting_batch")
    return list(cursor.fetchall())


def _watermark() -> RollupWatermark:
    watermark, _ = RollupWatermark.objects.select_for_update().get_or_create(name=WATERMARK)
    return watermark


def rollup(*, upto: int | None = None) -> int:
    """Count every event stored since the watermark (up to `upto`); returns how many (advertiser, day)s it touched.

    Days already closed that late events fell in get their reach sketch refreshed.
    """
    with transaction.atomic():
        watermark = _watermark()
        with connection.cursor() as cursor:
            if upto is None:
                cursor.execute("SELECT coalesce(max(seq), 0) FROM delivery_event")
                upto = int(cursor.fetchone()[0])
            if upto <= watermark.seq:
                return 0
            touched = _count_batch(cursor, "e.seq > %s AND e.seq <= %s", [watermark.seq, upto])
        watermark.seq, watermark.updated_at = upto, clock.now()
        watermark.save()
        closed = _closed_among(touched)
    for advertiser_id, day in closed:
        close_day(advertiser_id, day)
    return len(touched)


def _closed_among(days: Iterable[tuple[int, date]]) -> list[tuple[int, date]]:
    days = list(days)
    if not days:
        return []
    closed = set(
        ClosedDay.objects.filter(advertiser_id__in={a for a, _ in days}, local_date__in={d for _, d in days}).values_list(
            "advertiser_id", "local_date"
        )
    )
    return sorted(day for day in days if day in closed)


def utc_bounds(time_zone: str, start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants from the start of local day `start` to the end of local day `end`."""
    zone = ZoneInfo(time_zone)
    return (
        datetime.combine(start, datetime.min.time(), tzinfo=zone),
        datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=zone),
    )


def reroll(advertiser: Advertiser, start: date, end: date) -> int:
    """Recount the advertiser's local days `start`..`end` from the event store, up to the watermark.

    Gives exactly the rows the incremental rollups gave (the tests hold it to that); useful after
    a repair, and what a re-run of any window means. Returns the rows of the daily-per-ad grain.
    """
    since, until = utc_bounds(advertiser.time_zone, start, end)
    with transaction.atomic():
        watermark = _watermark()
        with connection.cursor() as cursor:
            for table in ("reporting_hourly", "reporting_daily", "reporting_daily_ad"):
                cursor.execute(
                    f"DELETE FROM {table} WHERE advertiser_id = %s AND local_date BETWEEN %s AND %s",  # noqa: S608
                    [advertiser.pk, start, end],
                )
            _count_batch(
                cursor,
                "e.advertiser_id = %s AND e.seq <= %s AND e.occurred_at >= %s AND e.occurred_at < %s",
                [advertiser.pk, watermark.seq, since, until],
            )
            cursor.execute(
                "SELECT count(*) FROM reporting_daily_ad WHERE advertiser_id = %s AND local_date BETWEEN %s AND %s",
                [advertiser.pk, start, end],
            )
            return int(cursor.fetchone()[0])


# --- days closing, reach --------------------------------------------------------------------------


def local_today(time_zone: str) -> date:
    return clock.now().astimezone(ZoneInfo(time_zone)).date()


def close_days() -> int:
    """Close every advertiser's days that have ended in its time zone and have rows; returns how many it closed."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT d.advertiser_id, d.local_date
            FROM reporting_daily_ad d JOIN accounts_advertiser a ON a.id = d.advertiser_id
            WHERE d.local_date < (%s AT TIME ZONE a.time_zone)::date
              AND NOT EXISTS (SELECT 1 FROM reporting_closedday c
                              WHERE c.advertiser_id = d.advertiser_id AND c.local_date = d.local_date)
            ORDER BY 2, 1
            """,
            [clock.now()],
        )
        days = cursor.fetchall()
    for advertiser_id, day in days:
        close_day(advertiser_id, day)
    return len(days)


def close_day(advertiser_id: int, day: date) -> None:
    """Keep the reach sketch of each of the advertiser's ad groups for `day`, and mark the day closed."""
    from .models import ReachSketch

    advertiser = Advertiser.objects.get(pk=advertiser_id)
    client = get_redis()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT ad_group_id, campaign_id FROM reporting_daily_ad "
            "WHERE advertiser_id = %s AND local_date = %s AND impressions > 0",
            [advertiser_id, day],
        )
        groups = cursor.fetchall()
    for ad_group_id, campaign_id in groups:
        sketch = client.get(charging.reach_key(advertiser_id, ad_group_id, day.isoformat()))
        if sketch is None:  # Redis lost it (or never had it): count the people again from the event store
            sketch = sketch_from_events(advertiser, ad_group_id, day)
        people = count_reach({0: [bytes(sketch)]})[0]
        ReachSketch.objects.update_or_create(
            ad_group_id=ad_group_id,
            local_date=day,
            defaults={"advertiser_id": advertiser_id, "campaign_id": campaign_id, "sketch": bytes(sketch), "people": people},
        )
    ClosedDay.objects.update_or_create(advertiser_id=advertiser_id, local_date=day, defaults={"closed_at": clock.now()})


def sketch_from_events(advertiser: Advertiser, ad_group_id: int, day: date) -> bytes:
    """The ad group's reach sketch for `day`, rebuilt from the impressions in the event store."""
    since, until = utc_bounds(advertiser.time_zone, day, day)
    client = get_redis()
    scratch = f"reporting:scratch:{uuid.uuid4().hex}"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT user_key FROM delivery_event WHERE advertiser_id = %s AND ad_group_id = %s "
            "AND kind = 'impression' AND status <> 'invalid' AND occurred_at >= %s AND occurred_at < %s AND user_key <> ''",
            [advertiser.pk, ad_group_id, since, until],
        )
        client.pfadd(scratch)  # an empty sketch when nobody was reached
        while chunk := cursor.fetchmany(10_000):
            client.pfadd(scratch, *(user_key for (user_key,) in chunk))
    pipe = client.pipeline()
    pipe.get(scratch)
    pipe.delete(scratch)
    sketch, _ = pipe.execute()
    return bytes(sketch)


def count_reach(groups: dict[Any, list[bytes]]) -> dict[Any, int]:
    """Distinct people per group of sketches, in one round trip."""
    client = get_redis()
    prefix = f"reporting:scratch:{uuid.uuid4().hex}"
    pipe = client.pipeline(transaction=False)
    plan: list[tuple[Any, list[str]]] = []
    n = 0
    for group, sketches in groups.items():
        keys = []
        for sketch in sketches:
            key = f"{prefix}:{n}"
            n += 1
            pipe.set(key, sketch, ex=60)
            keys.append(key)
        plan.append((group, keys))
    for _, keys in plan:
        if keys:
            pipe.pfcount(*keys)
    every = [key for _, keys in plan for key in keys]
    if every:
        pipe.delete(*every)
    results = pipe.execute()[n:]
    counts: dict[Any, int] = {}
    position = 0
    for group, keys in plan:
        if keys:
            counts[group] = int(results[position])
            position += 1
        else:
            counts[group] = 0
    return counts


# --- report jobs and CSV ---------------------------------------------------------------------------


def report_csv(report: Any) -> bytes:
    """The whole report as CSV: a header, its rows, and a totals row last (money as decimal strings)."""
    import csv
    import io

    from .selectors import present

    rows, totals = present(report)
    query = report.query
    level = query.level
    columns = [f"{level}_id", f"{level}_name"]
    if level != "campaign":
        columns.append("campaign_id")
    if level == "ad":
        columns.append("ad_group_id")
    columns += [*query.dimensions, *query.metrics]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(column) is None else _csv_safe(row.get(column)) for column in columns])
    writer.writerow(
        [
            "total",
            "",
            *([""] * (len(columns) - 2 - len(query.metrics))),
            *("" if totals[m] is None else totals[m] for m in query.metrics),
        ]
    )
    return buffer.getvalue().encode()


def _csv_safe(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs as a formula (names are the advertiser's own input)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def report_job_create(*, actor: Any, advertiser: Advertiser, query: Any) -> Any:
    """Queue a report to run in the background (queue `reporting`); returns the job."""
    from .models import ReportJob
    from .tasks import run_report_job

    job = ReportJob.objects.create(
        advertiser=advertiser, requested_by=actor, parameters=query.as_parameters(), created_at=clock.now()
    )
    transaction.on_commit(lambda: run_report_job.delay(str(job.pk)))
    return job


def report_job_run(job_id: str) -> None:
    """Run a queued report job: every row, as CSV, kept on the job for download."""
    from .models import ReportJob
    from .query import ReportError, parse
    from .selectors import run_report

    job = ReportJob.objects.select_related("advertiser").filter(pk=job_id).first()
    if job is None or job.status not in (ReportJob.Status.QUEUED, ReportJob.Status.RUNNING):
        return
    ReportJob.objects.filter(pk=job.pk).update(status=ReportJob.Status.RUNNING)
    try:
        query = parse(job.parameters, today=local_today(job.advertiser.time_zone))
        report = run_report(job.advertiser, query, paged=False)
        body = report_csv(report)
    except ReportError as exc:
        ReportJob.objects.filter(pk=job.pk).update(
            status=ReportJob.Status.FAILED, error=f"{exc.parameter}: {exc}", finished_at=clock.now()
        )
        return
    except Exception:
        # Never leave a job "running" for ever: the client polls it. The traceback goes to the logs.
        logger.exception("report job %s failed", job.pk)
        ReportJob.objects.filter(pk=job.pk).update(
            status=ReportJob.Status.FAILED, error="The report could not be run; please try again.", finished_at=clock.now()
        )
        return
    ReportJob.objects.filter(pk=job.pk).update(
        status=ReportJob.Status.DONE, csv=body, row_count=len(report.rows), finished_at=clock.now()
    )
