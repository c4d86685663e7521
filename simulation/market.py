"""A synthetic marketplace for the simulator: advertisers, campaigns, ads with hidden true rates, people.

Built straight into the database (bulk inserts, no per-object signals) with a seeded Random, so
the same seed builds the same marketplace. Every advertiser is funded through the ledger.
"""

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from accounts.models import Advertiser, User
from billing import services as billing_services
from campaigns.choices import BidStrategy, BudgetMode, Pacing, ReviewStatus
from campaigns.models import Ad, AdGroup, Campaign, Placement

PLACEMENTS = (  # key, floor CPM in US dollar micros, formats
    ("feed", 500_000, ["image", "video"]),
    ("stories", 800_000, ["image", "video"]),
    ("search", 200_000, ["image", "text"]),
)
TIME_ZONES = ("UTC", "UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")  # drawn from, so UTC is twice as likely
COUNTRIES = ("US", "DE", "GB", "FR", "JP", "BR", "IN", "CA")
DEVICES = ("mobile", "mobile", "mobile", "tablet", "desktop")
GENDERS = ("female", "male")
AGE_RANGES = ("18-24", "25-34", "35-44", "45-54", "55+")


@dataclass(frozen=True)
class Person:
    """Someone using the platform's apps: what an ad request says about them, and how click-happy they are."""

    user_id: str
    country: str
    device: str
    age: int
    gender: str
    affinity: float  # how click-happy this person is (a multiplier on every ad's true CTR)
    # The batch simulator's people say no more than the above; the live mode's also say which
    # language they speak, which operating system they use and what interests them.
    language: str | None = None
    os: str | None = None
    interests: tuple[str, ...] = ()


@dataclass
class Market:
    run: str
    placements: dict[str, str]  # placement key -> serving key (only the simulator knows it)
    advertisers: list[int]
    ad_groups: list[int]
    true_ctr: dict[int, float]  # ad id -> hidden true click-through rate
    true_cvr: dict[int, float]  # ad id -> hidden true conversion rate per click
    people: list[Person] = field(default_factory=list)
    first_days: dict[int, str] = field(default_factory=dict)  # new ad groups -> the local day they start serving


def first_whole_day(start: datetime, zone: ZoneInfo) -> date:
    """The first local day of `zone` that begins at or after `start` (the first a run holds entirely)."""
    local = start.astimezone(zone)
    return local.date() if local.time() == time.min else local.date() + timedelta(days=1)


def add_newcomers(market: Market, *, share: float, start: datetime, rng: random.Random) -> None:
    """Make `share` of the ad groups new: they start serving at their advertiser's first local midnight from `start`.

    The rest serve from before the run (and through a warm-up); these enter a settled marketplace
    with nothing learned, as ad groups are added on a platform every day, so the report measures a
    new ad group's first whole day.
    """
    chosen = sorted(rng.sample(market.ad_groups, round(share * len(market.ad_groups))))
    for group in AdGroup.objects.filter(pk__in=chosen).select_related("campaign__advertiser"):
        zone = ZoneInfo(group.campaign.advertiser.time_zone)
        day = first_whole_day(start, zone)
        AdGroup.objects.filter(pk=group.pk).update(start_time=datetime.combine(day, time.min, tzinfo=zone))
        market.first_days[group.pk] = day.isoformat()


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def draw_person(rng: random.Random, user_id: str) -> Person:
    """A person of the simulated population: country, device, age, gender and affinity, in that order from `rng`."""
    return Person(
        user_id=user_id,
        country=rng.choice(COUNTRIES),
        device=rng.choice(DEVICES),
        age=rng.randint(18, 70),
        gender=rng.choice(GENDERS),
        affinity=_log_uniform(rng, 0.5, 2.0),
    )


def draw_rates(rng: random.Random) -> tuple[float, float]:
    """An ad's hidden true click-through rate and its conversion rate per click, in that order from `rng`."""
    return min(_log_uniform(rng, 0.002, 0.05), 0.2), _log_uniform(rng, 0.01, 0.2)


DEFAULT_BUDGETS = (1_000_000, 10_000_000_000)  # 1.00 to 10,000.00 a day


def _countries(rng: random.Random, home: str) -> list[str]:
    """Where an ad group is shown: its advertiser's home market (55%), that and one or two more (25%), or everywhere."""
    draw = rng.random()
    if draw < 0.55:
        return [home]
    if draw < 0.8:
        return sorted({home, *rng.sample(COUNTRIES, rng.randint(1, 2))})
    return []


def _ages(rng: random.Random) -> list[str]:
    """Two or three neighbouring age ranges (40% of ad groups), or every age."""
    if rng.random() >= 0.4:
        return []
    width = rng.randint(2, 3)
    first = rng.randint(0, len(AGE_RANGES) - width)
    return list(AGE_RANGES[first : first + width])


def build(
    *,
    run: str,
    advertisers: int,
    people: int,
    rng: random.Random,
    start: datetime,
    staff: User,
    budgets: tuple[int, int] = DEFAULT_BUDGETS,
    request_weight: int = 1,
    time_zones: tuple[str, ...] = TIME_ZONES,
) -> Market:
    """The marketplace: `advertisers` advertisers with daily budgets log-uniform in `budgets` (micros), funded for the run.

    `request_weight` K: each simulated ad request stands for K of the real platform's, so every
    bid and floor is K times what one request is worth (see the simulate command).
    """
    from campaigns import services as campaign_services

    placements = {}
    for key, floor, formats in PLACEMENTS:
        placement_key = f"{run}-{key}"
        _, secret = campaign_services.placement_create(
            key=placement_key, name=f"Simulated {key}", formats=formats, floor_cpm_usd_micros=floor * request_weight
        )
        placements[placement_key] = secret
    placement_rows = {p.key: p for p in Placement.objects.filter(key__in=placements)}
    market = Market(run, placements, [], [], {}, {})
    created = Advertiser.objects.bulk_create(
        Advertiser(name=f"Sim {run} advertiser {n}", currency="USD", time_zone=rng.choice(time_zones)) for n in range(advertisers)
    )
    campaigns, groups, ads = [], [], []
    plans = []
    for advertiser in created:
        daily = int(_log_uniform(rng, budgets[0] / 1e6, budgets[1] / 1e6) * 1_000_000)
        campaign = Campaign(
            advertiser=advertiser, name="Always on", objective="traffic", budget_mode=BudgetMode.UNLIMITED, created_at=start
        )
        campaigns.append(campaign)
        plans.append((advertiser, campaign, daily))
    Campaign.objects.bulk_create(campaigns)
    group_placements = []
    for _, campaign, daily in plans:
        home = rng.choice(COUNTRIES)  # most advertisers sell in one market, some in a few, some everywhere
        for g in range(rng.choice((1, 1, 2))):
            strategy = rng.choice((BidStrategy.CPM, BidStrategy.CPM, BidStrategy.CPC))
            bid = (
                int(_log_uniform(rng, 1.0, 12.0) * 1_000_000)
                if strategy == BidStrategy.CPM
                else int(_log_uniform(rng, 0.1, 1.5) * 1_000_000)
            )
            group = AdGroup(
                campaign=campaign,
                name=f"Group {g}",
                countries=_countries(rng, home),
                age_ranges=_ages(rng),
                genders=[rng.choice(GENDERS)] if rng.random() < 0.15 else [],
                device_types=[] if rng.random() < 0.7 else ["mobile"],
                start_time=start - timedelta(days=1),
                budget_mode=BudgetMode.DAILY,
                budget_micros=max(daily // (g + 1), budgets[0]),
                pacing=Pacing.STANDARD if rng.random() < 0.9 else Pacing.ACCELERATED,
                bid_strategy=strategy,
                bid_micros=bid * request_weight,
                created_at=start,
            )
            groups.append(group)
            group_placements.append(rng.sample(sorted(placement_rows), rng.randint(1, len(placement_rows))))
    AdGroup.objects.bulk_create(groups)
    through = AdGroup.placements.through
    through.objects.bulk_create(
        through(adgroup_id=group.pk, placement_id=placement_rows[key].pk)
        for group, keys in zip(groups, group_placements, strict=True)
        for key in keys
    )
    for group in groups:
        for n in range(rng.choice((1, 2, 3))):
            ads.append(
                Ad(
                    ad_group=group,
                    format="image",
                    display_name=f"Sim {n}",
                    headline=f"Simulated ad {n}",
                    body="A simulated ad.",
                    media_url="https://cdn.example.com/sim.jpg",
                    landing_url="https://shop.example.com/",
                    call_to_action="learn_more",
                    review_status=ReviewStatus.APPROVED,
                    created_at=start,
                )
            )
    Ad.objects.bulk_create(ads)
    for ad in ads:
        market.true_ctr[ad.pk], market.true_cvr[ad.pk] = draw_rates(rng)
    for advertiser, _, daily in plans:
        # Enough money for every day of the run and more: budgets, not balances, are what is measured.
        billing_services.adjustment_post(
            staff=staff, advertiser=advertiser, amount_micros=daily * 30, reason=f"Simulation {run} funds"
        )
    market.advertisers = [advertiser.pk for advertiser in created]
    market.ad_groups = [group.pk for group in groups]
    market.people = [draw_person(rng, f"{run}-person-{n}") for n in range(people)]
    return market
