"""The delivery benchmark: decisions, tracking and the event consumer, against a seeded marketplace.

    make bench                                  (= .venv/bin/python -m bench.delivery.run)
    .venv/bin/python -m bench.delivery.run --reuse --duration 10 --repeat 1 --skip consumer

Seeds the benchmark database (bench.delivery.seed), starts gunicorn exactly as the Procfile's web
line does on a spare port, and loads it from loopback with wrk (2 threads):

1. the bare endpoint /healthz/lite and POST /serve/v1/decision, each at 32 and at 4 connections,
   alternating, `--repeat` times (medians are reported), with seeded random request bodies;
2. decisions asking for 5 ads, recording their impression links, then GET those links at 32
   connections (each link once: every impression is a new one, verified, deduplicated, charged);
3. stops the server and times `delivery.services.consume_events` over what the runs left in the
   stream, then `--repeat` times over 500,000 more events (cloned from stored ones, new request ids).

Beside each rate it measures the CPU time per request of gunicorn, redis-server and wrk, and how
busy the machine was with anything else, so a figure taken on a shared machine can be judged.
Prints a table against the targets and writes bench/out/delivery/results.json.
"""

import argparse
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import env, load

WRK_DIR = Path(__file__).resolve().parent / "wrk"
TICKS = os.sysconf("SC_CLK_TCK")
TARGET_SHARE_OF_BARE = 0.5
TARGET_P99_MS_AT_4 = 10.0
TARGET_IMPRESSIONS_PER_S = 3000
TARGET_CONSUMER_EVENTS_PER_S = 50_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def procfile_web_command() -> str:
    """The web process of `make run`, verbatim from the Procfile."""
    for line in (env.ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip()
    raise SystemExit("bench: the Procfile has no web process")


# --- CPU accounting ---------------------------------------------------------------------------------


def _process_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _machine_ticks() -> int:
    busy = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return sum(int(value) for n, value in enumerate(busy) if n not in (3, 4))  # all but idle and iowait


class CpuMeter:
    """CPU time spent by gunicorn (master and workers), redis-server, wrk and everything else during a run."""

    def __init__(self, gunicorn_pid: int, redis_pid: int | None) -> None:
        self.pids = {"gunicorn": [gunicorn_pid, *_children(gunicorn_pid)], "redis": [redis_pid] if redis_pid else []}

    def _sample(self) -> dict[str, float]:
        sample = {name: sum(_process_ticks(pid) for pid in pids) / TICKS for name, pids in self.pids.items()}
        sample["wrk"] = (
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
        )
        sample["machine"] = _machine_ticks() / TICKS
        return sample

    @contextmanager
    def measure(self, into: dict[str, Any]) -> Iterator[None]:
        before = self._sample()
        yield
        after = self._sample()
        spent = {name: after[name] - before[name] for name in before}
        requests = max(into.get("requests", 1), 1)
        seconds = into.get("duration_us", 1) / 1e6
        into["cpu_ms_per_request"] = {name: round(spent[name] / requests * 1000, 3) for name in ("gunicorn", "redis", "wrk")}
        ours = spent["gunicorn"] + spent["redis"] + spent["wrk"]
        into["other_cpu_cores"] = round(max(spent["machine"] - ours, 0.0) / seconds, 2)  # other processes, in cores


# --- the server and the load --------------------------------------------------------------------------


@contextmanager
def server(port: int, log: Path, checkout: Path) -> Iterator[subprocess.Popen]:
    """gunicorn as `make run` starts it (2 workers x 4 threads), on 127.0.0.1:port, serving `checkout`."""
    environment = {**env.environment(), "WEB_HOST": "127.0.0.1", "WEB_PORT": str(port)}
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S602 - the Procfile's own command line
            f"exec {procfile_web_command()}", shell=True, cwd=checkout, env=environment, stdout=output, stderr=output
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/healthz/lite")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bench: gunicorn did not start; see {log}")
            time.sleep(0.2)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def wrk(url: str, script: str, *, connections: int, seconds: int, args: list[str] | None = None) -> dict[str, Any]:
    """One wrk run; its results as the scripts' `done` prints them."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(WRK_DIR / script), url]
    if args:
        command += ["--", *args]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    for line in completed.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result = json.loads(line.removeprefix("BENCH_RESULT "))
            result["per_second"] = result["requests"] / (result["duration_us"] / 1e6)
            return result
    raise SystemExit(f"bench: wrk printed no result:\n{completed.stdout}\n{completed.stderr}")


def probe(port: int, requests_file: Path, number: int = 400) -> dict[str, Any]:
    """Send some decisions one by one: how many are filled, how many ads each, and that none fails."""
    statuses: Counter[int] = Counter()
    ads = 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    with requests_file.open() as lines:
        for _, line in zip(range(number), lines, strict=False):
            key, body = line.rstrip("\n").split("\t", 1)
            headers = {"Content-Type": "application/json", "X-Placement-Key": key}
            connection.request("POST", "/serve/v1/decision", body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            statuses[response.status] += 1
            if response.status == 200:
                ads += len(json.loads(payload)["ads"])
    if set(statuses) - {200, 204}:
        raise SystemExit(f"bench: unexpected decision statuses {dict(statuses)}")
    return {"requests": number, "filled": statuses[200] / number, "ads_per_filled": ads / max(statuses[200], 1)}


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate, with every run's rate and p99 kept beside it."""
    ordered = sorted(runs, key=lambda run: run["per_second"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["all_per_second"] = [round(run["per_second"]) for run in runs]
    median["all_p99_ms"] = [run["latency_us"]["p99"] / 1000 for run in runs]
    median["median_p99_ms"] = statistics.median(median["all_p99_ms"])
    return median


def _redis_pid() -> int | None:
    import redis

    try:
        return int(redis.Redis.from_url(env.REDIS_URL).info("server")["process_id"])
    except (redis.RedisError, KeyError, ValueError):
        return None


def http_benchmarks(duration: int, repeat: int, checkout: Path) -> dict[str, Any]:
    manifest = json.loads((env.OUT / "marketplace.json").read_text())
    requests_file = env.OUT / "decisions.tsv"
    load.write_requests(requests_file, manifest, number=20_000, seed=1)
    collect_file = env.OUT / "decisions-5.tsv"
    load.write_requests(collect_file, manifest, number=20_000, seed=2, count=5)
    for old in env.OUT.glob("impressions.*"):
        old.unlink()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {"port": port}
    with server(port, env.OUT / "gunicorn.log", checkout) as process:
        meter = CpuMeter(process.pid, _redis_pid())
        results["probe"] = probe(port, requests_file)
        print(f"  probe: {results['probe']['filled']:.0%} of decisions filled, {results['probe']['ads_per_filled']:.2f} ads each")
        wrk(f"{base}/healthz/lite", "bare.lua", connections=32, seconds=3)  # warm-up
        wrk(f"{base}/serve/v1/decision", "decision.lua", connections=32, seconds=5, args=[str(requests_file)])
        cases = {
            "bare_32": (f"{base}/healthz/lite", "bare.lua", 32, []),
            "decision_32": (f"{base}/serve/v1/decision", "decision.lua", 32, [str(requests_file)]),
            "bare_4": (f"{base}/healthz/lite", "bare.lua", 4, []),
            "decision_4": (f"{base}/serve/v1/decision", "decision.lua", 4, [str(requests_file)]),
        }
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
        for round_no in range(repeat):
            for name, (url, script, connections, args) in cases.items():
                run: dict[str, Any] = {}
                with meter.measure(run):
                    run.update(wrk(url, script, connections=connections, seconds=duration, args=args))
                runs[name].append(run)
                print(
                    f"  {round_no + 1}/{repeat} {name:<12} {run['per_second']:7.0f} req/s  "
                    f"p99 {run['latency_us']['p99'] / 1000:6.2f} ms  other load {run['other_cpu_cores']:.2f} cores"
                )
        for name, taken in runs.items():
            results[name] = _median_run(taken)
        # Impression links from decisions asking for 5 ads; enough that no link is fetched twice.
        wanted = duration * 5000
        results["collect"] = []
        available = 0
        while available < wanted and len(results["collect"]) < 12:
            results["collect"].append(
                wrk(
                    f"{base}/serve/v1/decision",
                    "decision.lua",
                    connections=32,
                    seconds=10,
                    args=[str(collect_file), str(env.OUT / f"impressions.{len(results['collect'])}")],
                )
            )
            available = sum(1 for path in env.OUT.glob("impressions.*") for _ in path.open())
        links = sorted(env.OUT.glob("impressions.*"))
        results["impression_links"] = available
        print(f"  collected {available} impression links")
        impressions: dict[str, Any] = {}
        with meter.measure(impressions):
            impressions.update(
                wrk(f"{base}/t/v1/i", "impression.lua", connections=32, seconds=duration, args=["2", *map(str, links)])
            )
        impressions["repeats"] = max(0, impressions["requests"] - available)
        results["impressions_32"] = impressions
        print(
            f"  impressions  {impressions['per_second']:7.0f} req/s  p99 {impressions['latency_us']['p99'] / 1000:6.2f} ms"
            f"  other load {impressions['other_cpu_cores']:.2f} cores"
        )
    return results


# --- the consumer ----------------------------------------------------------------------------------


def _stored_summary() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT kind || ':' || status || ':' || reason, count(*) FROM delivery_event GROUP BY 1 ORDER BY 1")
        return dict(cursor.fetchall())


def _stored_count() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM delivery_event")
        return int(cursor.fetchone()[0])


def _templates() -> list[dict[bytes, bytes]]:
    """Real events to clone: what the HTTP runs stored, read back from PostgreSQL into stream form."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT kind, status, reason, ad_id, ad_group_id, campaign_id, advertiser_id, placement, country, device,"
            " user_key, billed_on, price_micros, cost_micros FROM delivery_event WHERE kind IN ('serve', 'impression')"
            " ORDER BY seq DESC LIMIT 5000"
        )
        rows = cursor.fetchall()
    if not rows:
        raise SystemExit("bench: no stored events to clone; run the HTTP benchmarks first")
    templates = []
    for kind, status, reason, ad, group, campaign, advertiser, placement, country, device, user, billed, price, cost in rows:
        fields = {
            "k": kind, "r": "", "t": "", "a": ad, "g": group, "c": campaign, "v": advertiser, "p": placement, "co": country,
            "d": device, "u": user, "b": billed, "pr": price, "status": status, "cost": cost, "reason": reason,
        }  # fmt: skip
        templates.append({key.encode(): str(value).encode() for key, value in fields.items()})
    return templates


def consumer_benchmark(events: int, rounds: int) -> dict[str, Any]:
    """Time consume_events over what the HTTP runs left in the stream, then `rounds` times over `events` more."""
    import django

    django.setup()
    from adplatform.redis_client import get_redis
    from delivery import charging, services

    services.ensure_partitions()
    client = get_redis()
    results: dict[str, Any] = {}
    real = client.xlen(charging.STREAM)
    started = time.perf_counter()
    stored = services.consume_events()
    results["real"] = {"events": real, "stored": stored, "seconds": time.perf_counter() - started}
    results["stored_by_kind"] = _stored_summary()
    templates = _templates()
    runs = [_consume_synthetic(client, templates, events) for _ in range(rounds)]
    for run in runs:
        print(f"  {run['per_second']:7.0f} events/s ({run['rows_added']} rows, {run['left_in_stream']} left in the stream)")
    results["synthetic"] = dict(sorted(runs, key=lambda run: run["per_second"])[(len(runs) - 1) // 2])
    results["synthetic"]["all_per_second"] = [round(run["per_second"]) for run in runs]
    return results


def _consume_synthetic(client: Any, templates: list[dict[bytes, bytes]], events: int) -> dict[str, Any]:
    from adplatform import clock
    from delivery import charging, services

    now = clock.now().timestamp()
    pipe = client.pipeline(transaction=False)
    for n in range(events):
        fields = dict(templates[n % len(templates)])
        fields[b"r"] = str(uuid.uuid4()).encode()
        fields[b"t"] = f"{now + n / 1000:.6f}".encode()
        pipe.xadd(charging.STREAM, fields)
        if n % 10_000 == 9_999:
            pipe.execute()
    pipe.execute()
    before = _stored_count()
    machine_before, started, cpu_started = _machine_ticks() / TICKS, time.perf_counter(), time.process_time()
    stored = services.consume_events()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "events": events,
        "stored": stored,
        "rows_added": _stored_count() - before,
        "left_in_stream": client.xlen(charging.STREAM),
        "seconds": seconds,
        "per_second": events / seconds,
        "consumer_cpu_us_per_event": round(cpu / events * 1e6, 2),
        "machine_busy_cores": round((_machine_ticks() / TICKS - machine_before) / seconds, 2),
    }


# --- the report ------------------------------------------------------------------------------------


def _ms(run: dict[str, Any], percentile: str) -> float:
    return float(run["latency_us"][percentile]) / 1000


def report(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = []
    bare, decision = results.get("bare_32"), results.get("decision_32")
    if bare and decision:
        share = decision["per_second"] / bare["per_second"]
        results["decision_share_of_bare"] = share
        rows.append(
            ("bare /healthz/lite, 32 conns", f"{bare['per_second']:.0f} req/s, p99 {_ms(bare, 'p99'):.1f} ms", "ceiling", "")
        )
        rows.append(
            (
                "decision, 32 conns",
                f"{decision['per_second']:.0f} req/s = {share:.0%} of bare, p99 {_ms(decision, 'p99'):.1f} ms",
                ">= 50% of bare",
                "yes" if share >= TARGET_SHARE_OF_BARE else "NO",
            )
        )
    if "decision_4" in results:
        decision, bare = results["decision_4"], results["bare_4"]
        p99 = decision["median_p99_ms"]
        rows.append(
            (
                "decision, 4 conns",
                f"p99 {p99:.2f} ms, p50 {_ms(decision, 'p50'):.2f} ms, {decision['per_second']:.0f} req/s",
                "p99 <= 10 ms",
                "yes" if p99 <= TARGET_P99_MS_AT_4 else "NO",
            )
        )
        rows.append(("bare, 4 conns", f"p99 {bare['median_p99_ms']:.2f} ms, {bare['per_second']:.0f} req/s", "", ""))
    if "impressions_32" in results:
        impressions = results["impressions_32"]
        rows.append(
            (
                "impressions, 32 conns",
                f"{impressions['per_second']:.0f}/s, p99 {_ms(impressions, 'p99'):.1f} ms ({impressions['repeats']} repeats)",
                ">= 3,000/s",
                "yes" if impressions["per_second"] >= TARGET_IMPRESSIONS_PER_S else "NO",
            )
        )
    if "consumer" in results:
        synthetic = results["consumer"]["synthetic"]
        rows.append(
            (
                "consumer into PostgreSQL",
                f"{synthetic['per_second']:.0f} events/s (median of {synthetic['all_per_second']}, {synthetic['events']} each)",
                ">= 50,000/s",
                "yes" if synthetic["per_second"] >= TARGET_CONSUMER_EVENTS_PER_S else "NO",
            )
        )
    width = max((len(row[1]) for row in rows), default=10)
    lines = [f"{'measurement':<30} {'result':<{width}} {'target':<16} met"]
    lines += [f"{name:<30} {result:<{width}} {target:<16} {met}" for name, result, target, met in rows]
    cpu = [
        f"  {name:<16} " + "  ".join(f"{who} {ms:.3f}" for who, ms in results[name]["cpu_ms_per_request"].items())
        for name in ("bare_32", "decision_32", "impressions_32")
        if name in results
    ]
    if cpu:
        lines += ["", "CPU ms per request (median run):", *cpu]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reuse", action="store_true", help="keep the seeded marketplace from the last run")
    parser.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", "15")), help="seconds per wrk run")
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", "3")), help="rounds of the HTTP runs")
    parser.add_argument("--events", type=int, default=500_000, help="events for the consumer benchmark")
    parser.add_argument("--skip", action="append", default=[], choices=["http", "consumer"])
    parser.add_argument(
        "--serve-from", type=Path, default=env.ROOT, help="checkout to serve (a git worktree of an older commit, to compare)"
    )
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is missing (apt-get install wrk)")
    env.configure()
    env.OUT.mkdir(parents=True, exist_ok=True)
    if not options.reuse or not (env.OUT / "marketplace.json").exists():
        from . import seed

        print("seeding the marketplace ...")
        manifest = seed.build()
        print(f"  {manifest['ads']} ads of {manifest['advertisers']} advertisers in {manifest['seconds']} s")
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count()}
    if "http" not in options.skip:
        print(f"HTTP benchmarks (wrk, 2 threads, {options.duration} s per run, {options.repeat} rounds) ...")
        results.update(http_benchmarks(options.duration, options.repeat, options.serve_from))
    if "consumer" not in options.skip:
        print("consumer benchmark ...")
        results["consumer"] = consumer_benchmark(options.events, options.repeat)
    table = report(results)
    (env.OUT / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print()
    print(table)


if __name__ == "__main__":
    main()
