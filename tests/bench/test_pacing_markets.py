"""bench.pacing.markets: the controller on the pacing tests' markets, counted as the tests count them."""

from bench.pacing import markets


def test_a_plentiful_even_market_spends_its_budget_along_the_curve():
    spent, gap = markets.second_day("even", 265, 4.0, seed=1)

    assert 0.97 <= spent <= 1.0
    assert gap <= 0.05


def test_a_late_burst_leaves_nothing_before_it_and_a_trickle_after():
    factor = markets.factor("late", seed=3)
    day = [factor(minute) for minute in range(markets.MINUTES)]
    start = day.index(6.0)

    assert 8 * 60 <= start < 17 * 60
    assert set(day[:start]) == {0.0}
    assert day[start : start + 40] == [6.0] * 40
    assert set(day[start + 40 :]) == {0.3}


def test_the_sweep_runs_every_size_and_demand_of_a_pattern_and_the_table_counts_them():
    results = markets.sweep(["late"], seeds=1, processes=1)

    assert sorted((events, demand) for _, events, demand, *_ in results) == [
        (events, demand) for events in markets.EVENTS for demand in (1.1, 1.6, 4.0)
    ]
    assert all(0.0 <= spent <= 1.0 for *_, spent, _, _ in results)
    # nothing until the afternoon: far off the curve whatever the throttle, and no throttle could have kept it
    assert all(gap > 0.05 and least > 0.05 for *_, gap, least in results)
    lines = markets.table(results).splitlines()
    assert len(lines) == 1 + len(results) + 1  # a heading, a line per market, the pattern's total
    assert lines[-1].startswith("late     all   in range")
    assert lines[-1].endswith("on the curve 0/9, achievable days on the curve 0/0")


def test_the_least_gap_is_what_the_days_demand_allowed():
    # as forecast, anything above a budget of demand can follow the curve exactly
    assert markets.least_gap("even", 4.0, seed=1) == 0.0
    # at 1.03 budgets it can too: the curve is the forecast's shape, the demand's
    assert markets.least_gap("even", 1.03, seed=1) == 0.0
    # two thirds of a budget: a third short at midnight whatever the throttle
    assert markets.least_gap("even", 0.66, seed=1) > 0.3
    # an hour without demand: a throttle that knew it was coming would have run ahead before it
    absent = markets.least_gap("absent", 4.0, seed=1)
    assert 0.0 < absent <= 0.05


def test_the_table_counts_days_in_range_on_the_curve_and_the_achievable_ones_on_it():
    table = markets.table(
        [("even", 60, 1.1, 1, 0.98, 0.02, 0.0), ("even", 60, 1.1, 2, 0.95, 0.07, 0.01), ("even", 60, 1.1, 3, 0.9, 0.2, 0.12)]
    )

    assert "even        60   1.1    1/3    1/3   94.3%   90.0%    1/2" in table
    assert "even     all   in range 1/3, on the curve 1/3, achievable days on the curve 1/2" in table
