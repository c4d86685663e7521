"""The pacing controller on the unit tests' synthetic markets, many at once: days in range and on the curve.

    .venv/bin/python -m bench.pacing.markets                         (every pattern, 20 seeds; about a minute on 2 cores)
    .venv/bin/python -m bench.pacing.markets --pattern bursts --pattern late --seeds 40
    .venv/bin/python -m bench.pacing.markets --json before.json       (the per-day figures, to compare two controllers)

The market is tests/delivery/test_pacing.py's: an ad group that at throttle 1 would spend `demand`
budgets over a day of forecast traffic, buying whole events at a fixed price (`events` of them fill
its budget) as a Poisson stream, the controller stepping every minute with the requests counted
(20,000 a forecast day). Each market runs two days from nothing learned, and the second day is
measured, as the tests measure it: in range when it spent 97-100% of its budget, on the curve when
its spend was within 5% of the budget of budget x F(t) at every hour. Beside them, whether some
throttle could have kept the day on the curve at all (`simulation.report.least_curve_deviation` on
the pattern's expected demand hour by hour, as the simulator's report judges its days): a day whose
demand runs out by noon cannot keep its curve whatever the throttle, and the days that could are
counted apart ("achievable"). A change to `delivery.pacing`
is judged here first (seconds per pattern) and on the simulator (`bench.pacing.run`) after; the
figures docs/benchmarks.md quotes as "unit markets" come from these patterns.

Patterns (each a factor on the forecast, per minute, seeded):

- even: demand as forecast;
- moving: demand moving hour by hour (a lognormal factor of mean 1, spread 0.3), as other bidders come and go;
- morning: 2-3x the forecast before 10:00, half of it after (a day whose demand runs out);
- bursts: six bursts of 4x for 30 minutes in two days, 0.85x between;
- late: nothing until a 40-minute burst of 6x at a time from 8:00 to 17:00, then 0.3x;
- quiet: one hour a day at a twentieth of the traffic, requests counted as they come;
- absent: one hour a day without demand while the requests come as forecast (others outbid it);
- churn: demand moving hour by hour with spread 0.6, the requests as forecast.
"""

import argparse
import itertools
import json
import os
from collections.abc import Callable
from multiprocessing import Pool
from random import Random

from . import env

Factor = Callable[[int], float]
MINUTES = 1_440
REQUESTS_PER_DAY = 20_000
EVENTS = (60, 265, 1_000)  # billed events that fill the budget
# pattern: whether the requests follow the demand, and the demands run (budgets a day at the forecast's rate)
PATTERNS: dict[str, tuple[bool, tuple[float, ...]]] = {
    "even": (True, (1.03, 1.1, 1.6, 4.0)),
    "moving": (True, (1.03, 1.1, 1.6, 4.0)),
    "morning": (True, (1.1, 1.6, 4.0)),
    "bursts": (True, (1.1, 1.6, 4.0)),
    "late": (True, (1.1, 1.6, 4.0)),
    "quiet": (True, (1.6, 4.0, 12.0)),
    "absent": (False, (1.6, 4.0, 12.0)),
    "churn": (False, (1.3, 1.6, 2.5, 4.0)),
}


def factor(pattern: str, seed: int) -> Factor:
    """The pattern's demand over the forecast, minute by minute over two days."""
    from tests.delivery import test_pacing as unit

    rng = Random(f"{pattern}-{seed}")
    if pattern == "moving":
        return unit.competition(seed)
    if pattern == "churn":
        return unit.competition(seed, spread=0.6)
    if pattern == "bursts":
        return unit.bursts(seed)
    if pattern == "morning":
        high = 2 + rng.random()
        return lambda minute: high if minute % MINUTES < 600 else 0.5
    if pattern == "late":
        return unit.late(seed)
    if pattern in ("quiet", "absent"):
        hours = [rng.randrange(6, 22) for _ in range(2)]
        off = 0.05 if pattern == "quiet" else 0.02
        return lambda minute: off if (minute // 60) % 24 == hours[minute // MINUTES] else 1.0
    return lambda minute: 1.0


Result = tuple[str, int, float, int, float, float, float]  # pattern, events, demand, seed, spent, worst gap, least gap


def least_gap(pattern: str, demand: float, seed: int) -> float:
    """The smallest worst hourly gap to the curve (a share of the budget) any throttle could have kept on the second day."""
    from tests.delivery import test_pacing as unit

    return unit.least_gap(factor(pattern, seed), demand)


def second_day(pattern: str, events: int, demand: float, seed: int) -> tuple[float, float]:
    """(share of the budget spent, worst hourly gap as a share of the budget) on the market's second day."""
    from tests.delivery import test_pacing as unit

    market = unit.Market(demand * unit.BUDGET, price=unit.BUDGET // events, seed=seed, requests_per_day=REQUESTS_PER_DAY)
    if not PATTERNS[pattern][0]:  # others outbid it: the requests come as forecast whatever its demand
        counted = market.requests
        market.requests = lambda *, forecast, factor: counted(forecast=forecast, factor=1.0)  # type: ignore[method-assign]
    _, day = unit.run_days(market, 2, traffic=factor(pattern, seed))
    return day.spent / unit.BUDGET, day.worst_gap() / unit.BUDGET


def _run(job: tuple[str, int, float, int]) -> Result:
    pattern, _events, demand, seed = job
    return (*job, *second_day(*job), least_gap(pattern, demand, seed))


def sweep(patterns: list[str], seeds: int, processes: int) -> list[Result]:
    """Every market of the patterns on seeds 1..`seeds`: (pattern, events, demand, seed, spent, worst gap, least gap)."""
    jobs = [
        (pattern, events, demand, seed)
        for pattern in patterns
        for events, demand in itertools.product(EVENTS, PATTERNS[pattern][1])
        for seed in range(1, seeds + 1)
    ]
    if processes <= 1:
        return [_run(job) for job in jobs]
    with Pool(processes) as pool:  # forked: Django is set up in each already
        return pool.map(_run, jobs, chunksize=8)


def table(results: list[Result]) -> str:
    """A line per market and a total per pattern; "achievable" counts the days some throttle could have kept on the curve."""
    markets: dict[tuple[str, int, float], list[tuple[float, float, float]]] = {}
    for pattern, events, demand, _seed, spent, gap, least in results:
        markets.setdefault((pattern, events, demand), []).append((spent, gap, least))
    heading = "market (pattern, events a day, demand in budgets): in range, on the curve, mean spent, worst day"
    lines = [f"{heading}, on the curve of the achievable days"]
    totals: dict[str, list[int]] = {}
    for (pattern, events, demand), days in markets.items():
        in_range, on_curve = sum(spent >= 0.97 for spent, *_ in days), sum(gap <= 0.05 for _, gap, _ in days)
        achievable = [gap for _, gap, least in days if least <= 0.05]
        kept = sum(gap <= 0.05 for gap in achievable)
        total = totals.setdefault(pattern, [0, 0, 0, 0, 0])
        for position, count in enumerate((in_range, on_curve, len(days), kept, len(achievable))):
            total[position] += count
        mean, worst = sum(spent for spent, *_ in days) / len(days), min(spent for spent, *_ in days)
        counts = f"{in_range:>3}/{len(days)}  {on_curve:>3}/{len(days)}"
        lines.append(f"{pattern:8} {events:>5} {demand:>5}  {counts}  {mean:6.1%}  {worst:6.1%}  {kept:>3}/{len(achievable)}")
    lines.extend(
        f"{pattern:8} all   in range {r}/{n}, on the curve {c}/{n}, achievable days on the curve {k}/{a}"
        for pattern, (r, c, n, k, a) in totals.items()
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pattern", action="append", choices=sorted(PATTERNS), help="a pattern to run (default: all)")
    parser.add_argument("--seeds", type=int, default=20, help="markets per pattern, size and demand (default: 20)")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", help="write the per-day figures here")
    args = parser.parse_args()
    env.configure()
    import django

    django.setup()
    results = sweep(args.pattern or list(PATTERNS), args.seeds, args.processes)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out)
    print(table(results))


if __name__ == "__main__":
    main()
