"""billing ledger: _post, record_spend, adjustments, the append-only trigger, constraints, signals and the self-check."""

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from accounts.models import Advertiser
from adplatform import clock
from billing import selectors, services, tasks
from billing.management.commands.check_ledger import Command as CheckLedgerCommand
from billing.models import Balance, Kind, Transaction
from billing.services import IdempotencyConflictError, Mismatch
from billing.signals import ledger_changed
from tests.factories import AdvertiserFactory, CampaignFactory, UserFactory

MOMENT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
UNIT = 1_000_000  # micros in 1.00

TRANSACTION_COLUMNS = (
    "pk",
    "advertiser_id",
    "kind",
    "amount_micros",
    "currency",
    "balance_after_micros",
    "idempotency_key",
    "reference",
    "reason",
    "campaign_id",
    "refund_of_id",
    "created_by_id",
    "created_at",
)


# --- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def advertiser(db):
    return AdvertiserFactory(name="Bakery", currency="EUR")


@pytest.fixture
def credit_line(db):
    return AdvertiserFactory(
        name="Agency client", currency="USD", billing_mode=Advertiser.BillingMode.CREDIT_LINE, credit_limit_micros=500 * UNIT
    )


@pytest.fixture
def staff(db):
    return UserFactory(email="finance@adplatform.test", is_staff=True)


@pytest.fixture
def ledger_signals() -> Iterator[list[dict]]:
    """Every ledger_changed sent while the test runs, without the `signal` argument."""
    received: list[dict] = []

    def receiver(sender, **kwargs):
        kwargs.pop("signal")
        received.append({"sender": sender, **kwargs})

    ledger_changed.connect(receiver, weak=False, dispatch_uid="test_ledger_receiver")
    yield received
    ledger_changed.disconnect(dispatch_uid="test_ledger_receiver")


def ledger() -> list[tuple]:
    return list(Transaction.objects.order_by("pk").values_list(*TRANSACTION_COLUMNS))


def balances() -> dict[int, int]:
    return dict(Balance.objects.values_list("advertiser_id", "balance_micros"))


def state() -> tuple[list[tuple], dict[int, int]]:
    """Everything the ledger services write: every transaction and every cached balance."""
    return ledger(), balances()


def post(advertiser, kind, amount, key, **kwargs):
    transaction_row, created = services._post(
        advertiser=advertiser, kind=kind, amount_micros=amount, idempotency_key=key, **kwargs
    )
    return transaction_row, created


# --- _post -------------------------------------------------------------------------------------


def test_post_appends_a_row_and_moves_the_cached_balance(advertiser, staff):
    with clock.frozen(MOMENT):
        row, created = post(advertiser, Kind.TOP_UP, 100 * UNIT, "top-up:1", reference="R-202603-00000001", created_by=staff)

    assert created is True
    assert (
        row.advertiser_id,
        row.kind,
        row.amount_micros,
        row.currency,
        row.balance_after_micros,
        row.idempotency_key,
        row.reference,
        row.created_by_id,
        row.created_at,
    ) == (advertiser.pk, "top_up", 100 * UNIT, "EUR", 100 * UNIT, "top-up:1", "R-202603-00000001", staff.pk, MOMENT)
    assert Balance.objects.get(advertiser=advertiser).balance_micros == 100 * UNIT
    assert Balance.objects.get(advertiser=advertiser).updated_at == MOMENT
    assert Transaction.objects.count() == 1


def test_post_records_exact_balance_after_for_every_kind(advertiser, staff):
    campaign = CampaignFactory(advertiser=advertiser)
    steps = [
        (Kind.TOP_UP, 100 * UNIT, {}),
        (Kind.SPEND, -30_250_000, {"campaign": campaign}),
        (Kind.CREDIT, 10 * UNIT, {}),
        (Kind.ADJUSTMENT, -5 * UNIT, {"reason": "Duplicate impressions on 9 March"}),
        (Kind.REFUND, -20 * UNIT, {"reason": "Customer asked"}),
        (Kind.SPEND, -1, {}),
        (Kind.INVOICE_PAYMENT, 7 * UNIT, {}),
        (Kind.ADJUSTMENT, 3 * UNIT, {"reason": "Goodwill"}),
    ]

    for number, (kind, amount, extra) in enumerate(steps):
        post(advertiser, kind, amount, f"step:{number}", **extra)

    assert list(Transaction.objects.order_by("pk").values_list("kind", "amount_micros", "balance_after_micros")) == [
        ("top_up", 100_000_000, 100_000_000),
        ("spend", -30_250_000, 69_750_000),
        ("credit", 10_000_000, 79_750_000),
        ("adjustment", -5_000_000, 74_750_000),
        ("refund", -20_000_000, 54_750_000),
        ("spend", -1, 54_749_999),
        ("invoice_payment", 7_000_000, 61_749_999),
        ("adjustment", 3_000_000, 64_749_999),
    ]
    assert selectors.balance_micros(advertiser) == 64_749_999
    assert selectors.ledger_sum_micros(advertiser) == 64_749_999


def test_post_keeps_each_advertisers_balance_apart(advertiser, credit_line):
    post(advertiser, Kind.TOP_UP, 50 * UNIT, "a:1")
    post(credit_line, Kind.SPEND, -70 * UNIT, "b:1")
    post(advertiser, Kind.SPEND, -20 * UNIT, "a:2")

    assert list(Transaction.objects.order_by("pk").values_list("advertiser_id", "currency", "balance_after_micros")) == [
        (advertiser.pk, "EUR", 50 * UNIT),
        (credit_line.pk, "USD", -70 * UNIT),
        (advertiser.pk, "EUR", 30 * UNIT),
    ]
    assert balances() == {advertiser.pk: 30 * UNIT, credit_line.pk: -70 * UNIT}


def test_post_with_a_repeated_key_returns_the_first_row_and_moves_nothing(advertiser):
    first, first_created = post(advertiser, Kind.TOP_UP, 100 * UNIT, "top-up:7")
    before = state()

    again, again_created = post(advertiser, Kind.TOP_UP, 100 * UNIT, "top-up:7", reference="a different reference is ignored")

    assert (first_created, again_created) == (True, False)
    assert again.pk == first.pk
    assert again.reference == ""
    assert state() == before
    assert selectors.balance_micros(advertiser) == 100 * UNIT


@pytest.mark.parametrize(
    ("kind", "amount"),
    [
        (Kind.TOP_UP, 100 * UNIT + 1),  # another amount
        (Kind.CREDIT, 100 * UNIT),  # another kind
        (Kind.ADJUSTMENT, 100 * UNIT),
    ],
)
def test_post_with_a_reused_key_for_another_transaction_is_refused(advertiser, kind, amount):
    post(advertiser, Kind.TOP_UP, 100 * UNIT, "shared-key")
    before = state()

    with pytest.raises(IdempotencyConflictError, match=r"^The key shared-key was already used for a different transaction\.$"):
        post(advertiser, kind, amount, "shared-key", reason="x")

    assert state() == before


def test_post_with_a_key_already_used_by_another_advertiser_is_refused(advertiser, credit_line):
    post(advertiser, Kind.TOP_UP, 100 * UNIT, "shared-key")
    before = state()

    with pytest.raises(IdempotencyConflictError):
        post(credit_line, Kind.TOP_UP, 100 * UNIT, "shared-key")

    assert state() == before
    assert not Balance.objects.filter(advertiser=credit_line).exists()


# --- record_spend ------------------------------------------------------------------------------


def test_record_spend_posts_a_negative_spend_with_its_campaign_and_time(advertiser):
    post(advertiser, Kind.TOP_UP, 100 * UNIT, "top-up:1")
    campaign = CampaignFactory(advertiser=advertiser)
    at = MOMENT - timedelta(minutes=3)

    with clock.frozen(MOMENT):
        row = services.record_spend(
            advertiser=advertiser,
            amount_micros=2_345_678,
            idempotency_key=f"spend:{campaign.pk}:2026-03-10T11:57",
            campaign=campaign,
            reference="events 1001-1420",
            at=at,
        )

    assert (row.kind, row.amount_micros, row.balance_after_micros, row.campaign_id, row.reference, row.created_at) == (
        "spend",
        -2_345_678,
        97_654_322,
        campaign.pk,
        "events 1001-1420",
        at,
    )
    assert selectors.balance_micros(advertiser) == 97_654_322


def test_record_spend_again_with_the_same_key_returns_the_first_row(advertiser):
    campaign = CampaignFactory(advertiser=advertiser)
    first = services.record_spend(advertiser=advertiser, amount_micros=1_500_000, idempotency_key="spend:w1", campaign=campaign)
    before = state()

    for _ in range(3):
        again = services.record_spend(
            advertiser=advertiser, amount_micros=1_500_000, idempotency_key="spend:w1", campaign=campaign
        )
        assert again.pk == first.pk

    assert state() == before
    assert selectors.balance_micros(advertiser) == -1_500_000


def test_record_spend_with_a_reused_key_and_another_amount_is_refused(advertiser):
    services.record_spend(advertiser=advertiser, amount_micros=1_500_000, idempotency_key="spend:w1")
    before = state()

    with pytest.raises(IdempotencyConflictError):
        services.record_spend(advertiser=advertiser, amount_micros=1_500_001, idempotency_key="spend:w1")

    assert state() == before


@pytest.mark.parametrize("amount", [0, -1, -5 * UNIT])
def test_record_spend_refuses_an_amount_that_is_not_positive(advertiser, amount):
    before = state()

    with pytest.raises(ValidationError) as refused:
        services.record_spend(advertiser=advertiser, amount_micros=amount, idempotency_key="spend:bad")

    assert refused.value.message_dict == {"amount": ["Spend is a positive amount of cost."]}
    assert state() == before
    assert not Balance.objects.filter(advertiser=advertiser).exists()


def test_record_spend_refuses_a_campaign_of_another_advertiser(advertiser, credit_line):
    foreign = CampaignFactory(advertiser=credit_line)
    before = state()

    with pytest.raises(ValidationError) as refused:
        services.record_spend(advertiser=advertiser, amount_micros=UNIT, idempotency_key="spend:x", campaign=foreign)

    assert refused.value.message_dict == {"campaign": ["The campaign belongs to another advertiser."]}
    assert state() == before


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def billing_warnings() -> Iterator[list[str]]:
    handler = _Records()
    logger = logging.getLogger("billing.services")
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def test_record_spend_records_delivered_spend_below_zero_and_logs_the_overdraft(advertiser, billing_warnings):
    post(advertiser, Kind.TOP_UP, 10 * UNIT, "top-up:1")

    within = services.record_spend(advertiser=advertiser, amount_micros=10 * UNIT, idempotency_key="spend:1")
    beyond = services.record_spend(advertiser=advertiser, amount_micros=250_000, idempotency_key="spend:2")

    assert (within.balance_after_micros, beyond.balance_after_micros) == (0, -250_000)
    assert billing_warnings == [f"Spend {beyond.pk} took advertiser {advertiser.pk} below its spendable amount"]


def test_record_spend_on_a_credit_line_warns_only_beyond_the_credit_limit(credit_line, billing_warnings):
    within = services.record_spend(advertiser=credit_line, amount_micros=500 * UNIT, idempotency_key="spend:1")
    assert (within.balance_after_micros, billing_warnings) == (-500 * UNIT, [])

    beyond = services.record_spend(advertiser=credit_line, amount_micros=1, idempotency_key="spend:2")

    assert beyond.balance_after_micros == -500 * UNIT - 1
    assert billing_warnings == [f"Spend {beyond.pk} took advertiser {credit_line.pk} below its spendable amount"]


# --- adjustments -------------------------------------------------------------------------------


def test_adjustment_post_moves_money_up_and_down_with_the_reason_on_record(advertiser, staff):
    post(advertiser, Kind.TOP_UP, 100 * UNIT, "top-up:1")

    with clock.frozen(MOMENT):
        down = services.adjustment_post(
            staff=staff, advertiser=advertiser, amount_micros=-12_340_000, reason="  Invalid clicks  "
        )
    with clock.frozen(MOMENT + timedelta(seconds=1)):
        up = services.adjustment_post(staff=staff, advertiser=advertiser, amount_micros=2_500_000, reason="Goodwill credit")

    assert (down.kind, down.amount_micros, down.balance_after_micros, down.reason, down.created_by_id, down.created_at) == (
        "adjustment",
        -12_340_000,
        87_660_000,
        "Invalid clicks",
        staff.pk,
        MOMENT,
    )
    assert (up.amount_micros, up.balance_after_micros, up.reason) == (2_500_000, 90_160_000, "Goodwill credit")
    assert down.idempotency_key.startswith(f"adjustment:{advertiser.pk}:")
    assert down.idempotency_key != up.idempotency_key
    assert selectors.balance_micros(advertiser) == 90_160_000


def test_adjustment_post_is_for_staff_only(advertiser):
    someone = UserFactory(email="owner@example.com")
    before = state()

    with pytest.raises(PermissionDenied):
        services.adjustment_post(staff=someone, advertiser=advertiser, amount_micros=UNIT, reason="Please")

    assert state() == before


@pytest.mark.parametrize(
    ("amount", "reason", "errors"),
    [
        (0, "Nothing", {"amount": ["An adjustment moves some money: enter a non-zero amount."]}),
        (10**15 + 1, "Too much", {"amount": ["This amount is too large."]}),
        (-(10**15) - 1, "Too much", {"amount": ["This amount is too large."]}),
        (UNIT, "   ", {"reason": ["Say why: the advertiser and auditors read it."]}),
        (
            0,
            "",
            {
                "amount": ["An adjustment moves some money: enter a non-zero amount."],
                "reason": ["Say why: the advertiser and auditors read it."],
            },
        ),
    ],
)
def test_adjustment_post_refuses_bad_input_and_writes_nothing(advertiser, staff, amount, reason, errors):
    before = state()

    with pytest.raises(ValidationError) as refused:
        services.adjustment_post(staff=staff, advertiser=advertiser, amount_micros=amount, reason=reason)

    assert refused.value.message_dict == errors
    assert state() == before


def test_adjustment_post_accepts_the_largest_allowed_amount(advertiser, staff):
    row = services.adjustment_post(staff=staff, advertiser=advertiser, amount_micros=-(10**15), reason="Write-off")

    assert row.balance_after_micros == -(10**15)


# --- the database keeps the ledger append-only -------------------------------------------------


def test_the_database_refuses_to_update_a_transaction(advertiser):
    row, _ = post(advertiser, Kind.TOP_UP, 100 * UNIT, "top-up:1")
    before = state()

    with pytest.raises(IntegrityError, match="billing_transaction is append-only: UPDATE is not allowed"), transaction.atomic():
        Transaction.objects.filter(pk=row.pk).update(amount_micros=1_000 * UNIT)

    row.amount_micros = 1_000 * UNIT
    with pytest.raises(IntegrityError, match="UPDATE is not allowed"), transaction.atomic():
        row.save()

    assert state() == before


def test_the_database_refuses_to_delete_a_transaction(advertiser):
    row, _ = post(advertiser, Kind.SPEND, -5 * UNIT, "spend:1")
    before = state()

    with pytest.raises(IntegrityError, match="billing_transaction is append-only: DELETE is not allowed"), transaction.atomic():
        Transaction.objects.filter(pk=row.pk).delete()

    with pytest.raises(IntegrityError, match="DELETE is not allowed"), transaction.atomic():
        row.delete()

    assert state() == before


def test_the_database_refuses_raw_sql_changes_to_the_ledger(advertiser):
    row, _ = post(advertiser, Kind.TOP_UP, 100 * UNIT, "top-up:1")
    before = state()

    with pytest.raises(IntegrityError, match="UPDATE is not allowed"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE billing_transaction SET balance_after_micros = 0 WHERE id = %s", [row.pk])
    with pytest.raises(IntegrityError, match="DELETE is not allowed"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM billing_transaction WHERE advertiser_id = %s", [advertiser.pk])

    assert state() == before


@pytest.mark.parametrize(
    ("kind", "amount", "reason", "currency", "constraint"),
    [
        ("spend", 5 * UNIT, "", "EUR", "billing_transaction_sign_matches_kind"),
        ("refund", 5 * UNIT, "Why", "EUR", "billing_transaction_sign_matches_kind"),
        ("top_up", -5 * UNIT, "", "EUR", "billing_transaction_sign_matches_kind"),
        ("credit", -5 * UNIT, "", "EUR", "billing_transaction_sign_matches_kind"),
        ("invoice_payment", -5 * UNIT, "", "EUR", "billing_transaction_sign_matches_kind"),
        ("top_up", 0, "", "EUR", "billing_transaction_sign_matches_kind"),
        ("adjustment", 0, "Why", "EUR", "billing_transaction_sign_matches_kind"),
        ("adjustment", 5 * UNIT, "", "EUR", "billing_transaction_adjustment_has_reason"),
        ("gift", 5 * UNIT, "", "EUR", "billing_transaction_kind_valid"),
        ("top_up", 5 * UNIT, "", "eur", "billing_transaction_currency_iso"),
    ],
)
def test_check_constraints_refuse_rows_inserted_directly(advertiser, kind, amount, reason, currency, constraint):
    before = state()

    with pytest.raises(IntegrityError, match=f'violates check constraint "{constraint}"'), transaction.atomic():
        Transaction.objects.create(
            advertiser=advertiser,
            kind=kind,
            amount_micros=amount,
            currency=currency,
            balance_after_micros=amount,
            idempotency_key="direct-insert",
            reason=reason,
        )

    assert state() == before


def test_the_idempotency_key_is_unique_in_the_database(advertiser):
    post(advertiser, Kind.TOP_UP, 5 * UNIT, "top-up:1")
    before = state()

    with pytest.raises(IntegrityError, match="idempotency_key"), transaction.atomic():
        Transaction.objects.create(
            advertiser=advertiser,
            kind="top_up",
            amount_micros=5 * UNIT,
            currency="EUR",
            balance_after_micros=10 * UNIT,
            idempotency_key="top-up:1",
        )

    assert state() == before


# --- ledger_changed ----------------------------------------------------------------------------


def test_ledger_changed_is_sent_once_after_commit_with_balance_and_spendable(
    advertiser, ledger_signals, django_capture_on_commit_callbacks
):
    post(advertiser, Kind.TOP_UP, 40 * UNIT, "top-up:1")  # its callback is never run: the test transaction never commits

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.record_spend(advertiser=advertiser, amount_micros=15 * UNIT, idempotency_key="spend:1")
    assert ledger_signals == []  # nothing before commit

    for callback in callbacks:
        callback()

    assert ledger_signals == [
        {"sender": Transaction, "advertiser_id": advertiser.pk, "balance_micros": 25 * UNIT, "spendable_micros": 25 * UNIT}
    ]


def test_ledger_changed_on_a_credit_line_adds_the_credit_limit_to_spendable(
    credit_line, ledger_signals, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.record_spend(advertiser=credit_line, amount_micros=120 * UNIT, idempotency_key="spend:1")

    assert ledger_signals == [
        {"sender": Transaction, "advertiser_id": credit_line.pk, "balance_micros": -120 * UNIT, "spendable_micros": 380 * UNIT}
    ]


def test_ledger_changed_is_sent_once_per_committed_post(advertiser, staff, ledger_signals, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post(advertiser, Kind.TOP_UP, 40 * UNIT, "top-up:1")
    with django_capture_on_commit_callbacks(execute=True):
        services.adjustment_post(staff=staff, advertiser=advertiser, amount_micros=-10 * UNIT, reason="Invalid clicks")

    assert [(signal["balance_micros"], signal["spendable_micros"]) for signal in ledger_signals] == [
        (40 * UNIT, 40 * UNIT),
        (30 * UNIT, 30 * UNIT),
    ]


def test_ledger_changed_is_not_sent_when_a_repeated_key_moves_nothing(
    advertiser, ledger_signals, django_capture_on_commit_callbacks
):
    post(advertiser, Kind.SPEND, -5 * UNIT, "spend:1")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        post(advertiser, Kind.SPEND, -5 * UNIT, "spend:1")
        with pytest.raises(IdempotencyConflictError):
            post(advertiser, Kind.SPEND, -6 * UNIT, "spend:1")

    assert callbacks == []
    assert ledger_signals == []


def test_ledger_changed_is_not_sent_when_the_post_rolls_back(advertiser, ledger_signals, django_capture_on_commit_callbacks):
    def post_then_fail():
        with transaction.atomic():
            post(advertiser, Kind.TOP_UP, 40 * UNIT, "top-up:1")
            raise RuntimeError("the surrounding work failed")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        post_then_fail()

    assert callbacks == []
    assert ledger_signals == []
    assert state() == ([], {})


# --- spendable ---------------------------------------------------------------------------------


def test_spendable_of_a_prepaid_advertiser_is_its_balance(advertiser):
    assert selectors.spendable_micros(advertiser) == 0  # no balance row yet

    post(advertiser, Kind.TOP_UP, 30 * UNIT, "top-up:1")
    assert selectors.spendable_micros(advertiser) == 30 * UNIT

    post(advertiser, Kind.SPEND, -31 * UNIT, "spend:1")
    assert selectors.spendable_micros(advertiser) == -1 * UNIT


def test_spendable_of_a_credit_line_adds_the_credit_limit(credit_line):
    assert selectors.spendable_micros(credit_line) == 500 * UNIT

    post(credit_line, Kind.SPEND, -120 * UNIT, "spend:1")
    assert (selectors.balance_micros(credit_line), selectors.spendable_micros(credit_line)) == (-120 * UNIT, 380 * UNIT)

    post(credit_line, Kind.INVOICE_PAYMENT, 120 * UNIT, "invoice-payment:1")
    assert selectors.spendable_micros(credit_line) == 500 * UNIT


# --- ledger_check and check_ledger -------------------------------------------------------------


def test_ledger_check_finds_nothing_when_every_cache_equals_its_ledger(advertiser, credit_line):
    post(advertiser, Kind.TOP_UP, 100 * UNIT, "a:1")
    post(advertiser, Kind.SPEND, -40 * UNIT, "a:2")
    post(credit_line, Kind.SPEND, -70 * UNIT, "b:1")

    assert services.ledger_check() == []
    assert tasks.check_ledger.delay().get() == 0


def test_ledger_check_finds_a_corrupted_cached_balance(advertiser, credit_line):
    post(advertiser, Kind.TOP_UP, 100 * UNIT, "a:1")
    post(credit_line, Kind.SPEND, -70 * UNIT, "b:1")
    Balance.objects.filter(advertiser=advertiser).update(balance_micros=F("balance_micros") + 1)
    ledger_before = ledger()

    assert services.ledger_check() == [
        Mismatch(advertiser_id=advertiser.pk, cached_micros=100 * UNIT + 1, ledger_micros=100 * UNIT)
    ]
    assert tasks.check_ledger.delay().get() == 1
    assert ledger() == ledger_before


def test_ledger_check_finds_a_cached_balance_without_any_transaction(advertiser):
    Balance.objects.create(advertiser=advertiser, balance_micros=5 * UNIT)

    assert services.ledger_check() == [Mismatch(advertiser_id=advertiser.pk, cached_micros=5 * UNIT, ledger_micros=0)]


def test_check_ledger_command_names_the_mismatch_and_fails(advertiser, credit_line):
    post(advertiser, Kind.TOP_UP, 100 * UNIT, "a:1")
    post(credit_line, Kind.SPEND, -70 * UNIT, "b:1")
    Balance.objects.filter(advertiser=credit_line).update(balance_micros=0)
    out = StringIO()

    with pytest.raises(CommandError, match=r"^1 balance\(s\) differ from the ledger\.$"):
        call_command("check_ledger", stdout=out)

    assert out.getvalue().splitlines() == [f"advertiser {credit_line.pk}: cached 0.00, ledger -70.00"]


def test_check_ledger_command_reports_ok_when_every_balance_matches(advertiser, credit_line):
    post(advertiser, Kind.TOP_UP, 100 * UNIT, "a:1")
    post(credit_line, Kind.SPEND, -70 * UNIT, "b:1")
    out = StringIO()

    call_command("check_ledger", stdout=out)

    assert out.getvalue().splitlines() == ["OK: 2 balance(s) equal their ledgers."]


@pytest.mark.django_db(transaction=True)
def test_check_ledger_exits_non_zero_from_the_command_line(capsys):
    advertiser = AdvertiserFactory(name="Bakery")
    post(advertiser, Kind.TOP_UP, 100 * UNIT, "a:1")
    post(advertiser, Kind.SPEND, -12_345_678, "a:2")
    Balance.objects.filter(advertiser=advertiser).update(balance_micros=100 * UNIT)

    with pytest.raises(SystemExit) as exited:
        CheckLedgerCommand().run_from_argv(["manage.py", "check_ledger"])

    captured = capsys.readouterr()
    assert exited.value.code == 1
    assert captured.out.splitlines() == [f"advertiser {advertiser.pk}: cached 100.00, ledger 87.654322"]
    assert captured.err.splitlines() == ["CommandError: 1 balance(s) differ from the ledger."]
