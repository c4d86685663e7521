"""The simulator's report: a summary against the pacing targets, per ad group and day, and the curves.

`summary` measures complete local days only (a day of an advertiser in Tokyo that began before
the simulation did is left out) and, for utilisation and the curve, only the ad-group days
limited by budget: those whose controller learned it could have spent more than the budget at
full throttle. The others spent what their traffic allowed, which is not pacing's to fix.
"""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from delivery.models import SpendDay

from .engine import Simulation


def complete_days(simulation: Simulation, group_id: int) -> set[str]:
    zone = simulation.zones[group_id]
    first = simulation.start.astimezone(zone)
    last = (simulation.start + timedelta(days=simulation.days)).astimezone(zone)
    start_day = first.date() if (first.hour, first.minute) == (0, 0) else first.date() + timedelta(days=1)
    days = set()
    day = start_day
    while datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone) <= last:
        days.add(day.isoformat())
        day += timedelta(days=1)
    return days


def build(simulation: Simulation, *, seed: int, arguments: dict[str, Any]) -> dict[str, Any]:
    spent = {
        (row.ad_group_id, row.day.isoformat()): row.cost_micros
        for row in SpendDay.objects.filter(ad_group_id__in=simulation.market.ad_groups)
    }
    ad_group_days = []
    limited_budget = limited_spent = over = total_budget = 0
    deviation = 0.0
    utilisations = []
    for group_id in simulation.market.ad_groups:
        budget = simulation.budgets[group_id]
        for day in sorted(complete_days(simulation, group_id)):
            billed = spent.get((group_id, day), 0)
            limited = simulation.recorder.limited.get((group_id, day), False)
            curve = sorted(simulation.recorder.hourly.get((group_id, day), []))
            worst = max((abs(cum - target) / budget for _, cum, target in curve), default=0.0) if budget else 0.0
            total_budget += budget
            over += max(billed - budget, 0)
            if limited:
                limited_budget += budget
                limited_spent += billed
                deviation = max(deviation, worst)
                utilisations.append(billed / budget)
            ad_group_days.append(
                {
                    "ad_group": group_id,
                    "day": day,
                    "limited_by_budget": limited,
                    "budget_micros": budget,
                    "billed_micros": billed,
                    "utilisation": round(billed / budget, 4) if budget else None,
                    "unbilled_overdelivery_micros": simulation.recorder.unbilled.get((group_id, day), 0),
                    "max_curve_deviation": round(worst, 4),
                    "hourly": [{"hour": hour, "spent_micros": cum, "target_micros": target} for hour, cum, target in curve],
                }
            )
    totals = simulation.totals
    summary = {
        "requests": totals.requests,
        "filled": totals.filled,
        "impressions": totals.impressions,
        "clicks": totals.clicks,
        "conversions": totals.conversions,
        "ad_group_days": len(ad_group_days),
        "ad_group_days_limited_by_budget": len(utilisations),
        "budget_utilization": round(limited_spent / limited_budget, 4) if limited_budget else None,
        "min_day_utilization": round(min(utilisations), 4) if utilisations else None,
        "days_within_97_100_percent": round(sum(0.97 <= u <= 1.0 for u in utilisations) / len(utilisations), 4)
        if utilisations
        else None,
        "billed_over_budget_micros": over,
        "unbilled_overdelivery_ratio": round(totals.unbilled_micros / total_budget, 6) if total_budget else 0.0,
        "max_curve_deviation": round(deviation, 4),
        "delivered_ctr": round(totals.clicks / totals.impressions, 5) if totals.impressions else None,
        "ctr_vs_oracle": round(totals.true_ctr_shown / totals.oracle_ctr, 4) if totals.oracle_ctr else None,
    }
    return {"arguments": arguments, "seed": seed, "summary": summary, "ad_group_days": ad_group_days}


def text(report: dict[str, Any]) -> str:
    s = report["summary"]

    def share(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2%}"

    return "\n".join(
        [
            (
                f"requests {s['requests']:,}, filled {s['filled']:,}, impressions {s['impressions']:,}, clicks {s['clicks']:,}, "
                f"conversions {s['conversions']:,}"
            ),
            f"ad-group days {s['ad_group_days']:,}, limited by budget {s['ad_group_days_limited_by_budget']:,}",
            (
                f"budget utilisation (limited)   {share(s['budget_utilization'])}  (worst day {share(s['min_day_utilization'])}, "
                f"{share(s['days_within_97_100_percent'])} of days within 97-100%)   target 97-100%"
            ),
            f"billed above a budget          {s['billed_over_budget_micros'] / 1e6:.6f}   target 0",
            f"unbilled over-delivery         {share(s['unbilled_overdelivery_ratio'])} of total budget   target <= 0.5%",
            f"worst hourly curve deviation   {share(s['max_curve_deviation'])} of budget   target <= 5%",
            f"delivered CTR vs oracle        {share(s['ctr_vs_oracle'])}   target >= 90%",
        ]
    )


def plot(report: dict[str, Any], path: Path, *, limit: int = 12) -> None:
    """Cumulative spend against the target curve for the largest limited ad-group days."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    days = sorted(
        (row for row in report["ad_group_days"] if row["limited_by_budget"] and row["hourly"]),
        key=lambda row: -row["budget_micros"],
    )[:limit]
    columns = 4
    rows = max((len(days) + columns - 1) // columns, 1)
    figure, axes = pyplot.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    for axis in axes.flat:
        axis.set_visible(False)
    for axis, row in zip(axes.flat, days, strict=False):
        axis.set_visible(True)
        budget = row["budget_micros"] / 1e6
        hours = [point["hour"] for point in row["hourly"]]
        axis.plot(hours, [point["target_micros"] / 1e6 for point in row["hourly"]], "--", color="grey", label="target")
        axis.plot(hours, [point["spent_micros"] / 1e6 for point in row["hourly"]], color="tab:blue", label="spent")
        axis.axhline(budget, color="tab:red", linewidth=0.8)
        axis.set_title(f"ad group {row['ad_group']} · {row['day']} · {row['utilisation']:.1%}", fontsize=9)
        axis.set_xlim(0, 24)
        axis.tick_params(labelsize=7)
    if days:
        axes.flat[0].legend(fontsize=7)
    figure.suptitle("Cumulative spend against the pacing target (budget in red)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    pyplot.close(figure)
