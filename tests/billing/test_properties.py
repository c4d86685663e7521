"""Ledger invariants under random sequences of operations (hypothesis), against the real database.

Each hypothesis example runs inside a savepoint that is rolled back at its end, so examples never see
each other's rows. After every step: the cached balance equals the sum of the ledger and equals an
independent model of the expected balance; refunds never exceed what is refundable; a repeated
idempotency key never moves money twice.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from accounts.models import Advertiser
from adplatform import clock
from billing import selectors, services
from billing.models import Balance, Kind, TopUp, Transaction
from billing.services import IdempotencyConflictError, PaymentDeclinedError
from tests.factories import AdvertiserFactory, CampaignFactory, MembershipFactory, UserFactory

UNIT = 1_000_000
PROPERTY_SETTINGS = settings(
    max_examples=30,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# The model's own copy of the reference rates (units per US dollar) and minor units, not the app's code.
RATES = {"EUR": Decimal("0.92"), "USD": Decimal("1"), "JPY": Decimal("150")}
MINOR_UNIT_MICROS = {"EUR": 10_000, "USD": 10_000, "JPY": UNIT}
PAYMENT_METHODS = [
    "pm_card_visa",
    "pm_card_visa",
    "pm_card_mastercard",
    "pm_card_chargeDeclined",
    "pm_card_chargeDeclinedExpiredCard",
]


def expected_credit(amount_micros: int, source: str, target: str) -> int:
    """What a code worth `amount_micros` of `source` credits in `target`: converted, then down to a whole coin."""
    if source == target:
        return amount_micros
    exact = Decimal(amount_micros) * RATES[target] / RATES[source]
    step = MINOR_UNIT_MICROS[target]
    return int(exact // step) * step


def ledger_snapshot() -> tuple:
    return (
        list(
            Transaction.objects.order_by("pk").values_list("pk", "advertiser_id", "kind", "amount_micros", "balance_after_micros")
        ),
        dict(Balance.objects.values_list("advertiser_id", "balance_micros")),
        list(TopUp.objects.order_by("pk").values_list("pk", "status", "transaction_id")),
    )


@pytest.fixture(autouse=True)
def _sandbox_gateway(settings):
    """Top-ups here go through the sandbox even if the environment carries Stripe keys: no network in tests."""
    settings.STRIPE_SECRET_KEY = ""


@pytest.fixture
def accounts(db):
    """A prepaid bakery in euros and a credit line in yen, each with an admin, and a staff member."""
    bakery = AdvertiserFactory(name="Bakery", currency="EUR")
    ramen = AdvertiserFactory(
        name="Tokyo Ramen",
        currency="JPY",
        time_zone="Asia/Tokyo",
        billing_mode=Advertiser.BillingMode.CREDIT_LINE,
        credit_limit_micros=100_000 * UNIT,
    )
    admins = {
        bakery.pk: MembershipFactory(advertiser=bakery, user__email="baker@example.com").user,
        ramen.pk: MembershipFactory(advertiser=ramen, user__email="ramen@example.com").user,
    }
    campaigns = {bakery.pk: CampaignFactory(advertiser=bakery), ramen.pk: CampaignFactory(advertiser=ramen)}
    staff = UserFactory(email="finance@adplatform.test", is_staff=True)
    return [bakery, ramen], admins, campaigns, staff


def test_the_ledger_stays_consistent_over_random_operations(accounts):
    advertisers, admins, campaigns, staff = accounts
    advertiser_index = st.integers(min_value=0, max_value=len(advertisers) - 1)

    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self._atomic = transaction.atomic()
            self._atomic.__enter__()
            self.serial = 0
            self.expected = {advertiser.pk: 0 for advertiser in advertisers}
            self.pending_credits: dict[int, list[int]] = {advertiser.pk: [] for advertiser in advertisers}
            self.transactions = 0
            self.top_up_requests: list[dict] = []
            self.refundable: list[dict] = []  # succeeded top-ups and what is left of them
            self.spends: list[dict] = []
            self.codes: list[dict] = []

        def teardown(self) -> None:
            transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)

        def fresh(self, prefix: str) -> str:
            self.serial += 1
            return f"{prefix}-{self.serial}"

        def assert_unchanged(self, before: tuple) -> None:
            assert ledger_snapshot() == before

        # --- top-ups ---------------------------------------------------------------------------

        @rule(which=advertiser_index, coins=st.integers(min_value=500, max_value=50_000), method=st.sampled_from(PAYMENT_METHODS))
        def top_up(self, which, coins, method):
            advertiser = advertisers[which]
            amount = coins * MINOR_UNIT_MICROS[advertiser.currency]
            key = self.fresh("top-up")
            request = {"advertiser": advertiser, "amount": amount, "method": method, "key": key}
            if method in ("pm_card_chargeDeclined", "pm_card_chargeDeclinedExpiredCard"):
                before = ledger_snapshot()
                with pytest.raises(PaymentDeclinedError) as declined:
                    services.top_up(
                        actor=admins[advertiser.pk],
                        advertiser=advertiser,
                        amount_micros=amount,
                        payment_method=method,
                        idempotency_key=key,
                    )
                request["pk"], request["succeeded"] = declined.value.top_up.pk, False
                assert ledger_snapshot()[:2] == before[:2]  # a TopUp row is recorded, no money moves
            else:
                record = services.top_up(
                    actor=admins[advertiser.pk],
                    advertiser=advertiser,
                    amount_micros=amount,
                    payment_method=method,
                    idempotency_key=key,
                )
                assert record.status == TopUp.Status.SUCCEEDED
                request["pk"], request["succeeded"] = record.pk, True
                waiting = self.pending_credits[advertiser.pk]
                self.expected[advertiser.pk] += amount + sum(waiting)
                self.transactions += 1 + len(waiting)
                waiting.clear()
                self.refundable.append({"top_up": record, "left": amount})
            self.top_up_requests.append(request)

        @precondition(lambda self: self.top_up_requests)
        @rule(data=st.data())
        def repeat_a_top_up(self, data):
            request = data.draw(st.sampled_from(self.top_up_requests))
            before = ledger_snapshot()
            kwargs = {
                "actor": admins[request["advertiser"].pk],
                "advertiser": request["advertiser"],
                "amount_micros": request["amount"],
                "payment_method": request["method"],
                "idempotency_key": request["key"],
            }
            if request["succeeded"]:
                assert services.top_up(**kwargs).pk == request["pk"]
            else:
                with pytest.raises(PaymentDeclinedError) as declined:
                    services.top_up(**kwargs)
                assert declined.value.top_up.pk == request["pk"]
            self.assert_unchanged(before)

        @precondition(lambda self: self.top_up_requests)
        @rule(data=st.data())
        def reuse_a_top_up_key_for_another_amount(self, data):
            request = data.draw(st.sampled_from(self.top_up_requests))
            advertiser = request["advertiser"]
            before = ledger_snapshot()
            with pytest.raises(IdempotencyConflictError):
                services.top_up(
                    actor=admins[advertiser.pk],
                    advertiser=advertiser,
                    amount_micros=request["amount"] + MINOR_UNIT_MICROS[advertiser.currency],
                    payment_method=request["method"],
                    idempotency_key=request["key"],
                )
            self.assert_unchanged(before)

        # --- spend -----------------------------------------------------------------------------

        @rule(which=advertiser_index, amount=st.integers(min_value=1, max_value=300 * UNIT), with_campaign=st.booleans())
        def spend(self, which, amount, with_campaign):
            advertiser = advertisers[which]
            key = self.fresh("spend")
            campaign = campaigns[advertiser.pk] if with_campaign else None
            row = services.record_spend(advertiser=advertiser, amount_micros=amount, idempotency_key=key, campaign=campaign)
            self.expected[advertiser.pk] -= amount
            self.transactions += 1
            assert row.balance_after_micros == self.expected[advertiser.pk]
            self.spends.append({"advertiser": advertiser, "amount": amount, "key": key, "pk": row.pk, "campaign": campaign})

        @precondition(lambda self: self.spends)
        @rule(data=st.data())
        def repeat_a_spend(self, data):
            spend = data.draw(st.sampled_from(self.spends))
            before = ledger_snapshot()
            row = services.record_spend(
                advertiser=spend["advertiser"],
                amount_micros=spend["amount"],
                idempotency_key=spend["key"],
                campaign=spend["campaign"],
            )
            assert row.pk == spend["pk"]
            self.assert_unchanged(before)

        @precondition(lambda self: self.spends)
        @rule(data=st.data(), other_advertiser=st.booleans(), delta=st.integers(min_value=1, max_value=UNIT))
        def reuse_a_spend_key_for_another_spend(self, data, other_advertiser, delta):
            spend = data.draw(st.sampled_from(self.spends))
            advertiser = spend["advertiser"]
            if other_advertiser:
                advertiser, amount = next(other for other in advertisers if other.pk != advertiser.pk), spend["amount"]
            else:
                amount = spend["amount"] + delta
            before = ledger_snapshot()
            with pytest.raises(IdempotencyConflictError):
                services.record_spend(advertiser=advertiser, amount_micros=amount, idempotency_key=spend["key"])
            self.assert_unchanged(before)

        # --- refunds ---------------------------------------------------------------------------

        @precondition(lambda self: self.refundable)
        @rule(data=st.data())
        def refund(self, data):
            entry = data.draw(st.sampled_from(self.refundable))
            record = entry["top_up"]
            coin = MINOR_UNIT_MICROS[record.currency]
            coins = data.draw(st.integers(min_value=1, max_value=(entry["left"] + 100 * UNIT) // coin))
            amount = coins * coin
            refundable = max(0, min(entry["left"], self.expected[record.advertiser_id]))
            assert selectors.refundable_micros(TopUp.objects.get(pk=record.pk)) == refundable
            before = ledger_snapshot()
            if amount <= refundable:
                row = services.refund_top_up(staff=staff, top_up=record, amount_micros=amount, reason=self.fresh("refund"))
                entry["left"] -= amount
                self.expected[record.advertiser_id] -= amount
                self.transactions += 1
                assert (row.amount_micros, row.refund_of_id) == (-amount, record.transaction_id)
            else:
                with pytest.raises(ValidationError) as refused:
                    services.refund_top_up(staff=staff, top_up=record, amount_micros=amount, reason="too much")
                assert list(refused.value.message_dict) == ["amount"]
                self.assert_unchanged(before)

        # --- credits ---------------------------------------------------------------------------

        @rule(
            which=advertiser_index,
            currency=st.sampled_from(sorted(RATES)),
            coins=st.integers(min_value=1, max_value=10_000),
            requires_first_top_up=st.booleans(),
        )
        def redeem_a_code(self, which, currency, coins, requires_first_top_up):
            advertiser = advertisers[which]
            amount = coins * MINOR_UNIT_MICROS[currency]
            code = services.promo_code_create(
                staff=staff,
                code=self.fresh("CODE"),
                amount_micros=amount,
                currency=currency,
                expires_at=clock.now() + timedelta(days=1),
                requires_first_top_up=requires_first_top_up,
            )
            credit = expected_credit(amount, currency, advertiser.currency)
            before = ledger_snapshot()
            if credit == 0:
                with pytest.raises(ValidationError):
                    services.promo_code_redeem(actor=admins[advertiser.pk], advertiser=advertiser, code=code.code)
                self.assert_unchanged(before)
                return
            redemption = services.promo_code_redeem(actor=admins[advertiser.pk], advertiser=advertiser, code=code.code)
            assert redemption.amount_micros == credit
            has_top_up = any(
                request["succeeded"] and request["advertiser"].pk == advertiser.pk for request in self.top_up_requests
            )
            if requires_first_top_up and not has_top_up:
                assert redemption.status == "pending"
                self.pending_credits[advertiser.pk].append(credit)
            else:
                assert redemption.status == "applied"
                self.expected[advertiser.pk] += credit
                self.transactions += 1
            self.codes.append({"advertiser": advertiser, "code": code.code})

        @precondition(lambda self: self.codes)
        @rule(data=st.data())
        def redeem_a_code_again(self, data):
            used = data.draw(st.sampled_from(self.codes))
            advertiser = used["advertiser"]
            before = ledger_snapshot()
            with pytest.raises(ValidationError):
                services.promo_code_redeem(actor=admins[advertiser.pk], advertiser=advertiser, code=used["code"])
            self.assert_unchanged(before)

        # --- adjustments -----------------------------------------------------------------------

        @rule(which=advertiser_index, amount=st.integers(min_value=-200 * UNIT, max_value=200 * UNIT).filter(bool))
        def adjust(self, which, amount):
            advertiser = advertisers[which]
            row = services.adjustment_post(staff=staff, advertiser=advertiser, amount_micros=amount, reason=self.fresh("reason"))
            self.expected[advertiser.pk] += amount
            self.transactions += 1
            assert row.balance_after_micros == self.expected[advertiser.pk]

        # --- after every step ------------------------------------------------------------------

        @invariant()
        def balance_equals_ledger_equals_model(self):
            for advertiser in advertisers:
                cached = selectors.balance_micros(advertiser)
                assert cached == selectors.ledger_sum_micros(advertiser) == self.expected[advertiser.pk]
                last = Transaction.objects.filter(advertiser=advertiser).order_by("-pk").first()
                assert (last.balance_after_micros if last else 0) == cached
            assert services.ledger_check() == []
            assert Transaction.objects.count() == self.transactions

        @invariant()
        def refunds_never_exceed_their_top_up(self):
            for entry in self.refundable:
                record = entry["top_up"]
                assert selectors.refunded_micros(record) == record.amount_micros - entry["left"]
                assert 0 <= entry["left"] <= record.amount_micros

        @invariant()
        def each_key_moved_money_at_most_once(self):
            assert Transaction.objects.values("idempotency_key").distinct().count() == Transaction.objects.count()
            assert TopUp.objects.filter(status="succeeded").count() == Transaction.objects.filter(kind=Kind.TOP_UP).count()

    run_state_machine_as_test(LedgerMachine, settings=PROPERTY_SETTINGS)


# --- _post with a small pool of keys: collisions on purpose ----------------------------------------

operations = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=1),  # which advertiser
        st.sampled_from([Kind.TOP_UP, Kind.SPEND, Kind.CREDIT, Kind.ADJUSTMENT]),
        st.integers(min_value=1, max_value=3).map(lambda units: units * UNIT),
        st.sampled_from(["k1", "k2", "k3", "k4"]),
    ),
    min_size=1,
    max_size=25,
)


@PROPERTY_SETTINGS
@given(operations=operations)
def test_a_repeated_key_never_moves_money_twice(accounts, operations):
    advertisers, _, _, _ = accounts
    with transaction.atomic():
        first_use: dict[str, tuple[int, str, int]] = {}
        expected = {advertiser.pk: 0 for advertiser in advertisers}
        for which, kind, units, key in operations:
            advertiser = advertisers[which]
            amount = -units if kind == Kind.SPEND else units
            before = ledger_snapshot()
            if key not in first_use:
                row, created = services._post(
                    advertiser=advertiser, kind=kind, amount_micros=amount, idempotency_key=key, reason="x"
                )
                first_use[key] = (advertiser.pk, kind, amount)
                expected[advertiser.pk] += amount
                assert created is True
                assert row.balance_after_micros == expected[advertiser.pk]
            elif first_use[key] == (advertiser.pk, kind, amount):
                row, created = services._post(
                    advertiser=advertiser, kind=kind, amount_micros=amount, idempotency_key=key, reason="x"
                )
                assert created is False
                assert ledger_snapshot() == before
            else:
                with pytest.raises(IdempotencyConflictError):
                    services._post(advertiser=advertiser, kind=kind, amount_micros=amount, idempotency_key=key, reason="x")
                assert ledger_snapshot() == before
            for each in advertisers:
                assert selectors.balance_micros(each) == selectors.ledger_sum_micros(each) == expected[each.pk]
        assert Transaction.objects.count() == len(first_use)
        transaction.set_rollback(True)


@PROPERTY_SETTINGS
@given(
    top_up_coins=st.integers(min_value=500, max_value=100_000),
    spent=st.integers(min_value=0, max_value=2_000 * UNIT),
    refund_coins=st.lists(st.integers(min_value=1, max_value=120_000), min_size=1, max_size=6),
)
def test_refunds_never_exceed_the_top_up_or_the_balance(accounts, top_up_coins, spent, refund_coins):
    (bakery, _), admins, _, staff = accounts
    with transaction.atomic():
        record = services.top_up(
            actor=admins[bakery.pk], advertiser=bakery, amount_micros=top_up_coins * 10_000, payment_method="pm_card_visa"
        )
        if spent:
            services.record_spend(advertiser=bakery, amount_micros=spent, idempotency_key="spend")
        left, balance = record.amount_micros, record.amount_micros - spent
        for coins in refund_coins:
            amount = coins * 10_000
            refundable = max(0, min(left, balance))
            before = ledger_snapshot()
            if amount <= refundable:
                services.refund_top_up(staff=staff, top_up=record, amount_micros=amount, reason="asked")
                left, balance = left - amount, balance - amount
                assert balance >= 0  # a refund never takes the balance below zero
            else:
                with pytest.raises(ValidationError):
                    services.refund_top_up(staff=staff, top_up=record, amount_micros=amount, reason="asked")
                assert ledger_snapshot() == before
            assert selectors.refunded_micros(record) == record.amount_micros - left
            assert selectors.balance_micros(bakery) == selectors.ledger_sum_micros(bakery) == balance
        transaction.set_rollback(True)
