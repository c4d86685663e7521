"""The report's least achievable curve gap: how close to its curve any throttle could have kept an ad group."""

from simulation.report import least_curve_deviation

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
