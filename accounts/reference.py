"""Reference data every installation needs, seeded by migrations and re-seeded by transactional tests."""

from decimal import Decimal
from typing import Any

# code, name, units per US dollar, smallest daily budget (about one dollar, rounded to a round number)
CURRENCIES = [
    ("USD", "US Dollar", "1", "1"),
    ("EUR", "Euro", "0.92", "1"),
    ("GBP", "Pound Sterling", "0.79", "1"),
    ("CHF", "Swiss Franc", "0.88", "1"),
    ("CAD", "Canadian Dollar", "1.37", "1"),
    ("AUD", "Australian Dollar", "1.52", "1.5"),
    ("NZD", "New Zealand Dollar", "1.65", "1.5"),
    ("JPY", "Yen", "150", "100"),
    ("CNY", "Yuan Renminbi", "7.2", "5"),
    ("HKD", "Hong Kong Dollar", "7.8", "5"),
    ("SGD", "Singapore Dollar", "1.34", "1"),
    ("INR", "Indian Rupee", "83", "50"),
    ("KRW", "Won", "1350", "1000"),
    ("TWD", "New Taiwan Dollar", "32", "30"),
    ("THB", "Baht", "36", "30"),
    ("IDR", "Rupiah", "15800", "15000"),
    ("MYR", "Malaysian Ringgit", "4.7", "5"),
    ("PHP", "Philippine Peso", "56", "50"),
    ("VND", "Dong", "24500", "25000"),
    ("BRL", "Brazilian Real", "5", "5"),
    ("MXN", "Mexican Peso", "17", "20"),
    ("ARS", "Argentine Peso", "900", "1000"),
    ("CLP", "Chilean Peso", "950", "1000"),
    ("COP", "Colombian Peso", "4000", "4000"),
    ("PEN", "Sol", "3.7", "4"),
    ("ZAR", "Rand", "18.5", "20"),
    ("NGN", "Naira", "1500", "1500"),
    ("KES", "Kenyan Shilling", "130", "100"),
    ("EGP", "Egyptian Pound", "48", "50"),
    ("TRY", "Turkish Lira", "32", "30"),
    ("PLN", "Zloty", "4", "4"),
    ("CZK", "Czech Koruna", "23", "25"),
    ("HUF", "Forint", "360", "400"),
    ("RON", "Romanian Leu", "4.6", "5"),
    ("SEK", "Swedish Krona", "10.5", "10"),
    ("NOK", "Norwegian Krone", "10.7", "10"),
    ("DKK", "Danish Krone", "6.9", "7"),
    ("ILS", "New Israeli Sheqel", "3.7", "4"),
    ("AED", "UAE Dirham", "3.67", "4"),
    ("SAR", "Saudi Riyal", "3.75", "4"),
    ("PKR", "Pakistan Rupee", "280", "300"),
    ("UAH", "Hryvnia", "39", "40"),
]


def seed_currencies(currency_model: Any) -> None:
    """Create or update the billing currencies (`currency_model` may be a migration's historical model)."""
    for code, name, rate, minimum in CURRENCIES:
        currency_model.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "units_per_usd": Decimal(rate),
                "min_daily_budget_micros": int(Decimal(minimum) * 1_000_000),
                "is_active": True,
            },
        )
