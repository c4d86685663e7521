"""A newcomer signs up in a real Chromium and lands on their dashboard."""

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Membership, User


@pytest.mark.django_db(transaction=True)
def test_sign_up_lands_on_the_dashboard(live_server, page: Page):
    page.goto(f"{live_server.url}/signup/")

    page.get_by_label("Work e-mail").fill("new.baker@example.com")
    page.get_by_label("Your name").fill("Nia Baker")
    page.get_by_label("Password").fill("rye-and-sourdough-42")
    page.get_by_label("Business name").fill("Nia's Bakery")
    page.get_by_label("Currency").select_option("EUR")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_test_id("advertiser-name")).to_have_text("Nia's Bakery")
    expect(page.get_by_text("EUR · Europe/Berlin")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Welcome to Adplatform!")
    user = User.objects.get(email="new.baker@example.com")
    assert Membership.objects.get(user=user).advertiser.name == "Nia's Bakery"


@pytest.mark.django_db(transaction=True)
def test_sign_up_with_a_weak_password_stays_on_the_form_and_names_the_field(live_server, page: Page):
    page.goto(f"{live_server.url}/signup/")

    page.get_by_label("Work e-mail").fill("weak@example.com")
    page.get_by_label("Password").fill("12345")
    page.get_by_label("Business name").fill("Weak Co")
    page.get_by_role("button", name="Create account").click()

    expect(page.locator('[data-field-error="password"]').first).to_be_visible()
    assert not User.objects.filter(email="weak@example.com").exists()
