"""Payment gateways: the one plugin interface of the platform (sandbox by default, Stripe when configured).

A gateway charges a payment method for a top-up and refunds a charge. Both take an idempotency
key that the provider honours, so a retried request never charges twice.
"""

import hashlib
from dataclasses import dataclass
from typing import Protocol

import stripe
from django.conf import settings

from adplatform import money


class GatewayError(Exception):
    """The provider could not be reached or answered something unexpected (a retry may help)."""


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    reference: str = ""
    code: str = ""  # card_declined, expired_card, insufficient_funds, ...
    message: str = ""
    expired: bool = False
    pending: bool = False  # not final yet (processing, requires_action): a webhook settles it later


@dataclass(frozen=True)
class RefundResult:
    succeeded: bool
    reference: str = ""
    message: str = ""


class PaymentGateway(Protocol):
    name: str

    def charge(
        self,
        *,
        amount_micros: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        description: str,
        top_up_id: int,
    ) -> ChargeResult: ...

    def refund(self, *, charge_reference: str, amount_micros: int, currency: str, idempotency_key: str) -> RefundResult: ...


# Stripe's documented test payment methods (https://docs.stripe.com/testing#declined-payments).
SANDBOX_OUTCOMES = {
    "pm_card_visa": ChargeResult(succeeded=True),
    "pm_card_mastercard": ChargeResult(succeeded=True),
    "pm_card_amex": ChargeResult(succeeded=True),
    "pm_card_chargeDeclined": ChargeResult(False, code="card_declined", message="Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": ChargeResult(
        False, code="insufficient_funds", message="Your card has insufficient funds."
    ),
    "pm_card_chargeDeclinedExpiredCard": ChargeResult(False, code="expired_card", message="Your card has expired.", expired=True),
    "pm_card_chargeDeclinedIncorrectCvc": ChargeResult(
        False, code="incorrect_cvc", message="Your card's security code is incorrect."
    ),
}


class SandboxGateway:
    """Answers like the provider's test mode, without a network: for development and tests."""

    name = "sandbox"

    def charge(
        self,
        *,
        amount_micros: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        description: str,
        top_up_id: int,
    ) -> ChargeResult:
        outcome = SANDBOX_OUTCOMES.get(payment_method)
        if outcome is None:
            return ChargeResult(False, code="invalid_payment_method", message=f"No such payment method: {payment_method}.")
        reference = "sandbox_pi_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        return ChargeResult(outcome.succeeded, reference, outcome.code, outcome.message, outcome.expired)

    def refund(self, *, charge_reference: str, amount_micros: int, currency: str, idempotency_key: str) -> RefundResult:
        return RefundResult(True, "sandbox_re_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24])


class StripeGateway:
    """Stripe through its official SDK: PaymentIntents confirmed at once, refunds against them."""

    name = "stripe"

    def __init__(self, api_key: str) -> None:
        self.client = stripe.StripeClient(api_key)

    def charge(
        self,
        *,
        amount_micros: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        description: str,
        top_up_id: int,
    ) -> ChargeResult:
        try:
            intent = self.client.v1.payment_intents.create(
                params={
                    "amount": money.to_minor_units(amount_micros, currency),
                    "currency": currency.lower(),
                    "payment_method": payment_method,
                    "confirm": True,
                    "description": description,
                    "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
                    "metadata": {"adplatform_top_up": str(top_up_id)},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as exc:
            error = exc.error
            code = (error.decline_code if error and error.decline_code else None) or exc.code or "card_declined"
            return ChargeResult(
                False,
                getattr(error.payment_intent, "id", "") if error else "",
                code,
                exc.user_message or str(exc),
                code == "expired_card",
            )
        except stripe.StripeError as exc:
            raise GatewayError(str(exc)) from exc
        if intent.status == "succeeded":
            return ChargeResult(True, intent.id)
        if intent.status in ("processing", "requires_action", "requires_confirmation", "requires_capture"):
            return ChargeResult(
                False, intent.id, intent.status, f"The payment is {intent.status.replace('_', ' ')}.", pending=True
            )
        return ChargeResult(False, intent.id, intent.status, f"The payment is {intent.status.replace('_', ' ')}.")

    def refund(self, *, charge_reference: str, amount_micros: int, currency: str, idempotency_key: str) -> RefundResult:
        try:
            refund = self.client.v1.refunds.create(
                params={"payment_intent": charge_reference, "amount": money.to_minor_units(amount_micros, currency)},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise GatewayError(str(exc)) from exc
        return RefundResult(refund.status in ("succeeded", "pending"), refund.id, refund.status or "")


def get_gateway() -> PaymentGateway:
    """Stripe when STRIPE_SECRET_KEY is set, else the sandbox."""
    if settings.STRIPE_SECRET_KEY:
        return StripeGateway(settings.STRIPE_SECRET_KEY)
    return SandboxGateway()
