"""The dashboard's Conversion tracking page: list, create (key shown once) and deactivate pixels, per role and tenant.

A key made on the page is tried where it is used: POST /t/v1/conversions, after the index is
compiled into Redis as the Celery task does it.
"""

import hashlib
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from adplatform import clock
from campaigns import services as campaign_services
from delivery import index
from delivery import services as delivery_services
from delivery.models import ConversionPixel
from tests.factories import AdFactory, AdGroupFactory, CampaignFactory, fund

PAGE = "/conversions/"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def deactivate_url(pixel: ConversionPixel) -> str:
    return f"/conversions/pixels/{pixel.pk}/deactivate/"


def pixel_rows():
    """Every pixel as (advertiser, name, active), to show that a refused request changed nothing."""
    return list(ConversionPixel.objects.order_by("pk").values_list("advertiser__name", "name", "is_active"))


@pytest.fixture
def bakery_pixel(tenancy) -> ConversionPixel:
    pixel, _ = _made(tenancy.owner, tenancy.bakery, "Checkout")
    return pixel


def _made(user, advertiser, name):
    return delivery_services.pixel_create(actor=user, advertiser=advertiser, name=name)


def report(key: str, **body):
    """A conversion as the advertiser's server sends it."""
    payload = {"click_id": "3.unknown", "event_id": "order-1001", "event": "purchase"} | body
    return Client().post(
        "/t/v1/conversions", data=json.dumps(payload), content_type="application/json", headers={"x-pixel-key": key}
    )


def publish() -> None:
    index.compile_snapshot()
    index.holder.reset()


@pytest.fixture(autouse=True)
def _forget_the_index():
    index.holder.reset()
    yield
    index.holder.reset()


# --- who may see and do what ---------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in_and_change_nothing(client, bakery_pixel):
    before = pixel_rows()

    page = client.get(PAGE)
    created = client.post(PAGE, {"name": "Sneaky"})
    deactivated = client.post(deactivate_url(bakery_pixel))

    assert [(response.status_code, response["Location"]) for response in (page, created, deactivated)] == [
        (302, f"/login/?next={PAGE}"),
        (302, f"/login/?next={PAGE}"),
        (302, f"/login/?next={deactivate_url(bakery_pixel)}"),
    ]
    assert pixel_rows() == before


def test_a_user_without_an_advertiser_is_asked_to_create_one(client, tenancy):
    client.force_login(tenancy.stranger)

    response = client.get(PAGE)

    assert (response.status_code, response["Location"]) == (302, "/accounts/new/")


def test_another_tenant_neither_sees_nor_deactivates_the_bakerys_pixels(client, tenancy, bakery_pixel):
    _made(tenancy.agent_b, tenancy.client_b1, "Competitor shop")
    client.force_login(tenancy.agent_b)
    before = pixel_rows()

    page = client.get(PAGE)
    refused = client.post(deactivate_url(bakery_pixel))

    assert page.status_code == 200
    assert page.context["advertiser"] == tenancy.client_b1
    assert [pixel.name for pixel in page.context["pixels"]] == ["Competitor shop"]
    assert "Checkout" not in page.content.decode()
    assert refused.status_code == 404
    assert pixel_rows() == before


def test_an_analyst_sees_the_pixels_but_may_not_create_or_deactivate_them(client, tenancy, bakery_pixel):
    client.force_login(tenancy.analyst)
    before = pixel_rows()

    page = client.get(PAGE)
    created = client.post(PAGE, {"name": "Newsletter"})
    deactivated = client.post(deactivate_url(bakery_pixel))

    assert page.status_code == 200
    assert [(pixel.name, pixel.is_active) for pixel in page.context["pixels"]] == [("Checkout", True)]
    body = page.content.decode()
    assert "Only admins of Bakery can create and deactivate pixels. Your role is analyst." in body
    assert ("Create pixel" in body, "Deactivate</button>" in body) == (False, False)
    assert (created.status_code, created.context["error"]) == (403, "This needs the admin role on Bakery.")
    assert (deactivated.status_code, deactivated.context["error"]) == (403, "This needs the admin role on Bakery.")
    assert pixel_rows() == before


# --- an admin's way through the page ---------------------------------------------------------------------


def test_an_admin_creates_a_pixel_whose_key_is_shown_once_and_works(client, tenancy):
    client.force_login(tenancy.owner)

    # when: the owner creates a pixel
    created = client.post(PAGE, {"name": "  Web shop  "})
    shown = client.get(PAGE)
    again = client.get(PAGE)

    # then: redirected to the page, which shows the key once; only its hash and last four characters are kept
    assert (created.status_code, created["Location"]) == (302, PAGE)
    key = shown.context["new_pixel"]["key"]
    pixel = ConversionPixel.objects.get()
    assert (pixel.advertiser, pixel.name, pixel.is_active) == (tenancy.bakery, "Web shop", True)
    assert (pixel.key_hash, pixel.key_hint) == (hashlib.sha256(key.encode()).hexdigest(), key[-4:])
    assert key.startswith("pix_")
    assert shown.content.decode().count(key) == 1
    assert (again.context["new_pixel"], key in again.content.decode()) == (None, False)
    assert f"pix_…{key[-4:]}" in again.content.decode()

    # and: once the index is compiled, the key reports conversions
    publish()
    response = report(key)
    assert (response.status_code, response.json()) == (202, {"status": "unattributed"})
    assert (report(key).status_code, report(key).json()) == (202, {"status": "duplicate"})


def test_an_admin_deactivates_a_pixel_and_its_key_stops_working(client, tenancy):
    pixel, key = _made(tenancy.owner, tenancy.bakery, "Checkout")
    publish()
    assert report(key, event_id="before").status_code == 202
    client.force_login(tenancy.owner)

    response = client.post(deactivate_url(pixel))
    page = client.get(PAGE)

    assert (response.status_code, response["Location"]) == (302, PAGE)
    assert ConversionPixel.objects.get().is_active is False
    assert [str(message) for message in page.context["messages"]] == [
        "Pixel “Checkout” deactivated: conversions sent with its key are refused from now on."
    ]
    assert "Deactivated" in page.content.decode()
    publish()
    refused = report(key, event_id="after")
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "not_authenticated")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "This field is required."),
        ("   ", "This field is required."),
        ("x" * 101, "Ensure this value has at most 100 characters (it has 101)."),
    ],
)
def test_a_pixel_needs_a_name(client, tenancy, name, message):
    client.force_login(tenancy.owner)

    response = client.post(PAGE, {"name": name})

    assert response.status_code == 400
    assert response.context["form"].errors == {"name": [message]}
    assert pixel_rows() == []


def test_the_page_explains_how_to_report_conversions_and_is_in_the_navigation(client, tenancy):
    client.force_login(tenancy.owner)

    page = client.get(PAGE)

    body = page.content.decode()
    assert 'href="/conversions/">Conversions</a>' in body
    assert "http://testserver/t/v1/conversions" in body
    assert "X-Pixel-Key" in body
    assert "adp_click_id" in body
    assert '"currency": "EUR"' in body
    assert "No pixels yet." in body


# --- the whole way: a click, then its conversion reported with a key made on the page ---------------


def test_a_conversion_reported_with_a_key_from_the_page_is_attributed_to_its_click(client, tenancy):
    # given: the bakery has money and an approved ad on a placement, and the index is compiled
    fund(actor=tenancy.owner, advertiser=tenancy.bakery)
    placement, serving_key = campaign_services.placement_create(
        key="conv-feed", name="Conversion feed", formats=["image"], floor_cpm_usd_micros=1_000_000
    )
    campaign = CampaignFactory(advertiser=tenancy.bakery, budget_mode="unlimited", budget_micros=0)
    ad_group = AdGroupFactory(campaign=campaign, placements=[placement], start_time=clock.now() - timedelta(days=1))
    ad = AdFactory(ad_group=ad_group, landing_url="https://bakery.example.com/order")
    client.force_login(tenancy.owner)
    client.post(PAGE, {"name": "Checkout"})
    key = client.get(PAGE).context["new_pixel"]["key"]
    publish()

    # when: the ad is served, seen and clicked, and the bakery's server reports the order
    app, browser = Client(), Client(headers={"user-agent": BROWSER})
    decision = app.post(
        "/serve/v1/decision",
        data=json.dumps({"placement": "conv-feed", "user_id": "u-1"}),
        content_type="application/json",
        headers={"x-placement-key": serving_key},
    )
    (served,) = decision.json()["ads"]
    impression = browser.get(served["impression_url"].removeprefix("http://testserver"))
    click = browser.get(served["click_url"].removeprefix("http://testserver"))
    landing = urlsplit(click["Location"])
    (click_id,) = parse_qs(landing.query)["adp_click_id"]
    response = report(key, click_id=click_id, event_id="order-7", value="49.90", currency="EUR")

    # then: the conversion counts for the clicked ad
    assert (served["ad_id"], impression.status_code, click.status_code) == (ad.pk, 204, 302)
    assert f"{landing.scheme}://{landing.netloc}{landing.path}" == "https://bakery.example.com/order"
    assert (response.status_code, response.json()) == (202, {"status": "attributed"})
