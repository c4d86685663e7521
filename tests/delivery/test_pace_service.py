"""`delivery.services.pace` against real Redis and PostgreSQL: what it feeds the controller and what it writes.

Expected throttles are computed with `pacing.step` on the inputs pace should have given it (budget,
today's spend, F(now) of the right curve), so these tests pin the wiring, and tests/delivery/test_pacing.py
the controller itself.
"""

import json
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from adplatform import clock
from adplatform.redis_client import get_redis
from campaigns.models import AdGroup, Campaign
from delivery import charging, index, pacing
from delivery import services as delivery_services
from delivery import status as delivery_status
from delivery.selectors import spend_state_for
from tests.delivery.test_learning import REQUESTS, funded_shop, wins
from tests.delivery.test_pipeline import snapshot_now
from tests.factories import (
    AdFactory,
    AdGroupFactory,
    AdvertiserFactory,
    CampaignFactory,
    MembershipFactory,
    PlacementFactory,
    UserFactory,
    fund,
)

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2025, 6, 10, 10, 0, tzinfo=UTC)  # a Tuesday; 12:00 in Berlin (CEST, UTC+2)
TODAY = "2025-06-10"
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
CURVE = pacing.normalized(pacing.DEFAULT_PROFILE)
NOON_SHARE = sum(CURVE[:12])  # F(12:00) of the default profile


def ad_group(*, campaign: Campaign | None = None, **fields: object) -> AdGroup:
    """An active ad group of a Berlin advertiser, standard pacing, daily budget 20.00, in a campaign without a budget."""
    campaign = campaign or CampaignFactory(budget_mode="unlimited", budget_micros=0)
    return AdGroupFactory(campaign=campaign, start_time=fields.pop("start_time", LONG_AGO), **fields)


def pace_at(moment: datetime) -> int:
    with clock.frozen(moment):
        return delivery_services.pace()


def throttles() -> dict[int, float]:
    return {int(key): float(value) for key, value in get_redis().hgetall(index.THROTTLE_KEY).items()}


def states() -> dict[str, pacing.State]:
    raw = get_redis().hgetall(delivery_services.PACING_STATE_KEY)
    return {key.decode(): pacing.loads(value) for key, value in raw.items()}


def save_state(key: str, state: pacing.State) -> None:
    """A controller state as pace keeps it."""
    get_redis().hset(delivery_services.PACING_STATE_KEY, key, json.dumps(asdict(state)))


def spend(group: AdGroup, day: str, micros: int, *, before_today: int = 0) -> None:
    """Set the charge script's counters: `micros` spent on `day`, `before_today` more over the ad group's life."""
    advertiser_id = group.campaign.advertiser_id
    client = get_redis()
    client.set(charging.ad_group_day_key(advertiser_id, group.pk, day), micros)
    client.set(charging.ad_group_life_key(advertiser_id, group.pk), micros + before_today)


def spend_campaign(campaign: Campaign, day: str, micros: int) -> None:
    client = get_redis()
    client.set(charging.campaign_day_key(campaign.advertiser_id, campaign.pk, day), micros)
    client.set(charging.campaign_life_key(campaign.advertiser_id, campaign.pk), micros)


def known(*, share: float, spent: int = 0, potential: float, throttle: float = 0.2, moment: datetime = NOW) -> pacing.State:
    """A state learned a minute before `moment`: `potential` micros per day of traffic at throttle 1."""
    exposure = 0.01
    return pacing.State(TODAY, throttle, spent, share, potential * exposure, exposure, at=moment.timestamp() - 60)


# --- who gets a throttle ---------------------------------------------------------------------------


def test_a_standard_daily_ad_group_gets_a_throttle_and_a_state():
    group = ad_group()

    written = pace_at(NOW)

    assert written == 1
    assert throttles() == {group.pk: pacing.FIRST_THROTTLE}
    state = states()[f"ag:{group.pk}"]
    assert (state.day, state.spent, state.throttle, state.at) == (TODAY, 0, pacing.FIRST_THROTTLE, NOW.timestamp())
    assert state.share == pytest.approx(NOON_SHARE)


def test_accelerated_and_unlimited_ad_groups_get_no_throttle():
    ad_group(pacing="accelerated")
    ad_group(budget_mode="unlimited", budget_micros=0)
    ad_group(pacing="accelerated", campaign=CampaignFactory(budget_mode="daily", budget_micros=30_000_000))

    written = pace_at(NOW)

    assert written == 0
    assert throttles() == {}
    assert states() == {}


def test_ad_groups_that_do_not_serve_are_not_paced():
    ad_group(status="paused")
    ad_group(campaign=CampaignFactory(budget_mode="unlimited", budget_micros=0, status="paused"))
    ad_group(start_time=NOW + timedelta(hours=1))
    ad_group(start_time=LONG_AGO, end_time=NOW - timedelta(hours=1))

    assert pace_at(NOW) == 0
    assert states() == {}


def test_a_campaign_budget_is_shared_and_the_smaller_throttle_applies():
    campaign = CampaignFactory(budget_mode="daily", budget_micros=30_000_000)
    own_budget = ad_group(campaign=campaign)
    no_budget = ad_group(campaign=campaign, budget_mode="unlimited", budget_micros=0)
    fast = ad_group(campaign=campaign, pacing="accelerated")
    spend_campaign(campaign, TODAY, 30_000_000)  # the campaign's day is spent

    pace_at(NOW)

    assert throttles() == {own_budget.pk: 0.0, no_budget.pk: 0.0}  # fast takes what the charge script lets it
    assert set(states()) == {f"ag:{own_budget.pk}", f"c:{campaign.pk}"}
    assert fast.pk not in throttles()


def test_an_ad_group_throttle_below_its_campaigns_wins():
    campaign = CampaignFactory(budget_mode="daily", budget_micros=30_000_000)
    spent_group = ad_group(campaign=campaign)
    open_group = ad_group(campaign=campaign)
    spend(spent_group, TODAY, 20_000_000)  # its own day is spent, the campaign's is not
    spend_campaign(campaign, TODAY, 20_000_000)

    pace_at(NOW)

    assert throttles() == {spent_group.pk: 0.0, open_group.pk: pacing.FIRST_THROTTLE}
    assert states()[f"c:{campaign.pk}"].spent == 20_000_000


def test_both_controllers_step_and_the_minimum_is_written():
    campaign = CampaignFactory(budget_mode="daily", budget_micros=30_000_000)
    group = ad_group(campaign=campaign)
    spend(group, TODAY, 2_000_000)
    spend_campaign(campaign, TODAY, 6_000_000)
    own = known(share=NOON_SHARE, spent=2_000_000, potential=90_000_000)
    shared = known(share=NOON_SHARE, spent=6_000_000, potential=200_000_000)
    save_state(f"ag:{group.pk}", own)
    save_state(f"c:{campaign.pk}", shared)

    pace_at(NOW)

    at = NOW.timestamp()
    share = pacing.passed_share(CURVE, 12 * 3_600)
    expected_own = pacing.step(previous=own, day=TODAY, budget=20_000_000, spent=2_000_000, share=share, at=at)
    expected_shared = pacing.step(previous=shared, day=TODAY, budget=30_000_000, spent=6_000_000, share=share, at=at)
    assert expected_own.throttle != expected_shared.throttle
    assert throttles() == {group.pk: pytest.approx(min(expected_own.throttle, expected_shared.throttle), abs=1e-6)}
    assert states()[f"ag:{group.pk}"].throttle == pytest.approx(expected_own.throttle)
    assert states()[f"c:{campaign.pk}"].throttle == pytest.approx(expected_shared.throttle)


# --- the day's budget and curve ---------------------------------------------------------------------


def test_a_lifetime_budget_is_spread_over_the_days_left():
    # Ends at midnight before June 15 in Berlin: June 10-14 are its days left, today included.
    group = ad_group(budget_mode="lifetime", budget_micros=100_000_000, end_time=datetime(2025, 6, 15, tzinfo=BERLIN))
    spend(group, TODAY, 5_000_000, before_today=25_000_000)
    seeded = known(share=NOON_SHARE, spent=5_000_000, potential=56_000_000)
    save_state(f"ag:{group.pk}", seeded)

    pace_at(NOW)

    todays_budget = (100_000_000 - 25_000_000) // 5
    expected = pacing.step(
        previous=seeded, day=TODAY, budget=todays_budget, spent=5_000_000, share=NOON_SHARE, at=NOW.timestamp()
    )
    over_six_days = pacing.step(
        previous=seeded, day=TODAY, budget=75_000_000 // 6, spent=5_000_000, share=NOON_SHARE, at=NOW.timestamp()
    )
    assert throttles()[group.pk] == pytest.approx(expected.throttle, abs=1e-6)
    assert expected.throttle != pytest.approx(over_six_days.throttle, abs=1e-3)


def test_a_lifetime_budget_on_its_last_day_is_paced_until_its_end():
    # Ends today at 18:00 in Berlin: the rest of the lifetime budget is today's, its curve stops at 18:00.
    group = ad_group(budget_mode="lifetime", budget_micros=100_000_000, end_time=datetime(2025, 6, 10, 18, tzinfo=BERLIN))
    spend(group, TODAY, 10_000_000, before_today=70_000_000)
    seeded = known(share=0.2, spent=10_000_000, potential=100_000_000)
    save_state(f"ag:{group.pk}", seeded)

    pace_at(NOW)

    curve = pacing.normalized(pacing.DEFAULT_PROFILE, [1.0] * 18 + [0.0] * 6)
    share = pacing.passed_share(curve, 12 * 3_600)
    state = states()[f"ag:{group.pk}"]
    assert state.share == pytest.approx(share)
    expected = pacing.step(previous=seeded, day=TODAY, budget=30_000_000, spent=10_000_000, share=share, at=NOW.timestamp())
    assert state.throttle == pytest.approx(expected.throttle)


def test_dayparting_hours_are_left_out_of_the_curve():
    tuesday = 48  # half-hour slots of the week: Tuesday 00:00 is slot 48
    slots = list(range(tuesday + 18, tuesday + 35))  # 09:00-17:30 in the advertiser's zone
    group = ad_group(dayparting=slots)
    allowed = [0.0] * 9 + [1.0] * 8 + [0.5] + [0.0] * 6
    curve = pacing.normalized(pacing.DEFAULT_PROFILE, allowed)

    shares = {}
    for local_hour in (8, 12, 16, 20):
        pace_at(datetime(2025, 6, 10, local_hour, tzinfo=BERLIN))
        shares[local_hour] = states()[f"ag:{group.pk}"].share

    assert shares[8] == 0.0
    assert shares[12] == pytest.approx(pacing.passed_share(curve, 12 * 3_600))
    assert shares[12] == pytest.approx(sum(pacing.DEFAULT_PROFILE[9:12]) / (sum(pacing.DEFAULT_PROFILE[9:17]) + 2.5))
    assert shares[16] == pytest.approx(pacing.passed_share(curve, 16 * 3_600))
    assert shares[20] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(datetime(2025, 3, 30, tzinfo=BERLIN), 23), (datetime(2025, 10, 26, tzinfo=BERLIN), 25)],
    ids=["spring forward", "fall back"],
)
def test_a_daylight_saving_day_is_paced_over_its_real_length(day, hours):
    group = ad_group()
    moment = day.astimezone(UTC) + timedelta(hours=13)  # 13 real hours into the local day

    pace_at(moment)

    state = states()[f"ag:{group.pk}"]
    assert state.day == day.date().isoformat()
    assert state.share == pytest.approx(pacing.passed_share(CURVE, 13 * 3_600, hours * 3_600))
    assert state.share != pytest.approx(pacing.passed_share(CURVE, 13 * 3_600), abs=1e-3)


# --- the traffic profile -------------------------------------------------------------------------------


def count_requests(shape: list[int], *, first: datetime, hours: int) -> None:
    """Ad requests of the feed counted and flushed as the decision view does, hour by hour from `first` (UTC).

    Each hour gets `shape[its UTC hour]` requests.
    """
    holder = index.IndexHolder()
    for n in range(hours):
        hour = first + timedelta(hours=n)
        with clock.frozen(hour + timedelta(minutes=20)):
            for _ in range(shape[hour.hour]):
                holder.count_request("feed")
            holder.flush_traffic()


BUSY_MORNING = [60 if hour < 8 else 10 for hour in range(24)]  # by UTC hour: 02:00-10:00 in Berlin


def test_the_traffic_profile_is_learned_from_counted_requests():
    feed = PlacementFactory(key="feed", name="In-feed")
    group = ad_group(placements=[feed])
    count_requests(BUSY_MORNING, first=NOW - timedelta(hours=24), hours=24)

    pace_at(NOW)

    assert delivery_services.traffic_profiles(["feed"], moment=NOW) == {"feed": [float(n) for n in BUSY_MORNING]}
    local = [BUSY_MORNING[(hour - 2) % 24] for hour in range(24)]  # CEST: local hour h is UTC hour h - 2
    learned_share = sum(local[:12]) / sum(local)
    assert states()[f"ag:{group.pk}"].share == pytest.approx(learned_share)
    assert learned_share > NOON_SHARE + 0.2  # not the default shape


def test_a_profile_from_less_than_a_week_is_a_mean_per_hour_not_a_sum():
    # A day and a half of the same day: 00:00-09:00 seen twice, the rest once. A sum would weigh the
    # hours seen twice double and make F(now) run ahead of today's traffic.
    count_requests(BUSY_MORNING, first=datetime(2025, 6, 9, tzinfo=UTC), hours=34)

    assert delivery_services.traffic_profiles(["feed"], moment=NOW) == {"feed": [float(n) for n in BUSY_MORNING]}


def test_a_burst_on_one_day_is_not_expected_again_the_next():
    # Three days of the same shape, the middle one with 6x the traffic at 09:00-10:00 UTC (a push).
    holder = index.IndexHolder()
    for n in range(72):
        hour = datetime(2025, 6, 7, tzinfo=UTC) + timedelta(hours=n)
        with clock.frozen(hour + timedelta(minutes=20)):
            for _ in range(BUSY_MORNING[hour.hour] * (6 if n == 24 + 9 else 1)):
                holder.count_request("feed")
            holder.flush_traffic()

    assert delivery_services.traffic_profiles(["feed"], moment=NOW) == {"feed": [float(n) for n in BUSY_MORNING]}


def test_quiet_hours_within_the_history_count_as_quiet():
    shape = [0 if hour in (3, 4) else 10 for hour in range(24)]
    count_requests(shape, first=datetime(2025, 6, 8, tzinfo=UTC), hours=58)

    assert delivery_services.traffic_profiles(["feed"], moment=NOW) == {"feed": [float(n) for n in shape]}


def test_hours_not_seen_yet_follow_the_default_shape_scaled_to_those_seen():
    feed = PlacementFactory(key="feed", name="In-feed")
    group = ad_group(placements=[feed])
    count_requests([100] * 24, first=NOW - timedelta(hours=23), hours=23)  # all but 10:00-11:00 UTC: 12:00 in Berlin

    pace_at(NOW)

    assert delivery_services.traffic_profiles(["feed"], moment=NOW) == {"feed": None}  # not a day yet
    default = pacing.DEFAULT_PROFILE
    guessed = default[12] * 2_300 / (sum(default) - default[12])  # the default shape, scaled to the hours seen
    assert states()[f"ag:{group.pk}"].share == pytest.approx(1_200 / (2_300 + guessed))


def test_the_curve_does_not_jump_when_a_placements_first_day_is_complete():
    feed = PlacementFactory(key="feed", name="In-feed")
    group = ad_group(placements=[feed])
    count_requests([100] * 24, first=NOW - timedelta(hours=24), hours=24)  # a flat day: the default shape is wrong

    pace_at(NOW - timedelta(seconds=30))  # 23 hours of history: 11:00-12:00 in Berlin not seen yet
    before = states()[f"ag:{group.pk}"].share
    pace_at(NOW + timedelta(seconds=30))  # a whole day
    after = states()[f"ag:{group.pk}"].share

    assert after == pytest.approx((12 + 30 / 3_600) / 24)
    assert abs(after - before) < 0.01  # F under the default profile would have been 0.29, not 0.5
    assert pacing.passed_share(CURVE, 12 * 3_600) < 0.3


def test_requests_older_than_a_week_are_forgotten():
    count_requests([100] * 24, first=datetime(2025, 6, 2, tzinfo=UTC), hours=24)

    assert delivery_services.traffic_profiles(["feed"], moment=NOW) == {"feed": None}


def count_at(moment: datetime, requests: int) -> None:
    holder = index.IndexHolder()
    with clock.frozen(moment):
        for _ in range(requests):
            holder.count_request("feed")
        holder.flush_traffic()


def test_requests_since_the_last_run_are_counted_against_what_the_profile_expected():
    feed = PlacementFactory(key="feed", name="In-feed")
    group = ad_group(placements=[feed])
    count_requests([600] * 24, first=NOW - timedelta(hours=24), hours=24)  # ten a minute, all day
    pace_at(NOW)  # the first reading: nothing to compare yet
    count_at(NOW + timedelta(seconds=30), 30)

    pace_at(NOW + timedelta(minutes=1))

    state = states()[f"ag:{group.pk}"]
    assert (state.requests_seen, state.requests_expected) == (30.0, pytest.approx(10.0))
    assert state.traffic_ratio == pytest.approx(40 / 20)


def test_requests_are_counted_across_the_turn_of_the_hour():
    feed = PlacementFactory(key="feed", name="In-feed")
    group = ad_group(placements=[feed])
    count_requests([600] * 24, first=NOW - timedelta(hours=24), hours=25)  # through 10:00-11:00 today
    pace_at(NOW + timedelta(minutes=59, seconds=30))
    count_at(NOW + timedelta(minutes=59, seconds=45), 5)  # still 10:00-11:00 UTC
    count_at(NOW + timedelta(minutes=60, seconds=10), 7)  # the next hour's hash

    pace_at(NOW + timedelta(minutes=60, seconds=30))

    state = states()[f"ag:{group.pk}"]
    assert (state.requests_seen, state.requests_expected) == (12.0, pytest.approx(10.0, rel=0.01))


def test_requests_of_a_placement_without_a_profile_are_not_counted():
    feed = PlacementFactory(key="feed", name="In-feed")
    group = ad_group(placements=[feed])
    pace_at(NOW)
    count_at(NOW + timedelta(seconds=30), 30)

    pace_at(NOW + timedelta(minutes=1))

    state = states()[f"ag:{group.pk}"]
    assert (state.requests_seen, state.requests_expected, state.traffic_ratio) == (0.0, 0.0, 1.0)


# --- from one minute to the next -------------------------------------------------------------------------


def test_states_persist_across_runs_and_a_new_local_day_resets_spend():
    berlin = ad_group()
    new_york = ad_group(
        campaign=CampaignFactory(
            advertiser=AdvertiserFactory(time_zone="America/New_York"), budget_mode="unlimited", budget_micros=0
        )
    )
    before_midnight = datetime(2025, 6, 10, 21, 58, tzinfo=UTC)  # 23:58 in Berlin, 17:58 in New York

    pace_at(before_midnight)
    spend(berlin, TODAY, 9_000_000)
    spend(new_york, TODAY, 4_000_000)
    pace_at(before_midnight + timedelta(minutes=1))
    last_night = states()
    spend(berlin, "2025-06-11", 30_000)
    pace_at(before_midnight + timedelta(minutes=3))  # 00:01 in Berlin: a new day there, not in New York

    now = states()
    assert last_night[f"ag:{berlin.pk}"].spent == 9_000_000
    assert last_night[f"ag:{berlin.pk}"].potential is not None
    assert (now[f"ag:{berlin.pk}"].day, now[f"ag:{berlin.pk}"].spent) == ("2025-06-11", 30_000)
    expected = pacing.step(
        previous=last_night[f"ag:{berlin.pk}"],
        day="2025-06-11",
        budget=20_000_000,
        spent=30_000,
        share=pacing.passed_share(CURVE, 60),
        at=(before_midnight + timedelta(minutes=3)).timestamp(),
    )
    assert now[f"ag:{berlin.pk}"].throttle == pytest.approx(expected.throttle)
    assert now[f"ag:{berlin.pk}"].potential == pytest.approx(expected.potential)
    assert (now[f"ag:{new_york.pk}"].day, now[f"ag:{new_york.pk}"].spent) == (TODAY, 4_000_000)


def test_a_paused_ad_group_resumes_with_what_it_had_learned():
    group = ad_group()
    pace_at(NOW)
    spend(group, TODAY, 300_000)
    pace_at(NOW + timedelta(minutes=1))
    learned = states()[f"ag:{group.pk}"].potential
    AdGroup.objects.filter(pk=group.pk).update(status="paused")
    pace_at(NOW + timedelta(hours=2))
    assert group.pk not in throttles()

    AdGroup.objects.filter(pk=group.pk).update(status="active")
    pace_at(NOW + timedelta(hours=4))  # four hours of traffic it could not take: nothing to learn from

    assert learned is not None
    assert states()[f"ag:{group.pk}"].potential == pytest.approx(learned)


# --- today's pace, as pages and the API show it ------------------------------------------------------------

BUDGET = 20_000_000  # the ad group factory's daily budget
PLANNED_AT_NOON = round(BUDGET * NOON_SHARE)  # a plan from midnight follows the traffic curve


def paying(group: AdGroup) -> AdGroup:
    """`group`, its advertiser funded (today's pace is shown only while there is money to deliver with)."""
    advertiser = group.campaign.advertiser
    fund(actor=MembershipFactory(advertiser=advertiser).user, advertiser=advertiser)
    return group


def paced_at_noon(group: AdGroup, *, spent: int, potential: float, throttle: float = 0.2) -> delivery_status.TodaysPace | None:
    """Run pace at noon on a state planned from midnight with `spent` today, and read today's pace as a page does."""
    save_state(
        f"ag:{group.pk}",
        replace(known(share=NOON_SHARE - 0.001, spent=spent, potential=potential, throttle=throttle), plan_budget=BUDGET),
    )
    spend(group, TODAY, spent)
    pace_at(NOW)
    return delivery_status.ad_group_pace(group, now=NOW, spend=spend_state_for([group], now=NOW))


def test_an_ad_group_on_its_plan_is_on_pace_and_limited_by_budget_while_it_could_win_more():
    group = paying(ad_group())

    pace = paced_at_noon(group, spent=PLANNED_AT_NOON + 500_000, potential=10 * BUDGET)

    assert pace is not None
    assert (pace.code, pace.label) == ("on_pace", "On pace")
    assert (pace.spent_micros, pace.budget_micros) == (PLANNED_AT_NOON + 500_000, BUDGET)
    assert pace.planned_micros == pytest.approx(PLANNED_AT_NOON, abs=1)
    assert pace.limited_by_budget  # it could spend ten budgets a day: the throttle holds it back
    assert pace.hint == "Spending along its plan for the day."


def test_more_than_five_percent_of_the_budget_from_the_plan_is_ahead_or_behind():
    ahead = paced_at_noon(paying(ad_group()), spent=PLANNED_AT_NOON + BUDGET // 10, potential=10 * BUDGET)
    behind = paced_at_noon(paying(ad_group()), spent=PLANNED_AT_NOON - BUDGET // 10, potential=10 * BUDGET)

    assert ahead is not None
    assert behind is not None
    assert (ahead.code, ahead.label, ahead.limited_by_budget) == ("ahead", "Ahead of plan", True)
    assert "slowed so the budget lasts the day" in ahead.hint
    assert (behind.code, behind.label, behind.limited_by_budget) == ("behind", "Behind plan", True)
    assert "raised to catch up" in behind.hint


def test_behind_at_full_throttle_says_the_bid_or_audience_limits_it():
    group = paying(ad_group())

    pace = paced_at_noon(group, spent=PLANNED_AT_NOON // 2, potential=BUDGET / 2, throttle=1.0)

    assert pace is not None
    assert (pace.code, pace.limited_by_budget) == ("behind", False)
    assert "a higher bid or a broader audience would spend more" in pace.hint


def test_a_spent_budget_shows_as_spent():
    pace = paced_at_noon(paying(ad_group()), spent=BUDGET, potential=10 * BUDGET)

    assert pace is not None
    assert (pace.code, pace.label) == ("spent", "Today's budget spent")


def test_no_pace_without_todays_plan_for_accelerated_or_unlimited_ad_groups_or_when_pacing_stopped():
    stale = paying(ad_group())
    fast = paying(ad_group(pacing="accelerated"))
    unlimited = paying(ad_group(budget_mode="unlimited", budget_micros=0))
    pace_at(NOW - timedelta(minutes=10))  # the beat has not run since
    fresh = paying(ad_group())  # never paced
    yesterday = paying(ad_group())
    save_state(f"ag:{yesterday.pk}", replace(known(share=0.9, potential=BUDGET), day="2025-06-09", plan_budget=BUDGET))

    groups = [stale, fast, unlimited, fresh, yesterday]
    state = spend_state_for(groups, now=NOW)

    assert f"ag:{stale.pk}" in state.pace_states
    assert [delivery_status.ad_group_pace(group, now=NOW, spend=state) for group in groups] == [None] * 5
    assert delivery_status.ad_group_pace(stale, now=NOW - timedelta(minutes=5), spend=state) is not None


def test_a_campaign_budget_has_its_own_pace():
    campaign = CampaignFactory(budget_mode="daily", budget_micros=30_000_000)
    group = paying(ad_group(campaign=campaign, budget_mode="unlimited", budget_micros=0))
    spend_campaign(campaign, TODAY, 2 * 30_000_000 // 3)
    save_state(
        f"c:{campaign.pk}",
        replace(known(share=NOON_SHARE, spent=2 * 30_000_000 // 3, potential=90_000_000), plan_budget=30_000_000),
    )

    pace_at(NOW)

    state = spend_state_for([campaign, group], now=NOW)
    pace = delivery_status.campaign_pace(campaign, now=NOW, spend=state)
    assert pace is not None
    assert (pace.code, pace.budget_micros) == ("ahead", 30_000_000)  # two thirds of the budget at noon, the plan a third
    assert delivery_status.ad_group_pace(group, now=NOW, spend=state) is None


def test_no_pace_while_the_advertiser_has_no_balance():
    # The controller paces it all the same; the status says "No balance", and a pace "behind plan" would blame the bid.
    unfunded = ad_group()
    spent_out = paying(ad_group())
    get_redis().zadd(charging.EXHAUSTED, {f"a:{spent_out.campaign.advertiser_id}": NOW.timestamp() + 3_600})

    paces = [paced_at_noon(group, spent=PLANNED_AT_NOON // 2, potential=10 * BUDGET) for group in (unfunded, spent_out)]

    assert paces == [None, None]
    assert {f"ag:{unfunded.pk}", f"ag:{spent_out.pk}"} <= set(states())  # paced all the same
    get_redis().zrem(charging.EXHAUSTED, f"a:{spent_out.campaign.advertiser_id}")  # its balance can pay again
    pace = delivery_status.ad_group_pace(spent_out, now=NOW, spend=spend_state_for([spent_out], now=NOW))
    assert pace is not None
    assert pace.code == "behind"


# --- the decision ----------------------------------------------------------------------------------------


def test_the_decision_honours_the_throttle(serving_marketplace):
    market = serving_marketplace
    paced = market.ad(market.ad_group(market.advertiser("Paced"), bid_micros=5_000_000), display_name="Paced")
    rival = market.ad(
        market.ad_group(market.advertiser("Rival"), bid_micros=2_000_000, pacing="accelerated"), display_name="Rival"
    )
    market.publish()
    assert {market.serve_one(f"person-{n}").ad["ad_id"] for n in range(5)} == {paced.pk}  # the higher bid wins unpaced

    # Learned: far more traffic than its budget needs; the controller takes the smallest share.
    zone = ZoneInfo(paced.ad_group.campaign.advertiser.time_zone)
    moment = clock.now()
    day, seconds, length = delivery_services._seconds_into(moment, zone)
    share = pacing.passed_share(CURVE, seconds, length)
    state = pacing.State(day.isoformat(), 0.001, 0, share, 1e12, 1e-3, at=moment.timestamp() - 60)
    save_state(f"ag:{paced.ad_group_id}", state)
    delivery_services.pace()
    index.holder.reset()

    assert throttles() == {paced.ad_group_id: pacing.MIN_THROTTLE}
    served = [market.serve_one(f"person-{n}").ad["ad_id"] for n in range(300)]
    assert served.count(paced.pk) <= 3
    assert served.count(rival.pk) >= 297


@pytest.mark.parametrize("ads", [1, 3])
def test_the_throttle_is_the_share_of_auctions_an_ad_group_enters_whatever_its_number_of_ads(ads):
    # given an ad group alone on the feed, with 1 or 3 ads and a throttle of 0.3
    PlacementFactory(key="feed", name="In-feed", floor_cpm_usd_micros=1_000_000)
    shop = funded_shop(UserFactory(email="finance@adplatform.test", is_staff=True), name="Bakery")
    for n in range(1, ads):
        AdFactory(ad_group=shop.ad_group, display_name=f"Bakery {n}")

    # when 4,000 people ask for an ad
    won = wins(snapshot_now(), seed=3, live=index.LiveState(throttles={shop.ad_group.pk: 0.3}))

    # then it takes part in (and wins) 30% of them, not 1 - 0.7^3 = 66% with three ads
    assert sum(won.values()) / REQUESTS == pytest.approx(0.3, abs=0.025)
