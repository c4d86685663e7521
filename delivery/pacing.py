"""The pacing controller: how much of its traffic an ad group may take, so its budget lasts the day.

Pure functions over numbers; `delivery.services.pace` feeds them from Redis every minute and
writes the throttles the decision reads (`delivery:throttle`).

The target: cumulative spend follows the day's expected traffic. With F(t) the share of today's
expected traffic (of the ad group's placements, in its advertiser's time zone, only in the hours
its dayparting allows) that has passed by local time t, the target curve is budget x F(t).

Each minute the controller

1. learns the *potential* P: what the ad group would spend per unit of the day's traffic at
   throttle 1 — a ratio estimator, spend over exposure (throttle x traffic share) with
   exponential forgetting (half-life 30 minutes), so one lucky click cannot swing it. It never
   forgets below about 20 billed events' worth (the price: the smallest spend between two steps
   seen), so an ad group that wins a few dozen events a day does not steer by its last two; and
   it learns nothing from minutes that began with less than one price of budget left (the
   decision refused the ad group then, whatever its throttle: learning from them would make the
   potential collapse at the end of every day the budget is spent, and the next day open wide).
   Held below that floor, evidence of no demand is never forgotten: after a day that brought
   nothing, the next morning's estimate was a hundredth of its demand and the throttle stayed at
   1 for 45-75 minutes, 5.5-7.3% of the budget ahead of the curve by 02:00. So beside it the last
   minutes are summed alone (since midnight, a 20-minute half-life, no floor), and when they bring
   more events than the potential gives a one-in-a-million chance of (a Poisson tail, SURPRISE_P;
   at least three), the potential is stale and is replaced by theirs (`_stale`): on the unit
   markets the day after an empty one at four budgets of demand stays within 0.4-2.7% of its
   curve, and of every other pattern only late bursts (a morning without demand) see it fire;
2. plans the next stretch of traffic (HORIZON: 5% of the day's, about an hour): the plan is the
   budget left at its start spread evenly over the traffic left then (its start is midnight, or
   the last budget edit or pause: a budget raised at noon spreads the rest over the afternoon);
   throttle* = (plan at F(t) + HORIZON - spent) / (P x HORIZON). Spend ahead of the curve leaves
   less for the stretch and the throttle falls; behind, it rises — a gap is closed within about
   an hour, not spread over the rest of the day. A budget of few events, each a visible step of
   its curve, closes its gaps faster: the horizon shrinks to 2% of the day's traffic (about half
   an hour) as the budget buys 150 down to 60 events (`_horizon`), so an ad group of 40 events a
   day stays within about two events of its curve (worst hourly gaps 2.1-5.2% of its budget; over
   an hour's traffic 3.3-5.8%, spread over the rest of the day 5-14%). Events are counted at a
   typical price (`event_price`: the mean spend of the last twenty or so minutes that bought), not
   at the cheapest: a second price moves with the runner-up's bid, and on the simulator a click's
   mean price is about twice the cheapest one seen, so budgets of 60-70 clicks counted as 130 kept
   the hour's horizon (unit markets of 40 events at prices from a fifth to 1.8 times their mean:
   16 of 20 days on the curve instead of 3). The plan is the aim only while demand is plentiful:
   when the rest of the day needs more than a quarter of its traffic to fill the budget, the aim
   moves ahead of the plan, to KEPT_LEAD (2% of the budget) ahead of it from half on (`_scarcity`).
   Demand the throttle leaves now may not come again (a larger bidder back from its own pause, a
   quiet evening), and a budget its demand barely exceeds that aims at the curve itself ends a few
   percent short whenever an hour's competition or its own estimate's noise makes the throttle take
   less than it needed (`bench.pacing.markets`' even, moving and
   churning demand, 60-1,000 events at 1.03-4 budgets: 628 of 720 days in range instead of 590,
   and 543 on the curve instead of 468: such a throttle falls behind the curve too). A larger
   lead is still cut within the horizon, or the noise of a budget of a hundred events with scarce
   demand walks its spend several events ahead of the curve and keeps it there (worst gaps of
   6-10% of its budget). In the day's last stretch the plan is the whole budget, and as the
   remaining share goes to zero the throttle opens fully, so a budget the traffic can fill is
   spent;
3. moves towards throttle* at most x2 or /2 per minute (no jumps between 0 and 1 on noise), and
   stays within [MIN_THROTTLE, 1].

Traffic off the forecast is measured where it can be: when the placements have a learned profile,
`pace` passes the ad requests that came since the last step and the number the profile expected.
Their ratio (a ratio of sums with a 3-minute half-life, shrunk towards 1 while few requests were
expected) scales the traffic the potential is learned against and the plan: throttle* =
(plan - spent) / (P x HORIZON x ratio). A burst of 6x the traffic for half an hour is then met
within minutes, at the ÷2 steps, instead of after the 30-minute memory of P has caught up;
traffic the profile did not expect at all (no history) still shows up, more slowly, as a higher
or lower P. Scarcity is judged at no more than 1.5 times the forecast, though (MAX_SCARCE_RATIO):
a burst says nothing about the rest of the day's traffic, and judged at its rate a day whose
demand is scarce looks plentiful for the burst's length, so the throttle cuts the burst back to
the curve — often the day's best demand — and the evening does not bring it back (unit markets of
265-1,000 events at 1.1 budgets with a quarter of the traffic in bursts of 4x: 22 of 40 days in
range, 96.6% spent on average; with the cap, the burst goes into the kept lead: 24 of 40, 97.1%;
a modest gain: over all of `bench.pacing.markets`' burst markets, 151 → 154 of 180). Capped at
the forecast itself, ordinary swings above it made diurnal days look scarcer than they were (on
three simulator runs, four achievable days off the curve instead of two). A quiet spell counts
as it is: demand that has not come makes a day scarcer.

Demand lost once the curve is lost is made up while the day is scarce. A deficit to the plan of
more than LOST (5% of the budget) held at full throttle for SUSTAINED (60) minutes on end was seen
at a full hour: the curve is lost for the day, and the demand did not come (nobody there, or other
bidders took it). From then on the throttle may run as far ahead of the plan as the day fell
behind it, at the forecast's rate (`_making_up`), scaled by the scarcity judged at the potential
the day so far taught (`State.day_potential`, sums since midnight without forgetting) instead of
the last half hour's: a day that brought nothing until a late burst is scarce whatever the burst
says, and cut at the curve the burst leaves it short (unit markets of four budgets a day at the
forecast's rate, all of it from one 40-minute burst on: 50 of 60 days in range, the worst 91.7%;
making it up, 60, the worst 98.3%); a day of plentiful demand that lost an hour is not. Made up
sooner (any deficit above 5 or 10%), the lead pushed days that could have kept their curve off
it (on four simulator runs achievable days off the curve 4 -> 10); held an hour first, none
(4 -> 4, range misses 6 -> 3). The deficit is forgotten at midnight and at every re-plan.

A budget edited mid-day starts a new plan at once: the rest of it over the rest of the day. A new
day starts from the previous day's potential, at the throttle that plans its budget over its
traffic (the step limits guard against noise, not against a new budget).

Steps are learned from only when they follow the previous one closely: an ad group that was not
paced for a while (paused, outside its schedule, the beat down) saw traffic it could not take, so
that stretch says nothing about its potential; it resumes from what it knew and re-plans the rest.
Before anything is learned the throttle doubles only while traffic passes, so an ad group waiting
for its first daypart does not reach it at full throttle with nothing learned.
"""

import json
import math
from dataclasses import dataclass, fields, replace

MIN_THROTTLE = 0.0005
HALF_LIFE_STEPS = 30.0  # minutes
FORGET = 0.5 ** (1 / HALF_LIFE_STEPS)
MIN_EVENTS = 20  # the potential forgets no spend beyond about the last 20 billed events
MAX_STEP_UP = 2.0
MAX_STEP_DOWN = 0.5
FIRST_THROTTLE = 0.05  # nothing learned yet: start small, double every minute while traffic passes
REQUESTS_FORGET = 0.5 ** (1 / 3.0)  # the traffic ratio's memory: a 3-minute half-life
REQUESTS_PRIOR = 10.0  # expected requests of pseudo-evidence that the traffic is as forecast
MIN_RATIO, MAX_RATIO = 0.05, 20.0
GAP_SECONDS = 300.0  # a step this long after the previous one was not paced in between: nothing to learn from it
HOURS = 24
RECENT_FORGET = 0.5 ** (1 / 20.0)  # the last minutes' sums, beside the potential's: a 20-minute half-life, no floor
SURPRISE_EVENTS = 3  # the potential is stale when the last minutes bring at least this many events ...
SURPRISE_P = 1e-6  # ... and it gave them at most this chance: theirs replace it
EVENT_PRICE_FORGET = 0.95  # the typical event price's memory: about the last 20 minutes that bought
HORIZON = 0.05  # a gap to the curve is closed over this share of the day's traffic (about 1.2 hours of a mean hour's)
SHORT_HORIZON = 0.02  # ... or this share (about half an hour) for a budget of few events, where a gap of one is 2-3% of it
FEW_EVENTS = (60, 150)  # the horizon shrinks from HORIZON at the second count of events a day to SHORT_HORIZON at the first
SCARCE = (0.25, 0.5)  # the throttle aims at the plan below the first share of the rest of the day's demand ...
KEPT_LEAD = 0.02  # ... and this share of the budget ahead of it from the second on (a larger lead is cut)
MAX_SCARCE_RATIO = 1.5  # scarcity is judged at no more than this much of the forecast traffic: a burst is not the rest of the day
LOST = 0.05  # a deficit to the plan above this share of the budget at full throttle ...
SUSTAINED = 60.0  # ... for this many minutes on end was seen at a full hour: the curve is lost, the demand did not come
DAY_EXPOSURE = 0.05  # today's potential stands on its own from this much exposure (a day's traffic at throttle 1 = 1)

# Expected share of a day's ad requests per local hour when a placement has no history yet: a
# mobile-app day, quiet at night, rising through the morning, highest in the evening.
DEFAULT_PROFILE = (
    1.6, 1.0, 0.7, 0.5, 0.5, 0.7, 1.4, 2.6, 3.6, 4.0, 4.2, 4.4,
    4.8, 4.8, 4.5, 4.4, 4.6, 5.0, 5.6, 6.2, 6.6, 6.4, 5.0, 3.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class State:
    """What the controller carries from one minute to the next (kept in Redis per ad group or campaign)."""

    day: str  # the advertiser's local date the figures below belong to
    throttle: float
    spent: int  # micros spent today at the last step
    share: float  # F(t) at the last step
    spend_seen: float  # forgetting sums of the ratio estimator: spend ...
    exposure: float  # ... over throttle x traffic share
    at: float = 0.0  # when the step ran (epoch seconds; 0: not known)
    requests_seen: float = 0.0  # forgetting sums of the traffic ratio: ad requests that came ...
    requests_expected: float = 0.0  # ... over those the profile expected
    price: int = 0  # the smallest spend between two steps seen: about one billed event's price (0: none yet)
    event_price: float = 0.0  # a minute that bought's mean spend (EVENT_PRICE_FORGET): a typical event's price (0: none yet)
    # Where today's plan starts (midnight, or the last budget edit or gap): F, spend and the budget then (-1: none).
    plan_share: float = 0.0
    plan_spent: int = 0
    plan_budget: int = -1
    day_spend: float = 0.0  # the ratio estimator's sums since midnight, without forgetting: spend ...
    day_exposure: float = 0.0  # ... over exposure
    lost_for: float = 0.0  # minutes on end the deficit to the plan has been above LOST at full throttle
    behind: float = 0.0  # micros: the largest such deficit once held SUSTAINED minutes (0 again at a re-plan)
    recent_spend: float = 0.0  # the ratio estimator's sums over the last minutes (RECENT_FORGET, no floor): spend ...
    recent_exposure: float = 0.0  # ... over exposure

    @property
    def potential(self) -> float | None:
        """Spend per unit of the day's traffic at throttle 1, or None before anything was seen."""
        return self.spend_seen / self.exposure if self.exposure > 1e-9 else None

    @property
    def day_potential(self) -> float | None:
        """The potential over today so far (`potential` until a twentieth of a day's traffic was seen at throttle 1)."""
        return self.day_spend / self.day_exposure if self.day_exposure >= DAY_EXPOSURE else self.potential

    @property
    def traffic_ratio(self) -> float:
        """Lately's traffic over the forecast's (1 without measurements)."""
        ratio = (self.requests_seen + REQUESTS_PRIOR) / (self.requests_expected + REQUESTS_PRIOR)
        return min(max(ratio, MIN_RATIO), MAX_RATIO)


STATE_FIELDS = tuple(field.name for field in fields(State))


def loads(raw: str | bytes) -> State:
    """A state as `pace` keeps it in Redis (JSON of `as_dict`)."""
    return State(**json.loads(raw))


def as_dict(state: State) -> dict[str, object]:
    """A state's fields (as `dataclasses.asdict`, without its deep copies: a hundred times a minute adds up)."""
    return {name: getattr(state, name) for name in STATE_FIELDS}


def normalized(weights: list[float] | tuple[float, ...], allowed: list[float] | None = None) -> list[float]:
    """24 hourly shares that sum to 1: `weights` times the share of each hour the ad group may serve in.

    `allowed` is per hour 0, 0.5 or 1 (dayparting in half hours); None means every hour entirely.
    """
    fractions = allowed if allowed is not None else [1.0] * HOURS
    kept = [max(float(w), 0.0) * fractions[hour] for hour, w in enumerate(weights)]
    total = sum(kept)
    if total <= 0:  # no traffic expected at all in the allowed hours: spread over them evenly
        kept = list(fractions) if sum(fractions) > 0 else [1.0] * HOURS
        total = sum(kept)
    return [w / total for w in kept]


def passed_share(profile: list[float], seconds_into_day: float, day_seconds: float = 86_400.0) -> float:
    """F(t): the share of the day's expected traffic before `seconds_into_day` (linear within each hour).

    `day_seconds` is the local day's length (23 or 25 hours on a daylight-saving day): the profile's
    24 hours are stretched over it, so F reaches 1 at the next midnight.
    """
    position = max(0.0, min(seconds_into_day / day_seconds, 1.0)) * HOURS
    hour = min(int(position), HOURS - 1)
    return min(1.0, sum(profile[:hour]) + profile[hour] * (position - hour))


def step(
    *,
    previous: State | None,
    day: str,
    budget: int,
    spent: int,
    share: float,
    at: float | None = None,
    requests: tuple[float, float] | None = None,
) -> State:
    """The next minute's state (its `throttle` is what the ad group may take) for today's budget and spend.

    `share` is F(now); `at` is now in epoch seconds (None: every step counts as following the last);
    `requests` the ad requests since the last step and the number expected (None: not measured).
    A `previous` state of another day starts the new day with its potential.
    """
    new_day = previous is not None and previous.day != day
    if previous is None:
        previous = State(day, FIRST_THROTTLE, 0, share, 0.0, 0.0)
    elif new_day:  # midnight: a new budget, the same audience
        previous = replace(previous, day=day, spent=0, share=0.0)
    gap = at is not None and previous.at > 0 and at - previous.at > GAP_SECONDS
    seen, expected = previous.requests_seen * REQUESTS_FORGET, previous.requests_expected * REQUESTS_FORGET
    if requests is not None and not gap:
        seen, expected = seen + max(requests[0], 0.0), expected + max(requests[1], 0.0)
    forget = _forgetting(previous.spend_seen, previous.price)
    spend_seen = previous.spend_seen * forget
    exposure = previous.exposure * forget
    traffic = max(share - previous.share, 0.0)
    bought = max(spent - previous.spent, 0)
    price = min(previous.price, bought) if previous.price and bought else previous.price or bought
    event_price = previous.event_price
    if bought and not gap:  # a gap's spend is many minutes' worth
        event_price = bought if event_price <= 0 else EVENT_PRICE_FORGET * event_price + (1 - EVENT_PRICE_FORGET) * bought
    # Less than one price left at the last step: the decision refused the ad group whatever its
    # throttle, so the minute says nothing of what it could win (learning from it would make the
    # potential collapse at the end of every day the budget is spent, and the next day open wide).
    starved = price > 0 and budget - previous.spent < price
    if gap or (budget != previous.plan_budget and not new_day):  # re-planned from here: the rest over the rest of the day
        plan = (share, spent, budget)
    elif new_day:
        plan = (0.0, 0, budget)
    else:
        plan = (previous.plan_share, previous.plan_spent, previous.plan_budget)
    moment = previous.at if at is None else at
    today = (0.0, 0.0) if new_day else (previous.day_spend, previous.day_exposure)
    replanned = new_day or plan != (previous.plan_share, previous.plan_spent, previous.plan_budget)
    lost_for, behind = (0.0, 0.0) if replanned else (previous.lost_for, previous.behind)
    readings = (seen, expected, price, event_price)
    # The last minutes' sums fade whether or not this minute teaches anything, and start afresh at
    # midnight: the other bidders' budgets do too, and the new day's first events are judged alone.
    recent = (0.0, 0.0) if new_day else (previous.recent_spend * RECENT_FORGET, previous.recent_exposure * RECENT_FORGET)
    learned = State(
        day, previous.throttle, spent, share, spend_seen, exposure, moment, *readings, *plan, *today, lost_for, behind, *recent
    )
    if traffic > 0 and not gap and not starved:
        exposed = previous.throttle * traffic * learned.traffic_ratio
        deficit = planned(learned, budget) - spent
        if previous.throttle >= 1.0 and deficit > LOST * budget:  # all the demand there was, and short of the plan
            lost_for += (at - previous.at) / 60.0 if at is not None and previous.at > 0 else 1.0
            behind = max(behind, deficit) if lost_for >= SUSTAINED else behind
        else:
            lost_for = 0.0
        recent_spend, recent_exposure = learned.recent_spend + bought, learned.recent_exposure + exposed
        spend_seen, exposure = spend_seen + bought, exposure + exposed
        if _stale(spend_seen, exposure, recent_spend=recent_spend, recent_exposure=recent_exposure, price=price):
            spend_seen, exposure = recent_spend, recent_exposure
        learned = replace(
            learned,
            spend_seen=spend_seen,
            exposure=exposure,
            recent_spend=recent_spend,
            recent_exposure=recent_exposure,
            day_spend=learned.day_spend + bought,
            day_exposure=learned.day_exposure + exposed,
            lost_for=lost_for,
            behind=behind,
        )
    return replace(learned, throttle=_throttle(learned, budget=budget, moving=traffic > 0, new_day=new_day))


def _stale(spend_seen: float, exposure: float, *, recent_spend: float, recent_exposure: float, price: int) -> bool:
    """Whether the last minutes brought more events than the potential gives a SURPRISE_P chance of (at least SURPRISE_EVENTS).

    Events are counted in prices (the smallest spend between two steps), the chance is a Poisson
    tail bounded from its first term. Evidence of demand that has since come back — a day or an
    hour that brought nothing, kept whole while under the forgetting floor — then gives way to the
    last minutes' instead of taking hours of half-lives to shed.
    """
    if price <= 0 or exposure <= 0:
        return False
    events = int(recent_spend / price)
    if events < SURPRISE_EVENTS:
        return False
    expected = spend_seen / exposure * recent_exposure / price
    if expected <= 0:
        return True
    if events <= expected:
        return False
    first = math.exp(-expected + events * math.log(expected) - math.lgamma(events + 1))
    return first / (1.0 - expected / (events + 1)) < SURPRISE_P  # the tail's terms fall at least this fast


def _forgetting(spend_seen: float, price: int) -> float:
    """How much of the potential's evidence to keep this minute: FORGET, but never below MIN_EVENTS prices' worth.

    An ad group that wins a few dozen events a day would otherwise estimate its potential from
    the last two or three, and its throttle would jump tenfold from one hour to the next; it keeps
    its evidence for longer instead, while one that wins thousands forgets at the half-life.
    """
    floor = MIN_EVENTS * price
    if spend_seen <= floor:
        return 1.0
    return max(FORGET, floor / spend_seen)


def _throttle(state: State, *, budget: int, moving: bool, new_day: bool) -> float:
    remaining = budget - state.spent
    if remaining <= 0:
        return 0.0
    current = max(state.throttle, MIN_THROTTLE)
    rest = 1.0 - state.share
    potential = state.potential
    if rest <= 1e-6:  # the day's (or daypart's) last moments: as much as the traffic gives
        wanted = 1.0
    elif potential is None or potential * rest * state.traffic_ratio <= 0:  # nothing learned: double while traffic passes
        wanted = 1.0 if moving else current
    else:
        ahead = min(_horizon(state, budget), rest)
        stretch = potential * ahead * state.traffic_ratio  # what throttle 1 would spend over the horizon
        plan = _planned(state, budget, state.share + ahead)
        tight = max(plan - state.spent, 0) / stretch  # on the plan at the horizon's end
        kept = max(plan + KEPT_LEAD * budget - state.spent, 0) / stretch  # KEPT_LEAD ahead of it: a larger lead is cut
        # the rest of the budget over the rest of the day's traffic, a burst taken as at most MAX_SCARCE_RATIO
        spread = remaining / (potential * rest * min(state.traffic_ratio, MAX_SCARCE_RATIO))
        wanted = tight + _scarcity(spread) * (kept - tight)
        if state.behind > 0:
            wanted = max(wanted, _making_up(state, budget=budget, plan=plan, ahead=ahead))
        if new_day:
            return min(max(wanted, MIN_THROTTLE), 1.0)
    bounded = min(max(wanted, current * MAX_STEP_DOWN), current * MAX_STEP_UP)
    return min(max(bounded, MIN_THROTTLE), 1.0)


def _making_up(state: State, *, budget: int, plan: float, ahead: float) -> float:
    """The throttle that makes up demand lost at full throttle today, as far as today's demand is scarce.

    Aims as far ahead of the plan as the day fell behind it, scaled by the scarcity judged at
    today's potential (not the last half hour's: a burst after a morning without demand must not
    make the day look plentiful, an hour without demand must not make a plentiful day look scarce),
    and at the forecast's rate (a burst may not last the horizon).
    """
    potential, daily = state.potential or 0.0, state.day_potential or 0.0
    ratio = min(state.traffic_ratio, MAX_SCARCE_RATIO)
    lost = state.behind * _scarcity((budget - state.spent) / max(daily * (1.0 - state.share) * ratio, 1e-9))
    return max(plan + lost - state.spent, 0) / max(potential * ahead * min(state.traffic_ratio, 1.0), 1e-9)


def _horizon(state: State, budget: int) -> float:
    """The share of the day's traffic a gap is closed over: shorter for a budget that buys few events.

    A budget of a few dozen events moves 2-3% of itself with every event, so a gap closed over an
    hour of traffic leaves it several events off its curve at times; closing it over half an hour
    holds it within about two. Larger budgets keep the longer horizon (bursts smoothed, no chasing).
    Events are counted at a typical price, not the cheapest (a second price that fell with the
    runner-up's bid would count a budget of 60 clicks as 150).
    """
    price = state.event_price or state.price
    if price <= 0:
        return HORIZON
    few, many = FEW_EVENTS
    events = budget / price
    blend = min(max((events - few) / (many - few), 0.0), 1.0)
    return SHORT_HORIZON + (HORIZON - SHORT_HORIZON) * blend


def _scarcity(spread: float) -> float:
    """How far ahead of the plan to aim (0-1 of KEPT_LEAD) when the rest of the day wants `spread` of the traffic.

    At the plan while the day's remaining demand is plentiful (the rest of the budget needs at most
    a quarter of it), KEPT_LEAD ahead of it once it needs half or more: traffic an ad group could
    win later may not come (a larger bidder back from its own pause, a quiet evening), and what the
    throttle left in the morning is then budget unspent.
    """
    low, high = SCARCE
    return min(max((spread - low) / (high - low), 0.0), 1.0)


def planned(state: State, budget: int) -> float:
    """What the plan has spent by the last step (the pace pages compare today's spend with)."""
    return _planned(state, budget, state.share)


def _planned(state: State, budget: int, share: float) -> float:
    """The plan's spend when F reaches `share`: the budget left at the plan's start, spread over the traffic left then."""
    span = 1.0 - state.plan_share
    if span <= 1e-9:
        return float(budget)
    return state.plan_spent + (budget - state.plan_spent) * min(max((share - state.plan_share) / span, 0.0), 1.0)
