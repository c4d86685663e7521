"""A short simulator run on a small marketplace, twice with the same seed: the pacing targets hold, and the reports are equal.

The two runs (40-60 s each) are shared by the tests below (one more, another realisation of the
same marketplace, is the `--draws` test's own): each starts from an empty platform,
as a transactional test does, and the database is emptied again afterwards. The CTR target
(delivered CTR at least 90% of the oracle's) is left to the benchmark (bench/pacing): one day
of a small marketplace is too little traffic for learning to get there (82-86% here).
"""

import io
import json
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import Currency
from accounts.reference import seed_currencies
from adplatform.redis_client import get_redis
from bench.pacing import compare
from campaigns.models import BlockedTerm, Interest
from campaigns.reference import seed_blocked_terms, seed_interests
from delivery import index
from delivery.models import SpendDay
from tests.factories import UserFactory

# The runs happen in the module fixture, but the tests must say they use the database all the same:
# pytest-django creates the test database only for sessions with a test that asks for it, and
# without one (this module run alone) the fixture flushed and filled the development database.
# Transactional, as the runs are: pytest-django runs these tests with the other transactional ones,
# which seed the reference data afresh, not before the plain database tests (that rely on it).
# One xdist worker takes them all, so the two runs happen once, not on each worker given a test.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("simulate")]

# Budgets small enough for a day of 12,000 requests to fill several of them; most advertisers in
# UTC, so one simulated day is a complete local day for them (the Tokyo ones are left out). No
# warm-up and no newcomers: every ad group starts at the day's midnight at once, the hardest start there is.
MARKETPLACE = {
    "days": 1,
    "advertisers": 10,
    "requests_per_day": 12_000,
    "people": 2000,
    "seed": 4,
    "budget_range": ["0.40", "2.00"],
    "request_weight": 1,
    "time_zones": "UTC,UTC,UTC,Asia/Tokyo",
    "warmup_hours": 0,
    "newcomers": 0,
}


def empty_platform():
    """What a transactional test leaves behind: no rows, no events, no Redis state, nothing in this process's index."""
    call_command("flush", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE delivery_event")
    get_redis().flushdb()
    index.holder.reset()


def simulate(out, **changes):
    empty_platform()
    seed_currencies(Currency)
    seed_interests(Interest)
    seed_blocked_terms(BlockedTerm)
    UserFactory(email="staff@adplatform.test", is_staff=True)
    printed = io.StringIO()
    call_command("simulate", stdout=printed, out=out, **{**MARKETPLACE, **changes})
    return json.loads((out / "report.json").read_text()), printed.getvalue()


@pytest.fixture(scope="module")
def runs(django_db_setup, django_db_blocker, tmp_path_factory):
    """The same marketplace simulated twice from the same seed, each on an empty platform.

    The fixture works outside pytest-django's test wrappers, so it closes the connection it used:
    after a browser test, Playwright's event loop stays registered on this thread, Django keeps
    the connection in that async context's storage, and the session's teardown (the loop gone)
    would close only the thread's own and fail to drop the test database ("1 other session").
    """
    with django_db_blocker.unblock():
        try:
            outs = [tmp_path_factory.mktemp(name) for name in ("first", "second")]
            yield [(*simulate(out), out) for out in outs]
        finally:
            empty_platform()
            connection.close()


def test_a_small_marketplace_is_paced_to_its_budgets(runs):
    report, printed, _ = runs[0]

    summary = report["summary"]
    assert "budget utilisation" in printed
    assert summary["ad_group_days_limited_by_budget"] >= 3
    assert summary["billed_over_budget_micros"] == 0
    assert 0.97 <= summary["budget_utilization"] <= 1.0
    assert summary["min_day_utilization"] >= 0.97
    assert summary["unbilled_overdelivery_ratio"] <= 0.005
    assert summary["max_curve_deviation"] <= 0.05
    assert 0 < summary["ctr_vs_oracle"] <= 1


def test_a_warm_up_is_served_but_not_measured_and_new_ad_groups_have_their_first_day_apart(django_db_blocker, tmp_path):
    """The marketplace runs before the first day, but the report measures the day alone; new ad groups start on it."""
    with django_db_blocker.unblock():
        try:
            report, printed = simulate(
                tmp_path, advertisers=4, requests_per_day=3000, people=500, time_zones="UTC", warmup_hours=3, newcomers=0.5
            )
            newcomers = {row["ad_group"] for row in report["ad_group_days"] if row["first_day"]}
            served_before = SpendDay.objects.filter(ad_group_id__in=newcomers, day__lt=date(2031, 3, 3)).count()
            served_in_warm_up = SpendDay.objects.filter(day__lt=date(2031, 3, 3)).exclude(ad_group_id__in=newcomers).count()
        finally:
            empty_platform()

    # Three hours before midnight (about 14% of a day's requests, at 21:00-24:00) were served:
    assert "warm-up" in printed
    # but the summary counts the day's own requests, and measures the same day as without them.
    assert report["arguments"]["warmup_hours"] == 3
    assert abs(report["summary"]["requests"] - 3000) < 0.06 * 3000
    assert set(report["by_day"]) == {"2031-03-03"}
    assert [point["hour"] for point in report["ad_group_days"][0]["hourly"]] == list(range(1, 25))
    # Half the ad groups are new: they served nothing before the day, which is their first, measured apart.
    rows = report["ad_group_days"]
    assert 0 < len(newcomers) < len(rows)
    assert served_before == 0
    assert served_in_warm_up > 0
    assert report["first_days"]["ad_group_days"] == len(newcomers)
    assert "new ad groups' first day" in printed


def test_another_stream_of_draws_is_another_realisation_of_the_same_marketplace(runs, django_db_blocker, tmp_path):
    """`--draws N`: the same advertisers, budgets and traffic curve, other visitors, clicks and auctions."""
    own, _, _ = runs[0]
    with django_db_blocker.unblock():
        other, _ = simulate(tmp_path, draws=1)

    def marketplace(report):
        return sorted((row["budget_micros"], row["pacing"], row["ads"]) for row in report["ad_group_days"])

    assert (own["arguments"]["draws"], other["arguments"]["draws"]) == (0, 1)
    assert marketplace(other) == marketplace(own)
    requests = MARKETPLACE["requests_per_day"]
    assert abs(other["summary"]["requests"] - own["summary"]["requests"]) < 0.06 * requests  # the same traffic curve
    assert other["by_day"] != own["by_day"]  # drawn anew: other requests, clicks and auctions


@pytest.mark.parametrize(
    "option", [{"warmup_hours": -1}, {"warmup_hours": 25}, {"newcomers": 1.5}, {"newcomers": -0.1}, {"draws": -1}]
)
def test_a_warm_up_beyond_a_day_newcomers_outside_0_to_1_or_negative_draws_are_refused(option):
    with pytest.raises(CommandError, match="--" + next(iter(option)).replace("_", "-")):
        call_command("simulate", stdout=io.StringIO(), **option)


def test_the_report_has_every_hour_of_every_complete_day_with_its_target(runs):
    report, _, out = runs[0]

    assert report["ad_group_days"]
    for day in report["ad_group_days"]:
        assert [point["hour"] for point in day["hourly"]] == list(range(1, 25))
        assert day["hourly"][-1]["target_micros"] == day["budget_micros"]
        assert day["hourly"][-1]["traffic_micros"] == day["budget_micros"]
        assert day["utilisation"] == round(day["billed_micros"] / day["budget_micros"], 4)
        # what the ad group did is one way its demand could have been spent: the least gap is no larger
        assert 0 <= day["least_curve_deviation"] <= day["max_curve_deviation"] + 0.0001
        if day["max_curve_deviation"] < 0.0499:  # ... and on a day it kept within 5% of its curve, it spent no more than the most
            assert day["hourly"][-1]["spent_micros"] / day["budget_micros"] <= day["most_on_curve"] + 0.0001
    assert set(report["by_day"]) == {day["day"] for day in report["ad_group_days"]}
    assert (out / "curves.png").stat().st_size > 10_000


def without_ids(report):
    """The report less database ids and run times: ad-group days are keyed by their place in the marketplace."""
    days = [{key: value for key, value in row.items() if key != "ad_group"} for row in report["ad_group_days"]]
    return {**{key: report[key] for key in ("arguments", "seed", "summary", "by_day")}, "ad_group_days": days}


def test_the_same_seed_gives_the_same_report(runs):
    (first, _, _), (second, _, _) = runs

    assert first["summary"]["impressions"] > 0
    assert without_ids(second) == without_ids(first)


def test_the_pacing_bench_comparison_counts_what_the_report_summarises(runs, tmp_path):
    """bench.pacing.compare counts a run's days by the report's own definitions, and pairs two controllers' runs."""
    (report, _, first), (_, _, second) = runs
    for controller, out in (("reference", first), ("candidate", second)):
        (tmp_path / controller).mkdir()
        (tmp_path / controller / "diurnal-seed4").symlink_to(out)

    reference = compare.runs(tmp_path / "reference")
    counts, summary = reference["diurnal-seed4"], report["summary"]
    assert counts.limited == summary["ad_group_days_limited_by_budget"] >= 3
    assert round(counts.in_range / counts.limited, 4) == summary["days_within_97_100_percent"]
    assert counts.achievable == summary["days_curve_achievable"] > 0
    assert round(counts.on_curve / counts.achievable, 4) == summary["achievable_days_within_5_percent_of_curve"]
    assert counts.both == summary["days_both_achievable"] > 0
    assert round(counts.met_both / counts.both, 4) == summary["both_achievable_days_meeting_both"]
    assert round(counts.worst_day, 4) == summary["min_day_utilization"]
    assert counts.ctr_vs_oracle == summary["ctr_vs_oracle"]

    table = compare.table({"reference": reference, "candidate": compare.runs(tmp_path / "candidate")})
    row = next(line for line in table.splitlines() if line.startswith("diurnal-seed4"))
    assert row.split()[1:3] == [f"{counts.in_range}/{counts.limited}", f"{counts.on_curve}/{counts.achievable}"]
    assert "days on the curve per run +0.0 (sd 0.0; more on 0, fewer on 0, as many on 1 of 1)" in table  # the same seed
    with pytest.raises(SystemExit, match=r"no \*/report\.json under"):
        compare.runs(tmp_path)
