"""An advertiser adds funds with the sandbox's Visa test card and redeems a promo code, in a real Chromium."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from adplatform import clock
from billing import services
from billing.models import Redemption, TopUp, Transaction
from tests.factories import DEFAULT_PASSWORD, UserFactory


def log_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


@pytest.mark.django_db(transaction=True)
def test_an_admin_adds_funds_with_a_test_card_and_redeems_a_promo_code(live_server, page: Page, tenancy, settings):
    settings.STRIPE_SECRET_KEY = ""  # the sandbox gateway and its test cards
    staff = UserFactory(email="money@adplatform.test", is_staff=True)
    services.promo_code_create(
        staff=staff, code="SPRING10", amount_micros=10_000_000, currency="EUR", expires_at=clock.now() + timedelta(days=30)
    )
    log_in(page, live_server.url, "owner@example.com")

    # A new account has nothing to spend: the page says its ads do not deliver.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    expect(page.get_by_test_id("balance")).to_have_text("0.00 EUR")
    expect(page.get_by_test_id("not-delivering")).to_contain_text("Your ads are not delivering.")
    expect(page.get_by_test_id("minimum-top-up")).to_have_text("At least 5.00 EUR.")

    # Add 20.00 with the Visa test card.
    page.get_by_label("Amount", exact=True).fill("20.00")
    page.get_by_label("Test card").select_option(label="Visa •••• 4242 · succeeds")
    page.get_by_role("button", name="Pay and add funds").click()

    expect(page.get_by_role("alert")).to_contain_text("Payment received: 20.00 EUR was added to your balance. Receipt R-")
    record = TopUp.objects.get()
    expect(page.get_by_role("alert")).to_contain_text(f"Receipt {record.receipt_number}.")
    expect(page.get_by_test_id("balance")).to_have_text("20.00 EUR")
    expect(page.get_by_test_id("not-delivering")).to_have_count(0)
    newest = page.get_by_test_id("transactions").locator("tbody tr").first
    expect(newest).to_contain_text("Top-up")
    expect(newest).to_contain_text(str(record.receipt_number))
    expect(newest.locator("td.amount")).to_have_text("+20.00")

    # Redeem a code: the credit lands at once.
    page.get_by_label("Promo code", exact=True).fill("spring10")
    page.get_by_role("button", name="Redeem").click()

    expect(page.get_by_role("alert")).to_contain_text("Code SPRING10 applied: 10.00 EUR of ad credit was added to your balance.")
    expect(page.get_by_test_id("balance")).to_have_text("30.00 EUR")
    newest = page.get_by_test_id("transactions").locator("tbody tr").first
    expect(newest).to_contain_text("Ad credit")
    expect(newest).to_contain_text("SPRING10")
    expect(newest.locator("td.amount")).to_have_text("+10.00")

    assert list(
        Transaction.objects.order_by("pk").values_list("advertiser", "kind", "amount_micros", "balance_after_micros")
    ) == [
        (tenancy.bakery.pk, "top_up", 20_000_000, 20_000_000),
        (tenancy.bakery.pk, "credit", 10_000_000, 30_000_000),
    ]
    assert (record.status, record.amount_micros, record.payment_method) == ("succeeded", 20_000_000, "pm_card_visa")
    assert list(Redemption.objects.values_list("promo_code__code", "status")) == [("SPRING10", "applied")]
