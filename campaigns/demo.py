"""Demo placements and campaigns for `make run`, created idempotently by `manage.py seed_demo`."""

from datetime import timedelta

from django.db import transaction

from accounts.models import Advertiser, User
from adplatform import clock, money

from . import services
from .choices import ReviewStatus
from .models import Campaign, Placement

PLACEMENTS = [
    ("feed", "In-feed", ["image", "video"], "0.50"),
    ("topview", "Top view", ["video"], "4.00"),
    ("search", "Search results", ["image", "text"], "0.20"),
]


def _placements() -> list[str]:
    lines = []
    for key, name, formats, floor in PLACEMENTS:
        if not Placement.objects.filter(key=key).exists():
            _, api_key = services.placement_create(
                key=key, name=name, formats=formats, floor_cpm_usd_micros=money.to_micros(floor)
            )
            lines.append(f"placement {key}: serving API key {api_key}")
    return lines


def _campaign(actor: User, advertiser: Advertiser, name: str, *, objective: str, daily: str, ad_groups: list[dict]) -> None:
    if Campaign.objects.filter(advertiser=advertiser, name=name).exists():
        return
    campaign = services.campaign_create(
        actor=actor,
        advertiser=advertiser,
        name=name,
        objective=objective,
        budget_mode="daily",
        budget_micros=money.to_micros(daily),
    )
    for spec in ad_groups:
        ads = spec.pop("ads")
        ad_group = services.ad_group_create(actor=actor, campaign=campaign, **spec)
        for ad_spec in ads:
            approve = ad_spec.pop("approve", True)
            ad = services.ad_create(actor=actor, ad_group=ad_group, **ad_spec)
            if approve and ad.review_status == ReviewStatus.PENDING:
                staff = User.objects.filter(is_staff=True).order_by("pk").first()
                if staff is not None:
                    services.ad_review(reviewer=staff, ad=ad, decision="approve")


@transaction.atomic
def seed() -> list[str]:
    """Placements (printing the keys of new ones) and a few campaigns for the demo advertisers."""
    lines = _placements()
    baker = User.objects.get(email="baker@example.com")
    agent = User.objects.get(email="agency@example.com")
    bakery = Advertiser.objects.get(name="Corner Bakery", agency__isnull=True)
    brand = Advertiser.objects.get(name="Brand Co")
    _campaign(
        baker,
        bakery,
        "Fresh bread in Berlin",
        objective="traffic",
        daily="5.00",
        ad_groups=[
            {
                "name": "Berlin food lovers",
                "placements": ["feed", "search"],
                "countries": ["DE"],
                "languages": ["de", "en"],
                "interests": ["baking", "cooking", "coffee"],
                "age_ranges": ["25-34", "35-44", "45-54"],
                "budget_micros": money.to_micros("5.00"),
                "bid_strategy": "cpc",
                "bid_micros": money.to_micros("0.30"),
                "dayparting": [day * 48 + slot for day in range(7) for slot in range(12, 40)],  # 06:00-20:00
                "ads": [
                    {
                        "format": "image",
                        "display_name": "Corner Bakery",
                        "headline": "Warm croissants from 7 am",
                        "body": "Baked on the corner of Oderberger Straße every morning.",
                        "media_url": "https://cdn.example.com/bakery/croissants.jpg",
                        "call_to_action": "learn_more",
                        "landing_url": "https://corner-bakery.example.com/",
                    },
                    {
                        "format": "text",
                        "display_name": "Corner Bakery",
                        "headline": "Sourdough, rye and spelt",
                        "body": "Order before 10 and pick up on your way home.",
                        "call_to_action": "shop_now",
                        "landing_url": "https://corner-bakery.example.com/order",
                        "approve": False,
                    },
                ],
            }
        ],
    )
    _campaign(
        agent,
        brand,
        "Autumn launch",
        objective="video_views",
        daily="2000.00",
        ad_groups=[
            {
                "name": "US and Canada, 18-34",
                "placements": ["feed", "topview"],
                "countries": ["US", "CA"],
                "age_ranges": ["18-24", "25-34"],
                "device_types": ["mobile"],
                "budget_mode": "lifetime",
                "budget_micros": money.to_micros("30000.00"),
                "end_time": clock.now() + timedelta(days=30),
                "bid_strategy": "cpm",
                "bid_micros": money.to_micros("6.00"),
                "frequency_cap_impressions": 3,
                "frequency_cap_days": 1,
                "ads": [
                    {
                        "format": "video",
                        "display_name": "Brand Co",
                        "headline": "Meet the new Brand One",
                        "media_url": "https://cdn.example.com/brand/launch.mp4",
                        "video_duration_seconds": 15,
                        "call_to_action": "watch_more",
                        "landing_url": "https://brand.example.com/one",
                    }
                ],
            }
        ],
    )
    return lines
