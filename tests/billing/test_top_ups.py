"""billing top-ups (sandbox gateway), refunds and promotional credits: outcomes, validation, roles, idempotency."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import Role
from adplatform import clock
from billing import selectors, services
from billing.gateways import GatewayError, RefundResult, SandboxGateway
from billing.models import Balance, PromoCode, Redemption, TopUp, Transaction
from billing.services import IdempotencyConflictError, PaymentDeclinedError
from tests.factories import AdvertiserFactory, MembershipFactory, UserFactory

MOMENT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
UNIT = 1_000_000  # micros in 1.00


# --- fixtures and helpers ----------------------------------------------------------------------


class RecordingSandbox(SandboxGateway):
    """The sandbox gateway, remembering every call it got (the provider is the outside world)."""

    def __init__(self) -> None:
        self.charges: list[dict] = []
        self.refunds: list[dict] = []

    def charge(self, **kwargs):
        self.charges.append(kwargs)
        return super().charge(**kwargs)

    def refund(self, **kwargs):
        self.refunds.append(kwargs)
        return super().refund(**kwargs)


class RefusingGateway(RecordingSandbox):
    """A provider that refuses every refund."""

    def refund(self, **kwargs):
        self.refunds.append(kwargs)
        return RefundResult(False, message="charge_already_refunded")


class UnreachableGateway(RecordingSandbox):
    """A provider that cannot be reached for refunds."""

    def refund(self, **kwargs):
        self.refunds.append(kwargs)
        raise GatewayError("Connection reset by peer")


@pytest.fixture
def gateway(monkeypatch):
    recording = RecordingSandbox()
    monkeypatch.setattr(services, "get_gateway", lambda: recording)
    return recording


@pytest.fixture
def staff(db):
    return UserFactory(email="finance@adplatform.test", is_staff=True)


@pytest.fixture
def yen(db):
    advertiser = AdvertiserFactory(name="Tokyo Ramen", currency="JPY", time_zone="Asia/Tokyo")
    owner = MembershipFactory(advertiser=advertiser, user__email="ramen@example.com").user
    return advertiser, owner


def state() -> dict[str, object]:
    """Every row the top-up, refund and promo services write."""
    return {
        "top_ups": list(
            TopUp.objects.order_by("pk").values_list("pk", "status", "transaction_id", "receipt_number", "failure_code")
        ),
        "transactions": list(
            Transaction.objects.order_by("pk").values_list("pk", "advertiser_id", "kind", "amount_micros", "balance_after_micros")
        ),
        "balances": dict(Balance.objects.values_list("advertiser_id", "balance_micros")),
        "promo_codes": list(PromoCode.objects.order_by("pk").values_list("pk", "code", "amount_micros", "currency")),
        "redemptions": list(Redemption.objects.order_by("pk").values_list("pk", "advertiser_id", "status", "transaction_id")),
    }


def top_up(tenancy, amount=100 * UNIT, payment_method="pm_card_visa", key=None, advertiser=None, actor=None):
    return services.top_up(
        actor=actor or tenancy.owner,
        advertiser=advertiser or tenancy.bakery,
        amount_micros=amount,
        payment_method=payment_method,
        idempotency_key=key,
    )


def promo(staff, code="WELCOME20", amount=20 * UNIT, currency="EUR", **kwargs):
    kwargs.setdefault("expires_at", MOMENT + timedelta(days=30))
    with clock.frozen(MOMENT):
        return services.promo_code_create(staff=staff, code=code, amount_micros=amount, currency=currency, **kwargs)


def sandbox_reference(prefix: str, key: str) -> str:
    return prefix + hashlib.sha256(key.encode()).hexdigest()[:24]


# --- successful top-ups ------------------------------------------------------------------------


def test_top_up_with_visa_posts_the_money_and_mails_a_receipt(tenancy, gateway, mailoutbox, django_capture_on_commit_callbacks):
    with clock.frozen(MOMENT), django_capture_on_commit_callbacks(execute=True):
        record = top_up(tenancy, amount=123_450_000, key="client-key-1")

    record.refresh_from_db()
    receipt = f"R-202603-{record.pk:08d}"
    assert (record.status, record.amount_micros, record.currency, record.gateway, record.payment_method) == (
        "succeeded",
        123_450_000,
        "EUR",
        "sandbox",
        "pm_card_visa",
    )
    assert (record.receipt_number, record.idempotency_key, record.created_by_id, record.completed_at) == (
        receipt,
        "client-key-1",
        tenancy.owner.pk,
        MOMENT,
    )
    assert record.gateway_reference == sandbox_reference("sandbox_pi_", f"adplatform-top-up-{record.pk}")
    assert (record.failure_code, record.failure_message) == ("", "")
    assert gateway.charges == [
        {
            "amount_micros": 123_450_000,
            "currency": "EUR",
            "payment_method": "pm_card_visa",
            "idempotency_key": f"adplatform-top-up-{record.pk}",
            "description": "Adplatform balance top-up for Bakery",
            "top_up_id": record.pk,
        }
    ]
    posted = record.transaction
    assert (posted.kind, posted.amount_micros, posted.balance_after_micros, posted.reference, posted.idempotency_key) == (
        "top_up",
        123_450_000,
        123_450_000,
        receipt,
        f"top-up:{record.pk}",
    )
    assert (posted.created_by_id, posted.created_at) == (tenancy.owner.pk, MOMENT)
    assert selectors.balance_micros(tenancy.bakery) == 123_450_000
    assert [(mail.subject, mail.to, mail.body) for mail in mailoutbox] == [
        (
            f"Adplatform receipt {receipt}: 123.45 EUR",
            ["owner@example.com"],
            (
                f"Receipt {receipt}\n\nAdvertiser: Bakery\nAmount: 123.45 EUR\nPaid with: pm_card_visa\n"
                "Date: 2026-03-10 12:00 UTC\n\nThank you."
            ),
        )
    ]


def test_top_up_by_an_agency_admin_adds_to_the_client_balance(tenancy, gateway, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = top_up(tenancy, amount=50 * UNIT, advertiser=tenancy.client_a1, actor=tenancy.agent_a)
        second = top_up(
            tenancy, amount=25 * UNIT, advertiser=tenancy.client_a1, actor=tenancy.agent_a, payment_method="pm_card_amex"
        )

    assert [first.transaction.balance_after_micros, second.transaction.balance_after_micros] == [50 * UNIT, 75 * UNIT]
    assert selectors.balance_micros(tenancy.client_a1) == 75 * UNIT
    assert [mail.to for mail in mailoutbox] == [["agent.a@example.com"], ["agent.a@example.com"]]


@pytest.mark.parametrize(
    ("currency", "amount"),
    [
        ("EUR", 5 * UNIT),  # the smallest: five smallest daily budgets of 1.00
        ("EUR", 1_000_000 * UNIT),  # the largest
        ("JPY", 500 * UNIT),  # the smallest in yen: five times 100
        ("JPY", 12_345 * UNIT),
    ],
)
def test_top_up_accepts_the_boundaries(db, gateway, currency, amount):
    advertiser = AdvertiserFactory(currency=currency)
    owner = MembershipFactory(advertiser=advertiser).user

    record = services.top_up(actor=owner, advertiser=advertiser, amount_micros=amount, payment_method="pm_card_visa")

    assert record.status == "succeeded"
    assert selectors.balance_micros(advertiser) == amount
    assert gateway.charges[0]["amount_micros"] == amount


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "payment_method", "errors"),
    [
        (4_990_000, "pm_card_visa", {"amount": ["The smallest top-up is 5.00 EUR."]}),
        (0, "pm_card_visa", {"amount": ["The smallest top-up is 5.00 EUR."]}),
        (-100 * UNIT, "pm_card_visa", {"amount": ["The smallest top-up is 5.00 EUR."]}),
        (1_000_000 * UNIT + 10_000, "pm_card_visa", {"amount": ["The largest top-up is 1000000.00 EUR."]}),
        (10**18, "pm_card_visa", {"amount": ["The largest top-up is 1000000.00 EUR."]}),
        (5_000_001, "pm_card_visa", {"amount": ["EUR amounts have at most 2 decimal places."]}),
        (12_345_000, "pm_card_visa", {"amount": ["EUR amounts have at most 2 decimal places."]}),
        (100 * UNIT, "", {"payment_method": ["Give a payment method, e.g. pm_card_visa."]}),
        (100 * UNIT, "p" * 201, {"payment_method": ["Give a payment method, e.g. pm_card_visa."]}),
        (
            1 * UNIT,
            "",
            {"amount": ["The smallest top-up is 5.00 EUR."], "payment_method": ["Give a payment method, e.g. pm_card_visa."]},
        ),
    ],
)
def test_top_up_refuses_bad_input_and_writes_nothing(tenancy, gateway, amount, payment_method, errors):
    before = state()

    with pytest.raises(ValidationError) as refused:
        top_up(tenancy, amount=amount, payment_method=payment_method)

    assert refused.value.message_dict == errors
    assert state() == before
    assert gateway.charges == []


@pytest.mark.parametrize(
    ("amount", "errors"),
    [
        (499 * UNIT, {"amount": ["The smallest top-up is 500.00 JPY."]}),
        (500_500_000, {"amount": ["JPY amounts have at most 0 decimal places."]}),
        (1_000 * UNIT + 1, {"amount": ["JPY amounts have at most 0 decimal places."]}),
    ],
)
def test_top_up_in_yen_refuses_amounts_below_the_minimum_or_with_decimals(yen, gateway, amount, errors):
    advertiser, owner = yen
    before = state()

    with pytest.raises(ValidationError) as refused:
        services.top_up(actor=owner, advertiser=advertiser, amount_micros=amount, payment_method="pm_card_visa")

    assert refused.value.message_dict == errors
    assert state() == before
    assert gateway.charges == []


# --- declined and failed payments --------------------------------------------------------------


@pytest.mark.parametrize(
    ("payment_method", "status", "code", "message", "charged"),
    [
        ("pm_card_chargeDeclined", "declined", "card_declined", "Your card was declined.", True),
        ("pm_card_chargeDeclinedInsufficientFunds", "declined", "insufficient_funds", "Your card has insufficient funds.", True),
        ("pm_card_chargeDeclinedIncorrectCvc", "declined", "incorrect_cvc", "Your card's security code is incorrect.", True),
        ("pm_card_chargeDeclinedExpiredCard", "failed", "expired_card", "Your card has expired.", True),
        ("pm_card_unknown", "declined", "invalid_payment_method", "No such payment method: pm_card_unknown.", False),
    ],
)
def test_a_refused_payment_is_recorded_and_moves_no_money(
    tenancy, gateway, mailoutbox, django_capture_on_commit_callbacks, payment_method, status, code, message, charged
):
    with clock.frozen(MOMENT), django_capture_on_commit_callbacks(execute=True), pytest.raises(PaymentDeclinedError) as refused:
        top_up(tenancy, payment_method=payment_method)

    assert (refused.value.code, str(refused.value)) == (code, message)
    record = TopUp.objects.get()
    assert refused.value.top_up.pk == record.pk
    assert (record.status, record.failure_code, record.failure_message, record.completed_at) == (status, code, message, MOMENT)
    assert (record.transaction_id, record.receipt_number) == (None, None)
    # an unknown payment method never reaches a payment, so there is no provider reference
    expected_reference = sandbox_reference("sandbox_pi_", f"adplatform-top-up-{record.pk}") if charged else ""
    assert record.gateway_reference == expected_reference
    assert Transaction.objects.count() == 0
    assert selectors.balance_micros(tenancy.bakery) == 0
    assert mailoutbox == []


def test_retrying_a_declined_top_up_with_its_key_returns_the_same_refusal(tenancy, gateway):
    with pytest.raises(PaymentDeclinedError):
        top_up(tenancy, payment_method="pm_card_chargeDeclined", key="retry-me")
    before = state()

    with pytest.raises(PaymentDeclinedError) as again:
        top_up(tenancy, payment_method="pm_card_chargeDeclined", key="retry-me")

    assert again.value.code == "card_declined"
    assert state() == before
    assert len(gateway.charges) == 1


# --- idempotency -------------------------------------------------------------------------------


def test_a_repeated_idempotency_key_returns_the_first_top_up_without_charging_again(
    tenancy, gateway, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = top_up(tenancy, key="client-key-1")
    before = state()

    with django_capture_on_commit_callbacks(execute=True):
        again = top_up(tenancy, key="client-key-1")

    assert again.pk == first.pk
    assert again.status == "succeeded"
    assert state() == before
    assert len(gateway.charges) == 1
    assert len(mailoutbox) == 1
    assert selectors.balance_micros(tenancy.bakery) == 100 * UNIT


@pytest.mark.parametrize(("amount", "payment_method"), [(101 * UNIT, "pm_card_visa"), (100 * UNIT, "pm_card_mastercard")])
def test_a_reused_idempotency_key_for_another_top_up_is_refused(tenancy, gateway, amount, payment_method):
    top_up(tenancy, key="client-key-1")
    before = state()

    with pytest.raises(IdempotencyConflictError, match=r"^This Idempotency-Key was already used for a different top-up\.$"):
        top_up(tenancy, amount=amount, payment_method=payment_method, key="client-key-1")

    assert state() == before
    assert len(gateway.charges) == 1


def test_the_same_idempotency_key_on_two_advertisers_gives_two_top_ups(tenancy, gateway):
    bakery_top_up = top_up(tenancy, key="client-key-1")
    client_top_up = top_up(tenancy, key="client-key-1", advertiser=tenancy.client_a1, actor=tenancy.agent_a)

    assert bakery_top_up.pk != client_top_up.pk
    assert (selectors.balance_micros(tenancy.bakery), selectors.balance_micros(tenancy.client_a1)) == (100 * UNIT, 100 * UNIT)


def test_two_top_ups_without_a_key_at_the_same_instant_are_two_payments(tenancy, gateway):
    # No Idempotency-Key means the client asked for no deduplication; a stopped clock (the simulator) must not merge them.
    with clock.frozen(MOMENT):
        first = top_up(tenancy)
        second = top_up(tenancy)

    assert first.pk != second.pk
    assert selectors.balance_micros(tenancy.bakery) == 200 * UNIT


# --- roles -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ANALYST])
def test_only_admins_may_top_up(tenancy, gateway, role):
    member = MembershipFactory(advertiser=tenancy.bakery, user__email=f"new.{role}@example.com", role=role).user
    before = state()

    with pytest.raises(PermissionDenied):
        top_up(tenancy, actor=member)

    assert state() == before
    assert gateway.charges == []


@pytest.mark.parametrize("who", ["stranger", "agent_b", "staff"])
def test_outsiders_may_not_top_up(tenancy, gateway, staff, who):
    actor = staff if who == "staff" else getattr(tenancy, who)
    before = state()

    with pytest.raises(PermissionDenied):
        top_up(tenancy, actor=actor)

    assert state() == before
    assert gateway.charges == []


# --- refunds -----------------------------------------------------------------------------------


def test_refund_returns_part_of_a_top_up_to_its_payment_method(tenancy, gateway, staff):
    record = top_up(tenancy, amount=100 * UNIT)

    with clock.frozen(MOMENT):
        refund = services.refund_top_up(staff=staff, top_up=record, amount_micros=30 * UNIT, reason="  Asked by the customer ")

    key = f"refund:{record.pk}:1"
    assert (refund.kind, refund.amount_micros, refund.balance_after_micros, refund.refund_of_id) == (
        "refund",
        -30 * UNIT,
        70 * UNIT,
        record.transaction_id,
    )
    assert (refund.idempotency_key, refund.reference, refund.reason, refund.created_by_id, refund.created_at) == (
        key,
        sandbox_reference("sandbox_re_", key),
        "Asked by the customer",
        staff.pk,
        MOMENT,
    )
    assert gateway.refunds == [
        {"charge_reference": record.gateway_reference, "amount_micros": 30 * UNIT, "currency": "EUR", "idempotency_key": key}
    ]
    assert (selectors.refunded_micros(record), selectors.refundable_micros(record)) == (30 * UNIT, 70 * UNIT)


def test_partial_refunds_add_up_to_the_top_up_and_no_further(tenancy, gateway, staff):
    record = top_up(tenancy, amount=100 * UNIT)
    top_up(tenancy, amount=50 * UNIT)  # a second top-up: the balance is not what limits here

    first = services.refund_top_up(staff=staff, top_up=record, amount_micros=30 * UNIT, reason="Part one")
    second = services.refund_top_up(staff=staff, top_up=record, amount_micros=70 * UNIT, reason="Part two")
    before = state()

    with pytest.raises(ValidationError) as refused:
        services.refund_top_up(staff=staff, top_up=record, amount_micros=10_000, reason="One cent more")

    assert refused.value.message_dict == {"amount": ["At most 0.00 EUR can be refunded (unspent and not yet refunded)."]}
    assert state() == before
    assert [first.idempotency_key, second.idempotency_key] == [f"refund:{record.pk}:1", f"refund:{record.pk}:2"]
    assert [first.balance_after_micros, second.balance_after_micros] == [120 * UNIT, 50 * UNIT]
    assert selectors.refunded_micros(record) == 100 * UNIT
    assert len(gateway.refunds) == 2


def test_refund_above_the_top_up_is_refused(tenancy, gateway, staff):
    record = top_up(tenancy, amount=100 * UNIT)
    top_up(tenancy, amount=500 * UNIT)
    before = state()

    with pytest.raises(ValidationError) as refused:
        services.refund_top_up(staff=staff, top_up=record, amount_micros=100 * UNIT + 1, reason="Too much")

    assert refused.value.message_dict == {"amount": ["At most 100.00 EUR can be refunded (unspent and not yet refunded)."]}
    assert state() == before
    assert gateway.refunds == []


def test_refund_never_returns_more_than_the_unspent_balance(tenancy, gateway, staff):
    record = top_up(tenancy, amount=100 * UNIT)
    services.record_spend(advertiser=tenancy.bakery, amount_micros=80 * UNIT, idempotency_key="spend:1")
    before = state()

    with pytest.raises(ValidationError) as refused:
        services.refund_top_up(staff=staff, top_up=record, amount_micros=20 * UNIT + 10_000, reason="Unspent")

    assert refused.value.message_dict == {"amount": ["At most 20.00 EUR can be refunded (unspent and not yet refunded)."]}
    assert state() == before

    refund = services.refund_top_up(staff=staff, top_up=record, amount_micros=20 * UNIT, reason="Unspent")

    assert refund.balance_after_micros == 0
    assert selectors.refundable_micros(record) == 0


def test_nothing_is_refundable_when_spend_took_the_balance_below_zero(tenancy, gateway, staff):
    record = top_up(tenancy, amount=100 * UNIT)
    services.record_spend(advertiser=tenancy.bakery, amount_micros=100 * UNIT + 1, idempotency_key="spend:1")
    before = state()

    with pytest.raises(ValidationError) as refused:
        services.refund_top_up(staff=staff, top_up=record, amount_micros=1, reason="Anything")

    assert refused.value.message_dict == {"amount": ["At most 0.00 EUR can be refunded (unspent and not yet refunded)."]}
    assert selectors.refundable_micros(record) == 0
    assert state() == before


@pytest.mark.parametrize(
    ("amount", "reason", "errors"),
    [
        (0, "Why", {"amount": ["Enter an amount above zero."]}),
        (-5 * UNIT, "Why", {"amount": ["Enter an amount above zero."]}),
        (5 * UNIT, "  ", {"reason": ["Say why."]}),
    ],
)
def test_refund_refuses_bad_input(tenancy, gateway, staff, amount, reason, errors):
    record = top_up(tenancy, amount=100 * UNIT)
    before = state()

    with pytest.raises(ValidationError) as refused:
        services.refund_top_up(staff=staff, top_up=record, amount_micros=amount, reason=reason)

    assert refused.value.message_dict == errors
    assert state() == before
    assert gateway.refunds == []


def test_a_refund_in_fractions_of_a_cent_is_refused(tenancy, gateway, staff):
    # A provider refunds whole cents (Stripe's amount is an integer of minor units), as top-ups are charged.
    record = top_up(tenancy, amount=100 * UNIT)
    before = state()

    with pytest.raises(ValidationError) as refused:
        services.refund_top_up(staff=staff, top_up=record, amount_micros=10_005_000, reason="Ten euros and half a cent")

    assert list(refused.value.message_dict) == ["amount"]
    assert state() == before
    assert gateway.refunds == []


def test_a_declined_top_up_cannot_be_refunded(tenancy, gateway, staff):
    top_up(tenancy, amount=100 * UNIT)
    with pytest.raises(PaymentDeclinedError) as declined:
        top_up(tenancy, amount=100 * UNIT, payment_method="pm_card_chargeDeclined")
    before = state()

    with pytest.raises(ValidationError) as refused:
        services.refund_top_up(staff=staff, top_up=declined.value.top_up, amount_micros=10 * UNIT, reason="Why")

    assert refused.value.message_dict == {"top_up": ["Only a successful top-up can be refunded."]}
    assert state() == before
    assert gateway.refunds == []


def test_only_staff_may_refund(tenancy, gateway):
    record = top_up(tenancy, amount=100 * UNIT)
    before = state()

    with pytest.raises(PermissionDenied):
        services.refund_top_up(staff=tenancy.owner, top_up=record, amount_micros=10 * UNIT, reason="Mine")

    assert state() == before
    assert gateway.refunds == []


def test_a_refund_the_provider_refuses_writes_nothing(tenancy, monkeypatch, staff):
    refusing = RefusingGateway()
    monkeypatch.setattr(services, "get_gateway", lambda: refusing)
    record = top_up(tenancy, amount=100 * UNIT)
    before = state()

    with pytest.raises(ValidationError) as refused:
        services.refund_top_up(staff=staff, top_up=record, amount_micros=10 * UNIT, reason="Asked")

    assert refused.value.message_dict == {"top_up": ["The payment provider refused the refund: charge_already_refunded."]}
    assert len(refusing.refunds) == 1
    assert state() == before


def test_a_refund_the_provider_never_answers_writes_nothing(tenancy, monkeypatch, staff):
    unreachable = UnreachableGateway()
    monkeypatch.setattr(services, "get_gateway", lambda: unreachable)
    record = top_up(tenancy, amount=100 * UNIT)
    before = state()

    with pytest.raises(GatewayError, match="Connection reset by peer"):
        services.refund_top_up(staff=staff, top_up=record, amount_micros=10 * UNIT, reason="Asked")

    assert state() == before


# --- promo codes: creating ---------------------------------------------------------------------


def test_promo_code_create_stores_the_code_in_upper_case(staff):
    code = promo(staff, code="  spring_sale-25 ", amount=25 * UNIT, currency="USD", max_redemptions=100, description="Spring")

    assert (code.code, code.amount_micros, code.currency, code.expires_at, code.max_redemptions, code.is_active) == (
        "SPRING_SALE-25",
        25 * UNIT,
        "USD",
        MOMENT + timedelta(days=30),
        100,
        True,
    )
    assert (code.requires_first_top_up, code.description, code.created_by_id) == (False, "Spring", staff.pk)


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"code": ""}, {"code": ["Use up to 40 letters, digits, - and _."]}),
        ({"code": "BLACK FRIDAY"}, {"code": ["Use up to 40 letters, digits, - and _."]}),
        ({"code": "ÄPFEL"}, {"code": ["Use up to 40 letters, digits, - and _."]}),
        ({"code": "SAVE$5"}, {"code": ["Use up to 40 letters, digits, - and _."]}),
        ({"code": "A" * 41}, {"code": ["Use up to 40 letters, digits, - and _."]}),
        ({"code": "existing"}, {"code": ["This code exists already."]}),
        ({"amount": 0}, {"amount": ["Enter an amount above zero."]}),
        ({"amount": -5 * UNIT}, {"amount": ["Enter an amount above zero."]}),
        ({"amount": 10**15 + 1}, {"amount": ["Enter an amount above zero."]}),
        ({"currency": "XYZ"}, {"currency": ["Adplatform does not bill in XYZ."]}),
        ({"currency": "eur"}, {"currency": ["Adplatform does not bill in eur."]}),
        ({"expires_at": MOMENT}, {"expires_at": ["The expiry must be in the future."]}),
        ({"expires_at": MOMENT - timedelta(days=1)}, {"expires_at": ["The expiry must be in the future."]}),
        ({"max_redemptions": 0}, {"max_redemptions": ["At least one, or empty for no limit."]}),
        (
            {"code": "", "amount": 0, "currency": "ZZZ"},
            {
                "code": ["Use up to 40 letters, digits, - and _."],
                "amount": ["Enter an amount above zero."],
                "currency": ["Adplatform does not bill in ZZZ."],
            },
        ),
    ],
)
def test_promo_code_create_refuses_bad_input_and_writes_nothing(staff, overrides, errors):
    promo(staff, code="EXISTING")
    before = state()

    with pytest.raises(ValidationError) as refused:
        promo(staff, **{"code": "NEW", **overrides})

    assert refused.value.message_dict == errors
    assert state() == before


@pytest.mark.parametrize(("amount", "currency"), [(10_005_000, "EUR"), (100_500_000, "JPY"), (1, "USD")])
def test_promo_code_create_refuses_fractions_of_the_currencys_smallest_coin(staff, amount, currency):
    # A credit never has fractions of a coin: not after conversion, and not in the code's own currency either.
    before = state()

    with pytest.raises(ValidationError) as refused:
        promo(staff, amount=amount, currency=currency)

    assert list(refused.value.message_dict) == ["amount"]
    assert state() == before


def test_promo_code_create_is_for_staff_only(tenancy):
    before = state()

    with pytest.raises(PermissionDenied):
        promo(tenancy.owner)

    assert state() == before


# --- promo codes: redeeming --------------------------------------------------------------------


def test_redeeming_a_code_credits_the_account_at_once(tenancy, staff):
    code = promo(staff)

    with clock.frozen(MOMENT):
        redemption = services.promo_code_redeem(actor=tenancy.owner, advertiser=tenancy.bakery, code="  welcome20 ")

    posted = redemption.transaction
    assert (redemption.status, redemption.amount_micros, redemption.redeemed_by_id) == ("applied", 20 * UNIT, tenancy.owner.pk)
    assert (posted.kind, posted.amount_micros, posted.balance_after_micros, posted.reference, posted.idempotency_key) == (
        "credit",
        20 * UNIT,
        20 * UNIT,
        "WELCOME20",
        f"credit:{code.pk}:{tenancy.bakery.pk}",
    )
    assert selectors.balance_micros(tenancy.bakery) == 20 * UNIT


def test_a_first_top_up_code_waits_for_the_first_top_up(tenancy, gateway, staff):
    promo(staff, requires_first_top_up=True)

    with clock.frozen(MOMENT):
        redemption = services.promo_code_redeem(actor=tenancy.owner, advertiser=tenancy.bakery, code="WELCOME20")
    assert (redemption.status, redemption.transaction_id) == ("pending", None)
    assert Transaction.objects.count() == 0

    with pytest.raises(PaymentDeclinedError):
        top_up(tenancy, amount=50 * UNIT, payment_method="pm_card_chargeDeclined")
    redemption.refresh_from_db()
    assert (redemption.status, Transaction.objects.count()) == ("pending", 0)

    top_up(tenancy, amount=50 * UNIT)

    redemption.refresh_from_db()
    assert redemption.status == "applied"
    assert list(Transaction.objects.order_by("pk").values_list("kind", "amount_micros", "balance_after_micros")) == [
        ("top_up", 50 * UNIT, 50 * UNIT),
        ("credit", 20 * UNIT, 70 * UNIT),
    ]
    assert redemption.transaction.kind == "credit"

    top_up(tenancy, amount=50 * UNIT)  # a later top-up applies nothing again

    assert selectors.balance_micros(tenancy.bakery) == 120 * UNIT
    assert Transaction.objects.filter(kind="credit").count() == 1


def test_a_first_top_up_code_is_applied_at_once_after_a_top_up(tenancy, gateway, staff):
    top_up(tenancy, amount=50 * UNIT)
    promo(staff, requires_first_top_up=True)

    with clock.frozen(MOMENT):
        redemption = services.promo_code_redeem(actor=tenancy.owner, advertiser=tenancy.bakery, code="WELCOME20")

    assert redemption.status == "applied"
    assert redemption.transaction.balance_after_micros == 70 * UNIT


@pytest.mark.parametrize(
    ("code_currency", "code_amount", "advertiser_currency", "credited"),
    [
        ("USD", 25 * UNIT, "EUR", 23 * UNIT),  # 25 x 0.92
        ("EUR", 10 * UNIT, "USD", 10_860_000),  # 10.8695... rounded down to the cent
        ("EUR", 10 * UNIT, "JPY", 1_630 * UNIT),  # 1630.43... rounded down to the yen
        ("JPY", 1_000 * UNIT, "USD", 6_660_000),  # 6.666... -> 6.66
        ("USD", 33_330_000, "GBP", 26_330_000),  # 26.3307 -> 26.33
        ("GBP", 1 * UNIT, "JPY", 189 * UNIT),  # 189.87... -> 189
        ("USD", 1 * UNIT, "KRW", 1_350 * UNIT),  # zero-decimal, exact
        ("JPY", 150 * UNIT, "USD", 1 * UNIT),  # exact
    ],
)
def test_a_code_in_another_currency_credits_the_converted_amount_in_whole_minor_units(
    staff, code_currency, code_amount, advertiser_currency, credited
):
    advertiser = AdvertiserFactory(currency=advertiser_currency)
    owner = MembershipFactory(advertiser=advertiser).user
    promo(staff, code="TRAVEL", amount=code_amount, currency=code_currency)

    with clock.frozen(MOMENT):
        redemption = services.promo_code_redeem(actor=owner, advertiser=advertiser, code="TRAVEL")

    assert redemption.amount_micros == credited
    assert (redemption.transaction.amount_micros, redemption.transaction.currency) == (credited, advertiser_currency)
    assert selectors.balance_micros(advertiser) == credited


def test_a_code_worth_less_than_one_coin_is_refused(staff):
    advertiser = AdvertiserFactory(currency="USD")
    owner = MembershipFactory(advertiser=advertiser).user
    promo(staff, code="ONEYEN", amount=1 * UNIT, currency="JPY")  # 0.0066 USD
    before = state()

    with clock.frozen(MOMENT), pytest.raises(ValidationError) as refused:
        services.promo_code_redeem(actor=owner, advertiser=advertiser, code="ONEYEN")

    assert refused.value.message_dict == {"code": ["This code is worth nothing in your currency."]}
    assert state() == before


def test_redeeming_an_unknown_code_is_refused(tenancy, staff):
    promo(staff)
    before = state()

    with clock.frozen(MOMENT), pytest.raises(ValidationError) as refused:
        services.promo_code_redeem(actor=tenancy.owner, advertiser=tenancy.bakery, code="WELCOME21")

    assert refused.value.message_dict == {"code": ["This code is not valid."]}
    assert state() == before


def test_redeeming_an_inactive_code_is_refused(tenancy, staff):
    code = promo(staff)
    PromoCode.objects.filter(pk=code.pk).update(is_active=False)
    before = state()

    with clock.frozen(MOMENT), pytest.raises(ValidationError) as refused:
        services.promo_code_redeem(actor=tenancy.owner, advertiser=tenancy.bakery, code="WELCOME20")

    assert refused.value.message_dict == {"code": ["This code is not valid."]}
    assert state() == before


def test_a_code_is_redeemable_until_the_instant_it_expires(tenancy, staff):
    promo(staff, code="LASTCALL", expires_at=MOMENT + timedelta(days=1))
    promo(staff, code="NOW", expires_at=MOMENT + timedelta(days=1))
    expiry = MOMENT + timedelta(days=1)

    with clock.frozen(expiry - timedelta(microseconds=1)):
        services.promo_code_redeem(actor=tenancy.owner, advertiser=tenancy.bakery, code="LASTCALL")
    before = state()

    with clock.frozen(expiry), pytest.raises(ValidationError) as refused:
        services.promo_code_redeem(actor=tenancy.owner, advertiser=tenancy.bakery, code="NOW")

    assert refused.value.message_dict == {"code": ["This code has expired."]}
    assert state() == before
    assert selectors.balance_micros(tenancy.bakery) == 20 * UNIT


def test_a_code_is_used_once_per_advertiser(tenancy, staff):
    promo(staff)
    with clock.frozen(MOMENT):
        services.promo_code_redeem(actor=tenancy.owner, advertiser=tenancy.bakery, code="WELCOME20")
    before = state()

    with clock.frozen(MOMENT), pytest.raises(ValidationError) as refused:
        services.promo_code_redeem(actor=tenancy.owner, advertiser=tenancy.bakery, code="welcome20")

    assert refused.value.message_dict == {"code": ["This account has used this code already."]}
    assert state() == before
    assert selectors.balance_micros(tenancy.bakery) == 20 * UNIT


def test_a_pending_redemption_also_counts_as_used(tenancy, staff):
    promo(staff, requires_first_top_up=True)
    with clock.frozen(MOMENT):
        services.promo_code_redeem(actor=tenancy.owner, advertiser=tenancy.bakery, code="WELCOME20")
    before = state()

    with clock.frozen(MOMENT), pytest.raises(ValidationError) as refused:
        services.promo_code_redeem(actor=tenancy.owner, advertiser=tenancy.bakery, code="WELCOME20")

    assert refused.value.message_dict == {"code": ["This account has used this code already."]}
    assert state() == before


def test_a_used_up_code_is_refused(tenancy, staff):
    promo(staff, max_redemptions=2)
    with clock.frozen(MOMENT):
        services.promo_code_redeem(actor=tenancy.owner, advertiser=tenancy.bakery, code="WELCOME20")
        services.promo_code_redeem(actor=tenancy.agent_a, advertiser=tenancy.client_a1, code="WELCOME20")
    before = state()

    with clock.frozen(MOMENT), pytest.raises(ValidationError) as refused:
        services.promo_code_redeem(actor=tenancy.agent_a, advertiser=tenancy.client_a2, code="WELCOME20")

    assert refused.value.message_dict == {"code": ["This code has been used up."]}
    assert state() == before


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ANALYST])
def test_only_admins_may_redeem_a_code(tenancy, staff, role):
    promo(staff)
    member = MembershipFactory(advertiser=tenancy.bakery, user__email=f"new.{role}@example.com", role=role).user
    before = state()

    with clock.frozen(MOMENT), pytest.raises(PermissionDenied):
        services.promo_code_redeem(actor=member, advertiser=tenancy.bakery, code="WELCOME20")

    assert state() == before


def test_another_tenant_may_not_redeem_for_an_advertiser(tenancy, staff):
    promo(staff)
    before = state()

    with clock.frozen(MOMENT), pytest.raises(PermissionDenied):
        services.promo_code_redeem(actor=tenancy.agent_b, advertiser=tenancy.bakery, code="WELCOME20")

    assert state() == before
