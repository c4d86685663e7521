"""Impressions, clicks and conversions end to end: recorded once, charged exactly, posted to the ledger.

Every test serves real decisions, follows the signed links as a browser would, then moves the Redis
stream into the event store (consume_events) and the charged cost into the ledger (post_spend).
"""

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db.models import Sum
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from adplatform import clock
from adplatform.redis_client import get_redis
from billing import selectors as billing_selectors
from campaigns.models import Ad, Campaign, Placement
from delivery import charging
from delivery import services as delivery_services
from delivery.models import AdPerformance, ConversionPixel, Event, SpendDay
from tests.delivery.conftest import (
    BROWSER,
    FUNDS_MICROS,
    charged_micros,
    event_cost_micros,
    ledger_spend_micros,
    stored_events,
)

SERVED_AT = datetime(2027, 1, 5, 10, 0, tzinfo=UTC)  # a Tuesday; every clock-sensitive test starts here
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HEADLESS = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36"
SERVE = ("serve", "valid", "", 0)
# Deterministic examples; no "explain" phase, which replays every failure many times over.
FUZZ_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
)


def proven(ad: Ad, *, impressions: int = 1_000_000, clicks: int = 100_000, conversions: int = 50_000) -> Ad:
    """Give the ad a long track record (CTR 10 %, CVR 50 %) so its sampled rates barely move and it always clears the floor."""
    AdPerformance.objects.create(ad=ad, impressions=impressions, clicks=clicks, conversions=conversions)
    return ad


def advertiser_of(ad: Ad):
    return ad.ad_group.campaign.advertiser


def click_id_for(served) -> str:
    name = f"{served.request_id}:{served.ad['ad_id']}"
    return f"{served.ad['advertiser_id']}.{uuid.uuid5(uuid.NAMESPACE_URL, name).hex}"


def link_parts(path: str) -> tuple[str, str, str]:
    parts = urlsplit(path)
    query = parse_qs(parts.query)
    return parts.path, query["d"][0], query["s"][0]


def rewritten(path: str, **changes) -> str:
    """The same link with facts changed inside its payload, signature kept."""
    route, payload, signature = link_parts(path)
    facts = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    facts.update(changes)
    new_payload = base64.urlsafe_b64encode(json.dumps(facts, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{route}?d={new_payload}&s={signature}"


def charged_micros_total() -> int:
    redis = get_redis()
    return sum(int(redis.get(key)) for key in redis.keys("*:charged"))


def assert_nothing_charged(advertiser) -> None:
    """Redis charged nothing, the event store holds no cost, and posting puts no spend in the ledger."""
    delivery_services.consume_events()
    delivery_services.post_spend()
    assert charged_micros(advertiser) == 0
    assert event_cost_micros(advertiser) == 0
    assert ledger_spend_micros(advertiser) == 0
    assert billing_selectors.balance_micros(advertiser) == FUNDS_MICROS


def assert_ledger_matches_events(advertiser, expected_micros: int) -> None:
    """After posting: ledger spend == event-store cost == Redis charge == `expected_micros`, and the balance moved by it."""
    delivery_services.consume_events()
    delivery_services.post_spend()
    assert event_cost_micros(advertiser) == expected_micros
    assert ledger_spend_micros(advertiser) == expected_micros
    assert charged_micros(advertiser) == expected_micros
    topped_up = advertiser.transactions.filter(kind="top_up").aggregate(total=Sum("amount_micros"))["total"]
    assert billing_selectors.balance_micros(advertiser) == topped_up - expected_micros


# --- charged exactly once at the auction price -----------------------------------------------------


def test_a_cpm_impression_is_charged_once_at_the_second_price_and_posted_to_the_ledger(serving_marketplace):
    # given a CPM 5.00 winner and a CPM 3.00 runner-up
    market = serving_marketplace
    winner = market.serving_ad("Winner", bid_micros=5_000_000)
    market.serving_ad("Runner-up", bid_micros=3_000_000)
    market.publish()
    served = market.serve_one()
    assert (served.ad["ad_id"], served.facts["price_micros"]) == (winner.pk, 3000)

    # when the browser loads the impression pixel and then follows the click
    impression = market.browser.get(served.impression_path)
    click = market.browser.get(served.click_path)

    # then the impression costs exactly the runner-up's price, the click nothing
    assert (impression.status_code, impression.content) == (204, b"")
    assert click.status_code == 302
    advertiser = advertiser_of(winner)
    assert stored_events(advertiser_id=advertiser.pk) == [SERVE, ("impression", "valid", "", 3000), ("click", "valid", "", 0)]
    stored = Event.objects.get(kind="impression")
    assert (stored.ad_id, stored.ad_group_id, stored.campaign_id, stored.request_id, stored.billed_on, stored.price_micros) == (
        winner.pk,
        winner.ad_group_id,
        winner.ad_group.campaign_id,
        uuid.UUID(served.request_id),
        "impression",
        3000,
    )
    # and Redis, the event store and the ledger agree to the micro
    assert_ledger_matches_events(advertiser, 3000)
    assert SpendDay.objects.get(ad_group=winner.ad_group).cost_micros == 3000
    redis = get_redis()
    day = SpendDay.objects.get(ad_group=winner.ad_group).day.isoformat()
    assert int(redis.get(charging.ad_group_day_key(advertiser.pk, winner.ad_group_id, day))) == 3000
    assert int(redis.get(charging.ad_group_life_key(advertiser.pk, winner.ad_group_id))) == 3000
    assert ledger_spend_micros(advertiser_of(Ad.objects.get(display_name="Runner-up"))) == 0


def test_a_click_goes_to_the_landing_page_with_its_click_id(serving_marketplace):
    # given a served ad whose landing page has a query string
    market = serving_marketplace
    advertiser = market.advertiser("Landing")
    ad = market.ad(market.ad_group(advertiser), landing_url="https://shop.example.com/offer?utm_source=adp&x=1")
    market.publish()
    served = market.serve_one()
    market.browser.get(served.impression_path)

    # when the person clicks
    response = market.browser.get(served.click_path)

    # then they land on the page with the click id appended, and the redirect is not cached
    assert response.status_code == 302
    assert response["Location"] == f"https://shop.example.com/offer?utm_source=adp&x=1&adp_click_id={click_id_for(served)}"
    assert response["Cache-Control"] == "no-store"
    assert ad.pk == served.ad["ad_id"]


def test_a_cpc_click_is_charged_once_at_the_link_price_and_the_impression_is_free(serving_marketplace):
    # given a proven CPC ad bidding 0.50 USD per click, alone on the feed
    market = serving_marketplace
    ad = proven(market.serving_ad("Clicks Inc", bid_strategy="cpc", bid_micros=500_000))
    market.publish()
    served = market.serve_one()
    price = served.facts["price_micros"]
    assert served.facts["billed_on"] == "click"
    assert 0 < price <= 500_000

    # when the impression, then the click (twice) come in
    market.browser.get(served.impression_path)
    first = market.browser.get(served.click_path)
    again = market.browser.get(served.click_path)

    # then only the first click costs, exactly the auction price the link carries
    assert first["Location"] == f"https://bakery.example.com/?adp_click_id={click_id_for(served)}"
    assert again.status_code == 302
    advertiser = advertiser_of(ad)
    assert stored_events(advertiser_id=advertiser.pk) == [
        SERVE,
        ("impression", "valid", "", 0),
        ("click", "valid", "", price),
        ("click", "invalid", "duplicate", 0),
    ]
    assert_ledger_matches_events(advertiser, price)


def test_an_ocpm_impression_is_charged_at_the_floor_and_its_click_is_free(serving_marketplace):
    # given a proven oCPM ad (target 1.00 USD per conversion) alone on the feed (floor 1.00 USD CPM)
    market = serving_marketplace
    ad = proven(market.serving_ad("Converts", objective="web_conversions", bid_strategy="ocpm", bid_micros=1_000_000))
    market.publish()
    served = market.serve_one()
    assert (served.facts["billed_on"], served.facts["price_micros"]) == ("impression", 1000)

    # when the impression and the click come in
    market.browser.get(served.impression_path)
    market.browser.get(served.click_path)

    # then the impression costs the floor, the click nothing
    advertiser = advertiser_of(ad)
    assert stored_events(advertiser_id=advertiser.pk) == [SERVE, ("impression", "valid", "", 1000), ("click", "valid", "", 0)]
    assert_ledger_matches_events(advertiser, 1000)


def test_a_euro_advertiser_is_charged_in_euro(serving_marketplace):
    # given a euro advertiser alone on the feed (floor 1.00 USD CPM, 0.92 EUR per USD)
    market = serving_marketplace
    advertiser = market.advertiser("Euro Bakery", currency="EUR", time_zone="Europe/Berlin")
    market.ad(market.ad_group(advertiser, bid_micros=5_000_000))
    market.publish()
    served = market.serve_one()

    # when the impression comes in
    market.browser.get(served.impression_path)

    # then 920 euro micros are charged and posted in euro
    assert stored_events(advertiser_id=advertiser.pk) == [SERVE, ("impression", "valid", "", 920)]
    assert_ledger_matches_events(advertiser, 920)
    assert set(advertiser.transactions.values_list("currency", flat=True)) == {"EUR"}


def test_repeated_impressions_are_recorded_as_duplicates_and_charged_once(serving_marketplace):
    # given a served CPM ad
    market = serving_marketplace
    ad = market.serving_ad("Repeated")
    market.publish()
    served = market.serve_one()

    # when the pixel loads three times
    answers = [market.browser.get(served.impression_path).status_code for _ in range(3)]

    # then each answer is 204 but only the first costs
    assert answers == [204, 204, 204]
    advertiser = advertiser_of(ad)
    assert stored_events(advertiser_id=advertiser.pk) == [
        SERVE,
        ("impression", "valid", "", 1000),
        ("impression", "invalid", "duplicate", 0),
        ("impression", "invalid", "duplicate", 0),
    ]
    assert_ledger_matches_events(advertiser, 1000)


def test_every_served_ad_of_a_multi_ad_answer_is_charged_on_its_own(serving_marketplace):
    # given three advertisers bidding CPM 4.00, 3.00 and 2.00
    market = serving_marketplace
    ads = [market.serving_ad(f"Bidder {bid}", bid_micros=bid * 1_000_000) for bid in (4, 3, 2)]
    market.publish()
    served = market.serve("app-user-1", count=3)

    # when each impression comes in
    for item in served:
        market.browser.get(item.impression_path)

    # then each advertiser pays the next one's bid, or the floor
    for ad, expected in zip(ads, (3000, 2000, 1000), strict=True):
        assert stored_events(advertiser_id=advertiser_of(ad).pk) == [SERVE, ("impression", "valid", "", expected)]
        assert_ledger_matches_events(advertiser_of(ad), expected)


def test_posting_twice_posts_nothing_twice(serving_marketplace):
    # given a charged impression, posted
    market = serving_marketplace
    ad = market.serving_ad("Posted")
    market.publish()
    market.browser.get(market.serve_one().impression_path)
    assert_ledger_matches_events(advertiser_of(ad), 1000)

    # when the consumer and the posting run again with nothing new
    assert delivery_services.consume_events() == 0
    assert delivery_services.post_spend() == 0

    # then the ledger still holds the one spend
    assert_ledger_matches_events(advertiser_of(ad), 1000)
    assert advertiser_of(ad).transactions.filter(kind="spend").count() == 1


# --- refused links: recorded as invalid, never charged -------------------------------------------


def _other_signature(path: str, other: str) -> str:
    route, payload, _ = link_parts(path)
    return f"{route}?d={payload}&s={link_parts(other)[2]}"


def _flipped_signature(path: str) -> str:
    route, payload, signature = link_parts(path)
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0x01
    return f"{route}?d={payload}&s={base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


BAD_LINKS = {
    # name: (kind, how to spoil the served link, reason recorded)
    "signature changed": ("i", lambda s: _flipped_signature(s.impression_path), "bad_signature"),
    "click signature changed": ("c", lambda s: _flipped_signature(s.click_path), "bad_signature"),
    "click signature on the impression link": ("i", lambda s: _other_signature(s.impression_path, s.click_path), "bad_signature"),
    "impression signature on the click link": ("c", lambda s: _other_signature(s.click_path, s.impression_path), "bad_signature"),
    "price lowered inside the payload": ("i", lambda s: rewritten(s.impression_path, price_micros=1), "bad_signature"),
    "price raised inside the payload": ("i", lambda s: rewritten(s.impression_path, price_micros=10_000_000), "bad_signature"),
    "click price changed inside the payload": ("c", lambda s: rewritten(s.click_path, price_micros=1), "bad_signature"),
    "expiry pushed back": (
        "i",
        lambda s: rewritten(s.impression_path, expires_at=s.facts["expires_at"] + 86_400),
        "bad_signature",
    ),
    "request id changed (to count twice)": (
        "i",
        lambda s: rewritten(s.impression_path, request_id=str(uuid.uuid4())),
        "bad_signature",
    ),
}


@pytest.mark.parametrize(("kind", "spoil", "reason"), BAD_LINKS.values(), ids=BAD_LINKS.keys())
def test_a_tampered_link_is_recorded_as_invalid_and_charges_nothing(serving_marketplace, kind, spoil, reason):
    # given a served CPM ad (for an impression) or proven CPC ad (for a click) whose impression was seen
    market = serving_marketplace
    if kind == "i":
        ad = market.serving_ad("Tampered")
    else:
        ad = proven(market.serving_ad("Tampered", bid_strategy="cpc", bid_micros=500_000))
    market.publish()
    served = market.serve_one()
    if kind == "c":
        market.browser.get(served.impression_path)

    # when the spoiled link is followed
    response = market.browser.get(spoil(served))

    # then it is refused (no landing page for an unverifiable click), recorded as invalid, and costs nothing
    if kind == "i":
        assert response.status_code == 204
        expected = [SERVE, ("impression", "invalid", reason, 0)]
    else:
        assert response.status_code == 404
        expected = [SERVE, ("impression", "valid", "", 0), ("click", "invalid", reason, 0)]
    assert stored_events(advertiser_id=advertiser_of(ad).pk) == expected
    assert_nothing_charged(advertiser_of(ad))


def test_a_tampered_link_does_not_spoil_the_genuine_one(serving_marketplace):
    # given a served ad whose link was first replayed with a lower price
    market = serving_marketplace
    ad = market.serving_ad("Genuine")
    market.publish()
    served = market.serve_one()
    market.browser.get(rewritten(served.impression_path, price_micros=1))

    # when the genuine link comes in
    market.browser.get(served.impression_path)

    # then the genuine impression is charged its real price, once
    assert stored_events(advertiser_id=advertiser_of(ad).pk) == [
        SERVE,
        ("impression", "invalid", "bad_signature", 0),
        ("impression", "valid", "", 1000),
    ]
    assert_ledger_matches_events(advertiser_of(ad), 1000)


FORGED_FACTS = {
    "request id that is not a UUID": {"request_id": "not-a-uuid"},
    "ad id that is not a number": {"ad_id": "x"},
    "advertiser id that is not a number": {"advertiser_id": "x"},
    "placement with a NUL byte": {"placement": "serve-feed\u0000"},
    "placement with a lone surrogate": {"placement": "serve-feed\ud800"},
    "billed_on a lone surrogate": {"billed_on": "\ud800"},
    "user_key a lone surrogate": {"user_key": "\ud800"},
    "country a lone surrogate": {"country": "\ud800"},
    "device a lone surrogate": {"device": "\udfff"},
    "ad id that is null": {"ad_id": None},
    "ad id that is a list": {"ad_id": [1]},
}


@pytest.mark.parametrize("forged", FORGED_FACTS.values(), ids=FORGED_FACTS.keys())
def test_a_forged_link_with_nonsense_facts_neither_fails_nor_stops_the_event_pipeline(serving_marketplace, forged):
    # given a served ad, and a forged copy of its links carrying facts no served ad has
    market = serving_marketplace
    ad = market.serving_ad("Forged")
    market.publish()
    served = market.serve_one()
    browser = Client(raise_request_exception=False, headers={"user-agent": BROWSER})

    # when the forged links are loaded, then the genuine impression
    forged_impression = browser.get(rewritten(served.impression_path, **forged))
    forged_click = browser.get(rewritten(served.click_path, **forged))
    market.browser.get(served.impression_path)

    # then the forged links are refused like any bad link, and the genuine impression still reaches the
    # event store and the ledger (a refused link must not block the consumer)
    assert (forged_impression.status_code, forged_click.status_code) == (204, 404)
    assert stored_events(kind="impression", status="valid") == [("impression", "valid", "", 1000)]
    assert_ledger_matches_events(advertiser_of(ad), 1000)


@pytest.mark.parametrize("field", ["placement", "billed_on", "user_key", "country", "device"])
def test_an_unsigned_link_with_a_lone_surrogate_is_counted_as_a_bad_link(serving_marketplace, field):
    # given a serving ad, and unsigned links whose facts carry a lone surrogate (valid JSON, not valid text)
    market = serving_marketplace
    ad = market.serving_ad("Forged")
    market.publish()
    served = market.serve_one()
    payload = base64.urlsafe_b64encode(json.dumps({**served.facts, field: "\ud800"}).encode()).rstrip(b"=").decode()
    browser = Client(raise_request_exception=False, headers={"user-agent": BROWSER})

    # when both are loaded
    impression = browser.get(f"/t/v1/i?d={payload}&s=AAAA")
    click = browser.get(f"/t/v1/c?d={payload}&s=AAAA")

    # then they are answered like any unreadable link, each refusal is counted, and nothing is recorded or charged
    assert (impression.status_code, click.status_code) == (204, 404)
    assert int(get_redis().get("delivery:invalid:bad_signature")) == 2
    assert stored_events(kind="impression") == []
    assert stored_events(kind="click") == []
    assert_nothing_charged(advertiser_of(ad))


def test_a_conversion_name_with_a_nul_byte_does_not_stop_the_event_pipeline(serving_marketplace):
    # given a served ad and the advertiser's pixel key
    market = serving_marketplace
    ad = market.serving_ad("Shop")
    key = pixel_key_for(market, advertiser_of(ad))
    served = market.serve_one()

    # when a conversion's event name carries a NUL byte, then the ad's impression comes in
    response = convert(market, key, {"click_id": "1.abc", "event_id": "e-1", "event": "purchase\u0000"})
    market.browser.get(served.impression_path)

    # then the conversion is refused or recorded, and either way the impression reaches the event store and the ledger
    assert response.status_code in (202, 400)
    assert stored_events(kind="impression") == [("impression", "valid", "", 1000)]
    assert_ledger_matches_events(advertiser_of(ad), 1000)


LINK_TEXT = st.text(max_size=60) | st.binary(max_size=60).map(lambda raw: base64.urlsafe_b64encode(raw).decode())
LINK_FACTS = st.fixed_dictionaries(
    {
        name: st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.lists(st.integers(), max_size=2)
        for name in (
            "request_id", "ad_id", "ad_group_id", "campaign_id", "advertiser_id", "placement", "billed_on",
            "price_micros", "user_key", "country", "device", "served_at", "expires_at", "landing_url",
        )
    }
)  # fmt: skip


@FUZZ_SETTINGS
@given(
    payload=LINK_TEXT | LINK_FACTS.map(lambda facts: base64.urlsafe_b64encode(json.dumps(facts).encode()).decode()),
    signature=LINK_TEXT,
)
def test_any_tracking_link_is_answered_never_with_a_server_error(serving_marketplace, payload, signature):
    browser = Client(raise_request_exception=False, headers={"user-agent": BROWSER})

    impression = browser.get("/t/v1/i", {"d": payload, "s": signature})
    click = browser.get("/t/v1/c", {"d": payload, "s": signature})

    assert impression.status_code == 204
    assert click.status_code == 404
    assert charged_micros_total() == 0


@pytest.mark.parametrize(
    "path",
    ["/t/v1/i", "/t/v1/i?d=garbage&s=garbage", "/t/v1/i?d=&s=", "/t/v1/i?s=%%%"],
    ids=["no parameters", "garbage", "empty", "not base64"],
)
def test_an_unreadable_impression_link_is_counted_and_charges_nothing(serving_marketplace, path):
    # given a serving ad
    market = serving_marketplace
    ad = market.serving_ad("Unreadable")
    market.publish()

    # when a link that carries no readable facts is loaded
    response = market.browser.get(path)

    # then the pixel still answers 204, the refusal is counted, and nothing is charged or stored
    assert response.status_code == 204
    redis = get_redis()
    assert sum(int(redis.get(key)) for key in redis.keys("delivery:invalid:*")) == 1
    assert stored_events() == []
    assert_nothing_charged(advertiser_of(ad))


def test_an_unreadable_click_link_is_404(serving_marketplace):
    market = serving_marketplace
    market.serving_ad("Unreadable")
    market.publish()

    response = market.browser.get("/t/v1/c?d=garbage&s=garbage")

    assert response.status_code == 404
    assert stored_events() == []


def test_an_impression_24_hours_after_serving_is_expired_and_charges_nothing(serving_marketplace):
    # given an ad served at SERVED_AT
    market = serving_marketplace
    ad = market.serving_ad("Expiring")
    with clock.frozen(SERVED_AT):
        market.publish()
        served = market.serve_one()

    # when its impression comes in exactly 24 hours later
    with clock.frozen(SERVED_AT + timedelta(hours=24)):
        response = market.browser.get(served.impression_path)

    # then it is recorded as expired and not charged
    assert response.status_code == 204
    assert stored_events(advertiser_id=advertiser_of(ad).pk) == [SERVE, ("impression", "invalid", "expired", 0)]
    assert_nothing_charged(advertiser_of(ad))


def test_an_impression_a_second_before_expiry_is_charged(serving_marketplace):
    # given an ad served at SERVED_AT
    market = serving_marketplace
    ad = market.serving_ad("Nearly Expired")
    with clock.frozen(SERVED_AT):
        market.publish()
        served = market.serve_one()

    # when its impression comes in 23:59:59 later
    with clock.frozen(SERVED_AT + timedelta(hours=24) - timedelta(seconds=1)):
        market.browser.get(served.impression_path)

    # then it is charged
    assert stored_events(advertiser_id=advertiser_of(ad).pk) == [SERVE, ("impression", "valid", "", 1000)]
    assert_ledger_matches_events(advertiser_of(ad), 1000)


def test_an_expired_click_goes_to_the_landing_page_without_a_click_id_and_charges_nothing(serving_marketplace):
    # given a proven CPC ad served and seen at SERVED_AT
    market = serving_marketplace
    ad = proven(market.serving_ad("Late Click", bid_strategy="cpc", bid_micros=500_000))
    with clock.frozen(SERVED_AT):
        market.publish()
        served = market.serve_one()
        market.browser.get(served.impression_path)

    # when the click comes 25 hours later
    with clock.frozen(SERVED_AT + timedelta(hours=25)):
        response = market.browser.get(served.click_path)

    # then the person still lands, without a click id; the click is invalid and free
    assert response.status_code == 302
    assert response["Location"] == "https://bakery.example.com/"
    assert stored_events(advertiser_id=advertiser_of(ad).pk) == [
        SERVE,
        ("impression", "valid", "", 0),
        ("click", "invalid", "expired", 0),
    ]
    assert_nothing_charged(advertiser_of(ad))


def test_a_click_without_its_impression_is_invalid_and_charges_nothing(serving_marketplace):
    # given a proven CPC ad served but never shown
    market = serving_marketplace
    ad = proven(market.serving_ad("No Impression", bid_strategy="cpc", bid_micros=500_000))
    market.publish()
    served = market.serve_one()

    # when its click comes in
    response = market.browser.get(served.click_path)

    # then the person lands without a click id, and the click is invalid and free
    assert (response.status_code, response["Location"]) == (302, "https://bakery.example.com/")
    assert stored_events(advertiser_id=advertiser_of(ad).pk) == [SERVE, ("click", "invalid", "no_impression", 0)]
    assert_nothing_charged(advertiser_of(ad))


BOTS = {
    "Googlebot": GOOGLEBOT,
    "curl": "curl/8.5.0",
    "python-requests": "python-requests/2.32.3",
    "HeadlessChrome": HEADLESS,
    "no user agent": "",
}


@pytest.mark.parametrize("user_agent", BOTS.values(), ids=BOTS.keys())
def test_a_bot_impression_is_invalid_and_charges_nothing(serving_marketplace, user_agent):
    # given a served CPM ad
    market = serving_marketplace
    ad = market.serving_ad("Crawled")
    market.publish()
    served = market.serve_one()

    # when a bot loads the pixel
    response = Client(headers={"user-agent": user_agent}).get(served.impression_path)

    # then it is recorded as a bot and not charged
    assert response.status_code == 204
    assert stored_events(advertiser_id=advertiser_of(ad).pk) == [SERVE, ("impression", "invalid", "bot", 0)]
    assert_nothing_charged(advertiser_of(ad))


@pytest.mark.parametrize("user_agent", BOTS.values(), ids=BOTS.keys())
def test_a_bot_click_is_invalid_and_charges_nothing(serving_marketplace, user_agent):
    # given a proven CPC ad seen by a person
    market = serving_marketplace
    ad = proven(market.serving_ad("Clicked By Bots", bid_strategy="cpc", bid_micros=500_000))
    market.publish()
    served = market.serve_one()
    market.browser.get(served.impression_path)

    # when a bot follows the click link
    response = Client(headers={"user-agent": user_agent}).get(served.click_path)

    # then it lands without a click id, is recorded as a bot and not charged
    assert (response.status_code, response["Location"]) == (302, "https://bakery.example.com/")
    assert stored_events(advertiser_id=advertiser_of(ad).pk) == [
        SERVE,
        ("impression", "valid", "", 0),
        ("click", "invalid", "bot", 0),
    ]
    assert_nothing_charged(advertiser_of(ad))


def test_a_click_burst_is_invalid_past_five_clicks_a_minute(serving_marketplace):
    # given a proven CPC ad served six times to one person, every impression seen
    market = serving_marketplace
    ad = proven(market.serving_ad("Bursty", bid_strategy="cpc", bid_micros=500_000))
    market.publish()
    served = [market.serve_one("app-user-1") for _ in range(6)]
    for item in served:
        market.browser.get(item.impression_path)

    # when the person clicks all six within a minute
    responses = [market.browser.get(item.click_path) for item in served]

    # then the first five are charged at their prices; the sixth is a burst, lands without a click id, and is free
    assert [response.status_code for response in responses] == [302] * 6
    assert responses[5]["Location"] == "https://bakery.example.com/"
    prices = [item.facts["price_micros"] for item in served]
    advertiser = advertiser_of(ad)
    clicks = stored_events(advertiser_id=advertiser.pk, kind="click")
    assert clicks == [("click", "valid", "", price) for price in prices[:5]] + [("click", "invalid", "click_burst", 0)]
    assert_ledger_matches_events(advertiser, sum(prices[:5]))


def test_a_click_burst_of_one_person_does_not_touch_another(serving_marketplace):
    # given a proven CPC ad; one person has clicked it six times
    market = serving_marketplace
    ad = proven(market.serving_ad("Bursty", bid_strategy="cpc", bid_micros=500_000))
    market.publish()
    for _ in range(6):
        item = market.serve_one("app-user-1")
        market.browser.get(item.impression_path)
        market.browser.get(item.click_path)

    # when another person clicks
    other = market.serve_one("app-user-2")
    market.browser.get(other.impression_path)
    market.browser.get(other.click_path)

    # then that click is charged
    assert stored_events(advertiser_id=advertiser_of(ad).pk, kind="click")[-1] == (
        "click",
        "valid",
        "",
        other.facts["price_micros"],
    )


# --- caps: unbilled, never charged ---------------------------------------------------------------


PRICE = 600_000  # one impression at a floor of 600.00 USD CPM
CAPS = {
    # name: (campaign budget, ad group budget, funds, reason)
    "ad group daily budget": ({}, {"budget_mode": "daily", "budget_micros": 1_000_000}, FUNDS_MICROS, "ag_daily_budget"),
    "ad group lifetime budget": (
        {},
        {"budget_mode": "lifetime", "budget_micros": 1_000_000, "end_time": datetime(2099, 1, 1, tzinfo=UTC)},
        FUNDS_MICROS,
        "ag_lifetime_budget",
    ),
    "campaign daily budget": (
        {"budget_mode": "daily", "budget_micros": 1_000_000},
        {"budget_mode": "unlimited", "budget_micros": 0},
        FUNDS_MICROS,
        "campaign_daily_budget",
    ),
    "campaign lifetime budget": (
        {"budget_mode": "lifetime", "budget_micros": 1_000_000},
        {"budget_mode": "unlimited", "budget_micros": 0, "end_time": datetime(2099, 1, 1, tzinfo=UTC)},
        FUNDS_MICROS,
        "campaign_lifetime_budget",
    ),
    "balance": ({}, {"budget_mode": "unlimited", "budget_micros": 0}, 5_000_000, "no_balance"),
}


@pytest.mark.parametrize(("campaign_budget", "ad_group_budget", "funds", "reason"), CAPS.values(), ids=CAPS.keys())
def test_an_impression_a_cap_cannot_take_is_unbilled(serving_marketplace, campaign_budget, ad_group_budget, funds, reason):
    # given a cap with room for one impression at 0.60 USD (the balance: for eight), and nine ads already served
    market = serving_marketplace
    Placement.objects.filter(key="serve-feed").update(floor_cpm_usd_micros=PRICE * 1000)
    advertiser = market.advertiser("Capped", funds_micros=funds)
    campaign = Campaign.objects.create(advertiser=advertiser, name="Capped", objective="traffic", **campaign_budget)
    market.ad(market.ad_group(advertiser, campaign=campaign, bid_micros=PRICE * 1000, **ad_group_budget))
    market.publish()
    served = [market.serve_one(f"app-user-{n}") for n in range(9)]

    # when all nine impressions come in
    for item in served:
        assert market.browser.get(item.impression_path).status_code == 204

    # then what fits is charged, the rest is recorded as unbilled with the cap that refused it, and costs nothing
    fits = funds // PRICE if reason == "no_balance" else 1
    impressions = stored_events(advertiser_id=advertiser.pk, kind="impression")
    assert impressions == [("impression", "valid", "", PRICE)] * fits + [("impression", "unbilled", reason, 0)] * (9 - fits)
    assert_ledger_matches_events(advertiser, fits * PRICE)


# --- conversions ---------------------------------------------------------------------------------


def pixel_key_for(market, advertiser) -> str:
    _, key = delivery_services.pixel_create(actor=market.admin_of(advertiser), advertiser=advertiser, name="Checkout")
    market.publish()
    return key


def convert(market, key, body, *, raw: bytes | None = None):
    return market.app.post(
        "/t/v1/conversions",
        data=raw if raw is not None else json.dumps(body),
        content_type="application/json",
        headers={"x-pixel-key": key},
    )


def clicked(market, ad_name="Shop", **ad_group_fields):
    """A served, seen and clicked ad; returns (ad, served, click id from the landing URL)."""
    ad = market.serving_ad(ad_name, **ad_group_fields)
    market.publish()
    served = market.serve_one("app-user-1", country="DE", device="mobile")
    market.browser.get(served.impression_path)
    location = market.browser.get(served.click_path)["Location"]
    return ad, served, parse_qs(urlsplit(location).query)["adp_click_id"][0]


def test_a_conversion_within_seven_days_of_the_click_is_attributed_with_the_clicks_ad(serving_marketplace):
    # given a click at SERVED_AT and the advertiser's pixel key
    market = serving_marketplace
    with clock.frozen(SERVED_AT):
        ad, served, click_id = clicked(market)
    key = pixel_key_for(market, advertiser_of(ad))

    # when a purchase of 12.50 EUR is reported 7 days minus a second later
    with clock.frozen(SERVED_AT + timedelta(days=7) - timedelta(seconds=1)):
        response = convert(
            market, key, {"click_id": click_id, "event_id": "order-1", "event": "purchase", "value": "12.50", "currency": "EUR"}
        )

    # then it is attributed, stored with the click's ad and the value, and costs nothing
    assert (response.status_code, response.json()) == (202, {"status": "attributed"})
    advertiser = advertiser_of(ad)
    assert stored_events(advertiser_id=advertiser.pk, kind="conversion") == [("conversion", "valid", "", 0)]
    conversion = Event.objects.get(kind="conversion")
    assert (
        conversion.ad_id,
        conversion.ad_group_id,
        conversion.campaign_id,
        conversion.advertiser_id,
        conversion.request_id,
        conversion.placement,
        conversion.country,
        conversion.device,
    ) == (
        ad.pk,
        ad.ad_group_id,
        ad.ad_group.campaign_id,
        advertiser.pk,
        uuid.UUID(served.request_id),
        "serve-feed",
        "DE",
        "mobile",
    )
    assert (conversion.event_name, conversion.value_micros, conversion.currency) == ("purchase", 12_500_000, "EUR")
    assert conversion.occurred_at == SERVED_AT + timedelta(days=7) - timedelta(seconds=1)
    # and posting counts it for the ad, charging nothing for it
    assert_ledger_matches_events(advertiser, 1000)
    assert AdPerformance.objects.get(ad=ad).conversions == 1


def test_a_conversion_more_than_seven_days_after_the_click_is_unattributed(serving_marketplace):
    # given a click at SERVED_AT
    market = serving_marketplace
    with clock.frozen(SERVED_AT):
        ad, _, click_id = clicked(market)
    key = pixel_key_for(market, advertiser_of(ad))

    # when the purchase is reported 7 days and a second later
    with clock.frozen(SERVED_AT + timedelta(days=7, seconds=1)):
        response = convert(market, key, {"click_id": click_id, "event_id": "order-1", "event": "purchase"})

    # then it is outside the attribution window
    assert (response.status_code, response.json()) == (202, {"status": "unattributed"})
    assert stored_events(kind="conversion") == [("conversion", "invalid", "unattributed", 0)]
    assert Event.objects.get(kind="conversion").ad_id is None


UNATTRIBUTED = {
    "unknown click id": lambda advertiser_id, click_id: f"{advertiser_id}.{uuid.uuid4().hex}",
    "click id of another advertiser's form": lambda advertiser_id, click_id: f"{advertiser_id + 1}.{click_id.split('.')[1]}",
    "click id without the advertiser": lambda advertiser_id, click_id: click_id.split(".")[1],
    "not a click id": lambda advertiser_id, click_id: "hello",
}


@pytest.mark.parametrize("click_id_of", UNATTRIBUTED.values(), ids=UNATTRIBUTED.keys())
def test_a_conversion_without_a_known_click_is_unattributed(serving_marketplace, click_id_of):
    # given a real click of the advertiser
    market = serving_marketplace
    ad, _, click_id = clicked(market)
    advertiser = advertiser_of(ad)
    key = pixel_key_for(market, advertiser)

    # when a conversion names some other click
    response = convert(market, key, {"click_id": click_id_of(advertiser.pk, click_id), "event_id": "e-1", "event": "lead"})

    # then it is recorded, unattributed
    assert (response.status_code, response.json()) == (202, {"status": "unattributed"})
    assert stored_events(kind="conversion") == [("conversion", "invalid", "unattributed", 0)]


def test_a_conversion_cannot_claim_another_advertisers_click(serving_marketplace):
    # given a click on advertiser A's ad, and advertiser B's pixel key
    market = serving_marketplace
    ad, _, click_id = clicked(market, "Shop A")
    other = market.advertiser("Shop B")
    key = pixel_key_for(market, other)

    # when B reports a conversion with A's click id
    response = convert(market, key, {"click_id": click_id, "event_id": "e-1", "event": "purchase"})

    # then it is not attributed to A's ad
    assert response.json() == {"status": "unattributed"}
    assert stored_events(kind="conversion") == [("conversion", "invalid", "unattributed", 0)]
    assert Event.objects.get(kind="conversion").advertiser_id == other.pk
    assert Event.objects.filter(kind="conversion", ad_id=ad.pk).count() == 0


def test_a_repeated_event_id_is_recorded_once(serving_marketplace):
    # given an attributed conversion
    market = serving_marketplace
    ad, _, click_id = clicked(market)
    key = pixel_key_for(market, advertiser_of(ad))
    body = {"click_id": click_id, "event_id": "order-1", "event": "purchase", "value": 30, "currency": "USD"}
    first = convert(market, key, body)

    # when the same event is reported again (and once more with another value)
    again = convert(market, key, body)
    changed = convert(market, key, {**body, "value": 99})

    # then only the first counts; the repeats are recorded as duplicates
    assert [first.json(), again.json(), changed.json()] == [
        {"status": "attributed"},
        {"status": "duplicate"},
        {"status": "duplicate"},
    ]
    assert stored_events(kind="conversion") == [
        ("conversion", "valid", "", 0),
        ("conversion", "invalid", "duplicate", 0),
        ("conversion", "invalid", "duplicate", 0),
    ]
    delivery_services.post_spend()
    assert AdPerformance.objects.get(ad=ad).conversions == 1


def test_the_same_event_id_of_two_advertisers_is_two_conversions(serving_marketplace):
    # given one person who clicked the ads of two advertisers, and both advertisers' pixel keys
    market = serving_marketplace
    ad_a, ad_b = market.serving_ad("Shop A", bid_micros=3_000_000), market.serving_ad("Shop B")
    key_a, key_b = pixel_key_for(market, advertiser_of(ad_a)), pixel_key_for(market, advertiser_of(ad_b))
    click_ids = []
    for item in market.serve("app-user-1", count=2):
        market.browser.get(item.impression_path)
        click_ids.append(parse_qs(urlsplit(market.browser.get(item.click_path)["Location"]).query)["adp_click_id"][0])

    # when each reports its event "order-1"
    answers = [
        convert(market, key, {"click_id": click_id, "event_id": "order-1", "event": "purchase"}).json()
        for key, click_id in zip((key_a, key_b), click_ids, strict=True)
    ]

    # then both are attributed, each to its own ad
    assert answers == [{"status": "attributed"}, {"status": "attributed"}]
    assert stored_events(kind="conversion") == [("conversion", "valid", "", 0)] * 2
    assert list(Event.objects.filter(kind="conversion").order_by("seq").values_list("ad_id", flat=True)) == [ad_a.pk, ad_b.pk]


@pytest.mark.parametrize("key", ["", "pix_unknown", "plk_placement"], ids=["missing", "unknown", "a placement key"])
def test_a_conversion_without_a_valid_pixel_key_is_401(serving_marketplace, key):
    # given a real click and pixel
    market = serving_marketplace
    ad, _, click_id = clicked(market)
    pixel_key_for(market, advertiser_of(ad))
    if key == "plk_placement":
        key = market.feed_key

    # when a conversion comes without a valid pixel key
    response = convert(market, key, {"click_id": click_id, "event_id": "e-1", "event": "purchase"})

    # then it is refused and nothing is recorded
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "not_authenticated", "message": "Send your pixel key in X-Pixel-Key.", "fields": {}}
    }
    assert stored_events(kind="conversion") == []


def test_a_deactivated_pixel_key_is_401_once_the_index_recompiles(serving_marketplace):
    # given a pixel key that worked
    market = serving_marketplace
    ad, _, click_id = clicked(market)
    advertiser = advertiser_of(ad)
    key = pixel_key_for(market, advertiser)
    assert convert(market, key, {"click_id": click_id, "event_id": "e-1", "event": "lead"}).status_code == 202

    # when the advertiser deactivates it
    delivery_services.pixel_deactivate(actor=market.admin_of(advertiser), pixel=ConversionPixel.objects.get())
    market.publish()

    # then it is refused
    assert convert(market, key, {"click_id": click_id, "event_id": "e-2", "event": "lead"}).status_code == 401
    assert stored_events(kind="conversion") == [("conversion", "valid", "", 0)]


VALID_CONVERSION = {"click_id": "1.abc", "event_id": "e-1", "event": "purchase"}
TEXT = "Send a non-empty string of at most {} characters."
BAD_CONVERSIONS = {
    # name: (body, field, message)
    "click_id missing": ({"event_id": "e-1", "event": "purchase"}, "click_id", TEXT.format(80)),
    "click_id a number": ({**VALID_CONVERSION, "click_id": 7}, "click_id", TEXT.format(80)),
    "click_id blank": ({**VALID_CONVERSION, "click_id": " "}, "click_id", TEXT.format(80)),
    "click_id too long": ({**VALID_CONVERSION, "click_id": "c" * 81}, "click_id", TEXT.format(80)),
    "event_id missing": ({"click_id": "1.abc", "event": "purchase"}, "event_id", TEXT.format(100)),
    "event_id too long": ({**VALID_CONVERSION, "event_id": "e" * 101}, "event_id", TEXT.format(100)),
    "event missing": ({"click_id": "1.abc", "event_id": "e-1"}, "event", TEXT.format(50)),
    "event a list": ({**VALID_CONVERSION, "event": ["purchase"]}, "event", TEXT.format(50)),
    "value not a number": (
        {**VALID_CONVERSION, "value": "lots", "currency": "EUR"},
        "value",
        "Send a decimal amount such as 12.50.",
    ),
    "value finer than a micro": (
        {**VALID_CONVERSION, "value": "0.0000001", "currency": "EUR"},
        "value",
        "Send a decimal amount such as 12.50.",
    ),
    "value negative": ({**VALID_CONVERSION, "value": -5, "currency": "EUR"}, "value", "A conversion value cannot be negative."),
    "value a list": ({**VALID_CONVERSION, "value": [1], "currency": "EUR"}, "value", "Send a decimal amount such as 12.50."),
    "value a bool": ({**VALID_CONVERSION, "value": True, "currency": "EUR"}, "value", "Send a decimal amount such as 12.50."),
    "value beyond any exponent": (
        {**VALID_CONVERSION, "value": "1e999999999", "currency": "EUR"},
        "value",
        "Send a decimal amount such as 12.50.",
    ),
    "value far finer than a micro": (
        {**VALID_CONVERSION, "value": "1e-999999999", "currency": "EUR"},
        "value",
        "Send a decimal amount such as 12.50.",
    ),
    "value without currency": (
        {**VALID_CONVERSION, "value": "12.50"},
        "currency",
        "Send the ISO 4217 code of the value, e.g. EUR.",
    ),
    "currency lower case": (
        {**VALID_CONVERSION, "value": "12.50", "currency": "eur"},
        "currency",
        "Send the ISO 4217 code of the value, e.g. EUR.",
    ),
    "currency a number": (
        {**VALID_CONVERSION, "value": "12.50", "currency": 978},
        "currency",
        "Send the ISO 4217 code of the value, e.g. EUR.",
    ),
    "currency the platform does not know": (
        {**VALID_CONVERSION, "value": "12.50", "currency": "XYZ"},
        "currency",
        "Values in XYZ are not accepted; send one of the platform's currencies.",
    ),
    "currency without value, not a code": (
        {**VALID_CONVERSION, "currency": 978},
        "currency",
        "Send the ISO 4217 code of the value, e.g. EUR.",
    ),
    "unknown field": ({**VALID_CONVERSION, "order": "o-1"}, "order", "Unknown field."),
    "a JSON array": ([VALID_CONVERSION], "body", "Send a JSON object."),
    "JSON null": (None, "body", "Send a JSON object."),
}


@pytest.mark.parametrize(("body", "field", "message"), BAD_CONVERSIONS.values(), ids=BAD_CONVERSIONS.keys())
def test_a_malformed_conversion_is_400_naming_the_field(serving_marketplace, body, field, message):
    # given an advertiser with a pixel key
    market = serving_marketplace
    advertiser = market.advertiser("Shop")
    key = pixel_key_for(market, advertiser)

    # when it reports a malformed conversion
    response = Client(raise_request_exception=False).post(
        "/t/v1/conversions", data=json.dumps(body), content_type="application/json", headers={"x-pixel-key": key}
    )

    # then it is told which field is wrong, and nothing is recorded
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "validation_error", "message": f"Invalid input: {field}: {message}", "fields": {field: [message]}}
    }
    assert stored_events() == []


@pytest.mark.parametrize(
    "raw",
    [b"", b"event=purchase", b'{"click_id": ', b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000],
    ids=["empty", "form encoded", "truncated", "not UTF-8", "deeply nested"],
)
def test_a_conversion_body_that_is_not_a_json_object_is_400(serving_marketplace, raw):
    market = serving_marketplace
    key = pixel_key_for(market, market.advertiser("Shop"))

    response = Client(raise_request_exception=False).post(
        "/t/v1/conversions", data=raw, content_type="application/json", headers={"x-pixel-key": key}
    )

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"body"}
    assert stored_events() == []


CONVERSION_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
CONVERSIONS = st.fixed_dictionaries(
    {},
    optional={
        "click_id": st.text(max_size=90) | CONVERSION_VALUES,
        "event_id": st.text(max_size=110) | CONVERSION_VALUES,
        "event": st.sampled_from(["purchase", "lead"]) | CONVERSION_VALUES,
        "value": st.decimals(allow_nan=True, allow_infinity=True).map(str) | CONVERSION_VALUES,
        "currency": st.sampled_from(["EUR", "USD", "eur", "EURO"]) | CONVERSION_VALUES,
    },
)


@pytest.fixture
def serving_pixel_key(serving_marketplace) -> str:
    """A pixel key of an advertiser, published in the index."""
    return pixel_key_for(serving_marketplace, serving_marketplace.advertiser("Shop"))


@FUZZ_SETTINGS
@given(body=CONVERSIONS | CONVERSION_VALUES)
def test_any_conversion_body_is_answered_never_with_a_server_error(serving_pixel_key, body):
    response = Client(raise_request_exception=False).post(
        "/t/v1/conversions", data=json.dumps(body), content_type="application/json", headers={"x-pixel-key": serving_pixel_key}
    )

    assert response.status_code in (202, 400), response.content[:300]


# --- all of it together --------------------------------------------------------------------------


def test_mixed_traffic_is_charged_exactly_and_the_ledger_equals_the_event_store(serving_marketplace):
    # given a CPM advertiser and a proven CPC advertiser competing on the feed
    market = serving_marketplace
    cpm = market.serving_ad("Per Mille", bid_micros=3_000_000)
    cpc = proven(market.serving_ad("Per Click", bid_strategy="cpc", bid_micros=500_000))
    market.publish()

    # when twenty people get two ads each, see them, click some, repeat some, and a bot joins in
    for n in range(20):
        served = market.serve(f"app-user-{n}", count=2)
        for item in served:
            market.browser.get(item.impression_path)
            if n % 3 == 0:
                market.browser.get(item.impression_path)  # a repeat
            if n % 2 == 0:
                market.browser.get(item.click_path)
            if n % 5 == 0:
                Client(headers={"user-agent": GOOGLEBOT}).get(item.click_path)

    # then for each advertiser Redis, the event store and the ledger agree to the micro,
    # and every charge is a valid event carrying its link's price
    delivery_services.consume_events()
    for ad in (cpm, cpc):
        advertiser = advertiser_of(ad)
        charged = Event.objects.filter(advertiser_id=advertiser.pk, cost_micros__gt=0)
        assert all(event.status == "valid" and event.cost_micros == event.price_micros for event in charged)
        billed_kind = "impression" if ad is cpm else "click"
        assert set(charged.values_list("kind", flat=True)) == {billed_kind}
        assert charged.count() == Event.objects.filter(advertiser_id=advertiser.pk, kind=billed_kind, status="valid").count()
        assert_ledger_matches_events(advertiser, sum(charged.values_list("cost_micros", flat=True)))
    assert Event.objects.filter(status="invalid", cost_micros__gt=0).count() == 0
