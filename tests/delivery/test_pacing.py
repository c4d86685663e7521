"""The pacing controller on synthetic days: `pacing.step` driven minute by minute against a simulated market.

The market: every minute brings its share of the day's traffic — the forecast curve's increment times
how far the real traffic is from the forecast. At throttle 1 the ad group would spend `potential`
micros over a day of forecast traffic; it buys whole impressions at a fixed price, their number drawn
from a Poisson law with a seeded Random, and an impression that would cross the budget is refused, as
the charge script refuses it. The controller steps at the start of every minute, as the beat runs it.

The targets are the issue's: a budget-limited day spends 97-100% of its budget, and its cumulative
spend is within 5% of the budget of budget x F(t) at every hour when the forecast is right.
"""

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from delivery import pacing
from simulation.engine import poisson
from simulation.report import least_curve_deviation

DAY = 86_400
CURVE = pacing.normalized(pacing.DEFAULT_PROFILE)
BUDGET = 10_000_000  # 10.00 a day
PRICE = 2_000  # 2.00 CPM: 5,000 impressions fill the budget
TODAY, TOMORROW = "2025-06-10", "2025-06-11"
TOLERANCE = 0.05 * BUDGET  # cumulative spend within 5% of the budget of its target at every hour
NOISE = 0.005 * BUDGET  # what the events' noise alone puts between spend and target at times on a steady day


@dataclass
class Market:
    """An ad group's auctions: at throttle 1 it would spend `potential` micros over a day of forecast traffic.

    With `requests_per_day`, the placements' ad requests are counted too (a forecast day brings
    that many), as `pace` counts them for placements with a learned profile; without, the
    controller sees only its spend, as for placements without history.
    With `spread`, each event's price is drawn uniformly within that share either side of `price`
    (a second price moves with the runner-up's bid); an event that would cross the budget is refused.
    """

    potential: float
    price: int = PRICE
    seed: int = 7
    requests_per_day: float | None = None
    spread: float = 0.0
    rng: Random = field(init=False)
    requests_rng: Random = field(init=False)
    prices_rng: Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = Random(self.seed)
        self.requests_rng = Random(self.seed + 1)
        self.prices_rng = Random(self.seed + 2)

    def buy(self, *, traffic: float, throttle: float, budget: int, spent: int) -> int:
        """Micros spent in a minute bringing `traffic` (a share of a forecast day); never above `budget`."""
        impressions = poisson(self.rng, self.potential * traffic * throttle / self.price)
        if not self.spread:
            return min(impressions, max(budget - spent, 0) // self.price) * self.price
        bought = 0
        for _ in range(impressions):
            price = round(self.price * self.prices_rng.uniform(1 - self.spread, 1 + self.spread))
            bought += price if spent + bought + price <= budget else 0
        return bought

    def requests(self, *, forecast: float, factor: float) -> tuple[float, float] | None:
        """(ad requests that came, ad requests expected) in a minute the forecast gave `forecast` of a day."""
        if self.requests_per_day is None:
            return None
        expected = self.requests_per_day * forecast
        return float(poisson(self.requests_rng, expected * factor)), expected


@dataclass(frozen=True)
class Minute:
    """What the controller saw and decided at the start of one minute."""

    minute: int
    share: float  # F at the start of the minute
    spent: int  # today's spend at the start of the minute
    budget: int
    throttle: float | None  # None: not paced (paused)


@dataclass
class Day:
    minutes: list[Minute]
    spent: int  # at the end of the day
    state: pacing.State | None

    def hours(self) -> list[tuple[float, int]]:
        """(F, spend) at every full hour and at the end of the day."""
        return [(m.share, m.spent) for m in self.minutes if m.minute % 60 == 0] + [(1.0, self.spent)]

    def worst_gap(self, budget: int = BUDGET) -> float:
        """The largest hourly distance between spend and budget x F(t), in micros."""
        return max(abs(spent - budget * share) for share, spent in self.hours())

    def throttles(self, first_hour: int, last_hour: int) -> list[float]:
        return [m.throttle for m in self.minutes if first_hour * 60 <= m.minute < last_hour * 60 and m.throttle is not None]


def run_day(
    market: Market,
    *,
    state: pacing.State | None = None,
    day: str = TODAY,
    starts_at: float = 0.0,
    budget: int | Callable[[int], int] = BUDGET,
    traffic: Callable[[int], float] = lambda minute: 1.0,
    paused: range = range(0),
    day_seconds: int = DAY,
    curve: list[float] = CURVE,
) -> Day:
    """One local day, minute by minute: the controller steps, then the market spends at its throttle.

    `traffic(minute)` is the real traffic over the forecast's; in `paused` minutes the ad group is
    neither paced nor served.
    """
    minutes, spent, requests = [], 0, None
    for minute in range(day_seconds // 60):
        share = pacing.passed_share(curve, minute * 60, day_seconds)
        todays = budget(minute) if callable(budget) else budget
        if minute in paused:
            minutes.append(Minute(minute, share, spent, todays, None))
            continue
        at = starts_at + minute * 60
        state = pacing.step(previous=state, day=day, budget=todays, spent=spent, share=share, at=at, requests=requests)
        minutes.append(Minute(minute, share, spent, todays, state.throttle))
        forecast = pacing.passed_share(curve, (minute + 1) * 60, day_seconds) - share
        spent += market.buy(traffic=forecast * traffic(minute), throttle=state.throttle, budget=todays, spent=spent)
        requests = market.requests(forecast=forecast, factor=traffic(minute))
    return Day(minutes, spent, state)


def run_days(market: Market, count: int, *, traffic: Callable[[int], float] = lambda minute: 1.0, **options: object) -> list[Day]:
    """`count` consecutive days, each starting from the state the previous one ended with.

    `traffic(minute)` counts minutes from the first day's midnight, so a pattern of several days
    (bursts at random times, competition hour by hour) brings each day its own part.
    """
    days, state = [], None
    for n in range(count):
        todays = lambda minute, first=n * DAY // 60: traffic(first + minute)  # noqa: E731
        day = run_day(market, state=state, day=f"2025-06-{10 + n:02d}", starts_at=n * DAY, traffic=todays, **options)  # type: ignore[arg-type]
        days.append(day)
        state = day.state
    return days


def least_gap(traffic: Callable[[int], float], potential: float) -> float:
    """The smallest worst hourly gap to the curve (a share of the budget) any throttle could have kept on the second day.

    From the market's expected demand hour by hour (`potential` budgets a day times the traffic of
    the hour's minutes, each the forecast's times `traffic`), not the Poisson draws the day made:
    what the day's shape allowed, not its luck (`simulation.report.least_curve_deviation`).
    """
    minutes = first = DAY // 60  # the second day starts a day's minutes after the first midnight
    shares = [pacing.passed_share(CURVE, minute * 60) for minute in range(minutes + 1)]
    hourly = [0.0] * 24
    for minute in range(minutes):
        hourly[minute // 60] += potential * BUDGET * (shares[minute + 1] - shares[minute]) * traffic(first + minute)
    targets = [round(BUDGET * shares[hour * 60]) for hour in range(1, 25)]
    demands: list[float | None] = list(hourly)
    return least_curve_deviation(BUDGET, targets, demands)


def between(hour: int, last_hour: int, factor: float) -> Callable[[int], float]:
    """Real traffic `factor` x the forecast from `hour` to `last_hour`, as forecast otherwise."""
    return lambda minute: factor if hour * 60 <= minute < last_hour * 60 else 1.0


# --- the pure pieces ---------------------------------------------------------------------------------


def test_normalized_shares_sum_to_one_over_the_allowed_hours():
    allowed = [0.0] * 9 + [1.0] * 8 + [0.5] + [0.0] * 6  # 09:00-17:00 and 17:00-17:30

    shares = pacing.normalized(pacing.DEFAULT_PROFILE, allowed)

    assert sum(shares) == pytest.approx(1.0)
    assert shares[:9] == [0.0] * 9
    assert shares[18:] == [0.0] * 6
    kept = sum(pacing.DEFAULT_PROFILE[9:17]) + 0.5 * pacing.DEFAULT_PROFILE[17]
    assert shares[9] == pytest.approx(pacing.DEFAULT_PROFILE[9] / kept)
    assert shares[17] == pytest.approx(0.5 * pacing.DEFAULT_PROFILE[17] / kept)


def test_normalized_spreads_evenly_when_no_traffic_is_expected_in_the_allowed_hours():
    allowed = [0.0] * 22 + [1.0, 1.0]

    assert pacing.normalized([1.0] * 22 + [0.0, 0.0], allowed) == [0.0] * 22 + [0.5, 0.5]
    assert pacing.normalized([0.0] * 24) == [1 / 24] * 24


def test_passed_share_is_linear_within_an_hour_and_reaches_one_at_midnight():
    assert pacing.passed_share(CURVE, 0) == 0.0
    assert pacing.passed_share(CURVE, 3_600) == pytest.approx(CURVE[0])
    assert pacing.passed_share(CURVE, 5_400) == pytest.approx(CURVE[0] + CURVE[1] / 2)
    assert pacing.passed_share(CURVE, 43_200) == pytest.approx(sum(CURVE[:12]))
    assert pacing.passed_share(CURVE, DAY) == pytest.approx(1.0)
    assert pacing.passed_share(CURVE, DAY + 600) == pytest.approx(1.0)


@pytest.mark.parametrize("day_seconds", [82_800, 90_000], ids=["23-hour day", "25-hour day"])
def test_passed_share_stretches_the_profile_over_a_daylight_saving_day(day_seconds):
    assert pacing.passed_share(CURVE, day_seconds / 2, day_seconds) == pytest.approx(sum(CURVE[:12]))
    assert pacing.passed_share(CURVE, day_seconds - 1, day_seconds) < 1.0
    assert pacing.passed_share(CURVE, day_seconds, day_seconds) == pytest.approx(1.0)


def test_a_first_step_starts_small_and_doubles_only_while_traffic_passes():
    first = pacing.step(previous=None, day=TODAY, budget=BUDGET, spent=0, share=0.0, at=0.0)
    waiting = pacing.step(previous=first, day=TODAY, budget=BUDGET, spent=0, share=0.0, at=60.0)
    moving = pacing.step(previous=waiting, day=TODAY, budget=BUDGET, spent=0, share=0.001, at=120.0)

    assert first.throttle == pacing.FIRST_THROTTLE
    assert first.potential is None
    assert waiting.throttle == pacing.FIRST_THROTTLE  # no traffic yet (a daypart not open): nothing to go on
    assert moving.throttle == 2 * pacing.FIRST_THROTTLE


def test_a_step_moves_the_throttle_at_most_twofold_either_way():
    # Learned: 1,000,000 micros per unit of exposure. The plan for the rest of the day is then
    # remaining / (potential x rest of the traffic).
    known = pacing.State(TODAY, 0.2, 1_000_000, 0.5, 1_000_000.0, 1.0, at=0.0)

    behind = pacing.step(previous=known, day=TODAY, budget=BUDGET, spent=1_000_000, share=0.5, at=60.0)
    ahead = pacing.step(previous=known, day=TODAY, budget=1_010_000, spent=1_000_000, share=0.5, at=60.0)
    near = pacing.step(previous=known, day=TODAY, budget=1_120_000, spent=1_000_000, share=0.5, at=60.0)

    assert behind.throttle == pytest.approx(0.4)  # wanted 18, at most twice the last
    assert ahead.throttle == pytest.approx(0.1)  # wanted 0.02, at most half the last
    assert near.throttle == pytest.approx(120_000 / (1_000_000 * 0.5))
    assert near.potential == pytest.approx(1_000_000.0)  # no traffic passed: nothing learned


def test_a_spent_budget_closes_the_throttle_at_once():
    known = pacing.State(TODAY, 0.8, 9_000_000, 0.6, 1_000_000.0, 0.5, at=0.0)

    state = pacing.step(previous=known, day=TODAY, budget=BUDGET, spent=BUDGET, share=0.61, at=60.0)

    assert state.throttle == 0.0


def test_the_last_moments_of_the_day_open_the_throttle():
    known = pacing.State(TODAY, 0.3, 9_000_000, 0.9999, 1_000_000.0, 0.5, at=0.0)

    state = pacing.step(previous=known, day=TODAY, budget=BUDGET, spent=9_000_000, share=1.0, at=60.0)

    assert state.throttle == pytest.approx(0.6)  # towards 1, twofold a minute


def test_a_step_after_a_gap_learns_nothing_from_it():
    known = pacing.State(TODAY, 0.2, 2_000_000, 0.3, 40_000.0, 0.02, at=1_000.0)

    after_gap = pacing.step(previous=known, day=TODAY, budget=BUDGET, spent=2_000_000, share=0.5, at=1_000.0 + 5 * 3_600)
    after_minute = pacing.step(previous=known, day=TODAY, budget=BUDGET, spent=2_000_000, share=0.5, at=1_060.0)

    assert after_gap.potential == pytest.approx(2_000_000.0)  # the hours it was not served say nothing
    assert after_minute.potential < 1_000_000.0  # a minute of traffic at throttle 0.2 with no spend does


def test_minutes_with_less_than_a_price_left_teach_nothing():
    # The decision refuses an ad group whose next event would cross its budget, whatever its
    # throttle: minutes of traffic without spend then say nothing about what it could win.
    known = pacing.State(TODAY, 0.5, BUDGET - 1_000, 0.8, 400_000.0, 0.08, at=0.0, price=PRICE)

    starved = pacing.step(previous=known, day=TODAY, budget=BUDGET, spent=BUDGET - 1_000, share=0.85, at=60.0)
    with_room = pacing.step(previous=known, day=TODAY, budget=BUDGET + 9_000, spent=BUDGET - 1_000, share=0.85, at=60.0)

    assert starved.potential == pytest.approx(known.potential)
    assert with_room.potential < 0.8 * known.potential  # with five prices left, the same quiet minute does


def test_the_price_is_the_smallest_spend_between_two_steps():
    state = pacing.step(previous=None, day=TODAY, budget=BUDGET, spent=0, share=0.0, at=0.0)
    for minute, spent in enumerate((0, 6_000, 8_000, 15_000, 15_000), start=1):
        state = pacing.step(previous=state, day=TODAY, budget=BUDGET, spent=spent, share=minute / 1_000, at=minute * 60.0)

    assert state.price == 2_000


def test_the_event_price_is_the_mean_spend_of_the_minutes_that_bought():
    state = pacing.step(previous=None, day=TODAY, budget=BUDGET, spent=0, share=0.0, at=0.0)
    spent = 0
    for minute in range(1, 201):  # one event a minute at 1,000 or 3,000 in turn: the cheapest says nothing of the rest
        spent += 1_000 if minute % 2 else 3_000
        state = pacing.step(previous=state, day=TODAY, budget=BUDGET, spent=spent, share=minute / 1_000, at=minute * 60.0)
    after_gap = pacing.step(previous=state, day=TODAY, budget=BUDGET, spent=spent + 50_000, share=0.3, at=200 * 60.0 + 3_600)

    assert state.price == 1_000
    assert state.event_price == pytest.approx(2_000, rel=0.05)
    assert after_gap.event_price == state.event_price  # an hour unpaced bought many events between two steps


def test_an_ad_group_that_wins_rarely_keeps_its_last_twenty_events_of_evidence():
    rare = pacing.State(TODAY, 0.3, 50_000, 0.5, 10 * PRICE, 0.01, at=0.0, price=PRICE)  # ten events seen
    busy = pacing.State(TODAY, 0.3, 5_000_000, 0.5, 500 * PRICE, 0.5, at=0.0, price=PRICE)  # five hundred

    for minute in range(1, 61):  # an hour of nothing new
        rare = pacing.step(previous=rare, day=TODAY, budget=BUDGET, spent=50_000, share=0.5, at=minute * 60.0)
        busy = pacing.step(previous=busy, day=TODAY, budget=BUDGET, spent=5_000_000, share=0.5, at=minute * 60.0)

    assert rare.spend_seen == pytest.approx(10 * PRICE)  # under MIN_EVENTS prices: nothing forgotten
    assert busy.spend_seen == pytest.approx(500 * PRICE / 4)  # two half-lives


def minute_bringing(events: int, *, spend_seen: float, exposure: float) -> pacing.State:
    """One minute at throttle 1 bringing a thousandth of the day's traffic and `events` billed events,
    after evidence of `spend_seen` over `exposure`."""
    known = pacing.State(TODAY, 1.0, 0, 0.3, spend_seen, exposure, at=0.0, price=PRICE, plan_budget=BUDGET)
    return pacing.step(previous=known, day=TODAY, budget=BUDGET, spent=events * PRICE, share=0.301, at=60.0)


def test_events_the_potential_makes_near_impossible_replace_it_with_the_last_minutes():
    # Twenty events over a whole day's exposure (a day that brought almost nothing), then a minute of
    # four: the potential gave the minute 0.02 of an event, a chance of about one in seventy million.
    stale = minute_bringing(4, spend_seen=20 * PRICE, exposure=1.0)

    assert stale.potential == pytest.approx(4 * PRICE / 0.001)  # the last minutes' own: 4,000 events a day
    assert stale.recent_spend == 4 * PRICE


def test_a_minute_that_teaches_nothing_does_not_erase_the_last_minutes_events():
    # After a day that brought almost nothing, three events, a minute without traffic (a daypart's
    # edge) and two more: five events where the potential expected a twenty-fifth of one.
    three = minute_bringing(3, spend_seen=20 * PRICE, exposure=1.0)
    quiet = pacing.step(previous=three, day=TODAY, budget=BUDGET, spent=3 * PRICE, share=0.301, at=120.0)
    two = pacing.step(previous=quiet, day=TODAY, budget=BUDGET, spent=5 * PRICE, share=0.302, at=180.0)

    assert three.potential == pytest.approx(23 * PRICE / 1.001)  # three alone are not yet unlikely enough
    assert quiet.recent_spend == pytest.approx(3 * PRICE * pacing.RECENT_FORGET)
    assert two.potential == pytest.approx(two.recent_spend / two.recent_exposure)  # together they are
    assert two.potential > 1_000 * PRICE


def test_a_lucky_minute_is_learned_from_as_usual():
    # Ten events over a hundredth of a day (1,000 a day): a minute of three, where one was expected,
    # happens one minute in twelve; and two events are never enough to say anything, however few expected.
    lucky = minute_bringing(3, spend_seen=10 * PRICE, exposure=0.01)
    few = minute_bringing(2, spend_seen=20 * PRICE, exposure=1.0)

    assert lucky.potential == pytest.approx(13 * PRICE / 0.011)
    assert few.potential == pytest.approx(22 * PRICE / 1.001)


minutes_of_inputs = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=50_000_000),  # today's budget, edited at will
        st.integers(min_value=0, max_value=2_000_000),  # spend since the last step
        st.floats(min_value=0.0, max_value=0.05),  # traffic since the last step
        st.sampled_from([60.0, 60.0, 60.0, 3_600.0]),  # seconds since the last step
    ),
    min_size=1,
    max_size=60,
)


@given(minutes_of_inputs)
def test_the_throttle_is_closed_only_on_a_spent_budget_and_moves_at_most_twofold(minutes):
    state, spent, share, at = None, 0, 0.0, 0.0
    for budget, spend, traffic, seconds in minutes:
        spent, share, at = spent + spend, min(share + traffic, 1.0), at + seconds
        before = state
        state = pacing.step(previous=before, day=TODAY, budget=budget, spent=spent, share=share, at=at)

        if spent >= budget:
            assert state.throttle == 0.0
            continue
        assert pacing.MIN_THROTTLE <= state.throttle <= 1.0
        last = max(before.throttle if before else pacing.FIRST_THROTTLE, pacing.MIN_THROTTLE)
        assert last * pacing.MAX_STEP_DOWN - 1e-12 <= state.throttle <= last * pacing.MAX_STEP_UP + 1e-12
        assert state.potential is None or state.potential >= 0.0


def test_the_traffic_ratio_is_shrunk_towards_the_forecast_while_few_requests_were_expected():
    def ratio(seen: float, expected: float) -> float:
        return pacing.State(TODAY, 0.2, 0, 0.5, 0.0, 0.0, requests_seen=seen, requests_expected=expected).traffic_ratio

    assert ratio(0.0, 0.0) == 1.0
    assert ratio(3.0, 1.0) == pytest.approx(13 / 11)  # three requests where one was expected: barely news
    assert ratio(3_000.0, 1_000.0) == pytest.approx(3_010 / 1_010)
    assert ratio(0.0, 10_000.0) == pacing.MIN_RATIO
    assert ratio(1e9, 10.0) == pacing.MAX_RATIO


def test_counted_requests_scale_the_plan_at_once():
    # Learned: 1,000,000 micros per unit of exposure; the plan for an unchanged traffic would be 0.24.
    known = pacing.State(TODAY, 0.2, 1_000_000, 0.5, 1_000_000.0, 1.0, at=0.0)

    as_forecast = pacing.step(previous=known, day=TODAY, budget=1_120_000, spent=1_000_000, share=0.5, at=60.0)
    busier = pacing.step(
        previous=known, day=TODAY, budget=1_120_000, spent=1_000_000, share=0.5, at=60.0, requests=(150.0, 100.0)
    )

    assert as_forecast.throttle == pytest.approx(0.24)
    assert busier.traffic_ratio == pytest.approx(160 / 110)
    assert busier.throttle == pytest.approx(0.24 * 110 / 160)


def test_requests_across_a_gap_are_not_counted():
    known = pacing.State(TODAY, 0.2, 1_000_000, 0.5, 1_000_000.0, 1.0, at=1_000.0)

    state = pacing.step(previous=known, day=TODAY, budget=BUDGET, spent=1_000_000, share=0.6, at=8_200.0, requests=(9e4, 1e3))

    assert (state.requests_seen, state.requests_expected) == (0.0, 0.0)


# --- days on the simulated market ------------------------------------------------------------------------


COUNTED = [None, 20_000]  # requests not counted (no profile yet) / counted, 20,000 a day (~14 a minute, noisy)
COUNTED_IDS = ["spend only", "requests counted"]


@pytest.mark.parametrize("requests_per_day", COUNTED, ids=COUNTED_IDS)
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("potential", [1.1, 3.0, 60.0])
def test_budget_limited_days_spend_97_to_100_percent_along_the_curve(potential, seed, requests_per_day):
    market = Market(potential * BUDGET, seed=seed, requests_per_day=requests_per_day)

    days = run_days(market, 3)

    for day in days:
        assert 0.97 * BUDGET <= day.spent <= BUDGET
        assert day.worst_gap() <= TOLERANCE


def at_three_tenths(*, potential: float, throttle: float, spent: int, price: int = 0, ratio: float = 1.0) -> pacing.State:
    """A step at F = 0.3 of a day planned from midnight, `potential` micros per day of traffic learned (`price`: 0 unknown).

    `ratio`: the traffic lately, over the forecast's (from counted requests, many enough to outweigh the prior).
    """
    counted = {"requests_seen": ratio * 100_000, "requests_expected": 100_000.0}
    known = pacing.State(TODAY, throttle, spent, 0.3, potential, 1.0, at=0.0, price=price, plan_budget=BUDGET, **counted)
    return pacing.step(previous=known, day=TODAY, budget=BUDGET, spent=spent, share=0.3, at=60.0)


def test_a_lead_is_cut_within_the_horizon_while_demand_is_plentiful():
    # Ten budgets' worth of demand a day: the rest of the day needs a tenth of its traffic.
    on_curve = at_three_tenths(potential=10 * BUDGET, throttle=0.1, spent=3_000_000)
    ahead = at_three_tenths(potential=10 * BUDGET, throttle=0.1, spent=3_500_000)  # 5% of the budget ahead

    assert on_curve.throttle == pytest.approx(0.1)
    # the next 5% of the day's traffic brings the plan 500,000 micros further: all spent already
    assert ahead.throttle == pytest.approx(0.05)  # wanted 0; at most half the last throttle a minute


def test_a_lead_of_two_percent_is_kept_while_demand_is_scarce():
    # 1.2 budgets' worth of demand a day: the rest of the day needs most of its traffic, and what is
    # not taken now may be budget left unspent tonight. The throttle aims 2% of the budget ahead of
    # the plan at the horizon's end, so a lead of 2% is held: the plan's next 500,000 micros.
    ahead = at_three_tenths(potential=1.2 * BUDGET, throttle=0.8, spent=3_200_000)  # 2% of the budget ahead

    assert ahead.throttle == pytest.approx(500_000 / (1.2 * BUDGET * pacing.HORIZON))


def test_an_ad_group_on_its_curve_runs_ahead_while_demand_is_scarce():
    # 1.6 budgets' worth of demand: on the curve (with ten budgets' the throttle would take the plan's
    # next 500,000 micros, as above), it takes 2% of the budget more within the next 5% of the traffic:
    # demand it leaves now is not there later, and one hour's competition or one event's luck would
    # otherwise leave such a budget a few percent short tonight.
    scarce = at_three_tenths(potential=1.6 * BUDGET, throttle=0.6, spent=3_000_000)

    assert scarce.throttle == pytest.approx(700_000 / (1.6 * BUDGET * pacing.HORIZON))


def test_a_lead_beyond_two_percent_is_cut_to_two_percent_even_while_demand_is_scarce():
    ahead = at_three_tenths(potential=1.2 * BUDGET, throttle=0.5, spent=3_500_000)  # 5% ahead

    # within the next 5% of the day's traffic: the plan's 500,000 micros and 2% of the budget, less the lead
    assert ahead.throttle == pytest.approx((3_500_000 + 200_000 - 3_500_000) / (1.2 * BUDGET * pacing.HORIZON))


def test_a_burst_counts_as_half_again_the_forecast_when_scarcity_is_judged():
    # 1.1 budgets of demand a day at the forecast's traffic, on the curve, in a burst of four times
    # it: at the burst's rate the rest of the day would look plentiful (the rest of the budget needing
    # less than a quarter of its traffic); at 1.5 times the forecast it is scarce, and the throttle
    # aims 2% of the budget ahead, at the burst's rate.
    burst = at_three_tenths(potential=1.1 * BUDGET, throttle=0.3, spent=3_000_000, ratio=4.0)

    assert burst.traffic_ratio == pytest.approx(4.0, rel=0.01)
    assert burst.throttle == pytest.approx(700_000 / (1.1 * BUDGET * pacing.HORIZON * burst.traffic_ratio))


def test_traffic_a_little_above_the_forecast_is_judged_as_it_is():
    # 3.3 budgets of demand a day, traffic 30% above the forecast: the rest of the budget needs less
    # than a quarter of the rest of the day's traffic, so there is no lead to aim at. (Judged at the
    # forecast itself, the day would look a little scarce and the throttle aim partly ahead: such
    # swings are ordinary, and on the simulator's diurnal days that put more days off their curves.)
    swing = at_three_tenths(potential=3.3 * BUDGET, throttle=0.2, spent=3_000_000, ratio=1.3)

    assert swing.throttle == pytest.approx(500_000 / (3.3 * BUDGET * pacing.HORIZON * swing.traffic_ratio))


def competition(seed: int, spread: float = 0.3) -> Callable[[int], float]:
    """Demand moving hour by hour as other bidders come and go: a lognormal factor of mean 1 per hour, for two days."""
    rng = Random(seed * 7_919 + 13)
    factors = [math.exp(rng.gauss(-spread * spread / 2, spread)) for _ in range(48)]
    return lambda minute: factors[minute // 60]


@pytest.mark.parametrize(
    ("events", "potential", "moving"),
    [(265, 1.06, False), (265, 1.1, True), (1_000, 1.1, True)],
    ids=["265 events, 1.06 budgets", "265 events, 1.1 budgets, competition moving", "1,000 events, the same"],
)
def test_a_budget_its_demand_barely_exceeds_is_spent(events, potential, moving):
    # Demand of 1.06-1.1 budgets a day: every impression the throttle leaves is one the day may not
    # bring again. Running up to 2% ahead of the curve while demand is scarce fills such budgets.
    spent = []
    for seed in range(1, 21):
        traffic = competition(seed) if moving else lambda minute: 1.0
        _, day = run_days(Market(potential * BUDGET, price=BUDGET // events, seed=seed), 2, traffic=traffic)
        spent.append(day.spent / BUDGET)
        if least_gap(traffic, potential) <= 0.05:  # an hour's competition can put the curve out of reach
            assert day.worst_gap() <= 0.1 * BUDGET

    # (Aiming at the curve itself: 13-14 of 20 days in range, 97.0-97.8% spent on average.)
    assert sum(share >= 0.97 for share in spent) >= 15
    assert sum(spent) / len(spent) >= 0.98


def bursts(seed: int) -> Callable[[int], float]:
    """A spiky two days: six bursts of 4x the forecast traffic for 30 minutes at seeded random times, 0.85x between."""
    rng = Random(seed * 31 + 5)
    starts = [rng.randrange(0, 2 * DAY // 60 - 30) for _ in range(6)]
    return lambda minute: 4.0 if any(start <= minute < start + 30 for start in starts) else 0.85


def test_a_burst_does_not_make_scarce_demand_look_plentiful():
    # Demand of 1.1 budgets a day, a quarter of it in bursts of four times the forecast traffic: the
    # rest of the day is judged at no more than 1.5 times the forecast, not at the burst's rate, so
    # the burst is taken into the 2% lead a scarce ad group keeps instead of being cut back to the
    # curve and missed.
    spent = []
    for events, seed in itertools.product((265, 1_000), range(1, 21)):
        market = Market(1.1 * BUDGET, price=BUDGET // events, seed=seed, requests_per_day=20_000)
        _, day = run_days(market, 2, traffic=bursts(seed))
        spent.append(day.spent / BUDGET)

    # (Judged at the burst's rate: 22 of 40 days in range, 96.6% spent on average; 24 and 97.1% with
    # the cap. Four of the days could not keep their curve, and their range misses are most of the rest.)
    assert sum(share >= 0.97 for share in spent) >= 23
    assert sum(spent) / len(spent) >= 0.968


def after_a_morning_without_demand(*, day_potential: float) -> pacing.State:
    """Noon (F = 0.5) of a day planned from midnight: 30% of the budget behind its plan at full throttle this
    morning, 10% ahead of it now after a burst whose last half hour taught a potential of ten budgets a day.

    `day_potential`: what the day so far taught, in budgets a day.
    """
    known = pacing.State(
        TODAY, 0.4, 6_000_000, 0.5, 10.0 * BUDGET, 1.0, at=0.0, plan_budget=BUDGET,
        day_spend=day_potential * BUDGET, day_exposure=1.0, behind=3_000_000,
    )  # fmt: skip
    return pacing.step(previous=known, day=TODAY, budget=BUDGET, spent=6_000_000, share=0.5, at=60.0)


def test_demand_lost_at_full_throttle_is_made_up_while_the_day_is_scarce():
    # The morning brought nothing at throttle 1, the burst made up 4,000,000 micros of it. Judged by
    # the last half hour the day is plentiful (the rest of the budget needs 8% of the rest of its
    # traffic) and the lead would be cut; judged by the day so far (0.6 budgets a day) it is scarce,
    # so the throttle aims as far ahead of the plan as the day fell behind it: the plan's next
    # 500,000 micros plus the 3,000,000 lost, less the 1,000,000 made up, over the horizon's traffic.
    scarce = after_a_morning_without_demand(day_potential=0.6)

    assert scarce.throttle == pytest.approx(2_500_000 / (10 * BUDGET * pacing.HORIZON))


def test_an_hour_without_demand_does_not_make_a_plentiful_day_scarce():
    # The same noon on a day that brought six budgets' worth: the lead is cut as always (wanted 0,
    # at most half the last throttle a minute).
    plentiful = after_a_morning_without_demand(day_potential=6.0)

    assert plentiful.throttle == pytest.approx(0.2)


def test_a_deficit_counts_as_lost_only_once_held_an_hour_at_full_throttle():
    # 6% of the budget behind the plan at throttle 1, nothing won: for 59 minutes it may be a quiet
    # spell the curve can still absorb by the next full hour; held for an hour it was seen at one.
    state = pacing.State(TODAY, 1.0, 2_400_000, 0.3, 2 * BUDGET, 1.0, at=0.0, plan_budget=BUDGET)
    behind = []
    for minute in range(1, 62):
        share, at = 0.3 + minute * 1e-5, minute * 60.0
        state = pacing.step(previous=state, day=TODAY, budget=BUDGET, spent=2_400_000, share=share, at=at)
        state = replace(state, throttle=1.0)  # demand absent: the throttle stays open
        behind.append(state.behind)

    assert behind[58] == 0.0
    assert behind[59] == pytest.approx(0.3006 * BUDGET - 2_400_000)


def test_the_deficit_lost_is_forgotten_at_midnight_and_at_a_budget_edit():
    noon = after_a_morning_without_demand(day_potential=0.6)
    edited = pacing.step(previous=noon, day=TODAY, budget=2 * BUDGET, spent=6_000_000, share=0.51, at=120.0)
    tomorrow = pacing.step(previous=noon, day=TOMORROW, budget=BUDGET, spent=0, share=0.0, at=DAY)

    assert noon.behind == 3_000_000
    assert edited.behind == 0.0
    assert tomorrow.behind == 0.0
    assert (tomorrow.day_spend, tomorrow.day_exposure) == (0.0, 0.0)


def late(seed: int) -> Callable[[int], float]:
    """Two days without demand until a burst of 6x the forecast for 40 minutes, at a seeded time from 8:00 to
    17:00, then 0.3x: as other bidders' budgets run out, or an audience that comes online in the evening."""
    starts = [Random(seed * 97 + 3 + day).randrange(8 * 60, 17 * 60) for day in range(2)]

    def factor(minute: int) -> float:
        into = minute % (DAY // 60) - starts[minute // (DAY // 60)]
        return 0.0 if into < 0 else 6.0 if into < 40 else 0.3

    return factor


def test_demand_that_comes_late_in_one_burst_is_taken():
    # Four budgets of demand a day at the forecast's rate, but none of it before the burst: the day is
    # far behind its curve when the burst comes, and the evening brings about half a budget. Cut at
    # the curve (with the 2% lead a scarce day keeps), the burst leaves days short; the demand lost
    # at full throttle is made up from it instead.
    spent = []
    for events, seed in itertools.product((60, 265, 1_000), range(1, 21)):
        market = Market(4 * BUDGET, price=BUDGET // events, seed=seed, requests_per_day=20_000)
        _, day = run_days(market, 2, traffic=late(seed))
        spent.append(day.spent / BUDGET)

    # (Cut at the curve: 50 of 60 days in range, 99.1% spent on average, the worst day 91.7%; made up,
    # 60 of 60, 99.97% and 98.3%.)
    assert sum(share >= 0.97 for share in spent) >= 56
    assert sum(spent) / len(spent) >= 0.995
    assert min(spent) >= 0.94


@pytest.mark.parametrize(("events", "potential"), [(60, 2.0), (90, 1.6), (120, 1.6)])
def test_a_small_budget_with_scarce_even_demand_does_not_drift_ahead_of_its_curve(events, potential):
    # Demand for 1.6-2 budgets a day: every lead is kept (up to 2% of the budget), and the events'
    # noise would otherwise walk the spend several events ahead of the curve and keep it there.
    gaps = []
    for seed in range(1, 11):
        _, day = run_days(Market(potential * BUDGET, price=BUDGET // events, seed=seed), 2)
        gaps.append(day.worst_gap() / BUDGET)
        assert day.spent >= 0.97 * BUDGET

    # (Keeping whole leads, the worst gaps were 6.2-10.2% of the budget, 4.4-6.0% on average.)
    assert max(gaps) <= 0.06
    assert sum(gaps) / len(gaps) <= 0.045


@pytest.mark.parametrize("potential", [5.0, 10.0, 52.0])  # plentiful demand (with less, leads are partly kept)
def test_a_budget_of_forty_events_a_day_stays_within_about_two_events_of_its_curve(potential):
    gaps = []
    for seed in range(1, 11):
        _, day = run_days(Market(potential * BUDGET, price=BUDGET // 40, seed=seed), 2)
        gaps.append(day.worst_gap() / BUDGET)
        assert day.spent >= 0.95 * BUDGET  # two events short at most

    # (Spreading each gap over the rest of the day, their worst gaps were 5-14% of the budget; closing
    # them over 5% of the day's traffic, as larger budgets do, 3.3-5.8% and 4.8% on average.)
    assert max(gaps) <= 0.055
    assert sum(gaps) / len(gaps) <= 0.04


@pytest.mark.parametrize("potential", [5.0, 10.0])
def test_a_budget_of_forty_events_at_moving_prices_closes_its_gaps_as_one_at_a_fixed_price(potential):
    # Prices from a fifth to 1.8 times the mean: the cheapest event is no measure of how many the
    # budget buys (it counts up to 200 of them), a minute's mean spend is (`event_price`).
    gaps = []
    for seed in range(1, 11):
        _, day = run_days(Market(potential * BUDGET, price=BUDGET // 40, seed=seed, spread=0.8), 2)
        gaps.append(day.worst_gap() / BUDGET)
        assert day.spent >= 0.95 * BUDGET

    # (9 and 7 of 10 days on the curve, worst gaps 4.6% on average; counting events at the cheapest
    # price, the horizon of a budget of 100-200 events: 2 and 1 of 10, 6.1-6.2%. At a fixed price,
    # 10 and 9 of 10, 3.6-3.7%.)
    assert sum(gap <= 0.05 for gap in gaps) >= 7
    assert sum(gaps) / len(gaps) <= 0.05


def behind_at_three_tenths(*, price: int) -> pacing.State:
    """5% of the budget behind at F = 0.3, with ten budgets' worth of demand a day, at throttle 0.2."""
    return at_three_tenths(potential=10 * BUDGET, throttle=0.2, spent=2_500_000, price=price)


def test_a_budget_of_few_events_closes_a_gap_over_a_shorter_stretch_of_traffic():
    # 1,000 events a day: the gap and the next 5% of the day's plan over 5% of its traffic
    many = behind_at_three_tenths(price=BUDGET // 1_000)
    # 40: one event is 2.5% of the budget, and the gap is closed over 2% of the traffic (about half an hour)
    few = behind_at_three_tenths(price=BUDGET // 40)
    # 100: between the two
    some = behind_at_three_tenths(price=BUDGET // 100)

    assert many.throttle == pytest.approx((0.35 * BUDGET - 2_500_000) / (10 * BUDGET * pacing.HORIZON))  # 0.2
    assert few.throttle == pytest.approx((0.32 * BUDGET - 2_500_000) / (10 * BUDGET * pacing.SHORT_HORIZON))  # 0.35
    assert many.throttle < some.throttle < few.throttle


@pytest.mark.parametrize("price", [500, 20_000], ids=["many small impressions", "500 impressions a day"])
def test_the_curve_holds_for_fine_and_coarse_prices(price):
    days = run_days(Market(4 * BUDGET, price=price, seed=11), 2)

    for day in days:
        assert 0.97 * BUDGET <= day.spent <= BUDGET
        assert day.worst_gap() <= TOLERANCE


def test_a_budget_the_traffic_cannot_fill_gets_all_the_traffic():
    market = Market(0.6 * BUDGET, seed=5)

    first, second = run_days(market, 2)

    assert min(second.throttles(0, 24)) == 1.0
    assert min(first.throttles(1, 24)) > 0.9
    assert 0.55 * BUDGET <= second.spent <= 0.65 * BUDGET


@pytest.mark.parametrize(
    ("factor", "spike"),
    [(3.0, (10, 14)), (0.2, (10, 14)), (3.0, (0, 3)), (0.2, (18, 22))],
    ids=["3x 10-14h", "0.2x 10-14h", "3x at night", "0.2x in the evening"],
)
def test_a_step_change_in_traffic_is_followed_and_the_day_still_fills(factor, spike):
    market = Market(4 * BUDGET, seed=21)
    learned = run_day(market).state

    day = run_day(market, state=learned, day=TOMORROW, starts_at=DAY, traffic=between(*spike, factor))

    assert 0.97 * BUDGET <= day.spent <= BUDGET
    if factor > 1:  # more traffic than forecast: the throttle falls and spend keeps to the curve
        assert day.worst_gap() <= TOLERANCE
        during = day.throttles(spike[0] + 1, spike[1])
        assert sum(during) / len(during) == pytest.approx(1 / (4 * factor), rel=0.35)
    else:  # less: spend falls behind at full throttle, then catches up within two hours without passing the curve
        assert max(day.throttles(spike[0] + 1, spike[1])) == 1.0
        assert all(spent <= BUDGET * share + TOLERANCE for share, spent in day.hours())
        later = pacing.passed_share(CURVE, (spike[1] + 2) * 3_600)
        assert all(abs(spent - BUDGET * share) <= TOLERANCE for share, spent in day.hours() if share >= later)


@pytest.mark.parametrize("start", [14 * 60, 19 * 60], ids=["at 14:00", "at 19:00"])
@pytest.mark.parametrize(("factor", "minutes"), [(6.0, 20), (6.0, 40), (3.0, 40)], ids=["6x 20 min", "6x 40 min", "3x 40 min"])
def test_a_burst_of_traffic_is_met_within_minutes_when_requests_are_counted(factor, minutes, start):
    def burst(minute: int) -> float:
        return factor if start <= minute < start + minutes else 1.0

    def day_with(requests_per_day: float | None) -> Day:
        market = Market(4 * BUDGET, price=500, seed=21, requests_per_day=requests_per_day)
        learned = run_day(market).state
        return run_day(market, state=learned, day=TOMORROW, starts_at=DAY, traffic=burst)

    counted, spend_only = day_with(20_000), day_with(None)

    assert 0.97 * BUDGET <= counted.spent <= BUDGET
    assert counted.worst_gap() <= 0.02 * BUDGET
    # seeing only its spend, the controller sees the burst only through its events (once they say its
    # potential is stale, or through the 30-minute memory of P): 0.51-1.45% against 0.23-0.57%
    assert spend_only.worst_gap() > counted.worst_gap()


@pytest.mark.parametrize(
    ("factor", "lead"),
    [(5.0, 0.0), (0.25, pacing.KEPT_LEAD)],
    ids=["5x the forecast", "a quarter of it"],  # 40 budgets of demand; 2, where a lead of 2% is kept
)
def test_traffic_far_from_the_forecast_all_day_recovers_within_the_first_hours(factor, lead):
    market = Market(8 * BUDGET, seed=4)
    learned = run_day(market).state

    day = run_day(market, state=learned, day=TOMORROW, starts_at=DAY, traffic=lambda minute: factor)

    assert 0.97 * BUDGET <= day.spent <= BUDGET
    worst = day.worst_gap()
    assert worst <= TOLERANCE
    # what the first hours got wrong is spread over the rest of the day: the gap closes as the day
    # goes on (to the lead scarce demand keeps, or to its events' noise, half a percent)
    evening = pacing.passed_share(CURVE, 18 * 3_600)
    gaps = [spent - BUDGET * share for share, spent in day.hours() if share >= evening]
    assert all(-max(worst / 2, NOISE) <= gap <= max(worst / 2, lead * BUDGET, NOISE) for gap in gaps)
    settled = day.throttles(6, 22)
    assert sum(settled) / len(settled) == pytest.approx(1 / (8 * factor), rel=0.25)


@pytest.mark.parametrize("requests_per_day", COUNTED, ids=COUNTED_IDS)
@pytest.mark.parametrize("events", [265, 1_000, 5_000])
def test_the_day_after_a_day_without_demand_keeps_its_curve(events, requests_per_day):
    # Four budgets of demand a day, none of it the first day (its placement down, or outbid all day).
    # The potential's evidence of nothing, kept whole under the forgetting floor, put the next
    # morning's estimate at a hundredth of the demand and the throttle at 1 for up to an hour and a
    # quarter: 5.5-7.3% of the budget ahead of the curve by 02:00. The first minutes' events say it
    # is stale.
    for seed in (1, 2, 3):
        market = Market(4 * BUDGET, price=BUDGET // events, seed=seed, requests_per_day=requests_per_day)

        empty, day = run_days(market, 2, traffic=lambda minute: 0.0 if minute < DAY // 60 else 1.0)

        assert empty.spent == 0
        assert day.spent >= 0.97 * BUDGET
        assert day.worst_gap() <= 0.03 * BUDGET


def test_a_flat_day_against_a_diurnal_forecast_still_follows_the_forecast_curve():
    # The night brings 3-8x the forecast's traffic and the evening half of it: the shape is wrong,
    # yet the controller keeps spend on the curve it was given.
    market = Market(6 * BUDGET, seed=8)
    flat = [1 / 24] * 24

    days = run_days(market, 2, traffic=lambda minute: flat[minute // 60 % 24] / CURVE[minute // 60 % 24])

    for day in days:
        assert 0.97 * BUDGET <= day.spent <= BUDGET
        assert day.worst_gap() <= TOLERANCE


@pytest.mark.parametrize("seed", [1, 2])
def test_a_budget_raised_mid_day_is_planned_over_the_rest_of_the_day(seed):
    market = Market(8 * BUDGET, seed=seed)
    learned = run_day(market).state
    raised = 2 * BUDGET

    day = run_day(market, state=learned, day=TOMORROW, starts_at=DAY, budget=lambda m: BUDGET if m < 720 else raised)

    noon = day.minutes[720]
    assert 0.97 * raised <= day.spent <= raised
    for share, spent in day.hours():  # after noon: the new remaining budget spread over the remaining traffic
        if share >= noon.share:
            planned = noon.spent + (raised - noon.spent) * (share - noon.share) / (1 - noon.share)
            assert abs(spent - planned) <= 0.05 * raised


def test_a_budget_lowered_below_todays_spend_stops_spending_at_once():
    market = Market(8 * BUDGET, seed=3)
    learned = run_day(market).state
    lowered = BUDGET // 5

    day = run_day(market, state=learned, day=TOMORROW, starts_at=DAY, budget=lambda m: BUDGET if m < 840 else lowered)

    at_edit = day.minutes[840]
    assert at_edit.spent > lowered
    assert all(m.throttle == 0.0 for m in day.minutes[840:])
    assert day.spent == at_edit.spent  # not one impression more


def test_a_budget_lowered_above_todays_spend_fills_the_new_budget_and_no_more():
    market = Market(8 * BUDGET, seed=6)
    learned = run_day(market).state
    lowered = BUDGET * 6 // 10

    day = run_day(market, state=learned, day=TOMORROW, starts_at=DAY, budget=lambda m: BUDGET if m < 720 else lowered)

    noon = day.minutes[720]
    assert noon.spent < lowered
    assert 0.97 * lowered <= day.spent <= lowered
    for share, spent in day.hours():
        if share >= noon.share:
            planned = noon.spent + (lowered - noon.spent) * (share - noon.share) / (1 - noon.share)
            assert abs(spent - planned) <= 0.05 * BUDGET


@pytest.mark.parametrize("potential", [1.5, 4.0, 20.0])
def test_an_ad_group_paused_for_hours_catches_up_without_overshooting(potential):
    market = Market(potential * BUDGET, seed=9)
    learned = run_day(market).state

    day = run_day(market, state=learned, day=TOMORROW, starts_at=DAY, paused=range(600, 900))  # 10:00-15:00

    resumed = day.minutes[900]
    assert 0.97 * BUDGET <= day.spent <= BUDGET
    for share, spent in day.hours():  # from 15:00 on the rest of the budget goes evenly over the rest of the traffic
        if share >= resumed.share:
            planned = resumed.spent + (BUDGET - resumed.spent) * (share - resumed.share) / (1 - resumed.share)
            assert abs(spent - planned) <= TOLERANCE


def test_an_ad_group_paused_over_midnight_starts_its_new_day_on_the_curve():
    market = Market(4 * BUDGET, seed=10)
    learned = run_day(market, paused=range(1200, 1440)).state  # paused at 20:00 ...

    day = run_day(market, state=learned, day=TOMORROW, starts_at=DAY, paused=range(600))  # ... resumed at 10:00

    resumed = day.minutes[600]
    assert resumed.throttle == pytest.approx(1 / 4, rel=0.3)
    assert 0.97 * BUDGET <= day.spent <= BUDGET
    for share, spent in day.hours():
        if share >= resumed.share:
            planned = BUDGET * (share - resumed.share) / (1 - resumed.share)
            assert abs(spent - planned) <= TOLERANCE


def test_midnight_resets_the_spend_and_keeps_the_learned_potential():
    market = Market(5 * BUDGET, seed=12)
    yesterday = run_day(market).state
    assert yesterday is not None
    assert yesterday.potential is not None

    state = pacing.step(previous=yesterday, day=TOMORROW, budget=BUDGET, spent=0, share=0.0, at=DAY)

    assert (state.day, state.spent, state.share) == (TOMORROW, 0, 0.0)
    assert state.potential == pytest.approx(yesterday.potential, rel=1e-9)
    assert yesterday.potential == pytest.approx(5 * BUDGET, rel=0.15)
    # the new day's budget over its whole traffic, at once: no creeping up from a closed throttle
    assert state.throttle == pytest.approx(BUDGET / yesterday.potential, rel=1e-9)


@pytest.mark.parametrize("yesterday_ends", ["spent", "closed early"])
def test_a_new_day_starts_on_its_curve_however_the_last_one_ended(yesterday_ends):
    market = Market(5 * BUDGET, seed=13)
    # "closed early": the budget cut to what was spent at 20:00, so the throttle sat at 0 for four hours
    budget = BUDGET if yesterday_ends == "spent" else (lambda minute: BUDGET if minute < 1200 else 1)
    yesterday = run_day(market, budget=budget)

    today = run_day(market, state=yesterday.state, day=TOMORROW, starts_at=DAY)

    assert today.minutes[0].spent == 0
    assert today.minutes[0].throttle == pytest.approx(1 / 5, rel=0.2)
    first_hour = today.minutes[60]
    assert abs(first_hour.spent - BUDGET * first_hour.share) <= 0.01 * BUDGET
    assert 0.97 * BUDGET <= today.spent <= BUDGET


@pytest.mark.parametrize("day_seconds", [82_800, 90_000], ids=["23-hour day", "25-hour day"])
def test_a_daylight_saving_day_is_paced_over_its_real_length(day_seconds):
    market = Market(4 * BUDGET, seed=14)
    learned = run_day(market).state

    day = run_day(market, state=learned, day=TOMORROW, starts_at=DAY, day_seconds=day_seconds)

    assert 0.97 * BUDGET <= day.spent <= BUDGET
    assert day.worst_gap() <= TOLERANCE
    assert day.minutes[-1].share == pytest.approx(1.0, abs=0.002)


def test_a_daypart_is_paced_over_its_own_hours():
    # 09:00-17:00 only: the curve is flat outside, so the throttle waits and then spends the budget in the window.
    curve = pacing.normalized(pacing.DEFAULT_PROFILE, [0.0] * 9 + [1.0] * 8 + [0.0] * 7)
    market = Market(3 * BUDGET, seed=15)

    first, second = run_days(market, 2, curve=curve)

    for day in (first, second):
        assert all(m.spent == 0 for m in day.minutes[: 9 * 60])
        assert 0.97 * BUDGET <= day.spent <= BUDGET
        assert day.minutes[17 * 60].spent >= 0.97 * BUDGET
        assert day.worst_gap() <= TOLERANCE


# --- stability -----------------------------------------------------------------------------------------


def reversals(throttles: list[float], *, factor: float = 1.5) -> int:
    """How often a move of more than `factor` (up or down, minute to minute) goes the other way than the last one."""
    count, last = 0, 0
    for before, after in itertools.pairwise(throttles):
        if max(before, after) > factor * max(min(before, after), 1e-9):
            direction = 1 if after > before else -1
            count += last == -direction
            last = direction
    return count


@pytest.mark.parametrize("requests_per_day", COUNTED, ids=COUNTED_IDS)
@pytest.mark.parametrize("potential", [1.5, 3.0, 20.0])
def test_the_throttle_does_not_oscillate(potential, requests_per_day):
    market = Market(potential * BUDGET, price=500, seed=16, requests_per_day=requests_per_day)  # 20,000 impressions a day

    _, day = run_days(market, 2)

    settled = day.throttles(1, 23)
    ideal = 1 / potential
    assert min(settled) > 0.0
    # never thrown open (1.5 budgets of demand, aiming 2% ahead of the curve, may touch 1 for a minute or two)
    assert sum(throttle >= 1.0 for throttle in settled) <= 0.01 * len(settled)
    assert reversals(settled) <= 2
    mean = sum(settled) / len(settled)
    assert mean == pytest.approx(ideal, rel=0.15)
    spread = math.sqrt(sum((t - mean) ** 2 for t in settled) / len(settled))
    assert spread <= 0.25 * mean


def test_the_throttle_does_not_swing_between_closed_and_open_on_a_noisy_small_budget():
    # 1,000 impressions a day: under one a minute, so most minutes spend nothing.
    market = Market(3 * BUDGET, price=10_000, seed=17)

    days = run_days(market, 3)

    for day in days[1:]:
        settled = day.throttles(1, 23)
        assert min(settled) >= 0.05
        assert max(settled) <= 0.95
        assert reversals(settled, factor=1.9) <= 3
