"""An advertiser builds a campaign through the guided flow in a real Chromium: campaign → ad group → ad."""

import base64
import re

import pytest
from playwright.sync_api import Page, Route, expect

from campaigns.models import Ad, AdGroup, Campaign
from tests.factories import DEFAULT_PASSWORD, PlacementFactory

# The ad's media lives on a CDN; the browser gets this 1x1 PNG instead, so the test stays off the network.
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
MONDAY_TO_FRIDAY_9_TO_18 = [day * 48 + half for day in range(5) for half in range(18, 36)]
SATURDAY_10_00 = 5 * 48 + 20
EN = "\u2013"  # the en dash pages put in ranges


def serve_media(route: Route) -> None:
    route.fulfill(status=200, content_type="image/png", body=PIXEL)


def log_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


@pytest.mark.django_db(transaction=True)
def test_guided_flow_builds_a_campaign_whose_ad_waits_in_review(live_server, page: Page, tenancy):
    PlacementFactory(key="feed", name="In-feed", allowed_formats=["image", "video"], floor_cpm_usd_micros=500_000)
    page.route("https://cdn.example.com/**", serve_media)
    log_in(page, live_server.url, "owner@example.com")

    # Step 1: the campaign.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="+ New campaign").click()
    page.get_by_label("Campaign name").fill("Spring bakes")
    page.get_by_text("Send people to your website or app.").click()  # the Traffic objective card
    page.get_by_label("Budget", exact=True).fill("10.00")
    page.get_by_role("button", name="Continue to ad group").click()

    # Step 2: the ad group.
    expect(page.get_by_role("heading", name="New ad group")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Campaign “Spring bakes” created.")
    page.get_by_label("Ad group name").fill("Berlin food lovers")
    page.get_by_text("Floor CPM 0.46 EUR").click()  # the In-feed placement card
    page.get_by_role("searchbox", name="Search countries").fill("Germany")
    page.get_by_role("searchbox", name="Search countries").press("Enter")
    expect(page.get_by_role("button", name="Remove Germany")).to_be_visible()
    page.get_by_text("Baking", exact=True).click()
    page.get_by_role("button", name="Business hours").click()
    page.get_by_label("Saturday 10:00").click()
    expect(page.get_by_text(f"Runs Mon{EN}Fri 09:00{EN}18:00; Sat 10:00{EN}10:30.")).to_be_visible()
    page.get_by_label("Bid", exact=True).fill("1.00")
    expect(page.get_by_text("At least 0.46 EUR, the floor of In-feed.")).to_be_visible()
    page.get_by_role("button", name="Continue to ad").click()

    # Step 3: the ad, previewed as it will look in the feed while it is typed.
    expect(page.get_by_role("heading", name="New ad")).to_be_visible()
    headline_preview = page.get_by_test_id("ad-preview").locator("[data-preview-style=feed] [data-preview=headline]")
    expect(headline_preview).to_have_text("Your headline")
    page.get_by_label("Headline").press_sequentially("Warm croissants from 7 am")
    expect(headline_preview).to_have_text("Warm croissants from 7 am")
    page.get_by_label("Ad text").fill("Baked every morning on the corner.")
    expect(page.get_by_test_id("ad-preview").locator("[data-preview-style=feed] [data-preview=body]")).to_have_text(
        "Baked every morning on the corner."
    )
    page.get_by_label("Media URL").fill("https://cdn.example.com/croissants.png")
    expect(page.get_by_test_id("ad-preview").locator("[data-preview-image]")).to_be_visible()
    page.get_by_label("Call to action").select_option("shop_now")
    expect(page.get_by_test_id("ad-preview").locator("[data-preview-style=feed] [data-preview=call_to_action]")).to_have_text(
        "Shop now"
    )
    page.get_by_label("Landing page URL").fill("https://bakery.example.com/order")
    page.get_by_role("button", name="Submit ad for review").click()

    # The campaign page: the ad waits in review.
    expect(page).to_have_url(re.compile(r"/campaigns/\d+/#ad-\d+$"))
    expect(page.get_by_role("alert")).to_contain_text("Ad submitted. It is in review and starts delivering once approved.")
    expect(page.get_by_test_id("campaign-name")).to_have_text("Spring bakes")
    expect(page.get_by_test_id("campaign-delivery")).to_have_text("In review")
    expect(page.get_by_test_id("ads").locator("[data-review=pending]")).to_have_text("In review")
    expect(page.get_by_test_id("targeting")).to_contain_text("Germany")
    expect(page.get_by_test_id("targeting")).to_contain_text("Baking")

    campaign = Campaign.objects.get()
    assert (campaign.advertiser, campaign.name, campaign.objective, campaign.budget_mode, campaign.budget_micros) == (
        tenancy.bakery,
        "Spring bakes",
        "traffic",
        "daily",
        10_000_000,
    )
    group = AdGroup.objects.get()
    assert (group.campaign, group.name, group.countries, group.bid_strategy, group.bid_micros) == (
        campaign,
        "Berlin food lovers",
        ["DE"],
        "cpm",
        1_000_000,
    )
    assert group.dayparting == [*MONDAY_TO_FRIDAY_9_TO_18, SATURDAY_10_00]
    assert list(group.placements.values_list("key", flat=True)) == ["feed"]
    assert list(group.interests.values_list("key", flat=True)) == ["baking"]
    ad = Ad.objects.get()
    assert (ad.ad_group, ad.headline, ad.media_url, ad.call_to_action, ad.review_status) == (
        group,
        "Warm croissants from 7 am",
        "https://cdn.example.com/croissants.png",
        "shop_now",
        "pending",
    )
