"""An advertiser reads its reports in a real Chromium: KPIs, Chart.js charts drawn with data, the table, e-mail reports.

The events are stored and rolled up exactly as in production, on the advertiser's last few days
(Berlin time) counted back from the real clock, since the live server runs on it too.
"""

import re
import uuid
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from adplatform import clock
from delivery import services as delivery_services
from reporting import services
from reporting.models import ReportSubscription
from tests.factories import DEFAULT_PASSWORD, AdFactory, AdGroupFactory, CampaignFactory

BERLIN = ZoneInfo("Europe/Berlin")


def event(ad: Any, kind: str, at: datetime, *, cost: int = 0, country: str = "DE", device: str = "mobile") -> list[str]:
    group = ad.ad_group
    return [
        at.isoformat(), str(uuid.uuid4()), kind, "valid", "", str(uuid.uuid4()), str(ad.pk), str(group.pk),
        str(group.campaign_id), str(group.campaign.advertiser_id), "feed", country, device, f"u{uuid.uuid4().hex[:8]}",
        "impression", str(cost), str(cost), "0", "", "",
    ]  # fmt: skip


def log_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


def wait_for_chart(page: Page, selector: str) -> None:
    page.wait_for_function("(selector) => window.Chart && window.Chart.getChart(document.querySelector(selector))", arg=selector)


def chart(page: Page, selector: str) -> dict[str, Any]:
    """What Chart.js holds for the canvas: its type, labels and each dataset's label and data."""
    return page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector);
            const chart = canvas && window.Chart.getChart(canvas);
            if (!chart) return null;
            return {
                type: chart.config.type,
                labels: chart.data.labels,
                datasets: chart.data.datasets.map((d, i) => ({label: d.label, data: d.data, hidden: !chart.isDatasetVisible(i)})),
                width: canvas.width,
            };
        }""",
        selector,
    )


@pytest.mark.django_db(transaction=True)
def test_the_overview_draws_its_charts_with_data_and_a_campaigns_page_its_own(live_server, page: Page, tenancy):
    bakery = tenancy.bakery
    bread = AdFactory(ad_group=AdGroupFactory(campaign=CampaignFactory(advertiser=bakery, name="Bread")))
    cakes = AdFactory(ad_group=AdGroupFactory(campaign=CampaignFactory(advertiser=bakery, name="Cakes")))
    other = AdFactory(ad_group=AdGroupFactory(campaign=CampaignFactory(advertiser=tenancy.client_b1, name="Secret B1")))
    today = clock.now().astimezone(BERLIN).date()
    noon = [datetime.combine(today - timedelta(days=back), time(12), tzinfo=BERLIN) for back in range(4)]
    rows = [event(bread, "impression", noon[1], cost=20_000) for _ in range(12)]
    rows += [event(bread, "click", noon[1]) for _ in range(3)]
    rows += [event(bread, "impression", noon[3], cost=20_000, country="AT", device="desktop") for _ in range(5)]
    rows += [event(cakes, "impression", noon[2], cost=50_000) for _ in range(4)]
    rows += [event(cakes, "click", noon[2]), event(cakes, "conversion", noon[2])]
    rows += [event(other, "impression", noon[1], cost=1_000_000) for _ in range(50)]
    delivery_services.store_rows(rows)
    services.rollup()

    log_in(page, live_server.url, "owner@example.com")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()

    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/reports/$"))
    kpis = page.get_by_test_id("kpis")
    expect(kpis.locator("[data-kpi=spend]")).to_have_text("0.54 EUR")  # 17 x 0.02 + 4 x 0.05
    expect(kpis.locator("[data-kpi=impressions]")).to_have_text("21")
    expect(kpis.locator("[data-kpi=clicks]")).to_have_text("4")
    expect(kpis.locator("[data-kpi=conversions]")).to_have_text("1")

    # The line chart: spend, impressions, clicks and conversions over the last 7 days.
    wait_for_chart(page, "canvas[data-chart=timeline]")
    timeline = chart(page, "canvas[data-chart=timeline]")
    assert timeline["type"] == "line"
    assert len(timeline["labels"]) == 7
    assert timeline["width"] > 0
    data = {dataset["label"]: dataset["data"] for dataset in timeline["datasets"]}
    assert sum(data["Impressions"]) == 21
    assert sum(data["Clicks"]) == 4
    assert round(sum(data["Spend"]), 6) == 0.54
    assert sum(data["Conversions"]) == 1
    assert {dataset["label"]: dataset["hidden"] for dataset in timeline["datasets"]} == {
        "Spend": False, "Impressions": False, "Clicks": True, "Conversions": True,
    }  # fmt: skip

    # Breakdowns: countries as bars, devices as a doughnut, placements as bars.
    countries = chart(page, "canvas[data-chart=country]")
    assert (countries["type"], countries["labels"], countries["datasets"][0]["data"]) == ("bar", ["Germany", "Austria"], [16, 5])
    devices = chart(page, "canvas[data-chart=device]")
    assert (devices["type"], devices["labels"], devices["datasets"][0]["data"]) == ("doughnut", ["Mobile", "Desktop"], [16, 5])
    assert chart(page, "canvas[data-chart=placement]")["datasets"][0]["data"] == [21]
    page.get_by_label("Metric shown for countries").select_option("spend")
    assert chart(page, "canvas[data-chart=country]")["datasets"][0]["data"] == [0.44, 0.1]
    assert "Secret B1" not in page.content()

    # The table: sort by clicks by clicking the header (htmx swaps the table and updates the address).
    table = page.get_by_test_id("report-table")
    expect(table.locator("tbody tr").first).to_contain_text("Bread")  # largest spend first
    table.get_by_role("link", name="Conversions").click()
    expect(page).to_have_url(re.compile(r"ordering=-conversions"))
    expect(table.locator("tbody tr").first).to_contain_text("Cakes")
    expect(table.locator("th[aria-sort=descending]")).to_have_text("Conversions")
    table.get_by_role("tab", name="Ads").click()
    expect(page).to_have_url(re.compile(r"level=ad\b"))
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(page.get_by_test_id("export-csv")).to_have_attribute("href", re.compile(r"level=ad&"))
    # Back: htmx restores the page from its history, and the charts are drawn again.
    page.go_back()
    expect(page).to_have_url(re.compile(r"ordering=-conversions"))
    expect(table.locator("tbody tr").first).to_contain_text("Cakes")
    wait_for_chart(page, "canvas[data-chart=country]")
    assert sum(chart(page, "canvas[data-chart=timeline]")["datasets"][1]["data"]) == 21

    # One day: by hour.
    page.get_by_label("Dates").select_option("yesterday")
    expect(page).to_have_url(re.compile(r"range=yesterday"))
    expect(page).to_have_url(re.compile(r"ordering=-conversions"))  # the table's order stays
    wait_for_chart(page, "canvas[data-chart=timeline]")
    by_hour = chart(page, "canvas[data-chart=timeline]")
    assert len(by_hour["labels"]) == 24
    assert {dataset["label"]: sum(dataset["data"]) for dataset in by_hour["datasets"]}["Impressions"] == 12

    # Custom dates the wrong way round: a form error, no charts.
    page.get_by_label("Dates").select_option("custom")
    page.get_by_label("From").fill(today.isoformat())
    page.get_by_label("To").fill((today - timedelta(days=5)).isoformat())
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("report-error")).to_be_visible()
    expect(page.locator("[data-field-error=end_date]")).to_have_text("The end date is before the start date.")
    expect(page.locator("canvas")).to_have_count(0)

    # E-mail reports.
    page.get_by_role("button", name="Subscribe to daily reports").click()
    expect(page.get_by_role("alert")).to_contain_text("Subscribed: owner@example.com gets the daily report of Bakery")
    expect(page.get_by_test_id("email-reports")).to_contain_text("Daily: subscribed")
    assert list(ReportSubscription.objects.values_list("user__email", "frequency")) == [("owner@example.com", "daily")]

    # The campaign's own page loads the same charts for that campaign only.
    page.goto(f"{live_server.url}/campaigns/{bread.ad_group.campaign_id}/")
    panel = page.get_by_test_id("campaign-charts")
    expect(panel.locator("[data-kpi=impressions]")).to_have_text("17")
    wait_for_chart(page, "[data-testid=campaign-charts] canvas[data-chart=timeline]")
    campaign_timeline = chart(page, "[data-testid=campaign-charts] canvas[data-chart=timeline]")
    assert {dataset["label"]: sum(dataset["data"]) for dataset in campaign_timeline["datasets"]}["Impressions"] == 17
    panel.get_by_role("button", name="Last 30 days").click()
    expect(panel.get_by_role("button", name="Last 30 days")).to_have_attribute("aria-pressed", "true")
    wait_for_chart(page, "[data-testid=campaign-charts] canvas[data-chart=timeline]")
    assert len(chart(page, "[data-testid=campaign-charts] canvas[data-chart=timeline]")["labels"]) == 30
