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
from dataclasses import replace
from datetime import date, datetime
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
# rounded down to the micro. The rates are joined, not looked up per event in a subquery: a
# correlated subquery forces a nested loop over advertisers that rereads the event store's pages
# once per advertiser, and keeps the planner from a hash aggregate (bench/reporting).
AGGREGATE = """
SELECT e.advertiser_id, e.campaign_id, e.ad_group_id, e.ad_id,
       local.at::date AS local_date, extract(hour FROM local.at)::smallint AS local_hour,
       e.placement, e.country, e.device,
       count(*) FILTER (WHERE e.kind = 'serve' AND e.status <> 'invalid') AS requests_won,
       count(*) FILTER (WHERE e.kind = 'impression' AND e.status <> 'invalid') AS impressions,
       count(*) FILTER (WHERE e.kind = 'click' AND e.status <> 'invalid') AS clicks,
       count(*) FILTER (WHERE e.kind = 'conversion' AND e.status = 'valid') AS conversions,
       coalesce(sum(CASE WHEN e.currency IN ('', a.currency) THEN e.value_micros
                         ELSE floor(e.value_micros * mine.units_per_usd / theirs.units_per_usd)::bigint END)
                FILTER (WHERE e.kind = 'conversion' AND e.status = 'valid'), 0)::bigint AS conversion_value_micros,
       sum(e.cost_micros)::bigint AS cost_micros,
       count(*) FILTER (WHERE e.status = 'invalid') AS invalid_events
FROM delivery_event e
JOIN accounts_advertiser a ON a.id = e.advertiser_id
LEFT JOIN accounts_currency mine ON mine.code = a.currency
LEFT JOIN accounts_currency theirs ON theirs.code = e.currency
CROSS JOIN LATERAL (SELECT e.occurred_at AT TIME ZONE a.time_zone AS at) local
WHERE e.ad_id IS NOT NULL AND e.ad_group_id IS NOT NULL AND e.campaign_id IS NOT NULL AND {where}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
"""
# A day's batch has about one group per five events; counting it in memory (a hash aggregate, up to
# hash_mem_multiplier times this) instead of sorting on disk is most of a rollup's speed.
BATCH_WORK_MEM = "512MB"
HOURLY_COLUMNS = (*KEY, "local_hour", *DIMENSIONS)


def _upsert(cursor: Any, table: str, columns: tuple[str, ...], conflict: tuple[str, ...]) -> None:
    """Add the batch's figures, summed per `columns`, to `table`'s rows (creating the missing ones).

    Rows go in the order of the table's unique key, so the index is written page after page.
    The batch is already one row per hourly key: that grain is added as it is, without regrouping.
    """
    names = ", ".join(columns)
    adds = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in METRIC_FIELDS)
    if columns == HOURLY_COLUMNS:
        source = f"SELECT {names}, {', '.join(METRIC_FIELDS)} FROM reporting_batch"  # noqa: S608 - fixed names
    else:
        source = f"SELECT {names}, {SUMS} FROM reporting_batch GROUP BY {names}"  # noqa: S608 - fixed names
    cursor.execute(
        f"INSERT INTO {table} ({names}, {', '.join(METRIC_FIELDS)}) "
        f"{source} ORDER BY {', '.join(conflict)} "
        f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {adds}"
    )


def _count_batch(cursor: Any, where: str, params: list[Any]) -> list[tuple[int, date]]:
    """Aggregate the chosen events into the temporary batch, add it to all three grains; the (advertiser, day)s touched."""
    cursor.execute("DROP TABLE IF EXISTS reporting_batch")
    cursor.execute(f"SET LOCAL work_mem = '{BATCH_WORK_MEM}'")
    cursor.execute(f"CREATE TEMP TABLE reporting_batch ON COMMIT DROP AS {AGGREGATE.format(where=where)}", params)
    _upsert(
        cursor,
        "reporting_hourly",
        HOURLY_COLUMNS,
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
    live_sketches_whole_since()  # runs every few minutes: notices soon that Redis lost its data
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
    return clock.day_bounds(time_zone, start)[0], clock.day_bounds(time_zone, end)[1]


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


LIVE_SKETCHES_SINCE = "reporting:reach:whole-since"


def live_sketches_whole_since() -> datetime:
    """Since when Redis's live reach sketches hold everybody they were given (the marker's time).

    The marker is set the first time reporting finds it missing. Redis losing its data loses the
    marker with it, and the sketches PFADD then starts again hold only the people shown an ad after
    the loss; so the live sketch of a day that began before the marker is not trusted, and that
    day's people are counted from the event store instead.
    """
    pipe = get_redis().pipeline()
    pipe.set(LIVE_SKETCHES_SINCE, clock.now().isoformat(), nx=True)
    pipe.get(LIVE_SKETCHES_SINCE)
    _, since = pipe.execute()
    return datetime.fromisoformat(since.decode())


def live_sketch_trusted(time_zone: str, day: date, whole_since: datetime) -> bool:
    """Whether the live sketch of local `day` can hold all its people: Redis kept its data since before the day began."""
    return utc_bounds(time_zone, day, day)[0] >= whole_since


def close_day(advertiser_id: int, day: date) -> None:
    """Keep the reach sketch of each of the advertiser's ad groups for `day`, and mark the day closed.

    The sketch is Redis's live one (PFADDed at impression time) while Redis has kept it whole; if
    Redis lost it, or lost its data since the day began, the day's people are counted again from
    the event store.
    """
    from .models import ReachSketch

    advertiser = Advertiser.objects.get(pk=advertiser_id)
    client = get_redis()
    trusted = live_sketch_trusted(advertiser.time_zone, day, live_sketches_whole_since())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT ad_group_id, campaign_id FROM reporting_daily_ad "
            "WHERE advertiser_id = %s AND local_date = %s AND impressions > 0",
            [advertiser_id, day],
        )
        groups = cursor.fetchall()
    for ad_group_id, campaign_id in groups:
        live = client.get(charging.reach_key(advertiser_id, ad_group_id, day.isoformat())) if trusted else None
        # Redis lost it, never had it, or may have lost some of it: count the people again from the event store
        sketch = live if isinstance(live, bytes) else sketch_from_events(advertiser, ad_group_id, day)
        people = count_reach({0: [sketch]})[0]
        ReachSketch.objects.update_or_create(
            ad_group_id=ad_group_id,
            local_date=day,
            defaults={"advertiser_id": advertiser_id, "campaign_id": campaign_id, "sketch": sketch, "people": people},
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
        client.expire(scratch, 600)  # gone even if this process dies before it is read
        while chunk := cursor.fetchmany(10_000):
            client.pfadd(scratch, *(user_key for (user_key,) in chunk))
    pipe = client.pipeline()
    pipe.get(scratch)
    pipe.delete(scratch)
    sketch, _ = pipe.execute()
    return bytes(sketch)


# Sketches merged per Redis command. Merging is about 3 us of Redis's single thread per sketch, and
# this Redis also serves the decision path: one PFCOUNT over 9,000 sketches (100 ad groups x 90
# days) held it for 26 ms. Merged a chunk per command, another client waits at most about a chunk.
MERGE_CHUNK = 256


def count_reach(groups: dict[Any, list[bytes]]) -> dict[Any, int]:
    """Distinct people per group of sketches (the union of each group's sketches), in one round trip."""
    client = get_redis()
    prefix = f"{{reporting:scratch:{uuid.uuid4().hex}}}"  # a hash tag: commands over several keys need one slot
    pipe = client.pipeline(transaction=False)
    scratch: dict[int, str] = {}  # one key per sketch, however many groups it counts in (a day in its row and the totals)
    plan: list[tuple[Any, list[str]]] = []
    for group, sketches in groups.items():
        keys = []
        for sketch in sketches:
            key = scratch.get(id(sketch))
            if key is None:
                key = scratch[id(sketch)] = f"{prefix}:{len(scratch)}"
                pipe.set(key, sketch, ex=60)
            keys.append(key)
        plan.append((group, keys))
    replies = len(scratch)
    counted: dict[Any, int] = {}  # group -> position of its PFCOUNT's reply
    merged = []
    for n, (group, keys) in enumerate(plan):
        if len(keys) > MERGE_CHUNK:
            into = f"{prefix}:merged:{n}"
            merged.append(into)
            for low in range(0, len(keys), MERGE_CHUNK):
                pipe.pfmerge(into, *keys[low : low + MERGE_CHUNK])
                replies += 1
            pipe.expire(into, 60)
            replies += 1
            keys = [into]
        if keys:
            pipe.pfcount(*keys)
            counted[group] = replies
            replies += 1
    every = [*scratch.values(), *merged]
    for low in range(0, len(every), MERGE_CHUNK):
        pipe.unlink(*every[low : low + MERGE_CHUNK])
    results = pipe.execute()
    return {group: int(results[counted[group]]) if group in counted else 0 for group, _ in plan}


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


MAX_JOB_ROWS = 1_000_000  # a job builds its CSV in memory and keeps it in one column


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
        size = run_report(job.advertiser, replace(query, page=1, page_size=1)).count
        if size > MAX_JOB_ROWS:
            ReportJob.objects.filter(pk=job.pk).update(
                status=ReportJob.Status.FAILED,
                error=f"The report has {size:,} rows, more than {MAX_JOB_ROWS:,}: narrow the dates or the breakdowns.",
                finished_at=clock.now(),
            )
            return
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
