"""The simulator's report: a summary against the pacing targets, per ad group and day, and the curves.

What is measured, and over which ad-group days:

- Only complete local days: a day of an advertiser in Tokyo that began before the simulation did,
  or ends after it, is left out (its budget had less or more than a day of traffic to fill it).
- *Limited by budget* is decided by the engine's own books, not by the controller: an ad-group
  day is limited when the ad group reached its budget (less than one price of it left, or the
  charge script marked it spent) or when its estimated demand — what it would have spent that
  day at full throttle (`engine.Books`) — is at least its budget. The others spent what their
  traffic allowed, which is not pacing's to fix. The controller's own view (its learned potential
  at local midnight at least the budget) is kept beside it for comparison.
- `budget_utilization` = billed spend (posted to the ledger, `delivery.SpendDay`) / budget over
  the limited ad-group days; `min_day_utilization` and `days_within_97_100_percent` show the
  spread, since the target holds for each day. Days whose budget only a few billed events fill
  (one price above 3% of it: "coarse", e.g. a 2.00 budget and 0.40 clicks) cannot be held to 97%
  or to a 5% band and are reported apart (`coarse_*`), not in the targets' figures.
- `billed_over_budget_micros`: billed spend above the budget, summed over every ad-group day the
  event store saw (partial days too).
- `unbilled_overdelivery_ratio`: what the ads shown or clicked after their budget was spent would
  have cost (events the charge script refused as over budget) / total budget, both over the
  complete ad-group days.
- `max_curve_deviation`: the worst hourly gap between cumulative spend and its target, budget x
  F(t) (the controller's expected-traffic share of the day at that hour), as a share of budget,
  over the limited standard-paced ad-group days (accelerated ones have no curve). Hour 24 is the
  day's end, where the target is the whole budget. `max_traffic_deviation` measures the same gap
  against the traffic that really came (the share of the day's requests to the ad group's
  placements that had passed): how far the controller's forecast was from the day. Each row
  also counts its `billed_events` (a curve made of 40 events moves in steps of 2.5% of budget).
- `least_curve_deviation` (per row): the smallest worst hourly gap any throttle could have kept
  to, given what the ad group could win hour by hour (`least_curve_deviation`, from its hourly
  demand). An ad group outbid until noon is far behind its curve at noon whatever its pacing;
  `achievable_days_within_5_percent_of_curve` counts, among the `days_curve_achievable` (least
  gap within 5%), those the controller kept within 5%: the curve target where it can be met.
  The demand behind it is the engine's estimate on the competition the run had (another pacing
  would have met other competition), so it is a diagnosis, not a target of its own.
- `most_on_curve` (per row): the most of its budget the ad group could have spent while keeping
  within 5% of its curve at every hour, from the same hourly demand (None: the curve was out of
  reach; otherwise 95-100%, since the curve ends at the whole budget). Demand that comes early
  and runs out can make the two targets contradict each other: a day that could only have spent
  95.5% on its curve had to miss one of them, whatever its pacing.
  `both_achievable_days_meeting_both` counts, among the `days_both_achievable` (on the curve with
  at least 97% spent was possible), those that did both.
- `first_days`: the same figures over new ad groups' first days (`first_day` per row: the ad
  groups `--newcomers` made start serving at their advertiser's first midnight of the run, with
  nothing learned, among ad groups that had been serving before it).
- `ctr_vs_oracle`: the mean true CTR of the ads shown / the mean best true CTR of their ad
  groups (what an oracle choosing within each winning ad group would have shown); over all
  impressions and, `ctr_vs_oracle_rotating`, over those of ad groups with more than one ad.

Each ad-group day's `hourly` points give, at the end of each local hour, the spend so far, its
target, the traffic-shaped ideal, the controller's throttle at that moment, `gate`: the mean
chance over that hour that the ad group took part in an auction (0 while its budget was spent),
and `demand_micros`: what it would have won in that hour at full throttle (the estimate above,
while it was open) — an hour with the gate open and no demand is one it could not have won.
"""

from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from campaigns.choices import Pacing
from delivery.models import SpendDay

from .engine import Group, Simulation
from .market import first_whole_day

TARGET_UTILISATION = (0.97, 1.0)
TARGET_CURVE = 0.05
TARGET_UNBILLED = 0.005
TARGET_CTR = 0.90
# A budget that fewer than about 33 billed events fill cannot be held to 97%: the charge that would
# cross it is refused, so up to one price of it stays unspent, and the curve moves in steps of a
# price. Such ad-group days ("coarse": a price above 3% of the budget) are reported apart.
COARSE_PRICE_SHARE = 0.03


def complete_days(simulation: Simulation, zone_name: str) -> list[str]:
    """The local days of `zone_name` that lie entirely inside the simulated time."""
    zone = simulation.zones[zone_name]
    last = (simulation.start + timedelta(days=simulation.days)).astimezone(zone)
    day = first_whole_day(simulation.start, zone)
    days = []
    while datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone) <= last:
        days.append(day.isoformat())
        day += timedelta(days=1)
    return days


class Traffic:
    """The requests that really came, per local hour of each day, for a set of placements in a time zone."""

    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation
        self._hours: dict[str, list[tuple[str, int]]] = {}  # zone -> per simulated minute (local date, local hour)
        self._cache: dict[tuple[str, tuple[str, ...]], dict[str, list[int]]] = {}

    def hourly(self, zone_name: str, placements: tuple[str, ...], day: str) -> list[int]:
        """Requests per local hour (0-23) of `day` to `placements`."""
        key = (zone_name, placements)
        if key not in self._cache:
            if zone_name not in self._hours:
                zone, start = self.simulation.zones[zone_name], self.simulation.began
                self._hours[zone_name] = [
                    ((local := (start + timedelta(minutes=minute)).astimezone(zone)).date().isoformat(), local.hour)
                    for minute in range(len(self.simulation.books.requests))
                ]
            days: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
            for (local_day, hour), counted in zip(self._hours[zone_name], self.simulation.books.requests, strict=True):
                days[local_day][hour] += sum(counted[placement] for placement in placements)
            self._cache[key] = dict(days)
        return self._cache[key].get(day, [0] * 24)


def least_curve_deviation(budget: int, targets: list[int], demand: list[float | None]) -> float:
    """The smallest worst hourly gap to the curve (a share of budget) that any throttle could have kept to.

    `targets` is the curve at the end of each hour, `demand` what the ad group would have won in
    that hour at full throttle (None: not measured — its gate was closed all hour — so no limit).
    Spend can rise in an hour by at most its demand, and never above the budget; the answer is the
    narrowest band around the curve that some such spend stays within at every hour (bisection: a
    band is possible when the spends reachable hour by hour never leave it). An ad group that can
    win nothing before noon is that far behind at noon whatever its pacing.
    """

    narrow, wide = 0.0, float(budget)
    for _ in range(40):
        band = (narrow + wide) / 2
        narrow, wide = (narrow, band) if _most_within(budget, targets, demand, band) is not None else (band, wide)
    return round(wide / budget, 4) if budget else 0.0


def _most_within(budget: int, targets: list[int], demand: list[float | None], band: float) -> float | None:
    """The most spend reachable by the day's end staying within `band` micros of `targets` every hour (None: none does).

    Spend can rise in an hour by at most its demand (None: no limit), and never above the budget.
    """
    low = high = 0.0
    for target, most in zip(targets, demand, strict=True):
        high = min(high + (budget if most is None else most), budget)
        low, high = max(low, target - band), min(high, target + band)
        if low > high:
            return None
    return high


def most_on_curve(budget: int, targets: list[int], demand: list[float | None], band: float = TARGET_CURVE) -> float | None:
    """The most of its budget (a share) the ad group could have spent keeping within `band` of its curve at every hour.

    The same reachable spends as `least_curve_deviation`'s, kept within the band: the top of what is
    reachable by the day's end (at least 1 - `band`: the curve ends at the whole budget). None when
    no throttle could keep within the band. Demand that came early and then ran out can make the
    two targets contradict each other: a day whose curve was achievable but which could only have
    spent 95.5% of its budget on it had to give up one of them.
    """
    most = _most_within(budget, targets, demand, band * budget)
    return round(most / budget, 4) if budget and most is not None else None


def _ad_group_day(simulation: Simulation, group: Group, position: int, day: str, billed: int, traffic: Traffic) -> dict[str, Any]:
    books, budget, key = simulation.books, group.budget, (group.pk, day)
    requests = traffic.hourly(group.zone, group.placements, day)
    day_requests = sum(requests)
    open_share = books.open_requests[key] / day_requests if day_requests else 0.0
    demand = books.demand[key] / open_share if open_share > 0 else None
    price = books.max_price[key]
    reached = key in books.exhausted_seen or (price > 0 and budget - billed < price)
    coarse = price > COARSE_PRICE_SHARE * budget
    limited = reached or (demand is not None and demand >= budget)
    state = books.controller.get(key)
    exposure = float(state.get("exposure") or 0.0) if state else 0.0
    controller_limited = bool(state and exposure > 0 and float(state["spend_seen"]) / exposure >= budget)
    hourly, passed = [], 0
    targets: list[int] = []
    demands: list[float | None] = []  # what it could have won each hour (None: its gate was closed all hour)
    deviation = traffic_deviation = 0.0
    for hour, spent, share, throttle, gate in sorted(books.hourly.get(key, []), key=lambda point: point[0]):
        if hour == 0:
            continue
        passed = sum(requests[:hour])
        came = passed / day_requests if day_requests else 0.0
        target = round(budget * share)
        ideal = round(budget * came)
        hourly.append(
            {
                "hour": hour,
                "spent_micros": spent,
                "target_micros": target,
                "traffic_micros": ideal,
                "throttle": None if throttle is None else round(throttle, 4),
                "gate": round(gate, 4),
                "demand_micros": round(books.demand_by_hour.get((*key, hour - 1), 0.0)),
            }
        )
        targets.append(target)
        demands.append(books.demand_by_hour.get((*key, hour - 1), 0.0) if gate > 0 else None)
        deviation = max(deviation, abs(spent - target) / budget)
        traffic_deviation = max(traffic_deviation, abs(spent - ideal) / budget)
    participation = books.participation[key] / books.open_requests[key] if books.open_requests[key] else None
    return {
        "ad_group": group.pk,
        "position": position,  # the ad group's place in the marketplace (the same for the same seed)
        "day": day,
        "first_day": simulation.market.first_days.get(group.pk) == day,  # a new ad group's first day of serving
        "pacing": group.pacing,
        "ads": group.ads,
        "limited_by_budget": limited,
        "reached_budget": reached,
        "coarse": coarse,
        "max_price_micros": price,
        "controller_limited": controller_limited,
        "demand_micros": round(demand) if demand is not None else None,
        "open_share": round(open_share, 4),
        "mean_participation": round(participation, 4) if participation is not None else None,
        "budget_micros": budget,
        "billed_micros": billed,
        "utilisation": round(billed / budget, 4),
        "unbilled_overdelivery_micros": books.unbilled[key],
        "max_curve_deviation": round(deviation, 4),
        "max_traffic_deviation": round(traffic_deviation, 4),
        "least_curve_deviation": least_curve_deviation(budget, targets, demands),
        "most_on_curve": most_on_curve(budget, targets, demands),
        "billed_events": books.events[key],
        "hourly": hourly,
    }


Row = dict[str, Any]


def limited_days(rows: list[Row]) -> tuple[list[Row], list[Row], list[Row], list[Row]]:
    """The ad-group days among `rows` limited by budget: fine, coarse, fine standard, achievable.

    Fine days are held to the targets, coarse ones reported apart; the fine ones paced as standard
    are held to the curve, and achievable are those of them whose curve some throttle could have
    kept within 5% at every hour.
    """
    limited = [row for row in rows if row["limited_by_budget"] and not row["coarse"]]
    coarse = [row for row in rows if row["limited_by_budget"] and row["coarse"]]
    paced = [row for row in limited if row["pacing"] == Pacing.STANDARD]
    achievable = [row for row in paced if row["least_curve_deviation"] <= TARGET_CURVE]
    return limited, coarse, paced, achievable


def in_range(row: Row) -> bool:
    """The ad-group day spent 97-100% of its budget."""
    low, high = TARGET_UTILISATION
    return low <= row["billed_micros"] / row["budget_micros"] <= high


def on_curve(row: Row) -> bool:
    """The ad-group day's cumulative spend stayed within 5% of budget of its curve at every hour."""
    return row["max_curve_deviation"] <= TARGET_CURVE


def both_achievable(row: Row) -> bool:
    """Some throttle could have kept the day within 5% of its curve at every hour and spent 97% of its budget."""
    return row["most_on_curve"] is not None and row["most_on_curve"] >= TARGET_UTILISATION[0]


def met_both(row: Row) -> bool:
    """The ad-group day spent 97-100% of its budget and stayed within 5% of its curve at every hour."""
    return in_range(row) and on_curve(row)


def _figures(rows: list[Row]) -> dict[str, Any]:
    """Utilisation and curve figures over the limited ad-group days among `rows` that are not coarse."""
    limited, coarse, paced, achievable = limited_days(rows)
    budget = sum(row["budget_micros"] for row in limited)
    utilisations = [row["billed_micros"] / row["budget_micros"] for row in limited]
    deviations = sorted(row["max_curve_deviation"] for row in paced)
    both = [row for row in achievable if both_achievable(row)]
    return {
        "ad_group_days": len(rows),
        "limited_by_budget": len(limited),
        "limited_accelerated": len(limited) - len(paced),
        "limited_coarse": len(coarse),
        "budget_utilization": round(sum(row["billed_micros"] for row in limited) / budget, 4) if budget else None,
        "min_day_utilization": round(min(utilisations), 4) if utilisations else None,
        "days_within_97_100_percent": round(sum(map(in_range, limited)) / len(limited), 4) if limited else None,
        "max_curve_deviation": deviations[-1] if deviations else None,
        "p90_curve_deviation": deviations[int(0.9 * (len(deviations) - 1))] if deviations else None,
        "days_within_5_percent_of_curve": round(sum(map(on_curve, paced)) / len(paced), 4) if paced else None,
        "max_traffic_deviation": max((row["max_traffic_deviation"] for row in paced), default=None),
        "days_curve_achievable": len(achievable),
        "achievable_days_within_5_percent_of_curve": round(sum(map(on_curve, achievable)) / len(achievable), 4)
        if achievable
        else None,
        "days_both_achievable": len(both),
        "both_achievable_days_meeting_both": round(sum(map(met_both, both)) / len(both), 4) if both else None,
        "coarse_budget_utilization": round(
            sum(row["billed_micros"] for row in coarse) / sum(row["budget_micros"] for row in coarse), 4
        )
        if coarse
        else None,
        "coarse_min_day_utilization": min((row["utilisation"] for row in coarse), default=None),
    }


def build(simulation: Simulation, *, seed: int, arguments: dict[str, Any]) -> dict[str, Any]:
    """report.json: the arguments, the summary against the targets, and every complete ad-group day."""
    billed_days = {
        (row.ad_group_id, row.day.isoformat()): row.cost_micros
        for row in SpendDay.objects.filter(ad_group_id__in=simulation.market.ad_groups)
    }
    over = sum(
        max(cost - simulation.groups[group_id].budget, 0)
        for (group_id, _), cost in billed_days.items()
        if group_id in simulation.groups
    )
    traffic = Traffic(simulation)
    days_of = {zone: complete_days(simulation, zone) for zone in simulation.zones}
    rows = []
    for position, group_id in enumerate(simulation.market.ad_groups):
        group = simulation.groups[group_id]
        for day in days_of[group.zone]:
            rows.append(_ad_group_day(simulation, group, position, day, billed_days.get((group_id, day), 0), traffic))
    total_budget = sum(row["budget_micros"] for row in rows)
    unbilled = sum(row["unbilled_overdelivery_micros"] for row in rows)
    totals = simulation.totals
    figures = _figures(rows)
    summary = {
        "requests": totals.requests,
        "filled": totals.filled,
        "impressions": totals.impressions,
        "clicks": totals.clicks,
        "conversions": totals.conversions,
        "ad_group_days": figures["ad_group_days"],
        "ad_group_days_limited_by_budget": figures["limited_by_budget"],
        "ad_group_days_limited_accelerated": figures["limited_accelerated"],
        "ad_group_days_limited_coarse": figures["limited_coarse"],
        "ad_group_days_limited_by_controller": sum(row["controller_limited"] for row in rows),
        "limited_disagreements": sum(row["controller_limited"] != row["limited_by_budget"] for row in rows),
        "budget_utilization": figures["budget_utilization"],
        "min_day_utilization": figures["min_day_utilization"],
        "days_within_97_100_percent": figures["days_within_97_100_percent"],
        "billed_over_budget_micros": over,
        "unbilled_overdelivery_micros": unbilled,
        "unbilled_overdelivery_ratio": round(unbilled / total_budget, 6) if total_budget else 0.0,
        "max_curve_deviation": figures["max_curve_deviation"],
        "p90_curve_deviation": figures["p90_curve_deviation"],
        "days_within_5_percent_of_curve": figures["days_within_5_percent_of_curve"],
        "max_traffic_deviation": figures["max_traffic_deviation"],
        "days_curve_achievable": figures["days_curve_achievable"],
        "achievable_days_within_5_percent_of_curve": figures["achievable_days_within_5_percent_of_curve"],
        "days_both_achievable": figures["days_both_achievable"],
        "both_achievable_days_meeting_both": figures["both_achievable_days_meeting_both"],
        "coarse_budget_utilization": figures["coarse_budget_utilization"],
        "coarse_min_day_utilization": figures["coarse_min_day_utilization"],
        "delivered_ctr": round(totals.clicks / totals.impressions, 5) if totals.impressions else None,
        "ctr_vs_oracle": round(totals.true_ctr_shown / totals.oracle_ctr, 4) if totals.oracle_ctr else None,
        "ctr_vs_oracle_rotating": round(totals.rotating_true_ctr_shown / totals.rotating_oracle_ctr, 4)
        if totals.rotating_oracle_ctr
        else None,
    }
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_day[row["day"]].append(row)
    return {
        "arguments": arguments,
        "seed": seed,
        "summary": summary,
        "by_day": {day: _figures(by_day[day]) for day in sorted(by_day)},
        "first_days": _figures([row for row in rows if row["first_day"]]),
        "ad_group_days": rows,
    }


def verdicts(summary: dict[str, Any]) -> dict[str, bool | None]:
    """Each target of the issue: met (True), missed (False) or not measurable (None: nothing limited)."""
    low, high = TARGET_UTILISATION
    utilisation, worst = summary["budget_utilization"], summary["min_day_utilization"]
    return {
        "budget_utilization": None if utilisation is None else low <= worst and utilisation <= high,
        "billed_over_budget": summary["billed_over_budget_micros"] == 0,
        "unbilled_overdelivery": summary["unbilled_overdelivery_ratio"] <= TARGET_UNBILLED,
        "curve_deviation": None if summary["max_curve_deviation"] is None else summary["max_curve_deviation"] <= TARGET_CURVE,
        "ctr_vs_oracle": None if summary["ctr_vs_oracle"] is None else summary["ctr_vs_oracle"] >= TARGET_CTR,
    }


def text(report: dict[str, Any]) -> str:
    """The summary as a few readable lines, each target with its verdict."""
    s = report["summary"]
    met = verdicts(s)

    def share(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2%}"

    def verdict(name: str) -> str:
        return {True: "met", False: "MISSED", None: "n/a"}[met[name]]

    limited = s["ad_group_days_limited_by_budget"]
    first = report["first_days"]
    lines = [
        (
            f"requests {s['requests']:,}, filled {s['filled']:,}, impressions {s['impressions']:,}, "
            f"clicks {s['clicks']:,}, conversions {s['conversions']:,}"
        ),
        (
            f"ad-group days {s['ad_group_days']:,} (complete local days); limited by budget {limited:,} "
            f"({s['ad_group_days_limited_accelerated']:,} accelerated) and {s['ad_group_days_limited_coarse']:,} coarse; "
            f"the controller judged {s['ad_group_days_limited_by_controller']:,} limited"
        ),
        (
            f"budget utilisation (limited)   {share(s['budget_utilization'])}, worst day {share(s['min_day_utilization'])}, "
            f"{share(s['days_within_97_100_percent'])} of days within 97-100%   "
            f"target 97-100% each day: {verdict('budget_utilization')}"
        ),
        (
            f"  coarse days (a price > 3% of the budget): {share(s['coarse_budget_utilization'])}, "
            f"worst {share(s['coarse_min_day_utilization'])}"
        ),
        f"billed above a budget          {s['billed_over_budget_micros'] / 1e6:.6f}   target 0: {verdict('billed_over_budget')}",
        (
            f"unbilled over-delivery         {share(s['unbilled_overdelivery_ratio'])} of total budget   "
            f"target <= 0.5%: {verdict('unbilled_overdelivery')}"
        ),
        (
            f"worst hourly curve deviation   {share(s['max_curve_deviation'])} of budget (90th percentile "
            f"{share(s['p90_curve_deviation'])}, {share(s['days_within_5_percent_of_curve'])} of days within 5%)   "
            f"target <= 5%: {verdict('curve_deviation')}"
        ),
        f"  against the traffic that came: {share(s['max_traffic_deviation'])} of budget (the forecast's error included)",
        (
            f"  where some throttle could keep within 5% ({s['days_curve_achievable']:,} days): "
            f"{share(s['achievable_days_within_5_percent_of_curve'])} of them within 5%"
        ),
        (
            f"  where some throttle could also spend 97% on it ({s['days_both_achievable']:,} days): "
            f"{share(s['both_achievable_days_meeting_both'])} of them did both"
        ),
        (
            f"new ad groups' first day       {first['ad_group_days']:,} days, {first['limited_by_budget']:,} limited: "
            f"utilisation {share(first['budget_utilization'])}, worst {share(first['min_day_utilization'])}; "
            f"{share(first['days_within_5_percent_of_curve'])} of standard days within 5% of the curve "
            f"(worst {share(first['max_curve_deviation'])})"
        ),
        (
            f"delivered CTR vs oracle        {share(s['ctr_vs_oracle'])} (ad groups with several ads "
            f"{share(s['ctr_vs_oracle_rotating'])})   target >= 90%: {verdict('ctr_vs_oracle')}"
        ),
    ]
    for day, figures in report.get("by_day", {}).items():
        lines.append(
            f"  {day}: {figures['limited_by_budget']:>4} limited of {figures['ad_group_days']:>4}, utilisation "
            f"{share(figures['budget_utilization'])} (worst {share(figures['min_day_utilization'])}), worst curve gap "
            f"{share(figures['max_curve_deviation'])}"
        )
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path, *, limit: int = 12) -> None:
    """Spend against the target: the measured days (limited, standard, not coarse) furthest from it, then the largest budgets."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    candidates = [
        row
        for row in report["ad_group_days"]
        if row["limited_by_budget"] and not row["coarse"] and row["pacing"] == Pacing.STANDARD and row["hourly"]
    ]
    worst = sorted(candidates, key=lambda row: (-row["max_curve_deviation"], row["position"], row["day"]))[: limit // 2]
    largest = sorted(
        (row for row in candidates if row not in worst), key=lambda row: (-row["budget_micros"], row["position"], row["day"])
    )
    days = worst + largest[: limit - len(worst)]
    columns = 4
    rows = max((len(days) + columns - 1) // columns, 1)
    figure, axes = pyplot.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    for axis in axes.flat:
        axis.set_visible(False)
    for axis, row in zip(axes.flat, days, strict=False):
        axis.set_visible(True)
        budget = row["budget_micros"] / 1e6
        hours = [0] + [point["hour"] for point in row["hourly"]]
        axis.plot(hours, [0] + [point["target_micros"] / 1e6 for point in row["hourly"]], "--", color="grey", label="target")
        axis.plot(
            hours, [0] + [point["traffic_micros"] / 1e6 for point in row["hourly"]], ":", color="tab:green", label="traffic"
        )
        axis.plot(hours, [0] + [point["spent_micros"] / 1e6 for point in row["hourly"]], color="tab:blue", label="spent")
        axis.axhline(budget, color="tab:red", linewidth=0.8)
        axis.set_title(
            f"ad group {row['ad_group']} · {row['day']} · {row['utilisation']:.1%} · gap {row['max_curve_deviation']:.1%}",
            fontsize=8,
        )
        axis.set_xlim(0, 24)
        axis.tick_params(labelsize=7)
    if days:
        axes.flat[0].legend(fontsize=7)
    figure.suptitle("Cumulative spend against the pacing target (budget in red): worst gaps first, then the largest budgets")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    pyplot.close(figure)
