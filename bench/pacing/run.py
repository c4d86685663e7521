"""The pacing benchmark: issue 7's simulator runs, against its targets.

    .venv/bin/python -m bench.pacing.run                          (diurnal and spiky, 3 days, 200 advertisers)
    .venv/bin/python -m bench.pacing.run --profile spiky          (one profile)
    .venv/bin/python -m bench.pacing.run --seed 1 --seed 2        (each profile on each seed; default: seed 1)
    .venv/bin/python -m bench.pacing.run --seed 1 --draws 1       (another realisation of the marketplace: PROFILE-seed1-draws1)
    .venv/bin/python -m bench.pacing.run --seed 5 --draws 0 --draws 1 --draws 2   (three realisations of one)
    .venv/bin/python -m bench.pacing.run --days 1 --history-days 0   (anything else `simulate` takes: see --help)

For each profile and seed it drops, recreates and migrates its own database and empties its own
Redis database (bench.pacing.env: never the dev database or a test lane's Redis), then runs

    manage.py simulate --days 3 --advertisers 200 --seed SEED --profile PROFILE --out bench/out/pacing/PROFILE-seedSEED

and prints each summary against the targets: ad groups limited by budget spend 97-100% of it each
day; nothing billed above a budget; unbilled over-delivery at most 0.5% of total budget;
cumulative spend within 5% of budget of its target curve at every hour; delivered CTR at least
90% of the oracle's. Beside each run it records how busy the machine's CPUs were (the run's own
work included) and with other work just before it, so a run time taken on a shared machine can
be judged. Writes bench/out/pacing/results.json (keeping the runs of other profiles and seeds it
holds when they measured the same code, so two can run at once, each in its own database).

One seed is one marketplace: which ad groups are limited by their budget, and which competition
each meets, moves with every other ad group's pacing, so a change to the controller is judged on
several seeds, not on a day or two in or out of range on one.
"""

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import env

PROFILES = ("diurnal", "spiky")


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _busy_cpus(since: tuple[int, int]) -> float:
    busy, total = _cpu_times()
    return round((busy - since[0]) / max(1, total - since[1]) * (os.cpu_count() or 1), 2)


def _background() -> float:
    """How many CPUs other work kept busy over the next two seconds (while the benchmark waits)."""
    before = _cpu_times()
    time.sleep(2.0)
    return _busy_cpus(before)


def run_name(profile: str, seed: int, draws: int = 0) -> str:
    """A run's name: its key in results.json and its directory under bench/out/pacing (another realisation apart)."""
    return f"{profile}-seed{seed}" + (f"-draws{draws}" if draws else "")


def simulate(profile: str, seed: int, draws: int, args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    """Reset the benchmark's database and Redis, run one simulation, and return its report with the run's figures."""
    env.reset()
    out = env.OUT / run_name(profile, seed, draws)
    command = [
        sys.executable, "manage.py", "simulate", "--days", str(args.days), "--advertisers", str(args.advertisers),
        "--seed", str(seed), "--draws", str(draws), "--profile", profile, "--out", str(out), *extra,
    ]  # fmt: skip
    print(f"\n$ {' '.join(command[1:])}", flush=True)
    background = _background()
    began, cpus = time.monotonic(), _cpu_times()
    subprocess.run(command, cwd=env.ROOT, env=env.environment(), check=True)  # noqa: S603 - our own manage.py
    seconds = time.monotonic() - began
    report = json.loads((out / "report.json").read_text())
    report["bench"] = {
        "wall_seconds": round(seconds, 1),
        "busy_cpus": _busy_cpus(cpus),
        "background_cpus_before": background,
        "loadavg_after": round(os.getloadavg()[0], 2),
        "command": " ".join(command[1:]),
    }
    return report


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def table(reports: dict[str, dict[str, Any]]) -> str:
    """The targets, one row each, a column per run (profile and seed)."""
    names = list(reports)
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, figure: Any) -> None:
        rows.append((label, [figure(reports[name]) for name in names]))

    def verdict(report: dict[str, Any], name: str) -> str:
        return {True: "met", False: "MISSED", None: "n/a"}[report["verdicts"][name]]

    row("ad-group days (complete local days)", lambda r: f"{r['summary']['ad_group_days']:,}")
    row(
        "  limited by budget (fine / coarse)",
        lambda r: f"{r['summary']['ad_group_days_limited_by_budget']:,} / {r['summary']['ad_group_days_limited_coarse']:,}",
    )
    row(
        "utilisation of limited, each day 97-100%",
        lambda r: f"{_share(r['summary']['budget_utilization'])} {verdict(r, 'budget_utilization')}",
    )
    row("  worst day", lambda r: _share(r["summary"]["min_day_utilization"]))
    row("  days within 97-100%", lambda r: _share(r["summary"]["days_within_97_100_percent"]))
    row(
        "billed above a budget: 0",
        lambda r: f"{r['summary']['billed_over_budget_micros'] / 1e6:.2f} {verdict(r, 'billed_over_budget')}",
    )
    row(
        "unbilled over-delivery <= 0.5% of budget",
        lambda r: f"{_share(r['summary']['unbilled_overdelivery_ratio'])} {verdict(r, 'unbilled_overdelivery')}",
    )
    row(
        "worst hourly gap to the curve <= 5%",
        lambda r: f"{_share(r['summary']['max_curve_deviation'])} {verdict(r, 'curve_deviation')}",
    )
    row("  90th percentile of days", lambda r: _share(r["summary"]["p90_curve_deviation"]))
    row("  days within 5% at every hour", lambda r: _share(r["summary"]["days_within_5_percent_of_curve"]))
    row("  worst gap to the traffic that came", lambda r: _share(r["summary"]["max_traffic_deviation"]))
    row(
        "  where a throttle could keep within 5%",
        lambda r: (
            f"{_share(r['summary']['achievable_days_within_5_percent_of_curve'])} of {r['summary']['days_curve_achievable']} days"
        ),
    )
    row(
        "new ad groups' first day: limited",
        lambda r: f"{r['first_days']['limited_by_budget']:,} of {r['first_days']['ad_group_days']:,}",
    )
    row("  their worst day's utilisation", lambda r: _share(r["first_days"]["min_day_utilization"]))
    row("  their worst hourly gap to the curve", lambda r: _share(r["first_days"]["max_curve_deviation"]))
    row(
        "delivered CTR >= 90% of the oracle's",
        lambda r: f"{_share(r['summary']['ctr_vs_oracle'])} {verdict(r, 'ctr_vs_oracle')}",
    )
    row("  ad groups with several ads", lambda r: _share(r["summary"]["ctr_vs_oracle_rotating"]))
    row("requests / impressions", lambda r: f"{r['summary']['requests']:,} / {r['summary']['impressions']:,}")
    row("run time (wall)", lambda r: f"{r['bench']['wall_seconds'] / 60:.1f} min")
    row(
        "  busy CPUs during / others before",
        lambda r: f"{r['bench']['busy_cpus']:.2f} / {r['bench']['background_cpus_before']:.2f}",
    )
    width = max(len(label) for label, _ in rows) + 2
    lines = [f"{'':<{width}}" + "".join(f"{name:>22}" for name in names)]
    lines += [f"{label:<{width}}" + "".join(f"{value:>22}" for value in values) for label, values in rows]
    return "\n".join(lines)


def _digests() -> dict[str, str]:
    """The controller, its shell, the decision and the simulator as measured (a shared working tree may change under a run)."""
    paths = (
        "delivery/pacing.py",
        "delivery/services.py",
        "delivery/decision.py",
        "delivery/index.py",
        "simulation/engine.py",
        "simulation/market.py",
        "simulation/report.py",
        "simulation/visit.py",
        "simulation/management/commands/simulate.py",
    )
    return {path: hashlib.sha256((env.ROOT / path).read_bytes()).hexdigest()[:16] for path in paths}


def _earlier_runs(path: Path, measured: dict[str, str]) -> dict[str, Any]:
    """The runs an earlier results.json holds of the same code (two profiles run at once each keep theirs)."""
    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return earlier.get("runs", {}) if earlier.get("measured") == measured else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=("diurnal", "flat", "spiky"), action="append", help="default: diurnal and spiky")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--advertisers", type=int, default=200)
    parser.add_argument("--seed", type=int, action="append", help="default: 1; repeat for several marketplaces")
    parser.add_argument(
        "--draws", type=int, action="append", help="another realisation of each marketplace (simulate --help); repeat for several"
    )
    args, extra = parser.parse_known_args()  # the rest goes to `simulate` as it is
    env.check_isolated()
    os.environ.update(env.environment())
    sys.path.insert(0, str(env.ROOT))
    import django

    django.setup()
    from simulation.report import verdicts

    measured = _digests()
    reports: dict[str, dict[str, Any]] = {}
    for profile in args.profile or PROFILES:
        for seed in args.seed or [1]:
            for draws in args.draws or [0]:
                report = simulate(profile, seed, draws, args, extra)
                report["verdicts"] = verdicts(report["summary"])
                reports[run_name(profile, seed, draws)] = report
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "measured": measured,
        "changed_while_measuring": sorted(path for path, digest in _digests().items() if measured.get(path) != digest),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "runs": {
            name: {
                key: report[key]
                for key in ("arguments", "seed", "summary", "by_day", "verdicts", "bench", "run_seconds", "seconds_in")
            }
            for name, report in reports.items()
        },
    }
    env.OUT.mkdir(parents=True, exist_ok=True)
    path = env.OUT / "results.json"
    results["runs"] = {**_earlier_runs(path, measured), **results["runs"]}
    path.write_text(json.dumps(results, indent=2))
    print()
    print(table(reports))
    print(f"\nwrote {env.OUT / 'results.json'} (reports and curves in {env.OUT}/<profile>-seed<seed>/)")
    print(f"against another controller's runs, run by run: python -m bench.pacing.compare THEIR_OUT {env.OUT}")


if __name__ == "__main__":
    main()
