"""POST /serve/v1/decision end to end: real placement keys, a compiled index in Redis, the auction, 204/400/401."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from accounts.models import Advertiser
from adplatform import clock
from adplatform.redis_client import get_redis
from campaigns import services as campaign_services
from campaigns.models import Ad, AdGroup, Campaign, Interest, Placement
from delivery import index, links
from delivery.index import holder
from delivery.models import Event
from tests.delivery.conftest import FLOOR_CPM_USD_MICROS, charged_micros, stored_events, stream_length

AD_FIELDS = {
    "ad_id",
    "ad_group_id",
    "campaign_id",
    "advertiser_id",
    "format",
    "display_name",
    "headline",
    "body",
    "media_url",
    "call_to_action",
    "impression_url",
    "click_url",
}
# Tuesday 9 March 2027, 12:00 UTC = 13:00 in Berlin (CET): slot 1 * 48 + 26 = 74 of the advertiser's week.
TUESDAY_NOON_UTC = datetime(2027, 3, 9, 12, 0, tzinfo=UTC)


def winners(response):
    return [(ad["advertiser_id"], ad["ad_id"]) for ad in response.json()["ads"]]


# --- the answer --------------------------------------------------------------------------------


def test_decision_answers_the_winning_ad_with_its_creative_and_signed_links(serving_marketplace):
    # given one approved CPM ad (bid 2.00 USD) on the feed, whose floor is 1.00 USD CPM
    market = serving_marketplace
    ad = market.serving_ad("Corner Bakery", bid_micros=2_000_000)
    ad_group, campaign = ad.ad_group, ad.ad_group.campaign
    market.publish()

    # when the app asks for an ad for a person
    response = market.decide(
        {"placement": "serve-feed", "user_id": "app-user-1", "country": "de", "language": "DE", "device": "Mobile"}
    )

    # then it gets exactly that ad, its links signed for this request at the floor price
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"request_id", "ads"}
    assert str(uuid.UUID(body["request_id"])) == body["request_id"]
    (answered,) = body["ads"]
    assert set(answered) == AD_FIELDS
    assert {key: value for key, value in answered.items() if key not in ("impression_url", "click_url")} == {
        "ad_id": ad.pk,
        "ad_group_id": ad_group.pk,
        "campaign_id": campaign.pk,
        "advertiser_id": campaign.advertiser_id,
        "format": "image",
        "display_name": "Corner Bakery",
        "headline": "Fresh bread every morning",
        "body": "Sourdough, rye and croissants.",
        "media_url": "https://cdn.example.com/bread.jpg",
        "call_to_action": "learn_more",
    }
    assert answered["impression_url"].startswith("http://testserver/t/v1/i?d=")
    assert answered["click_url"].startswith("http://testserver/t/v1/c?d=")
    for kind, url in (("i", answered["impression_url"]), ("c", answered["click_url"])):
        query = url.split("?", 1)[1]
        payload, signature = (part.split("=", 1)[1] for part in query.split("&"))
        served = links.verify(payload, signature, kind, now=clock.now().timestamp())
        assert (served.request_id, served.ad_id, served.ad_group_id, served.campaign_id, served.advertiser_id) == (
            body["request_id"],
            ad.pk,
            ad_group.pk,
            campaign.pk,
            campaign.advertiser_id,
        )
        assert (served.placement, served.billed_on, served.price_micros) == ("serve-feed", "impression", 1000)
        assert (served.user_key, served.country, served.device) == (links.user_key("app-user-1"), "DE", "mobile")
        assert served.expires_at - served.served_at == 24 * 3600
        assert served.landing_url == "https://bakery.example.com/"
    # and the served ad is recorded once, never charged
    assert stored_events() == [("serve", "valid", "", 0)]
    serve = Event.objects.get()
    assert (serve.request_id, serve.ad_id, serve.placement, serve.billed_on, serve.price_micros) == (
        uuid.UUID(body["request_id"]),
        ad.pk,
        "serve-feed",
        "impression",
        1000,
    )
    assert charged_micros(campaign.advertiser) == 0


def test_each_decision_has_its_own_request_id(serving_marketplace):
    # given one serving ad
    market = serving_marketplace
    market.serving_ad("Corner Bakery")
    market.publish()

    # when the same person asks twice
    first, second = market.serve_one("app-user-1"), market.serve_one("app-user-1")

    # then the two answers carry different request ids, so each can be counted once
    assert first.request_id != second.request_id
    assert first.facts["request_id"] == first.request_id


def test_five_ads_go_to_the_five_best_advertisers_each_at_the_next_score(serving_marketplace):
    # given six advertisers bidding CPM 7.00 ... 2.00 USD, and the best one also with a 6.50 ad group
    market = serving_marketplace
    ads = {bid: market.serving_ad(f"Bidder {bid}", bid_micros=bid * 1_000_000) for bid in (7, 6, 5, 4, 3, 2)}
    best = ads[7].ad_group.campaign.advertiser
    market.ad(market.ad_group(best, bid_micros=6_500_000))
    market.publish()

    # when the app asks for five ads
    served = market.serve("app-user-1", count=5)

    # then it gets the best ad of each of the five best advertisers, in order, each paying the next advertiser's bid
    assert [(item.ad["ad_id"], item.ad["advertiser_id"]) for item in served] == [
        (ads[bid].pk, ads[bid].ad_group.campaign.advertiser_id) for bid in (7, 6, 5, 4, 3)
    ]
    assert [item.facts["price_micros"] for item in served] == [6000, 5000, 4000, 3000, 2000]
    assert len({item.ad["advertiser_id"] for item in served}) == 5
    assert stored_events() == [("serve", "valid", "", 0)] * 5


@pytest.mark.parametrize(("count", "expected"), [(1, 1), (2, 2), (5, 3)])
def test_count_is_honoured_up_to_one_ad_per_advertiser(serving_marketplace, count, expected):
    # given three advertisers, one of them with three ad groups
    market = serving_marketplace
    first = market.serving_ad("First", bid_micros=9_000_000).ad_group.campaign.advertiser
    for bid in (8_000_000, 7_000_000):
        market.ad(market.ad_group(first, bid_micros=bid))
    market.serving_ad("Second", bid_micros=3_000_000)
    market.serving_ad("Third", bid_micros=2_000_000)
    market.publish()

    # when the app asks for `count` ads
    served = market.serve("app-user-1", count=count)

    # then it gets at most one ad per advertiser
    assert len(served) == expected
    assert len({item.ad["advertiser_id"] for item in served}) == expected


def test_a_lone_bidder_pays_the_floor_in_its_own_currency(serving_marketplace):
    # given a euro advertiser alone on the feed (floor 1.00 USD CPM; 0.92 EUR per USD)
    market = serving_marketplace
    advertiser = market.advertiser("Euro Bakery", currency="EUR", time_zone="Europe/Berlin")
    market.ad(market.ad_group(advertiser, bid_micros=5_000_000))
    market.publish()

    # when it wins
    served = market.serve_one()

    # then one impression costs the floor converted into euro micros
    assert (served.facts["billed_on"], served.facts["price_micros"]) == ("impression", 920)


def test_cpc_ad_is_priced_per_click_never_above_its_bid(serving_marketplace):
    # given a CPC ad bidding 0.50 USD per click
    market = serving_marketplace
    ad = market.serving_ad("Clicks Inc", bid_strategy="cpc", bid_micros=500_000)
    market.publish()

    # when it is served (its predicted CTR is sampled, so it wins on most requests only)
    responses = [market.decide({"placement": "serve-feed", "user_id": f"user-{n}"}) for n in range(20)]

    # then every answer that carries it bills the click, at most at the bid
    served = [response.json()["ads"][0] for response in responses if response.status_code == 200]
    assert served
    assert {response.status_code for response in responses} <= {200, 204}
    for answered in served:
        assert answered["ad_id"] == ad.pk
        query = answered["click_url"].split("?", 1)[1]
        payload, signature = (part.split("=", 1)[1] for part in query.split("&"))
        facts = links.verify(payload, signature, "c", now=clock.now().timestamp())
        assert facts.billed_on == "click"
        assert 0 < facts.price_micros <= 500_000


# --- targeting and schedule ----------------------------------------------------------------------


TARGETING = {
    # name: (ad group targeting, request fields, served?)
    "no targeting, bare request": ({}, {}, True),
    "country matches (case-insensitive request)": ({"countries": ["DE", "AT"]}, {"country": "at"}, True),
    "country differs": ({"countries": ["DE", "AT"]}, {"country": "FR"}, False),
    "country unknown to the request": ({"countries": ["DE"]}, {}, False),
    "language matches": ({"languages": ["de"]}, {"language": "DE"}, True),
    "language differs": ({"languages": ["de"]}, {"language": "en"}, False),
    "gender matches": ({"genders": ["female"]}, {"gender": "Female"}, True),
    "gender differs": ({"genders": ["female"]}, {"gender": "male"}, False),
    "gender not given": ({"genders": ["female"]}, {}, False),
    "device matches": ({"device_types": ["mobile", "tablet"]}, {"device": "tablet"}, True),
    "device differs": ({"device_types": ["mobile", "tablet"]}, {"device": "desktop"}, False),
    "os matches": ({"operating_systems": ["ios"]}, {"os": "ios"}, True),
    "os differs": ({"operating_systems": ["ios"]}, {"os": "android"}, False),
    "age at the low edge": ({"age_ranges": ["25-34"]}, {"age": 25}, True),
    "age at the high edge": ({"age_ranges": ["25-34"]}, {"age": 34}, True),
    "age just outside": ({"age_ranges": ["25-34"]}, {"age": 35}, False),
    "age in a second range": ({"age_ranges": ["13-17", "55+"]}, {"age": 80}, True),
    "age not given": ({"age_ranges": ["25-34"]}, {}, False),
    "one interest shared": ({"interests": ["gaming", "cooking"]}, {"interests": ["travel", "cooking"]}, True),
    "no interest shared": ({"interests": ["gaming"]}, {"interests": ["travel"]}, False),
    "interests not given": ({"interests": ["gaming"]}, {}, False),
    "everything matches": (
        {"countries": ["DE"], "languages": ["de"], "device_types": ["mobile"], "operating_systems": ["android"]},
        {"country": "DE", "language": "de", "device": "mobile", "os": "android", "age": 27, "gender": "female"},
        True,
    ),
    "all but one match": (
        {"countries": ["DE"], "languages": ["de"], "device_types": ["mobile"], "operating_systems": ["android"]},
        {"country": "DE", "language": "de", "device": "mobile", "os": "ios"},
        False,
    ),
}


@pytest.mark.parametrize(("targeting", "request_fields", "served"), TARGETING.values(), ids=TARGETING.keys())
def test_targeting_decides_who_sees_the_ad(serving_marketplace, targeting, request_fields, served):
    # given one ad group with this targeting
    market = serving_marketplace
    advertiser = market.advertiser("Targeter")
    fields = dict(targeting)
    interests = fields.pop("interests", None)
    ad_group = market.ad_group(advertiser, **fields)
    if interests:
        ad_group.interests.set(Interest.objects.filter(key__in=interests))
    ad = market.ad(ad_group)
    market.publish()

    # when a person with these traits asks
    response = market.decide({"placement": "serve-feed", "user_id": "app-user-1", **request_fields})

    # then the ad is served if and only if the person fits
    if served:
        assert response.status_code == 200
        assert winners(response) == [(advertiser.pk, ad.pk)]
    else:
        assert response.status_code == 204
        assert response.content == b""
        assert stream_length() == 0


SCHEDULE = {
    # name: (advertiser time zone, ad group schedule, moment, served?)
    "no dayparting": ("Europe/Berlin", {"dayparting": []}, TUESDAY_NOON_UTC, True),
    "in the Berlin slot (13:00 CET)": ("Europe/Berlin", {"dayparting": [74]}, TUESDAY_NOON_UTC, True),
    "the UTC slot is not the Berlin slot": ("Europe/Berlin", {"dayparting": [72]}, TUESDAY_NOON_UTC, False),
    "in the next slot only": ("Europe/Berlin", {"dayparting": [75]}, TUESDAY_NOON_UTC, False),
    "slot ends at :29:59": ("Europe/Berlin", {"dayparting": [74]}, TUESDAY_NOON_UTC + timedelta(minutes=29, seconds=59), True),
    "next slot begins at :30": ("Europe/Berlin", {"dayparting": [74]}, TUESDAY_NOON_UTC + timedelta(minutes=30), False),
    "summer time moves the slot (14:00 CEST)": (
        "Europe/Berlin",
        {"dayparting": [76]},
        datetime(2027, 7, 6, 12, tzinfo=UTC),
        True,
    ),
    "summer time: the winter slot is off": ("Europe/Berlin", {"dayparting": [74]}, datetime(2027, 7, 6, 12, tzinfo=UTC), False),
    "Monday 23:30 UTC is Tuesday 00:30 in Berlin": (
        "Europe/Berlin",
        {"dayparting": [49]},
        datetime(2027, 3, 8, 23, 30, tzinfo=UTC),
        True,
    ),
    "New York, 08:00 EST": ("America/New_York", {"dayparting": [64]}, TUESDAY_NOON_UTC + timedelta(hours=1), True),
    "not started yet": ("Europe/Berlin", {"start_time": TUESDAY_NOON_UTC + timedelta(seconds=1)}, TUESDAY_NOON_UTC, False),
    "starts exactly now": ("Europe/Berlin", {"start_time": TUESDAY_NOON_UTC}, TUESDAY_NOON_UTC, True),
    "ended a second ago": ("Europe/Berlin", {"end_time": TUESDAY_NOON_UTC - timedelta(seconds=1)}, TUESDAY_NOON_UTC, False),
    "ends in a second": ("Europe/Berlin", {"end_time": TUESDAY_NOON_UTC + timedelta(seconds=1)}, TUESDAY_NOON_UTC, True),
}


@pytest.mark.parametrize(("time_zone", "schedule", "moment", "served"), SCHEDULE.values(), ids=SCHEDULE.keys())
def test_schedule_and_dayparting_in_the_advertisers_time_zone(serving_marketplace, time_zone, schedule, moment, served):
    # given an ad group with this schedule, for an advertiser in `time_zone`
    market = serving_marketplace
    advertiser = market.advertiser("Early Bird", time_zone=time_zone)
    fields = {"start_time": TUESDAY_NOON_UTC - timedelta(days=30), **schedule}
    ad = market.ad(market.ad_group(advertiser, **fields))

    with clock.frozen(moment):
        # when the index is compiled and a person asks at `moment`
        market.publish()
        response = market.decide({"placement": "serve-feed", "user_id": "app-user-1"})

    # then the ad is served only inside its schedule
    if served:
        assert response.status_code == 200
        assert winners(response) == [(advertiser.pk, ad.pk)]
    else:
        assert response.status_code == 204
        assert stream_length() == 0


def test_an_ad_outside_its_schedule_gives_way_to_one_inside(serving_marketplace):
    # given a high bidder running only on Tuesday 13:00-13:30 Berlin time and a lower bidder always on
    market = serving_marketplace
    night = market.advertiser("Night Owl", time_zone="Europe/Berlin")
    market.ad(market.ad_group(night, bid_micros=9_000_000, dayparting=[74]))
    always = market.serving_ad("Always On", bid_micros=2_000_000)

    # when people ask inside and outside that half hour
    with clock.frozen(TUESDAY_NOON_UTC):
        market.publish()
        inside = market.serve_one()
    with clock.frozen(TUESDAY_NOON_UTC + timedelta(hours=1)):
        market.publish()
        outside = market.serve_one()

    # then the night owl wins inside (paying the runner-up's 2.00) and the other one wins outside (paying the floor)
    assert (inside.ad["advertiser_id"], inside.facts["price_micros"]) == (night.pk, 2000)
    assert (outside.ad["ad_id"], outside.facts["price_micros"]) == (always.pk, FLOOR_CPM_USD_MICROS // 1000)


# --- nothing eligible: 204 ---------------------------------------------------------------------


def test_no_ads_at_all_is_204(serving_marketplace):
    # given placements but no ads
    market = serving_marketplace
    market.publish()

    # when the app asks
    response = market.decide({"placement": "serve-feed", "user_id": "app-user-1"})

    # then nothing is served
    assert response.status_code == 204
    assert response.content == b""
    assert stream_length() == 0


def _suspend(ad: Ad) -> None:
    Advertiser.objects.filter(pk=ad.ad_group.campaign.advertiser_id).update(status="suspended")


NOT_ELIGIBLE = {
    "ad in review": lambda ad: Ad.objects.filter(pk=ad.pk).update(review_status="pending"),
    "ad rejected": lambda ad: Ad.objects.filter(pk=ad.pk).update(review_status="rejected", review_reason="Blurry."),
    "ad paused": lambda ad: Ad.objects.filter(pk=ad.pk).update(status="paused"),
    "ad archived": lambda ad: Ad.objects.filter(pk=ad.pk).update(status="archived"),
    "ad group paused": lambda ad: AdGroup.objects.filter(pk=ad.ad_group_id).update(status="paused"),
    "campaign paused": lambda ad: Campaign.objects.filter(pk=ad.ad_group.campaign_id).update(status="paused"),
    "campaign archived": lambda ad: Campaign.objects.filter(pk=ad.ad_group.campaign_id).update(status="archived"),
    "account suspended": _suspend,
    "image ad on a placement that shows only text": lambda ad: Placement.objects.filter(key="serve-feed").update(
        allowed_formats=["text"]
    ),
    "ad group not on this placement": lambda ad: ad.ad_group.placements.set(Placement.objects.filter(key="serve-search")),
}


@pytest.mark.parametrize("make_ineligible", NOT_ELIGIBLE.values(), ids=NOT_ELIGIBLE.keys())
def test_an_ineligible_ad_is_not_served(serving_marketplace, make_ineligible):
    # given the only ad on the feed, made ineligible
    market = serving_marketplace
    ad = market.serving_ad("Corner Bakery")
    make_ineligible(ad)

    # when the index is compiled and the app asks
    market.publish()
    response = market.decide({"placement": "serve-feed", "user_id": "app-user-1"})

    # then nothing is served, nothing is recorded
    assert response.status_code == 204
    assert response.content == b""
    assert stream_length() == 0


def test_a_switched_off_placement_no_longer_answers_to_its_key(serving_marketplace):
    # given a serving ad on a placement that staff then switch off
    market = serving_marketplace
    market.serving_ad("Corner Bakery")
    Placement.objects.filter(key="serve-feed").update(is_active=False)

    # when the index is compiled and the app asks with the placement's key
    market.publish()
    response = market.decide({"placement": "serve-feed", "user_id": "app-user-1"})

    # then the key is not recognised any more
    assert response.status_code == 401
    assert stream_length() == 0


def test_an_ineligible_ad_gives_way_to_the_next_best(serving_marketplace):
    # given a rejected high bidder and an approved low bidder
    market = serving_marketplace
    rejected = market.serving_ad("Rejected", bid_micros=9_000_000)
    Ad.objects.filter(pk=rejected.pk).update(review_status="rejected", review_reason="Blurry.")
    approved = market.serving_ad("Approved", bid_micros=2_000_000)
    market.publish()

    # when the app asks
    served = market.serve_one()

    # then the approved ad wins, at the floor (the rejected one is not in the auction at all)
    assert (served.ad["ad_id"], served.facts["price_micros"]) == (approved.pk, 1000)


BUDGETS = {
    # name: (campaign budget, ad group budget)
    "ad group daily budget": ({}, {"budget_mode": "daily", "budget_micros": 1_000_000}),
    "ad group lifetime budget": (
        {},
        {"budget_mode": "lifetime", "budget_micros": 1_000_000, "end_time": datetime(2099, 1, 1, tzinfo=UTC)},
    ),
    "campaign daily budget": (
        {"budget_mode": "daily", "budget_micros": 1_000_000},
        {"budget_mode": "unlimited", "budget_micros": 0},
    ),
    "campaign lifetime budget": (
        {"budget_mode": "lifetime", "budget_micros": 1_000_000},
        {"budget_mode": "unlimited", "budget_micros": 0, "end_time": datetime(2099, 1, 1, tzinfo=UTC)},
    ),
}


@pytest.mark.parametrize(("campaign_budget", "ad_group_budget"), BUDGETS.values(), ids=BUDGETS.keys())
def test_a_spent_budget_stops_serving(serving_marketplace, campaign_budget, ad_group_budget):
    # given a 1.00 USD budget and a placement whose floor makes one impression cost 0.60 USD
    market = serving_marketplace
    Placement.objects.filter(key="serve-feed").update(floor_cpm_usd_micros=600_000_000)
    advertiser = market.advertiser("Small Budget")
    campaign = Campaign.objects.create(advertiser=advertiser, name="Small", objective="traffic", **campaign_budget)
    ad = market.ad(market.ad_group(advertiser, campaign=campaign, bid_micros=700_000_000, **ad_group_budget))
    market.publish()
    served = market.serve_one()
    assert served.facts["price_micros"] == 600_000

    # when one impression is charged (another one would cross the budget)
    assert market.browser.get(served.impression_path).status_code == 204
    holder.reset()  # the next request reads the live state again

    # then the ad is no longer served
    response = market.decide({"placement": "serve-feed", "user_id": "app-user-2"})
    assert response.status_code == 204
    assert charged_micros(advertiser) == 600_000
    assert stored_events(ad_id=ad.pk) == [("serve", "valid", "", 0), ("impression", "valid", "", 600_000)]


def test_a_throttled_ad_group_takes_evenly_spaced_requests_its_share_of_them(serving_marketplace):
    # given two ad groups, one the pacing controller lets take a quarter of its requests, the other a tenth
    market = serving_marketplace
    quarter = market.serving_ad("Quarter")
    tenth = market.serving_ad("Tenth")
    get_redis().hset(index.THROTTLE_KEY, mapping={str(quarter.ad_group_id): "0.25", str(tenth.ad_group_id): "0.1"})
    market.publish()

    # when the app asks 40 times
    answers = []
    for n in range(40):
        response = market.decide({"placement": "serve-feed", "user_id": f"app-user-{n}", "count": 2})
        answers.append({ad["ad_id"] for ad in response.json()["ads"]} if response.status_code == 200 else set())

    # then each ad group took exactly its share, one request in every four (every ten), not a random
    # quarter that could bunch up or leave long gaps: a small budget's few events spread along its day
    for ad, every in ((quarter, 4), (tenth, 10)):
        taken = [n for n, ads in enumerate(answers) if ad.pk in ads]
        assert len(taken) == 40 // every
        assert {later - earlier for earlier, later in pairwise(taken)} == {every}


def test_an_advertiser_without_money_is_not_served(serving_marketplace):
    # given an approved ad of an advertiser who never topped up (spendable balance 0)
    market = serving_marketplace
    broke = market.advertiser("Broke", funds_micros=0)
    market.ad(market.ad_group(broke, bid_micros=9_000_000))
    market.publish()

    # when the app asks
    response = market.decide({"placement": "serve-feed", "user_id": "app-user-1"})

    # then nothing is served: "budget and spendable balance left" is a condition of eligibility
    assert response.status_code == 204
    assert stream_length() == 0


def test_a_spent_balance_stops_serving(serving_marketplace):
    # given an advertiser with 5.00 USD and an impression price of 3.00 USD
    market = serving_marketplace
    Placement.objects.filter(key="serve-feed").update(floor_cpm_usd_micros=3_000_000_000)
    advertiser = market.advertiser("Thin Wallet", funds_micros=5_000_000)
    market.ad(market.ad_group(advertiser, bid_micros=3_000_000_000, budget_micros=50_000_000))
    market.publish()
    first, second = market.serve_one("app-user-1"), market.serve_one("app-user-2")

    # when the first impression takes 3.00 and the second cannot be paid
    market.browser.get(first.impression_path)
    market.browser.get(second.impression_path)
    holder.reset()

    # then the ad is no longer served
    assert market.decide({"placement": "serve-feed", "user_id": "app-user-3"}).status_code == 204
    assert charged_micros(advertiser) == 3_000_000


# --- the index follows changes -------------------------------------------------------------------


PAUSES = {
    "campaign": lambda actor, ad: campaign_services.campaign_update(actor=actor, campaign=ad.ad_group.campaign, status="paused"),
    "ad group": lambda actor, ad: campaign_services.ad_group_update(actor=actor, ad_group=ad.ad_group, status="paused"),
    "ad": lambda actor, ad: campaign_services.ad_update(actor=actor, ad=ad, status="paused"),
}


@pytest.mark.parametrize("pause", PAUSES.values(), ids=PAUSES.keys())
def test_pausing_stops_serving_once_the_index_recompiles(serving_marketplace, django_capture_on_commit_callbacks, pause):
    # given a serving ad
    market = serving_marketplace
    ad = market.serving_ad("Pausable")
    advertiser = ad.ad_group.campaign.advertiser
    market.publish()
    assert market.decide({"placement": "serve-feed", "user_id": "app-user-1"}).status_code == 200

    # when its owner pauses it (the change's signal recompiles the index on commit)
    with django_capture_on_commit_callbacks(execute=True):
        pause(market.admin_of(advertiser), ad)
    holder.reset()

    # then it is no longer served
    response = market.decide({"placement": "serve-feed", "user_id": "app-user-1"})
    assert response.status_code == 204
    assert stored_events() == [("serve", "valid", "", 0)]  # only the serve before the pause


def test_suspending_the_account_stops_serving_once_the_index_recompiles(serving_marketplace, django_capture_on_commit_callbacks):
    # given a serving ad
    market = serving_marketplace
    ad = market.serving_ad("Suspect")
    advertiser = ad.ad_group.campaign.advertiser
    market.publish()

    # when staff suspend the account (the save recompiles the index on commit)
    with django_capture_on_commit_callbacks(execute=True):
        advertiser.status = Advertiser.Status.SUSPENDED
        advertiser.save()
    holder.reset()

    # then nothing is served
    assert market.decide({"placement": "serve-feed", "user_id": "app-user-1"}).status_code == 204


def test_an_approved_ad_starts_serving_once_the_index_recompiles(serving_marketplace, django_capture_on_commit_callbacks):
    # given an ad waiting in review
    market = serving_marketplace
    ad = market.serving_ad("Newcomer")
    Ad.objects.filter(pk=ad.pk).update(review_status="pending")
    market.publish()
    assert market.decide({"placement": "serve-feed", "user_id": "app-user-1"}).status_code == 204

    # when staff approve it
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.ad_review(reviewer=market.reviewer, ad=ad, decision="approve")
    holder.reset()

    # then it is served
    response = market.decide({"placement": "serve-feed", "user_id": "app-user-1"})
    assert response.status_code == 200
    assert winners(response) == [(ad.ad_group.campaign.advertiser_id, ad.pk)]


# --- frequency cap ---------------------------------------------------------------------------------


def test_frequency_cap_hands_the_slot_to_the_next_ad_group_for_that_person_only(serving_marketplace):
    # given a capped ad group (2 impressions a day) outbidding an uncapped one
    market = serving_marketplace
    capped = market.serving_ad("Capped", bid_micros=5_000_000, frequency_cap_impressions=2, frequency_cap_days=1)
    uncapped = market.serving_ad("Uncapped", bid_micros=2_000_000)
    market.publish()

    # when one person sees the capped ad twice
    for _ in range(2):
        served = market.serve_one("app-user-1")
        assert served.ad["ad_id"] == capped.pk
        assert market.browser.get(served.impression_path).status_code == 204

    # then that person gets the uncapped ad (at the floor now that it is alone), and anyone else still the capped one
    after_cap = market.serve_one("app-user-1")
    assert (after_cap.ad["ad_id"], after_cap.facts["price_micros"]) == (uncapped.pk, 1000)
    assert market.serve_one("app-user-2").ad["ad_id"] == capped.pk


def test_served_but_unseen_ads_do_not_count_towards_the_cap(serving_marketplace):
    # given a capped ad group (1 impression a day), alone
    market = serving_marketplace
    capped = market.serving_ad("Capped", frequency_cap_impressions=1, frequency_cap_days=1)
    market.publish()

    # when it is served three times but never shown
    for _ in range(3):
        assert market.serve_one("app-user-1").ad["ad_id"] == capped.pk

    # then one impression caps it, and the person gets nothing more
    served = market.serve_one("app-user-1")
    market.browser.get(served.impression_path)
    assert market.decide({"placement": "serve-feed", "user_id": "app-user-1"}).status_code == 204
    assert market.decide({"placement": "serve-feed", "user_id": "app-user-2"}).status_code == 200


# --- who may ask: 401 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["", "plk_unknown", "not-even-a-key"],
    ids=["missing", "unknown", "garbage"],
)
def test_an_unknown_placement_key_is_401(serving_marketplace, key):
    # given a serving ad
    market = serving_marketplace
    market.serving_ad("Corner Bakery")
    market.publish()

    # when the app asks without a valid key
    response = market.decide({"placement": "serve-feed", "user_id": "app-user-1"}, key=key)

    # then it is refused and nothing is served
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Send the placement's serving key in X-Placement-Key.",
            "fields": {},
        }
    }
    assert stream_length() == 0


def test_another_placements_key_is_401(serving_marketplace):
    # given a serving ad on the feed
    market = serving_marketplace
    market.serving_ad("Corner Bakery")
    market.publish()

    # when the app asks for the feed with the search placement's key
    response = market.decide({"placement": "serve-feed", "user_id": "app-user-1"}, key=market.search_key)

    # then it is refused
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert stream_length() == 0


def test_a_rotated_key_stops_working(serving_marketplace):
    # given a serving ad and a placement whose key was rotated
    market = serving_marketplace
    market.serving_ad("Corner Bakery")
    old_key = market.feed_key
    new_key = campaign_services.placement_rotate_key(placement=market.feed)
    market.publish()

    # when the app asks with each key
    old = market.decide({"placement": "serve-feed", "user_id": "app-user-1"}, key=old_key)
    new = market.decide({"placement": "serve-feed", "user_id": "app-user-1"}, key=new_key)

    # then only the new key is accepted
    assert (old.status_code, new.status_code) == (401, 200)


def test_decisions_are_posted_not_fetched(serving_marketplace):
    market = serving_marketplace
    market.serving_ad("Corner Bakery")
    market.publish()

    response = market.app.get("/serve/v1/decision", headers={"x-placement-key": market.feed_key})

    assert response.status_code == 405
    assert stream_length() == 0


# --- malformed requests: 400 naming the field ---------------------------------------------------------


VALID = {"placement": "serve-feed", "user_id": "app-user-1"}
TEXT_2 = "Send a non-empty string of at most 2 characters."
NOT_UNICODE = "Send valid Unicode text (no unpaired surrogates)."
MALFORMED = {
    # name: (body, field, message)
    "placement missing": ({"user_id": "u"}, "placement", "This field is required."),
    "placement null": ({**VALID, "placement": None}, "placement", "This field is required."),
    "placement a number": ({**VALID, "placement": 5}, "placement", "Send a non-empty string of at most 50 characters."),
    "placement blank": ({**VALID, "placement": "  "}, "placement", "Send a non-empty string of at most 50 characters."),
    "placement too long": ({**VALID, "placement": "f" * 51}, "placement", "Send a non-empty string of at most 50 characters."),
    "user_id missing": ({"placement": "serve-feed"}, "user_id", "This field is required."),
    "user_id empty": ({**VALID, "user_id": ""}, "user_id", "Send a non-empty string of at most 128 characters."),
    "user_id a number": ({**VALID, "user_id": 42}, "user_id", "Send a non-empty string of at most 128 characters."),
    "user_id too long": ({**VALID, "user_id": "u" * 129}, "user_id", "Send a non-empty string of at most 128 characters."),
    "user_id a lone surrogate": ({**VALID, "user_id": "\ud800"}, "user_id", NOT_UNICODE),
    "user_id with a lone surrogate": ({**VALID, "user_id": "app-user-\udfff"}, "user_id", NOT_UNICODE),
    "placement with a lone surrogate": ({**VALID, "placement": "serve-feed\ud800"}, "placement", NOT_UNICODE),
    "device a lone surrogate": ({**VALID, "device": "\ud800"}, "device", NOT_UNICODE),
    "country three letters": ({**VALID, "country": "DEU"}, "country", TEXT_2),
    "country with a digit": ({**VALID, "country": "D1"}, "country", "Send a 2-letter code."),
    "country one letter": ({**VALID, "country": "D"}, "country", "Send a 2-letter code."),
    "country not ASCII": ({**VALID, "country": "ÄÖ"}, "country", "Send a 2-letter code."),
    "country a number": ({**VALID, "country": 49}, "country", TEXT_2),
    "country a list": ({**VALID, "country": ["DE"]}, "country", TEXT_2),
    "language three letters": ({**VALID, "language": "deu"}, "language", TEXT_2),
    "language with a digit": ({**VALID, "language": "d3"}, "language", "Send a 2-letter code."),
    "device unknown": ({**VALID, "device": "phone"}, "device", "Choose one of: connected_tv, desktop, mobile, tablet."),
    "device a bool": ({**VALID, "device": True}, "device", "Send a non-empty string of at most 20 characters."),
    "os unknown": ({**VALID, "os": "symbian"}, "os", "Choose one of: android, ios, linux, macos, windows."),
    "gender unknown": ({**VALID, "gender": "robot"}, "gender", "Choose one of: female, male."),
    "age zero": ({**VALID, "age": 0}, "age", "Send a whole number of years."),
    "age negative": ({**VALID, "age": -1}, "age", "Send a whole number of years."),
    "age 130": ({**VALID, "age": 130}, "age", "Send a whole number of years."),
    "age a string": ({**VALID, "age": "27"}, "age", "Send a whole number of years."),
    "age a fraction": ({**VALID, "age": 27.5}, "age", "Send a whole number of years."),
    "age a bool": ({**VALID, "age": True}, "age", "Send a whole number of years."),
    "interests a string": ({**VALID, "interests": "gaming"}, "interests", "Send a list of at most 50 interest keys."),
    "interests with a number": ({**VALID, "interests": ["gaming", 1]}, "interests", "Send a list of at most 50 interest keys."),
    "interests too many": (
        {**VALID, "interests": [f"i{n}" for n in range(51)]},
        "interests",
        "Send a list of at most 50 interest keys.",
    ),
    "interest too long": ({**VALID, "interests": ["x" * 51]}, "interests", "Send a list of at most 50 interest keys."),
    "count zero": ({**VALID, "count": 0}, "count", "Ask for 1 to 5 ads."),
    "count six": ({**VALID, "count": 6}, "count", "Ask for 1 to 5 ads."),
    "count a string": ({**VALID, "count": "2"}, "count", "Ask for 1 to 5 ads."),
    "count a bool": ({**VALID, "count": True}, "count", "Ask for 1 to 5 ads."),
    "count a fraction": ({**VALID, "count": 1.5}, "count", "Ask for 1 to 5 ads."),
    "unknown field": ({**VALID, "colour": "red"}, "colour", "Unknown field."),
    "a JSON array": ([VALID], "body", "Send a JSON object."),
    "a JSON string": ("serve-feed", "body", "Send a JSON object."),
    "a JSON number": (1, "body", "Send a JSON object."),
    "JSON null": (None, "body", "Send a JSON object."),
}


@pytest.mark.parametrize(("body", "field", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_request_is_400_naming_the_field(serving_marketplace, body, field, message):
    # given a serving ad
    market = serving_marketplace
    market.serving_ad("Corner Bakery")
    market.publish()

    # when the app sends a malformed request with a valid key
    response = market.decide(body)

    # then it is told which field is wrong, and nothing is served
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "validation_error", "message": f"Invalid input: {field}: {message}", "fields": {field: [message]}}
    }
    assert stream_length() == 0


def test_an_unknown_field_with_an_empty_name_is_named_too(serving_marketplace):
    # given a serving ad
    market = serving_marketplace
    market.serving_ad("Corner Bakery")
    market.publish()

    # when the request carries a field whose name is the empty string
    response = market.decide({**VALID, "": 1})

    # then the 400 still names it
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"": ["Unknown field."]}
    assert stream_length() == 0


def test_a_user_id_that_is_not_unicode_is_400_before_any_key_is_asked_for(serving_marketplace):
    # given a serving ad
    market = serving_marketplace
    market.serving_ad("Corner Bakery")
    market.publish()

    # when a request without a placement key carries a user_id that is a lone surrogate (valid JSON, not valid text)
    response = market.decide({"placement": "x", "user_id": "\ud800"}, key="")

    # then it is refused naming the field, and nothing is served
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"user_id": [NOT_UNICODE]}
    assert stream_length() == 0


NOT_JSON = {
    "empty body": b"",
    "not JSON": b"placement=serve-feed&user_id=u",
    "truncated JSON": b'{"placement": "serve-feed", "user_id": ',
    "not UTF-8": b'{"placement": "\xff\xfe"}',
    "trailing garbage": b'{"placement": "serve-feed", "user_id": "u"} x',
}


@pytest.mark.parametrize("raw", NOT_JSON.values(), ids=NOT_JSON.keys())
def test_a_body_that_is_not_json_is_400(serving_marketplace, raw):
    market = serving_marketplace
    market.serving_ad("Corner Bakery")
    market.publish()

    response = market.decide(None, raw=raw)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] in ({"body": ["The body is not valid JSON."]}, {"body": ["Send a JSON object."]})
    assert stream_length() == 0


DEEP = 100_000
DEEPLY_NESTED = {
    "a deeply nested array": b"[" * DEEP + b"]" * DEEP,
    "a deeply nested field": b'{"placement": "serve-feed", "user_id": "u", "interests": ' + b"[" * DEEP + b"]" * DEEP + b"}",
}


@pytest.mark.parametrize("raw", DEEPLY_NESTED.values(), ids=DEEPLY_NESTED.keys())
def test_deeply_nested_json_is_400_not_500(serving_marketplace, raw):
    # given a serving ad
    market = serving_marketplace
    market.serving_ad("Corner Bakery")
    market.publish()

    # when a body nests deeper than the JSON parser recurses
    response = post_raw(market, raw, market.feed_key)

    # then the request is refused as malformed, not answered with a server error
    assert response.status_code == 400
    assert stream_length() == 0


# --- never 500 ---------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=25,
)
FIELD_VALUES = {
    "country": st.sampled_from(["DE", "de", "FR", "ZZ", "D", "DEU", ""]) | JSON_VALUES,
    "language": st.sampled_from(["de", "EN", "xx", "d"]) | JSON_VALUES,
    "device": st.sampled_from(["mobile", "TABLET", "desktop", "connected_tv", "phone"]) | JSON_VALUES,
    "os": st.sampled_from(["android", "ios", "windows", "macos", "linux", "beos"]) | JSON_VALUES,
    "age": st.integers(min_value=-5, max_value=200) | JSON_VALUES,
    "gender": st.sampled_from(["female", "male", "Female", "x"]) | JSON_VALUES,
    "interests": st.lists(st.sampled_from(["gaming", "cooking", "travel"]) | st.text(max_size=60), max_size=60) | JSON_VALUES,
    "count": st.integers(min_value=-2, max_value=8) | JSON_VALUES,
}
REQUESTS = st.fixed_dictionaries(
    {
        "placement": st.sampled_from(["serve-feed", "serve-search", "nowhere"]) | JSON_VALUES,
        "user_id": st.text(max_size=140) | JSON_VALUES,
    },
    optional={**FIELD_VALUES, "extra": JSON_VALUES},
)
# Deterministic examples; no "explain" phase, which replays every failure many times over.
FUZZ_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
)


@pytest.fixture
def fuzzed_serving_marketplace(serving_marketplace):
    """Targeted, capped, CPC and text ads on both placements, published once for all examples of a test."""
    market = serving_marketplace
    advertiser = market.advertiser("Fuzzed")
    market.ad(
        market.ad_group(advertiser, countries=["DE"], age_ranges=["25-34"], frequency_cap_impressions=1, frequency_cap_days=1)
    )
    market.ad(market.ad_group(advertiser, placements=[market.feed, market.search]), format="text")
    market.serving_ad("Other", bid_strategy="cpc", bid_micros=400_000)
    market.publish()
    return market


def post_raw(market, data, key):
    """POST as the app does, reporting a server error as a 500 answer instead of raising it."""
    client = Client(raise_request_exception=False)
    return client.post("/serve/v1/decision", data=data, content_type="application/json", headers={"x-placement-key": key})


def assert_answered(response):
    assert response.status_code in (200, 204, 400, 401), response.content[:300]
    if response.status_code == 400:
        assert response.json()["error"]["code"] in ("validation_error", "malformed_request")
    if response.status_code == 200:
        ads = response.json()["ads"]
        assert 1 <= len(ads) <= 5
        assert all(set(ad) == AD_FIELDS for ad in ads)


@FUZZ_SETTINGS
@given(body=REQUESTS)
def test_any_request_object_is_answered_never_with_a_server_error(fuzzed_serving_marketplace, body):
    market = fuzzed_serving_marketplace

    response = post_raw(market, json.dumps(body), market.feed_key)

    assert_answered(response)


@FUZZ_SETTINGS
@given(body=JSON_VALUES, key=st.sampled_from(["feed", "search", "none"]))
def test_any_json_value_is_answered_never_with_a_server_error(fuzzed_serving_marketplace, body, key):
    market = fuzzed_serving_marketplace
    header = {"feed": market.feed_key, "search": market.search_key, "none": ""}[key]

    response = post_raw(market, json.dumps(body), header)

    assert_answered(response)


@FUZZ_SETTINGS
@given(raw=st.binary(max_size=300), key=st.sampled_from(["feed", "search", "none", "junk"]))
def test_any_bytes_with_any_key_are_answered_never_with_a_server_error(fuzzed_serving_marketplace, raw, key):
    market = fuzzed_serving_marketplace
    header = {"feed": market.feed_key, "search": market.search_key, "none": "", "junk": "plk_junk"}[key]

    response = post_raw(market, raw, header)

    assert_answered(response)
