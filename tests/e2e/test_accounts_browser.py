"""Signed-in users in a real Chromium: log in, switch client accounts, invite a teammate, create an API token."""

import re

import pytest
from playwright.sync_api import Page, Playwright, expect

from accounts.demo import DEMO_PASSWORD, seed
from accounts.models import Invitation, PersonalAccessToken
from tests.factories import DEFAULT_PASSWORD


def log_in(page: Page, base_url: str, email: str, password: str = DEFAULT_PASSWORD) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


@pytest.mark.django_db(transaction=True)
def test_demo_user_logs_in_and_sees_their_dashboard(live_server, page: Page):
    seed()

    log_in(page, live_server.url, "Baker@Example.com", DEMO_PASSWORD)

    expect(page.get_by_test_id("advertiser-name")).to_have_text("Corner Bakery")
    expect(page.get_by_text("EUR · Europe/Berlin · your role: admin")).to_be_visible()
    expect(page.get_by_test_id("account-switcher")).to_have_text("Corner Bakery")


@pytest.mark.django_db(transaction=True)
def test_log_in_with_a_wrong_password_stays_on_the_form(live_server, page: Page, tenancy):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("E-mail").fill("owner@example.com")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_contain_text("That e-mail address and password do not match an account.")
    expect(page).to_have_url(re.compile(r"/login/$"))


@pytest.mark.django_db(transaction=True)
def test_agency_user_switches_client_accounts_through_the_navbar(live_server, page: Page, tenancy):
    log_in(page, live_server.url, "agent.a@example.com")
    expect(page.get_by_test_id("advertiser-name")).to_have_text("Client A1")

    page.get_by_test_id("account-switcher").click()
    page.get_by_role("button", name="Client A2").click()

    expect(page.get_by_test_id("advertiser-name")).to_have_text("Client A2")
    expect(page.get_by_test_id("account-switcher")).to_have_text("Client A2")
    expect(page.get_by_role("alert")).to_contain_text("Now viewing Client A2.")
    page.reload()
    expect(page.get_by_test_id("advertiser-name")).to_have_text("Client A2")

    page.get_by_test_id("account-switcher").click()
    expect(page.get_by_role("button", name="Client B1")).to_have_count(0)
    page.get_by_role("button", name="Client A1").click()
    expect(page.get_by_test_id("advertiser-name")).to_have_text("Client A1")


@pytest.mark.django_db(transaction=True)
def test_admin_invites_a_teammate_and_sees_them_pending(live_server, page: Page, tenancy, mailoutbox):
    log_in(page, live_server.url, "owner@example.com")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
    page.get_by_label("E-mail").fill("new.baker@example.com")
    page.get_by_role("combobox", name="Role:", exact=True).select_option("analyst")
    page.get_by_role("button", name="Send invitation").click()

    expect(page.get_by_role("alert")).to_contain_text("Invitation sent to new.baker@example.com.")
    pending = page.get_by_test_id("invitations").locator("tbody tr")
    expect(pending).to_have_count(1)
    expect(pending.first).to_contain_text("new.baker@example.com")
    expect(pending.first).to_contain_text("Analyst")
    assert Invitation.objects.get().email == "new.baker@example.com"
    assert [message.to for message in mailoutbox] == [["new.baker@example.com"]]


def create_token(page: Page, name: str) -> str:
    """Create a campaigns:read token on the API access page; returns the raw token shown."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API access").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("campaigns:read").check()
    page.get_by_label("Expires after").select_option("30")
    page.get_by_role("button", name="Create token").click()
    new_token = page.get_by_test_id("new-token")
    expect(new_token).to_have_text(re.compile(r"^\s*adp_\S+\s*$"))
    return new_token.inner_text().strip()


@pytest.mark.django_db(transaction=True)
def test_new_api_token_is_shown_once_and_works(live_server, page: Page, playwright: Playwright, tenancy):
    log_in(page, live_server.url, "owner@example.com")

    raw = create_token(page, "Reporting script")

    expect(page.get_by_test_id("tokens")).to_contain_text("Reporting script")
    expect(page.get_by_test_id("tokens")).to_contain_text("campaigns:read")
    api = playwright.request.new_context(base_url=live_server.url)  # no browser cookies: the token alone
    answer = api.get("/api/v1/advertisers/", headers={"Authorization": f"Bearer {raw}"})
    assert answer.status == 200
    assert [advertiser["name"] for advertiser in answer.json()["results"]] == ["Bakery"]
    api.dispose()

    page.goto(f"{live_server.url}/api-access/")

    expect(page.get_by_test_id("tokens")).to_contain_text("Reporting script")
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    assert raw not in page.content()


@pytest.mark.django_db(transaction=True)
def test_reloading_after_creating_a_token_neither_shows_a_token_nor_creates_another(live_server, page: Page, tenancy):
    log_in(page, live_server.url, "owner@example.com")
    raw = create_token(page, "Reporting script")

    page.reload()

    assert PersonalAccessToken.objects.count() == 1
    expect(page.get_by_test_id("tokens").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    assert raw not in page.content()
