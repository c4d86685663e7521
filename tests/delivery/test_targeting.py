"""delivery.targeting: who may see an ad (targeting tables) and when (schedule, dayparting across DST). Pure, no DB."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from delivery.targeting import AGE_BOUNDS, CandidateIndex, age_ranges, in_schedule, local_date, matches, week_slot
from delivery.types import AdRequest, Candidate, Targeting

# Tuesday 10 March 2026, 12:00 UTC = 13:00 in Berlin (CET, UTC+1) = 08:00 in New York (EDT since 8 March).
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def person(**facts) -> AdRequest:
    """A request from a fully described person, with `facts` overriding any attribute."""
    described = {
        "placement": "feed",
        "user_key": "u1",
        "country": "DE",
        "language": "de",
        "device": "mobile",
        "os": "android",
        "age": 27,
        "gender": "female",
        "interests": frozenset({"gaming", "travel"}),
    }
    return AdRequest(**{**described, **facts})


def candidate(**overrides) -> Candidate:
    """A serveable ad that runs always and everywhere unless `overrides` say otherwise."""
    values = {
        "ad_id": 1,
        "ad_group_id": 10,
        "campaign_id": 100,
        "advertiser_id": 1000,
        "format": "image",
        "creative": {},
        "placements": frozenset({"feed"}),
        "targeting": Targeting(),
        "start_ts": (NOW - timedelta(days=30)).timestamp(),
        "end_ts": None,
        "dayparting": frozenset(),
        "time_zone": "Europe/Berlin",
        "bid_strategy": "cpm",
        "bid_micros": 2_000_000,
        "units_per_usd": 1.0,
        "ad_group_daily_cap": 0,
        "ad_group_lifetime_cap": 0,
        "campaign_daily_cap": 0,
        "campaign_lifetime_cap": 0,
        "pacing": "standard",
        "frequency_impressions": None,
        "frequency_days": None,
        "ctr_alpha": 2.0,
        "ctr_beta": 198.0,
        "cvr_alpha": 1.0,
        "cvr_beta": 19.0,
    }
    return Candidate(**{**values, **overrides})


# --- targeting ---------------------------------------------------------------------------------

# (targeting, request facts, matches?) — each attribute: a value inside, a value outside, the request not saying.
ATTRIBUTE_TABLE = {
    "country inside": (Targeting(countries=frozenset({"DE", "AT"})), {"country": "AT"}, True),
    "country outside": (Targeting(countries=frozenset({"DE", "AT"})), {"country": "FR"}, False),
    "country unknown": (Targeting(countries=frozenset({"DE", "AT"})), {"country": None}, False),
    "language inside": (Targeting(languages=frozenset({"de"})), {"language": "de"}, True),
    "language outside": (Targeting(languages=frozenset({"de"})), {"language": "en"}, False),
    "language unknown": (Targeting(languages=frozenset({"de"})), {"language": None}, False),
    "gender inside": (Targeting(genders=frozenset({"female"})), {"gender": "female"}, True),
    "gender outside": (Targeting(genders=frozenset({"female"})), {"gender": "male"}, False),
    "gender unknown": (Targeting(genders=frozenset({"female"})), {"gender": None}, False),
    "device inside": (Targeting(device_types=frozenset({"mobile", "tablet"})), {"device": "tablet"}, True),
    "device outside": (Targeting(device_types=frozenset({"mobile", "tablet"})), {"device": "desktop"}, False),
    "device unknown": (Targeting(device_types=frozenset({"mobile", "tablet"})), {"device": None}, False),
    "os inside": (Targeting(operating_systems=frozenset({"ios"})), {"os": "ios"}, True),
    "os outside": (Targeting(operating_systems=frozenset({"ios"})), {"os": "android"}, False),
    "os unknown": (Targeting(operating_systems=frozenset({"ios"})), {"os": None}, False),
    "one shared interest is enough": (Targeting(interests=frozenset({"travel", "food"})), {}, True),
    "no shared interest": (Targeting(interests=frozenset({"food", "cars"})), {}, False),
    "interests unknown": (Targeting(interests=frozenset({"travel"})), {"interests": frozenset()}, False),
    "age inside": (Targeting(age_ranges=((25, 34),)), {"age": 27}, True),
    "age outside": (Targeting(age_ranges=((25, 34),)), {"age": 35}, False),
    "age unknown": (Targeting(age_ranges=((25, 34),)), {"age": None}, False),
}


@pytest.mark.parametrize(("targeting", "facts", "expected"), ATTRIBUTE_TABLE.values(), ids=ATTRIBUTE_TABLE.keys())
def test_each_targeting_attribute(targeting, facts, expected):
    # given an ad group restricting one attribute and a person described by the request
    # when the request is matched
    # then only a value inside the restriction matches; a request that cannot answer does not
    assert matches(targeting, person(**facts)) is expected


def test_empty_targeting_is_everyone_even_an_anonymous_request():
    # given an ad group with no restriction at all
    anonymous = AdRequest(placement="feed", user_key="u1")
    # when a fully described and a fully anonymous request are matched
    # then both match
    assert matches(Targeting(), person()) is True
    assert matches(Targeting(), anonymous) is True


def test_an_attribute_the_targeting_does_not_restrict_never_matters():
    # given targeting by country only
    targeting = Targeting(countries=frozenset({"DE"}))
    # when requests differ in everything but the country, including values no ad group targets
    unusual = person(language="xx", device="connected_tv", os="linux", age=129, gender=None, interests=frozenset({"?"}))
    # then they all match
    assert matches(targeting, unusual) is True
    assert matches(targeting, AdRequest(placement="feed", user_key="u1", country="DE")) is True


def test_every_restriction_must_hold_together():
    # given targeting on every attribute at once
    targeting = Targeting(
        countries=frozenset({"DE"}),
        age_ranges=((25, 34),),
        genders=frozenset({"female"}),
        languages=frozenset({"de"}),
        interests=frozenset({"gaming"}),
        device_types=frozenset({"mobile"}),
        operating_systems=frozenset({"android"}),
    )
    # when the fitting person is matched, and the same person with any one attribute off
    # then only the fitting person matches
    assert matches(targeting, person()) is True
    for off in (
        {"country": "AT"},
        {"age": 40},
        {"gender": "male"},
        {"language": "en"},
        {"interests": frozenset({"travel"})},
        {"device": "desktop"},
        {"os": "ios"},
    ):
        assert matches(targeting, person(**off)) is False, off


def test_age_codes_become_inclusive_ranges_and_unknown_codes_are_ignored():
    # given the age range codes an ad group stores
    # when they are turned into ranges
    # then each is its inclusive pair, 55+ has no practical upper bound, and an unknown code drops out
    assert age_ranges(["13-17", "18-24", "25-34", "35-44", "45-54", "55+"]) == (
        (13, 17),
        (18, 24),
        (25, 34),
        (35, 44),
        (45, 54),
        (55, 200),
    )
    assert age_ranges(["18-24", "65+", "kids"]) == ((18, 24),)
    assert age_ranges([]) == ()
    assert set(AGE_BOUNDS) == {"13-17", "18-24", "25-34", "35-44", "45-54", "55+"}


AGE_TABLE = [
    # (ad group's age codes, person's age, matches?)
    (["18-24"], 17, False),
    (["18-24"], 18, True),
    (["18-24"], 24, True),
    (["18-24"], 25, False),
    (["13-17"], 12, False),
    (["13-17"], 13, True),
    (["13-17"], 17, True),
    (["55+"], 54, False),
    (["55+"], 55, True),
    (["55+"], 99, True),
    (["55+"], 129, True),
    (["18-24", "55+"], 30, False),
    (["18-24", "55+"], 20, True),
    (["18-24", "55+"], 70, True),
    (["25-34", "35-44"], 34, True),
    (["25-34", "35-44"], 35, True),
    (["25-34", "35-44"], 45, False),
    (["45-54"], None, False),
]


@pytest.mark.parametrize(("codes", "age", "expected"), AGE_TABLE)
def test_age_ranges_table(codes, age, expected):
    # given an ad group targeting the age codes, and a person of that age
    targeting = Targeting(age_ranges=age_ranges(codes))
    # when matched
    # then the boundaries of each range are inside it
    assert matches(targeting, person(age=age)) is expected


# --- week slots and dayparting -----------------------------------------------------------------

WEEK_SLOT_TABLE = [
    # (UTC moment, time zone, slot): Monday 00:00 local is slot 0, each half hour one more
    (datetime(2026, 3, 9, 0, 0, tzinfo=UTC), "UTC", 0),  # Monday 00:00
    (datetime(2026, 3, 9, 0, 29, 59, tzinfo=UTC), "UTC", 0),
    (datetime(2026, 3, 9, 0, 30, tzinfo=UTC), "UTC", 1),
    (datetime(2026, 3, 15, 23, 59, 59, tzinfo=UTC), "UTC", 335),  # Sunday 23:59:59, the week's last slot
    (NOW, "UTC", 48 + 24),  # Tuesday 12:00
    (NOW, "Europe/Berlin", 48 + 26),  # Tuesday 13:00 CET
    (NOW, "America/New_York", 48 + 16),  # Tuesday 08:00 EDT
    (NOW, "Asia/Kolkata", 48 + 35),  # Tuesday 17:30 IST (UTC+5:30)
    (datetime(2026, 3, 8, 23, 30, tzinfo=UTC), "Europe/Berlin", 1),  # Sunday 23:30 UTC is Monday 00:30 in Berlin
    (datetime(2026, 3, 9, 3, 0, tzinfo=UTC), "America/Los_Angeles", 6 * 48 + 40),  # still Sunday 20:00 PDT there
]


@pytest.mark.parametrize(("moment", "time_zone", "slot"), WEEK_SLOT_TABLE)
def test_week_slot_table(moment, time_zone, slot):
    # given a moment and the advertiser's time zone
    # when its half-hour slot of the week is taken
    # then it is counted in the local week
    assert week_slot(moment, time_zone) == slot


def test_the_same_local_hour_is_the_same_slot_on_both_sides_of_spring_forward():
    # given Berlin switches from CET (UTC+1) to CEST (UTC+2) on Sunday 29 March 2026 at 01:00 UTC
    saturday_before = datetime(2026, 3, 28, 8, 0, tzinfo=UTC)  # 09:00 CET
    monday_after = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 CEST
    monday_after_same_utc = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # 10:00 CEST
    # when the slots are taken
    # then 09:00 local is slot 18 of its day on both sides, and the same UTC hour moved one local hour on
    assert week_slot(saturday_before, "Europe/Berlin") == 5 * 48 + 18
    assert week_slot(monday_after, "Europe/Berlin") == 18
    assert week_slot(monday_after_same_utc, "Europe/Berlin") == 20


def test_the_skipped_hour_of_spring_forward_has_no_slot():
    # given the last half hour before the switch and the first instant after it (02:00-03:00 never happens)
    before = datetime(2026, 3, 29, 0, 59, tzinfo=UTC)  # 01:59 CET
    after = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    # when the slots are taken
    # then they jump from 01:30 (slot 3 of Sunday) straight to 03:00 (slot 6 of Sunday)
    assert week_slot(before, "Europe/Berlin") == 6 * 48 + 3
    assert week_slot(after, "Europe/Berlin") == 6 * 48 + 6


def test_both_occurrences_of_the_repeated_hour_at_fall_back_are_the_same_slot():
    # given Berlin goes from CEST back to CET on Sunday 25 October 2026 at 01:00 UTC, so 02:30 happens twice
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET
    # when the slots are taken
    # then both are Sunday 02:30
    assert week_slot(first, "Europe/Berlin") == 6 * 48 + 5
    assert week_slot(second, "Europe/Berlin") == 6 * 48 + 5


def test_dayparting_follows_the_advertisers_clock_across_dst():
    # given an ad group showing only Mondays 09:00-09:30 local time in Berlin
    monday_nine = candidate(dayparting=frozenset({18}), time_zone="Europe/Berlin")
    # when asked at 08:00 UTC and 07:00 UTC on a winter Monday and on a summer Monday
    # then it shows at 09:00 local: 08:00 UTC in winter, 07:00 UTC in summer
    assert in_schedule(monday_nine, datetime(2026, 3, 23, 8, 0, tzinfo=UTC)) is True
    assert in_schedule(monday_nine, datetime(2026, 3, 23, 7, 0, tzinfo=UTC)) is False
    assert in_schedule(monday_nine, datetime(2026, 3, 30, 7, 0, tzinfo=UTC)) is True
    assert in_schedule(monday_nine, datetime(2026, 3, 30, 8, 0, tzinfo=UTC)) is False
    assert in_schedule(monday_nine, datetime(2026, 3, 30, 7, 29, 59, tzinfo=UTC)) is True
    assert in_schedule(monday_nine, datetime(2026, 3, 30, 7, 30, tzinfo=UTC)) is False


def test_dayparting_reads_the_advertisers_zone_not_utc():
    # given two ad groups with the same hours (Tuesday 13:00-13:30) in different zones
    slots = frozenset({48 + 26})
    berlin = candidate(dayparting=slots, time_zone="Europe/Berlin")
    new_york = candidate(dayparting=slots, time_zone="America/New_York")
    # when asked at Tuesday 12:00 UTC (13:00 in Berlin, 08:00 in New York) and at 17:00 UTC (13:00 in New York)
    # then each shows at its own 13:00
    assert in_schedule(berlin, NOW) is True
    assert in_schedule(new_york, NOW) is False
    assert in_schedule(berlin, NOW + timedelta(hours=5)) is False
    assert in_schedule(new_york, NOW + timedelta(hours=5)) is True


def test_no_dayparting_means_every_hour_of_the_week():
    # given an ad group without dayparting
    always = candidate(dayparting=frozenset())
    # when asked at every half hour of a week
    moments = [datetime(2026, 3, 9, tzinfo=UTC) + timedelta(minutes=30 * step) for step in range(336)]
    # then it is in schedule at each of them
    assert all(in_schedule(always, moment) for moment in moments)


def test_start_is_inclusive_and_end_is_exclusive():
    # given an ad group running from NOW for one day
    running = candidate(start_ts=NOW.timestamp(), end_ts=(NOW + timedelta(days=1)).timestamp())
    # when asked around both edges
    # then it starts exactly at its start and has ended exactly at its end
    assert in_schedule(running, NOW - timedelta(microseconds=1)) is False
    assert in_schedule(running, NOW) is True
    assert in_schedule(running, NOW + timedelta(days=1) - timedelta(microseconds=1)) is True
    assert in_schedule(running, NOW + timedelta(days=1)) is False


def test_no_end_runs_for_ever_and_schedule_and_dayparting_both_apply():
    # given an open-ended ad group, and one that has ended, both dayparted to Tuesday 13:00 Berlin
    open_ended = candidate(dayparting=frozenset({48 + 26}))
    ended = replace(open_ended, end_ts=(NOW - timedelta(hours=1)).timestamp())
    # when asked in the dayparting slot
    # then only the one still running shows, ten years on as well (Tuesday 26 February 2036, 13:00 CET)
    assert in_schedule(open_ended, NOW) is True
    assert in_schedule(open_ended, datetime(2036, 2, 26, 12, 0, tzinfo=UTC)) is True
    assert in_schedule(ended, NOW) is False


LOCAL_DATE_TABLE = [
    (datetime(2026, 3, 9, 23, 30, tzinfo=UTC), "UTC", "2026-03-09"),
    (datetime(2026, 3, 9, 23, 30, tzinfo=UTC), "Europe/Berlin", "2026-03-10"),  # 00:30 CET
    (datetime(2026, 3, 9, 22, 59, tzinfo=UTC), "Europe/Berlin", "2026-03-09"),  # 23:59 CET
    (datetime(2026, 3, 10, 3, 59, tzinfo=UTC), "America/New_York", "2026-03-09"),  # 23:59 EDT
    (datetime(2026, 3, 10, 4, 0, tzinfo=UTC), "America/New_York", "2026-03-10"),  # 00:00 EDT
    (datetime(2026, 3, 9, 15, 0, tzinfo=UTC), "Asia/Tokyo", "2026-03-10"),  # 00:00 JST
    (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), "Europe/Berlin", "2026-03-29"),  # midnight before spring forward
    (datetime(2026, 3, 29, 21, 59, tzinfo=UTC), "Europe/Berlin", "2026-03-29"),  # 23:59 CEST: a 23-hour day
    (datetime(2026, 3, 29, 22, 0, tzinfo=UTC), "Europe/Berlin", "2026-03-30"),
]


@pytest.mark.parametrize(("moment", "time_zone", "day"), LOCAL_DATE_TABLE)
def test_local_date_is_the_advertisers_calendar_day(moment, time_zone, day):
    # given a moment and an advertiser's zone
    # when the advertiser's day is asked
    # then budgets reset at the advertiser's midnight, not at UTC's
    assert local_date(moment, time_zone) == day


# --- all candidates at once: CandidateIndex gives the answers of matches and in_schedule ----------

WEEK_START = datetime(2026, 3, 23, tzinfo=UTC)  # a Monday; Berlin changes to summer time within the week


def some(values: list[str]) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(values), max_size=2)


targetings = st.builds(
    Targeting,
    countries=some(["DE", "AT", "FR"]),
    age_ranges=st.lists(st.sampled_from(sorted(AGE_BOUNDS)), max_size=2).map(age_ranges),
    genders=some(["female", "male"]),
    languages=some(["de", "en"]),
    interests=some(["gaming", "travel", "food"]),
    device_types=some(["mobile", "desktop"]),
    operating_systems=some(["ios", "android"]),
)
week_seconds = st.integers(min_value=0, max_value=7 * 86_400)
scheduled_candidates = st.builds(
    lambda position, targeting, start, length, dayparting, zone: candidate(
        ad_id=position,
        ad_group_id=10 + position % 3,
        campaign_id=100 + position % 2,
        advertiser_id=1000 + position % 2,
        targeting=targeting,
        start_ts=WEEK_START.timestamp() + start,
        end_ts=None if length is None else WEEK_START.timestamp() + start + length,
        dayparting=dayparting,
        time_zone=zone,
    ),
    position=st.integers(min_value=1, max_value=10**6),
    targeting=targetings,
    start=st.sampled_from([-86_400, 0, 3600, 2 * 86_400 + 1800]),
    length=st.none() | st.sampled_from([1, 1800, 86_400, 3 * 86_400]),
    dayparting=st.frozensets(st.integers(min_value=0, max_value=335), max_size=40),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"]),
)
requests = st.builds(
    AdRequest,
    placement=st.just("feed"),
    user_key=st.just("u1"),
    country=st.sampled_from([None, "DE", "AT", "FR", "US"]),
    language=st.sampled_from([None, "de", "en", "fr"]),
    device=st.sampled_from([None, "mobile", "desktop", "tablet"]),
    os=st.sampled_from([None, "ios", "android", "linux"]),
    age=st.sampled_from([None, 13, 17, 18, 24, 25, 54, 55, 90]),
    gender=st.sampled_from([None, "female", "male"]),
    interests=some(["gaming", "travel", "food", "cars"]),
)


@settings(max_examples=200, deadline=None)
@given(
    candidates=st.lists(scheduled_candidates, max_size=12),
    asked=st.lists(st.tuples(requests, week_seconds), min_size=1, max_size=6),
    exhausted=st.frozensets(st.sampled_from(["ag:10", "c:100", "a:1000", "ag:11"]), max_size=2),
)
def test_the_candidate_index_answers_exactly_as_matches_and_in_schedule(candidates, asked, exhausted):
    # given any candidates, indexed once
    index = CandidateIndex(candidates)
    # when several requests at several moments ask it (its caches filling as they go)
    for request, second in asked:
        moment = WEEK_START + timedelta(seconds=second)
        # then it selects exactly the candidates the one-at-a-time functions accept, in their order
        assert index.select(index.matching(request)) == [c for c in candidates if matches(c.targeting, request)]
        assert index.select(index.scheduled(moment)) == [c for c in candidates if in_schedule(c, moment)]
        assert index.select(index.unspent(exhausted)) == [
            c for c in candidates if not {f"ag:{c.ad_group_id}", f"c:{c.campaign_id}", f"a:{c.advertiser_id}"} & exhausted
        ]
