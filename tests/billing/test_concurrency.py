"""Concurrency against the real PostgreSQL: threads with their own connections, released together by a barrier."""

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from accounts.models import Advertiser
from adplatform import clock
from billing import selectors, services
from billing.gateways import SandboxGateway
from billing.models import Balance, Kind, Redemption, TopUp, Transaction
from billing.services import IdempotencyConflictError
from tests.factories import AdvertiserFactory, MembershipFactory, UserFactory

UNIT = 1_000_000
THREADS = 8

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(count: int, work: Callable[[int], object]) -> list[tuple[str, object]]:
    """Run work(0..count-1) in `count` threads started at the same instant; ("ok", result) or ("error", exception)."""
    barrier = threading.Barrier(count)
    results: list[tuple[str, object]] = [("missing", None)] * count

    def runner(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = ("ok", work(index))
        except Exception as exc:  # every outcome, good or bad, is reported to the test
            results[index] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


class RecordingSandbox(SandboxGateway):
    """The sandbox, remembering the provider idempotency key of every charge (from any thread)."""

    def __init__(self) -> None:
        self.charge_keys: list[str] = []
        self.lock = threading.Lock()

    def charge(self, **kwargs):
        with self.lock:
            self.charge_keys.append(kwargs["idempotency_key"])
        return super().charge(**kwargs)


@pytest.fixture(autouse=True)
def _sandbox_gateway(settings):
    """Top-ups here go through the sandbox even if the environment carries Stripe keys: no network in tests."""
    settings.STRIPE_SECRET_KEY = ""


@pytest.fixture
def bakery():
    advertiser = AdvertiserFactory(name="Bakery", currency="EUR")
    owner = MembershipFactory(advertiser=advertiser, user__email="owner@example.com").user
    return advertiser, owner


@pytest.fixture
def staff():
    return UserFactory(email="finance@adplatform.test", is_staff=True)


def fund(advertiser, amount):
    services._post(advertiser=advertiser, kind=Kind.TOP_UP, amount_micros=amount, idempotency_key=f"fund:{advertiser.pk}")


# --- top-ups -----------------------------------------------------------------------------------


def test_parallel_top_ups_with_one_idempotency_key_give_one_transaction(bakery, monkeypatch, mailoutbox):
    advertiser, owner = bakery
    gateway = RecordingSandbox()
    monkeypatch.setattr(services, "get_gateway", lambda: gateway)

    results = run_together(
        THREADS,
        lambda _: (
            services.top_up(
                actor=owner,
                advertiser=advertiser,
                amount_micros=100 * UNIT,
                payment_method="pm_card_visa",
                idempotency_key="one-key",
            ).pk
        ),
    )

    record = TopUp.objects.get()
    assert results == [("ok", record.pk)] * THREADS
    assert record.status == "succeeded"
    assert list(Transaction.objects.values_list("kind", "amount_micros", "balance_after_micros")) == [
        ("top_up", 100 * UNIT, 100 * UNIT)
    ]
    assert selectors.balance_micros(advertiser) == 100 * UNIT
    assert set(gateway.charge_keys) == {f"adplatform-top-up-{record.pk}"}  # retries reach the provider with one key
    assert len(mailoutbox) == 1
    assert services.ledger_check() == []


def test_parallel_top_ups_with_different_keys_all_count(bakery):
    advertiser, owner = bakery

    results = run_together(
        THREADS,
        lambda index: (
            services.top_up(
                actor=owner,
                advertiser=advertiser,
                amount_micros=(index + 5) * UNIT,
                payment_method="pm_card_visa",
                idempotency_key=f"key-{index}",
            ).status
        ),
    )

    assert results == [("ok", "succeeded")] * THREADS
    assert TopUp.objects.filter(status="succeeded").count() == THREADS
    assert selectors.balance_micros(advertiser) == sum(index + 5 for index in range(THREADS)) * UNIT
    assert services.ledger_check() == []


# --- record_spend ------------------------------------------------------------------------------


def test_parallel_record_spend_with_one_key_gives_one_transaction(bakery):
    advertiser, _ = bakery
    fund(advertiser, 100 * UNIT)

    results = run_together(
        THREADS, lambda _: services.record_spend(advertiser=advertiser, amount_micros=2_500_000, idempotency_key="spend:w1").pk
    )

    spend = Transaction.objects.get(kind="spend")
    assert results == [("ok", spend.pk)] * THREADS
    assert (spend.amount_micros, spend.balance_after_micros) == (-2_500_000, 97_500_000)
    assert selectors.balance_micros(advertiser) == 97_500_000
    assert services.ledger_check() == []


def test_parallel_record_spend_with_one_key_on_a_brand_new_ledger_gives_one_transaction(bakery):
    advertiser, _ = bakery
    assert not Balance.objects.filter(advertiser=advertiser).exists()

    results = run_together(
        THREADS, lambda _: services.record_spend(advertiser=advertiser, amount_micros=1_000_000, idempotency_key="spend:first").pk
    )

    spend = Transaction.objects.get()
    assert results == [("ok", spend.pk)] * THREADS
    assert (spend.amount_micros, spend.balance_after_micros) == (-1_000_000, -1_000_000)
    assert Balance.objects.get(advertiser=advertiser).balance_micros == -1_000_000


def test_parallel_different_spends_are_serialised_by_the_balance_lock(bakery):
    advertiser, _ = bakery
    fund(advertiser, 1_000 * UNIT)
    amounts = [(index + 1) * 1_250_000 for index in range(THREADS * 2)]

    results = run_together(
        len(amounts),
        lambda index: (
            services.record_spend(advertiser=advertiser, amount_micros=amounts[index], idempotency_key=f"spend:{index}").pk
        ),
    )

    assert all(outcome == "ok" for outcome, _ in results)
    rows = list(Transaction.objects.order_by("pk").values_list("amount_micros", "balance_after_micros"))
    running = 0
    for amount, balance_after in rows:  # each row's balance follows from the one before it
        running += amount
        assert balance_after == running
    spends_after = [balance_after for amount, balance_after in rows if amount < 0]
    assert len(set(spends_after)) == len(amounts)
    assert selectors.balance_micros(advertiser) == 1_000 * UNIT - sum(amounts) == running
    assert services.ledger_check() == []


def test_one_key_raced_for_two_advertisers_moves_money_for_one_only(bakery):
    advertiser, _ = bakery
    other = AdvertiserFactory(name="Other", currency="EUR")
    targets = [advertiser, other] * (THREADS // 2)

    results = run_together(
        THREADS,
        lambda index: services.record_spend(advertiser=targets[index], amount_micros=UNIT, idempotency_key="spend:shared").pk,
    )

    spend = Transaction.objects.get()
    for target, (outcome, value) in zip(targets, results, strict=True):
        if target.pk == spend.advertiser_id:
            assert (outcome, value) == ("ok", spend.pk)
        else:
            assert outcome == "error"
            assert isinstance(value, IdempotencyConflictError)
    loser = other if spend.advertiser_id == advertiser.pk else advertiser
    assert selectors.balance_micros(Advertiser.objects.get(pk=spend.advertiser_id)) == -UNIT
    assert selectors.balance_micros(loser) == 0
    assert services.ledger_check() == []


# --- refunds and codes -------------------------------------------------------------------------


def test_parallel_refunds_never_return_more_than_the_top_up(bakery, staff):
    advertiser, owner = bakery
    record = services.top_up(actor=owner, advertiser=advertiser, amount_micros=100 * UNIT, payment_method="pm_card_visa")

    results = run_together(
        6, lambda index: services.refund_top_up(staff=staff, top_up=record, amount_micros=40 * UNIT, reason=f"Refund {index}").pk
    )

    succeeded = [value for outcome, value in results if outcome == "ok"]
    refused = [value for outcome, value in results if outcome == "error"]
    assert len(succeeded) == 2
    assert len(refused) == 4
    assert all(isinstance(error, ValidationError) and list(error.message_dict) == ["amount"] for error in refused)
    assert sorted(Transaction.objects.filter(kind="refund").values_list("idempotency_key", flat=True)) == [
        f"refund:{record.pk}:1",
        f"refund:{record.pk}:2",
    ]
    assert selectors.balance_micros(advertiser) == 20 * UNIT
    assert selectors.refunded_micros(record) == 80 * UNIT
    assert services.ledger_check() == []


def test_parallel_refunds_and_spend_never_refund_spent_money(bakery, staff):
    advertiser, owner = bakery
    record = services.top_up(actor=owner, advertiser=advertiser, amount_micros=100 * UNIT, payment_method="pm_card_visa")

    def work(index: int) -> object:
        if index % 2:
            return services.record_spend(advertiser=advertiser, amount_micros=30 * UNIT, idempotency_key=f"spend:{index}").pk
        return services.refund_top_up(staff=staff, top_up=record, amount_micros=30 * UNIT, reason=f"Refund {index}").pk

    results = run_together(6, work)

    spends = Transaction.objects.filter(kind="spend")
    refunds = Transaction.objects.filter(kind="refund")
    assert spends.count() == 3  # spend is always recorded
    assert [outcome for outcome, _ in results[1::2]] == ["ok"] * 3
    assert refunds.count() == sum(outcome == "ok" for outcome, _ in results[0::2])
    assert all(refund.balance_after_micros >= 0 for refund in refunds)  # no refund ever took spent money
    assert (
        selectors.balance_micros(advertiser)
        == selectors.ledger_sum_micros(advertiser)
        == 100 * UNIT - 30 * UNIT * (3 + refunds.count())
    )
    assert services.ledger_check() == []


def test_parallel_redemptions_never_exceed_the_codes_limit(staff):
    advertisers = [AdvertiserFactory(name=f"Shop {index}", currency="EUR") for index in range(6)]
    admins = [MembershipFactory(advertiser=advertiser).user for advertiser in advertisers]
    services.promo_code_create(
        staff=staff,
        code="FIRST3",
        amount_micros=10 * UNIT,
        currency="EUR",
        expires_at=clock.now() + timedelta(days=1),
        max_redemptions=3,
    )

    results = run_together(
        6, lambda index: services.promo_code_redeem(actor=admins[index], advertiser=advertisers[index], code="FIRST3").status
    )

    assert sorted(outcome for outcome, _ in results) == ["error"] * 3 + ["ok"] * 3
    assert [error.message_dict for outcome, error in results if outcome == "error"] == [
        {"code": ["This code has been used up."]}
    ] * 3
    assert Redemption.objects.count() == 3
    assert Transaction.objects.filter(kind="credit").count() == 3
    assert services.ledger_check() == []


def test_parallel_redemptions_of_one_code_by_one_advertiser_credit_once(bakery, staff):
    advertiser, owner = bakery
    services.promo_code_create(
        staff=staff, code="ONCE", amount_micros=10 * UNIT, currency="EUR", expires_at=clock.now() + timedelta(days=1)
    )

    results = run_together(THREADS, lambda _: services.promo_code_redeem(actor=owner, advertiser=advertiser, code="ONCE").pk)

    assert sorted(outcome for outcome, _ in results) == ["error"] * (THREADS - 1) + ["ok"]
    assert [error.message_dict for outcome, error in results if outcome == "error"] == [
        {"code": ["This account has used this code already."]}
    ] * (THREADS - 1)
    assert selectors.balance_micros(advertiser) == 10 * UNIT
    assert Transaction.objects.count() == 1
