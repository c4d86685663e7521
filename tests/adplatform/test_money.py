"""adplatform.money (integer micros <-> decimal strings) and adplatform.clock (the one time source)."""

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from adplatform import clock, money
from adplatform.money import MAX_AMOUNT_MICROS, MICROS_PER_UNIT, MoneyError

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
within_bounds = st.integers(min_value=-MAX_AMOUNT_MICROS, max_value=MAX_AMOUNT_MICROS)
AMOUNT_PATTERN = re.compile(r"-?\d+\.\d{2,6}")


# --- to_micros ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "micros"),
    [
        ("12.50", 12_500_000),
        ("12.5", 12_500_000),
        ("0", 0),
        ("0.00", 0),
        ("-0.00", 0),
        ("0.000001", 1),
        ("-0.000001", -1),
        ("1.234567", 1_234_567),
        ("-1.25", -1_250_000),
        ("  7.10 ", 7_100_000),
        ("1E+3", 1_000_000_000),
        ("1.5000000", 1_500_000),  # trailing zeros past the sixth place are still exact
        ("1000000000", MAX_AMOUNT_MICROS),
        ("-1000000000.000000", -MAX_AMOUNT_MICROS),
        (Decimal("3.33"), 3_330_000),
        (Decimal("0.000100"), 100),
        (5, 5_000_000),
        (-2, -2_000_000),
    ],
)
def test_to_micros_parses_exact_amounts(amount, micros):
    assert money.to_micros(amount) == micros


@pytest.mark.parametrize("amount", ["0.0000001", "1.0000005", "-12.3456789", "1e-7", Decimal("0.1234567")])
def test_to_micros_refuses_more_than_six_decimal_places(amount):
    with pytest.raises(MoneyError, match=r"^Use at most 6 decimal places\.$"):
        money.to_micros(amount)


@pytest.mark.parametrize("amount", ["", "   ", "abc", "12,50", "1.2.3", "$5", "NaN", "sNaN", "Infinity", "-Infinity", "inf"])
def test_to_micros_refuses_what_is_not_a_finite_decimal(amount):
    with pytest.raises(MoneyError, match=r"^Enter a decimal amount such as 12\.50\.$"):
        money.to_micros(amount)


@pytest.mark.parametrize("amount", ["1000000000.000001", "-1000000000.000001", "1000000001", 10**10])
def test_to_micros_refuses_amounts_beyond_the_bound(amount):
    with pytest.raises(MoneyError, match=r"^Amount is too large\.$"):
        money.to_micros(amount)


@pytest.mark.parametrize("amount", ["1e30", "-1E+40", "10000000000000000000000", 10**23])
def test_to_micros_refuses_huge_amounts_with_money_error_not_a_decimal_trap(amount):
    # The API turns MoneyError into a 400; any other exception would be a 500.
    with pytest.raises(MoneyError, match=r"^Amount is too large\.$"):
        money.to_micros(amount)


def test_money_error_is_a_value_error():
    assert issubclass(MoneyError, ValueError)


# --- from_micros and format_amount --------------------------------------------------------------


@pytest.mark.parametrize(
    ("micros", "value"),
    [
        (0, Decimal("0.000000")),
        (1, Decimal("0.000001")),
        (-1, Decimal("-0.000001")),
        (12_500_000, Decimal("12.500000")),
        (MAX_AMOUNT_MICROS, Decimal("1000000000.000000")),
    ],
)
def test_from_micros_is_exact(micros, value):
    result = money.from_micros(micros)

    assert result == value
    assert str(result) == str(value)  # always six places


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "0.00"),
        (12_500_000, "12.50"),
        (10_000_000, "10.00"),
        (10_100_000, "10.10"),
        (1_234, "0.001234"),
        (1, "0.000001"),
        (-1, "-0.000001"),
        (1_234_560, "1.23456"),
        (1_230_000, "1.23"),
        (1_235_000, "1.235"),
        (1_200_000_100, "1200.0001"),
        (-1_500_000, "-1.50"),
        (MAX_AMOUNT_MICROS, "1000000000.00"),
        (-MAX_AMOUNT_MICROS, "-1000000000.00"),
    ],
)
def test_format_amount_shows_two_places_or_as_many_as_the_micros_need(micros, text):
    assert money.format_amount(micros) == text


@PROPERTY_SETTINGS
@given(micros=within_bounds)
def test_format_amount_round_trips_through_to_micros(micros):
    text = money.format_amount(micros)

    assert AMOUNT_PATTERN.fullmatch(text), text
    assert money.to_micros(text) == micros


@PROPERTY_SETTINGS
@given(micros=within_bounds)
def test_from_micros_round_trips_through_to_micros(micros):
    value = money.from_micros(micros)

    assert value * MICROS_PER_UNIT == micros
    assert money.to_micros(value) == micros
    assert money.to_micros(str(value)) == micros


@PROPERTY_SETTINGS
@given(amount=st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False, allow_infinity=False))
def test_every_amount_with_at_most_six_places_within_bounds_is_accepted_exactly(amount):
    micros = money.to_micros(amount)

    assert micros == amount * MICROS_PER_UNIT
    assert money.from_micros(micros) == amount


@PROPERTY_SETTINGS
@given(
    units=st.integers(min_value=-(10**9), max_value=10**9),
    extra_places=st.integers(min_value=7, max_value=18),
    last_digit=st.integers(min_value=1, max_value=9),
)
def test_every_amount_finer_than_a_micro_is_refused(units, extra_places, last_digit):
    amount = Decimal(units) + Decimal(last_digit).scaleb(-extra_places)

    with pytest.raises(MoneyError, match="decimal places"):
        money.to_micros(amount)
    with pytest.raises(MoneyError, match="decimal places"):
        money.to_micros(str(amount))


@PROPERTY_SETTINGS
@given(micros=st.integers(min_value=MAX_AMOUNT_MICROS + 1, max_value=10**21), negative=st.booleans())
def test_every_amount_beyond_the_bound_is_refused(micros, negative):
    micros = -micros if negative else micros

    with pytest.raises(MoneyError, match="too large"):
        money.to_micros(money.from_micros(micros))


# --- clock ------------------------------------------------------------------------------------

MOMENT = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)


def test_now_is_an_aware_utc_datetime_from_djangos_clock():
    before = timezone.now()
    now = clock.now()
    after = timezone.now()

    assert now.utcoffset() == timedelta(0)
    assert before <= now <= after


def test_frozen_stops_the_clock_and_restores_it_afterwards():
    with clock.frozen(MOMENT):
        assert clock.now() == MOMENT
        assert clock.now() == MOMENT

    assert abs(clock.now() - timezone.now()) < timedelta(seconds=5)


def test_frozen_refuses_a_naive_datetime_and_leaves_the_clock_alone():
    with pytest.raises(ValueError, match="aware"), clock.frozen(datetime(2026, 3, 10, 12, 0)):  # noqa: DTZ001
        pass

    assert abs(clock.now() - timezone.now()) < timedelta(seconds=5)


def test_frozen_blocks_nest_and_restore_the_outer_moment():
    later = MOMENT + timedelta(hours=5)

    with clock.frozen(MOMENT):
        with clock.frozen(later):
            assert clock.now() == later
        assert clock.now() == MOMENT


def test_frozen_restores_the_clock_when_the_block_raises():
    with pytest.raises(RuntimeError), clock.frozen(MOMENT):
        raise RuntimeError("boom")

    assert clock.now() != MOMENT
    assert abs(clock.now() - timezone.now()) < timedelta(seconds=5)


def test_use_reads_time_from_any_source():
    ticks = iter([MOMENT, MOMENT + timedelta(minutes=1)])

    with clock.use(lambda: next(ticks)):
        assert clock.now() == MOMENT
        assert clock.now() == MOMENT + timedelta(minutes=1)

    assert abs(clock.now() - timezone.now()) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("moment", "tz_name", "today"),
    [
        # 23:30 UTC on 10 March: already the 11th east of UTC, still the 10th to the west.
        (MOMENT, "UTC", date(2026, 3, 10)),
        (MOMENT, "Europe/Berlin", date(2026, 3, 11)),
        (MOMENT, "Asia/Tokyo", date(2026, 3, 11)),
        (MOMENT, "America/New_York", date(2026, 3, 10)),
        (MOMENT, "America/Los_Angeles", date(2026, 3, 10)),
        # 02:00 UTC on 11 March: Los Angeles (UTC-7 since the DST switch on 8 March) is on the 10th.
        (datetime(2026, 3, 11, 2, 0, tzinfo=UTC), "America/Los_Angeles", date(2026, 3, 10)),
        (datetime(2026, 3, 11, 2, 0, tzinfo=UTC), "Europe/Berlin", date(2026, 3, 11)),
        # Berlin's midnight in winter is 23:00 UTC; one microsecond before it is still yesterday.
        (datetime(2026, 1, 15, 22, 59, 59, 999999, tzinfo=UTC), "Europe/Berlin", date(2026, 1, 15)),
        (datetime(2026, 1, 15, 23, 0, tzinfo=UTC), "Europe/Berlin", date(2026, 1, 16)),
        # In summer (UTC+2) Berlin's midnight is 22:00 UTC.
        (datetime(2026, 7, 1, 21, 59, tzinfo=UTC), "Europe/Berlin", date(2026, 7, 1)),
        (datetime(2026, 7, 1, 22, 0, tzinfo=UTC), "Europe/Berlin", date(2026, 7, 2)),
        # The two ends of the world's clocks are two calendar days apart at the same instant.
        (datetime(2026, 3, 10, 10, 30, tzinfo=UTC), "Pacific/Kiritimati", date(2026, 3, 11)),
        (datetime(2026, 3, 10, 10, 30, tzinfo=UTC), "Pacific/Pago_Pago", date(2026, 3, 9)),
        # A frozen moment given in another zone means the same instant.
        (datetime(2026, 3, 11, 0, 30, tzinfo=ZoneInfo("Europe/Berlin")), "UTC", date(2026, 3, 10)),
    ],
)
def test_today_in_is_the_date_in_the_advertisers_time_zone(moment, tz_name, today):
    with clock.frozen(moment):
        assert clock.today_in(tz_name) == today


def test_today_in_moves_to_the_next_day_at_the_zones_midnight():
    berlin_midnight = datetime(2026, 3, 11, 0, 0, tzinfo=ZoneInfo("Europe/Berlin"))

    with clock.frozen(berlin_midnight - timedelta(seconds=1)):
        before = (clock.today_in("Europe/Berlin"), clock.today_in("UTC"))
    with clock.frozen(berlin_midnight):
        after = (clock.today_in("Europe/Berlin"), clock.today_in("UTC"))

    assert before == (date(2026, 3, 10), date(2026, 3, 10))
    assert after == (date(2026, 3, 11), date(2026, 3, 10))


def test_today_in_refuses_an_unknown_time_zone():
    with clock.frozen(MOMENT), pytest.raises(ZoneInfoNotFoundError):
        clock.today_in("Mars/Olympus_Mons")
