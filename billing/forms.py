"""Dashboard forms for billing. They turn what people type into service arguments; the services decide.

Money is typed as decimals in the advertiser's currency and cleaned to micros; dates are typed in the
advertiser's time zone. Fields are named like the keys of the services' ValidationErrors, so a refusal
lands on the field it is about.
"""

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.http import QueryDict

from campaigns.forms import MoneyField

from .models import Kind

# The provider's documented test payment methods the sandbox gateway answers like test mode does
# (billing.gateways.SANDBOX_OUTCOMES), with the test card numbers they stand for.
SANDBOX_CARDS = (
    ("pm_card_visa", "Visa •••• 4242 · succeeds"),
    ("pm_card_chargeDeclined", "Visa •••• 0002 · declined"),
    ("pm_card_chargeDeclinedExpiredCard", "Visa •••• 0069 · expired card"),
)
PAYMENT_METHOD_LABELS = {
    "pm_card_visa": "Visa •••• 4242 (test)",
    "pm_card_chargeDeclined": "Visa •••• 0002 (test)",
    "pm_card_chargeDeclinedExpiredCard": "Visa •••• 0069 (test)",
}
KEY_PREFIX = "web-"


def new_idempotency_key() -> str:
    """A fresh key for one rendering of the top-up form: every submit of that rendering is one payment."""
    return f"{KEY_PREFIX}{uuid.uuid4().hex}"


def payment_method_label(payment_method: str) -> str:
    return PAYMENT_METHOD_LABELS.get(payment_method, payment_method)


class TopUpForm(forms.Form):
    """Add money to the balance with a payment method; the hidden key makes a resubmit a no-op."""

    amount = MoneyField(label="Amount")
    payment_method = forms.CharField(
        label="Payment method",
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "pm_…", "autocomplete": "off"}),
        help_text="The ID of a payment method saved with the payment provider.",
    )
    idempotency_key = forms.CharField(max_length=200, min_length=8, widget=forms.HiddenInput)

    def __init__(self, *args: Any, sandbox: bool, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        kwargs.setdefault("initial", {})
        kwargs["initial"] = {"idempotency_key": new_idempotency_key(), "payment_method": "pm_card_visa", **kwargs["initial"]}
        super().__init__(*args, **kwargs)
        if sandbox:
            self.fields["payment_method"] = forms.ChoiceField(
                label="Test card",
                choices=SANDBOX_CARDS,
                help_text="A test card decides how the payment ends.",
            )
        self.fields["idempotency_key"].error_messages["required"] = "This form expired. Reload the page and try again."

    def renew_key(self) -> None:
        """Give the form shown again a new key: the old one belongs to a payment that was recorded."""
        data = self.data.copy() if isinstance(self.data, QueryDict) else dict(self.data)
        data["idempotency_key"] = new_idempotency_key()
        self.data = data

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "amount_micros": data["amount"],
            "payment_method": data["payment_method"],
            "idempotency_key": data["idempotency_key"],
        }


class PromoCodeForm(forms.Form):
    """Redeem a promotional code for ad credit."""

    code = forms.CharField(
        label="Promo code",
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "e.g. WELCOME25", "autocapitalize": "characters"}),
    )


class LowBalanceAlertForm(forms.Form):
    """The spendable amount below which the account's admins get an e-mail; empty turns the alert off."""

    low_balance_threshold = MoneyField(
        label="Alert me below", required=False, help_text="Leave empty for no alert. We e-mail the account's admins once."
    )


class TransactionFilterForm(forms.Form):
    """Which ledger rows to list or export: a kind and a date range in the advertiser's time zone (both ends included)."""

    kind = forms.ChoiceField(label="Type", choices=[("", "All types"), *Kind.choices], required=False)
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def bounds(self, time_zone: str) -> tuple[datetime | None, datetime | None]:
        """The valid date range as aware datetimes: [start of `date_from`, start of the day after `date_to`)."""
        self.is_valid()  # the fields that are valid still filter; the others show their error
        data = self.cleaned_data
        zone = ZoneInfo(time_zone)

        def midnight(day: date) -> datetime:
            return datetime.combine(day, time.min, tzinfo=zone)

        start, end = data.get("date_from"), data.get("date_to")
        # The calendar's last day has no day after it, and nothing happens after it either: no upper bound.
        return (midnight(start) if start else None, midnight(end + timedelta(days=1)) if end and end < date.max else None)

    def chosen_kind(self) -> str:
        self.is_valid()
        return str(self.cleaned_data.get("kind") or "")
