"""Put pacing runs side by side: one column per controller, one row per marketplace and realisation.

    .venv/bin/python -m bench.pacing.compare bench/out/pacing                    (the runs one directory holds)
    .venv/bin/python -m bench.pacing.compare committed/pacing candidate/pacing   (two controllers, run by run)

Each directory is what `bench.pacing.run` left in bench/out/pacing: a PROFILE-seedN[-drawsK]/report.json
per run. For each run it counts, from the report's ad-group days, what a controller change moves:
limited days spent 97-100% of their budget, achievable standard days kept within 5% of their curve
at every hour (and of those, budgets of under 200 billed events a day), days that met both targets
among those where some throttle could have (`simulation.report.both_achievable`), the worst day's
utilisation, anything billed above a budget or unbilled, delivered CTR against the oracle's. Totals are over
the runs every directory holds (billed above budgets summed, the worst unbilled share and CTR).
With two or more directories it adds, per later directory against the first, each run's
difference in days in range and in days on the curve: their mean and spread say whether a change is more than what
another realisation of the same marketplace moves by chance (`--draws`; docs/benchmarks.md).
"""

import argparse
import json
import operator
import statistics
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any

from . import env

SMALL_EVENTS = 200  # a budget of fewer billed events a day: where one event is a visible step of the curve


@dataclass(frozen=True)
class Counts:
    """What one run shows against the targets, counted over its complete ad-group days."""

    limited: int
    in_range: int
    achievable: int
    on_curve: int
    small: int
    small_on_curve: int
    both: int
    met_both: int
    worst_day: float | None
    over_budget_micros: int
    unbilled_ratio: float
    ctr_vs_oracle: float | None

    def __add__(self, other: "Counts") -> "Counts":
        worst = [day for day in (self.worst_day, other.worst_day) if day is not None]
        return Counts(
            self.limited + other.limited,
            self.in_range + other.in_range,
            self.achievable + other.achievable,
            self.on_curve + other.on_curve,
            self.small + other.small,
            self.small_on_curve + other.small_on_curve,
            self.both + other.both,
            self.met_both + other.met_both,
            min(worst, default=None),
            self.over_budget_micros + other.over_budget_micros,
            max(self.unbilled_ratio, other.unbilled_ratio),
            min((ctr for ctr in (self.ctr_vs_oracle, other.ctr_vs_oracle) if ctr is not None), default=None),
        )

    def cell(self) -> str:
        curve, small = f"{self.on_curve}/{self.achievable}", f"{self.small_on_curve}/{self.small}"
        return f"{self.in_range}/{self.limited}  {curve}  {small}  {self.met_both}/{self.both}  {_share(self.worst_day)}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def counts(report: dict[str, Any]) -> Counts:
    """A report's counts, by its own definitions (simulation/report.py)."""
    from simulation.report import both_achievable, in_range, limited_days, met_both, on_curve

    limited, _, _, achievable = limited_days(report["ad_group_days"])
    small = [row for row in achievable if row["billed_events"] < SMALL_EVENTS]
    both = [row for row in achievable if both_achievable(row)]
    summary = report["summary"]
    return Counts(
        limited=len(limited),
        in_range=sum(map(in_range, limited)),
        achievable=len(achievable),
        on_curve=sum(map(on_curve, achievable)),
        small=len(small),
        small_on_curve=sum(map(on_curve, small)),
        both=len(both),
        met_both=sum(map(met_both, both)),
        worst_day=summary["min_day_utilization"],
        over_budget_micros=summary["billed_over_budget_micros"],
        unbilled_ratio=summary["unbilled_overdelivery_ratio"],
        ctr_vs_oracle=summary["ctr_vs_oracle"],
    )


def runs(directory: Path) -> dict[str, Counts]:
    """The counts of every run a bench output directory holds, by run name (PROFILE-seedN[-drawsK])."""
    found = {path.parent.name: counts(json.loads(path.read_text())) for path in sorted(directory.glob("*/report.json"))}
    if not found:
        raise SystemExit(f"compare: no */report.json under {directory}")
    return found


def spread(what: str, differences: list[int]) -> str:
    """Run-by-run differences in a count: their mean, standard deviation and signs."""
    if not differences:
        return f"{what}: no runs in common"
    deviation = statistics.stdev(differences) if len(differences) > 1 else 0.0
    more, fewer = sum(d > 0 for d in differences), sum(d < 0 for d in differences)
    return (
        f"{what} per run {statistics.mean(differences):+.1f} (sd {deviation:.1f}; "
        f"more on {more}, fewer on {fewer}, as many on {len(differences) - more - fewer} of {len(differences)})"
    )


def table(columns: dict[str, dict[str, Counts]]) -> str:
    """One row per run all columns hold, the totals, and each later column's differences from the first."""
    labels = list(columns)
    names = [name for name in columns[labels[0]] if all(name in held for held in columns.values())]
    rows = [(name, [columns[label][name].cell() for label in labels]) for name in names]
    if names:
        totals = [reduce(operator.add, (columns[label][name] for name in names)) for label in labels]
        rows.append(("total", [total.cell() for total in totals]))
        rows.append(("", [f"over budget {t.over_budget_micros / 1e6:.2f}, unbilled {t.unbilled_ratio:.2%}" for t in totals]))
        rows.append(("", [f"CTR {_share(t.ctr_vs_oracle)} of the oracle's (lowest)" for t in totals]))
    width = max(len(name) for name, _ in [*rows, ("total", [])]) + 2
    cell = max(len(text) for text in [*labels, *(text for _, cells in rows for text in cells)]) + 3

    def line(first: str, cells: list[str]) -> str:
        return f"{first:<{width}}" + "".join(f"{text:>{cell}}" for text in cells)

    lines = [
        "each cell: limited days in range / limited, achievable days on the curve / achievable,",
        f"  of those budgets under {SMALL_EVENTS} events a day on the curve / all, days that met both targets /",
        "  days some throttle could have kept on the curve spending 97% of the budget, the worst day's utilisation",
        line("", labels),
        *(line(name, cells) for name, cells in rows),
    ]
    reference = columns[labels[0]]
    for label in labels[1:]:
        held = columns[label]
        lines.append(f"{label} against {labels[0]}:")
        lines.append("  " + spread("limited days in range", [held[name].in_range - reference[name].in_range for name in names]))
        lines.append("  " + spread("days on the curve", [held[name].on_curve - reference[name].on_curve for name in names]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directories", nargs="+", type=Path, help="bench output directories, the reference first")
    args = parser.parse_args()
    env.configure()
    import django

    django.setup()
    columns = {str(directory): runs(directory) for directory in args.directories}
    print(table(columns))


if __name__ == "__main__":
    main()
