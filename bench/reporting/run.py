"""The reporting benchmark: rolling up a day of 10 million events, and 90-day reports for an advertiser with 1,000 ads.

    .venv/bin/python -m bench.reporting.run                       (seed everything, measure everything)
    .venv/bin/python -m bench.reporting.run --reuse               (keep the seeded database, measure again)
    .venv/bin/python -m bench.reporting.run --events 1000000 --report-runs 20 --explain

Uses its own database and Redis database (bench.reporting.env), never the dev or test ones.

1. Seeds (bench.reporting.seed): 200 advertisers with ~1,000 ads, a day (UTC 2026-11-28) of
   `--events` events inserted straight into the event store with generate_series, and 90 days of
   rollup rows for one advertiser with 1,000 ads.
2. Rollup: empties the rollup tables and the watermark, then times `reporting.services.rollup()`
   over the whole day (`--repeat` times, the median reported, with the time of each statement);
   then one more hour of events (1/24 of the day) rolled up incrementally into the filled tables,
   and a rollup with nothing new. `--close` also times `close_days()` as if Redis had lost every
   live reach sketch (each ad group's day counted again from the event store). With `--explain`,
   EXPLAIN (ANALYZE, BUFFERS) of the counting statement, rolled back.
3. Reports: `reporting.selectors.run_report` (+ `present`, as the API answers) over 90 days, page
   size 100: at ad level with no breakdown, by date and by country; at campaign level by date; and
   reach (9,000 closed-day sketches of 100 ad groups merged) at campaign level and per ad group by
   date. `--report-runs` runs of each after 3 warm-ups; p50, p95 and max.

Beside each phase it records how busy the machine's CPUs were during it, and how busy they were
with other work just before and after it (sampled while the benchmark idles), so a figure taken
on a shared machine can be judged. Prints a table against the targets and writes
bench/out/reporting/results.json. Refuses to start while the delivery benchmark runs.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from . import env

DAY = date(2026, 11, 28)
REPORT_END = date(2026, 11, 28)
TARGET_ROLLUP_SECONDS = 60.0
TARGET_REPORT_P95_MS = 150.0
TARGET_REPORT = "ad level, 90 days"  # the target; the other reports are measured beside it


# --- how busy the machine was ----------------------------------------------------------------------


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _busy_cpus(seconds: float) -> float:
    """How many CPUs the machine kept busy over the next `seconds` (while this benchmark waits)."""
    busy, total = _cpu_times()
    time.sleep(seconds)
    busy_after, total_after = _cpu_times()
    return round((busy_after - busy) / max(1, total_after - total) * (os.cpu_count() or 1), 2)


class Load:
    """How busy the machine was: its CPUs during a phase, and what else ran just before and after it.

    The background (other work on this shared machine) is sampled over two seconds while the
    benchmark is idle, before and after the phase; during the phase the busy figure includes the
    benchmark itself, its PostgreSQL backend and that backend's parallel workers.
    """

    def __enter__(self) -> "Load":
        self.background_before = _busy_cpus(2.0)
        self.machine = _cpu_times()
        self.loadavg = os.getloadavg()[0]
        return self

    def __exit__(self, *_: object) -> None:
        busy, total = _cpu_times()
        cpus = os.cpu_count() or 1
        self.result = {
            "machine_busy_cpus": round((busy - self.machine[0]) / max(1, total - self.machine[1]) * cpus, 2),
            "background_cpus_before": self.background_before,
            "background_cpus_after": _busy_cpus(2.0),
            "loadavg_1m_before": round(self.loadavg, 2),
        }


# --- phases -------------------------------------------------------------------------------------------


def _reset_rollups() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE reporting_hourly, reporting_daily, reporting_daily_ad, reporting_rollupwatermark, "
            "reporting_reachsketch, reporting_closedday"
        )
        cursor.execute("CHECKPOINT")


def _rollup_row_counts() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        counts = {}
        for table in ("reporting_hourly", "reporting_daily", "reporting_daily_ad"):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
            counts[table] = cursor.fetchone()[0]
        return counts


class StatementTimes:
    """Wall time of each statement a block runs, by its first words (to see where a rollup spends its time)."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.monotonic()
        try:
            return execute(sql, params, many, context)
        finally:
            words = " ".join(sql.split()[:3])
            self.times.append((words[:40], round(time.monotonic() - started, 3)))

    def slow(self, least: float = 0.05) -> list[tuple[str, float]]:
        return [(words, seconds) for words, seconds in self.times if seconds >= least]


def explain_rollup() -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the rollup's counting statement over every stored event, rolled back."""
    from django.db import connection, transaction

    from reporting import services

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{services.BATCH_WORK_MEM}'")
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + services.AGGREGATE.format(where="e.seq > %s AND e.seq <= %s"), [0, 2**62])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


def bench_rollup(*, repeat: int, close: bool, log: Callable[[str], None]) -> dict[str, Any]:
    from django.db import connection

    from reporting import services

    from . import seed

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), coalesce(max(seq), 0) FROM delivery_event")
        stored, _ = cursor.fetchone()
    runs: list[dict[str, Any]] = []
    for n in range(repeat):
        _reset_rollups()
        statements = StatementTimes()
        with Load() as load, connection.execute_wrapper(statements):
            started = time.monotonic()
            touched = services.rollup()
            seconds = time.monotonic() - started
        runs.append({"seconds": round(seconds, 2), "advertiser_days": touched, "statements": statements.slow(), **load.result})
        log(f"  full day #{n + 1}: {seconds:.1f} s for {stored:,} events ({touched} advertiser-days)")
        log(f"    slowest statements: {statements.slow(0.5)}")
    rows = _rollup_row_counts()
    next_day = DAY + timedelta(days=1)
    next_midnight = datetime(next_day.year, next_day.month, next_day.day, tzinfo=UTC)
    added = max(1, stored // 24)
    seed.insert_events(day=next_day, count=added, hours=1, first=10**10, log=lambda _: None)
    with Load() as load:
        started = time.monotonic()
        services.rollup()
        incremental = time.monotonic() - started
    log(f"  one more hour: {incremental:.2f} s for {added:,} events into the filled tables")
    started = time.monotonic()
    services.rollup()
    nothing = time.monotonic() - started
    with connection.cursor() as cursor:  # as it was, for the next run
        cursor.execute("DELETE FROM delivery_event WHERE occurred_at >= %s", [next_midnight])
    closing: dict[str, Any] = {}
    if close:
        # Redis never saw these events (they were inserted with SQL): the worst case, Redis lost every live
        # sketch, so every ad group's day is counted again from the event store.
        from adplatform import clock

        with Load() as load, clock.frozen(next_midnight + timedelta(days=2)):
            started = time.monotonic()
            closed = services.close_days()
            seconds = time.monotonic() - started
        closing = {"advertiser_days": closed, "seconds": round(seconds, 1), **load.result}
        log(f"  closing {closed} advertiser-days, every sketch rebuilt from the event store: {closing['seconds']} s")
    return {
        "closing_after_redis_lost_everything": closing,
        "events": stored,
        "runs": runs,
        "median_seconds": statistics.median(run["seconds"] for run in runs),
        "rows": rows,
        "incremental_hour": {"events": added, "seconds": round(incremental, 3), **load.result},
        "nothing_new_seconds": round(nothing, 4),
    }


REPORT_CASES = {
    "ad level, 90 days": {"level": "ad"},
    "ad level, 90 days, by date": {"level": "ad", "dimensions": "date"},
    "ad level, 90 days, by country": {"level": "ad", "dimensions": "country"},
    "campaign level, 90 days, by date": {"level": "campaign", "dimensions": "date"},
    "campaign level, 90 days, reach": {"level": "campaign", "metrics": "impressions,reach,frequency"},
    "ad group level, 90 days, by date, reach": {
        "level": "ad_group",
        "dimensions": "date",
        "metrics": "impressions,reach,frequency",
    },
}


def bench_reports(*, runs: int, log: Callable[[str], None]) -> dict[str, Any]:
    from accounts.models import Advertiser
    from reporting import query as report_query
    from reporting import selectors

    from . import seed

    advertiser = Advertiser.objects.get(name=seed.BIG_ADVERTISER)
    start = REPORT_END - timedelta(days=89)
    results = {}
    for name, parameters in REPORT_CASES.items():
        query = report_query.parse(
            {"start_date": start.isoformat(), "end_date": REPORT_END.isoformat(), "page_size": "100", **parameters},
            today=REPORT_END,
        )
        timings = []
        with Load() as load:
            for n in range(runs + 3):
                started = time.perf_counter()
                report = selectors.run_report(advertiser, query)
                selectors.present(report)
                if n >= 3:
                    timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
        results[name] = {
            "rows_in_report": report.count,
            "p50_ms": round(statistics.median(timings), 1),
            "p95_ms": round(p95, 1),
            "max_ms": round(timings[-1], 1),
            **load.result,
        }
        log(f"  {name}: p50 {results[name]['p50_ms']} ms, p95 {p95:.1f} ms ({report.count:,} rows)")
    return results


def explain_report(parameters: dict[str, str]) -> str:
    """EXPLAIN ANALYZE of a report's main statement (the SQL run_report runs, captured)."""
    from django.db import connection

    from accounts.models import Advertiser
    from reporting import query as report_query
    from reporting import selectors

    from . import seed

    advertiser = Advertiser.objects.get(name=seed.BIG_ADVERTISER)
    query = report_query.parse(
        {"start_date": (REPORT_END - timedelta(days=89)).isoformat(), "end_date": REPORT_END.isoformat(), **parameters},
        today=REPORT_END,
    )
    captured: list[tuple[str, Any]] = []

    def capture(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        selectors.run_report(advertiser, query)
    sql, params = captured[0]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


# --- the run ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="full-day rollups to time (median reported)")
    parser.add_argument("--report-runs", type=int, default=50)
    parser.add_argument("--reuse", action="store_true", help="keep the seeded database (seed it if it is missing)")
    parser.add_argument("--skip", choices=["rollup", "reports"], action="append", default=[])
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the statements measured")
    parser.add_argument("--close", action="store_true", help="also time closing the days with every sketch lost")
    parser.add_argument("--force", action="store_true", help="run even while the delivery benchmark runs")
    args = parser.parse_args()

    running = subprocess.run(["/usr/bin/pgrep", "-f", "bench.delivery"], capture_output=True, text=True).stdout.split()
    if running and not args.force:
        raise SystemExit(f"bench: the delivery benchmark is running (pids {', '.join(running)}); try again when it is done")
    env.configure()

    def log(line: str) -> None:
        print(line, flush=True)

    from . import seed

    seeded: dict[str, Any] = {}
    reuse = args.reuse and _database_ready()
    if not reuse:
        log("seeding the marketplace ...")
        seeded = seed.build_marketplace()
        log(f"  {seeded}")
        log(f"inserting {args.events:,} events of {DAY} ...")
        seeded["event_seconds"] = round(seed.insert_events(day=DAY, count=args.events, log=log), 1)
        log("seeding 90 days of rollups for the advertiser with 1,000 ads ...")
        seeded |= seed.seed_report_rollups(end=REPORT_END)
        log(f"  {seeded}")
    else:
        import django

        django.setup()
    from django.db import connection

    env.PLACE.flush_redis()
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()
        cursor.execute("SHOW work_mem")
        work_mem = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "postgres": version.split(" on ")[0],
                    "work_mem": work_mem, "shared_buffers": shared_buffers},
        "seeded": seeded,
    }  # fmt: skip
    if "rollup" not in args.skip:
        log("rollup ...")
        if args.explain:
            log(explain_rollup())
        results["rollup"] = bench_rollup(repeat=args.repeat, close=args.close, log=log)
        results["seeded"] |= seed.seed_report_rollups(end=REPORT_END)  # emptied with the rest
    if "reports" not in args.skip:
        results["seeded"] |= seed.seed_reach_sketches(end=REPORT_END)
        log("reports ...")
        if args.explain:
            for parameters in REPORT_CASES.values():
                log(explain_report(parameters))
        results["reports"] = bench_reports(runs=args.report_runs, log=log)
    env.OUT.mkdir(parents=True, exist_ok=True)
    (env.OUT / "results.json").write_text(json.dumps(results, indent=2, default=str))
    _print_table(results)


def _database_ready() -> bool:
    import psycopg2

    try:
        with psycopg2.connect(env.DATABASE_URL) as probe, probe.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM delivery_event")
            return cursor.fetchone()[0] > 0
    except psycopg2.Error:
        return False


def _busy(load: dict[str, Any]) -> str:
    return f"{load['machine_busy_cpus']:.2f} ({load['background_cpus_before']:.2f}/{load['background_cpus_after']:.2f})"


def _print_table(results: dict[str, Any]) -> None:
    print("\nresult                                      figure        target      busy cpus (background before/after)")
    if "rollup" in results:
        rollup = results["rollup"]
        run = rollup["runs"][0]
        verdict = "ok" if rollup["median_seconds"] <= TARGET_ROLLUP_SECONDS else "MISSED"
        print(
            f"rollup of {rollup['events']:>10,} events             {rollup['median_seconds']:>7.1f} s   <= 60 s {verdict:>6}"
            f"   {_busy(run)}"
        )
        hour = rollup["incremental_hour"]
        print(f"rollup of one more hour ({hour['events']:,} events)   {hour['seconds']:>7.2f} s")
    for name, figures in results.get("reports", {}).items():
        target = "   (no target)  "
        if name == TARGET_REPORT:
            target = f"<= 150 ms {'ok' if figures['p95_ms'] <= TARGET_REPORT_P95_MS else 'MISSED':>6}"
        print(f"{name:<40} p95 {figures['p95_ms']:>7.1f} ms  {target}   {_busy(figures)}")


if __name__ == "__main__":
    main()
