"""The value objects of the delivery path: what an app asks, what can win, what won.

Pure data, no ORM and no Redis: the targeting, auction and pacing cores work on these alone.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AdRequest:
    """One ad request from a placement, as validated by the decision endpoint."""

    placement: str
    user_key: str  # pseudonymous: HMAC of the app's user id, never the raw id
    country: str | None = None
    language: str | None = None
    device: str | None = None
    os: str | None = None
    age: int | None = None
    gender: str | None = None
    interests: frozenset[str] = frozenset()
    count: int = 1


@dataclass(frozen=True, slots=True)
class Targeting:
    """Who an ad group wants; an empty set means everyone."""

    countries: frozenset[str] = frozenset()
    age_ranges: tuple[tuple[int, int], ...] = ()  # inclusive (low, high) pairs
    genders: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    interests: frozenset[str] = frozenset()
    device_types: frozenset[str] = frozenset()
    operating_systems: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Candidate:
    """A serveable ad with everything the decision needs, compiled from PostgreSQL into the index."""

    ad_id: int
    ad_group_id: int
    campaign_id: int
    advertiser_id: int
    format: str
    creative: dict[str, object]  # display_name, headline, body, media_url, call_to_action, landing_url
    placements: frozenset[str]
    targeting: Targeting
    start_ts: float
    end_ts: float | None
    dayparting: frozenset[int]
    time_zone: str
    bid_strategy: str  # cpm | cpc | ocpm
    bid_micros: int  # in the advertiser's currency
    units_per_usd: float
    ad_group_daily_cap: int  # micros; 0 = none
    ad_group_lifetime_cap: int
    campaign_daily_cap: int
    campaign_lifetime_cap: int
    pacing: str
    frequency_impressions: int | None
    frequency_days: int | None
    ctr_alpha: float  # Beta posterior of the click-through rate
    ctr_beta: float
    cvr_alpha: float  # Beta posterior of the conversion rate per click
    cvr_beta: float
    rotates: bool = False  # its ad group has other ads: the one with the best sampled CTR is shown (learning)


@dataclass(frozen=True, slots=True)
class Scored:
    candidate: Candidate
    score: float  # eCPM in US dollar micros per 1,000 impressions
    p_ctr: float
    p_cvr: float


@dataclass(frozen=True, slots=True)
class Winner:
    """An ad that won a slot, with the price it pays."""

    candidate: Candidate
    score: float
    price_ecpm_usd: float  # second price, in US dollar micros per 1,000 impressions
    charge_micros: int  # in the advertiser's currency: per impression (cpm, ocpm) or per click (cpc)
    billed_on: str  # "impression" or "click"
    p_ctr: float = 0.0


@dataclass(frozen=True, slots=True)
class Placement:
    key: str
    floor_cpm_usd_micros: int
    formats: frozenset[str]
    prior_ctr: float = 0.01


@dataclass(slots=True)
class Snapshot:
    """The compiled index: candidates per placement key, and how to recognise each placement."""

    version: str
    placements: dict[str, Placement] = field(default_factory=dict)
    key_hashes: dict[str, str] = field(default_factory=dict)  # SHA-256 of the serving key -> placement key
    candidates: dict[str, list[Candidate]] = field(default_factory=dict)  # placement key -> candidates
    pixel_hashes: dict[str, int] = field(default_factory=dict)  # SHA-256 of a pixel key -> advertiser id
    currencies: frozenset[str] = frozenset()  # codes conversion values may be reported in
