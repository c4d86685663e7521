"""The billing dashboard end to end through Django's test client: pages, forms, downloads and the database.

Every page is tried by an anonymous visitor (log in first), another tenant (404 for invoices, only its own
rows in the CSV), an analyst and an operator (they read; every write is refused by the services with
nothing written) and the owner (an admin). Time is frozen at MOMENT: Tuesday 10 March 2026, 12:00 in
Berlin, the bakery's time zone. The payment gateway is the sandbox with the provider's test cards.
"""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.test.html import Element, parse_html
from pypdf import PdfReader

from accounts.models import Advertiser, Role
from adplatform import clock
from billing import services
from billing.gateways import ChargeResult, GatewayError, SandboxGateway
from billing.models import Balance, BillingProfile, Invoice, PromoCode, Redemption, TopUp, Transaction
from tests.factories import CampaignFactory, MembershipFactory, UserFactory

MOMENT = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)  # Tuesday 12:00 in Berlin (CET)
REFUSED = "This needs the admin role on Bakery."
READ_ONLY = (
    "You can view the billing of Bakery but not change it: your role is {role}. "
    "Ask an admin to add funds, redeem codes or set alerts."
)
PAGES = ["/billing/", "/billing/transactions/", "/billing/transactions.csv", "/billing/top-ups/", "/billing/invoices/"]
TONES = ("text-danger", "text-success")  # money out, money in
CSV_HEADER = "date,type,description,reference,campaign,amount,balance_after,currency"


# --- reading pages -----------------------------------------------------------------------------


def _walk(node: Any) -> Any:
    if isinstance(node, Element):
        yield node
        for child in node.children:
            yield from _walk(child)


def text(node: Any) -> str:
    """The visible text of a parsed element, whitespace collapsed."""
    if isinstance(node, str):
        return " ".join(node.split())
    return " ".join(" ".join(text(child) for child in node.children).split())


def find(within: Any, tag: str | None = None, **attributes: str | None) -> list[Element]:
    """Elements (of `tag`) whose attributes have the given values (None: any value); underscores for dashes."""
    wanted = {name.rstrip("_").replace("_", "-"): value for name, value in attributes.items()}
    node = parse_html(within.content.decode()) if hasattr(within, "content") else within
    found = []
    for element in _walk(node):
        present = dict(element.attributes)
        if tag is not None and element.name != tag:
            continue
        if all(name in present and (value is None or present[name] == value) for name, value in wanted.items()):
            found.append(element)
    return found


def texts(within: Any, tag: str | None = None, **attributes: str | None) -> list[str]:
    return [text(element) for element in find(within, tag, **attributes)]


def one_text(within: Any, **attributes: str | None) -> str:
    (found,) = texts(within, **attributes)
    return found


def field_errors(response: Any, field: str) -> list[str]:
    return texts(response, data_field_error=field)


def form_errors(response: Any, form: str) -> list[str]:
    """The refusal shown with a form ('top_up', 'promo', 'alert'), one line per message."""
    return [
        text(line) for element in find(response, data_form_errors=form) for line in element.children if isinstance(line, Element)
    ]


def flashes(response: Any) -> list[str]:
    return [
        text(element)
        for element in find(response, "div", role="alert")
        if "alert-dismissible" in (dict(element.attributes).get("class") or "")
    ]


def rows(response: Any, testid: str) -> list[list[str]]:
    """The cells of a table's body rows (not the empty-table row)."""
    (table,) = find(response, "table", data_testid=testid)
    return [
        [text(cell) for cell in row.children if isinstance(cell, Element) and cell.name == "td"]
        for row in find(table, "tr")
        if dict(row.attributes).get("class") != "empty-row" and not find(row, "th")
    ]


def value_of(response: Any, name: str) -> str:
    (element,) = find(response, "input", name=name)
    return str(dict(element.attributes).get("value"))


def forms_posting_to(response: Any) -> list[str]:
    return sorted(str(dict(form.attributes).get("action")) for form in find(response, "form", method="post"))


def csv_rows(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


# --- the database before and after ----------------------------------------------------------------------


def money_state() -> dict[str, list[Any]]:
    """Every billing row a refused request could have touched."""
    return {
        "transactions": list(Transaction.objects.order_by("pk").values_list("pk", "advertiser_id", "kind", "amount_micros")),
        "balances": list(Balance.objects.order_by("pk").values_list("advertiser_id", "balance_micros")),
        "top_ups": list(TopUp.objects.order_by("pk").values_list("pk", "status", "amount_micros", "idempotency_key")),
        "redemptions": list(Redemption.objects.order_by("pk").values_list("pk", "status", "transaction_id")),
        "profiles": list(BillingProfile.objects.order_by("pk").values_list("pk", "low_balance_threshold_micros")),
    }


def balance_of(advertiser: Advertiser) -> int:
    return Balance.objects.filter(advertiser=advertiser).values_list("balance_micros", flat=True).first() or 0


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _frozen_clock():
    with clock.frozen(MOMENT):
        yield


@pytest.fixture(autouse=True)
def _sandbox(settings):
    settings.STRIPE_SECRET_KEY = ""


@pytest.fixture
def staff(db):
    return UserFactory(email="money@adplatform.test", is_staff=True)


@pytest.fixture
def operator(tenancy):
    return MembershipFactory(advertiser=tenancy.bakery, user__email="operator@example.com", role=Role.OPERATOR).user


@pytest.fixture
def owner_client(client, tenancy):
    client.force_login(tenancy.owner)
    return client


def make_code(staff, code: str, amount: str, *, currency: str = "EUR", first_top_up: bool = False, days: int = 30) -> PromoCode:
    return services.promo_code_create(
        staff=staff,
        code=code,
        amount_micros=int(float(amount) * 1_000_000),
        currency=currency,
        expires_at=MOMENT + timedelta(days=days),
        requires_first_top_up=first_top_up,
    )


def top_up_form(client, amount: str = "20.00", card: str = "pm_card_visa") -> dict[str, str]:
    """The top-up form as the page renders it (with its idempotency key), filled in."""
    page = client.get("/billing/")
    return {"amount": amount, "payment_method": card, "idempotency_key": value_of(page, "idempotency_key")}


def receipt_of(record: TopUp) -> str:
    return f"R-202603-{record.pk:08d}"


# --- who may see what ------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in_from_every_page(client, tenancy):
    invoice_path = "/billing/invoices/1/pdf/"
    for path in [*PAGES, invoice_path]:
        response = client.get(path)

        assert response.status_code == 302, path
        assert response["Location"] == f"/login/?next={path}"


def test_anonymous_writes_are_sent_to_log_in_and_change_nothing(client, tenancy, staff):
    make_code(staff, "SPRING10", "10.00")
    before = money_state()
    for path, data in [
        ("/billing/top-up/", {"amount": "20.00", "payment_method": "pm_card_visa", "idempotency_key": "web-anonymous-1"}),
        ("/billing/promo-code/", {"code": "SPRING10"}),
        ("/billing/alert/", {"low_balance_threshold": "10.00"}),
    ]:
        response = client.post(path, data)

        assert response.status_code == 302, path
        assert response["Location"] == f"/login/?next={path}"
    assert money_state() == before


def test_another_tenants_invoice_pdf_is_404_and_an_unknown_one_too(client, tenancy):
    with clock.frozen(datetime(2026, 2, 15, 12, 0, tzinfo=UTC)):
        services.record_spend(advertiser=tenancy.bakery, amount_micros=3_000_000, idempotency_key="spend-feb")
    invoice = services.invoice_issue(advertiser=tenancy.bakery, period_start=date(2026, 2, 1))
    assert invoice is not None
    client.force_login(tenancy.agent_b)

    assert client.get(f"/billing/invoices/{invoice.pk}/pdf/").status_code == 404
    assert client.get(f"/billing/invoices/{invoice.pk + 1000}/pdf/").status_code == 404
    assert one_text(client.get("/billing/invoices/"), data_testid="invoices") == (
        "Number Period Status Issued Due Total ad spend Download "
        "No statements yet: one is issued after each calendar month with activity."
    )


def test_another_tenant_sees_only_its_own_money_on_every_page_and_in_the_csv(client, tenancy):
    services.top_up(
        actor=tenancy.owner,
        advertiser=tenancy.bakery,
        amount_micros=70_000_000,
        payment_method="pm_card_visa",
        idempotency_key="b1",
    )
    services.top_up(
        actor=tenancy.agent_b,
        advertiser=tenancy.client_b1,
        amount_micros=9_000_000,
        payment_method="pm_card_visa",
        idempotency_key="c1",
    )
    client.force_login(tenancy.agent_b)

    overview = client.get("/billing/")
    export = client.get("/billing/transactions.csv")

    assert one_text(overview, data_testid="balance") == "9.00 EUR"
    assert [row[2] for row in rows(overview, "transactions")] == [
        f"Card payment {receipt_of(TopUp.objects.get(advertiser=tenancy.client_b1))}"
    ]
    assert [row[1] for row in rows(overview, "top-ups")] == ["9.00 EUR"]
    assert [row[5] for row in csv_rows(export)] == ["amount", "9.00"]
    assert [row[1] for row in rows(client.get("/billing/top-ups/"), "top-ups")] == ["9.00 EUR"]


@pytest.mark.parametrize("role", ["analyst", "operator"])
def test_analysts_and_operators_read_every_page_without_any_form(client, tenancy, operator, role):
    with clock.frozen(datetime(2026, 2, 15, 12, 0, tzinfo=UTC)):
        services.record_spend(advertiser=tenancy.bakery, amount_micros=3_000_000, idempotency_key="spend-feb")
    invoice = services.invoice_issue(advertiser=tenancy.bakery, period_start=date(2026, 2, 1))
    assert invoice is not None
    client.force_login(tenancy.analyst if role == "analyst" else operator)

    responses = {path: client.get(path) for path in PAGES}
    pdf = client.get(f"/billing/invoices/{invoice.pk}/pdf/")

    assert {path: response.status_code for path, response in responses.items()} == dict.fromkeys(PAGES, 200)
    assert pdf.status_code == 200
    for path in ("/billing/", "/billing/transactions/", "/billing/top-ups/", "/billing/invoices/"):
        assert texts(responses[path], data_testid="read-only") == [READ_ONLY.format(role=role)], path
        assert [action for action in forms_posting_to(responses[path]) if action.startswith("/billing/")] == [], path
        assert texts(responses[path], "a", href="/billing/#top-up") == [], path
    assert one_text(responses["/billing/"], data_testid="balance") == "-3.00 EUR"
    assert find(responses["/billing/"], "input", name="idempotency_key") == []


@pytest.mark.parametrize("role", ["analyst", "operator"])
def test_writes_posted_anyway_by_analysts_and_operators_are_refused_by_the_services_and_write_nothing(
    client, tenancy, staff, operator, role
):
    make_code(staff, "SPRING10", "10.00")
    client.force_login(tenancy.analyst if role == "analyst" else operator)
    before = money_state()

    for form, path, data in [
        ("top_up", "/billing/top-up/", {"amount": "20.00", "payment_method": "pm_card_visa", "idempotency_key": "web-sneaky-1"}),
        ("promo", "/billing/promo-code/", {"code": "SPRING10"}),
        ("alert", "/billing/alert/", {"low_balance_threshold": "10.00"}),
    ]:
        response = client.post(path, data)

        assert response.status_code == 403, path
        assert form_errors(response, form) == [REFUSED], path
        assert texts(response, data_testid="read-only") == [READ_ONLY.format(role=role)]
    assert money_state() == before
    assert balance_of(tenancy.bakery) == 0


# --- the balance card ------------------------------------------------------------------------------


def test_a_new_prepaid_account_shows_zero_and_says_its_ads_are_not_delivering(owner_client, tenancy):
    response = owner_client.get("/billing/")

    assert response.status_code == 200
    assert one_text(response, data_testid="balance") == "0.00 EUR"
    assert one_text(response, data_testid="spendable") == "0.00 EUR"
    assert one_text(response, data_testid="spendable-explained") == "Your balance: ads stop when it reaches zero."
    assert one_text(response, data_testid="billing-mode") == "Prepaid"
    assert one_text(response, data_testid="alert-threshold") == "Off"
    assert one_text(response, data_testid="not-delivering") == (
        "Your ads are not delivering. Bakery has nothing left to spend (0.00 EUR). Add funds to start delivering again. Add funds"
    )
    assert one_text(response, data_testid="minimum-top-up") == "At least 5.00 EUR."
    assert one_text(response, data_testid="sandbox-note") == "Sandbox mode: payments use test cards and no money moves."
    (select,) = find(response, "select", name="payment_method")
    assert [(dict(option.attributes)["value"], text(option)) for option in find(select, "option")] == [
        ("pm_card_visa", "Visa •••• 4242 · succeeds"),
        ("pm_card_chargeDeclined", "Visa •••• 0002 · declined"),
        ("pm_card_chargeDeclinedExpiredCard", "Visa •••• 0069 · expired card"),
    ]
    assert rows(response, "transactions") == []


def test_a_credit_line_counts_its_limit_as_spendable_and_warns_only_when_it_is_used_up(owner_client, tenancy):
    Advertiser.objects.filter(pk=tenancy.bakery.pk).update(billing_mode="credit_line", credit_limit_micros=500_000_000)
    services.record_spend(advertiser=tenancy.bakery, amount_micros=120_000_000, idempotency_key="spend-1")

    running = owner_client.get("/billing/")
    services.record_spend(advertiser=tenancy.bakery, amount_micros=380_000_000, idempotency_key="spend-2")
    used_up = owner_client.get("/billing/")

    assert one_text(running, data_testid="balance") == "-120.00 EUR"
    assert one_text(running, data_testid="spendable") == "380.00 EUR"
    assert one_text(running, data_testid="spendable-explained") == "Your balance plus your credit line of 500.00 EUR."
    assert one_text(running, data_testid="billing-mode") == "Credit line"
    assert find(running, data_testid="not-delivering") == []
    assert one_text(used_up, data_testid="spendable") == "0.00 EUR"
    assert one_text(used_up, data_testid="not-delivering") == (
        "Your ads are not delivering. Bakery has used its whole credit line of 500.00 EUR: spendable is 0.00 EUR. "
        "Add funds or pay your open invoices to start delivering again. Add funds"
    )


def test_spendable_below_the_alert_threshold_shows_a_warning(owner_client, tenancy):
    services.top_up(
        actor=tenancy.owner,
        advertiser=tenancy.bakery,
        amount_micros=8_000_000,
        payment_method="pm_card_visa",
        idempotency_key="k",
    )
    services.billing_profile_update(actor=tenancy.owner, advertiser=tenancy.bakery, low_balance_threshold_micros=10_000_000)

    response = owner_client.get("/billing/")

    assert one_text(response, data_testid="alert-threshold") == "10.00 EUR"
    assert one_text(response, data_testid="low-balance") == (
        "Running low: 8.00 EUR left to spend, below your alert at 10.00 EUR. Your ads stop when it reaches zero."
    )
    assert find(response, data_testid="not-delivering") == []


# --- top-ups ---------------------------------------------------------------------------------------


def test_a_top_up_with_the_visa_test_card_adds_the_money_and_shows_the_receipt(owner_client, tenancy):
    form = top_up_form(owner_client, "20.00", "pm_card_visa")

    response = owner_client.post("/billing/top-up/", form)
    page = owner_client.get(response["Location"])

    assert response.status_code == 302
    assert response["Location"] == "/billing/"
    record = TopUp.objects.get()
    assert (record.status, record.amount_micros, record.currency, record.payment_method, record.idempotency_key) == (
        "succeeded",
        20_000_000,
        "EUR",
        "pm_card_visa",
        form["idempotency_key"],
    )
    assert form["idempotency_key"].startswith("web-")
    assert list(Transaction.objects.values_list("kind", "amount_micros", "balance_after_micros", "reference", "created_by")) == [
        ("top_up", 20_000_000, 20_000_000, receipt_of(record), tenancy.owner.pk)
    ]
    assert balance_of(tenancy.bakery) == 20_000_000
    assert flashes(page) == [f"Payment received: 20.00 EUR was added to your balance. Receipt {receipt_of(record)}."]
    assert one_text(page, data_testid="balance") == "20.00 EUR"
    assert find(page, data_testid="not-delivering") == []
    assert rows(page, "transactions") == [
        ["10 Mar 2026, 12:00", "Top-up", f"Card payment {receipt_of(record)}", "—", "+20.00", "20.00"]
    ]
    assert rows(page, "top-ups") == [
        ["10 Mar 2026, 12:00", "20.00 EUR", "Visa •••• 4242 (test)", "Succeeded", receipt_of(record), "—"]
    ]
    assert value_of(page, "idempotency_key") != form["idempotency_key"]


@pytest.mark.parametrize(
    ("card", "message", "status", "code"),
    [
        ("pm_card_chargeDeclined", "Your card was declined.", "declined", "card_declined"),
        ("pm_card_chargeDeclinedExpiredCard", "Your card has expired.", "failed", "expired_card"),
    ],
)
def test_a_declined_or_expired_card_shows_the_providers_message_and_adds_nothing(
    owner_client, tenancy, card, message, status, code
):
    form = top_up_form(owner_client, "20.00", card)
    ledger_before = list(Transaction.objects.values_list("pk"))

    response = owner_client.post("/billing/top-up/", form)

    assert response.status_code == 402
    assert form_errors(response, "top_up") == [f"{message} Nothing was charged and your balance is unchanged."]
    assert list(Transaction.objects.values_list("pk")) == ledger_before == []
    assert balance_of(tenancy.bakery) == 0
    assert one_text(response, data_testid="balance") == "0.00 EUR"
    record = TopUp.objects.get()
    assert (record.status, record.failure_code, record.failure_message, record.receipt_number, record.transaction) == (
        status,
        code,
        message,
        None,
        None,
    )
    assert rows(response, "top-ups")[0][3:] == [status.capitalize(), "—", message]
    # What was typed stays; the form gets a new key so another card can be tried.
    assert value_of(response, "amount") == "20.00"
    assert value_of(response, "idempotency_key") not in ("", form["idempotency_key"])


def test_trying_another_card_after_a_decline_succeeds_once(owner_client, tenancy):
    declined = owner_client.post("/billing/top-up/", top_up_form(owner_client, "20.00", "pm_card_chargeDeclined"))
    retry = {"amount": "20.00", "payment_method": "pm_card_visa", "idempotency_key": value_of(declined, "idempotency_key")}

    response = owner_client.post("/billing/top-up/", retry)

    assert response.status_code == 302
    assert list(TopUp.objects.order_by("pk").values_list("status", "payment_method")) == [
        ("declined", "pm_card_chargeDeclined"),
        ("succeeded", "pm_card_visa"),
    ]
    assert balance_of(tenancy.bakery) == 20_000_000


def test_submitting_the_same_form_again_never_charges_twice(owner_client, tenancy):
    form = top_up_form(owner_client, "20.00", "pm_card_visa")

    first = owner_client.post("/billing/top-up/", form, follow=True)
    again = owner_client.post("/billing/top-up/", form, follow=True)

    assert (first.status_code, again.status_code) == (200, 200)
    record = TopUp.objects.get()
    assert list(Transaction.objects.values_list("kind", "amount_micros")) == [("top_up", 20_000_000)]
    assert balance_of(tenancy.bakery) == 20_000_000
    assert flashes(again) == [
        f"This payment was already made: 20.00 EUR, receipt {receipt_of(record)}. Nothing was charged again."
    ]
    assert one_text(again, data_testid="balance") == "20.00 EUR"


def test_submitting_a_declined_form_again_does_not_try_the_card_again(owner_client, tenancy):
    form = top_up_form(owner_client, "20.00", "pm_card_chargeDeclined")

    owner_client.post("/billing/top-up/", form)
    again = owner_client.post("/billing/top-up/", form)

    assert again.status_code == 402
    assert form_errors(again, "top_up") == ["Your card was declined. Nothing was charged and your balance is unchanged."]
    assert TopUp.objects.count() == 1
    assert Transaction.objects.count() == 0


def test_a_used_form_sent_with_another_amount_is_refused_and_charges_nothing_more(owner_client, tenancy):
    form = top_up_form(owner_client, "20.00", "pm_card_visa")
    owner_client.post("/billing/top-up/", form)
    before = money_state()

    response = owner_client.post("/billing/top-up/", {**form, "amount": "30.00"})

    assert response.status_code == 409
    assert form_errors(response, "top_up") == [
        "This form was already used for another payment. Check the amount and card, then submit again."
    ]
    assert money_state() == before
    assert value_of(response, "idempotency_key") != form["idempotency_key"]


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"amount": "4.99"}, "amount", "The smallest top-up is 5.00 EUR."),
        ({"amount": "-20.00"}, "amount", "The smallest top-up is 5.00 EUR."),
        ({"amount": "1000000.01"}, "amount", "The largest top-up is 1000000.00 EUR."),
        ({"amount": "20.005"}, "amount", "EUR amounts have at most 2 decimal places."),
        ({"amount": "twenty"}, "amount", "Enter a decimal amount such as 12.50."),
        ({"amount": ""}, "amount", "This field is required."),
        (
            {"payment_method": "pm_card_mastercard"},
            "payment_method",
            "Select a valid choice. pm_card_mastercard is not one of the available choices.",
        ),
    ],
)
def test_an_amount_or_card_the_services_refuse_shows_on_its_field_and_writes_nothing(
    owner_client, tenancy, changes, field, error
):
    form = {**top_up_form(owner_client), **changes}
    before = money_state()

    response = owner_client.post("/billing/top-up/", form)

    assert response.status_code == 400
    assert field_errors(response, field) == [error]
    assert money_state() == before
    assert value_of(response, "idempotency_key") == form["idempotency_key"]  # nothing used it


def test_a_top_up_without_the_forms_key_is_refused(owner_client, tenancy):
    before = money_state()

    response = owner_client.post("/billing/top-up/", {"amount": "20.00", "payment_method": "pm_card_visa"})

    assert response.status_code == 400
    assert texts(response, "div", role="alert") == ["This form expired. Reload the page and try again."]
    assert money_state() == before


def test_outside_the_sandbox_the_payment_method_is_a_saved_method_id(owner_client, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_not_used_by_this_test"

    response = owner_client.get("/billing/")

    assert find(response, "select", name="payment_method") == []
    assert [dict(element.attributes)["placeholder"] for element in find(response, "input", name="payment_method")] == ["pm_…"]
    assert find(response, data_testid="sandbox-note") == []


# --- promo codes -----------------------------------------------------------------------------------


def test_a_promo_code_is_applied_at_once(owner_client, tenancy, staff):
    make_code(staff, "SPRING10", "10.00")

    response = owner_client.post("/billing/promo-code/", {"code": " spring10 "})
    page = owner_client.get("/billing/")

    assert response.status_code == 302
    assert flashes(page) == ["Code SPRING10 applied: 10.00 EUR of ad credit was added to your balance."]
    assert list(Redemption.objects.values_list("status", "amount_micros")) == [("applied", 10_000_000)]
    assert list(Transaction.objects.values_list("kind", "amount_micros", "reference")) == [("credit", 10_000_000, "SPRING10")]
    assert one_text(page, data_testid="balance") == "10.00 EUR"
    assert rows(page, "transactions") == [
        ["10 Mar 2026, 12:00", "Ad credit", "Promotional ad credit SPRING10", "—", "+10.00", "10.00"]
    ]


def test_a_first_top_up_code_is_pending_until_the_first_top_up_then_lands_with_it(owner_client, tenancy, staff):
    make_code(staff, "WELCOME25", "25.00", currency="USD", first_top_up=True)

    redeemed = owner_client.post("/billing/promo-code/", {"code": "WELCOME25"})
    pending = owner_client.get("/billing/")
    owner_client.post("/billing/top-up/", top_up_form(owner_client, "20.00"))
    after = owner_client.get("/billing/")

    assert redeemed.status_code == 302
    assert flashes(pending) == ["Code WELCOME25 accepted: 23.00 EUR of ad credit is pending until your first top-up."]
    assert (
        one_text(pending, data_testid="pending-credits")
        == "Pending WELCOME25 — 23.00 EUR of ad credit, added with your first payment."
    )
    assert one_text(pending, data_testid="balance") == "0.00 EUR"
    assert one_text(after, data_testid="balance") == "43.00 EUR"
    assert find(after, data_testid="pending-credits") == []
    assert [row[1:] for row in rows(after, "transactions")] == [
        ["Ad credit", "Promotional ad credit WELCOME25", "—", "+23.00", "43.00"],
        ["Top-up", f"Card payment {receipt_of(TopUp.objects.get())}", "—", "+20.00", "20.00"],
    ]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("NOSUCHCODE", "This code is not valid."),
        ("OLD5", "This code has expired."),
        ("SPRING10", "This account has used this code already."),
    ],
)
def test_a_code_that_cannot_be_redeemed_says_why_and_credits_nothing(owner_client, tenancy, staff, code, error):
    make_code(staff, "OLD5", "5.00", days=1)
    make_code(staff, "SPRING10", "10.00")
    services.promo_code_redeem(actor=tenancy.owner, advertiser=tenancy.bakery, code="SPRING10")
    before = money_state()

    with clock.frozen(MOMENT + timedelta(days=2)):
        response = owner_client.post("/billing/promo-code/", {"code": code})

    assert response.status_code == 400
    assert field_errors(response, "code") == [error]
    assert money_state() == before
    assert value_of(response, "code") == code


# --- the low-balance alert ---------------------------------------------------------------------------


def test_the_low_balance_threshold_is_saved_and_can_be_turned_off(owner_client, tenancy):
    saved = owner_client.post("/billing/alert/", {"low_balance_threshold": "10.00"}, follow=True)
    threshold = BillingProfile.objects.get(advertiser=tenancy.bakery).low_balance_threshold_micros
    cleared = owner_client.post("/billing/alert/", {"low_balance_threshold": ""}, follow=True)

    assert threshold == 10_000_000
    assert flashes(saved) == ["Low-balance alert saved: admins get an e-mail when less than 10.00 EUR is left."]
    assert one_text(saved, data_testid="alert-threshold") == "10.00 EUR"
    assert value_of(saved, "low_balance_threshold") == "10.00"
    assert flashes(cleared) == ["Low-balance alert turned off."]
    assert BillingProfile.objects.get(advertiser=tenancy.bakery).low_balance_threshold_micros is None
    assert one_text(cleared, data_testid="alert-threshold") == "Off"


@pytest.mark.parametrize(
    ("typed", "error"),
    [("0", "Enter an amount above zero, or leave it empty for no alert."), ("ten", "Enter a decimal amount such as 12.50.")],
)
def test_a_threshold_the_service_refuses_shows_on_the_field_and_keeps_the_old_one(owner_client, tenancy, typed, error):
    services.billing_profile_update(actor=tenancy.owner, advertiser=tenancy.bakery, low_balance_threshold_micros=10_000_000)
    before = money_state()

    response = owner_client.post("/billing/alert/", {"low_balance_threshold": typed})

    assert response.status_code == 400
    assert field_errors(response, "low_balance_threshold") == [error]
    assert money_state() == before


# --- transactions --------------------------------------------------------------------------------------


@pytest.fixture
def ledger(tenancy, staff):
    """A week of the bakery's money, posted at known moments (Berlin is UTC+1 in March before the 29th)."""
    bread = CampaignFactory(advertiser=tenancy.bakery, name="Fresh bread")
    with clock.frozen(datetime(2026, 3, 2, 8, 0, tzinfo=UTC)):  # Mon 09:00 Berlin
        first = services.top_up(
            actor=tenancy.owner,
            advertiser=tenancy.bakery,
            amount_micros=50_000_000,
            payment_method="pm_card_visa",
            idempotency_key="a",
        )
    services.record_spend(
        advertiser=tenancy.bakery,
        amount_micros=1_234_567,
        idempotency_key="spend-3",
        campaign=bread,
        reference="delivery 2026-03-03",
        at=datetime(2026, 3, 3, 22, 59, tzinfo=UTC),  # Tue 23:59 Berlin
    )
    services.record_spend(
        advertiser=tenancy.bakery,
        amount_micros=2_000_000,
        idempotency_key="spend-4",
        campaign=bread,
        reference="delivery 2026-03-04",
        at=datetime(2026, 3, 3, 23, 30, tzinfo=UTC),  # Wed 00:30 Berlin
    )
    with clock.frozen(datetime(2026, 3, 5, 9, 0, tzinfo=UTC)):
        services.adjustment_post(
            staff=staff, advertiser=tenancy.bakery, amount_micros=-500_000, reason="=Goodwill, see ticket 42"
        )
    return {"bread": bread, "receipt": receipt_of(first)}


def test_transactions_are_listed_newest_first_in_the_advertisers_time_zone(owner_client, ledger):
    response = owner_client.get("/billing/transactions/")

    assert response.status_code == 200
    assert one_text(response, data_testid="transaction-count") == "4 transactions"
    assert rows(response, "transactions") == [
        ["5 Mar 2026, 10:00", "Adjustment", "=Goodwill, see ticket 42", "—", "—", "-0.50", "46.265433"],
        ["4 Mar 2026, 00:30", "Ad spend", "Ad delivery", "delivery 2026-03-04", "Fresh bread", "-2.00", "46.765433"],
        ["3 Mar 2026, 23:59", "Ad spend", "Ad delivery", "delivery 2026-03-03", "Fresh bread", "-1.234567", "48.765433"],
        ["2 Mar 2026, 09:00", "Top-up", "Card payment", ledger["receipt"], "—", "+50.00", "50.00"],
    ]
    (table,) = find(response, "table", data_testid="transactions")
    amount_classes = [str(dict(cell.attributes).get("class")).split() for cell in find(table, "td")]
    assert [tone for classes in amount_classes if "amount" in classes for tone in classes if tone in TONES] == [
        "text-danger",
        "text-danger",
        "text-danger",
        "text-success",
    ]
    assert texts(table, "a", href=f"/campaigns/{ledger['bread'].pk}/") == ["Fresh bread", "Fresh bread"]


def test_transactions_filter_by_kind_and_by_days_of_the_advertisers_time_zone(owner_client, ledger):
    spend = owner_client.get("/billing/transactions/", {"kind": "spend"})
    wednesday_on = owner_client.get("/billing/transactions/", {"date_from": "2026-03-04"})
    up_to_tuesday = owner_client.get("/billing/transactions/", {"date_from": "2026-03-02", "date_to": "2026-03-03"})
    spend_on_wednesday = owner_client.get(
        "/billing/transactions/", {"kind": "spend", "date_from": "2026-03-04", "date_to": "2026-03-04"}
    )

    assert [row[3] for row in rows(spend, "transactions")] == ["delivery 2026-03-04", "delivery 2026-03-03"]
    assert [row[0] for row in rows(wednesday_on, "transactions")] == ["5 Mar 2026, 10:00", "4 Mar 2026, 00:30"]
    assert [row[0] for row in rows(up_to_tuesday, "transactions")] == ["3 Mar 2026, 23:59", "2 Mar 2026, 09:00"]
    assert [row[0] for row in rows(spend_on_wednesday, "transactions")] == ["4 Mar 2026, 00:30"]
    assert one_text(spend_on_wednesday, data_testid="transaction-count") == "1 transaction matches"
    (export,) = find(spend_on_wednesday, "a", data_testid="export-csv")
    assert dict(export.attributes)["href"] == "/billing/transactions.csv?kind=spend&date_from=2026-03-04&date_to=2026-03-04"
    nothing = owner_client.get("/billing/transactions/", {"date_from": "2026-04-01"})
    assert rows(nothing, "transactions") == []
    assert one_text(nothing, data_testid="transactions").endswith("No transactions match these filters.")


def test_the_calendars_first_and_last_days_are_filters_like_any_other(owner_client, ledger):
    everything = {"date_from": "0001-01-01", "date_to": "9999-12-31"}

    for query in ({"date_to": "9999-12-31"}, everything):
        response = owner_client.get("/billing/transactions/", query)
        export = owner_client.get("/billing/transactions.csv", query)

        assert response.status_code == 200
        assert one_text(response, data_testid="transaction-count") == "4 transactions match"
        assert export.status_code == 200
        assert len(csv_rows(export)) == 1 + 4
    assert rows(owner_client.get("/billing/transactions/", {"date_from": "9999-12-31"}), "transactions") == []


def test_a_date_range_that_ends_before_it_starts_is_pointed_out(owner_client, ledger):
    response = owner_client.get("/billing/transactions/", {"date_from": "2026-03-05", "date_to": "2026-03-01"})
    export = owner_client.get("/billing/transactions.csv", {"date_from": "2026-03-05", "date_to": "2026-03-01"})

    assert response.status_code == 400
    assert field_errors(response, "date_to") == ["The end date is before the start date."]
    assert export.status_code == 400
    assert export.content.decode() == "Fix the filters: date_to: The end date is before the start date.\n"


def test_transactions_are_paged_fifty_at_a_time_and_pages_keep_the_filter(owner_client, tenancy):
    for number in range(51):
        services.record_spend(
            advertiser=tenancy.bakery,
            amount_micros=10_000,
            idempotency_key=f"spend-{number}",
            reference=f"window {number:02d}",
            at=MOMENT - timedelta(minutes=51 - number),
        )

    first = owner_client.get("/billing/transactions/", {"kind": "spend"})
    second = owner_client.get("/billing/transactions/", {"kind": "spend", "page": "2"})

    assert len(rows(first, "transactions")) == 50
    assert rows(first, "transactions")[0][3] == "window 50"
    assert texts(first, "a", href="?kind=spend&page=2") == ["Next"]
    assert [row[3] for row in rows(second, "transactions")] == ["window 00"]
    assert texts(second, "a", href="?kind=spend&page=1") == ["Previous"]


def test_the_csv_export_has_the_filtered_rows_with_iso_dates_and_decimal_amounts(owner_client, tenancy, ledger):
    everything = owner_client.get("/billing/transactions.csv")
    spend = owner_client.get("/billing/transactions.csv", {"kind": "spend", "date_from": "2026-03-03", "date_to": "2026-03-03"})

    assert everything.status_code == 200
    assert everything["Content-Type"] == "text/csv; charset=utf-8"
    assert everything["Content-Disposition"] == f'attachment; filename="transactions-{tenancy.bakery.pk}-2026-03-10.csv"'
    assert csv_rows(everything) == [
        CSV_HEADER.split(","),
        ["2026-03-05T10:00:00+01:00", "adjustment", "'=Goodwill, see ticket 42", "", "", "-0.50", "46.265433", "EUR"],
        ["2026-03-04T00:30:00+01:00", "spend", "Ad delivery", "delivery 2026-03-04", "Fresh bread", "-2.00", "46.765433", "EUR"],
        [
            "2026-03-03T23:59:00+01:00",
            "spend",
            "Ad delivery",
            "delivery 2026-03-03",
            "Fresh bread",
            "-1.234567",
            "48.765433",
            "EUR",
        ],
        ["2026-03-02T09:00:00+01:00", "top_up", "Card payment", ledger["receipt"], "", "50.00", "50.00", "EUR"],
    ]
    assert csv_rows(spend) == [
        CSV_HEADER.split(","),
        [
            "2026-03-03T23:59:00+01:00",
            "spend",
            "Ad delivery",
            "delivery 2026-03-03",
            "Fresh bread",
            "-1.234567",
            "48.765433",
            "EUR",
        ],
    ]


def test_the_overview_shows_the_ten_latest_transactions_and_links_to_all_and_the_export(owner_client, ledger):
    response = owner_client.get("/billing/")

    assert [row[0] for row in rows(response, "transactions")] == [
        "5 Mar 2026, 10:00",
        "4 Mar 2026, 00:30",
        "3 Mar 2026, 23:59",
        "2 Mar 2026, 09:00",
    ]
    assert texts(response, "a", href="/billing/transactions/") == ["Transactions", "All transactions (4)"]
    assert texts(response, "a", href="/billing/transactions.csv") == ["Export CSV"]


# --- invoices, statements and payments -------------------------------------------------------------------


def test_a_statement_is_listed_and_its_pdf_downloads_with_the_months_figures(owner_client, tenancy):
    bread = CampaignFactory(advertiser=tenancy.bakery, name="Fresh bread")
    with clock.frozen(datetime(2026, 2, 2, 9, 0, tzinfo=UTC)):
        services.top_up(
            actor=tenancy.owner,
            advertiser=tenancy.bakery,
            amount_micros=40_000_000,
            payment_method="pm_card_visa",
            idempotency_key="f",
        )
    services.record_spend(
        advertiser=tenancy.bakery,
        amount_micros=12_500_000,
        idempotency_key="spend-feb",
        campaign=bread,
        at=datetime(2026, 2, 20, 12, 0, tzinfo=UTC),
    )
    with clock.frozen(datetime(2026, 3, 1, 6, 0, tzinfo=UTC)):
        invoice = services.invoice_issue(advertiser=tenancy.bakery, period_start=date(2026, 2, 1))
    assert invoice is not None

    listing = owner_client.get("/billing/invoices/")
    response = owner_client.get(f"/billing/invoices/{invoice.pk}/pdf/")

    number = f"STM-202602-{tenancy.bakery.pk:06d}"
    assert rows(listing, "invoices") == [
        [f"{number} Statement", "February 2026", "Issued", "1 Mar 2026", "—", "12.50 EUR", f"PDF of {number}"]
    ]
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{number}.pdf"'
    pdf_text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    for line in (
        "Adplatform statement",
        number,
        "Bakery",
        "01 Feb 2026 - 28 Feb 2026 (Europe/Berlin)",
        "Opening balance",
        "Ad spend: Fresh bread",
        "12.50 EUR",
        "Top-up",
        "40.00 EUR",
        "Closing balance",
        "27.50 EUR",
    ):
        assert line in pdf_text, line


def test_a_credit_line_invoice_shows_its_due_date_and_open_status(owner_client, tenancy):
    Advertiser.objects.filter(pk=tenancy.bakery.pk).update(billing_mode="credit_line", credit_limit_micros=500_000_000)
    bakery = Advertiser.objects.get(pk=tenancy.bakery.pk)
    services.record_spend(
        advertiser=bakery, amount_micros=99_000_000, idempotency_key="s", at=datetime(2026, 2, 10, 12, 0, tzinfo=UTC)
    )
    invoice = services.invoice_issue(advertiser=bakery, period_start=date(2026, 2, 1))
    assert invoice is not None

    overview = owner_client.get("/billing/")
    pdf = owner_client.get(f"/billing/invoices/{invoice.pk}/pdf/")

    number = f"INV-202602-{bakery.pk:06d}"
    assert rows(overview, "invoices") == [
        [f"{number} Invoice", "February 2026", "Open", "10 Mar 2026", "9 Apr 2026", "99.00 EUR", f"PDF of {number}"]
    ]
    pdf_text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert f"Please pay 99.00 EUR by 09 Apr 2026, quoting {number}." in pdf_text
    assert Invoice.objects.get().status == "open"


def test_the_payments_page_lists_every_attempt_with_its_status_receipt_and_reason(owner_client, tenancy):
    owner_client.post("/billing/top-up/", top_up_form(owner_client, "20.00", "pm_card_visa"))
    owner_client.post("/billing/top-up/", top_up_form(owner_client, "15.00", "pm_card_chargeDeclined"))
    owner_client.post("/billing/top-up/", top_up_form(owner_client, "12.00", "pm_card_chargeDeclinedExpiredCard"))

    response = owner_client.get("/billing/top-ups/")

    succeeded = TopUp.objects.get(status="succeeded")
    assert rows(response, "top-ups") == [
        ["10 Mar 2026, 12:00", "12.00 EUR", "Visa •••• 0069 (test)", "Failed", "—", "Your card has expired."],
        ["10 Mar 2026, 12:00", "15.00 EUR", "Visa •••• 0002 (test)", "Declined", "—", "Your card was declined."],
        ["10 Mar 2026, 12:00", "20.00 EUR", "Visa •••• 4242 (test)", "Succeeded", receipt_of(succeeded), "—"],
    ]
    assert balance_of(tenancy.bakery) == 20_000_000


def test_a_user_without_an_advertiser_is_sent_to_create_one(client, db):
    client.force_login(UserFactory(email="new@example.com"))

    assert client.get("/billing/")["Location"] == "/accounts/new/"
    assert client.get("/billing/transactions.csv").status_code == 404


def test_a_statement_pdf_dates_its_issue_in_the_advertisers_time_zone_like_the_page(owner_client, tenancy):
    services.record_spend(
        advertiser=tenancy.bakery, amount_micros=1_000_000, idempotency_key="s", at=datetime(2026, 2, 10, tzinfo=UTC)
    )
    with clock.frozen(datetime(2026, 2, 28, 23, 30, tzinfo=UTC)):  # 1 March, 00:30 in Berlin: February has just ended there
        invoice = services.invoice_issue(advertiser=tenancy.bakery, period_start=date(2026, 2, 1))
    assert invoice is not None

    listing = owner_client.get("/billing/invoices/")
    pdf_text = PdfReader(io.BytesIO(owner_client.get(f"/billing/invoices/{invoice.pk}/pdf/").content)).pages[0].extract_text()

    assert rows(listing, "invoices")[0][3] == "1 Mar 2026"
    assert "Issued 01 Mar 2026" in pdf_text


class FlakyProvider(SandboxGateway):
    """The sandbox behind a network that drops the first charge request: the outside world, mocked."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def charge(self, **kwargs: Any) -> ChargeResult:
        self.keys.append(kwargs["idempotency_key"])
        if len(self.keys) == 1:
            raise GatewayError("connection reset by peer")
        return super().charge(**kwargs)


def test_when_the_provider_cannot_be_reached_submitting_the_same_form_again_completes_one_payment(
    owner_client, tenancy, monkeypatch
):
    provider = FlakyProvider()
    monkeypatch.setattr(services, "get_gateway", lambda: provider)
    form = top_up_form(owner_client, "20.00", "pm_card_visa")

    unreachable = owner_client.post("/billing/top-up/", form)
    pending = list(TopUp.objects.values_list("status", flat=True))
    retried = owner_client.post("/billing/top-up/", {**form, "idempotency_key": value_of(unreachable, "idempotency_key")})

    assert unreachable.status_code == 503
    assert form_errors(unreachable, "top_up") == [
        "The payment provider could not be reached. Nothing was added yet; submit again in a moment."
    ]
    assert value_of(unreachable, "idempotency_key") == form["idempotency_key"]
    assert pending == ["pending"]
    assert retried.status_code == 302
    record = TopUp.objects.get()
    assert record.status == "succeeded"
    assert provider.keys == [f"adplatform-top-up-{record.pk}"] * 2  # the provider deduplicates on its key
    assert list(Transaction.objects.values_list("kind", "amount_micros")) == [("top_up", 20_000_000)]
    assert balance_of(tenancy.bakery) == 20_000_000


def test_an_invoices_due_date_is_thirty_days_after_its_issue_day_in_the_advertisers_time_zone(owner_client, tenancy):
    Advertiser.objects.filter(pk=tenancy.bakery.pk).update(billing_mode="credit_line", credit_limit_micros=500_000_000)
    bakery = Advertiser.objects.get(pk=tenancy.bakery.pk)
    services.record_spend(advertiser=bakery, amount_micros=1_000_000, idempotency_key="s", at=datetime(2026, 2, 10, tzinfo=UTC))
    with clock.frozen(datetime(2026, 2, 28, 23, 30, tzinfo=UTC)):  # 1 March, 00:30 in Berlin
        services.invoice_issue(advertiser=bakery, period_start=date(2026, 2, 1))

    response = owner_client.get("/billing/invoices/")

    assert rows(response, "invoices")[0][3:5] == ["1 Mar 2026", "31 Mar 2026"]
