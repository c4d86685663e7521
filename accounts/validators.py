"""Validators for the ISO and IANA codes accounts carry."""

import zoneinfo
from functools import cache

import pycountry
from django.core.exceptions import ValidationError

# ISO 4217 also lists precious metals, fund units, testing and "no currency" codes; nobody pays in those.
NOT_MONEY = frozenset(
    {"XAG", "XAU", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XTS", "XXX"}
    | {"BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW"}
)


@cache
def currency_codes() -> frozenset[str]:
    """Every ISO 4217 code of a currency advertisers can pay in."""
    return frozenset(currency.alpha_3 for currency in pycountry.currencies) - NOT_MONEY


@cache
def time_zone_names() -> frozenset[str]:
    """Every IANA time zone name (from the pinned tzdata package)."""
    return frozenset(zoneinfo.available_timezones())


def validate_currency(value: str) -> None:
    """Accept ISO 4217 codes such as EUR or USD."""
    if value not in currency_codes():
        raise ValidationError("%(value)s is not an ISO 4217 currency code.", code="invalid_currency", params={"value": value})


def validate_time_zone(value: str) -> None:
    """Accept IANA time zone names such as Europe/Berlin."""
    if value not in time_zone_names():
        raise ValidationError("%(value)s is not an IANA time zone.", code="invalid_time_zone", params={"value": value})
