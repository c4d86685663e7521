"""The reporting benchmark's data: a marketplace, a day of 10 million events, and 90 days of one big advertiser's rollups.

- `build_marketplace`: drops and recreates the benchmark database (bench.reporting.env), migrates
  it, and bulk-inserts 200 advertisers in a mix of currencies and time zones with about 1,000 ads,
  plus the report benchmark's advertiser: 20 campaigns x 5 ad groups x 10 ads = 1,000 ads.
- `insert_events`: a day of traffic straight into the event store with `generate_series` (daily
  partitions created as delivery.services.ensure_partitions makes them), in arrival order so `seq`
  follows time as the consumer stores it: about 45% served ads, 48% impressions, 6% clicks and
  1% conversions, 3% invalid, 6% unbilled, skewed over ads (a few ads get most of the traffic),
  each ad on about 5 placements and 4 countries, 4 devices, 2 million people.
- `seed_report_rollups`: 90 days of rollup rows for the big advertiser written directly (every ad
  active every day: 90,000 daily-per-ad rows, about a million with placement, country and device).
"""

import random
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from . import env

ADVERTISERS = 200
SEED = 20261129
BIG_ADVERTISER = "Bench big advertiser"
BIG_CAMPAIGNS, BIG_AD_GROUPS, BIG_ADS = 20, 5, 10
PLACEMENTS = [
    "feed", "stories", "reels", "search-top", "search-inline", "explore", "video-preroll", "video-midroll", "sidebar",
    "article-inline", "article-end", "home-banner", "notifications", "profile", "marketplace", "checkout", "music-feed",
    "games-lobby", "news-feed", "maps",
]  # fmt: skip
COUNTRIES = [
    "US", "DE", "GB", "FR", "BR", "IN", "JP", "CA", "AU", "ES", "IT", "NL", "MX", "PL", "SE", "CH", "AT", "BE", "KR", "TR",
    "ID", "ZA", "AR", "NG", "EG",
]  # fmt: skip
DEVICES = ["mobile", "tablet", "desktop", "connected_tv"]
ACCOUNTS = [
    ("USD", "America/New_York", 25), ("USD", "America/Los_Angeles", 10), ("EUR", "Europe/Berlin", 15),
    ("EUR", "Europe/Paris", 8), ("GBP", "Europe/London", 8), ("JPY", "Asia/Tokyo", 5), ("BRL", "America/Sao_Paulo", 5),
    ("INR", "Asia/Kolkata", 6), ("CAD", "America/Toronto", 4), ("AUD", "Australia/Sydney", 4), ("EUR", "UTC", 5),
    ("NZD", "Pacific/Auckland", 2), ("USD", "Asia/Kathmandu", 1), ("PLN", "Europe/Warsaw", 2),
]  # fmt: skip


def build_marketplace(*, seed: int = SEED) -> dict[str, Any]:
    """Reset and migrate the database, then the advertisers, campaigns, ad groups and ads (Django must be set up after)."""
    env.PLACE.reset_database()
    env.PLACE.migrate()
    import django

    django.setup()
    from accounts.models import Advertiser
    from campaigns.models import Ad, AdGroup, Campaign

    rng = random.Random(seed)
    accounts = [(currency, zone) for currency, zone, share in ACCOUNTS for _ in range(share)]
    advertisers = Advertiser.objects.bulk_create(
        [
            Advertiser(name=f"Bench advertiser {n:03d}", currency=currency, time_zone=zone)
            for n, (currency, zone) in enumerate(rng.choice(accounts) for _ in range(ADVERTISERS))
        ]
        + [Advertiser(name=BIG_ADVERTISER, currency="USD", time_zone="America/New_York")]
    )
    # campaigns, ad groups per campaign, ads per ad group (None: two or three)
    shape: dict[int, tuple[int, int, int | None]] = {advertiser.pk: (2, 1, None) for advertiser in advertisers[:-1]}
    shape[advertisers[-1].pk] = (BIG_CAMPAIGNS, BIG_AD_GROUPS, BIG_ADS)
    campaigns = Campaign.objects.bulk_create(
        Campaign(advertiser=advertiser, name=f"Campaign {n}", objective="traffic", budget_mode="unlimited", budget_micros=0)
        for advertiser in advertisers
        for n in range(shape[advertiser.pk][0])
    )
    ad_groups = AdGroup.objects.bulk_create(
        AdGroup(
            campaign=campaign,
            name=f"Ad group {n}",
            budget_mode="daily",
            budget_micros=50_000_000,
            bid_strategy=rng.choices(["cpm", "cpc", "ocpm"], weights=[6, 3, 1])[0],
            bid_micros=rng.randint(500_000, 5_000_000),
        )
        for campaign in campaigns
        for n in range(shape[campaign.advertiser_id][1])
    )
    Ad.objects.bulk_create(
        (
            Ad(
                ad_group=ad_group,
                format="image",
                display_name="Bench brand",
                headline=f"Offer {n} of ad group {ad_group.pk}",
                landing_url="https://shop.example.com/",
                review_status="approved",
            )
            for ad_group in ad_groups
            for n in range(shape[ad_group.campaign.advertiser_id][2] or rng.choice([2, 2, 3]))
        ),
        batch_size=2000,
    )
    big = advertisers[-1]
    return {
        "advertisers": len(advertisers) - 1,
        "ads": Ad.objects.exclude(ad_group__campaign__advertiser=big).count(),
        "big_advertiser": big.pk,
        "big_advertiser_ads": Ad.objects.filter(ad_group__campaign__advertiser=big).count(),
    }


EVENTS_SQL = """
INSERT INTO delivery_event (occurred_at, event_id, kind, status, reason, request_id, ad_id, ad_group_id, campaign_id,
    advertiser_id, placement, country, device, user_key, billed_on, price_micros, cost_micros, value_micros, currency)
SELECT %(start)s::timestamptz + (g - %(first)s) * %(step)s * interval '1 microsecond',
       md5('event-' || g)::uuid, k.kind, s.status,
       CASE s.status WHEN 'invalid' THEN 'duplicate' WHEN 'unbilled' THEN 'ag_daily_budget' ELSE '' END,
       md5('request-' || (g / 3))::uuid, a.ad_id, a.ad_group_id, a.campaign_id, a.advertiser_id,
       (%(placements)s::text[])[1 + (a.n + (h.h2 / 7) %% 5) %% 20],
       (%(countries)s::text[])[1 + (a.n * 3 + (h.h3 / 11) %% 4) %% 25],
       (%(devices)s::text[])[1 + (h.h1 / 13) %% 4],
       substr(md5('person-' || (h.h2 / 17) %% 2000000), 1, 32),
       a.billed_on, p.price,
       CASE WHEN s.status = 'valid' AND k.kind = a.billed_on THEN p.price ELSE 0 END,
       CASE WHEN k.kind = 'conversion' THEN 1000000 + h.h3 %% 99000000 ELSE 0 END,
       CASE WHEN k.kind = 'conversion' THEN a.currency ELSE '' END
FROM generate_series(%(first)s::bigint, %(last)s::bigint) g
CROSS JOIN LATERAL (
    SELECT abs(hashint8(g)::bigint) AS h1, abs(hashint8(g + 1000000007)::bigint) AS h2, abs(hashint8(g * 31 + 7)::bigint) AS h3
) h
CROSS JOIN LATERAL (
    SELECT CASE WHEN h.h1 %% 1000 < 450 THEN 'serve' WHEN h.h1 %% 1000 < 930 THEN 'impression'
                WHEN h.h1 %% 1000 < 990 THEN 'click' ELSE 'conversion' END AS kind
) k
CROSS JOIN LATERAL (
    SELECT CASE WHEN k.kind = 'serve' THEN 'valid' WHEN h.h3 %% 100 < 3 THEN 'invalid'
                WHEN h.h3 %% 100 < 9 AND k.kind <> 'conversion' THEN 'unbilled' ELSE 'valid' END AS status
) s
JOIN bench_ads a ON a.n = floor(power((h.h2 %% 1000003) / 1000003.0, 2.5) * %(ads)s)::int
CROSS JOIN LATERAL (
    SELECT CASE WHEN a.billed_on = 'click' THEN 50000 + h.h3 %% 450000 ELSE 200 + h.h3 %% 4000 END AS price
) p
"""


def insert_events(*, day: date, count: int, hours: int = 24, first: int = 0, chunk: int = 1_000_000, log: Any = print) -> float:
    """`count` events spread evenly over the first `hours` of UTC `day` (numbered from `first`), in arrival order.

    Returns the seconds it took.
    """
    from django.db import connection

    from accounts.models import Advertiser
    from adplatform import clock
    from delivery import services as delivery_services

    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with clock.frozen(start + timedelta(hours=12)):
        delivery_services.ensure_partitions(days_ahead=1, days_back=1)
    big = Advertiser.objects.get(name=BIG_ADVERTISER).pk
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_ads")
        cursor.execute(
            """
            CREATE TEMP TABLE bench_ads AS
            SELECT (row_number() OVER (ORDER BY ad.id) - 1)::int AS n, ad.id AS ad_id, ad.ad_group_id, ag.campaign_id,
                   c.advertiser_id, CASE ag.bid_strategy WHEN 'cpc' THEN 'click' ELSE 'impression' END AS billed_on,
                   adv.currency
            FROM campaigns_ad ad JOIN campaigns_adgroup ag ON ag.id = ad.ad_group_id
            JOIN campaigns_campaign c ON c.id = ag.campaign_id JOIN accounts_advertiser adv ON adv.id = c.advertiser_id
            WHERE c.advertiser_id <> %s
            """,
            [big],
        )
        cursor.execute("SELECT count(*) FROM bench_ads")
        ads = cursor.fetchone()[0]
        cursor.execute("ANALYZE bench_ads")
        step = hours * 3_600_000_000 // count  # microseconds between two events
        for low in range(first, first + count, chunk):
            high = min(low + chunk, first + count) - 1
            parameters = {
                "start": start + timedelta(microseconds=(low - first) * step), "first": low, "last": high, "step": step,
                "ads": ads, "placements": PLACEMENTS, "countries": COUNTRIES, "devices": DEVICES,
            }  # fmt: skip
            cursor.execute(EVENTS_SQL, parameters)
            log(f"  events {high + 1 - first:>11,} of {count:,}  ({time.monotonic() - started:.0f} s)")
        cursor.execute("VACUUM ANALYZE delivery_event")  # as autovacuum would have by then
    return time.monotonic() - started


def seed_report_rollups(*, end: date, days: int = 90) -> dict[str, int]:
    """The big advertiser's rollup rows for the `days` days up to `end`: every ad every day, realistic breakdowns."""
    from django.db import connection

    from accounts.models import Advertiser

    big = Advertiser.objects.get(name=BIG_ADVERTISER).pk
    start = end - timedelta(days=days - 1)
    with connection.cursor() as cursor:
        for table in ("reporting_daily", "reporting_daily_ad", "reporting_hourly"):
            cursor.execute(f"DELETE FROM {table} WHERE advertiser_id = %s", [big])  # noqa: S608 - fixed names
        # Each ad shows on 3 placements, in 4 countries, on 3 devices; on a given day about a third of the 36
        # combinations have traffic. Figures are consistent: clicks <= impressions, cost from a CPM.
        cursor.execute(
            """
            INSERT INTO reporting_daily (advertiser_id, campaign_id, ad_group_id, ad_id, local_date, placement, country,
                device, requests_won, impressions, clicks, conversions, conversion_value_micros, cost_micros, invalid_events)
            SELECT c.advertiser_id, ag.campaign_id, ad.ad_group_id, ad.id, d::date,
                   (%(placements)s::text[])[1 + (ad.id + combo / 12) %% 20],
                   (%(countries)s::text[])[1 + (ad.id * 3 + (combo / 3) %% 4) %% 25],
                   (%(devices)s::text[])[1 + combo %% 3],
                   imp + imp / 10, imp, imp / 60, imp / 900, (imp / 900) * 25000000, imp * 2500, imp / 40
            FROM campaigns_ad ad JOIN campaigns_adgroup ag ON ag.id = ad.ad_group_id
            JOIN campaigns_campaign c ON c.id = ag.campaign_id
            CROSS JOIN generate_series(%(start)s::date, %(end)s::date, interval '1 day') d
            CROSS JOIN generate_series(0, 35) combo
            CROSS JOIN LATERAL (
                SELECT abs(hashint8(ad.id * 1000003 + combo * 1009 + (d::date - '2000-01-01'::date))::bigint) AS h
            ) r
            CROSS JOIN LATERAL (SELECT (50 + r.h %% 3000)::bigint AS imp) m
            WHERE c.advertiser_id = %(big)s AND r.h %% 3 = 0
            """,
            {"start": start, "end": end, "big": big, "placements": PLACEMENTS, "countries": COUNTRIES, "devices": DEVICES},
        )
        daily = cursor.rowcount
        cursor.execute(
            """
            INSERT INTO reporting_daily_ad (advertiser_id, campaign_id, ad_group_id, ad_id, local_date, requests_won,
                impressions, clicks, conversions, conversion_value_micros, cost_micros, invalid_events)
            SELECT advertiser_id, campaign_id, ad_group_id, ad_id, local_date, sum(requests_won), sum(impressions),
                   sum(clicks), sum(conversions), sum(conversion_value_micros), sum(cost_micros), sum(invalid_events)
            FROM reporting_daily WHERE advertiser_id = %s GROUP BY 1, 2, 3, 4, 5
            """,
            [big],
        )
        daily_ad = cursor.rowcount
        cursor.execute("VACUUM ANALYZE reporting_daily")
        cursor.execute("VACUUM ANALYZE reporting_daily_ad")
    return {"daily_rows": daily, "daily_ad_rows": daily_ad}


def seed_reach_sketches(*, end: date, days: int = 90) -> dict[str, int]:
    """Closed days with reach sketches for the big advertiser's ad groups: 100 ad groups x `days` days.

    Each ad group reaches a few hundred to a few thousand people a day out of its own audience of
    20,000, overlapping from day to day and with its campaign's other ad groups, so merging them
    is a real union. Built with PFADD in the benchmark's Redis, then kept as closing a day keeps them.
    """
    from django.db import connection

    from accounts.models import Advertiser
    from adplatform import clock
    from adplatform.redis_client import get_redis
    from campaigns.models import AdGroup
    from reporting.models import ClosedDay, ReachSketch

    big = Advertiser.objects.get(name=BIG_ADVERTISER)
    rng = random.Random(SEED)
    client = get_redis()
    start = end - timedelta(days=days - 1)
    ReachSketch.objects.filter(advertiser=big).delete()
    ClosedDay.objects.filter(advertiser=big).delete()
    sketches = []
    for ad_group in AdGroup.objects.filter(campaign__advertiser=big).order_by("pk"):
        audience = 20_000 * (ad_group.campaign_id % 7)  # ad groups of a campaign share an audience
        for n in range(days):
            day = start + timedelta(days=n)
            first = audience + rng.randrange(20_000)
            people = [f"p{audience + (first + k) % 20_000}" for k in range(int(300 * rng.paretovariate(1.5)) % 5000)]
            key = f"bench:reach:{ad_group.pk}:{day}"
            pipe = client.pipeline(transaction=False)
            pipe.pfadd(key, *people) if people else pipe.pfadd(key)
            pipe.get(key)
            pipe.pfcount(key)
            pipe.delete(key)
            _, sketch, count, _ = pipe.execute()
            sketches.append(
                ReachSketch(
                    advertiser_id=big.pk, campaign_id=ad_group.campaign_id, ad_group_id=ad_group.pk, local_date=day,
                    sketch=sketch, people=count,
                )
            )  # fmt: skip
    ReachSketch.objects.bulk_create(sketches, batch_size=2000)
    ClosedDay.objects.bulk_create(
        ClosedDay(advertiser=big, local_date=start + timedelta(days=n), closed_at=clock.now()) for n in range(days)
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(length(sketch)) FROM reporting_reachsketch WHERE advertiser_id = %s", [big.pk])
        size = cursor.fetchone()[0]
    return {"reach_sketches": len(sketches), "reach_sketch_bytes": int(size)}
