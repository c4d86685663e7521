"""/api/v1/campaigns/, /ad-groups/, /ads/, /ads/{id}/review, /placements/ and /interests/ end to end.

Every endpoint is tried by an anonymous caller, another tenant, an analyst, a token without the
scope and the owner; every refusal also checks that nothing changed in the database.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import IdempotencyKey, Role
from adplatform import clock
from adplatform.redis_client import get_redis
from campaigns.models import Ad, AdGroup, Campaign, Interest, Placement
from delivery import charging, pacing
from tests.delivery.test_pace_service import save_state
from tests.delivery.test_status_spend import season
from tests.factories import (
    AdFactory,
    AdGroupFactory,
    AgencyMembershipFactory,
    CampaignFactory,
    MembershipFactory,
    PlacementFactory,
    UserFactory,
    fund,
)

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/api/v1/campaigns/"
AD_GROUPS = "/api/v1/ad-groups/"
ADS = "/api/v1/ads/"
PLACEMENTS = "/api/v1/placements/"
INTERESTS = "/api/v1/interests/"
READ_SCOPES_MESSAGE = "This token lacks the scope this operation needs: campaigns:read or reports:read."
WRITE_SCOPE_MESSAGE = "This token lacks the scope this operation needs: campaigns:write."
REVIEW_SCOPE_MESSAGE = "This token lacks the scope this operation needs: review."
OPERATOR_NEEDED = "This needs the operator role on Bakery."
DATETIME_FORMAT_ERROR = (
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)
AD_GROUP_INPUTS = [
    "name",
    "placements",
    "targeting",
    "start_time",
    "end_time",
    "budget_mode",
    "budget",
    "pacing",
    "bid_strategy",
    "bid",
    "status",
]


def error(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def invalid(fields: dict[str, list[str]]) -> dict:
    """The 400 body for `fields`; the message names the first field, as the API does."""
    (field, messages), *_ = fields.items()
    message = messages[0] if field == "non_field_errors" else f"Invalid input: {field}: {messages[0]}"
    return error("validation_error", message, fields)


NOT_FOUND = error("not_found", "Not found.")
NOT_AUTHENTICATED = error("not_authenticated", "Authentication credentials were not provided.")


def iso(moment: datetime) -> str:
    """How DRF renders an aware UTC datetime."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def delivery(code: str, label: str) -> dict:
    return {"code": code, "label": label, "delivering": code in ("delivering", "learning")}


DELIVERING = delivery("delivering", "Delivering")
LEARNING = delivery("learning", "Learning")  # serving, before its ads have shown enough (delivery.status)
IN_REVIEW = delivery("in_review", "In review")


def db_state() -> dict[str, list]:
    """Every row a refused campaigns request could have touched, for before/after comparisons."""
    return {
        "campaigns": list(Campaign.objects.order_by("pk").values_list()),
        "ad_groups": list(AdGroup.objects.order_by("pk").values_list()),
        "ad_group_placements": list(AdGroup.placements.through.objects.order_by("pk").values_list()),
        "ad_group_interests": list(AdGroup.interests.through.objects.order_by("pk").values_list()),
        "ads": list(Ad.objects.order_by("pk").values_list()),
        "history": [list(model.history.order_by("pk").values_list("history_id", flat=True)) for model in (Campaign, AdGroup, Ad)],
        "idempotency_keys": list(IdempotencyKey.objects.order_by("pk").values_list()),
    }


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def now() -> Iterator[datetime]:
    """The clock stopped at a whole second (recent, so tokens made now are still valid)."""
    moment = datetime.now(UTC).replace(microsecond=0)
    with clock.frozen(moment):
        yield moment


@pytest.fixture
def feed(db: None) -> Placement:
    """The in-feed placement: images and videos, floor 2.00 USD CPM (1.84 EUR at 0.92 EUR per USD)."""
    return PlacementFactory(key="feed", name="In-feed", allowed_formats=["image", "video"], floor_cpm_usd_micros=2_000_000)


@pytest.fixture
def search(db: None) -> Placement:
    return PlacementFactory(key="search", name="Search results", allowed_formats=["text", "image"], floor_cpm_usd_micros=0)


@dataclass
class Items:
    """The bakery's campaign -> ad group -> ad, built directly (approved, past learning: delivering)."""

    campaign: Campaign
    ad_group: AdGroup
    ad: Ad

    def format(self, template: str) -> str:
        return template.format(campaign=self.campaign.pk, ad_group=self.ad_group.pk, ad=self.ad.pk)


@pytest.fixture
def items(tenancy, feed) -> Items:
    fund(actor=tenancy.owner, advertiser=tenancy.bakery)
    campaign = CampaignFactory(advertiser=tenancy.bakery, name="Bread", objective="traffic")
    ad_group = AdGroupFactory(campaign=campaign, name="Mornings", placements=[feed])
    ad = AdFactory(ad_group=ad_group)
    season(ad)
    return Items(campaign, ad_group, ad)


@pytest.fixture
def reviewer(db: None):
    return UserFactory(email="reviewer@example.com", is_staff=True)


def campaign_payload(advertiser_id: int, **changes: Any) -> dict:
    return {
        "advertiser": advertiser_id,
        "name": "Spring bread",
        "objective": "traffic",
        "budget_mode": "daily",
        "budget": "50.00",
    } | changes


def ad_group_payload(campaign_id: int, **changes: Any) -> dict:
    return {
        "campaign": campaign_id,
        "name": "Berlin mornings",
        "placements": ["feed"],
        "budget_mode": "daily",
        "budget": "20.00",
        "bid_strategy": "cpm",
        "bid": "2.50",
    } | changes


def ad_payload(ad_group_id: int, **changes: Any) -> dict:
    return {
        "ad_group": ad_group_id,
        "format": "image",
        "display_name": "Corner Bakery",
        "headline": "Fresh bread every morning",
        "body": "Sourdough from 7 am.",
        "media_url": "https://cdn.example.com/bread.jpg",
        "call_to_action": "shop_now",
        "landing_url": "https://bakery.example.com/spring",
    } | changes


# --- the whole journey --------------------------------------------------------------------------


def test_an_advertiser_builds_a_campaign_over_the_api_and_staff_approve_it(tenancy, api_client_for, feed, reviewer, now):
    # given: the bakery (with money to deliver with), its owner with a read and write token, and a staff reviewer
    fund(actor=tenancy.owner, advertiser=tenancy.bakery)
    owner = api_client_for(tenancy.owner, scopes=["campaigns:read", "campaigns:write"])
    staff = api_client_for(reviewer, scopes=["review"])
    end = now + timedelta(days=30)

    # when: the owner creates a campaign, an ad group and an ad
    created_campaign = owner.post(CAMPAIGNS, campaign_payload(tenancy.bakery.pk))
    campaign = Campaign.objects.get()
    created_ad_group = owner.post(
        AD_GROUPS,
        ad_group_payload(
            campaign.pk,
            targeting={
                "countries": ["de", "AT"],
                "age_ranges": ["25-34", "18-24"],
                "genders": ["female"],
                "languages": ["DE"],
                "interests": ["coffee", "baking"],
                "device_types": ["mobile"],
                "operating_systems": ["ios", "android"],
                "dayparting": [],
                "frequency_cap": {"impressions": 3, "days": 1},
            },
            end_time=iso(end),
            bid_strategy="cpc",
            bid="0.40",
        ),
    )
    ad_group = AdGroup.objects.get()
    created_ad = owner.post(ADS, ad_payload(ad_group.pk))
    ad = Ad.objects.get()
    in_review = owner.get(f"{CAMPAIGNS}{campaign.pk}/")

    # then: each answer shows the item as stored, and the campaign waits for review
    assert created_campaign.status_code == 201
    assert created_campaign["Location"] == f"{CAMPAIGNS}{campaign.pk}/"
    assert created_campaign.json() == {
        "id": campaign.pk,
        "advertiser": tenancy.bakery.pk,
        "name": "Spring bread",
        "objective": "traffic",
        "budget_mode": "daily",
        "budget": "50.00",
        "currency": "EUR",
        "status": "active",
        "delivery_status": delivery("no_ad_groups", "No ad groups"),
        "today": None,
        "created_at": iso(now),
        "updated_at": iso(now),
    }
    assert (campaign.advertiser_id, campaign.budget_micros, campaign.status) == (tenancy.bakery.pk, 50_000_000, "active")

    assert created_ad_group.status_code == 201
    assert created_ad_group["Location"] == f"{AD_GROUPS}{ad_group.pk}/"
    assert created_ad_group.json() == {
        "id": ad_group.pk,
        "advertiser": tenancy.bakery.pk,
        "campaign": campaign.pk,
        "name": "Berlin mornings",
        "placements": ["feed"],
        "targeting": {
            "countries": ["AT", "DE"],
            "age_ranges": ["18-24", "25-34"],
            "genders": ["female"],
            "languages": ["de"],
            "interests": ["baking", "coffee"],
            "device_types": ["mobile"],
            "operating_systems": ["android", "ios"],
            "dayparting": [],
            "frequency_cap": {"impressions": 3, "days": 1},
        },
        "start_time": iso(now),
        "end_time": iso(end),
        "budget_mode": "daily",
        "budget": "20.00",
        "pacing": "standard",
        "bid_strategy": "cpc",
        "bid": "0.40",
        "currency": "EUR",
        "status": "active",
        "delivery_status": delivery("no_ads", "No ads"),
        "today": None,
        "created_at": iso(now),
        "updated_at": iso(now),
    }
    assert (ad_group.budget_micros, ad_group.bid_micros) == (20_000_000, 400_000)
    assert (ad_group.frequency_cap_impressions, ad_group.frequency_cap_days) == (3, 1)
    assert sorted(ad_group.interests.values_list("key", flat=True)) == ["baking", "coffee"]

    assert created_ad.status_code == 201
    assert created_ad["Location"] == f"{ADS}{ad.pk}/"
    assert created_ad.json() == {
        "id": ad.pk,
        "advertiser": tenancy.bakery.pk,
        "campaign": campaign.pk,
        "ad_group": ad_group.pk,
        "format": "image",
        "display_name": "Corner Bakery",
        "headline": "Fresh bread every morning",
        "body": "Sourdough from 7 am.",
        "media_url": "https://cdn.example.com/bread.jpg",
        "video_duration_seconds": None,
        "call_to_action": "shop_now",
        "landing_url": "https://bakery.example.com/spring",
        "status": "active",
        "review_status": "pending",
        "review_reason": "",
        "reviewed_at": None,
        "delivery_status": IN_REVIEW,
        "created_at": iso(now),
        "updated_at": iso(now),
    }
    assert in_review.json()["delivery_status"] == IN_REVIEW

    # when: staff approve the ad
    approved = staff.post(f"{ADS}{ad.pk}/review", {"decision": "approve"})

    # then: the ad and the whole campaign deliver, learning first (a new ad has shown nothing yet)
    assert approved.status_code == 200
    assert (
        approved.json() | {"review_status": "approved", "reviewed_at": iso(now), "delivery_status": LEARNING} == approved.json()
    )
    ad.refresh_from_db()
    assert (ad.review_status, ad.reviewed_by_id, ad.reviewed_at) == ("approved", reviewer.pk, now)
    assert owner.get(f"{CAMPAIGNS}{campaign.pk}/").json()["delivery_status"] == LEARNING
    assert owner.get(f"{AD_GROUPS}{ad_group.pk}/").json()["delivery_status"] == LEARNING
    assert owner.get(f"{ADS}{ad.pk}/").json()["delivery_status"] == LEARNING


# --- who may do what, on every endpoint ------------------------------------------------------------

# (method, path template, body template); body values "{campaign}" etc. are filled in with the items' ids.
ITEM_READS = [
    ("GET", "/api/v1/campaigns/{campaign}/", None),
    ("GET", "/api/v1/campaigns/{campaign}/history/", None),
    ("GET", "/api/v1/ad-groups/{ad_group}/", None),
    ("GET", "/api/v1/ad-groups/{ad_group}/history/", None),
    ("GET", "/api/v1/ads/{ad}/", None),
    ("GET", "/api/v1/ads/{ad}/history/", None),
]
ITEM_WRITES = [
    ("PATCH", "/api/v1/campaigns/{campaign}/", {"status": "paused"}),
    ("POST", "/api/v1/campaigns/{campaign}/duplicate/", {}),
    ("PATCH", "/api/v1/ad-groups/{ad_group}/", {"name": "Evenings"}),
    ("PATCH", "/api/v1/ads/{ad}/", {"headline": "Warm bread"}),
]
COLLECTION_WRITES = [
    ("POST", CAMPAIGNS, campaign_payload("{advertiser}")),
    ("POST", AD_GROUPS, ad_group_payload("{campaign}")),
    ("POST", ADS, ad_payload("{ad_group}")),
    ("POST", "/api/v1/campaigns/bulk-status/", {"ids": ["{campaign}"], "status": "paused"}),
    ("POST", "/api/v1/ad-groups/bulk-status/", {"ids": ["{ad_group}"], "status": "paused"}),
    ("POST", "/api/v1/ads/bulk-status/", {"ids": ["{ad}"], "status": "paused"}),
]
LISTS = [CAMPAIGNS, AD_GROUPS, ADS, PLACEMENTS, INTERESTS]
WRITES = ITEM_WRITES + COLLECTION_WRITES
EVERYTHING = [("GET", path, None) for path in LISTS] + ITEM_READS + WRITES + [("POST", "/api/v1/ads/{ad}/review", {})]


def fill(value: Any, items: Items) -> Any:
    """A body template with the items' ids put in."""
    names = {
        "{advertiser}": items.campaign.advertiser_id,
        "{campaign}": items.campaign.pk,
        "{ad_group}": items.ad_group.pk,
        "{ad}": items.ad.pk,
    }
    if isinstance(value, dict):
        return {key: fill(inner, items) for key, inner in value.items()}
    if isinstance(value, list):
        return [fill(inner, items) for inner in value]
    return names.get(value, value) if isinstance(value, str) else value


def call(client: APIClient, method: str, path: str, body: Any, items: Items):
    url = items.format(path)
    if method == "GET":
        return client.get(url)
    return getattr(client, method.lower())(url, fill(body, items), format="json")


def operation_id(operation: tuple) -> str:
    return f"{operation[0]} {operation[1]}"


@pytest.mark.parametrize("operation", EVERYTHING, ids=operation_id)
def test_anonymous_callers_get_401_everywhere(items, operation):
    before = db_state()

    response = call(APIClient(), *operation, items)

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED
    assert db_state() == before


@pytest.mark.parametrize("operation", ITEM_READS + ITEM_WRITES, ids=operation_id)
@pytest.mark.parametrize("who", ["agent_b", "stranger"])
def test_another_tenants_items_are_404(tenancy, api_client_for, items, operation, who):
    before = db_state()

    response = call(api_client_for(getattr(tenancy, who)), *operation, items)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert db_state() == before


@pytest.mark.parametrize(
    ("operation", "fields"),
    [
        (COLLECTION_WRITES[0], {"advertiser": ["No such advertiser."]}),
        (COLLECTION_WRITES[1], {"campaign": ["No such campaign."]}),
        (COLLECTION_WRITES[2], {"ad_group": ["No such ad group."]}),
        (COLLECTION_WRITES[3], {"ids": ["Not found: {campaign}."]}),
        (COLLECTION_WRITES[4], {"ids": ["Not found: {ad_group}."]}),
        (COLLECTION_WRITES[5], {"ids": ["Not found: {ad}."]}),
    ],
    ids=lambda value: operation_id(value) if isinstance(value, tuple) else "",
)
def test_another_tenant_cannot_create_in_or_change_someone_elses_items(tenancy, api_client_for, items, operation, fields):
    before = db_state()

    response = call(api_client_for(tenancy.agent_b), *operation, items)

    assert response.status_code == 400
    expected = {field: [items.format(message) for message in messages] for field, messages in fields.items()}
    assert response.json() == invalid(expected)
    assert db_state() == before


@pytest.mark.parametrize("operation", ITEM_READS, ids=operation_id)
def test_an_analyst_reads_every_item(tenancy, api_client_for, items, operation):
    response = call(api_client_for(tenancy.analyst), *operation, items)

    assert response.status_code == 200


@pytest.mark.parametrize("operation", WRITES, ids=operation_id)
def test_an_analyst_cannot_write(tenancy, api_client_for, items, operation):
    before = db_state()

    response = call(api_client_for(tenancy.analyst), *operation, items)

    assert response.status_code == 403
    assert response.json() == error("permission_denied", OPERATOR_NEEDED)
    assert db_state() == before


@pytest.mark.parametrize("operation", [("GET", path, None) for path in LISTS] + ITEM_READS, ids=operation_id)
def test_reads_need_campaigns_read_or_reports_read(tenancy, api_client_for, items, operation):
    without = call(api_client_for(tenancy.owner, scopes=["campaigns:write", "billing:read"]), *operation, items)
    with_reports = call(api_client_for(tenancy.owner, scopes=["reports:read"]), *operation, items)

    assert without.status_code == 403
    assert without.json() == error("insufficient_scope", READ_SCOPES_MESSAGE)
    assert with_reports.status_code == 200


@pytest.mark.parametrize("operation", WRITES, ids=operation_id)
def test_writes_need_campaigns_write(tenancy, api_client_for, items, operation):
    before = db_state()

    response = call(api_client_for(tenancy.owner, scopes=["campaigns:read", "reports:read", "billing:write"]), *operation, items)

    assert response.status_code == 403
    assert response.json() == error("insufficient_scope", WRITE_SCOPE_MESSAGE)
    assert db_state() == before


@pytest.mark.parametrize(
    ("operation", "status_code"),
    [(operation, 200) for operation in ITEM_READS]
    + [(operation, 201 if operation[0] == "POST" else 200) for operation in ITEM_WRITES]
    + [(operation, 200 if "bulk-status" in operation[1] else 201) for operation in COLLECTION_WRITES],
    ids=lambda value: operation_id(value) if isinstance(value, tuple) else str(value),
)
@pytest.mark.parametrize("who", ["owner", "operator", "agent"])
def test_the_owner_an_operator_and_an_agency_succeed(tenancy, api_client_for, feed, operation, status_code, who):
    if who == "agent":
        advertiser, user = tenancy.client_a1, tenancy.agent_a
    else:
        advertiser = tenancy.bakery
        user = tenancy.owner if who == "owner" else MembershipFactory(advertiser=advertiser, role=Role.OPERATOR).user
    campaign = CampaignFactory(advertiser=advertiser, name="Bread")
    ad_group = AdGroupFactory(campaign=campaign, placements=[feed])
    own = Items(campaign, ad_group, AdFactory(ad_group=ad_group))

    response = call(api_client_for(user), *operation, own)

    assert response.status_code == status_code


# --- lists: tenancy, filters, ordering, paging, queries -----------------------------------------------


def test_lists_show_exactly_the_callers_items(tenancy, api_client_for, feed):
    # given: items of the bakery, of agency A's two clients and of agency B's client
    made = {}
    for name, advertiser in [("bakery", "bakery"), ("a1", "client_a1"), ("a2", "client_a2"), ("b1", "client_b1")]:
        campaign = CampaignFactory(advertiser=getattr(tenancy, advertiser), name=name)
        ad_group = AdGroupFactory(campaign=campaign, placements=[feed])
        made[name] = Items(campaign, ad_group, AdFactory(ad_group=ad_group))

    # when / then: each caller sees their own advertisers' items, newest first
    for who, visible in [("agent_a", ["a2", "a1"]), ("owner", ["bakery"]), ("analyst", ["bakery"]), ("stranger", [])]:
        client = api_client_for(getattr(tenancy, who))
        assert ids(client.get(CAMPAIGNS)) == [made[name].campaign.pk for name in visible]
        assert ids(client.get(AD_GROUPS)) == [made[name].ad_group.pk for name in visible]
        assert ids(client.get(ADS)) == [made[name].ad.pk for name in visible]


def test_an_ad_group_shows_todays_pace_once_the_controller_has_paced_it(tenancy, api_client_for, items, now):
    # given the controller's last step, half a minute ago, found half the day's traffic passed on a plan from
    # midnight for the ad group's daily budget of 20.00, and 10.40 is spent
    group = items.ad_group
    today = now.astimezone(ZoneInfo(tenancy.bakery.time_zone)).date().isoformat()
    get_redis().set(charging.ad_group_day_key(tenancy.bakery.pk, group.pk, today), 10_400_000)
    state = pacing.State(today, 1.0, 10_400_000, 0.5, 0.0, 0.0, now.timestamp() - 30, plan_budget=20_000_000)
    save_state(f"ag:{group.pk}", state)
    client = api_client_for(tenancy.owner)

    body = client.get(f"{AD_GROUPS}{group.pk}/").json()

    # then it shows it, money as decimal strings like its budget; its campaign's budget was not paced today: null
    assert body["today"] == {
        "code": "on_pace",
        "label": "On pace",
        "spent": "10.40",
        "budget": "20.00",
        "planned": "10.00",
        "limited_by_budget": False,
    }
    assert client.get(f"{CAMPAIGNS}{items.campaign.pk}/").json()["today"] is None


def test_campaign_list_and_detail_show_the_documented_shape(tenancy, api_client_for, items):
    unlimited = CampaignFactory(advertiser=tenancy.bakery, name="Always on", budget_mode="unlimited", budget_micros=0)
    client = api_client_for(tenancy.owner)

    listing = client.get(CAMPAIGNS)
    detail = client.get(f"{CAMPAIGNS}{items.campaign.pk}/")

    bread = Campaign.objects.get(pk=items.campaign.pk)
    expected_bread = {
        "id": bread.pk,
        "advertiser": tenancy.bakery.pk,
        "name": "Bread",
        "objective": "traffic",
        "budget_mode": "daily",
        "budget": "50.00",
        "currency": "EUR",
        "status": "active",
        "delivery_status": DELIVERING,
        "today": None,
        "created_at": iso(bread.created_at),
        "updated_at": iso(bread.updated_at),
    }
    assert listing.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": unlimited.pk,
                "advertiser": tenancy.bakery.pk,
                "name": "Always on",
                "objective": "traffic",
                "budget_mode": "unlimited",
                "budget": None,
                "currency": "EUR",
                "status": "active",
                "delivery_status": delivery("no_ad_groups", "No ad groups"),
                "today": None,
                "created_at": iso(unlimited.created_at),
                "updated_at": iso(unlimited.updated_at),
            },
            expected_bread,
        ],
    }
    assert detail.json() == expected_bread


def test_ad_group_detail_shows_targeting_schedule_and_money_in_the_advertisers_currency(tenancy, api_client_for, feed, search):
    # given: a USD advertiser's ad group with dayparting, a lifetime budget and no frequency cap
    start = datetime(2030, 1, 1, 8, tzinfo=UTC)
    campaign = CampaignFactory(advertiser=tenancy.client_a2, budget_mode="unlimited", budget_micros=0)
    ad_group = AdGroupFactory(
        campaign=campaign,
        name="Weekday lunch",
        placements=[search, feed],
        countries=["US"],
        dayparting=[24, 25],
        start_time=start,
        end_time=start + timedelta(days=10),
        budget_mode="lifetime",
        budget_micros=123_450_000,
        bid_micros=1_234_567,
        pacing="accelerated",
    )

    response = api_client_for(tenancy.agent_a).get(f"{AD_GROUPS}{ad_group.pk}/")

    assert response.status_code == 200
    assert response.json() == {
        "id": ad_group.pk,
        "advertiser": tenancy.client_a2.pk,
        "campaign": campaign.pk,
        "name": "Weekday lunch",
        "placements": ["feed", "search"],
        "targeting": {
            "countries": ["US"],
            "age_ranges": [],
            "genders": [],
            "languages": [],
            "interests": [],
            "device_types": [],
            "operating_systems": [],
            "dayparting": [24, 25],
            "frequency_cap": None,
        },
        "start_time": "2030-01-01T08:00:00Z",
        "end_time": "2030-01-11T08:00:00Z",
        "budget_mode": "lifetime",
        "budget": "123.45",
        "pacing": "accelerated",
        "bid_strategy": "cpm",
        "bid": "1.234567",
        "currency": "USD",
        "status": "active",
        "delivery_status": delivery("no_ads", "No ads"),
        "today": None,
        "created_at": iso(ad_group.created_at),
        "updated_at": iso(ad_group.updated_at),
    }


def test_ad_detail_shows_review_state(tenancy, api_client_for, items, now):
    AdFactory(ad_group=items.ad_group)  # another ad, so the rejected one is not the group's only one
    items.ad.review_status, items.ad.review_reason, items.ad.reviewed_at = "rejected", "Blurry photo.", now
    items.ad.save()

    response = api_client_for(tenancy.owner).get(f"{ADS}{items.ad.pk}/")

    assert (
        response.json()
        | {
            "review_status": "rejected",
            "review_reason": "Blurry photo.",
            "reviewed_at": iso(now),
            "delivery_status": delivery("rejected", "Rejected"),
            "advertiser": tenancy.bakery.pk,
            "campaign": items.campaign.pk,
            "ad_group": items.ad_group.pk,
        }
        == response.json()
    )


@pytest.fixture
def spread(tenancy, feed) -> dict[str, Items]:
    """Items changed at three different moments, in two campaigns and two advertisers of agency A."""
    made = {}
    for index, (name, advertiser, objective, status) in enumerate(
        [
            ("first", tenancy.client_a1, "traffic", "active"),
            ("second", tenancy.client_a1, "reach", "paused"),
            ("third", tenancy.client_a2, "traffic", "active"),
        ]
    ):
        with clock.frozen(datetime(2025, 3, 1 + index, 12, tzinfo=UTC)):
            campaign = CampaignFactory(advertiser=advertiser, name=name, objective=objective, status=status)
            ad_group = AdGroupFactory(campaign=campaign, name=name, status=status, placements=[feed])
            ad = AdFactory(ad_group=ad_group, headline=name, status=status, review_status="pending" if index else "approved")
        made[name] = Items(campaign, ad_group, ad)
    return made


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["third", "second", "first"]),
        ("?advertiser={client_a1}", ["second", "first"]),
        ("?advertiser={client_b1}", []),
        ("?status=paused", ["second"]),
        ("?objective=reach", ["second"]),
        ("?status=active&advertiser={client_a2}", ["third"]),
        ("?updated_since=2025-03-02T12:00:00Z", ["third", "second"]),
        ("?updated_since=2025-03-02T13:00:00%2B02:00", ["third", "second"]),
        ("?updated_since=2025-03-02T00:00:00-16:44", ["third"]),
        ("?updated_since=2025-03-03T12:00:01Z", []),
        ("?ordering=name", ["first", "second", "third"]),
        ("?ordering=-updated_at", ["third", "second", "first"]),
        ("?ordering=id", ["first", "second", "third"]),
    ],
)
def test_campaign_filters_and_ordering(tenancy, api_client_for, spread, query, expected):
    url = CAMPAIGNS + query.format(client_a1=tenancy.client_a1.pk, client_a2=tenancy.client_a2.pk, client_b1=tenancy.client_b1.pk)

    response = api_client_for(tenancy.agent_a).get(url)

    assert response.status_code == 200
    assert ids(response) == [spread[name].campaign.pk for name in expected]
    assert response.json()["count"] == len(expected)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?advertiser={client_a2}", ["third"]),
        ("?campaign={second}", ["second"]),
        ("?status=active", ["third", "first"]),
        ("?updated_since=2025-03-03T00:00:00Z", ["third"]),
        ("?ordering=name", ["first", "second", "third"]),
    ],
)
def test_ad_group_filters(tenancy, api_client_for, spread, query, expected):
    url = AD_GROUPS + query.format(client_a2=tenancy.client_a2.pk, second=spread["second"].campaign.pk)

    response = api_client_for(tenancy.agent_a).get(url)

    assert response.status_code == 200
    assert ids(response) == [spread[name].ad_group.pk for name in expected]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?advertiser={client_a1}", ["second", "first"]),
        ("?campaign={third_campaign}", ["third"]),
        ("?ad_group={first_ad_group}", ["first"]),
        ("?status=paused", ["second"]),
        ("?review_status=pending", ["third", "second"]),
        ("?review_status=approved", ["first"]),
        ("?updated_since=2025-03-02T12:00:00Z&review_status=pending", ["third", "second"]),
        ("?ordering=headline", ["first", "second", "third"]),
    ],
)
def test_ad_filters(tenancy, api_client_for, spread, query, expected):
    url = ADS + query.format(
        client_a1=tenancy.client_a1.pk,
        third_campaign=spread["third"].campaign.pk,
        first_ad_group=spread["first"].ad_group.pk,
    )

    response = api_client_for(tenancy.agent_a).get(url)

    assert response.status_code == 200
    assert ids(response) == [spread[name].ad.pk for name in expected]


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        (f"{CAMPAIGNS}?updated_since=yesterday", {"updated_since": ["Enter a valid date/time."]}),
        (f"{CAMPAIGNS}?status=deleted", {"status": ["Select a valid choice. deleted is not one of the available choices."]}),
        (f"{CAMPAIGNS}?advertiser=1.5", {"advertiser": ["Enter a whole number."]}),
        (f"{AD_GROUPS}?campaign=abc", {"campaign": ["Enter a whole number."]}),
        (f"{ADS}?review_status=maybe", {"review_status": ["Select a valid choice. maybe is not one of the available choices."]}),
        (f"{CAMPAIGNS}?page=9", {"page": ["Invalid page."]}),
        # Python parses offsets up to ±23:59, PostgreSQL refuses those beyond ±15:59; a year past 9999 in UTC overflows
        (f"{AD_GROUPS}?updated_since=9999-12-31T23:00:00-16:44", {"updated_since": ["Enter a valid date/time."]}),
    ],
)
def test_an_invalid_filter_is_a_400_naming_it(tenancy, api_client_for, url, fields):
    response = api_client_for(tenancy.owner).get(url)

    assert response.status_code == 400
    assert response.json() == invalid(fields)


def test_filters_never_widen_the_tenancy(tenancy, api_client_for, spread):
    client = api_client_for(tenancy.owner)

    assert ids(client.get(f"{CAMPAIGNS}?advertiser={tenancy.client_a1.pk}")) == []
    assert ids(client.get(f"{AD_GROUPS}?campaign={spread['first'].campaign.pk}")) == []
    assert ids(client.get(f"{ADS}?ad_group={spread['first'].ad_group.pk}")) == []


def test_lists_are_paged(tenancy, api_client_for, spread):
    client = api_client_for(tenancy.agent_a)

    first = client.get(f"{CAMPAIGNS}?page_size=2").json()
    second = client.get(first["next"]).json()

    assert (first["count"], [row["name"] for row in first["results"]]) == (3, ["third", "second"])
    assert first["next"] == "http://testserver/api/v1/campaigns/?page=2&page_size=2"
    assert first["previous"] is None
    assert [row["name"] for row in second["results"]] == ["first"]
    assert (second["next"], second["previous"]) == (None, "http://testserver/api/v1/campaigns/?page_size=2")


def build_tree(advertiser, placement: Placement, campaigns: int) -> None:
    """`campaigns` campaigns, each with two ad groups of two ads."""
    for _ in range(campaigns):
        campaign = CampaignFactory(advertiser=advertiser)
        for _ in range(2):
            ad_group = AdGroupFactory(campaign=campaign, placements=[placement])
            AdFactory.create_batch(2, ad_group=ad_group)


@pytest.mark.parametrize("url", [CAMPAIGNS, AD_GROUPS, ADS])
def test_a_list_page_costs_the_same_queries_for_one_item_or_fifty(tenancy, api_client_for, feed, url):
    client = api_client_for(tenancy.owner)
    build_tree(tenancy.bakery, feed, campaigns=1)
    with CaptureQueriesContext(connection) as few:
        small = client.get(url)
    build_tree(tenancy.bakery, feed, campaigns=24)  # 25 campaigns, 50 ad groups, 100 ads

    with CaptureQueriesContext(connection) as many:
        large = client.get(url)

    assert small.status_code == large.status_code == 200
    assert len(large.json()["results"]) == {CAMPAIGNS: 25, AD_GROUPS: 50, ADS: 50}[url]
    assert len(many.captured_queries) == len(few.captured_queries)


# --- campaigns: create and change ------------------------------------------------------------------


def test_create_with_an_unlimited_budget_omits_it(tenancy, api_client_for):
    payload = {"advertiser": tenancy.bakery.pk, "name": "  Always on ", "objective": "reach", "status": "paused"}

    response = api_client_for(tenancy.owner).post(CAMPAIGNS, payload)

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["budget_mode"], body["budget"], body["status"]) == ("Always on", "unlimited", None, "paused")
    assert body["delivery_status"] == delivery("paused", "Paused")
    campaign = Campaign.objects.get()
    assert (campaign.name, campaign.budget_mode, campaign.budget_micros) == ("Always on", "unlimited", 0)


def test_an_agency_creates_a_campaign_for_a_client_in_its_currency(tenancy, api_client_for):
    response = api_client_for(tenancy.agent_a).post(CAMPAIGNS, campaign_payload(tenancy.client_a2.pk, budget="1.5"))

    assert response.status_code == 201
    assert (response.json()["budget"], response.json()["currency"]) == ("1.50", "USD")
    assert Campaign.objects.get().advertiser_id == tenancy.client_a2.pk


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"budget": "0.99"}, {"budget": ["The smallest daily budget is 1.00 EUR."]}),
        ({"budget": "0"}, {"budget": ["Enter a budget above zero."]}),
        ({"budget": None}, {"budget": ["Enter a budget above zero."]}),
        ({"budget": "12.5.0"}, {"budget": ["Enter a decimal amount such as 12.50."]}),
        ({"budget": "0.0000001"}, {"budget": ["Use at most 6 decimal places."]}),
        ({"budget_mode": "unlimited"}, {"budget": ["An unlimited budget has no amount; choose daily or lifetime to set one."]}),
        ({"objective": "fame"}, {"objective": ['"fame" is not a valid choice.']}),
        ({"name": "   "}, {"name": ["This field may not be blank."]}),
        ({"name": "x" * 201}, {"name": ["Ensure this field has no more than 200 characters."]}),
        ({"advertiser": "first"}, {"advertiser": ["A valid integer is required."]}),
        ({"advertiser": 999_999_999}, {"advertiser": ["No such advertiser."]}),
        ({"colour": "red"}, {"colour": ["Unknown field."]}),
        ({"currency": "USD"}, {"currency": ["Unknown field."]}),
    ],
)
def test_create_campaign_with_invalid_input_is_a_400_naming_the_field(tenancy, api_client_for, changes, fields):
    before = db_state()

    response = api_client_for(tenancy.owner).post(CAMPAIGNS, campaign_payload(tenancy.bakery.pk, **changes))

    assert response.status_code == 400
    assert response.json() == invalid(fields)
    assert db_state() == before


def test_pause_resume_and_archive_are_patches_of_status(tenancy, api_client_for, items):
    client = api_client_for(tenancy.owner)
    url = f"{CAMPAIGNS}{items.campaign.pk}/"

    paused = client.patch(url, {"status": "paused"})
    resumed = client.patch(url, {"status": "active"})
    archived = client.patch(url, {"status": "archived"})
    refused = client.patch(url, {"status": "active"})

    assert (paused.status_code, paused.json()["delivery_status"]) == (200, delivery("paused", "Paused"))
    assert (resumed.status_code, resumed.json()["delivery_status"]) == (200, DELIVERING)
    assert (archived.status_code, archived.json()["delivery_status"]) == (200, delivery("archived", "Archived"))
    assert refused.status_code == 400
    assert refused.json() == invalid({"status": ["Archived items cannot be changed."]})
    assert Campaign.objects.get(pk=items.campaign.pk).status == "archived"


def test_patch_changes_budget_and_name(tenancy, api_client_for, items, now):
    response = api_client_for(tenancy.owner).patch(f"{CAMPAIGNS}{items.campaign.pk}/", {"name": "Rye", "budget": "80"})

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["budget"], response.json()["updated_at"]) == ("Rye", "80.00", iso(now))
    campaign = Campaign.objects.get(pk=items.campaign.pk)
    assert (campaign.name, campaign.budget_micros, campaign.updated_at) == ("Rye", 80_000_000, now)


def test_an_objective_that_does_not_fit_the_ad_groups_bids_is_refused(tenancy, api_client_for, items):
    AdGroup.objects.filter(pk=items.ad_group.pk).update(bid_strategy="cpc")
    before = db_state()

    response = api_client_for(tenancy.owner).patch(f"{CAMPAIGNS}{items.campaign.pk}/", {"objective": "reach"})

    assert response.status_code == 400
    assert response.json() == invalid({"objective": ["Ad groups bid cpc, which does not fit this objective."]})
    assert db_state() == before


def test_patch_to_unlimited_drops_the_amount(tenancy, api_client_for, items):
    response = api_client_for(tenancy.owner).patch(f"{CAMPAIGNS}{items.campaign.pk}/", {"budget_mode": "unlimited"})

    assert (response.status_code, response.json()["budget"]) == (200, None)
    assert Campaign.objects.get(pk=items.campaign.pk).budget_micros == 0


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"budget": "0.10"}, {"budget": ["The smallest daily budget is 1.00 EUR."]}),
        ({"budget_mode": "lifetime"}, {"budget_mode": ["A lifetime budget needs an end time: 1 ad group(s) have none."]}),
        ({"advertiser": 1}, {"advertiser": ["This field cannot be changed."]}),
        ({"currency": "USD"}, {"currency": ["This field cannot be changed."]}),
        ({"delivery_status": {}}, {"delivery_status": ["This field cannot be changed."]}),
        ({"status": "deleted"}, {"status": ['"deleted" is not a valid choice.']}),
        ({"name": None}, {"name": ["This field may not be null."]}),
        ({"colour": "red"}, {"colour": ["Unknown field."]}),
        ({}, {"non_field_errors": ["Send at least one of: name, objective, budget_mode, budget, status."]}),
    ],
)
def test_patch_campaign_with_invalid_input_is_a_400_and_changes_nothing(tenancy, api_client_for, items, payload, fields):
    before = db_state()

    response = api_client_for(tenancy.owner).patch(f"{CAMPAIGNS}{items.campaign.pk}/", payload)

    assert response.status_code == 400
    assert response.json() == invalid(fields)
    assert db_state() == before


@pytest.mark.parametrize("path", [CAMPAIGNS + "{campaign}/", AD_GROUPS + "{ad_group}/", ADS + "{ad}/"])
@pytest.mark.parametrize("method", ["put", "delete"])
def test_put_and_delete_are_not_allowed(tenancy, api_client_for, items, path, method):
    before = db_state()

    response = getattr(api_client_for(tenancy.owner), method)(items.format(path), {"name": "x"})

    assert response.status_code == 405
    assert response.json() == error("method_not_allowed", f'Method "{method.upper()}" not allowed.')
    assert db_state() == before


def test_a_missing_or_non_numeric_id_is_a_404(tenancy, api_client_for):
    client = api_client_for(tenancy.owner)

    assert client.get(f"{CAMPAIGNS}999999999/").json() == NOT_FOUND
    assert client.get(f"{AD_GROUPS}abc/").json() == NOT_FOUND
    assert client.get(f"{ADS}999999999/history/").json() == NOT_FOUND


# --- ad groups: create and change --------------------------------------------------------------------


@pytest.fixture
def campaign(tenancy) -> Campaign:
    return CampaignFactory(advertiser=tenancy.bakery, name="Bread", objective="traffic")


def test_create_ad_group_with_defaults(tenancy, api_client_for, campaign, feed, now):
    payload = {"campaign": campaign.pk, "name": "Everyone", "placements": ["feed"], "budget": "5", "bid": "1.84"}

    response = api_client_for(tenancy.owner).post(AD_GROUPS, payload)

    assert response.status_code == 201
    body = response.json()
    assert body["targeting"] == {
        "countries": [],
        "age_ranges": [],
        "genders": [],
        "languages": [],
        "interests": [],
        "device_types": [],
        "operating_systems": [],
        "dayparting": [],
        "frequency_cap": None,
    }
    assert (body["start_time"], body["end_time"], body["budget_mode"], body["budget"]) == (iso(now), None, "daily", "5.00")
    assert (body["pacing"], body["bid_strategy"], body["bid"], body["status"]) == ("standard", "cpm", "1.84", "active")
    ad_group = AdGroup.objects.get()
    assert (ad_group.bid_micros, ad_group.budget_micros, ad_group.start_time) == (1_840_000, 5_000_000, now)


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"budget": "0.50"}, {"budget": ["The smallest daily budget is 1.00 EUR."]}),
        ({"budget_mode": "lifetime", "budget": "100"}, {"end_time": ["A lifetime budget needs an end time."]}),
        (
            {"budget_mode": "lifetime", "budget": "5", "end_time": "2099-01-01T00:00:00Z", "start_time": "2098-12-22T00:00:00Z"},
            {"budget": ["A lifetime budget over 10 days must be at least 10.00 EUR (1.00 EUR a day)."]},
        ),
        (
            {"start_time": "2099-01-02T00:00:00Z", "end_time": "2099-01-01T00:00:00Z"},
            {"end_time": ["The end must be after the start."]},
        ),
        ({"start_time": "0001-01-01T00:00:00Z"}, {"start_time": ["Choose a time from 2000 to 2099."]}),
        ({"end_time": "9999-12-31T23:59:00Z"}, {"end_time": ["Choose a time from 2000 to 2099."]}),
        ({"bid": "1.83"}, {"bid": ["The CPM bid must be at least 1.84 EUR, the floor of In-feed."]}),
        ({"bid": "0"}, {"bid": ["Enter a bid above zero."]}),
        ({"bid": "cheap"}, {"bid": ["Enter a decimal amount such as 12.50."]}),
        ({"bid_strategy": "bribe"}, {"bid_strategy": ['"bribe" is not a valid choice.']}),
        ({"placements": ["feed", "moon"]}, {"placements": ["Unknown placement: moon."]}),
        ({"placements": []}, {"placements": ["Choose at least one placement."]}),
        ({"targeting": {"countries": ["DE", "xx"]}}, {"targeting.countries": ["Unknown country: XX."]}),
        ({"targeting": {"languages": ["de", "klingon"]}}, {"targeting.languages": ["Unknown language: klingon."]}),
        ({"targeting": {"interests": ["baking", "knitting"]}}, {"targeting.interests": ["Unknown interest: knitting."]}),
        ({"targeting": {"age_ranges": ["10-12"]}}, {"targeting.age_ranges": ["Unknown age range: 10-12."]}),
        ({"targeting": {"genders": ["robot"]}}, {"targeting.genders": ["Unknown gender: robot."]}),
        ({"targeting": {"device_types": ["fridge"]}}, {"targeting.device_types": ["Unknown device type: fridge."]}),
        ({"targeting": {"operating_systems": ["beos"]}}, {"targeting.operating_systems": ["Unknown operating system: beos."]}),
        (
            {"targeting": {"dayparting": [0, 336]}},
            {"targeting.dayparting": ["Slots run from 0 (Monday 00:00) to 335 (Sunday 23:30)."]},
        ),
        (
            {"targeting": {"frequency_cap": {"impressions": 0, "days": 1}}},
            {"targeting.frequency_cap": ["Impressions must be between 1 and 1000."]},
        ),
        (
            {"targeting": {"frequency_cap": {"impressions": 3, "days": 31}}},
            {"targeting.frequency_cap": ["Days must be between 1 and 30."]},
        ),
        ({"targeting": {"frequency_cap": {"impressions": 3}}}, {"targeting.frequency_cap.days": ["This field is required."]}),
        ({"targeting": {"colour": ["red"]}}, {"targeting.colour": ["Unknown field."]}),
        ({"targeting": {"countries": "DE"}}, {"targeting.countries": ['Expected a list of items but got type "str".']}),
        ({"campaign": 999_999_999}, {"campaign": ["No such campaign."]}),
        (
            {"start_time": "tomorrow"},
            {"start_time": [DATETIME_FORMAT_ERROR]},
        ),
        ({"countries": ["DE"]}, {"countries": ["Unknown field."]}),
    ],
)
def test_create_ad_group_with_invalid_input_is_a_400_naming_the_field(tenancy, api_client_for, campaign, feed, changes, fields):
    before = db_state()

    response = api_client_for(tenancy.owner).post(AD_GROUPS, ad_group_payload(campaign.pk, **changes))

    assert response.status_code == 400
    assert response.json() == invalid(fields)
    assert db_state() == before


def test_cpc_is_refused_for_the_reach_objective(tenancy, api_client_for, feed):
    reach = CampaignFactory(advertiser=tenancy.bakery, objective="reach")
    before = db_state()

    response = api_client_for(tenancy.owner).post(AD_GROUPS, ad_group_payload(reach.pk, bid_strategy="cpc", bid="0.30"))

    assert response.status_code == 400
    assert response.json() == invalid({"bid_strategy": ["cpc does not fit the reach objective; use cpm."]})
    assert db_state() == before


def test_an_archived_campaign_takes_no_new_ad_groups(tenancy, api_client_for, feed):
    archived = CampaignFactory(advertiser=tenancy.bakery, status="archived")
    before = db_state()

    response = api_client_for(tenancy.owner).post(AD_GROUPS, ad_group_payload(archived.pk))

    assert response.status_code == 400
    assert response.json() == invalid({"campaign": ["This campaign is archived."]})
    assert db_state() == before


def test_patch_targeting_changes_only_the_lists_sent(tenancy, api_client_for, items, search):
    items.ad_group.countries, items.ad_group.languages = ["DE"], ["de"]
    items.ad_group.save()

    response = api_client_for(tenancy.owner).patch(
        f"{AD_GROUPS}{items.ad_group.pk}/",
        {
            "placements": ["search", "feed"],
            "targeting": {"countries": ["at", "ch"], "interests": ["baking"], "frequency_cap": {"impressions": 2, "days": 7}},
            "bid": "3.00",
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body["placements"] == ["feed", "search"]
    assert body["bid"] == "3.00"
    assert (
        body["targeting"]
        | {
            "countries": ["AT", "CH"],
            "languages": ["de"],
            "interests": ["baking"],
            "frequency_cap": {"impressions": 2, "days": 7},
        }
        == body["targeting"]
    )
    ad_group = AdGroup.objects.get(pk=items.ad_group.pk)
    assert (ad_group.countries, ad_group.languages, ad_group.bid_micros) == (["AT", "CH"], ["de"], 3_000_000)
    assert (ad_group.frequency_cap_impressions, ad_group.frequency_cap_days) == (2, 7)


def test_patch_frequency_cap_null_removes_it(tenancy, api_client_for, items):
    items.ad_group.frequency_cap_impressions, items.ad_group.frequency_cap_days = 3, 1
    items.ad_group.save()

    response = api_client_for(tenancy.owner).patch(f"{AD_GROUPS}{items.ad_group.pk}/", {"targeting": {"frequency_cap": None}})

    assert (response.status_code, response.json()["targeting"]["frequency_cap"]) == (200, None)
    ad_group = AdGroup.objects.get(pk=items.ad_group.pk)
    assert (ad_group.frequency_cap_impressions, ad_group.frequency_cap_days) == (None, None)


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"budget_mode": "lifetime", "budget": "100"}, {"end_time": ["A lifetime budget needs an end time."]}),
        ({"bid": "0.10"}, {"bid": ["The CPM bid must be at least 1.84 EUR, the floor of In-feed."]}),
        ({"targeting": {"countries": ["QQ"]}}, {"targeting.countries": ["Unknown country: QQ."]}),
        ({"campaign": 1}, {"campaign": ["This field cannot be changed."]}),
        ({"advertiser": 1}, {"advertiser": ["This field cannot be changed."]}),
        ({"targeting": {"frequency_cap": {"impressions": 2}}}, {"targeting.frequency_cap.days": ["This field is required."]}),
        (
            {},
            {"non_field_errors": [f"Send at least one of: {', '.join(AD_GROUP_INPUTS)}."]},
        ),
    ],
)
def test_patch_ad_group_with_invalid_input_is_a_400_and_changes_nothing(tenancy, api_client_for, items, payload, fields):
    before = db_state()

    response = api_client_for(tenancy.owner).patch(f"{AD_GROUPS}{items.ad_group.pk}/", payload)

    assert response.status_code == 400
    assert response.json() == invalid(fields)
    assert db_state() == before


# --- ads: create and change --------------------------------------------------------------------------


def test_create_a_video_ad(tenancy, api_client_for, items):
    payload = ad_payload(
        items.ad_group.pk, format="video", media_url="https://cdn.example.com/bake.mp4", video_duration_seconds=60
    )

    response = api_client_for(tenancy.owner).post(ADS, payload)

    assert response.status_code == 201
    body = response.json()
    assert (body["format"], body["video_duration_seconds"], body["review_status"]) == ("video", 60, "pending")
    assert Ad.objects.get(pk=body["id"]).video_duration_seconds == 60


def test_automated_review_rejects_at_once_with_a_reason(tenancy, api_client_for, items):
    response = api_client_for(tenancy.owner).post(ADS, ad_payload(items.ad_group.pk, headline="A miracle cure for hunger"))

    assert response.status_code == 201
    body = response.json()
    reason = (
        "The headline contains “miracle cure”, which our ad policy does not allow (unproven health claims). Reword it and save."
    )
    assert (body["review_status"], body["review_reason"]) == ("rejected", reason)
    assert body["delivery_status"] == delivery("rejected", "Rejected")


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        (
            {"landing_url": "http://bakery.example.com/"},
            {"landing_url": ["Enter a full https:// address, e.g. https://example.com/offer."]},
        ),
        (
            {"media_url": "ftp://cdn.example.com/a.jpg"},
            {"media_url": ["Enter a full https:// address, e.g. https://example.com/offer."]},
        ),
        (
            {"landing_url": "https://[::1", "media_url": "https://[::1"},
            {
                "media_url": ["Enter a full https:// address, e.g. https://example.com/offer."],
                "landing_url": ["Enter a full https:// address, e.g. https://example.com/offer."],
            },
        ),
        (
            {"format": "video", "media_url": "https://cdn.example.com/a.mp4"},
            {"video_duration_seconds": ["Give the video's length in seconds."]},
        ),
        (
            {"format": "video", "media_url": "https://cdn.example.com/a.mp4", "video_duration_seconds": 61},
            {"video_duration_seconds": ["Videos run 1 to 60 seconds."]},
        ),
        ({"video_duration_seconds": 10}, {"video_duration_seconds": ["Only video ads have a duration."]}),
        ({"format": "text", "body": ""}, {"body": ["A text ad needs a body."], "media_url": ["A text ad has no media."]}),
        ({"format": "gif"}, {"format": ['"gif" is not a valid choice.']}),
        ({"call_to_action": "buy_buy_buy"}, {"call_to_action": ['"buy_buy_buy" is not a valid choice.']}),
        ({"display_name": "x" * 41}, {"display_name": ["Ensure this field has no more than 40 characters."]}),
        ({"headline": ""}, {"headline": ["This field may not be blank."]}),
        ({"ad_group": 999_999_999}, {"ad_group": ["No such ad group."]}),
        ({"review_status": "approved"}, {"review_status": ["Unknown field."]}),
    ],
)
def test_create_ad_with_invalid_input_is_a_400_naming_the_field(tenancy, api_client_for, items, changes, fields):
    before = db_state()

    response = api_client_for(tenancy.owner).post(ADS, ad_payload(items.ad_group.pk, **changes))

    assert response.status_code == 400
    assert response.json() == invalid(fields)
    assert db_state() == before


def test_changing_what_viewers_see_sends_the_ad_back_into_review(tenancy, api_client_for, items, now):
    client = api_client_for(tenancy.owner)

    paused = client.patch(f"{ADS}{items.ad.pk}/", {"status": "paused"})
    edited = client.patch(f"{ADS}{items.ad.pk}/", {"status": "active", "headline": "Warm bread at noon"})

    assert (paused.json()["review_status"], paused.json()["delivery_status"]) == ("approved", delivery("paused", "Paused"))
    assert edited.status_code == 200
    assert (edited.json()["headline"], edited.json()["review_status"], edited.json()["delivery_status"]) == (
        "Warm bread at noon",
        "pending",
        IN_REVIEW,
    )
    ad = Ad.objects.get(pk=items.ad.pk)
    assert (ad.headline, ad.review_status, ad.submitted_at) == ("Warm bread at noon", "pending", now)


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        (
            {"landing_url": "http://bakery.example.com/"},
            {"landing_url": ["Enter a full https:// address, e.g. https://example.com/offer."]},
        ),
        (
            {"landing_url": "https://[::1"},
            {"landing_url": ["Enter a full https:// address, e.g. https://example.com/offer."]},
        ),
        ({"review_status": "approved"}, {"review_status": ["This field cannot be changed."]}),
        ({"ad_group": 1}, {"ad_group": ["This field cannot be changed."]}),
        ({"format": "video"}, {"video_duration_seconds": ["Give the video's length in seconds."]}),
    ],
)
def test_patch_ad_with_invalid_input_is_a_400_and_changes_nothing(tenancy, api_client_for, items, payload, fields):
    before = db_state()

    response = api_client_for(tenancy.owner).patch(f"{ADS}{items.ad.pk}/", payload)

    assert response.status_code == 400
    assert response.json() == invalid(fields)
    assert db_state() == before


# --- idempotent creates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "body", "model"),
    [
        (CAMPAIGNS, campaign_payload("{advertiser}"), Campaign),
        (AD_GROUPS, ad_group_payload("{campaign}"), AdGroup),
        (ADS, ad_payload("{ad_group}"), Ad),
        ("/api/v1/campaigns/{campaign}/duplicate/", {"name": "Bread again"}, Campaign),
    ],
)
def test_a_retried_create_replays_the_first_response(tenancy, api_client_for, items, url, body, model):
    client = api_client_for(tenancy.owner)
    count = model.objects.count()

    first = client.post(items.format(url), fill(body, items), HTTP_IDEMPOTENCY_KEY="create-1")
    retry = client.post(items.format(url), fill(body, items), HTTP_IDEMPOTENCY_KEY="create-1")
    before_conflict = db_state()
    conflict = client.post(items.format(url), fill(body | {"name": "Else"}, items), HTTP_IDEMPOTENCY_KEY="create-1")

    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert (retry["Location"], retry["Idempotent-Replayed"]) == (first["Location"], "true")
    assert model.objects.count() == count + 1
    assert conflict.status_code == 409
    assert conflict.json() == error("idempotency_key_reused", "This Idempotency-Key was already used with a different request.")
    assert db_state() == before_conflict


def test_a_refused_create_keeps_the_key_free_for_the_fixed_request(tenancy, api_client_for):
    client = api_client_for(tenancy.owner)

    refused = client.post(CAMPAIGNS, campaign_payload(tenancy.bakery.pk, budget="0.10"), HTTP_IDEMPOTENCY_KEY="k")
    fixed = client.post(CAMPAIGNS, campaign_payload(tenancy.bakery.pk), HTTP_IDEMPOTENCY_KEY="k")

    assert (refused.status_code, fixed.status_code) == (400, 201)
    assert list(Campaign.objects.values_list("budget_micros", flat=True)) == [50_000_000]


# --- history ---------------------------------------------------------------------------------------


def test_campaign_history_shows_who_changed_what_newest_first(tenancy, api_client_for):
    operator = MembershipFactory(advertiser=tenancy.bakery, role=Role.OPERATOR, user__email="operator@example.com").user
    owner, colleague = api_client_for(tenancy.owner), api_client_for(operator)
    moments = [datetime(2025, 4, 1, 9, minute, tzinfo=UTC) for minute in (0, 5, 10)]
    with clock.frozen(moments[0]):
        campaign_id = owner.post(CAMPAIGNS, campaign_payload(tenancy.bakery.pk)).json()["id"]
    with clock.frozen(moments[1]):
        owner.patch(f"{CAMPAIGNS}{campaign_id}/", {"budget": "80.00", "name": "Spring rye"})
    with clock.frozen(moments[2]):
        colleague.patch(f"{CAMPAIGNS}{campaign_id}/", {"status": "paused"})

    response = api_client_for(tenancy.analyst).get(f"{CAMPAIGNS}{campaign_id}/history/")

    assert response.status_code == 200
    # the order of changes inside one entry is not stable (see the report on change_history), so compare them sorted
    body = response.json()
    for entry in body["results"]:
        entry["changes"].sort(key=lambda change: change["field"])
    history_ids = list(Campaign.history.filter(id=campaign_id).order_by("-history_date").values_list("history_id", flat=True))
    assert body == {
        "count": 3,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": history_ids[0],
                "at": "2025-04-01T09:10:00Z",
                "by": "operator@example.com",
                "action": "changed",
                "note": "",
                "changes": [{"field": "status", "old": "active", "new": "paused"}],
            },
            {
                "id": history_ids[1],
                "at": "2025-04-01T09:05:00Z",
                "by": "owner@example.com",
                "action": "changed",
                "note": "",
                "changes": [
                    {"field": "budget", "old": "50.00", "new": "80.00"},
                    {"field": "name", "old": "Spring bread", "new": "Spring rye"},
                ],
            },
            {
                "id": history_ids[2],
                "at": "2025-04-01T09:00:00Z",
                "by": "owner@example.com",
                "action": "created",
                "note": "",
                "changes": [],
            },
        ],
    }


def test_ad_group_and_ad_history_name_api_fields_and_review_notes(tenancy, api_client_for, items, search, reviewer):
    owner = api_client_for(tenancy.owner)
    owner.patch(f"{AD_GROUPS}{items.ad_group.pk}/", {"placements": ["feed", "search"], "bid": "2.50"})
    owner.patch(f"{ADS}{items.ad.pk}/", {"headline": "Warm bread"})
    api_client_for(reviewer, scopes=["review"]).post(f"{ADS}{items.ad.pk}/review/", {"decision": "approve"})

    ad_group_history = owner.get(f"{AD_GROUPS}{items.ad_group.pk}/history/").json()["results"]
    ad_history = owner.get(f"{ADS}{items.ad.pk}/history/").json()["results"]

    # (the factory's own placements.set() is the unattributed change before the owner's)
    assert [(entry["by"], entry["action"]) for entry in ad_group_history] == [
        ("owner@example.com", "changed"),
        (None, "changed"),
        (None, "created"),
    ]
    assert sorted(ad_group_history[0]["changes"], key=lambda change: change["field"]) == [
        {"field": "bid", "old": "2.00", "new": "2.50"},
        {"field": "placements", "old": ["feed"], "new": ["feed", "search"]},
    ]
    assert [
        (entry["by"], entry["note"], sorted(entry["changes"], key=lambda change: change["field"])) for entry in ad_history[:2]
    ] == [
        (
            "reviewer@example.com",
            "approved",
            [
                {"field": "review_status", "old": "pending", "new": "approved"},
                {"field": "reviewed_at", "old": None, "new": Ad.objects.get(pk=items.ad.pk).reviewed_at.isoformat()},
                {"field": "reviewed_by", "old": None, "new": "reviewer@example.com"},
            ],
        ),
        (
            "owner@example.com",
            "submitted for review",
            [
                {"field": "headline", "old": "Fresh bread every morning", "new": "Warm bread"},
                {"field": "review_status", "old": "approved", "new": "pending"},
            ],
        ),
    ]


def test_history_is_paged(tenancy, api_client_for, items):
    client = api_client_for(tenancy.owner)
    for status in ["paused", "active", "paused"]:
        client.patch(f"{CAMPAIGNS}{items.campaign.pk}/", {"status": status})

    body = client.get(f"{CAMPAIGNS}{items.campaign.pk}/history/?page_size=2").json()

    assert (body["count"], len(body["results"])) == (4, 2)
    assert body["next"] == f"http://testserver/api/v1/campaigns/{items.campaign.pk}/history/?page=2&page_size=2"


# --- duplicate -------------------------------------------------------------------------------------


def test_duplicate_copies_the_campaign_paused_with_its_ad_groups_and_ads_in_review(tenancy, api_client_for, items, now):
    AdGroupFactory(campaign=items.campaign, name="Old", status="archived", placements=[items.ad_group.placements.get()])

    response = api_client_for(tenancy.owner).post(f"{CAMPAIGNS}{items.campaign.pk}/duplicate/", {})

    assert response.status_code == 201
    copy = Campaign.objects.exclude(pk=items.campaign.pk).get()
    assert response["Location"] == f"{CAMPAIGNS}{copy.pk}/"
    assert response.json() == {
        "id": copy.pk,
        "advertiser": tenancy.bakery.pk,
        "name": "Bread (copy)",
        "objective": "traffic",
        "budget_mode": "daily",
        "budget": "50.00",
        "currency": "EUR",
        "status": "paused",
        "delivery_status": delivery("paused", "Paused"),
        "today": None,
        "created_at": iso(now),
        "updated_at": iso(now),
    }
    ad_group_copy = copy.ad_groups.get()
    assert (ad_group_copy.name, list(ad_group_copy.placements.values_list("key", flat=True))) == ("Mornings", ["feed"])
    assert list(Ad.objects.filter(ad_group=ad_group_copy).values_list("headline", "review_status")) == [
        ("Fresh bread every morning", "pending")
    ]


def test_duplicate_takes_a_new_name(tenancy, api_client_for, items):
    response = api_client_for(tenancy.owner).post(f"{CAMPAIGNS}{items.campaign.pk}/duplicate/", {"name": "Autumn bread"})

    assert (response.status_code, response.json()["name"]) == (201, "Autumn bread")


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"status": "active"}, {"status": ["Unknown field."]}),
    ],
)
def test_duplicate_with_invalid_input_is_a_400(tenancy, api_client_for, items, payload, fields):
    before = db_state()

    response = api_client_for(tenancy.owner).post(f"{CAMPAIGNS}{items.campaign.pk}/duplicate/", payload)

    assert response.status_code == 400
    assert response.json() == invalid(fields)
    assert db_state() == before


# --- bulk status -----------------------------------------------------------------------------------


@pytest.fixture
def three(tenancy, feed) -> list[Items]:
    made = []
    for _ in range(3):
        campaign = CampaignFactory(advertiser=tenancy.bakery)
        ad_group = AdGroupFactory(campaign=campaign, placements=[feed])
        made.append(Items(campaign, ad_group, AdFactory(ad_group=ad_group)))
    return made


@pytest.mark.parametrize(
    ("url", "kind", "model"),
    [
        ("/api/v1/campaigns/bulk-status/", "campaign", Campaign),
        ("/api/v1/ad-groups/bulk-status/", "ad_group", AdGroup),
        ("/api/v1/ads/bulk-status/", "ad", Ad),
    ],
)
def test_bulk_pause_and_resume(tenancy, api_client_for, three, url, kind, model):
    client = api_client_for(tenancy.owner)
    chosen = [getattr(three[2], kind).pk, getattr(three[0], kind).pk]

    paused = client.post(url, {"ids": chosen, "status": "paused"})
    statuses_after_pause = dict(model.objects.values_list("pk", "status"))
    resumed = client.post(url, {"ids": chosen[:1], "status": "active"})

    assert paused.status_code == 200
    assert [(row["id"], row["status"]) for row in paused.json()["results"]] == [(pk, "paused") for pk in sorted(chosen)]
    assert {row["delivery_status"]["code"] for row in paused.json()["results"]} == {"paused"}
    assert statuses_after_pause == {
        getattr(item, kind).pk: "paused" if getattr(item, kind).pk in chosen else "active" for item in three
    }
    assert [(row["id"], row["status"]) for row in resumed.json()["results"]] == [(chosen[0], "active")]
    assert model.objects.get(pk=chosen[0]).status == "active"


def test_bulk_refuses_ids_outside_the_tenancy_without_saying_which_exist(tenancy, api_client_for, three):
    foreign = CampaignFactory(advertiser=tenancy.client_b1)
    before = db_state()

    response = api_client_for(tenancy.owner).post(
        "/api/v1/campaigns/bulk-status/", {"ids": [three[0].campaign.pk, foreign.pk, 999_999_999], "status": "paused"}
    )

    assert response.status_code == 400
    assert response.json() == invalid({"ids": [f"Not found: {foreign.pk}, 999999999."]})
    assert db_state() == before


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"ids": list(range(1, 102)), "status": "paused"}, {"ids": ["Change at most 100 items at once."]}),
        ({"ids": [], "status": "paused"}, {"ids": ["Choose at least one item."]}),
        ({"ids": "all", "status": "paused"}, {"ids": ['Expected a list of items but got type "str".']}),
        ({"ids": ["{campaign}"], "status": "archived"}, {"status": ['"archived" is not a valid choice.']}),
        ({"ids": ["{campaign}"]}, {"status": ["This field is required."]}),
        ({"ids": ["{campaign}"], "status": "paused", "force": True}, {"force": ["Unknown field."]}),
    ],
)
def test_bulk_with_invalid_input_is_a_400_and_changes_nothing(tenancy, api_client_for, items, payload, fields):
    before = db_state()

    response = api_client_for(tenancy.owner).post("/api/v1/campaigns/bulk-status/", fill(payload, items))

    assert response.status_code == 400
    assert response.json() == invalid(fields)
    assert db_state() == before


def test_bulk_is_all_or_nothing(tenancy, api_client_for, three):
    three[1].ad.status = "archived"
    three[1].ad.save()
    before = db_state()

    response = api_client_for(tenancy.owner).post(
        "/api/v1/ads/bulk-status/", {"ids": [item.ad.pk for item in three], "status": "paused"}
    )

    assert response.status_code == 400
    assert response.json() == invalid({"status": ["Archived items cannot be changed."]})
    assert db_state() == before


def test_bulk_across_advertisers_needs_the_role_on_each(tenancy, api_client_for, feed):
    # given: a user who operates client A1 through the agency but is only an analyst of the bakery
    user = MembershipFactory(advertiser=tenancy.bakery, role=Role.ANALYST).user
    AgencyMembershipFactory(user=user, agency=tenancy.agency_a, role=Role.OPERATOR)
    mine, theirs = CampaignFactory(advertiser=tenancy.client_a1), CampaignFactory(advertiser=tenancy.bakery)
    before = db_state()

    response = api_client_for(user).post("/api/v1/campaigns/bulk-status/", {"ids": [mine.pk, theirs.pk], "status": "paused"})

    assert response.status_code == 403
    assert response.json() == error("permission_denied", OPERATOR_NEEDED)
    assert db_state() == before


# --- review ----------------------------------------------------------------------------------------


@pytest.fixture
def pending(items) -> Ad:
    items.ad.review_status = "pending"
    items.ad.save()
    return items.ad


@pytest.mark.parametrize("path", ["/api/v1/ads/{ad}/review", "/api/v1/ads/{ad}/review/"])
def test_staff_approve_with_or_without_the_trailing_slash(tenancy, api_client_for, reviewer, pending, path, now):
    response = api_client_for(reviewer, scopes=["review"]).post(path.format(ad=pending.pk), {"decision": "approve"})

    assert response.status_code == 200
    assert (response.json()["review_status"], response.json()["reviewed_at"]) == ("approved", iso(now))
    pending.refresh_from_db()
    assert (pending.review_status, pending.reviewed_by_id) == ("approved", reviewer.pk)


def test_staff_reject_with_a_reason_and_the_advertiser_hears_of_it(
    tenancy, api_client_for, reviewer, pending, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(reviewer, scopes=["review"]).post(
            f"{ADS}{pending.pk}/review", {"decision": "reject", "reason": " The photo is blurry. "}
        )

    assert response.status_code == 200
    body = response.json()
    assert (body["review_status"], body["review_reason"]) == ("rejected", "The photo is blurry.")
    assert body["delivery_status"] == delivery("rejected", "Rejected")
    assert [(message.to, message.subject) for message in mail.outbox] == [
        (["owner@example.com"], "Your ad “Fresh bread every morning” was not approved")
    ]


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"decision": "reject"}, {"reason": ["Say why, in words the advertiser can act on."]}),
        ({"decision": "maybe"}, {"decision": ['"maybe" is not a valid choice.']}),
        ({"decision": "approve", "note": "ok"}, {"note": ["Unknown field."]}),
        ({}, {"decision": ["This field is required."]}),
    ],
)
def test_review_with_invalid_input_is_a_400_and_changes_nothing(tenancy, api_client_for, reviewer, pending, payload, fields):
    before = db_state()

    response = api_client_for(reviewer, scopes=["review"]).post(f"{ADS}{pending.pk}/review", payload)

    assert response.status_code == 400
    assert response.json() == invalid(fields)
    assert db_state() == before


def test_an_ad_not_in_review_cannot_be_reviewed(tenancy, api_client_for, reviewer, items):
    before = db_state()

    response = api_client_for(reviewer, scopes=["review"]).post(
        f"{ADS}{items.ad.pk}/review", {"decision": "reject", "reason": "x"}
    )

    assert response.status_code == 400
    assert response.json() == invalid({"non_field_errors": ["This ad is not in review (it is approved)."]})
    assert db_state() == before


def test_review_needs_the_review_scope(tenancy, api_client_for, reviewer, pending):
    before = db_state()

    response = api_client_for(reviewer, scopes=["campaigns:read", "campaigns:write"]).post(
        f"{ADS}{pending.pk}/review", {"decision": "approve"}
    )

    assert response.status_code == 403
    assert response.json() == error("insufficient_scope", REVIEW_SCOPE_MESSAGE)
    assert db_state() == before


@pytest.mark.parametrize("who", ["owner", "analyst", "agent_b"])
def test_for_anyone_but_staff_the_ad_to_review_does_not_exist(tenancy, pending, who):
    # a signed-in session is not narrowed by scopes, so only the staff check stands in the way
    client = APIClient()
    client.force_login(getattr(tenancy, who))
    before = db_state()

    response = client.post(f"{ADS}{pending.pk}/review", {"decision": "approve"}, format="json")

    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert db_state() == before


def test_staff_who_lost_staff_status_can_no_longer_review(tenancy, api_client_for, reviewer, pending):
    client = api_client_for(reviewer, scopes=["review"])
    reviewer.is_staff = False
    reviewer.save()
    before = db_state()

    response = client.post(f"{ADS}{pending.pk}/review", {"decision": "approve"})

    assert response.status_code == 404
    assert db_state() == before


def test_a_missing_ad_is_a_404_for_staff_too(tenancy, api_client_for, reviewer):
    response = api_client_for(reviewer, scopes=["review"]).post(f"{ADS}999999999/review", {"decision": "approve"})

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


# --- placements and interests --------------------------------------------------------------------


def test_placements_show_formats_and_floors_but_never_keys(tenancy, api_client_for, feed, search):
    PlacementFactory(key="retired", name="Retired", is_active=False)

    response = api_client_for(tenancy.owner, scopes=["campaigns:read"]).get(PLACEMENTS)

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {"key": "feed", "name": "In-feed", "allowed_formats": ["image", "video"], "floor_cpm_usd": "2.00"},
            {"key": "search", "name": "Search results", "allowed_formats": ["text", "image"], "floor_cpm_usd": "0.00"},
        ],
    }


def test_interests_list_the_active_taxonomy_by_category(tenancy, api_client_for):
    Interest.objects.filter(key="cars").update(is_active=False)
    client = api_client_for(tenancy.owner)

    everything = client.get(f"{INTERESTS}?page_size=200").json()
    food = client.get(f"{INTERESTS}?category=Food %26 Drink").json()

    assert everything["count"] == Interest.objects.filter(is_active=True).count() == 31
    assert "cars" not in [row["key"] for row in everything["results"]]
    assert food["results"] == [
        {"key": "baking", "name": "Baking", "category": "Food & Drink"},
        {"key": "coffee", "name": "Coffee", "category": "Food & Drink"},
        {"key": "cooking", "name": "Cooking", "category": "Food & Drink"},
        {"key": "restaurants", "name": "Restaurants", "category": "Food & Drink"},
    ]


@pytest.mark.parametrize("url", [PLACEMENTS, INTERESTS])
def test_reference_lists_are_read_only(tenancy, api_client_for, url):
    response = api_client_for(tenancy.owner).post(url, {"key": "new", "name": "New"})

    assert response.status_code == 405


# --- schema ----------------------------------------------------------------------------------------


def test_the_schema_documents_every_campaigns_operation_with_its_scopes(client):
    schema = client.get("/api/schema/?format=json").json()

    def scopes(path: str, method: str) -> list[str]:
        operation = schema["paths"][path][method]
        return sorted(scope for requirement in operation["security"] for scope in requirement.get("oauth2", []))

    campaign_paths = ("/api/v1/campaigns", "/api/v1/ad-groups", "/api/v1/ads", "/api/v1/placements", "/api/v1/interests")
    assert {path for path in schema["paths"] if path.startswith(campaign_paths)} == {
        "/api/v1/campaigns/",
        "/api/v1/campaigns/{id}/",
        "/api/v1/campaigns/{id}/history/",
        "/api/v1/campaigns/{id}/duplicate/",
        "/api/v1/campaigns/bulk-status/",
        "/api/v1/ad-groups/",
        "/api/v1/ad-groups/{id}/",
        "/api/v1/ad-groups/{id}/history/",
        "/api/v1/ad-groups/bulk-status/",
        "/api/v1/ads/",
        "/api/v1/ads/{id}/",
        "/api/v1/ads/{id}/history/",
        "/api/v1/ads/{id}/review/",
        "/api/v1/ads/bulk-status/",
        "/api/v1/placements/",
        "/api/v1/interests/",
    }
    assert scopes("/api/v1/campaigns/", "get") == ["campaigns:read", "reports:read"]
    assert scopes("/api/v1/campaigns/", "post") == ["campaigns:write"]
    assert scopes("/api/v1/ad-groups/{id}/history/", "get") == ["campaigns:read", "reports:read"]
    assert scopes("/api/v1/ads/bulk-status/", "post") == ["campaigns:write"]
    assert scopes("/api/v1/ads/{id}/review/", "post") == ["review"]
    components = schema["components"]["schemas"]
    assert components["ItemStatusEnum"]["enum"] == ["active", "paused", "archived"]
    assert "api_key_hash" not in components["Placement"]["properties"]
    assert components["AdGroupCreateRequest"]["required"] == ["bid", "campaign", "name", "placements"]
