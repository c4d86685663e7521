"""Validators for the ISO and IANA codes accounts carry."""

import zoneinfo
from functools import cache

import pycountry
from django.apps import apps
from django.core.exceptions import ValidationError

# ISO 4217 also lists precious metals, fund units, testing and "no currency" codes; nobody pays in those.
NOT_MONEY = frozenset(
    {"XAG", "XAU", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XTS", "XXX"}
    | {"BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW"}
)


@cache
def iso_currency_codes() -> frozenset[str]:
    """Every ISO 4217 code of a currency (not metals, funds or test codes)."""
    return frozenset(currency.alpha_3 for currency in pycountry.currencies) - NOT_MONEY


def currency_codes() -> frozenset[str]:
    """The currencies Adplatform bills in: the active rows of accounts.Currency (staff edit them in admin)."""
    currency_model = apps.get_model("accounts", "Currency")
    return frozenset(currency_model.objects.filter(is_active=True).values_list("code", flat=True))


@cache
def time_zone_names() -> frozenset[str]:
    """Every IANA time zone name (from the pinned tzdata package)."""
    return frozenset(zoneinfo.available_timezones())


def validate_currency(value: str) -> None:
    """Accept the ISO 4217 codes Adplatform bills in, such as EUR or USD."""
    if value in currency_codes():
        return
    if value in iso_currency_codes():
        raise ValidationError("Adplatform does not bill in %(value)s yet.", code="unsupported_currency", params={"value": value})
    raise ValidationError("%(value)s is not an ISO 4217 currency code.", code="invalid_currency", params={"value": value})


def validate_time_zone(value: str) -> None:
    """Accept IANA time zone names such as Europe/Berlin."""
    if value not in time_zone_names():
        raise ValidationError("%(value)s is not an IANA time zone.", code="invalid_time_zone", params={"value": value})
