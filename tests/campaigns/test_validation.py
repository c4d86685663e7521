"""campaigns.validation and campaigns.policy: the pure rules, tested without a database."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.reference import CURRENCIES
from adplatform import money
from campaigns import policy
from campaigns.choices import BID_STRATEGIES_FOR_OBJECTIVE, BidStrategy, Objective
from campaigns.validation import (
    CurrencyFacts,
    PlacementFacts,
    ad_errors,
    ad_group_errors,
    budget_errors,
    campaign_errors,
    targeting_errors,
)

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)
SECONDS_PER_DAY = 86_400
START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

# The currencies exactly as the migration seeds them (accounts.reference), without a database.
CURRENCY_FACTS = {
    code: CurrencyFacts(code, Decimal(rate), int(Decimal(minimum) * money.MICROS_PER_UNIT))
    for code, _name, rate, minimum in CURRENCIES
}
EUR = CURRENCY_FACTS["EUR"]
JPY = CURRENCY_FACTS["JPY"]
USD = CURRENCY_FACTS["USD"]
currencies = st.sampled_from(sorted(CURRENCY_FACTS.values(), key=lambda facts: facts.code))

FEED = PlacementFacts("feed", "In-feed", ("image", "video"), 500_000, True)
TOPVIEW = PlacementFacts("topview", "Top view", ("video",), 4_000_000, True)
SEARCH = PlacementFacts("search", "Search results", ("image", "text"), 200_000, True)
INTEREST_KEYS = ["baking", "cooking", "coffee"]


def campaign_state(**overrides):
    return {
        "name": "Spring sale",
        "objective": "traffic",
        "budget_mode": "daily",
        "budget_micros": 10_000_000,
        "status": "active",
    } | (overrides)


def ad_group_state(**overrides):
    return {
        "name": "Berlin food lovers",
        "status": "active",
        "pacing": "standard",
        "countries": [],
        "age_ranges": [],
        "genders": [],
        "languages": [],
        "interests": [],
        "device_types": [],
        "operating_systems": [],
        "start_time": START,
        "end_time": None,
        "dayparting": [],
        "budget_mode": "daily",
        "budget_micros": 20_000_000,
        "bid_strategy": "cpm",
        "bid_micros": 2_000_000,
        "frequency_cap_impressions": None,
        "frequency_cap_days": None,
    } | overrides


def ad_group_errors_for(
    state,
    *,
    objective="traffic",
    campaign_budget_mode="daily",
    placements=(FEED,),
    unknown_placements=(),
    currency=EUR,
    known_interests=INTEREST_KEYS,
):
    return ad_group_errors(
        state=state,
        objective=objective,
        campaign_budget_mode=campaign_budget_mode,
        placements=list(placements),
        unknown_placements=list(unknown_placements),
        currency=currency,
        known_interests=known_interests,
    )


def ad_state(**overrides):
    return {
        "format": "image",
        "display_name": "Corner Bakery",
        "headline": "Warm croissants from 7 am",
        "body": "Baked every morning.",
        "media_url": "https://cdn.example.com/croissants.jpg",
        "video_duration_seconds": None,
        "call_to_action": "learn_more",
        "landing_url": "https://bakery.example.com/",
        "status": "active",
    } | overrides


MIRACLE_CURE = policy.Term("miracle cure", "unproven health claims")


def review(ad, *, placements=(FEED,), terms=(MIRACLE_CURE,)):
    return policy.automated_review(
        ad=ad,
        placement_formats=[placement.allowed_formats for placement in placements],
        placement_names=[placement.name for placement in placements],
        blocked_terms=list(terms),
    )


# --- budgets: the currencies as seeded ----------------------------------------------------------


def test_the_seeded_currencies_have_the_documented_minimums_and_rates():
    assert CURRENCY_FACTS["EUR"] == CurrencyFacts("EUR", Decimal("0.92"), 1_000_000)
    assert CURRENCY_FACTS["USD"] == CurrencyFacts("USD", Decimal("1"), 1_000_000)
    assert CURRENCY_FACTS["JPY"] == CurrencyFacts("JPY", Decimal("150"), 100_000_000)


def test_currency_facts_show_an_amount_with_its_code():
    assert EUR.show(1_000_000) == "1.00 EUR"
    assert EUR.show(306_667) == "0.306667 EUR"
    assert JPY.show(100_000_000) == "100.00 JPY"


# --- budgets: properties -----------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(currency=currencies, data=st.data())
def test_any_daily_budget_at_or_above_the_currency_minimum_is_accepted(currency, data):
    micros = data.draw(st.integers(min_value=currency.min_daily_budget_micros, max_value=money.MAX_AMOUNT_MICROS))

    assert budget_errors(mode="daily", micros=micros, currency=currency) == {}


@PROPERTY_SETTINGS
@given(currency=currencies, data=st.data())
def test_a_daily_budget_below_the_currency_minimum_is_refused_naming_the_minimum(currency, data):
    micros = data.draw(st.integers(min_value=1, max_value=currency.min_daily_budget_micros - 1))

    errors = budget_errors(mode="daily", micros=micros, currency=currency)

    minimum = money.format_amount(currency.min_daily_budget_micros)
    assert errors == {"budget": [f"The smallest daily budget is {minimum} {currency.code}."]}


@PROPERTY_SETTINGS
@given(
    currency=currencies,
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001
    seconds=st.integers(min_value=1, max_value=400 * SECONDS_PER_DAY),
    extra=st.integers(min_value=0, max_value=10**12),
)
def test_a_lifetime_budget_of_at_least_the_minimum_per_started_day_is_accepted(currency, start, seconds, extra):
    days = -(-seconds // SECONDS_PER_DAY)  # every started day counts
    micros = currency.min_daily_budget_micros * days + extra

    errors = budget_errors(mode="lifetime", micros=micros, currency=currency, start=start, end=start + timedelta(seconds=seconds))

    assert errors == {}


@PROPERTY_SETTINGS
@given(
    currency=currencies,
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001
    seconds=st.integers(min_value=1, max_value=400 * SECONDS_PER_DAY),
    data=st.data(),
)
def test_a_lifetime_budget_below_the_minimum_per_started_day_is_refused(currency, start, seconds, data):
    days = -(-seconds // SECONDS_PER_DAY)
    needed = currency.min_daily_budget_micros * days
    micros = data.draw(st.integers(min_value=1, max_value=needed - 1))

    errors = budget_errors(mode="lifetime", micros=micros, currency=currency, start=start, end=start + timedelta(seconds=seconds))

    assert errors == {
        "budget": [
            (
                f"A lifetime budget over {days} days must be at least {currency.show(needed)} "
                f"({currency.show(currency.min_daily_budget_micros)} a day)."
            )
        ]
    }


@PROPERTY_SETTINGS
@given(
    currency=currencies, micros=st.integers(min_value=-money.MAX_AMOUNT_MICROS, max_value=money.MAX_AMOUNT_MICROS).filter(bool)
)
def test_an_unlimited_budget_with_any_amount_is_refused(currency, micros):
    errors = budget_errors(mode="unlimited", micros=micros, currency=currency)

    assert errors == {"budget": ["An unlimited budget has no amount; choose daily or lifetime to set one."]}


@PROPERTY_SETTINGS
@given(currency=currencies, mode=st.sampled_from(["daily", "lifetime"]), micros=st.integers(max_value=0))
def test_a_daily_or_lifetime_budget_of_zero_or_less_is_refused(currency, mode, micros):
    assert budget_errors(mode=mode, micros=micros, currency=currency) == {"budget": ["Enter a budget above zero."]}


# --- budgets: examples -------------------------------------------------------------------------


def test_an_unlimited_budget_without_an_amount_is_accepted():
    assert budget_errors(mode="unlimited", micros=0, currency=EUR) == {}


def test_a_daily_budget_exactly_at_the_minimum_is_accepted_one_micro_below_is_not():
    assert budget_errors(mode="daily", micros=1_000_000, currency=EUR) == {}
    assert budget_errors(mode="daily", micros=999_999, currency=EUR) == {"budget": ["The smallest daily budget is 1.00 EUR."]}
    assert budget_errors(mode="daily", micros=99_999_999, currency=JPY) == {
        "budget": ["The smallest daily budget is 100.00 JPY."]
    }


def test_a_lifetime_budget_over_a_day_and_a_minute_needs_two_days_of_minimum():
    end = START + timedelta(days=1, minutes=1)

    assert budget_errors(mode="lifetime", micros=2_000_000, currency=EUR, start=START, end=end) == {}
    assert budget_errors(mode="lifetime", micros=1_999_999, currency=EUR, start=START, end=end) == {
        "budget": ["A lifetime budget over 2 days must be at least 2.00 EUR (1.00 EUR a day)."]
    }


def test_a_lifetime_budget_without_a_schedule_needs_at_least_one_day_of_minimum():
    assert budget_errors(mode="lifetime", micros=999_999, currency=EUR) == {
        "budget": ["The smallest lifetime budget is 1.00 EUR."]
    }
    assert budget_errors(mode="lifetime", micros=1_000_000, currency=EUR) == {}


def test_a_budget_above_the_largest_amount_is_refused():
    assert budget_errors(mode="daily", micros=money.MAX_AMOUNT_MICROS, currency=EUR) == {}
    assert budget_errors(mode="daily", micros=money.MAX_AMOUNT_MICROS + 1, currency=EUR) == {
        "budget": ["This budget is too large."]
    }


def test_an_unknown_budget_mode_is_refused_listing_the_modes():
    assert budget_errors(mode="weekly", micros=1_000_000, currency=EUR) == {
        "budget_mode": ["Choose one of: daily, lifetime, unlimited."]
    }


# --- campaigns ---------------------------------------------------------------------------------


def test_a_complete_campaign_has_no_errors():
    assert campaign_errors(state=campaign_state(), currency=EUR) == {}


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"name": ""}, {"name": ["Enter a name."]}),
        ({"name": "   "}, {"name": ["Enter a name."]}),
        ({"name": "x" * 201}, {"name": ["Use at most 200 characters."]}),
        ({"objective": "fame"}, {"objective": [f"Choose one of: {', '.join(Objective.values)}."]}),
        ({"status": "deleted"}, {"status": ["Choose one of: active, paused, archived."]}),
        (
            {"budget_mode": "unlimited", "budget_micros": 5_000_000},
            {"budget": ["An unlimited budget has no amount; choose daily or lifetime to set one."]},
        ),
        ({"budget_micros": 500_000}, {"budget": ["The smallest daily budget is 1.00 EUR."]}),
    ],
)
def test_campaign_errors_name_the_field(overrides, errors):
    assert campaign_errors(state=campaign_state(**overrides), currency=EUR) == errors


def test_a_campaign_name_of_exactly_200_characters_is_accepted():
    assert campaign_errors(state=campaign_state(name="x" * 200), currency=EUR) == {}


def test_a_lifetime_campaign_budget_needs_every_ad_group_to_end():
    state = campaign_state(budget_mode="lifetime", budget_micros=100_000_000)

    assert campaign_errors(state=state, currency=EUR, ad_groups_without_end=0) == {}
    assert campaign_errors(state=state, currency=EUR, ad_groups_without_end=2) == {
        "budget_mode": ["A lifetime budget needs an end time: 2 ad group(s) have none."]
    }


def test_a_campaign_objective_must_fit_the_bid_strategies_of_its_ad_groups():
    errors = campaign_errors(
        state=campaign_state(objective="reach"), currency=EUR, ad_group_strategies=["ocpm", "cpm", "cpc", "cpc"]
    )

    assert errors == {"objective": ["Ad groups bid cpc, ocpm, which does not fit this objective."]}
    assert campaign_errors(state=campaign_state(objective="traffic"), currency=EUR, ad_group_strategies=["cpm", "cpc"]) == {}


# --- bid strategy vs objective -----------------------------------------------------------------

ALLOWED_PAIRS = {
    (objective.value, strategy.value) for objective, strategies in BID_STRATEGIES_FOR_OBJECTIVE.items() for strategy in strategies
}


def test_the_bid_strategy_table_is_the_documented_one():
    documented = {
        ("reach", "cpm"),
        ("video_views", "cpm"),
        ("traffic", "cpm"),
        ("traffic", "cpc"),
        ("engagement", "cpm"),
        ("engagement", "cpc"),
        ("lead_generation", "cpm"),
        ("lead_generation", "cpc"),
        ("lead_generation", "ocpm"),
        ("app_promotion", "cpm"),
        ("app_promotion", "cpc"),
        ("app_promotion", "ocpm"),
        ("web_conversions", "cpm"),
        ("web_conversions", "cpc"),
        ("web_conversions", "ocpm"),
    }

    assert documented == ALLOWED_PAIRS


@pytest.mark.parametrize("objective", Objective.values)
@pytest.mark.parametrize("strategy", BidStrategy.values)
def test_an_ad_group_bid_strategy_must_fit_the_campaign_objective(objective, strategy):
    errors = ad_group_errors_for(ad_group_state(bid_strategy=strategy, bid_micros=5_000_000), objective=objective)

    if (objective, strategy) in ALLOWED_PAIRS:
        assert errors == {}
    else:
        fitting = ", ".join(sorted(value for (goal, value) in ALLOWED_PAIRS if goal == objective))
        assert errors == {"bid_strategy": [f"{strategy} does not fit the {objective} objective; use {fitting}."]}


def test_an_unknown_bid_strategy_is_refused():
    assert ad_group_errors_for(ad_group_state(bid_strategy="cpa")) == {"bid_strategy": ["Choose one of: cpm, cpc, ocpm."]}


# --- CPM floors --------------------------------------------------------------------------------


def test_a_cpm_bid_exactly_at_the_converted_floor_is_accepted_and_one_micro_below_is_refused():
    # 0.333333 USD at 0.92 EUR per USD is 0.30666636 EUR, rounded up to 0.306667 EUR.
    odd = PlacementFacts("odd", "Odd floor", ("image",), 333_333, True)

    at_floor = ad_group_errors_for(ad_group_state(bid_micros=306_667), placements=[odd])
    below = ad_group_errors_for(ad_group_state(bid_micros=306_666), placements=[odd])

    assert at_floor == {}
    assert below == {"bid": ["The CPM bid must be at least 0.306667 EUR, the floor of Odd floor."]}


def test_a_cpm_bid_below_several_floors_names_each_placement_it_misses():
    errors = ad_group_errors_for(ad_group_state(bid_micros=1_000_000), placements=[FEED, TOPVIEW, SEARCH], objective="traffic")

    assert errors == {"bid": ["The CPM bid must be at least 3.68 EUR, the floor of Top view."]}
    errors = ad_group_errors_for(ad_group_state(bid_micros=100_000), placements=[FEED, TOPVIEW, SEARCH])
    assert errors == {
        "bid": [
            "The CPM bid must be at least 0.46 EUR, the floor of In-feed.",
            "The CPM bid must be at least 3.68 EUR, the floor of Top view.",
            "The CPM bid must be at least 0.184 EUR, the floor of Search results.",
        ]
    }


def test_a_floor_in_yen_is_converted_at_the_yen_rate():
    assert ad_group_errors_for(ad_group_state(budget_micros=100_000_000, bid_micros=75_000_000), currency=JPY) == {}
    assert ad_group_errors_for(ad_group_state(budget_micros=100_000_000, bid_micros=74_999_999), currency=JPY) == {
        "bid": ["The CPM bid must be at least 75.00 JPY, the floor of In-feed."]
    }


@pytest.mark.parametrize("strategy", ["cpc", "ocpm"])
def test_the_cpm_floor_does_not_apply_to_click_or_conversion_bids(strategy):
    errors = ad_group_errors_for(ad_group_state(bid_strategy=strategy, bid_micros=1), objective="web_conversions")

    assert errors == {}


@PROPERTY_SETTINGS
@given(currency=currencies, floor=st.integers(min_value=2, max_value=100_000_000))
def test_any_converted_floor_accepts_the_rounded_up_bid_and_refuses_one_micro_less(currency, floor):
    placement = PlacementFacts("p", "Feed", ("image",), floor, True)
    at_floor = money.usd_to_currency(floor, currency.units_per_usd)
    state = ad_group_state(budget_micros=currency.min_daily_budget_micros)

    accepted = ad_group_errors_for(state | {"bid_micros": at_floor}, placements=[placement], currency=currency)
    refused = ad_group_errors_for(state | {"bid_micros": at_floor - 1}, placements=[placement], currency=currency)

    assert at_floor >= floor * currency.units_per_usd
    assert accepted == {}
    assert refused == {"bid": [f"The CPM bid must be at least {currency.show(at_floor)}, the floor of Feed."]}


@pytest.mark.parametrize(
    ("bid", "message"),
    [
        (0, "Enter a bid above zero."),
        (-5, "Enter a bid above zero."),
        (None, "Enter a bid above zero."),
        (10**15 + 1, "This bid is too large."),
    ],
)
def test_a_bid_must_be_positive_and_not_too_large(bid, message):
    assert ad_group_errors_for(ad_group_state(bid_micros=bid)) == {"bid": [message]}


# --- schedules ---------------------------------------------------------------------------------

moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC))  # noqa: DTZ001


@PROPERTY_SETTINGS
@given(start=moments, seconds_before=st.integers(min_value=0, max_value=400 * SECONDS_PER_DAY))
def test_an_end_at_or_before_the_start_is_refused(start, seconds_before):
    errors = ad_group_errors_for(ad_group_state(start_time=start, end_time=start - timedelta(seconds=seconds_before)))

    assert errors == {"end_time": ["The end must be after the start."]}


@PROPERTY_SETTINGS
@given(start=moments, seconds_after=st.integers(min_value=1, max_value=400 * SECONDS_PER_DAY))
def test_an_end_after_the_start_is_accepted(start, seconds_after):
    errors = ad_group_errors_for(ad_group_state(start_time=start, end_time=start + timedelta(seconds=seconds_after)))

    assert errors == {}


@PROPERTY_SETTINGS
@given(start=moments, micros=st.integers(min_value=1_000_000, max_value=10**12))
def test_a_lifetime_ad_group_budget_without_an_end_is_refused(start, micros):
    errors = ad_group_errors_for(ad_group_state(start_time=start, budget_mode="lifetime", budget_micros=micros))

    assert errors == {"end_time": ["A lifetime budget needs an end time."]}


@pytest.mark.parametrize(
    ("field", "inside", "outside"),
    [
        ("start_time", datetime(2000, 1, 1, tzinfo=UTC), datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("start_time", datetime(2000, 1, 1, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)),
        ("start_time", datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)),
        ("end_time", datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)),
        ("end_time", datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC)),
    ],
    ids=["start-just-before-2000", "start-in-year-1", "start-from-2100", "end-from-2100", "end-in-year-9999"],
)
def test_an_ad_group_schedules_only_times_from_2000_to_2099(field, inside, outside):
    assert ad_group_errors_for(ad_group_state(**{field: inside})) == {}
    assert ad_group_errors_for(ad_group_state(**{field: outside})) == {field: ["Choose a time from 2000 to 2099."]}


def test_an_ad_group_of_a_lifetime_campaign_needs_an_end():
    errors = ad_group_errors_for(ad_group_state(), campaign_budget_mode="lifetime")

    assert errors == {"end_time": ["The campaign has a lifetime budget, so its ad groups need an end time."]}
    assert ad_group_errors_for(ad_group_state(end_time=START + timedelta(days=3)), campaign_budget_mode="lifetime") == {}


def test_a_lifetime_ad_group_budget_covers_the_minimum_for_each_scheduled_day():
    state = ad_group_state(budget_mode="lifetime", end_time=START + timedelta(days=10))

    assert ad_group_errors_for(state | {"budget_micros": 10_000_000}) == {}
    assert ad_group_errors_for(state | {"budget_micros": 9_999_999}) == {
        "budget": ["A lifetime budget over 10 days must be at least 10.00 EUR (1.00 EUR a day)."]
    }


@PROPERTY_SETTINGS
@given(slots=st.lists(st.integers(min_value=0, max_value=335), max_size=400))
def test_any_dayparting_slots_from_0_to_335_are_accepted(slots):
    assert ad_group_errors_for(ad_group_state(dayparting=slots)) == {}


@PROPERTY_SETTINGS
@given(
    slots=st.lists(st.integers(min_value=0, max_value=335), max_size=50),
    outside=st.one_of(st.integers(max_value=-1), st.integers(min_value=336)),
    position=st.integers(min_value=0, max_value=50),
)
def test_dayparting_with_any_slot_outside_0_to_335_is_refused(slots, outside, position):
    slots.insert(position, outside)

    errors = ad_group_errors_for(ad_group_state(dayparting=slots))

    assert errors == {"dayparting": ["Slots run from 0 (Monday 00:00) to 335 (Sunday 23:30)."]}


@pytest.mark.parametrize("dayparting", ["0-10", [1, "2"], [1.5], [True], None])
def test_dayparting_must_be_a_list_of_whole_numbers(dayparting):
    assert ad_group_errors_for(ad_group_state(dayparting=dayparting)) == {
        "dayparting": ["Send a list of half-hour slots (whole numbers)."]
    }


# --- targeting ---------------------------------------------------------------------------------


def targeting(**overrides):
    return ad_group_state(**overrides)


def test_known_targeting_values_have_no_errors():
    state = targeting(
        countries=["DE", "AT", "CH"],
        age_ranges=["18-24", "55+"],
        genders=["female"],
        languages=["de", "en"],
        interests=["baking"],
        device_types=["mobile", "connected_tv"],
        operating_systems=["ios", "android"],
        frequency_cap_impressions=3,
        frequency_cap_days=1,
    )

    assert targeting_errors(state=state, known_interests=INTEREST_KEYS) == {}


@pytest.mark.parametrize(
    ("field", "values", "message"),
    [
        ("countries", ["DE", "ZZ", "XX"], "Unknown country: ZZ, XX."),
        ("countries", ["de"], "Unknown country: de."),
        ("languages", ["en", "xx"], "Unknown language: xx."),
        ("languages", ["deu"], "Unknown language: deu."),
        ("interests", ["baking", "knitting"], "Unknown interest: knitting."),
        ("age_ranges", ["18-24", "30-40"], "Unknown age range: 30-40."),
        ("genders", ["other"], "Unknown gender: other."),
        ("device_types", ["watch"], "Unknown device type: watch."),
        ("operating_systems", ["beos"], "Unknown operating system: beos."),
        ("countries", "DE", "Send a list."),
    ],
)
def test_unknown_targeting_values_are_named(field, values, message):
    assert targeting_errors(state=targeting(**{field: values}), known_interests=INTEREST_KEYS) == {field: [message]}


def test_several_unknown_targeting_lists_are_reported_together():
    state = targeting(countries=["ZZ"], languages=["xx"], interests=["knitting"])

    assert targeting_errors(state=state, known_interests=INTEREST_KEYS) == {
        "countries": ["Unknown country: ZZ."],
        "languages": ["Unknown language: xx."],
        "interests": ["Unknown interest: knitting."],
    }


@pytest.mark.parametrize(
    ("impressions", "days", "messages"),
    [
        (3, None, ["Give both impressions and days, or neither."]),
        (None, 1, ["Give both impressions and days, or neither."]),
        (0, 1, ["Impressions must be between 1 and 1000."]),
        (1001, 1, ["Impressions must be between 1 and 1000."]),
        (3, 0, ["Days must be between 1 and 30."]),
        (3, 31, ["Days must be between 1 and 30."]),
        (0, 31, ["Impressions must be between 1 and 1000.", "Days must be between 1 and 30."]),
    ],
)
def test_a_frequency_cap_needs_both_parts_in_range(impressions, days, messages):
    state = targeting(frequency_cap_impressions=impressions, frequency_cap_days=days)

    assert targeting_errors(state=state, known_interests=INTEREST_KEYS) == {"frequency_cap": messages}


@pytest.mark.parametrize(("impressions", "days"), [(1, 1), (1000, 30)])
def test_a_frequency_cap_at_its_limits_is_accepted(impressions, days):
    state = targeting(frequency_cap_impressions=impressions, frequency_cap_days=days)

    assert targeting_errors(state=state, known_interests=INTEREST_KEYS) == {}


# --- placements in an ad group -----------------------------------------------------------------


def test_an_ad_group_needs_a_known_active_placement():
    assert ad_group_errors_for(ad_group_state(), placements=[]) == {"placements": ["Choose at least one placement."]}
    assert ad_group_errors_for(ad_group_state(), placements=[FEED], unknown_placements=["moon", "mars"]) == {
        "placements": ["Unknown placement: moon, mars."]
    }
    retired = PlacementFacts("old", "Old", ("image",), 0, False)
    assert ad_group_errors_for(ad_group_state(), placements=[FEED, retired]) == {"placements": ["No longer available: old."]}


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"name": ""}, {"name": ["Enter a name."]}),
        ({"pacing": "fast"}, {"pacing": ["Choose one of: standard, accelerated."]}),
        ({"status": "running"}, {"status": ["Choose one of: active, paused, archived."]}),
    ],
)
def test_ad_group_field_errors_name_the_field(overrides, errors):
    assert ad_group_errors_for(ad_group_state(**overrides)) == errors


# --- ads ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [
        ad_state(),
        ad_state(format="text", media_url="", body="Order before 10."),
        ad_state(format="video", media_url="https://cdn.example.com/a.mp4", video_duration_seconds=1),
        ad_state(format="video", media_url="https://cdn.example.com/a.mp4", video_duration_seconds=60),
        ad_state(display_name="x" * 40, headline="y" * 100, body="z" * 500),
    ],
)
def test_valid_ads_have_no_errors(state):
    assert ad_errors(state=state) == {}


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"format": "text", "media_url": "", "body": "  "}, {"body": ["A text ad needs a body."]}),
        ({"format": "text", "media_url": "https://cdn.example.com/a.jpg"}, {"media_url": ["A text ad has no media."]}),
        ({"media_url": ""}, {"media_url": ["This field is required."]}),
        (
            {"media_url": "http://cdn.example.com/a.jpg"},
            {"media_url": ["Enter a full https:// address, e.g. https://example.com/offer."]},
        ),
        (
            {"format": "video", "media_url": "https://cdn.example.com/a.mp4"},
            {"video_duration_seconds": ["Give the video's length in seconds."]},
        ),
        (
            {"format": "video", "media_url": "https://cdn.example.com/a.mp4", "video_duration_seconds": 0},
            {"video_duration_seconds": ["Videos run 1 to 60 seconds."]},
        ),
        (
            {"format": "video", "media_url": "https://cdn.example.com/a.mp4", "video_duration_seconds": 61},
            {"video_duration_seconds": ["Videos run 1 to 60 seconds."]},
        ),
        ({"video_duration_seconds": 15}, {"video_duration_seconds": ["Only video ads have a duration."]}),
        ({"landing_url": ""}, {"landing_url": ["This field is required."]}),
        (
            {"landing_url": "http://bakery.example.com/"},
            {"landing_url": ["Enter a full https:// address, e.g. https://example.com/offer."]},
        ),
        (
            {"landing_url": "https://localhost/"},
            {"landing_url": ["Enter a full https:// address, e.g. https://example.com/offer."]},
        ),
        (
            {"landing_url": "https://bakery.example.com/a b"},
            {"landing_url": ["Enter a full https:// address, e.g. https://example.com/offer."]},
        ),
        (
            {"landing_url": "bakery.example.com"},
            {"landing_url": ["Enter a full https:// address, e.g. https://example.com/offer."]},
        ),
        (
            {"landing_url": "https://[::1"},
            {"landing_url": ["Enter a full https:// address, e.g. https://example.com/offer."]},
        ),
        (
            {"media_url": "https://[::1"},
            {"media_url": ["Enter a full https:// address, e.g. https://example.com/offer."]},
        ),
        ({"landing_url": "https://bakery.example.com/" + "a" * 2030}, {"landing_url": ["Use at most 2048 characters."]}),
        ({"display_name": "x" * 41}, {"display_name": ["Use at most 40 characters."]}),
        ({"display_name": " "}, {"display_name": ["This field is required."]}),
        ({"headline": "y" * 101}, {"headline": ["Use at most 100 characters."]}),
        ({"headline": ""}, {"headline": ["This field is required."]}),
        ({"body": "z" * 501}, {"body": ["Use at most 500 characters."]}),
        ({"format": "gif"}, {"format": ["Choose one of: image, video, text."]}),
        (
            {"call_to_action": "buy"},
            {"call_to_action": ["Choose one of: learn_more, shop_now, sign_up, download, contact_us, watch_more."]},
        ),
        ({"status": "gone"}, {"status": ["Choose one of: active, paused, archived."]}),
    ],
)
def test_ad_errors_name_the_field(overrides, errors):
    assert ad_errors(state=ad_state(**overrides)) == errors


# --- policy: blocked terms ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "headline",
    [
        "Miracle cure for back pain",
        "A MIRACLE CURE!",
        "the miracle   cure",
        "miracle\ncure",
        "(miracle cure)",
        "try our miracle cure",
    ],
)
def test_a_blocked_phrase_is_matched_as_whole_words_in_any_case(headline):
    reasons = review(ad_state(headline=headline))

    assert reasons == [
        "The headline contains “miracle cure”, which our ad policy does not allow (unproven health claims). Reword it and save."
    ]


@pytest.mark.parametrize(
    "headline", ["Miracle cures for back pain", "miraclecure", "a miracle to cure", "Premiracle cure", "miracle-cure"]
)
def test_a_blocked_phrase_inside_other_words_is_not_matched(headline):
    assert review(ad_state(headline=headline)) == []


def test_blocked_terms_are_checked_in_display_name_headline_and_body_each_named():
    ad = ad_state(display_name="Get Rich Quick Ltd", headline="Miracle cure", body="Guaranteed returns, get rich quick.")
    terms = [
        policy.Term("miracle cure", "unproven health claims"),
        policy.Term("get rich quick", "misleading financial promises"),
        policy.Term("guaranteed returns", ""),
    ]

    reasons = review(ad, terms=terms)

    not_allowed = "which our ad policy does not allow"
    assert reasons == [
        f"The headline contains “miracle cure”, {not_allowed} (unproven health claims). Reword it and save.",
        f"The display name contains “get rich quick”, {not_allowed} (misleading financial promises). Reword it and save.",
        f"The body contains “get rich quick”, {not_allowed} (misleading financial promises). Reword it and save.",
        f"The body contains “guaranteed returns”, {not_allowed}. Reword it and save.",
    ]


def test_a_blocked_term_with_regex_characters_is_matched_literally():
    terms = [policy.Term("c++ jobs", "")]

    assert review(ad_state(headline="Best C++ jobs here"), terms=terms) == [
        "The headline contains “c++ jobs”, which our ad policy does not allow. Reword it and save."
    ]
    assert review(ad_state(headline="Best cc jobs here"), terms=terms) == []


# --- policy: media, landing page and placements ------------------------------------------------


@pytest.mark.parametrize(
    ("ad_format", "media_url"),
    [
        ("image", "https://cdn.example.com/a.jpg"),
        ("image", "https://cdn.example.com/a.JPEG"),
        ("image", "https://cdn.example.com/a.png?width=600"),
        ("image", "https://cdn.example.com/a.gif"),
        ("image", "https://cdn.example.com/a.webp"),
        ("video", "https://cdn.example.com/a.mp4"),
        ("video", "https://cdn.example.com/a.webm"),
        ("video", "https://cdn.example.com/a.MOV"),
        ("video", "https://cdn.example.com/a.m4v#t=2"),
    ],
)
def test_media_with_an_extension_of_its_format_passes(ad_format, media_url):
    assert review(ad_state(format=ad_format, media_url=media_url)) == []


@pytest.mark.parametrize(
    ("ad_format", "media_url", "message"),
    [
        (
            "image",
            "https://cdn.example.com/a.mp4",
            "The media file must be a direct link to an image file (.jpg, .jpeg, .png, .gif, .webp).",
        ),
        (
            "image",
            "https://cdn.example.com/gallery",
            "The media file must be a direct link to an image file (.jpg, .jpeg, .png, .gif, .webp).",
        ),
        (
            "image",
            "https://cdn.example.com/a?f=.jpg",
            "The media file must be a direct link to an image file (.jpg, .jpeg, .png, .gif, .webp).",
        ),
        (
            "video",
            "https://cdn.example.com/a.jpg",
            "The media file must be a direct link to a video file (.mp4, .webm, .mov, .m4v).",
        ),
    ],
)
def test_media_without_an_extension_of_its_format_is_rejected(ad_format, media_url, message):
    assert review(ad_state(format=ad_format, media_url=media_url)) == [message]


def test_a_text_ad_has_no_media_to_check():
    assert review(ad_state(format="text", media_url=""), placements=[SEARCH]) == []


def test_a_landing_page_without_https_is_rejected():
    assert review(ad_state(landing_url="http://bakery.example.com/")) == ["The landing page must use https://."]


def test_a_format_that_no_placement_shows_is_rejected_naming_the_placements():
    reasons = review(ad_state(format="text", media_url=""), placements=[FEED, TOPVIEW])

    assert reasons == [
        "None of the ad group's placements (In-feed, Top view) shows text ads; add one that does or change the format."
    ]


def test_a_format_that_one_of_several_placements_shows_passes():
    assert review(ad_state(format="video", media_url="https://cdn.example.com/a.mp4"), placements=[SEARCH, TOPVIEW]) == []


def test_every_problem_is_reported_at_once():
    ad = ad_state(
        format="video", headline="Miracle cure", media_url="https://cdn.example.com/a.gif", landing_url="http://x.example.com"
    )

    reasons = review(ad, placements=[SEARCH])

    assert reasons == [
        "The headline contains “miracle cure”, which our ad policy does not allow (unproven health claims). Reword it and save.",
        "The landing page must use https://.",
        "The media file must be a direct link to a video file (.mp4, .webm, .mov, .m4v).",
        "None of the ad group's placements (Search results) shows video ads; add one that does or change the format.",
    ]
