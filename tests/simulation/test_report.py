"""The report's diagnoses: how close to its curve any throttle could have kept an ad group, and how much it could spend there."""

from simulation.report import least_curve_deviation, most_on_curve

BUDGET = 1_000_000
CURVE = [BUDGET * hour // 24 for hour in range(1, 25)]  # an even curve over 24 hours


def test_plentiful_demand_can_follow_the_curve_exactly():
    assert least_curve_deviation(BUDGET, CURVE, [BUDGET / 4] * 24) == 0.0


def test_nothing_won_until_noon_leaves_the_best_pacing_behind_at_noon():
    demand = [0.0] * 12 + [BUDGET] * 12

    # at noon half the budget should be spent and none can be
    assert least_curve_deviation(BUDGET, CURVE, demand) == 0.5


def test_scarce_late_demand_is_best_met_by_running_ahead_earlier():
    # 2 of the budget's 24 parts per hour until 18:00, nothing after: running ahead from the start
    # leaves the smallest worst gap, half the 6 hours' 6/24 on either side
    demand = [2 * BUDGET / 24] * 18 + [0.0] * 6

    assert least_curve_deviation(BUDGET, CURVE, demand) == 0.125


def test_an_hour_not_measured_limits_nothing():
    demand = [0.0] * 12 + [None] + [0.0] * 11

    # it could have won the whole budget in the unmeasured hour: the rest is the closed hours' curve
    assert least_curve_deviation(BUDGET, CURVE, demand) == 0.5


def test_spend_never_exceeds_the_budget():
    front = [BUDGET * 2] + [0.0] * 23  # all its demand, twice the budget, in the first hour

    # whatever it spends in the first hour it keeps all day: best half-way between the curve's first hour and its end
    assert least_curve_deviation(BUDGET, CURVE, front) == 0.4792


def test_plentiful_demand_can_spend_the_whole_budget_on_the_curve():
    assert most_on_curve(BUDGET, CURVE, [BUDGET / 4] * 24) == 1.0


def test_an_evening_without_demand_leaves_the_curve_or_the_budget():
    # 1.2 of the curve's hourly parts an hour until 22:00, nothing after: the most it can have spent
    # by 22:00 within 5% of the curve is 22/24 + 5%, and that is all the day gives
    demand = [1.2 * BUDGET / 24] * 22 + [0.0] * 2

    assert most_on_curve(BUDGET, CURVE, demand) == 0.9667
    assert least_curve_deviation(BUDGET, CURVE, demand) <= 0.05  # the curve alone was within reach


def test_a_curve_out_of_reach_has_no_most():
    assert most_on_curve(BUDGET, CURVE, [0.0] * 12 + [BUDGET] * 12) is None
    assert most_on_curve(BUDGET, CURVE, [0.0] * 12 + [BUDGET] * 12, band=0.5) == 1.0


def test_an_hour_not_measured_limits_nothing_spent_on_the_curve():
    demand = [BUDGET / 24] * 23 + [None]

    assert most_on_curve(BUDGET, CURVE, demand) == 1.0
