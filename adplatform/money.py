"""Money is integer micros of the advertiser's currency; every conversion lives here.

1.00 in any currency is 1_000_000 micros. The API shows and accepts decimal strings.
"""

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation

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
    if value.is_zero():
        return 0
    # adjusted() is the exponent of the leading digit, exact for any size: no context rounding here.
    if value.adjusted() > 15:
        raise MoneyError("Amount is too large.")
    if value.adjusted() < -MAX_DECIMAL_PLACES:
        raise MoneyError(f"Use at most {MAX_DECIMAL_PLACES} decimal places.")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMAL_PLACES:
        raise MoneyError(f"Use at most {MAX_DECIMAL_PLACES} decimal places.")
    if abs(value) * MICROS_PER_UNIT > MAX_AMOUNT_MICROS:
        raise MoneyError("Amount is too large.")
    return int(value * MICROS_PER_UNIT)


# ISO 4217 minor units where they are not two (payment providers charge in minor units).
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def minor_unit_exponent(currency: str) -> int:
    """How many decimals the currency's smallest coin has: 2 for EUR, 0 for JPY, 3 for KWD."""
    if currency in ZERO_DECIMAL_CURRENCIES:
        return 0
    if currency in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def to_minor_units(micros: int, currency: str) -> int:
    """Micros as a payment provider's integer amount (cents for EUR, yen for JPY); must divide exactly."""
    per_minor = MICROS_PER_UNIT // 10 ** minor_unit_exponent(currency)
    if micros % per_minor:
        raise MoneyError(f"{currency} amounts have at most {minor_unit_exponent(currency)} decimal places.")
    return micros // per_minor


def convert(micros: int, *, from_units_per_usd: Decimal, to_units_per_usd: Decimal) -> int:
    """Convert between two currencies through their US dollar rates, rounding down to the micro."""
    exact = Decimal(micros) * to_units_per_usd / from_units_per_usd
    return int(exact.to_integral_value(rounding=ROUND_FLOOR))


def usd_to_currency(usd_micros: int, units_per_usd: Decimal) -> int:
    """Convert US dollar micros into micros of a currency, rounding up (a converted floor is never lower)."""
    exact = Decimal(usd_micros) * units_per_usd
    return int(exact.to_integral_value(rounding=ROUND_CEILING))


# --- auction prices ------------------------------------------------------------------------------
# Auction scores are eCPM: US dollar micros per 1,000 impressions, floats because a predicted
# click-through rate is one. What is charged is always whole micros of the advertiser's currency,
# rounded down (the advertiser never pays a fraction more) and never above their own bid.
IMPRESSIONS_PER_MILLE = 1000


def bid_to_usd_ecpm(bid_micros: int, units_per_usd: float, *, per_mille_events: float = 1.0) -> float:
    """A bid in the advertiser's currency as US dollar eCPM; `per_mille_events` is pCTR x 1000 for CPC, ..."""
    return bid_micros / units_per_usd * per_mille_events


def impression_price(ecpm_usd: float, units_per_usd: float, *, cap_cpm_micros: int | None = None) -> int:
    """What one impression costs at `ecpm_usd`, in the advertiser's micros, never above the CPM cap / 1000."""
    price = int(ecpm_usd * units_per_usd) // IMPRESSIONS_PER_MILLE
    if cap_cpm_micros is not None:
        price = min(price, cap_cpm_micros // IMPRESSIONS_PER_MILLE)
    return max(price, 0)


def click_price(ecpm_usd: float, units_per_usd: float, p_ctr: float, *, bid_micros: int) -> int:
    """What one click costs when an impression is worth `ecpm_usd` and clicks come at `p_ctr`; never above the bid."""
    if p_ctr <= 0:
        return 0
    price = int(ecpm_usd * units_per_usd / (p_ctr * IMPRESSIONS_PER_MILLE))
    return max(min(price, bid_micros), 0)


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
