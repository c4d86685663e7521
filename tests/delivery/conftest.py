"""Fixtures for the end-to-end tests of the delivery endpoints: a small marketplace served through HTTP.

Placements are created with their real serving keys, advertisers are funded through billing, ads
are approved, and the index is compiled into Redis exactly as the Celery task does it.
"""

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db.models import Sum
from django.test import Client

from accounts.models import Advertiser, User
from adplatform.redis_client import get_redis
from billing import services as billing_services
from billing.models import Kind, Transaction
from campaigns import services as campaign_services
from campaigns.models import Ad, AdGroup, Campaign, Placement
from delivery import charging, index
from delivery import services as delivery_services
from delivery.models import Event
from tests.factories import AdFactory, AdGroupFactory, AdvertiserFactory, CampaignFactory, MembershipFactory, UserFactory

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
# Every ad group has started long before any moment the tests freeze the clock at.
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
FLOOR_CPM_USD_MICROS = 1_000_000  # 1 USD per 1,000 impressions: a lone CPM winner pays 1,000 micros an impression
FUNDS_MICROS = 100_000_000


@dataclass
class ServedAd:
    """One ad of a decision response, with the facts its signed links carry."""

    ad: dict[str, Any]
    request_id: str

    @property
    def impression_path(self) -> str:
        return self.ad["impression_url"].removeprefix("http://testserver")

    @property
    def click_path(self) -> str:
        return self.ad["click_url"].removeprefix("http://testserver")

    @property
    def facts(self) -> dict[str, Any]:
        """The link payload (d=...), decoded without verifying it."""
        payload = parse_qs(urlsplit(self.ad["impression_url"]).query)["d"][0]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class ServingMarketplace:
    """Builds advertisers, campaigns and approved ads on two placements and asks for decisions over HTTP."""

    def __init__(self) -> None:
        self.app = Client()  # the platform's own app asking for ads (server to server)
        self.browser = Client(headers={"user-agent": BROWSER})  # a person's browser following the links
        self.feed, self.feed_key = campaign_services.placement_create(
            key="serve-feed", name="Serve feed", formats=["image", "video", "text"], floor_cpm_usd_micros=FLOOR_CPM_USD_MICROS
        )
        self.search, self.search_key = campaign_services.placement_create(
            key="serve-search", name="Serve search", formats=["text"], floor_cpm_usd_micros=FLOOR_CPM_USD_MICROS
        )
        self.reviewer = UserFactory(email="serving.reviewer@example.com", is_staff=True)

    # --- building ------------------------------------------------------------------------------

    def advertiser(
        self, name: str, *, funds_micros: int = FUNDS_MICROS, currency: str = "USD", time_zone: str = "UTC"
    ) -> Advertiser:
        """An advertiser with an admin, funded through a card top-up, its Redis balance guard set."""
        advertiser = AdvertiserFactory(name=name, currency=currency, time_zone=time_zone)
        admin = MembershipFactory(advertiser=advertiser, user__email=f"admin.{advertiser.pk}@example.com").user
        if funds_micros:
            billing_services.top_up(actor=admin, advertiser=advertiser, amount_micros=funds_micros, payment_method="pm_card_visa")
        delivery_services.refresh_allowance(advertiser)
        return advertiser

    def admin_of(self, advertiser: Advertiser) -> User:
        return User.objects.get(email=f"admin.{advertiser.pk}@example.com")

    def ad_group(
        self,
        advertiser: Advertiser,
        *,
        placements: list[Placement] | None = None,
        campaign: Campaign | None = None,
        objective: str = "traffic",
        **fields: Any,
    ) -> AdGroup:
        """An active ad group (CPM 2.00 by default, daily budget 20.00) in a new or given campaign."""
        campaign = campaign or CampaignFactory(
            advertiser=advertiser, objective=objective, budget_mode="unlimited", budget_micros=0
        )
        return AdGroupFactory(
            campaign=campaign,
            placements=placements if placements is not None else [self.feed],
            start_time=fields.pop("start_time", LONG_AGO),
            **fields,
        )

    def ad(self, ad_group: AdGroup, **fields: Any) -> Ad:
        """An approved, active image ad."""
        return AdFactory(ad_group=ad_group, review_status="approved", **fields)

    def serving_ad(self, name: str, *, bid_micros: int = 2_000_000, **ad_group_fields: Any) -> Ad:
        """A funded advertiser with one ad group and one approved ad."""
        advertiser = self.advertiser(name)
        return self.ad(self.ad_group(advertiser, bid_micros=bid_micros, **ad_group_fields), display_name=name[:40])

    def publish(self) -> None:
        """Compile the index into Redis as the Celery task does, and make this process load it."""
        index.compile_snapshot()
        index.holder.reset()

    # --- asking --------------------------------------------------------------------------------

    def decide(self, body: Any, *, key: str | None = None, raw: bytes | None = None) -> Any:
        data = raw if raw is not None else json.dumps(body)
        return self.app.post(
            "/serve/v1/decision",
            data=data,
            content_type="application/json",
            headers={"x-placement-key": self.feed_key if key is None else key},
        )

    def serve(self, user_id: str = "user-1", **request: Any) -> list[ServedAd]:
        """Ask the feed for ads; the response must be 200."""
        response = self.decide({"placement": "serve-feed", "user_id": user_id, **request})
        assert response.status_code == 200, response.content
        body = response.json()
        return [ServedAd(ad, body["request_id"]) for ad in body["ads"]]

    def serve_one(self, user_id: str = "user-1", **request: Any) -> ServedAd:
        (served,) = self.serve(user_id, **request)
        return served


@pytest.fixture
def serving_marketplace(db: None) -> Iterator[ServingMarketplace]:
    """Two placements with real keys, an empty index published, the process's index copy forgotten."""
    index.holder.reset()
    marketplace = ServingMarketplace()
    yield marketplace
    index.holder.reset()


# --- reading what happened -------------------------------------------------------------------------


def stored_events(**filters: Any) -> list[tuple[str, str, str, int]]:
    """Consume the stream, then the event store's (kind, status, reason, cost) rows, in order of arrival."""
    delivery_services.consume_events()
    return list(Event.objects.filter(**filters).order_by("seq").values_list("kind", "status", "reason", "cost_micros"))


def charged_micros(advertiser: Advertiser) -> int:
    """What Redis has charged the advertiser so far."""
    value = get_redis().get(charging.charged_key(advertiser.pk))
    return int(value) if value is not None else 0


def event_cost_micros(advertiser: Advertiser) -> int:
    return Event.objects.filter(advertiser_id=advertiser.pk).aggregate(total=Sum("cost_micros"))["total"] or 0


def ledger_spend_micros(advertiser: Advertiser) -> int:
    """Ad spend posted to the ledger, as a positive number."""
    total = Transaction.objects.filter(advertiser=advertiser, kind=Kind.SPEND).aggregate(total=Sum("amount_micros"))["total"]
    return -(total or 0)


def stream_length() -> int:
    return int(get_redis().xlen(charging.STREAM))
