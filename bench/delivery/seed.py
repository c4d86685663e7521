"""The benchmark's marketplace: 500 advertisers, 10,000 active approved ads, 20 placements, mixed targeting.

    .venv/bin/python -m bench.delivery.seed      (the runner calls `build()` itself)

Drops and recreates the benchmark database (bench.delivery.env), migrates it, bulk-inserts the
marketplace with a fixed random seed, funds every advertiser through billing.services (so the
ledger, the cached balance and the Redis allowance are all real), then compiles the delivery
index into Redis. Writes bench/out/delivery/marketplace.json: the placements' serving keys and
the request vocabulary the load generator draws from.
"""

import hashlib
import json
import random
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from . import env

ADVERTISERS = 500
CAMPAIGNS_PER_ADVERTISER = 2
AD_GROUPS_PER_CAMPAIGN = 2
ADS_PER_AD_GROUP = 5  # 500 x 2 x 2 x 5 = 10,000 ads
SEED = 20261201

# key, allowed formats, floor in US dollars per 1,000 impressions
PLACEMENTS = [
    ("feed", ["image", "text", "video"], "0.50"),
    ("stories", ["image", "video"], "1.00"),
    ("reels", ["video"], "1.50"),
    ("search-top", ["text", "image"], "0.80"),
    ("search-inline", ["text"], "0.30"),
    ("explore", ["image", "video"], "0.60"),
    ("video-preroll", ["video"], "2.00"),
    ("video-midroll", ["video"], "1.20"),
    ("sidebar", ["image", "text"], "0.20"),
    ("article-inline", ["image", "text"], "0.40"),
    ("article-end", ["image", "text", "video"], "0.30"),
    ("home-banner", ["image"], "1.00"),
    ("notifications", ["text"], "0.25"),
    ("profile", ["image", "text"], "0.30"),
    ("marketplace", ["image", "text"], "0.70"),
    ("checkout", ["text", "image"], "0.90"),
    ("music-feed", ["image", "video", "text"], "0.50"),
    ("games-lobby", ["image", "video"], "0.80"),
    ("news-feed", ["image", "text", "video"], "0.40"),
    ("maps", ["text", "image"], "0.60"),
]
# Countries with rough traffic weights; requests also come from a few places no one targets.
COUNTRIES = {
    "US": 20, "DE": 8, "GB": 7, "FR": 6, "BR": 6, "IN": 8, "JP": 5, "CA": 4, "AU": 3, "ES": 4, "IT": 4, "NL": 3,
    "MX": 3, "PL": 2, "SE": 2, "CH": 1, "AT": 1, "BE": 1, "KR": 2, "TR": 2, "ID": 3, "ZA": 1, "AR": 1, "NG": 1, "EG": 1,
}  # fmt: skip
REQUEST_ONLY_COUNTRIES = ["IS", "LU", "UY", "KE"]
LANGUAGES = ["en", "de", "fr", "es", "pt", "ja", "it", "nl", "pl", "hi", "ko", "tr", "id"]
# (currency, time zone, share of advertisers)
ACCOUNTS = [
    ("USD", "America/New_York", 25), ("USD", "America/Los_Angeles", 10), ("EUR", "Europe/Berlin", 15),
    ("EUR", "Europe/Paris", 8), ("GBP", "Europe/London", 8), ("JPY", "Asia/Tokyo", 5), ("BRL", "America/Sao_Paulo", 5),
    ("INR", "Asia/Kolkata", 6), ("CAD", "America/Toronto", 4), ("AUD", "Australia/Sydney", 4), ("EUR", "UTC", 5),
    ("SEK", "Europe/Stockholm", 2), ("USD", "Asia/Kathmandu", 1), ("PLN", "Europe/Warsaw", 2),
]  # fmt: skip
DEVICES = ["mobile", "tablet", "desktop", "connected_tv"]
OPERATING_SYSTEMS = ["android", "ios", "windows", "macos", "linux"]
AGE_RANGES = ["13-17", "18-24", "25-34", "35-44", "45-54", "55+"]
FORMATS = ["image"] * 6 + ["text"] * 2 + ["video"] * 2


def placement_key(key: str) -> str:
    """The serving key of a benchmark placement (deterministic, so the load generator knows it)."""
    return f"plk_bench_{key}"


def _pick_some(rng: random.Random, values: list[str], low: int, high: int, weights: list[int] | None = None) -> list[str]:
    chosen: set[str] = set()
    wanted = rng.randint(low, high)
    while len(chosen) < wanted:
        chosen.add(rng.choices(values, weights=weights)[0] if weights else rng.choice(values))
    return sorted(chosen)


def _targeting(rng: random.Random, interests: list[str]) -> dict[str, Any]:
    """Mixed targeting: most ad groups restrict one to three things, a third of them reach everyone in their countries."""
    countries = list(COUNTRIES)
    weights = list(COUNTRIES.values())
    age_start = rng.randrange(len(AGE_RANGES))
    slots_per_day = 48
    business_hours = [day * slots_per_day + slot for day in range(7) for slot in range(16, 44)]  # 08:00-22:00
    return {
        "countries": [] if rng.random() < 0.35 else _pick_some(rng, countries, 1, 6, weights),
        "age_ranges": [] if rng.random() < 0.5 else AGE_RANGES[age_start : age_start + rng.randint(1, 3)],
        "genders": [] if rng.random() < 0.8 else [rng.choice(["female", "male"])],
        "languages": [] if rng.random() < 0.8 else _pick_some(rng, LANGUAGES, 1, 2),
        "device_types": [] if rng.random() < 0.55 else _pick_some(rng, DEVICES, 1, 2),
        "operating_systems": [] if rng.random() < 0.8 else _pick_some(rng, OPERATING_SYSTEMS, 1, 2),
        "dayparting": [] if rng.random() < 0.85 else business_hours,
        "interests": [] if rng.random() < 0.6 else _pick_some(rng, interests, 1, 4),
    }


def _bid(rng: random.Random, strategy: str, rate: Decimal) -> int:
    usd = {"cpm": rng.uniform(0.5, 8.0), "cpc": rng.uniform(0.05, 1.5), "ocpm": rng.uniform(2.0, 30.0)}[strategy]
    return max(1000, int(Decimal(str(round(usd, 4))) * rate * 1_000_000))


def build(*, seed: int = SEED) -> dict[str, Any]:
    """Reset, migrate and seed the benchmark database; compile the index. Returns the manifest."""
    env.configure()
    started = time.monotonic()
    env.PLACE.reset_database()
    env.PLACE.migrate()
    import django

    django.setup()
    from django.db import transaction

    from accounts.models import Advertiser, Currency, User
    from adplatform import clock
    from adplatform.redis_client import get_redis
    from billing import services as billing_services
    from campaigns.models import Ad, AdGroup, Campaign, Interest, Placement
    from delivery import index
    from delivery.models import AdPerformance, PlacementPerformance

    env.PLACE.flush_redis()
    rng = random.Random(seed)
    now = clock.now()
    rates = dict(Currency.objects.values_list("code", "units_per_usd"))
    interest_keys = sorted(Interest.objects.filter(is_active=True).values_list("key", flat=True))
    interests = dict(Interest.objects.values_list("key", "pk"))

    placements = Placement.objects.bulk_create(
        Placement(
            key=key,
            name=key.replace("-", " ").title(),
            allowed_formats=formats,
            floor_cpm_usd_micros=int(Decimal(floor) * 1_000_000),
            api_key_hash=hashlib.sha256(placement_key(key).encode()).hexdigest(),
            api_key_hint=placement_key(key)[-4:],
        )
        for key, formats, floor in PLACEMENTS
    )
    accounts = [(currency, zone) for currency, zone, share in ACCOUNTS for _ in range(share)]
    advertisers = Advertiser.objects.bulk_create(
        Advertiser(name=f"Bench advertiser {n:03d}", currency=currency, time_zone=zone)
        for n, (currency, zone) in enumerate(rng.choice(accounts) for _ in range(ADVERTISERS))
    )
    campaigns = []
    for advertiser in advertisers:
        rate = rates[advertiser.currency]
        for n in range(CAMPAIGNS_PER_ADVERTISER):
            mode = rng.choices(["unlimited", "daily", "lifetime"], weights=[5, 3, 2])[0]
            campaigns.append(
                Campaign(
                    advertiser=advertiser,
                    name=f"Campaign {n}",
                    objective="web_conversions",
                    budget_mode=mode,
                    budget_micros=0 if mode == "unlimited" else int(rate * rng.randint(2_000, 20_000) * 1_000_000),
                )
            )
    Campaign.objects.bulk_create(campaigns)
    ad_groups = []
    group_targeting = []
    for campaign in campaigns:
        rate = rates[campaign.advertiser.currency]
        for n in range(AD_GROUPS_PER_CAMPAIGN):
            targeting = _targeting(rng, interest_keys)
            strategy = rng.choices(["cpm", "cpc", "ocpm"], weights=[6, 3, 1])[0]
            mode = rng.choices(["daily", "lifetime", "unlimited"], weights=[7, 2, 1])[0]
            capped = rng.random() < 0.3
            ad_groups.append(
                AdGroup(
                    campaign=campaign,
                    name=f"Ad group {n}",
                    countries=targeting["countries"],
                    age_ranges=targeting["age_ranges"],
                    genders=targeting["genders"],
                    languages=targeting["languages"],
                    device_types=targeting["device_types"],
                    operating_systems=targeting["operating_systems"],
                    dayparting=targeting["dayparting"],
                    start_time=now - timedelta(days=rng.randint(1, 60)),
                    end_time=now + timedelta(days=rng.randint(5, 90)) if mode == "lifetime" or rng.random() < 0.1 else None,
                    budget_mode=mode,
                    budget_micros=0 if mode == "unlimited" else int(rate * rng.randint(500, 5_000) * 1_000_000),
                    pacing=rng.choice(["standard", "accelerated"]),
                    bid_strategy=strategy,
                    bid_micros=_bid(rng, strategy, rate),
                    frequency_cap_impressions=rng.randint(3, 10) if capped else None,
                    frequency_cap_days=rng.randint(1, 7) if capped else None,
                )
            )
            group_targeting.append(targeting)
    AdGroup.objects.bulk_create(ad_groups)
    placement_links = []
    interest_links = []
    for ad_group, targeting in zip(ad_groups, group_targeting, strict=True):
        for placement in rng.sample(placements, rng.randint(1, 4)):
            placement_links.append(AdGroup.placements.through(adgroup_id=ad_group.pk, placement_id=placement.pk))
        for key in targeting["interests"]:
            interest_links.append(AdGroup.interests.through(adgroup_id=ad_group.pk, interest_id=interests[key]))
    AdGroup.placements.through.objects.bulk_create(placement_links)
    AdGroup.interests.through.objects.bulk_create(interest_links)
    ads = []
    for ad_group in ad_groups:
        for n in range(ADS_PER_AD_GROUP):
            ad_format = rng.choice(FORMATS)
            ads.append(
                Ad(
                    ad_group=ad_group,
                    format=ad_format,
                    display_name=f"Brand {ad_group.campaign.advertiser_id}",
                    headline=f"Offer {n} of ad group {ad_group.pk}",
                    body="Free delivery on your first order, this week only.",
                    media_url=f"https://cdn.example.com/{ad_group.pk}/{n}.{'mp4' if ad_format == 'video' else 'jpg'}",
                    video_duration_seconds=rng.randint(6, 30) if ad_format == "video" else None,
                    call_to_action=rng.choice(["learn_more", "shop_now", "sign_up", "download"]),
                    landing_url=f"https://shop{ad_group.campaign.advertiser_id}.example.com/offer/{n}?utm_source=adplatform",
                    review_status="approved",
                    reviewed_at=now,
                )
            )
    Ad.objects.bulk_create(ads, batch_size=2000)
    # Seven ads in ten have history, so the CTR posteriors range from wide (new) to narrow.
    AdPerformance.objects.bulk_create(
        AdPerformance(ad=ad, impressions=(shown := rng.randint(1_000, 500_000)), clicks=int(shown * rng.uniform(0.002, 0.03)))
        for ad in ads
        if rng.random() < 0.7
    )
    PlacementPerformance.objects.bulk_create(
        PlacementPerformance(placement=placement, impressions=1_000_000, clicks=rng.randint(5_000, 15_000))
        for placement in placements
    )
    staff = User.objects.create_user(email="bench-staff@example.com", password=None, is_staff=True)
    for advertiser in advertisers:
        # Funded far beyond what a benchmark run spends, so the balance guard never refuses a charge.
        with transaction.atomic():
            billing_services.adjustment_post(
                staff=staff,
                advertiser=advertiser,
                amount_micros=int(rates[advertiser.currency] * 1_000_000 * 1_000_000),
                reason="Benchmark funding",
            )
    seeded = time.monotonic() - started
    version, _ = index.compile_snapshot()
    snapshot = index.load(version)
    if snapshot is None:  # published a moment ago: only a flushed Redis loses it
        raise RuntimeError(f"the index snapshot {version} just published is not in Redis")
    manifest = {
        "version": version,
        "placements": {key: placement_key(key) for key, _, _ in PLACEMENTS},
        "countries": COUNTRIES,
        "request_only_countries": REQUEST_ONLY_COUNTRIES,
        "languages": LANGUAGES,
        "interests": interest_keys,
        "devices": DEVICES,
        "operating_systems": OPERATING_SYSTEMS,
        "ads": Ad.objects.count(),
        "advertisers": Advertiser.objects.count(),
        "candidates_per_placement": {key: len(items) for key, items in snapshot.candidates.items()},
        "allowances": sum(1 for _ in get_redis().scan_iter("{a*}:allowance")),
        "seconds": round(seeded, 1),
        "compile_seconds": round(time.monotonic() - started - seeded, 1),
    }
    env.OUT.mkdir(parents=True, exist_ok=True)
    (env.OUT / "marketplace.json").write_text(json.dumps(manifest, indent=2))
    return manifest


if __name__ == "__main__":
    result = build()
    print(json.dumps({k: v for k, v in result.items() if k not in ("countries", "interests")}, indent=2))
