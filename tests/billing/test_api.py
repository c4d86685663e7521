"""/api/v1/ billing resources end to end: balance, billing profile, transactions, top-ups, invoices, credits.

Every endpoint is tried by an anonymous caller, another tenant, an analyst and an operator (on
writes), a token without the scope and the owner; every refusal also checks that nothing changed
in the database (ledger rows, balances, top-ups, redemptions, ...). The payment provider is the
sandbox gateway; only where a test needs the provider to be unreachable is it made so.
"""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from pypdf import PdfReader
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import services as account_services
from accounts.models import Advertiser, IdempotencyKey, Role
from adplatform import clock
from billing import services
from billing.gateways import GatewayError, SandboxGateway
from billing.models import Balance, BillingProfile, Invoice, InvoiceLine, PromoCode, Redemption, TopUp, Transaction
from campaigns.models import Campaign
from tests.factories import AdvertiserFactory, CampaignFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

UNIT = 1_000_000  # micros in 1.00
TRANSACTIONS = "/api/v1/transactions/"
TOP_UPS = "/api/v1/top-ups/"
INVOICES = "/api/v1/invoices/"
REDEEM = "/api/v1/credits/redeem/"
READ_SCOPE_MESSAGE = "This token lacks the scope this operation needs: billing:read."
WRITE_SCOPE_MESSAGE = "This token lacks the scope this operation needs: billing:write."
ADMIN_NEEDED = "This needs the admin role on Bakery."
ALL_BUT_BILLING_READ = ["campaigns:read", "campaigns:write", "reports:read", "billing:write"]
ALL_BUT_BILLING_WRITE = ["campaigns:read", "campaigns:write", "reports:read", "billing:read"]

MAY_10 = datetime(2025, 5, 10, 9, 30, tzinfo=UTC)
MAY_12 = datetime(2025, 5, 12, 18, 0, tzinfo=UTC)
JUNE_2 = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)


def error(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def invalid(fields: dict[str, list[str]]) -> dict:
    """The 400 body for `fields`; the message names the first field, as the API does."""
    (field, messages), *_ = fields.items()
    message = messages[0] if field == "non_field_errors" else f"Invalid input: {field}: {messages[0]}"
    return error("validation_error", message, fields)


NOT_FOUND = error("not_found", "Not found.")
NOT_AUTHENTICATED = error("not_authenticated", "Authentication credentials were not provided.")
NO_SUCH_ADVERTISER = invalid({"advertiser": ["No such advertiser."]})
KEY_REUSED = error("idempotency_key_reused", "This Idempotency-Key was already used with a different request.")


def iso(moment: datetime) -> str:
    """How DRF renders an aware UTC datetime."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def db_state() -> dict[str, list]:
    """Every row a refused billing request could have touched, for before/after comparisons."""
    return {
        "transactions": list(Transaction.objects.order_by("pk").values_list()),
        "balances": list(Balance.objects.order_by("pk").values_list()),
        "top_ups": list(TopUp.objects.order_by("pk").values_list()),
        "redemptions": list(Redemption.objects.order_by("pk").values_list()),
        "promo_codes": list(PromoCode.objects.order_by("pk").values_list()),
        "billing_profiles": list(BillingProfile.objects.order_by("pk").values_list()),
        "invoices": list(Invoice.objects.order_by("pk").values_list()),
        "invoice_lines": list(InvoiceLine.objects.order_by("pk").values_list()),
        "idempotency_keys": list(IdempotencyKey.objects.order_by("pk").values_list()),
    }


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def balance_of(advertiser: Advertiser) -> int:
    return Balance.objects.filter(advertiser=advertiser).values_list("balance_micros", flat=True).first() or 0


def top_up_body(advertiser: Advertiser, amount: str = "100.00", payment_method: str = "pm_card_visa") -> dict:
    return {"advertiser": advertiser.pk, "amount": amount, "payment_method": payment_method}


@pytest.fixture
def now():
    """The clock stopped at a whole second (recent, so tokens made now are still valid)."""
    moment = datetime.now(UTC).replace(microsecond=0)
    with clock.frozen(moment):
        yield moment


@pytest.fixture
def staff(db):
    return UserFactory(email="finance@example.com", is_staff=True)


@pytest.fixture
def charges(monkeypatch) -> list[dict]:
    """Every charge the sandbox payment provider received (the outside world, observed, not replaced)."""
    calls: list[dict] = []
    charge = SandboxGateway.charge

    def observed(self, **kwargs: Any):
        calls.append(kwargs)
        return charge(self, **kwargs)

    monkeypatch.setattr(SandboxGateway, "charge", observed)
    return calls


def promo_code(
    staff, code: str = "WELCOME10", amount_micros: int = 10 * UNIT, currency: str = "EUR", **options: Any
) -> PromoCode:
    expires_at = options.pop("expires_at", datetime.now(UTC) + timedelta(days=30))
    return services.promo_code_create(
        staff=staff, code=code, amount_micros=amount_micros, currency=currency, expires_at=expires_at, **options
    )


@dataclass
class Ledger:
    """The bakery's money in May 2025: a 100.00 top-up, 12.34 spent on "Bread", and the month's statement."""

    campaign: Campaign
    top_up: TopUp
    spend: Transaction
    invoice: Invoice

    def format(self, template: str, advertiser: Advertiser) -> str:
        return template.format(
            advertiser=advertiser.pk, transaction=self.spend.pk, top_up=self.top_up.pk, invoice=self.invoice.pk
        )


@pytest.fixture
def ledger(tenancy, staff) -> Ledger:
    bakery = tenancy.bakery
    campaign = CampaignFactory(advertiser=bakery, name="Bread")
    with clock.frozen(MAY_10):
        top_up = services.top_up(
            actor=tenancy.owner,
            advertiser=bakery,
            amount_micros=100 * UNIT,
            payment_method="pm_card_visa",
            idempotency_key="seed",
        )
    spend = services.record_spend(
        advertiser=bakery, amount_micros=12_340_000, idempotency_key="spend:may", campaign=campaign, at=MAY_12
    )
    with clock.frozen(JUNE_2):
        invoice = services.invoice_issue(advertiser=bakery, period_start=date(2025, 5, 1))
    assert invoice is not None
    promo_code(staff)
    return Ledger(campaign, top_up, spend, invoice)


# --- who may do what ------------------------------------------------------------------------------

ITEM_READS = [
    ("GET", "/api/v1/advertisers/{advertiser}/balance/", None),
    ("GET", "/api/v1/advertisers/{advertiser}/billing-profile/", None),
    ("GET", "/api/v1/transactions/{transaction}/", None),
    ("GET", "/api/v1/top-ups/{top_up}/", None),
    ("GET", "/api/v1/invoices/{invoice}/", None),
    ("GET", "/api/v1/invoices/{invoice}/pdf/", None),
]
LIST_READS = [("GET", TRANSACTIONS, None), ("GET", TOP_UPS, None), ("GET", INVOICES, None)]
ITEM_WRITES = [("PATCH", "/api/v1/advertisers/{advertiser}/billing-profile/", {"low_balance_threshold": "10.00"})]
COLLECTION_WRITES = [
    ("POST", TOP_UPS, {"advertiser": "{advertiser}", "amount": "50.00", "payment_method": "pm_card_visa"}),
    ("POST", REDEEM, {"advertiser": "{advertiser}", "code": "welcome10"}),
]
READS = LIST_READS + ITEM_READS
WRITES = ITEM_WRITES + COLLECTION_WRITES
EVERYTHING = READS + WRITES


def operation_id(operation: tuple) -> str:
    return f"{operation[0]} {operation[1]}"


def call(client: APIClient, operation: tuple, ledger: Ledger, advertiser: Advertiser, **headers: str):
    method, path, body = operation
    url = ledger.format(path, advertiser)
    if method == "GET":
        return client.get(url, **headers)
    filled = {key: advertiser.pk if value == "{advertiser}" else value for key, value in body.items()}
    return getattr(client, method.lower())(url, filled, format="json", **headers)


@pytest.mark.parametrize("operation", EVERYTHING, ids=operation_id)
def test_anonymous_callers_get_401_everywhere(tenancy, ledger, operation):
    before = db_state()

    response = call(APIClient(), operation, ledger, tenancy.bakery)

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED
    assert db_state() == before


@pytest.mark.parametrize("operation", ITEM_READS + ITEM_WRITES, ids=operation_id)
@pytest.mark.parametrize("who", ["agent_b", "stranger"])
def test_another_tenants_billing_is_404(tenancy, api_client_for, ledger, operation, who):
    before = db_state()

    response = call(api_client_for(getattr(tenancy, who)), operation, ledger, tenancy.bakery)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND
    assert db_state() == before


@pytest.mark.parametrize("operation", COLLECTION_WRITES, ids=operation_id)
@pytest.mark.parametrize("who", ["agent_b", "stranger"])
def test_another_tenant_cannot_top_up_or_redeem_for_someone_else(tenancy, api_client_for, ledger, operation, who):
    before = db_state()

    response = call(api_client_for(getattr(tenancy, who)), operation, ledger, tenancy.bakery)

    assert response.status_code == 400
    assert response.json() == NO_SUCH_ADVERTISER
    assert db_state() == before


@pytest.mark.parametrize("operation", LIST_READS, ids=operation_id)
@pytest.mark.parametrize("who", ["agent_b", "stranger"])
def test_another_tenants_lists_do_not_show_the_bakerys_money(tenancy, api_client_for, ledger, operation, who):
    response = call(api_client_for(getattr(tenancy, who)), operation, ledger, tenancy.bakery)

    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize("operation", READS, ids=operation_id)
def test_an_analyst_reads_all_billing(tenancy, api_client_for, ledger, operation):
    response = call(api_client_for(tenancy.analyst), operation, ledger, tenancy.bakery)

    assert response.status_code == 200


@pytest.mark.parametrize("operation", WRITES, ids=operation_id)
@pytest.mark.parametrize("role", [Role.ANALYST, Role.OPERATOR])
def test_billing_writes_need_the_admin_role(tenancy, api_client_for, ledger, charges, operation, role):
    user = MembershipFactory(advertiser=tenancy.bakery, role=role).user
    before = db_state()

    response = call(api_client_for(user), operation, ledger, tenancy.bakery)

    assert response.status_code == 403
    assert response.json() == error("permission_denied", ADMIN_NEEDED)
    assert db_state() == before
    assert charges == []


@pytest.mark.parametrize("operation", READS, ids=operation_id)
def test_reads_need_billing_read(tenancy, api_client_for, ledger, operation):
    response = call(api_client_for(tenancy.owner, scopes=ALL_BUT_BILLING_READ), operation, ledger, tenancy.bakery)

    assert response.status_code == 403
    assert response.json() == error("insufficient_scope", READ_SCOPE_MESSAGE)


@pytest.mark.parametrize("operation", WRITES, ids=operation_id)
def test_writes_need_billing_write(tenancy, api_client_for, ledger, charges, operation):
    before = db_state()

    response = call(api_client_for(tenancy.owner, scopes=ALL_BUT_BILLING_WRITE), operation, ledger, tenancy.bakery)

    assert response.status_code == 403
    assert response.json() == error("insufficient_scope", WRITE_SCOPE_MESSAGE)
    assert db_state() == before
    assert charges == []


@pytest.mark.parametrize(
    ("operation", "status_code"),
    [(operation, 200) for operation in READS + ITEM_WRITES] + [(operation, 201) for operation in COLLECTION_WRITES],
    ids=lambda value: operation_id(value) if isinstance(value, tuple) else str(value),
)
def test_the_owner_with_only_billing_scopes_succeeds(tenancy, api_client_for, ledger, operation, status_code):
    response = call(api_client_for(tenancy.owner, scopes=["billing:read", "billing:write"]), operation, ledger, tenancy.bakery)

    assert response.status_code == status_code


@pytest.mark.parametrize("operation", WRITES, ids=operation_id)
def test_an_agency_admin_writes_for_its_client(tenancy, api_client_for, ledger, operation):
    client_a1 = tenancy.client_a1

    response = call(api_client_for(tenancy.agent_a), operation, ledger, client_a1)

    assert response.status_code in (200, 201)
    assert response.json()["advertiser"] == client_a1.pk


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", TRANSACTIONS),
        ("patch", "/api/v1/transactions/{transaction}/"),
        ("put", "/api/v1/transactions/{transaction}/"),
        ("delete", "/api/v1/transactions/{transaction}/"),
        ("patch", "/api/v1/top-ups/{top_up}/"),
        ("delete", "/api/v1/top-ups/{top_up}/"),
        ("post", INVOICES),
        ("delete", "/api/v1/invoices/{invoice}/"),
        ("post", "/api/v1/advertisers/{advertiser}/balance/"),
        ("get", REDEEM),
    ],
)
def test_the_ledger_and_its_records_cannot_be_changed_over_the_api(tenancy, api_client_for, ledger, method, path):
    before = db_state()

    response = getattr(api_client_for(tenancy.owner), method)(ledger.format(path, tenancy.bakery), {}, format="json")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert db_state() == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/advertisers/abc/balance/",
        "/api/v1/advertisers/999999/balance/",
        "/api/v1/transactions/abc/",
        "/api/v1/transactions/999999/",
        "/api/v1/top-ups/999999/",
        "/api/v1/invoices/abc/",
        "/api/v1/invoices/999999/pdf/",
    ],
)
def test_a_missing_or_non_numeric_id_is_a_404(tenancy, api_client_for, path):
    response = api_client_for(tenancy.owner).get(path)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


# --- balance --------------------------------------------------------------------------------------


def test_balance_shows_the_ledgers_sum_in_the_advertisers_currency(tenancy, api_client_for, ledger):
    response = api_client_for(tenancy.analyst, scopes=["billing:read"]).get(f"/api/v1/advertisers/{tenancy.bakery.pk}/balance/")

    assert response.status_code == 200
    assert response.json() == {
        "advertiser": tenancy.bakery.pk,
        "balance": "87.66",
        "currency": "EUR",
        "spendable": "87.66",
        "credit_limit": "0.00",
        "billing_mode": "prepaid",
        "low_balance_threshold": None,
    }


def test_balance_of_a_credit_line_may_be_negative_and_spendable_adds_the_limit(tenancy, api_client_for):
    client_a2 = tenancy.client_a2  # USD
    Advertiser.objects.filter(pk=client_a2.pk).update(billing_mode="credit_line", credit_limit_micros=500 * UNIT)
    services.record_spend(advertiser=client_a2, amount_micros=120_500_000, idempotency_key="spend:a2")
    BillingProfile.objects.create(advertiser=client_a2, low_balance_threshold_micros=50 * UNIT)

    response = api_client_for(tenancy.agent_a).get(f"/api/v1/advertisers/{client_a2.pk}/balance/")

    assert response.status_code == 200
    assert response.json() == {
        "advertiser": client_a2.pk,
        "balance": "-120.50",
        "currency": "USD",
        "spendable": "379.50",
        "credit_limit": "500.00",
        "billing_mode": "credit_line",
        "low_balance_threshold": "50.00",
    }


def test_an_agency_token_sees_its_clients_balances_only(tenancy, api_client_for):
    services.record_spend(advertiser=tenancy.client_a1, amount_micros=UNIT, idempotency_key="spend:a1")
    client = api_client_for(tenancy.agent_a, scopes=["billing:read"])

    answers = {
        advertiser.name: client.get(f"/api/v1/advertisers/{advertiser.pk}/balance/")
        for advertiser in (tenancy.client_a1, tenancy.client_a2, tenancy.client_b1, tenancy.bakery)
    }

    assert {name: response.status_code for name, response in answers.items()} == {
        "Client A1": 200,
        "Client A2": 200,
        "Bakery": 404,
        "Client B1": 404,
    }
    assert answers["Client A1"].json()["balance"] == "-1.00"
    assert answers["Client A2"].json()["balance"] == "0.00"
    assert answers["Client B1"].json() == NOT_FOUND


# --- billing profile ------------------------------------------------------------------------------


def test_an_admin_sets_and_clears_the_low_balance_alert(tenancy, api_client_for):
    client = api_client_for(tenancy.owner)
    url = f"/api/v1/advertisers/{tenancy.bakery.pk}/billing-profile/"

    set_response = client.patch(url, {"low_balance_threshold": "10.50"}, format="json")

    assert set_response.status_code == 200
    assert set_response.json() == {"advertiser": tenancy.bakery.pk, "currency": "EUR", "low_balance_threshold": "10.50"}
    assert BillingProfile.objects.get(advertiser=tenancy.bakery).low_balance_threshold_micros == 10_500_000
    assert client.get(f"/api/v1/advertisers/{tenancy.bakery.pk}/balance/").json()["low_balance_threshold"] == "10.50"

    cleared = client.patch(url, {"low_balance_threshold": None}, format="json")

    assert cleared.status_code == 200
    assert cleared.json() == {"advertiser": tenancy.bakery.pk, "currency": "EUR", "low_balance_threshold": None}
    assert BillingProfile.objects.get(advertiser=tenancy.bakery).low_balance_threshold_micros is None
    assert client.get(url).json() == cleared.json()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            {"low_balance_threshold": "0"},
            {"low_balance_threshold": ["Enter an amount above zero, or leave it empty for no alert."]},
        ),
        (
            {"low_balance_threshold": "-5.00"},
            {"low_balance_threshold": ["Enter an amount above zero, or leave it empty for no alert."]},
        ),
        ({"low_balance_threshold": "ten"}, {"low_balance_threshold": ["Enter a decimal amount such as 12.50."]}),
        ({}, {"low_balance_threshold": ["This field is required."]}),
        ({"low_balance_threshold": "1.00", "currency": "USD"}, {"currency": ["This field cannot be changed."]}),
        ({"low_balance_threshold": "1.00", "alert": True}, {"alert": ["Unknown field."]}),
    ],
)
def test_an_invalid_alert_is_a_400_naming_the_field_and_changes_nothing(tenancy, api_client_for, body, fields):
    BillingProfile.objects.create(advertiser=tenancy.bakery, low_balance_threshold_micros=20 * UNIT)
    before = db_state()

    response = api_client_for(tenancy.owner).patch(
        f"/api/v1/advertisers/{tenancy.bakery.pk}/billing-profile/", body, format="json"
    )

    assert response.status_code == 400
    assert response.json() == invalid(fields)
    assert db_state() == before


# --- top-ups --------------------------------------------------------------------------------------


def test_a_top_up_charges_the_card_moves_the_balance_and_appears_in_the_ledger(tenancy, api_client_for, charges, now):
    # given: the bakery has nothing
    client = api_client_for(tenancy.owner)
    bakery = tenancy.bakery

    # when
    response = client.post(TOP_UPS, top_up_body(bakery, "100.00"), format="json")

    # then: 201 with the receipt, and the money is in the balance and the ledger
    assert response.status_code == 201
    top_up = TopUp.objects.get()
    receipt = f"R-{now:%Y%m}-{top_up.pk:08d}"
    expected = {
        "id": top_up.pk,
        "advertiser": bakery.pk,
        "amount": "100.00",
        "currency": "EUR",
        "status": "succeeded",
        "receipt_number": receipt,
        "payment_method": "pm_card_visa",
        "failure_code": "",
        "failure_message": "",
        "created_at": iso(now),
        "completed_at": iso(now),
        "balance": "100.00",
    }
    assert response.json() == expected
    assert response["Location"] == f"/api/v1/top-ups/{top_up.pk}/"
    assert client.get(f"/api/v1/top-ups/{top_up.pk}/").json() == expected
    assert [(charge["amount_micros"], charge["currency"], charge["payment_method"]) for charge in charges] == [
        (100 * UNIT, "EUR", "pm_card_visa")
    ]
    assert balance_of(bakery) == 100 * UNIT
    transaction = Transaction.objects.get()
    assert client.get(TRANSACTIONS).json()["results"] == [
        {
            "id": transaction.pk,
            "advertiser": bakery.pk,
            "kind": "top_up",
            "amount": "100.00",
            "currency": "EUR",
            "balance_after": "100.00",
            "reference": receipt,
            "reason": "",
            "campaign": None,
            "created_at": iso(now),
        }
    ]
    assert client.get(f"/api/v1/advertisers/{bakery.pk}/balance/").json()["balance"] == "100.00"


def test_a_second_top_up_shows_the_balance_right_after_it(tenancy, api_client_for, ledger):
    client = api_client_for(tenancy.owner)

    response = client.post(TOP_UPS, top_up_body(tenancy.bakery, "20.00"), format="json")

    assert response.status_code == 201
    assert response.json()["balance"] == "107.66"
    assert client.get(f"/api/v1/top-ups/{ledger.top_up.pk}/").json()["balance"] == "100.00"  # right after the first


@pytest.mark.parametrize(
    ("payment_method", "code", "message", "status"),
    [
        ("pm_card_chargeDeclined", "card_declined", "Your card was declined.", "declined"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds", "Your card has insufficient funds.", "declined"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "Your card has expired.", "failed"),
        ("pm_card_unknown", "invalid_payment_method", "No such payment method: pm_card_unknown.", "declined"),
    ],
)
def test_a_declined_card_is_a_402_with_the_decline_code_and_stays_on_record(
    tenancy, api_client_for, charges, now, payment_method, code, message, status
):
    # given
    client = api_client_for(tenancy.owner)
    bakery = tenancy.bakery
    ledger_before = list(Transaction.objects.values_list())

    # when
    response = client.post(TOP_UPS, top_up_body(bakery, "100.00", payment_method), format="json")

    # then: a 402 in the one error shape, nothing posted, the attempt recorded
    assert response.status_code == 402
    assert response.json() == error(code, message, {"payment_method": [message]})
    top_up = TopUp.objects.get()
    assert response["Location"] == f"/api/v1/top-ups/{top_up.pk}/"
    assert list(Transaction.objects.values_list()) == ledger_before == []
    assert balance_of(bakery) == 0
    assert len(charges) == 1
    assert client.get(f"/api/v1/top-ups/{top_up.pk}/").json() == {
        "id": top_up.pk,
        "advertiser": bakery.pk,
        "amount": "100.00",
        "currency": "EUR",
        "status": status,
        "receipt_number": None,
        "payment_method": payment_method,
        "failure_code": code,
        "failure_message": message,
        "created_at": iso(now),
        "completed_at": iso(now),
        "balance": None,
    }
    assert ids(client.get(TOP_UPS, {"status": status})) == [top_up.pk]


def test_the_sandbox_marks_expired_cards_failed_and_other_declines_declined(tenancy, api_client_for):
    client = api_client_for(tenancy.owner)

    for payment_method in ("pm_card_chargeDeclined", "pm_card_chargeDeclinedExpiredCard"):
        client.post(TOP_UPS, top_up_body(tenancy.bakery, "10.00", payment_method), format="json")

    assert list(TopUp.objects.order_by("pk").values_list("payment_method", "status")) == [
        ("pm_card_chargeDeclined", "declined"),
        ("pm_card_chargeDeclinedExpiredCard", "failed"),
    ]


def test_a_retry_with_the_same_idempotency_key_returns_the_same_top_up_and_charges_once(tenancy, api_client_for, charges, now):
    client = api_client_for(tenancy.owner)
    body = top_up_body(tenancy.bakery, "100.00")

    first = client.post(TOP_UPS, body, format="json", HTTP_IDEMPOTENCY_KEY="top-up-1")
    retry = client.post(TOP_UPS, body, format="json", HTTP_IDEMPOTENCY_KEY="top-up-1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry["Location"] == first["Location"]
    assert TopUp.objects.count() == 1
    assert Transaction.objects.count() == 1
    assert balance_of(tenancy.bakery) == 100 * UNIT
    assert len(charges) == 1
    assert TopUp.objects.get().idempotency_key == "top-up-1"
    assert "top-up-1" not in str(first.json())  # the key is never shown


def test_a_retry_of_a_declined_top_up_gets_the_same_402_without_charging_again(tenancy, api_client_for, charges):
    client = api_client_for(tenancy.owner)
    body = top_up_body(tenancy.bakery, "100.00", "pm_card_chargeDeclined")

    first = client.post(TOP_UPS, body, format="json", HTTP_IDEMPOTENCY_KEY="try-1")
    retry = client.post(TOP_UPS, body, format="json", HTTP_IDEMPOTENCY_KEY="try-1")

    assert (first.status_code, retry.status_code) == (402, 402)
    assert retry.json() == first.json()
    assert retry["Location"] == first["Location"]
    assert TopUp.objects.count() == 1
    assert Transaction.objects.count() == 0
    assert len(charges) == 1


def test_after_a_decline_a_new_key_with_another_card_succeeds(tenancy, api_client_for):
    client = api_client_for(tenancy.owner)

    declined = client.post(TOP_UPS, top_up_body(tenancy.bakery, "100.00", "pm_card_chargeDeclined"), HTTP_IDEMPOTENCY_KEY="a")
    same_key = client.post(TOP_UPS, top_up_body(tenancy.bakery, "100.00", "pm_card_visa"), HTTP_IDEMPOTENCY_KEY="a")
    new_key = client.post(TOP_UPS, top_up_body(tenancy.bakery, "100.00", "pm_card_visa"), HTTP_IDEMPOTENCY_KEY="b")

    assert (declined.status_code, same_key.status_code, new_key.status_code) == (402, 409, 201)
    assert same_key.json() == KEY_REUSED
    assert list(TopUp.objects.order_by("pk").values_list("status", flat=True)) == ["declined", "succeeded"]
    assert balance_of(tenancy.bakery) == 100 * UNIT


@pytest.mark.parametrize(
    "changes",
    [{"amount": "100.01"}, {"payment_method": "pm_card_mastercard"}, {"advertiser": "client_a1"}],
    ids=["amount", "payment_method", "advertiser"],
)
def test_the_same_idempotency_key_with_another_body_is_a_409(tenancy, api_client_for, charges, changes):
    # given: agent A topped up client A2 with the key k-1
    user = tenancy.agent_a
    client = api_client_for(user)
    first_advertiser = tenancy.client_a2
    first = client.post(TOP_UPS, top_up_body(first_advertiser, "100.00"), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    before = db_state()
    body = top_up_body(first_advertiser, "100.00") | changes
    if body["advertiser"] == "client_a1":
        body["advertiser"] = tenancy.client_a1.pk

    # when
    response = client.post(TOP_UPS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    # then
    assert response.status_code == 409
    assert response.json() == KEY_REUSED
    assert db_state() == before
    assert len(charges) == 1


def test_one_key_used_by_two_admins_of_one_advertiser_names_one_top_up(tenancy, api_client_for, charges):
    second_admin = MembershipFactory(advertiser=tenancy.bakery, role=Role.ADMIN).user
    body = top_up_body(tenancy.bakery, "100.00")

    first = api_client_for(tenancy.owner).post(TOP_UPS, body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    second = api_client_for(second_admin).post(TOP_UPS, body, format="json", HTTP_IDEMPOTENCY_KEY="shared")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["id"] == first.json()["id"]
    assert Transaction.objects.count() == 1
    assert len(charges) == 1


@pytest.mark.parametrize(
    ("key", "message"),
    [("", "Send 1 to 200 characters."), ("   ", "Send 1 to 200 characters."), ("k" * 201, "Send 1 to 200 characters.")],
    ids=["empty", "blank", "too-long"],
)
def test_an_unusable_idempotency_key_is_a_400_and_nothing_is_charged(tenancy, api_client_for, charges, key, message):
    before = db_state()

    response = api_client_for(tenancy.owner).post(TOP_UPS, top_up_body(tenancy.bakery), format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert response.json() == invalid({"Idempotency-Key": [message]})
    assert db_state() == before
    assert charges == []


def test_a_key_of_200_characters_is_accepted(tenancy, api_client_for):
    response = api_client_for(tenancy.owner).post(
        TOP_UPS, top_up_body(tenancy.bakery), format="json", HTTP_IDEMPOTENCY_KEY="k" * 200
    )

    assert response.status_code == 201
    assert TopUp.objects.get().idempotency_key == "k" * 200


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_top_ups_with_one_key_charge_once_and_post_one_transaction(tenancy, api_client_for, charges):
    clients = [api_client_for(tenancy.owner), api_client_for(tenancy.owner)]
    start = threading.Barrier(len(clients))
    responses: list = [None, None]
    failures: list[BaseException] = []
    body = top_up_body(tenancy.bakery, "250.00")

    def post(index: int) -> None:
        try:
            start.wait(timeout=10)
            responses[index] = clients[index].post(TOP_UPS, body, format="json", HTTP_IDEMPOTENCY_KEY="concurrent")
        except BaseException as exc:  # surfaced in the main thread below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(index,)) for index in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert [response.status_code for response in responses] == [201, 201]
    assert responses[0].json() == responses[1].json()
    top_up = TopUp.objects.get()
    assert Transaction.objects.filter(advertiser=tenancy.bakery).count() == 1
    assert balance_of(tenancy.bakery) == 250 * UNIT
    # Both requests may reach the provider while the top-up is pending, but always with one key: one charge.
    assert {charge["idempotency_key"] for charge in charges} == {f"adplatform-top-up-{top_up.pk}"}
    assert services.ledger_check() == []


def test_an_unreachable_provider_is_a_502_and_a_retry_with_the_key_completes_the_same_top_up(
    tenancy, api_client_for, monkeypatch
):
    # given: the provider's network fails once
    client = api_client_for(tenancy.owner)
    charge = SandboxGateway.charge
    attempts: list[str] = []

    def flaky(self, **kwargs: Any):
        attempts.append(kwargs["idempotency_key"])
        if len(attempts) == 1:
            raise GatewayError("Connection reset by peer")
        return charge(self, **kwargs)

    monkeypatch.setattr(SandboxGateway, "charge", flaky)
    body = top_up_body(tenancy.bakery, "40.00")

    # when
    failed = client.post(TOP_UPS, body, format="json", HTTP_IDEMPOTENCY_KEY="net-1")

    # then: nothing posted, the top-up waits
    assert failed.status_code == 502
    assert failed.json() == error(
        "payment_provider_unavailable",
        "The payment provider could not be reached. Retry with the same Idempotency-Key: the card is never charged twice.",
    )
    assert list(TopUp.objects.values_list("status", flat=True)) == ["pending"]
    assert Transaction.objects.count() == 0

    # when: the client retries with the same key
    retry = client.post(TOP_UPS, body, format="json", HTTP_IDEMPOTENCY_KEY="net-1")

    # then: the same top-up completes, with the same key at the provider
    assert retry.status_code == 201
    assert retry.json()["id"] == TopUp.objects.get().pk
    assert retry.json()["status"] == "succeeded"
    assert Transaction.objects.count() == 1
    assert balance_of(tenancy.bakery) == 40 * UNIT
    assert attempts == [f"adplatform-top-up-{retry.json()['id']}"] * 2


@pytest.fixture
def yen_shop(tenancy):
    """A JPY advertiser of the bakery's owner: no decimals, a smallest daily budget of 100 yen."""
    shop = AdvertiserFactory(name="Bakery", currency="JPY", time_zone="Asia/Tokyo")
    MembershipFactory(advertiser=shop, user=tenancy.owner)
    return shop


@pytest.mark.parametrize(
    ("currency", "amount", "fields"),
    [
        ("EUR", "4.99", {"amount": ["The smallest top-up is 5.00 EUR."]}),
        ("EUR", "0", {"amount": ["The smallest top-up is 5.00 EUR."]}),
        ("EUR", "-100.00", {"amount": ["The smallest top-up is 5.00 EUR."]}),
        ("EUR", "1000000.01", {"amount": ["The largest top-up is 1000000.00 EUR."]}),
        ("EUR", "1e30", {"amount": ["Amount is too large."]}),
        ("EUR", "NaN", {"amount": ["Enter a decimal amount such as 12.50."]}),
        ("EUR", "ten euros", {"amount": ["Enter a decimal amount such as 12.50."]}),
        ("EUR", "12.345", {"amount": ["EUR amounts have at most 2 decimal places."]}),
        ("EUR", "12.0000001", {"amount": ["Use at most 6 decimal places."]}),
        ("JPY", "1000.5", {"amount": ["JPY amounts have at most 0 decimal places."]}),
        ("JPY", "499", {"amount": ["The smallest top-up is 500.00 JPY."]}),
    ],
)
def test_an_invalid_amount_is_a_400_naming_amount_and_nothing_is_written(
    tenancy, api_client_for, yen_shop, charges, currency, amount, fields
):
    advertiser = yen_shop if currency == "JPY" else tenancy.bakery
    before = db_state()

    response = api_client_for(tenancy.owner).post(
        TOP_UPS, top_up_body(advertiser, amount), format="json", HTTP_IDEMPOTENCY_KEY="fix-and-retry"
    )

    assert response.status_code == 400
    assert response.json() == invalid(fields)
    assert db_state() == before
    assert charges == []


def test_a_refused_amount_leaves_the_key_free_for_the_fixed_request(tenancy, api_client_for):
    client = api_client_for(tenancy.owner)

    refused = client.post(TOP_UPS, top_up_body(tenancy.bakery, "1.00"), format="json", HTTP_IDEMPOTENCY_KEY="fix")
    fixed = client.post(TOP_UPS, top_up_body(tenancy.bakery, "5.00"), format="json", HTTP_IDEMPOTENCY_KEY="fix")

    assert (refused.status_code, fixed.status_code) == (400, 201)
    assert fixed.json()["amount"] == "5.00"


def test_a_yen_top_up_in_whole_yen_succeeds(tenancy, api_client_for, yen_shop):
    response = api_client_for(tenancy.owner).post(TOP_UPS, top_up_body(yen_shop, "5000"), format="json")

    assert response.status_code == 201
    assert (response.json()["amount"], response.json()["currency"], response.json()["balance"]) == ("5000.00", "JPY", "5000.00")
    assert balance_of(yen_shop) == 5000 * UNIT


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"amount": "10.00", "payment_method": "pm_card_visa"}, {"advertiser": ["This field is required."]}),
        ({"advertiser": "{advertiser}", "payment_method": "pm_card_visa"}, {"amount": ["This field is required."]}),
        ({"advertiser": "{advertiser}", "amount": "10.00"}, {"payment_method": ["This field is required."]}),
        (
            {"advertiser": "{advertiser}", "amount": "10.00", "payment_method": ""},
            {"payment_method": ["This field may not be blank."]},
        ),
        (
            {"advertiser": "{advertiser}", "amount": "10.00", "payment_method": "p" * 201},
            {"payment_method": ["Ensure this field has no more than 200 characters."]},
        ),
        (
            {"advertiser": "bakery", "amount": "10.00", "payment_method": "pm_card_visa"},
            {"advertiser": ["A valid integer is required."]},
        ),
        ({"advertiser": 999999, "amount": "10.00", "payment_method": "pm_card_visa"}, {"advertiser": ["No such advertiser."]}),
        (
            {"advertiser": "{advertiser}", "amount": "10.00", "payment_method": "pm_card_visa", "currency": "USD"},
            {"currency": ["Unknown field."]},
        ),
    ],
)
def test_an_invalid_top_up_request_is_a_400_naming_the_field(tenancy, api_client_for, charges, body, fields):
    before = db_state()
    filled = {key: tenancy.bakery.pk if value == "{advertiser}" else value for key, value in body.items()}

    response = api_client_for(tenancy.owner).post(TOP_UPS, filled, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(fields)
    assert db_state() == before
    assert charges == []


def test_top_up_list_shows_the_callers_top_ups_with_filters(tenancy, api_client_for, ledger):
    agency = api_client_for(tenancy.agent_a)
    owner = api_client_for(tenancy.owner)
    a1 = agency.post(TOP_UPS, top_up_body(tenancy.client_a1, "10.00"), format="json").json()["id"]
    agency.post(TOP_UPS, top_up_body(tenancy.client_a2, "10.00", "pm_card_chargeDeclined"), format="json")
    a2_declined = TopUp.objects.get(advertiser=tenancy.client_a2).pk
    bakery = owner.post(TOP_UPS, top_up_body(tenancy.bakery, "10.00"), format="json").json()["id"]

    assert ids(agency.get(TOP_UPS)) == [a2_declined, a1]
    assert ids(agency.get(TOP_UPS, {"status": "declined"})) == [a2_declined]
    assert ids(agency.get(TOP_UPS, {"advertiser": tenancy.client_a1.pk})) == [a1]
    assert ids(agency.get(TOP_UPS, {"advertiser": tenancy.bakery.pk})) == []  # a filter never widens the tenancy
    assert ids(owner.get(TOP_UPS)) == [bakery, ledger.top_up.pk]
    assert ids(owner.get(TOP_UPS, {"ordering": "created_at"})) == [ledger.top_up.pk, bakery]
    assert owner.get(TOP_UPS, {"status": "paid"}).json() == invalid(
        {"status": ["Select a valid choice. paid is not one of the available choices."]}
    )


def test_two_identical_top_ups_without_a_key_at_one_moment_are_two_top_ups(tenancy, api_client_for, now):
    client = api_client_for(tenancy.owner)
    body = top_up_body(tenancy.bakery, "10.00")

    first = client.post(TOP_UPS, body, format="json")
    second = client.post(TOP_UPS, body, format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert TopUp.objects.count() == 2
    assert balance_of(tenancy.bakery) == 20 * UNIT


# --- transactions ---------------------------------------------------------------------------------


def test_transaction_detail_shows_the_documented_shape_and_never_the_idempotency_key(tenancy, api_client_for, ledger):
    client = api_client_for(tenancy.owner, scopes=["billing:read"])

    spend = client.get(f"/api/v1/transactions/{ledger.spend.pk}/")
    top_up = client.get(f"/api/v1/transactions/{ledger.top_up.transaction_id}/")

    assert spend.status_code == 200
    assert spend.json() == {
        "id": ledger.spend.pk,
        "advertiser": tenancy.bakery.pk,
        "kind": "spend",
        "amount": "-12.34",
        "currency": "EUR",
        "balance_after": "87.66",
        "reference": "",
        "reason": "",
        "campaign": ledger.campaign.pk,
        "created_at": "2025-05-12T18:00:00Z",
    }
    assert top_up.json() == {
        "id": ledger.top_up.transaction_id,
        "advertiser": tenancy.bakery.pk,
        "kind": "top_up",
        "amount": "100.00",
        "currency": "EUR",
        "balance_after": "100.00",
        "reference": f"R-202505-{ledger.top_up.pk:08d}",
        "reason": "",
        "campaign": None,
        "created_at": "2025-05-10T09:30:00Z",
    }
    assert "spend:may" not in spend.content.decode()
    assert "seed" not in top_up.content.decode()


@dataclass
class History:
    """Five movements of the bakery's money in March 2025 and one of agency A's client, by name."""

    ids: dict[str, int]
    bread: Campaign
    rolls: Campaign


@pytest.fixture
def history(tenancy, staff) -> History:
    bakery = tenancy.bakery
    bread = CampaignFactory(advertiser=bakery, name="Bread")
    rolls = CampaignFactory(advertiser=bakery, name="Rolls")
    made: dict[str, int] = {}
    with clock.frozen(datetime(2025, 3, 1, 10, 0, tzinfo=UTC)):
        made["top_up"] = services.top_up(
            actor=tenancy.owner, advertiser=bakery, amount_micros=200 * UNIT, payment_method="pm_card_visa"
        ).transaction_id
    made["spend_bread"] = services.record_spend(
        advertiser=bakery,
        amount_micros=10 * UNIT,
        idempotency_key="s1",
        campaign=bread,
        at=datetime(2025, 3, 2, 23, 30, tzinfo=UTC),
    ).pk
    made["spend_rolls"] = services.record_spend(
        advertiser=bakery,
        amount_micros=5 * UNIT,
        idempotency_key="s2",
        campaign=rolls,
        at=datetime(2025, 3, 3, 0, 30, tzinfo=UTC),
    ).pk
    code = promo_code(staff, "SPRING")
    with clock.frozen(datetime(2025, 3, 4, 12, 0, tzinfo=UTC)):
        redemption = services.promo_code_redeem(actor=tenancy.owner, advertiser=bakery, code=code.code)
    made["credit"] = redemption.transaction_id
    with clock.frozen(datetime(2025, 3, 5, 8, 0, tzinfo=UTC)):
        made["adjustment"] = services.adjustment_post(
            staff=staff, advertiser=bakery, amount_micros=-UNIT, reason="Duplicate credit"
        ).pk
    made["client_a1"] = services.record_spend(
        advertiser=tenancy.client_a1, amount_micros=UNIT, idempotency_key="s3", at=datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
    ).pk
    return History(made, bread, rolls)


BAKERY_NEWEST_FIRST = ["adjustment", "credit", "spend_rolls", "spend_bread", "top_up"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, BAKERY_NEWEST_FIRST),
        ({"kind": "spend"}, ["spend_rolls", "spend_bread"]),
        ({"kind": "credit"}, ["credit"]),
        ({"kind": "adjustment"}, ["adjustment"]),
        ({"campaign": "{bread}"}, ["spend_bread"]),
        ({"advertiser": "{bakery}", "kind": "top_up"}, ["top_up"]),
        ({"created_after": "2025-03-03"}, ["adjustment", "credit", "spend_rolls"]),
        ({"created_before": "2025-03-03"}, ["spend_bread", "top_up"]),
        ({"created_after": "2025-03-02", "created_before": "2025-03-04"}, ["spend_rolls", "spend_bread"]),
        ({"created_after": "2025-03-02T23:30:00Z"}, ["adjustment", "credit", "spend_rolls", "spend_bread"]),
        ({"created_before": "2025-03-02T23:30:00Z"}, ["top_up"]),
        ({"created_after": "2025-03-03T01:00:00+01:00", "created_before": "2025-03-03T02:00:00+01:00"}, ["spend_rolls"]),
        ({"created_after": "2025-03-03T00:00:00"}, ["adjustment", "credit", "spend_rolls"]),
        ({"created_after": "2025-03-04T12:00:00-05:00"}, ["adjustment"]),
        ({"ordering": "created_at"}, list(reversed(BAKERY_NEWEST_FIRST))),
    ],
)
def test_transaction_filters(tenancy, api_client_for, history, query, expected):
    names = {"{bread}": history.bread.pk, "{bakery}": tenancy.bakery.pk}
    params = {key: names.get(value, value) for key, value in query.items()}

    response = api_client_for(tenancy.owner).get(TRANSACTIONS, params)

    assert response.status_code == 200
    assert ids(response) == [history.ids[name] for name in expected]


def test_transactions_show_each_caller_their_own_advertisers_only(tenancy, api_client_for, history):
    agency = api_client_for(tenancy.agent_a)

    assert ids(agency.get(TRANSACTIONS)) == [history.ids["client_a1"]]
    assert ids(agency.get(TRANSACTIONS, {"advertiser": tenancy.bakery.pk})) == []
    assert ids(api_client_for(tenancy.analyst).get(TRANSACTIONS)) == [history.ids[name] for name in BAKERY_NEWEST_FIRST]
    assert agency.get(f"/api/v1/transactions/{history.ids['top_up']}/").status_code == 404


def test_transaction_list_shows_credits_and_adjustments_with_their_reason(tenancy, api_client_for, history):
    rows = {row["kind"]: row for row in api_client_for(tenancy.owner).get(TRANSACTIONS).json()["results"]}

    assert (rows["credit"]["amount"], rows["credit"]["reference"], rows["credit"]["balance_after"]) == (
        "10.00",
        "SPRING",
        "195.00",
    )
    assert (rows["adjustment"]["amount"], rows["adjustment"]["reason"], rows["adjustment"]["balance_after"]) == (
        "-1.00",
        "Duplicate credit",
        "194.00",
    )


DATE_ERROR = "Enter an ISO 8601 date (2025-06-01) or date and time (2025-06-01T09:30:00+02:00)."


@pytest.mark.parametrize(
    ("url", "query", "fields"),
    [
        (TRANSACTIONS, {"kind": "bonus"}, {"kind": ["Select a valid choice. bonus is not one of the available choices."]}),
        (TRANSACTIONS, {"advertiser": "bakery"}, {"advertiser": ["Enter a whole number."]}),
        (TRANSACTIONS, {"campaign": "1.5"}, {"campaign": ["Enter a whole number."]}),
        (TRANSACTIONS, {"created_after": "yesterday"}, {"created_after": [DATE_ERROR]}),
        (TRANSACTIONS, {"created_before": "2025-02-30"}, {"created_before": [DATE_ERROR]}),
        (TRANSACTIONS, {"created_after": "0001-01-01T00:00:00+01:00"}, {"created_after": [DATE_ERROR]}),
        (TRANSACTIONS, {"page": "9"}, {"page": ["Invalid page."]}),
        (INVOICES, {"period": "2025-13"}, {"period": ["Enter a month as YYYY-MM."]}),
        (INVOICES, {"period": "2025-05-01"}, {"period": ["Enter a month as YYYY-MM."]}),
        (INVOICES, {"kind": "receipt"}, {"kind": ["Select a valid choice. receipt is not one of the available choices."]}),
        (INVOICES, {"status": "late"}, {"status": ["Select a valid choice. late is not one of the available choices."]}),
    ],
)
def test_an_invalid_filter_is_a_400_naming_it(tenancy, api_client_for, url, query, fields):
    response = api_client_for(tenancy.owner).get(url, query)

    assert response.status_code == 400
    assert response.json() == invalid(fields)


@pytest.mark.parametrize("url", [TRANSACTIONS, TOP_UPS, INVOICES])
def test_a_list_page_costs_the_same_queries_for_one_row_or_many(tenancy, api_client_for, url):
    client = api_client_for(tenancy.owner)
    bakery = tenancy.bakery

    def add_month(month: int) -> None:
        campaign = CampaignFactory(advertiser=bakery, name=f"Campaign {month}")
        with clock.frozen(datetime(2024, month, 3, tzinfo=UTC)):
            services.top_up(actor=tenancy.owner, advertiser=bakery, amount_micros=10 * UNIT, payment_method="pm_card_visa")
        services.record_spend(
            advertiser=bakery,
            amount_micros=UNIT,
            idempotency_key=f"q{month}",
            campaign=campaign,
            at=datetime(2024, month, 4, tzinfo=UTC),
        )
        with clock.frozen(datetime(2024, 12, 31, tzinfo=UTC) + timedelta(days=40)):
            services.invoice_issue(advertiser=bakery, period_start=date(2024, month, 1))

    add_month(1)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for month in range(2, 12):
        add_month(month)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)

    assert response.json()["count"] > 1
    assert len(many) == len(one)


# --- invoices -------------------------------------------------------------------------------------


@dataclass
class CreditLine:
    client: Advertiser
    invoice: Invoice
    bread: Campaign
    apples: Campaign


@pytest.fixture
def credit_line(tenancy) -> CreditLine:
    """Agency A's client A1 on a 500.00 EUR credit line, with May 2025's invoice for two campaigns."""
    client = tenancy.client_a1
    Advertiser.objects.filter(pk=client.pk).update(billing_mode="credit_line", credit_limit_micros=500 * UNIT)
    client.refresh_from_db()
    bread = CampaignFactory(advertiser=client, name="Bread")
    apples = CampaignFactory(advertiser=client, name="Apples")
    services.record_spend(advertiser=client, amount_micros=30 * UNIT, idempotency_key="b1", campaign=bread, at=MAY_10)
    services.record_spend(advertiser=client, amount_micros=7_250_000, idempotency_key="b2", campaign=bread, at=MAY_12)
    services.record_spend(advertiser=client, amount_micros=20_250_000, idempotency_key="a1", campaign=apples, at=MAY_12)
    with clock.frozen(JUNE_2):
        invoice = services.invoice_issue(advertiser=client, period_start=date(2025, 5, 1))
    assert invoice is not None
    return CreditLine(client, invoice, bread, apples)


def test_an_agency_reads_its_clients_invoice_with_lines(tenancy, api_client_for, credit_line):
    invoice = credit_line.invoice
    client = api_client_for(tenancy.agent_a, scopes=["billing:read"])

    listed = client.get(INVOICES)
    detail = client.get(f"/api/v1/invoices/{invoice.pk}/")

    summary = {
        "id": invoice.pk,
        "advertiser": credit_line.client.pk,
        "kind": "invoice",
        "number": f"INV-202505-{credit_line.client.pk:06d}",
        "period": "2025-05",
        "period_start": "2025-05-01",
        "period_end": "2025-06-01",
        "currency": "EUR",
        "total": "57.50",
        "opening_balance": "0.00",
        "closing_balance": "-57.50",
        "status": "open",
        "issued_at": "2025-06-02T08:00:00Z",
        "due_date": "2025-07-02",
        "paid_at": None,
    }
    assert listed.status_code == 200
    assert listed.json() == {"count": 1, "next": None, "previous": None, "results": [summary]}
    assert detail.status_code == 200
    assert detail.json() == summary | {
        "lines": [
            {"position": 1, "description": "Ad spend: Apples", "campaign": credit_line.apples.pk, "amount": "20.25"},
            {"position": 2, "description": "Ad spend: Bread", "campaign": credit_line.bread.pk, "amount": "37.25"},
        ]
    }
    assert api_client_for(tenancy.owner).get(f"/api/v1/invoices/{invoice.pk}/").status_code == 404


def test_a_prepaid_statement_lists_money_movements_and_balances(tenancy, api_client_for, ledger):
    response = api_client_for(tenancy.owner).get(f"/api/v1/invoices/{ledger.invoice.pk}/")

    body = response.json()
    assert (body["kind"], body["status"], body["number"], body["due_date"]) == (
        "statement",
        "issued",
        f"STM-202505-{tenancy.bakery.pk:06d}",
        None,
    )
    assert (body["total"], body["opening_balance"], body["closing_balance"]) == ("12.34", "0.00", "87.66")
    assert body["lines"] == [
        {"position": 1, "description": "Ad spend: Bread", "campaign": ledger.campaign.pk, "amount": "12.34"},
        {"position": 2, "description": "Top-up", "campaign": None, "amount": "100.00"},
    ]


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages)


def test_the_invoice_pdf_downloads_with_its_number_and_total(tenancy, api_client_for, credit_line):
    invoice = credit_line.invoice
    number = f"INV-202505-{credit_line.client.pk:06d}"

    response = api_client_for(tenancy.agent_a, scopes=["billing:read"]).get(f"/api/v1/invoices/{invoice.pk}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{number}.pdf"'
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    assert number in text
    assert "Client A1" in text
    assert "Ad spend: Apples" in text
    assert "20.25 EUR" in text
    assert "37.25 EUR" in text
    assert "57.50 EUR" in text
    assert f"Please pay 57.50 EUR by 02 Jul 2025, quoting {number}." in text


def test_the_pdf_answers_a_client_that_asks_for_pdf_and_refuses_one_that_only_takes_json(tenancy, api_client_for, ledger):
    client = api_client_for(tenancy.owner)
    url = f"/api/v1/invoices/{ledger.invoice.pk}/pdf/"

    as_pdf = client.get(url, HTTP_ACCEPT="application/pdf")
    as_json = client.get(url, HTTP_ACCEPT="application/json")

    assert as_pdf.status_code == 200
    assert f"STM-202505-{tenancy.bakery.pk:06d}" in pdf_text(as_pdf.content)
    assert as_json.status_code == 406
    assert as_json["Content-Type"] == "application/json"
    assert as_json.json()["error"]["code"] == "not_acceptable"


def test_a_pdf_refusal_is_json_even_when_the_client_asks_for_pdf(tenancy, api_client_for, ledger):
    response = api_client_for(tenancy.stranger).get(f"/api/v1/invoices/{ledger.invoice.pk}/pdf/", HTTP_ACCEPT="application/pdf")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND


def test_invoice_filters(tenancy, api_client_for, credit_line, staff):
    # given: client A1's May invoice (open), a paid April invoice, and client A2's May statement
    client_a1 = credit_line.client
    services.record_spend(advertiser=client_a1, amount_micros=UNIT, idempotency_key="apr", at=datetime(2025, 4, 10, tzinfo=UTC))
    with clock.frozen(JUNE_2):
        april = services.invoice_issue(advertiser=client_a1, period_start=date(2025, 4, 1))
        assert april is not None
        services.invoice_mark_paid(staff=staff, invoice=april)
    services.record_spend(advertiser=tenancy.client_a2, amount_micros=UNIT, idempotency_key="a2", at=MAY_12)
    with clock.frozen(JUNE_2):
        statement = services.invoice_issue(advertiser=tenancy.client_a2, period_start=date(2025, 5, 1))
        assert statement is not None
    may = credit_line.invoice
    client = api_client_for(tenancy.agent_a)

    assert ids(client.get(INVOICES)) == [statement.pk, may.pk, april.pk]
    assert ids(client.get(INVOICES, {"period": "2025-05"})) == [statement.pk, may.pk]
    assert ids(client.get(INVOICES, {"period": "2025-04"})) == [april.pk]
    assert ids(client.get(INVOICES, {"period": "2025-03"})) == []
    assert ids(client.get(INVOICES, {"kind": "statement"})) == [statement.pk]
    assert ids(client.get(INVOICES, {"status": "paid"})) == [april.pk]
    assert ids(client.get(INVOICES, {"status": "open", "advertiser": client_a1.pk})) == [may.pk]
    assert ids(client.get(INVOICES, {"advertiser": tenancy.bakery.pk})) == []
    paid = client.get(f"/api/v1/invoices/{april.pk}/").json()
    assert (paid["status"], paid["paid_at"]) == ("paid", "2025-06-02T08:00:00Z")


# --- credits --------------------------------------------------------------------------------------


def test_redeeming_a_code_adds_the_credit_to_the_balance(tenancy, api_client_for, staff, now):
    promo_code(staff, "WELCOME10", 10 * UNIT)
    client = api_client_for(tenancy.owner)

    response = client.post(REDEEM, {"advertiser": tenancy.bakery.pk, "code": " welcome10 "}, format="json")

    assert response.status_code == 201
    assert response.json() == {
        "advertiser": tenancy.bakery.pk,
        "code": "WELCOME10",
        "amount": "10.00",
        "currency": "EUR",
        "status": "applied",
        "created_at": iso(now),
    }
    assert balance_of(tenancy.bakery) == 10 * UNIT
    credit = Transaction.objects.get()
    assert (credit.kind, credit.amount_micros, credit.reference) == ("credit", 10 * UNIT, "WELCOME10")
    assert client.get(TRANSACTIONS, {"kind": "credit"}).json()["results"][0]["amount"] == "10.00"


def test_a_code_in_another_currency_is_credited_converted_to_whole_cents(tenancy, api_client_for, staff):
    promo_code(staff, "USD25", 25 * UNIT, "USD")  # 25 USD at 0.92 EUR per USD

    response = api_client_for(tenancy.owner).post(REDEEM, {"advertiser": tenancy.bakery.pk, "code": "USD25"}, format="json")

    assert response.status_code == 201
    assert (response.json()["amount"], response.json()["currency"]) == ("23.00", "EUR")
    assert balance_of(tenancy.bakery) == 23 * UNIT


def test_a_first_top_up_code_waits_for_the_first_top_up(tenancy, api_client_for, staff):
    promo_code(staff, "FIRST20", 20 * UNIT, requires_first_top_up=True)
    client = api_client_for(tenancy.owner)

    redeemed = client.post(REDEEM, {"advertiser": tenancy.bakery.pk, "code": "FIRST20"}, format="json")

    assert redeemed.status_code == 201
    assert (redeemed.json()["status"], redeemed.json()["amount"]) == ("pending", "20.00")
    assert Transaction.objects.count() == 0
    assert balance_of(tenancy.bakery) == 0

    topped_up = client.post(TOP_UPS, top_up_body(tenancy.bakery, "50.00"), format="json")

    assert topped_up.status_code == 201
    assert topped_up.json()["balance"] == "50.00"  # right after the top-up; the credit follows it
    assert client.get(f"/api/v1/advertisers/{tenancy.bakery.pk}/balance/").json()["balance"] == "70.00"
    assert [row["kind"] for row in client.get(TRANSACTIONS).json()["results"]] == ["credit", "top_up"]
    assert Redemption.objects.get().status == "applied"


def test_a_declined_top_up_does_not_release_a_waiting_credit(tenancy, api_client_for, staff):
    promo_code(staff, "FIRST20", 20 * UNIT, requires_first_top_up=True)
    client = api_client_for(tenancy.owner)
    client.post(REDEEM, {"advertiser": tenancy.bakery.pk, "code": "FIRST20"}, format="json")

    declined = client.post(TOP_UPS, top_up_body(tenancy.bakery, "50.00", "pm_card_chargeDeclined"), format="json")

    assert declined.status_code == 402
    assert Redemption.objects.get().status == "pending"
    assert Transaction.objects.count() == 0


@pytest.mark.parametrize(
    ("setup", "code", "message"),
    [
        ("none", "NOPE", "This code is not valid."),
        ("inactive", "WELCOME10", "This code is not valid."),
        ("expired", "WELCOME10", "This code has expired."),
        ("used", "WELCOME10", "This account has used this code already."),
        ("used_up", "WELCOME10", "This code has been used up."),
        ("none", "", "This field may not be blank."),
    ],
)
def test_an_unusable_code_is_a_400_naming_code_and_changes_nothing(tenancy, api_client_for, staff, setup, code, message):
    # given
    soon = datetime.now(UTC) + timedelta(hours=1)
    if setup != "none":
        promo = promo_code(staff, "WELCOME10", expires_at=soon, max_redemptions=1 if setup == "used_up" else None)
        if setup == "inactive":
            PromoCode.objects.filter(pk=promo.pk).update(is_active=False)
        if setup == "used":
            services.promo_code_redeem(actor=tenancy.owner, advertiser=tenancy.bakery, code="WELCOME10")
        if setup == "used_up":
            services.promo_code_redeem(actor=tenancy.agent_a, advertiser=tenancy.client_a1, code="WELCOME10")
    client = api_client_for(tenancy.owner)
    before = db_state()

    # when
    moment = soon + timedelta(minutes=1) if setup == "expired" else datetime.now(UTC)
    with clock.frozen(moment):
        response = client.post(REDEEM, {"advertiser": tenancy.bakery.pk, "code": code}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"code": [message]})
    assert db_state() == before


def test_a_redeem_retried_with_its_idempotency_key_replays_the_first_answer(tenancy, api_client_for, staff):
    promo_code(staff, "WELCOME10")
    client = api_client_for(tenancy.owner)
    body = {"advertiser": tenancy.bakery.pk, "code": "WELCOME10"}

    first = client.post(REDEEM, body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    retry = client.post(REDEEM, body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    other_body = client.post(REDEEM, body | {"code": "OTHER"}, format="json", HTTP_IDEMPOTENCY_KEY="r-1")

    assert (first.status_code, retry.status_code, other_body.status_code) == (201, 201, 409)
    assert retry.content == first.content
    assert retry["Idempotent-Replayed"] == "true"
    assert other_body.json() == KEY_REUSED
    assert Redemption.objects.count() == 1
    assert balance_of(tenancy.bakery) == 10 * UNIT


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"code": "WELCOME10"}, {"advertiser": ["This field is required."]}),
        ({"advertiser": "{advertiser}"}, {"code": ["This field is required."]}),
        ({"advertiser": "{advertiser}", "code": "WELCOME10", "amount": "50.00"}, {"amount": ["Unknown field."]}),
    ],
)
def test_an_invalid_redeem_request_is_a_400_naming_the_field(tenancy, api_client_for, staff, body, fields):
    promo_code(staff, "WELCOME10")
    before = db_state()
    filled = {key: tenancy.bakery.pk if value == "{advertiser}" else value for key, value in body.items()}

    response = api_client_for(tenancy.owner).post(REDEEM, filled, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(fields)
    assert db_state() == before


# --- schema ---------------------------------------------------------------------------------------

BILLING_OPERATIONS = {
    ("get", "/api/v1/advertisers/{id}/balance/"): ["billing:read"],
    ("get", "/api/v1/advertisers/{id}/billing-profile/"): ["billing:read"],
    ("patch", "/api/v1/advertisers/{id}/billing-profile/"): ["billing:write"],
    ("get", "/api/v1/transactions/"): ["billing:read"],
    ("get", "/api/v1/transactions/{id}/"): ["billing:read"],
    ("get", "/api/v1/top-ups/"): ["billing:read"],
    ("post", "/api/v1/top-ups/"): ["billing:write"],
    ("get", "/api/v1/top-ups/{id}/"): ["billing:read"],
    ("get", "/api/v1/invoices/"): ["billing:read"],
    ("get", "/api/v1/invoices/{id}/"): ["billing:read"],
    ("get", "/api/v1/invoices/{id}/pdf/"): ["billing:read"],
    ("post", "/api/v1/credits/redeem/"): ["billing:write"],
}


BILLING_PATH_PARTS = ("/balance/", "/billing-profile/", "/transactions/", "/top-ups/", "/invoices/", "/credits/")


def test_the_schema_documents_every_billing_operation_with_its_scopes_and_the_402(client):
    schema = client.get("/api/schema/?format=json").json()

    documented = {
        (method, path): sorted(scope for requirement in operation["security"] for scope in requirement.get("oauth2", []))
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if any(part in path for part in BILLING_PATH_PARTS)
    }
    assert documented == BILLING_OPERATIONS
    top_up = schema["paths"]["/api/v1/top-ups/"]["post"]
    assert top_up["responses"]["402"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert top_up["responses"]["409"]["description"].startswith("The Idempotency-Key was used")
    assert [parameter["name"] for parameter in top_up["parameters"]] == ["Idempotency-Key"]
    assert list(schema["paths"]["/api/v1/invoices/{id}/pdf/"]["get"]["responses"]["200"]["content"]) == ["application/pdf"]
    components = schema["components"]["schemas"]
    assert components["TransactionKindEnum"]["enum"] == ["top_up", "spend", "credit", "refund", "adjustment", "invoice_payment"]
    assert components["TopUpCreateRequest"]["required"] == ["advertiser", "amount", "payment_method"]
    assert "idempotency_key" not in components["Transaction"]["properties"]
    assert "idempotency_key" not in components["TopUp"]["properties"]


@pytest.fixture
def wsgi_app(db) -> Iterator[WSGIHandler]:
    """The project's WSGI app, kept on the test's database connection (as Django's test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_billing_endpoints_never_fail_and_answer_in_the_documented_shape(tenancy, ledger, wsgi_app, settings, mode):
    # given: the schema as the API serves it, a real token of agency A's admin, and money on its client
    settings.API_THROTTLE_RATE = "100000/min"
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app).include(
        path_regex=r"^/api/v1/(advertisers/\{id\}/(balance|billing-profile)|transactions|top-ups|invoices|credits)/"
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    _, raw = account_services.personal_token_create(user=tenancy.agent_a, name="fuzz", scopes=["billing:read", "billing:write"])
    headers = {"Authorization": f"Bearer {raw}"}
    client_a1 = tenancy.client_a1
    services.top_up(actor=tenancy.agent_a, advertiser=client_a1, amount_micros=50 * UNIT, payment_method="pm_card_visa")
    own = {
        "{id}": client_a1.pk,
        "/api/v1/transactions/{id}/": Transaction.objects.get(advertiser=client_a1).pk,
        "/api/v1/top-ups/{id}/": TopUp.objects.get(advertiser=client_a1).pk,
    }
    valid_bodies = {
        TOP_UPS: {"advertiser": client_a1.pk, "amount": "5.00", "payment_method": "pm_card_visa"},
        REDEEM: {"advertiser": client_a1.pk, "code": "WELCOME10"},
    }
    before = {"bakery": balance_of(tenancy.bakery), "invoices": list(Invoice.objects.values_list())}

    # then: every documented operation is fuzzed, item operations also on the caller's own items
    assert {(operation.method.lower(), operation.path) for operation in operations} == set(BILLING_OPERATIONS)
    for operation in operations:
        run_fuzz(operation, headers=headers, mode=mode)
        if "{id}" in operation.path and (mode is GenerationMode.POSITIVE or operation.method.upper() != "GET"):
            run_fuzz(operation, headers=headers, mode=mode, path_parameters={"id": own.get(operation.path, own["{id}"])})
        if operation.method.upper() == "POST" and mode is GenerationMode.POSITIVE:
            run_fuzz(operation, headers=headers, mode=mode, body=valid_bodies[operation.path])

    # and the fuzzing never reached outside the caller's tenancy, and the ledger still adds up
    assert balance_of(tenancy.bakery) == before["bakery"]
    assert list(Invoice.objects.values_list()) == before["invoices"]
    assert services.ledger_check() == []


FUZZ_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]


def run_fuzz(operation, *, headers: dict[str, str], mode: GenerationMode, **fixed: object) -> None:
    strategy = operation.as_strategy(generation_mode=mode, **fixed)

    @given(case=strategy)
    @hypothesis_settings(max_examples=10, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case) -> None:
        response = case.call_and_validate(headers=headers, checks=FUZZ_CHECKS)
        if mode is GenerationMode.NEGATIVE:
            assert response.status_code < 500

    fuzz()
