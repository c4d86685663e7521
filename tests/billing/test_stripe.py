"""StripeGateway against Stripe's documented wire formats, and the signed Stripe webhook.

Only the network is replaced: the official SDK builds and parses every request and response, and
talks to an `stripe.HTTPClient` that answers with the JSON Stripe documents. Webhook payloads are
signed the way Stripe signs them (`Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256 of "<t>.<payload>">`).
"""

import contextlib
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl

import pytest
import stripe
from django.core.exceptions import ValidationError

from adplatform import clock
from billing import selectors, services
from billing.gateways import ChargeResult, GatewayError, RefundResult, SandboxGateway, StripeGateway, get_gateway
from billing.models import Balance, Redemption, TopUp, Transaction
from billing.services import PaymentDeclinedError
from tests.factories import UserFactory

SECRET_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
WEBHOOK_SECRET = "whsec_test_5Ue3oVhFD4yUAw5e7vT8WqcM"
UNIT = 1_000_000
INTENT_ID = "pi_3MtwBwLkdIwHu7ix28a3tqPa"
WEBHOOK_URL = "/billing/webhooks/stripe/"


# --- the network, as Stripe documents it -------------------------------------------------------


@dataclass
class SentRequest:
    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]


class OfflineStripeHTTP(stripe.HTTPClient):
    """Stripe's HTTP layer without the network: records each request and answers from a queue."""

    name = "offline"

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[SentRequest] = []
        self.answers: list[tuple[int, dict] | Exception] = []

    def answer(self, status: int, body: dict) -> None:
        self.answers.append((status, body))

    def fail(self, error: Exception) -> None:
        self.answers.append(error)

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        self.sent.append(SentRequest(method, url, dict(headers or {}), dict(parse_qsl(post_data or ""))))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return json.dumps(body), status, {"Content-Type": "application/json", "Request-Id": "req_8NbWq5G1K3d7sC"}

    def close(self) -> None:
        pass


@pytest.fixture
def stripe_http(monkeypatch, settings) -> OfflineStripeHTTP:
    """Stripe configured with test keys; every StripeClient the app builds talks to the offline HTTP layer."""
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    http = OfflineStripeHTTP()

    class OfflineStripeClient(stripe.StripeClient):
        def __init__(self, api_key: str, **kwargs) -> None:
            super().__init__(api_key, http_client=http, **kwargs)

    monkeypatch.setattr(stripe, "StripeClient", OfflineStripeClient)
    return http


def payment_intent(*, status="succeeded", amount=10_000, currency="eur", top_up_id=None, intent_id=INTENT_ID, **extra) -> dict:
    """A PaymentIntent object as https://docs.stripe.com/api/payment_intents/object shows it."""
    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount if status == "succeeded" else 0,
        "automatic_payment_methods": {"allow_redirects": "never", "enabled": True},
        "canceled_at": None,
        "capture_method": "automatic",
        "client_secret": f"{intent_id}_secret_YrKJUKribcBjcG8HVhfZluoGH",
        "confirmation_method": "automatic",
        "created": 1680800504,
        "currency": currency,
        "customer": None,
        "description": "Adplatform balance top-up for Bakery",
        "last_payment_error": None,
        "latest_charge": "ch_3MtwBwLkdIwHu7ix28zRmJzc" if status == "succeeded" else None,
        "livemode": False,
        "metadata": {"adplatform_top_up": str(top_up_id)} if top_up_id is not None else {},
        "next_action": None,
        "payment_method": "pm_1MtwBwLkdIwHu7ixWuYGo0Jq",
        "payment_method_types": ["card"],
        "status": status,
    }
    intent.update(extra)
    return intent


def card_error(*, code: str, decline_code: str | None, message: str, top_up_id: int = 7) -> dict:
    """A card_error body (HTTP 402) as https://docs.stripe.com/api/errors shows it, with the failed PaymentIntent."""
    last_error = {
        "code": code,
        "decline_code": decline_code,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "message": message,
        "type": "card_error",
    }
    error = {
        "charge": "ch_3MtwBwLkdIwHu7ix28zRmJzc",
        "code": code,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "message": message,
        "payment_intent": payment_intent(status="requires_payment_method", top_up_id=top_up_id, last_payment_error=last_error),
        "payment_method": {"id": "pm_1MtwBwLkdIwHu7ixWuYGo0Jq", "object": "payment_method", "type": "card"},
        "request_log_url": "https://dashboard.stripe.com/test/logs/req_8NbWq5G1K3d7sC",
        "type": "card_error",
    }
    if decline_code is not None:
        error["decline_code"] = decline_code
    return {"error": error}


def refund_object(*, status="succeeded", amount=3_000) -> dict:
    """A Refund object as https://docs.stripe.com/api/refunds/object shows it."""
    return {
        "id": "re_3MtwBwLkdIwHu7ix0GkqiMEe",
        "object": "refund",
        "amount": amount,
        "balance_transaction": "txn_3MtwBwLkdIwHu7ix0qjQ1fUz",
        "charge": "ch_3MtwBwLkdIwHu7ix28zRmJzc",
        "created": 1680800900,
        "currency": "eur",
        "metadata": {},
        "payment_intent": INTENT_ID,
        "reason": None,
        "status": status,
    }


def state() -> dict[str, object]:
    return {
        "top_ups": list(
            TopUp.objects.order_by("pk").values_list("pk", "status", "gateway_reference", "transaction_id", "failure_code")
        ),
        "transactions": list(
            Transaction.objects.order_by("pk").values_list("pk", "kind", "amount_micros", "balance_after_micros")
        ),
        "balances": dict(Balance.objects.values_list("advertiser_id", "balance_micros")),
    }


# --- choosing the gateway ----------------------------------------------------------------------


def test_the_sandbox_is_the_gateway_without_stripe_keys(settings):
    settings.STRIPE_SECRET_KEY = ""

    assert isinstance(get_gateway(), SandboxGateway)


def test_stripe_is_the_gateway_when_its_key_is_set(stripe_http):
    gateway = get_gateway()

    assert isinstance(gateway, StripeGateway)
    assert gateway.name == "stripe"


# --- charges -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount_micros", "currency", "minor_units"),
    [(123_450_000, "EUR", "12345"), (5_000 * UNIT, "JPY", "5000"), (1_234_000, "KWD", "1234"), (5 * UNIT, "USD", "500")],
)
def test_charge_creates_a_confirmed_payment_intent_in_minor_units(stripe_http, amount_micros, currency, minor_units):
    stripe_http.answer(200, payment_intent(amount=int(minor_units), currency=currency.lower(), top_up_id=7))

    result = StripeGateway(SECRET_KEY).charge(
        amount_micros=amount_micros,
        currency=currency,
        payment_method="pm_card_visa",
        idempotency_key="adplatform-top-up-7",
        description="Adplatform balance top-up for Bakery",
        top_up_id=7,
    )

    assert result == ChargeResult(True, INTENT_ID)
    [sent] = stripe_http.sent
    assert (sent.method, sent.url) == ("post", "https://api.stripe.com/v1/payment_intents")
    assert sent.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.headers["Idempotency-Key"] == "adplatform-top-up-7"
    assert sent.params == {
        "amount": minor_units,
        "currency": currency.lower(),
        "payment_method": "pm_card_visa",
        "confirm": "true",
        "description": "Adplatform balance top-up for Bakery",
        "automatic_payment_methods[enabled]": "true",
        "automatic_payment_methods[allow_redirects]": "never",
        "metadata[adplatform_top_up]": "7",
    }


@pytest.mark.parametrize(
    ("code", "decline_code", "message", "expected"),
    [
        (
            "card_declined",
            "generic_decline",
            "Your card was declined.",
            ChargeResult(False, INTENT_ID, "generic_decline", "Your card was declined.", False),
        ),
        (
            "card_declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
            ChargeResult(False, INTENT_ID, "insufficient_funds", "Your card has insufficient funds.", False),
        ),
        (
            "expired_card",
            "expired_card",
            "Your card has expired.",
            ChargeResult(False, INTENT_ID, "expired_card", "Your card has expired.", True),
        ),
        (
            "incorrect_cvc",
            None,
            "Your card's security code is incorrect.",
            ChargeResult(False, INTENT_ID, "incorrect_cvc", "Your card's security code is incorrect.", False),
        ),
    ],
)
def test_charge_maps_stripes_card_errors(stripe_http, code, decline_code, message, expected):
    stripe_http.answer(402, card_error(code=code, decline_code=decline_code, message=message))

    result = StripeGateway(SECRET_KEY).charge(
        amount_micros=100 * UNIT,
        currency="EUR",
        payment_method="pm_card_chargeDeclined",
        idempotency_key="adplatform-top-up-7",
        description="Adplatform balance top-up for Bakery",
        top_up_id=7,
    )

    assert result == expected


def test_charge_turns_an_unreachable_stripe_into_a_gateway_error(stripe_http):
    stripe_http.fail(stripe.APIConnectionError("Could not connect to Stripe (api.stripe.com)."))

    with pytest.raises(GatewayError, match="Could not connect to Stripe"):
        StripeGateway(SECRET_KEY).charge(
            amount_micros=100 * UNIT,
            currency="EUR",
            payment_method="pm_card_visa",
            idempotency_key="adplatform-top-up-7",
            description="Top-up",
            top_up_id=7,
        )


def test_charge_turns_a_refused_api_key_into_a_gateway_error(stripe_http):
    stripe_http.answer(
        401,
        {"error": {"message": "Invalid API Key provided: sk_test_****7dc", "type": "invalid_request_error"}},
    )

    with pytest.raises(GatewayError, match="Invalid API Key provided"):
        StripeGateway(SECRET_KEY).charge(
            amount_micros=100 * UNIT,
            currency="EUR",
            payment_method="pm_card_visa",
            idempotency_key="adplatform-top-up-7",
            description="Top-up",
            top_up_id=7,
        )


# --- top-ups through Stripe --------------------------------------------------------------------


def test_a_top_up_through_stripe_posts_the_payment_intent(tenancy, stripe_http):
    stripe_http.answer(200, payment_intent(amount=10_000))

    record = services.top_up(
        actor=tenancy.owner,
        advertiser=tenancy.bakery,
        amount_micros=100 * UNIT,
        payment_method="pm_card_visa",
        idempotency_key="k1",
    )

    assert (record.status, record.gateway, record.gateway_reference) == ("succeeded", "stripe", INTENT_ID)
    assert (record.transaction.kind, record.transaction.amount_micros, record.transaction.balance_after_micros) == (
        "top_up",
        100 * UNIT,
        100 * UNIT,
    )
    [sent] = stripe_http.sent
    assert sent.headers["Idempotency-Key"] == f"adplatform-top-up-{record.pk}"
    assert (sent.params["amount"], sent.params["currency"], sent.params["metadata[adplatform_top_up]"]) == (
        "10000",
        "eur",
        str(record.pk),
    )
    assert sent.params["description"] == "Adplatform balance top-up for Bakery"


@pytest.mark.parametrize(
    ("code", "decline_code", "message", "status", "failure_code"),
    [
        ("card_declined", "generic_decline", "Your card was declined.", "declined", "generic_decline"),
        ("expired_card", "expired_card", "Your card has expired.", "failed", "expired_card"),
    ],
)
def test_a_top_up_stripe_declines_is_recorded_without_money(
    tenancy, stripe_http, code, decline_code, message, status, failure_code
):
    stripe_http.answer(402, card_error(code=code, decline_code=decline_code, message=message))

    with pytest.raises(PaymentDeclinedError) as refused:
        services.top_up(
            actor=tenancy.owner, advertiser=tenancy.bakery, amount_micros=100 * UNIT, payment_method="pm_card_chargeDeclined"
        )

    record = TopUp.objects.get()
    assert (refused.value.code, str(refused.value)) == (failure_code, message)
    assert (record.status, record.failure_code, record.failure_message, record.gateway_reference) == (
        status,
        failure_code,
        message,
        INTENT_ID,
    )
    assert (record.transaction_id, Transaction.objects.count(), selectors.balance_micros(tenancy.bakery)) == (None, 0, 0)


def test_a_top_up_interrupted_by_the_network_is_retried_with_the_same_stripe_key(tenancy, stripe_http):
    stripe_http.fail(stripe.APIConnectionError("Could not connect to Stripe (api.stripe.com)."))

    with pytest.raises(GatewayError):
        services.top_up(
            actor=tenancy.owner,
            advertiser=tenancy.bakery,
            amount_micros=100 * UNIT,
            payment_method="pm_card_visa",
            idempotency_key="k1",
        )

    pending = TopUp.objects.get()
    assert (pending.status, pending.transaction_id, Transaction.objects.count()) == ("pending", None, 0)

    stripe_http.answer(200, payment_intent(amount=10_000, top_up_id=pending.pk))
    record = services.top_up(
        actor=tenancy.owner,
        advertiser=tenancy.bakery,
        amount_micros=100 * UNIT,
        payment_method="pm_card_visa",
        idempotency_key="k1",
    )

    assert record.pk == pending.pk
    assert record.status == "succeeded"
    assert [sent.headers["Idempotency-Key"] for sent in stripe_http.sent] == [f"adplatform-top-up-{pending.pk}"] * 2
    assert Transaction.objects.count() == 1
    assert selectors.balance_micros(tenancy.bakery) == 100 * UNIT


def test_a_payment_intent_still_processing_leaves_the_top_up_pending_for_the_webhook(tenancy, stripe_http):
    # "processing" is not a refusal: Stripe settles it later and says so with payment_intent.succeeded or
    # payment_intent.payment_failed. Recording it as declined would drop the money that arrives afterwards.
    stripe_http.answer(200, payment_intent(status="processing", amount=10_000))

    with contextlib.suppress(PaymentDeclinedError):
        services.top_up(actor=tenancy.owner, advertiser=tenancy.bakery, amount_micros=100 * UNIT, payment_method="pm_card_visa")

    record = TopUp.objects.get()
    assert (record.status, record.gateway_reference, record.transaction_id) == ("pending", INTENT_ID, None)
    assert Transaction.objects.count() == 0


# --- refunds through Stripe --------------------------------------------------------------------


@pytest.fixture
def stripe_top_up(tenancy, stripe_http):
    stripe_http.answer(200, payment_intent(amount=10_000))
    record = services.top_up(
        actor=tenancy.owner, advertiser=tenancy.bakery, amount_micros=100 * UNIT, payment_method="pm_card_visa"
    )
    stripe_http.sent.clear()
    return record


def test_refund_creates_a_stripe_refund_against_the_payment_intent(stripe_top_up, stripe_http):
    stripe_http.answer(200, refund_object(amount=3_000))
    staff = UserFactory(email="finance@adplatform.test", is_staff=True)

    refund = services.refund_top_up(staff=staff, top_up=stripe_top_up, amount_micros=30 * UNIT, reason="Asked by the customer")

    [sent] = stripe_http.sent
    assert (sent.method, sent.url) == ("post", "https://api.stripe.com/v1/refunds")
    assert sent.params == {"payment_intent": INTENT_ID, "amount": "3000"}
    assert sent.headers["Idempotency-Key"] == f"refund:{stripe_top_up.pk}:1"
    assert (refund.kind, refund.amount_micros, refund.balance_after_micros, refund.reference) == (
        "refund",
        -30 * UNIT,
        70 * UNIT,
        "re_3MtwBwLkdIwHu7ix0GkqiMEe",
    )


def test_gateway_refund_maps_stripes_refund_status(stripe_http):
    stripe_http.answer(200, refund_object(status="pending"))
    stripe_http.answer(200, refund_object(status="failed"))
    gateway = StripeGateway(SECRET_KEY)

    pending = gateway.refund(charge_reference=INTENT_ID, amount_micros=30 * UNIT, currency="EUR", idempotency_key="refund:1:1")
    failed = gateway.refund(charge_reference=INTENT_ID, amount_micros=30 * UNIT, currency="EUR", idempotency_key="refund:1:2")

    assert pending == RefundResult(True, "re_3MtwBwLkdIwHu7ix0GkqiMEe", "pending")
    assert failed == RefundResult(False, "re_3MtwBwLkdIwHu7ix0GkqiMEe", "failed")


def test_a_refund_stripe_marks_failed_writes_nothing(stripe_top_up, stripe_http):
    stripe_http.answer(200, refund_object(status="failed"))
    staff = UserFactory(email="finance@adplatform.test", is_staff=True)
    before = state()

    with pytest.raises(ValidationError) as refused:
        services.refund_top_up(staff=staff, top_up=stripe_top_up, amount_micros=30 * UNIT, reason="Asked")

    assert refused.value.message_dict == {"top_up": ["The payment provider refused the refund: failed."]}
    assert state() == before


# --- the webhook -------------------------------------------------------------------------------


def signature(payload: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header exactly as Stripe builds it."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def event(kind: str, intent: dict, event_id: str = "evt_3MtwBwLkdIwHu7ix0ayu3xbT") -> str:
    """An Event as https://docs.stripe.com/api/events/object shows it."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": 1680800600,
            "data": {"object": intent},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": "req_8NbWq5G1K3d7sC", "idempotency_key": "adplatform-top-up-7"},
            "type": kind,
        }
    )


def deliver(client, payload: str, header: str | None):
    extra = {"HTTP_STRIPE_SIGNATURE": header} if header is not None else {}
    return client.post(WEBHOOK_URL, data=payload, content_type="application/json", **extra)


@pytest.fixture
def webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return WEBHOOK_SECRET


@pytest.fixture
def pending_top_up(tenancy):
    """A Stripe top-up whose charge call never came back: the webhook is what settles it."""
    return TopUp.objects.create(
        advertiser=tenancy.bakery,
        amount_micros=100 * UNIT,
        currency="EUR",
        payment_method="pm_card_visa",
        gateway="stripe",
        idempotency_key="k1",
        request_fingerprint=hashlib.sha256(b"100000000|pm_card_visa").hexdigest(),
        created_by=tenancy.owner,
        created_at=clock.now(),
    )


def test_payment_intent_succeeded_completes_the_top_up_once(
    client, webhook_secret, pending_top_up, tenancy, mailoutbox, django_capture_on_commit_callbacks
):
    payload = event("payment_intent.succeeded", payment_intent(amount=10_000, top_up_id=pending_top_up.pk))

    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, payload, signature(payload))

    assert response.status_code == 200
    assert response.json() == {"received": True, "handled": True, "top_up": pending_top_up.pk, "status": "succeeded"}
    record = TopUp.objects.get()
    assert (record.status, record.gateway_reference, record.receipt_number) == (
        "succeeded",
        INTENT_ID,
        f"R-{record.created_at:%Y%m}-{record.pk:08d}",
    )
    assert list(Transaction.objects.values_list("kind", "amount_micros", "balance_after_micros", "idempotency_key")) == [
        ("top_up", 100 * UNIT, 100 * UNIT, f"top-up:{record.pk}")
    ]
    assert [mail.to for mail in mailoutbox] == [["owner@example.com"]]
    before = state()

    with django_capture_on_commit_callbacks(execute=True):
        replay = deliver(client, payload, signature(payload))

    assert replay.status_code == 200
    assert replay.json() == {"received": True, "handled": True, "top_up": pending_top_up.pk, "status": "succeeded"}
    assert state() == before
    assert len(mailoutbox) == 1
    assert selectors.balance_micros(tenancy.bakery) == 100 * UNIT


def test_payment_intent_succeeded_applies_a_credit_waiting_for_the_first_top_up(client, webhook_secret, pending_top_up, tenancy):
    staff = UserFactory(email="finance@adplatform.test", is_staff=True)
    services.promo_code_create(
        staff=staff,
        code="FIRST",
        amount_micros=10 * UNIT,
        currency="EUR",
        expires_at=clock.now() + timedelta(days=1),
        requires_first_top_up=True,
    )
    services.promo_code_redeem(actor=tenancy.owner, advertiser=tenancy.bakery, code="FIRST")
    payload = event("payment_intent.succeeded", payment_intent(amount=10_000, top_up_id=pending_top_up.pk))

    response = deliver(client, payload, signature(payload))

    assert response.status_code == 200
    assert Redemption.objects.get().status == "applied"
    assert selectors.balance_micros(tenancy.bakery) == 110 * UNIT


def test_payment_intent_succeeded_finds_the_top_up_by_its_payment_intent(client, webhook_secret, pending_top_up):
    TopUp.objects.filter(pk=pending_top_up.pk).update(gateway_reference=INTENT_ID)
    payload = event("payment_intent.succeeded", payment_intent(amount=10_000))  # no metadata

    response = deliver(client, payload, signature(payload))

    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    assert Transaction.objects.count() == 1


def test_a_top_up_id_of_unicode_digits_is_not_an_id_and_the_payment_intent_finds_the_top_up(
    client, webhook_secret, pending_top_up
):
    TopUp.objects.filter(pk=pending_top_up.pk).update(gateway_reference=INTENT_ID)
    payload = event("payment_intent.succeeded", payment_intent(amount=10_000, top_up_id="²"))  # "²".isdigit() is True

    response = deliver(client, payload, signature(payload))

    assert response.status_code == 200
    assert response.json() == {"received": True, "handled": True, "top_up": pending_top_up.pk, "status": "succeeded"}
    assert Transaction.objects.count() == 1


@pytest.mark.parametrize(
    ("last_error", "status", "code", "message"),
    [
        (
            {"code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."},
            "declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
        ),
        (
            {"code": "expired_card", "decline_code": "expired_card", "message": "Your card has expired."},
            "failed",
            "expired_card",
            "Your card has expired.",
        ),
    ],
)
def test_payment_intent_payment_failed_marks_the_top_up_refused(
    client, webhook_secret, pending_top_up, last_error, status, code, message
):
    intent = payment_intent(
        status="requires_payment_method",
        amount=10_000,
        top_up_id=pending_top_up.pk,
        last_payment_error={**last_error, "type": "card_error"},
    )
    payload = event("payment_intent.payment_failed", intent)

    response = deliver(client, payload, signature(payload))

    assert response.status_code == 200
    assert response.json() == {"received": True, "handled": True, "top_up": pending_top_up.pk, "status": status}
    record = TopUp.objects.get()
    assert (record.status, record.failure_code, record.failure_message, record.gateway_reference) == (
        status,
        code,
        message,
        INTENT_ID,
    )
    assert Transaction.objects.count() == 0


def test_a_late_payment_failed_does_not_undo_a_succeeded_top_up(client, webhook_secret, pending_top_up):
    succeeded = event("payment_intent.succeeded", payment_intent(amount=10_000, top_up_id=pending_top_up.pk))
    deliver(client, succeeded, signature(succeeded))
    before = state()
    failed = event(
        "payment_intent.payment_failed",
        payment_intent(
            status="requires_payment_method", top_up_id=pending_top_up.pk, last_payment_error={"code": "card_declined"}
        ),
        event_id="evt_late",
    )

    response = deliver(client, failed, signature(failed))

    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    assert state() == before


def test_an_event_about_another_kind_of_object_is_acknowledged_and_ignored(client, webhook_secret, pending_top_up):
    before = state()
    payload = event("charge.refunded", refund_object())

    response = deliver(client, payload, signature(payload))

    assert response.status_code == 200
    assert response.json() == {"received": True, "handled": False}
    assert state() == before


def test_an_event_naming_no_stripe_top_up_is_acknowledged_and_ignored(client, settings, webhook_secret, tenancy):
    settings.STRIPE_SECRET_KEY = ""
    sandbox_top_up = services.top_up(
        actor=tenancy.owner, advertiser=tenancy.bakery, amount_micros=50 * UNIT, payment_method="pm_card_visa"
    )
    TopUp.objects.filter(pk=sandbox_top_up.pk).update(status="pending")  # a sandbox top-up is never the webhook's business
    before = state()

    for intent in (
        payment_intent(top_up_id=sandbox_top_up.pk),
        payment_intent(top_up_id=999_999),
        payment_intent(intent_id="pi_unknown"),
    ):
        payload = event("payment_intent.succeeded", intent)
        response = deliver(client, payload, signature(payload))
        assert response.status_code == 200
        assert response.json() == {"received": True, "handled": False}

    assert state() == before


def test_a_bad_signature_is_refused_and_changes_nothing(client, webhook_secret, pending_top_up):
    payload = event("payment_intent.succeeded", payment_intent(amount=10_000, top_up_id=pending_top_up.pk))
    tampered = payload.replace('"amount": 10000', '"amount": 99999999')
    before = state()

    for body, header in [
        (payload, signature(payload, secret="whsec_someone_else")),
        (tampered, signature(payload)),
        (payload, None),
        (payload, ""),
        (payload, "t=yesterday,v1=abc"),
        (payload, signature(payload).replace("v1=", "v0=")),
    ]:
        response = deliver(client, body, header)
        assert response.status_code == 400
        assert response.json() == {"error": {"code": "invalid_signature", "message": "Bad signature or payload.", "fields": {}}}

    assert state() == before
    assert TopUp.objects.get().status == "pending"


def test_a_signature_older_than_the_tolerance_is_refused(client, webhook_secret, pending_top_up):
    payload = event("payment_intent.succeeded", payment_intent(amount=10_000, top_up_id=pending_top_up.pk))
    before = state()

    response = deliver(client, payload, signature(payload, timestamp=int(time.time()) - stripe.Webhook.DEFAULT_TOLERANCE - 60))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert state() == before


def test_a_signed_body_that_is_not_json_is_refused(client, webhook_secret, pending_top_up):
    before = state()

    response = deliver(client, "not json", signature("not json"))

    assert response.status_code == 400
    assert state() == before


def test_the_webhook_is_off_without_a_webhook_secret(client, settings, pending_top_up):
    settings.STRIPE_WEBHOOK_SECRET = ""
    payload = event("payment_intent.succeeded", payment_intent(top_up_id=pending_top_up.pk))
    before = state()

    response = deliver(client, payload, signature(payload, secret=""))

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_configured", "message": "Stripe is not configured.", "fields": {}}}
    assert state() == before


def test_the_webhook_only_accepts_post(client, webhook_secret):
    assert client.get(WEBHOOK_URL).status_code == 405
