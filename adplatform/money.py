"""Money is integer micros of the advertiser's currency; every conversion lives here.

1.00 in any currency is 1_000_000 micros. The API shows and accepts decimal strings.
"""

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation

MICROS_PER_UNIT = 1_000_000
MICRO = Decimal("0.000001")
MAX_DECIMAL_PLACES = 6
# Large enough for any real budget, small enough to stay far inside a signed 64-bit column.
MAX_AMOUNT_MICROS = 10**15  # one billion units


class MoneyError(ValueError):
    """An amount that cannot be represented exactly in micros."""


def to_micros(amount: Decimal | str | int) -> int:
    """Parse a decimal amount ("12.50") into micros, refusing anything finer than a micro."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation as exc:
        raise MoneyError("Enter a decimal amount such as 12.50.") from exc
    if not value.is_finite():
        raise MoneyError("Enter a decimal amount such as 12.50.")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMAL_PLACES:
        raise MoneyError(f"Use at most {MAX_DECIMAL_PLACES} decimal places.")
    if abs(value) * MICROS_PER_UNIT > MAX_AMOUNT_MICROS:
        raise MoneyError("Amount is too large.")
    return int(value * MICROS_PER_UNIT)


def usd_to_currency(usd_micros: int, units_per_usd: Decimal) -> int:
    """Convert US dollar micros into micros of a currency, rounding up (a converted floor is never lower)."""
    exact = Decimal(usd_micros) * units_per_usd
    return int(exact.to_integral_value(rounding=ROUND_CEILING))


def from_micros(micros: int) -> Decimal:
    """The exact decimal value of `micros`."""
    return (Decimal(micros) / MICROS_PER_UNIT).quantize(MICRO)


def format_amount(micros: int) -> str:
    """A decimal string with two places, or more only where the micros need them: 12.50, 0.001234."""
    value = from_micros(micros)
    two_places = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if two_places == value:
        return f"{two_places:.2f}"
    return f"{value.normalize():f}"
