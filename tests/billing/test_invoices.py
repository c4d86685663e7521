"""billing invoices and statements: month windows in the advertiser's zone, lines, totals, payment, PDFs."""

from datetime import UTC, date, datetime, timedelta
from io import BytesIO, StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from pypdf import PdfReader

from accounts.models import Advertiser
from adplatform import clock
from billing import selectors, services, tasks
from billing.models import Invoice, InvoiceLine, Transaction
from billing.pdf import invoice_pdf
from tests.factories import AdvertiserFactory, CampaignFactory, MembershipFactory, UserFactory

UNIT = 1_000_000  # micros in 1.00
MARCH = date(2026, 3, 1)
# March 2026 in Los Angeles: from 1 March 00:00 PST (08:00 UTC) to 1 April 00:00 PDT (07:00 UTC).
LA_MARCH_START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LA_MARCH_END = datetime(2026, 4, 1, 7, 0, tzinfo=UTC)
ISSUE_MOMENT = datetime(2026, 4, 2, 16, 0, tzinfo=UTC)


# --- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _sandbox_gateway(settings):
    """Top-ups here go through the sandbox even if the environment carries Stripe keys: no network in tests."""
    settings.STRIPE_SECRET_KEY = ""


@pytest.fixture
def staff(db):
    return UserFactory(email="finance@adplatform.test", is_staff=True)


@pytest.fixture
def credit_line(db):
    return AdvertiserFactory(
        name="Northwind Outfitters",
        currency="USD",
        time_zone="America/Los_Angeles",
        billing_mode=Advertiser.BillingMode.CREDIT_LINE,
        credit_limit_micros=5_000 * UNIT,
    )


@pytest.fixture
def march_activity(credit_line, staff):
    """Spend of two campaigns around the edges of March in Los Angeles, posted in the order it happened."""
    spring = CampaignFactory(advertiser=credit_line, name="Spring sale")
    brand = CampaignFactory(advertiser=credit_line, name="Brand awareness")

    def spend(campaign, amount, at):
        services.record_spend(
            advertiser=credit_line, amount_micros=amount, idempotency_key=f"spend:{at.isoformat()}", campaign=campaign, at=at
        )

    spend(spring, 7 * UNIT, LA_MARCH_START - timedelta(seconds=1))  # 28 Feb 23:59:59 in Los Angeles
    spend(spring, 10 * UNIT, LA_MARCH_START)
    with clock.frozen(datetime(2026, 3, 10, 12, 0, tzinfo=UTC)):
        services.adjustment_post(staff=staff, advertiser=credit_line, amount_micros=2 * UNIT, reason="Invalid clicks")
    spend(spring, 5_500_000, datetime(2026, 3, 15, 20, 0, tzinfo=UTC))
    spend(None, 1 * UNIT, datetime(2026, 3, 20, 9, 0, tzinfo=UTC))
    spend(brand, 2_250_000, LA_MARCH_END - timedelta(microseconds=1))  # 31 March 23:59:59.999999
    spend(brand, 3 * UNIT, LA_MARCH_END)  # 1 April 00:00 in Los Angeles
    return spring, brand


def state() -> dict[str, object]:
    return {
        "invoices": list(Invoice.objects.order_by("pk").values_list("pk", "number", "status", "payment_id", "paid_at")),
        "lines": list(InvoiceLine.objects.order_by("pk").values_list("pk", "invoice_id", "description", "amount_micros")),
        "transactions": list(Transaction.objects.order_by("pk").values_list("pk", "kind", "amount_micros")),
    }


def pdf_text(invoice: Invoice) -> str:
    document = PdfReader(BytesIO(invoice_pdf(invoice)))
    return "\n".join(page.extract_text() for page in document.pages)


def issue(advertiser, period_start=MARCH, at=ISSUE_MOMENT):
    with clock.frozen(at):
        return services.invoice_issue(advertiser=advertiser, period_start=period_start)


# --- month_window ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period_start", "zone", "start", "end", "next_month"),
    [
        # Auckland is at +13 (daylight time) on both ends of March.
        (
            date(2026, 3, 1),
            "Pacific/Auckland",
            datetime(2026, 2, 28, 11, tzinfo=UTC),
            datetime(2026, 3, 31, 11, tzinfo=UTC),
            date(2026, 4, 1),
        ),
        # April in Auckland: daylight time ends on 5 April, so the month ends at +12.
        (
            date(2026, 4, 1),
            "Pacific/Auckland",
            datetime(2026, 3, 31, 11, tzinfo=UTC),
            datetime(2026, 4, 30, 12, tzinfo=UTC),
            date(2026, 5, 1),
        ),
        # September in Auckland: daylight time starts on 27 September.
        (
            date(2026, 9, 1),
            "Pacific/Auckland",
            datetime(2026, 8, 31, 12, tzinfo=UTC),
            datetime(2026, 9, 30, 11, tzinfo=UTC),
            date(2026, 10, 1),
        ),
        # Los Angeles springs forward on 8 March.
        (date(2026, 3, 1), "America/Los_Angeles", LA_MARCH_START, LA_MARCH_END, date(2026, 4, 1)),
        # ... and falls back on 1 November at 02:00, after the month has begun at 00:00 daylight time.
        (
            date(2026, 11, 1),
            "America/Los_Angeles",
            datetime(2026, 11, 1, 7, tzinfo=UTC),
            datetime(2026, 12, 1, 8, tzinfo=UTC),
            date(2026, 12, 1),
        ),
        (
            date(2026, 10, 1),
            "Europe/Berlin",
            datetime(2026, 9, 30, 22, tzinfo=UTC),
            datetime(2026, 10, 31, 23, tzinfo=UTC),
            date(2026, 11, 1),
        ),
        (
            date(2026, 12, 1),
            "Asia/Tokyo",
            datetime(2026, 11, 30, 15, tzinfo=UTC),
            datetime(2026, 12, 31, 15, tzinfo=UTC),
            date(2027, 1, 1),
        ),
        (date(2025, 12, 1), "UTC", datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), date(2026, 1, 1)),
        (date(2028, 2, 1), "UTC", datetime(2028, 2, 1, tzinfo=UTC), datetime(2028, 3, 1, tzinfo=UTC), date(2028, 3, 1)),
    ],
)
def test_month_window_is_the_calendar_month_in_the_zone(period_start, zone, start, end, next_month):
    window_start, window_end, window_next = services.month_window(period_start, zone)

    assert (window_start, window_end, window_next) == (start, end, next_month)
    assert window_start.utcoffset() is not None


@pytest.mark.parametrize(
    ("period_start", "zone", "hours"),
    [
        (date(2026, 3, 1), "America/Los_Angeles", 31 * 24 - 1),
        (date(2026, 11, 1), "America/Los_Angeles", 30 * 24 + 1),
        (date(2026, 4, 1), "Pacific/Auckland", 30 * 24 + 1),
        (date(2026, 9, 1), "Pacific/Auckland", 30 * 24 - 1),
        (date(2026, 2, 1), "Asia/Tokyo", 28 * 24),
    ],
)
def test_month_window_lasts_the_hours_the_clocks_show(period_start, zone, hours):
    start, end, _ = services.month_window(period_start, zone)

    # (subtracting two datetimes of one zone is wall-clock arithmetic in Python: compare instants in UTC)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=hours)


# --- invoices for credit lines -----------------------------------------------------------------


def test_invoice_has_a_line_per_campaign_with_the_spend_inside_the_month(credit_line, march_activity):
    spring, brand = march_activity

    invoice = issue(credit_line)

    assert (invoice.kind, invoice.number, invoice.currency, invoice.status) == (
        "invoice",
        f"INV-202603-{credit_line.pk:06d}",
        "USD",
        "open",
    )
    assert (invoice.period_start, invoice.period_end, invoice.issued_at) == (date(2026, 3, 1), date(2026, 4, 1), ISSUE_MOMENT)
    assert invoice.total_micros == 18_750_000
    assert (invoice.opening_balance_micros, invoice.closing_balance_micros) == (-7 * UNIT, -23_750_000)
    assert list(invoice.lines.values_list("position", "campaign_id", "description", "amount_micros")) == [
        (1, brand.pk, "Ad spend: Brand awareness", 2_250_000),
        (2, spring.pk, "Ad spend: Spring sale", 15_500_000),
        (3, None, "Ad spend: other", 1 * UNIT),
    ]


def test_invoice_is_due_after_the_payment_terms(credit_line, march_activity, settings):
    settings.INVOICE_PAYMENT_TERMS_DAYS = 14

    invoice = issue(credit_line)

    assert invoice.due_date == date(2026, 4, 16)


def test_invoice_due_date_uses_the_default_terms(credit_line, march_activity, settings):
    invoice = issue(credit_line)

    assert settings.INVOICE_PAYMENT_TERMS_DAYS == 30
    assert invoice.due_date == date(2026, 5, 2)


def test_invoice_dates_are_in_the_advertisers_zone(staff):
    # Auckland's April starts at 11:00 UTC on 31 March: an invoice issued half an hour later is issued on
    # 1 April there, and its 30 days of terms run to 1 May, not to 30 April.
    auckland = AdvertiserFactory(
        name="Kiwi Kayaks",
        currency="NZD",
        time_zone="Pacific/Auckland",
        billing_mode=Advertiser.BillingMode.CREDIT_LINE,
        credit_limit_micros=1_000 * UNIT,
    )
    services.record_spend(
        advertiser=auckland, amount_micros=40 * UNIT, idempotency_key="s1", at=datetime(2026, 3, 15, tzinfo=UTC)
    )

    invoice = issue(auckland, at=datetime(2026, 3, 31, 11, 30, tzinfo=UTC))

    assert invoice.due_date == date(2026, 5, 1)
    assert "Issued 01 Apr 2026" in pdf_text(invoice)


def test_invoice_is_refused_before_the_month_ends_in_the_advertisers_zone(credit_line, march_activity):
    before = state()

    with pytest.raises(ValidationError) as refused:
        issue(credit_line, at=LA_MARCH_END - timedelta(microseconds=1))  # still 31 March in Los Angeles

    assert refused.value.message_dict == {"period": ["This month has not ended yet in the advertiser's time zone."]}
    assert state() == before

    invoice = issue(credit_line, at=LA_MARCH_END)

    assert invoice.total_micros == 18_750_000


def test_issuing_again_returns_the_first_invoice_and_writes_nothing(credit_line, march_activity):
    first = issue(credit_line)
    before = state()

    again = issue(credit_line, at=ISSUE_MOMENT + timedelta(days=3))

    assert again.pk == first.pk
    assert again.issued_at == ISSUE_MOMENT
    assert state() == before


def test_a_month_without_activity_issues_nothing(credit_line):
    services.record_spend(
        advertiser=credit_line, amount_micros=UNIT, idempotency_key="feb", at=LA_MARCH_START - timedelta(seconds=1)
    )
    services.record_spend(advertiser=credit_line, amount_micros=UNIT, idempotency_key="apr", at=LA_MARCH_END)
    before = state()

    assert issue(credit_line) is None
    assert issue(credit_line, period_start=date(2026, 1, 1)) is None
    assert state() == before


def test_an_invoice_without_spend_has_nothing_to_pay(credit_line, staff):
    with clock.frozen(datetime(2026, 3, 10, tzinfo=UTC)):
        services.adjustment_post(staff=staff, advertiser=credit_line, amount_micros=5 * UNIT, reason="Goodwill")

    invoice = issue(credit_line)

    assert (invoice.kind, invoice.total_micros, invoice.status) == ("invoice", 0, "issued")
    assert list(invoice.lines.all()) == []
    assert (invoice.opening_balance_micros, invoice.closing_balance_micros) == (0, 5 * UNIT)


# --- statements for prepaid accounts -----------------------------------------------------------


@pytest.fixture
def prepaid_march(staff):
    """A prepaid bakery in Berlin: a top-up in February, every kind of movement in March, spend in April."""
    bakery = AdvertiserFactory(name="Bäckerei Müller", currency="EUR", time_zone="Europe/Berlin")
    owner = MembershipFactory(advertiser=bakery, user__email="baker@example.com").user
    bread = CampaignFactory(advertiser=bakery, name="Bread")

    with clock.frozen(datetime(2026, 2, 20, 9, tzinfo=UTC)):
        february = services.top_up(actor=owner, advertiser=bakery, amount_micros=100 * UNIT, payment_method="pm_card_visa")
        services.promo_code_create(
            staff=staff, code="SPRING", amount_micros=10 * UNIT, currency="EUR", expires_at=datetime(2026, 6, 1, tzinfo=UTC)
        )
    # 1 March 00:00 in Berlin is 28 February 23:00 UTC
    services.record_spend(
        advertiser=bakery, amount_micros=30 * UNIT, idempotency_key="m1", campaign=bread, at=datetime(2026, 2, 28, 23, tzinfo=UTC)
    )
    with clock.frozen(datetime(2026, 3, 8, 9, tzinfo=UTC)):
        services.promo_code_redeem(actor=owner, advertiser=bakery, code="SPRING")
    with clock.frozen(datetime(2026, 3, 12, 9, tzinfo=UTC)):
        services.refund_top_up(staff=staff, top_up=february, amount_micros=20 * UNIT, reason="Asked by the customer")
    with clock.frozen(datetime(2026, 3, 20, 9, tzinfo=UTC)):
        services.adjustment_post(staff=staff, advertiser=bakery, amount_micros=-5 * UNIT, reason="Duplicate credit")
    with clock.frozen(datetime(2026, 3, 25, 9, tzinfo=UTC)):
        services.top_up(actor=owner, advertiser=bakery, amount_micros=50 * UNIT, payment_method="pm_card_visa")
    # 1 April 00:00 in Berlin (summer time) is 31 March 22:00 UTC
    services.record_spend(
        advertiser=bakery, amount_micros=4 * UNIT, idempotency_key="a1", campaign=bread, at=datetime(2026, 3, 31, 22, tzinfo=UTC)
    )
    return bakery, bread


def test_statement_shows_spend_and_every_money_movement_with_balances(prepaid_march):
    bakery, bread = prepaid_march

    statement = issue(bakery)

    assert (statement.kind, statement.number, statement.status, statement.due_date, statement.currency) == (
        "statement",
        f"STM-202603-{bakery.pk:06d}",
        "issued",
        None,
        "EUR",
    )
    assert (statement.opening_balance_micros, statement.total_micros, statement.closing_balance_micros) == (
        100 * UNIT,
        30 * UNIT,
        105 * UNIT,
    )
    assert list(statement.lines.values_list("position", "campaign_id", "description", "amount_micros")) == [
        (1, bread.pk, "Ad spend: Bread", 30 * UNIT),
        (2, None, "Top-up", 50 * UNIT),
        (3, None, "Ad credit", 10 * UNIT),
        (4, None, "Refund", -20 * UNIT),
        (5, None, "Adjustment", -5 * UNIT),
    ]
    assert selectors.balance_micros(bakery) == 101 * UNIT  # April's spend is after the statement


def test_opening_and_closing_balances_are_the_ledger_sums_at_the_boundaries_even_for_late_posted_spend(credit_line):
    # Spend is recorded at the time it was delivered; the posting task may post an earlier window after a later one.
    services.record_spend(
        advertiser=credit_line, amount_micros=3 * UNIT, idempotency_key="april", at=LA_MARCH_END + timedelta(hours=1)
    )
    services.record_spend(
        advertiser=credit_line, amount_micros=10 * UNIT, idempotency_key="march", at=LA_MARCH_START + timedelta(days=1)
    )
    services.record_spend(
        advertiser=credit_line, amount_micros=2 * UNIT, idempotency_key="february", at=LA_MARCH_START - timedelta(days=1)
    )

    invoice = issue(credit_line)

    assert invoice.total_micros == 10 * UNIT
    assert (invoice.opening_balance_micros, invoice.closing_balance_micros) == (-2 * UNIT, -12 * UNIT)


def test_a_statement_cannot_be_marked_paid(prepaid_march, staff):
    bakery, _ = prepaid_march
    statement = issue(bakery)
    before = state()

    with pytest.raises(ValidationError) as refused:
        services.invoice_mark_paid(staff=staff, invoice=statement)

    assert refused.value.message_dict == {"invoice": ["Only an open invoice can be marked paid."]}
    assert state() == before


# --- paying invoices ---------------------------------------------------------------------------


def test_invoice_mark_paid_posts_one_invoice_payment(credit_line, march_activity, staff):
    invoice = issue(credit_line)
    paid_moment = datetime(2026, 4, 20, 10, tzinfo=UTC)

    with clock.frozen(paid_moment):
        paid = services.invoice_mark_paid(staff=staff, invoice=invoice, reference="Wire 2026-04-20")

    payment = paid.payment
    assert (paid.status, paid.paid_at) == ("paid", paid_moment)
    assert (payment.kind, payment.amount_micros, payment.reference, payment.idempotency_key, payment.created_by_id) == (
        "invoice_payment",
        18_750_000,
        "Wire 2026-04-20",
        f"invoice-payment:{invoice.pk}",
        staff.pk,
    )
    assert payment.balance_after_micros == -26_750_000 + 18_750_000
    assert selectors.balance_micros(credit_line) == -8 * UNIT


def test_invoice_mark_paid_defaults_the_reference_to_the_invoice_number(credit_line, march_activity, staff):
    invoice = issue(credit_line)

    paid = services.invoice_mark_paid(staff=staff, invoice=invoice)

    assert paid.payment.reference == f"INV-202603-{credit_line.pk:06d}"


def test_a_paid_invoice_cannot_be_paid_again(credit_line, march_activity, staff):
    invoice = issue(credit_line)
    services.invoice_mark_paid(staff=staff, invoice=invoice)
    before = state()

    with pytest.raises(ValidationError) as refused:
        services.invoice_mark_paid(staff=staff, invoice=invoice)

    assert refused.value.message_dict == {"invoice": ["Only an open invoice can be marked paid."]}
    assert state() == before
    assert Transaction.objects.filter(kind="invoice_payment").count() == 1


def test_only_staff_may_mark_an_invoice_paid(credit_line, march_activity):
    invoice = issue(credit_line)
    admin = MembershipFactory(advertiser=credit_line, user__email="cfo@northwind.example").user
    before = state()

    with pytest.raises(PermissionDenied):
        services.invoice_mark_paid(staff=admin, invoice=invoice)

    assert state() == before


def test_an_invoice_with_nothing_to_pay_cannot_be_marked_paid(credit_line, staff):
    with clock.frozen(datetime(2026, 3, 10, tzinfo=UTC)):
        services.adjustment_post(staff=staff, advertiser=credit_line, amount_micros=5 * UNIT, reason="Goodwill")
    invoice = issue(credit_line)
    before = state()

    with pytest.raises(ValidationError):
        services.invoice_mark_paid(staff=staff, invoice=invoice)

    assert state() == before


# --- issuing every due invoice -----------------------------------------------------------------


def test_invoices_issue_due_issues_the_month_that_closed_in_each_zone(credit_line, march_activity):
    # 07:30 UTC on 1 April: March has ended in Los Angeles and Auckland, not yet in Honolulu.
    auckland = AdvertiserFactory(name="Kiwi Kayaks", currency="NZD", time_zone="Pacific/Auckland")
    honolulu = AdvertiserFactory(name="Aloha Surf", currency="USD", time_zone="Pacific/Honolulu")
    AdvertiserFactory(name="Quiet Co", currency="EUR", time_zone="Europe/Berlin")
    services.record_spend(advertiser=auckland, amount_micros=UNIT, idempotency_key="nz", at=datetime(2026, 3, 20, tzinfo=UTC))
    services.record_spend(advertiser=honolulu, amount_micros=UNIT, idempotency_key="hi", at=datetime(2026, 3, 20, tzinfo=UTC))
    moment = datetime(2026, 4, 1, 7, 30, tzinfo=UTC)

    with clock.frozen(moment):
        issued = services.invoices_issue_due()

    assert [(invoice.advertiser_id, invoice.number, invoice.kind) for invoice in issued] == [
        (credit_line.pk, f"INV-202603-{credit_line.pk:06d}", "invoice"),
        (auckland.pk, f"STM-202603-{auckland.pk:06d}", "statement"),
    ]
    before = state()

    with clock.frozen(moment + timedelta(minutes=20)):
        again = services.invoices_issue_due()

    assert [invoice.pk for invoice in again] == [invoice.pk for invoice in issued]
    assert state() == before

    with clock.frozen(datetime(2026, 4, 1, 10, 0, tzinfo=UTC)):  # midnight in Honolulu
        later = services.invoices_issue_due()

    assert [invoice.advertiser_id for invoice in later] == [credit_line.pk, auckland.pk, honolulu.pk]


@pytest.mark.parametrize(
    ("moment", "zone", "period"),
    [
        (datetime(2026, 1, 1, 5, 0, tzinfo=UTC), "America/Los_Angeles", date(2025, 11, 1)),  # still 31 December there
        (datetime(2026, 1, 1, 8, 0, tzinfo=UTC), "America/Los_Angeles", date(2025, 12, 1)),
        (datetime(2025, 12, 31, 23, 30, tzinfo=UTC), "Europe/Berlin", date(2025, 12, 1)),  # already 1 January there
        (datetime(2026, 3, 31, 11, 0, tzinfo=UTC), "Pacific/Auckland", date(2026, 3, 1)),
        (datetime(2026, 3, 31, 10, 59, tzinfo=UTC), "Pacific/Auckland", date(2026, 2, 1)),
    ],
)
def test_previous_month_is_the_last_month_that_closed_in_the_zone(moment, zone, period):
    assert services.previous_month(moment, zone) == period


def test_issue_invoices_command_and_task_issue_what_is_due(credit_line, march_activity):
    out = StringIO()

    with clock.frozen(ISSUE_MOMENT):
        call_command("issue_invoices", stdout=out)
        issued_by_task = tasks.issue_invoices.delay().get()

    assert out.getvalue().splitlines() == [
        f"INV-202603-{credit_line.pk:06d}: Northwind Outfitters, invoice",
        "1 invoice(s) and statement(s) issued or already there.",
    ]
    assert issued_by_task == 1
    assert Invoice.objects.count() == 1


# --- PDFs --------------------------------------------------------------------------------------


def test_invoice_pdf_shows_number_advertiser_lines_and_total(credit_line, march_activity):
    invoice = issue(credit_line)

    text = pdf_text(invoice)

    number = f"INV-202603-{credit_line.pk:06d}"
    for expected in [
        "Adplatform invoice",
        number,
        f"Northwind Outfitters (account {credit_line.pk})",
        "01 Mar 2026 - 31 Mar 2026 (America/Los_Angeles)",
        "Issued 02 Apr 2026",
        "Due 02 May 2026",
        "Status Open",
        "Ad spend: Brand awareness 2.25 USD",
        "Ad spend: Spring sale 15.50 USD",
        "Ad spend: other 1.00 USD",
        "Total ad spend 18.75 USD",
        f"Please pay 18.75 USD by 02 May 2026, quoting {number}.",
    ]:
        assert expected in text, expected
    assert "Opening balance" not in text


def test_statement_pdf_shows_opening_and_closing_balances(prepaid_march):
    bakery, _ = prepaid_march
    statement = issue(bakery)

    text = pdf_text(statement)

    for expected in [
        "Adplatform statement",
        f"STM-202603-{bakery.pk:06d}",
        f"Bäckerei Müller (account {bakery.pk})",
        "Opening balance 100.00 EUR",
        "Ad spend: Bread 30.00 EUR",
        "Top-up 50.00 EUR",
        "Ad credit 10.00 EUR",
        "Refund -20.00 EUR",
        "Adjustment -5.00 EUR",
        "Total ad spend 30.00 EUR",
        "Closing balance 105.00 EUR",
    ]:
        assert expected in text, expected
    assert "Please pay" not in text
