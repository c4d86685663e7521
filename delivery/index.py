"""The serveable-ad index: compiled from PostgreSQL into a versioned Redis snapshot, held in each web process.

`compile_snapshot` (a Celery task on change, debounced, and every minute) reads everything the
decision needs, once, and publishes it under a content version. Web processes look at the version
at most once a second and swap to a new snapshot when it changes, so the decision path never runs
SQL. Live state that changes faster than the index — pacing throttles and budgets that ran out —
is read from Redis the same way, once a second.
"""

import hashlib
import json
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Prefetch

from accounts.models import Advertiser, Currency
from adplatform import clock
from adplatform.redis_client import get_redis
from campaigns.choices import BudgetMode, ReviewStatus, Status
from campaigns.models import Ad, AdGroup, Placement

from .charging import EXHAUSTED
from .models import AdPerformance, ConversionPixel, PlacementPerformance
from .targeting import age_ranges, candidate_index
from .types import Candidate, Snapshot, Targeting
from .types import Placement as PlacementInfo

VERSION_KEY = "delivery:index:version"
DATA_KEY = "delivery:index:data:{}"
THROTTLE_KEY = "delivery:throttle"  # hash: ad group id -> share of requests it may take (pacing)
TRAFFIC_KEY = "delivery:traffic:{hour}"  # hash per UTC hour (YYYYMMDDHH): placement -> ad requests (pacing's forecast)
TRAFFIC_TTL = 8 * 86_400
SNAPSHOT_TTL = 3600
REFRESH_SECONDS = 1.0
# Beta priors: a new ad's CTR starts at its placement's average with the weight of PRIOR_IMPRESSIONS
# impressions; its conversion rate at DEFAULT_CVR with the weight of PRIOR_CLICKS clicks.
PRIOR_IMPRESSIONS = 200.0
DEFAULT_CTR = 0.01
PRIOR_CLICKS = 20.0
DEFAULT_CVR = 0.05


def _cap(mode: str, micros: int, wanted: str) -> int:
    return micros if mode == wanted else 0


def _live_ad_groups(now: datetime) -> Any:
    return (
        AdGroup.objects.filter(
            status=Status.ACTIVE,
            campaign__status=Status.ACTIVE,
            campaign__advertiser__status=Advertiser.Status.ACTIVE,
        )
        .exclude(end_time__lte=now)
        .select_related("campaign__advertiser")
        .prefetch_related(
            Prefetch("placements", queryset=Placement.objects.filter(is_active=True)),
            "interests",
            Prefetch("ads", queryset=Ad.objects.filter(status=Status.ACTIVE, review_status=ReviewStatus.APPROVED)),
        )
    )


def build() -> dict[str, Any]:
    """Everything the decision path needs, as plain JSON-able data."""
    now = clock.now()
    rates = {code: float(rate) for code, rate in Currency.objects.values_list("code", "units_per_usd")}
    placement_stats = {row.placement_id: row for row in PlacementPerformance.objects.all()}
    placements: dict[str, dict[str, Any]] = {}
    for placement in Placement.objects.filter(is_active=True):
        placement_row = placement_stats.get(placement.pk)
        prior = (
            (placement_row.clicks + DEFAULT_CTR * PRIOR_IMPRESSIONS) / (placement_row.impressions + PRIOR_IMPRESSIONS)
            if placement_row
            else DEFAULT_CTR
        )
        placements[placement.key] = {
            "floor": placement.floor_cpm_usd_micros,
            "formats": list(placement.allowed_formats),
            "key_hash": placement.api_key_hash,
            "prior_ctr": prior,
        }
    ad_groups = list(_live_ad_groups(now))
    ad_ids = [ad.pk for ad_group in ad_groups for ad in ad_group.ads.all()]
    performance = {row.ad_id: row for row in AdPerformance.objects.filter(ad_id__in=ad_ids)}
    candidates = []
    for ad_group in ad_groups:
        campaign, advertiser = ad_group.campaign, ad_group.campaign.advertiser
        keys = [placement.key for placement in ad_group.placements.all()]
        for ad in ad_group.ads.all():
            fitting = [key for key in keys if ad.format in placements.get(key, {}).get("formats", ())]
            if not fitting:
                continue
            prior = min(placements[key]["prior_ctr"] for key in fitting)
            stats = performance.get(ad.pk)
            impressions, clicks, conversions = (stats.impressions, stats.clicks, stats.conversions) if stats else (0, 0, 0)
            candidates.append(
                {
                    "ad": ad.pk,
                    "ad_group": ad_group.pk,
                    "campaign": campaign.pk,
                    "advertiser": advertiser.pk,
                    "format": ad.format,
                    "creative": {
                        "display_name": ad.display_name,
                        "headline": ad.headline,
                        "body": ad.body,
                        "media_url": ad.media_url,
                        "call_to_action": ad.call_to_action,
                        "landing_url": ad.landing_url,
                    },
                    "placements": fitting,
                    "countries": ad_group.countries,
                    "age_ranges": ad_group.age_ranges,
                    "genders": ad_group.genders,
                    "languages": ad_group.languages,
                    "interests": [interest.key for interest in ad_group.interests.all()],
                    "device_types": ad_group.device_types,
                    "operating_systems": ad_group.operating_systems,
                    "start": ad_group.start_time.timestamp(),
                    "end": ad_group.end_time.timestamp() if ad_group.end_time else None,
                    "dayparting": ad_group.dayparting,
                    "time_zone": advertiser.time_zone,
                    "bid_strategy": ad_group.bid_strategy,
                    "bid": ad_group.bid_micros,
                    "rate": rates.get(advertiser.currency, 1.0),
                    "caps": [
                        _cap(ad_group.budget_mode, ad_group.budget_micros, BudgetMode.DAILY),
                        _cap(ad_group.budget_mode, ad_group.budget_micros, BudgetMode.LIFETIME),
                        _cap(campaign.budget_mode, campaign.budget_micros, BudgetMode.DAILY),
                        _cap(campaign.budget_mode, campaign.budget_micros, BudgetMode.LIFETIME),
                    ],
                    "pacing": ad_group.pacing,
                    "frequency": [ad_group.frequency_cap_impressions, ad_group.frequency_cap_days],
                    "ctr": [prior * PRIOR_IMPRESSIONS + clicks, (1 - prior) * PRIOR_IMPRESSIONS + max(impressions - clicks, 0)],
                    "cvr": [
                        DEFAULT_CVR * PRIOR_CLICKS + conversions,
                        (1 - DEFAULT_CVR) * PRIOR_CLICKS + max(clicks - conversions, 0),
                    ],
                }
            )
    pixels = dict(ConversionPixel.objects.filter(is_active=True).values_list("key_hash", "advertiser_id"))
    currencies = sorted(Currency.objects.values_list("code", flat=True))
    return {
        "compiled_at": now.isoformat(),
        "placements": placements,
        "candidates": candidates,
        "pixels": pixels,
        "currencies": currencies,
    }


def publish(data: dict[str, Any]) -> tuple[str, bool]:
    """Store the snapshot under its content version; returns (version, whether it changed)."""
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    content = json.dumps({k: v for k, v in data.items() if k != "compiled_at"}, sort_keys=True, default=str)
    version = hashlib.sha256(content.encode()).hexdigest()[:20]
    client = get_redis()
    current: Any = client.get(VERSION_KEY)
    if current is not None and current.decode() == version:
        client.expire(DATA_KEY.format(version), SNAPSHOT_TTL)
        return version, False
    previous: Any = client.get(DATA_KEY.format(current.decode())) if current is not None else None
    pipe = client.pipeline()
    pipe.set(DATA_KEY.format(version), zlib.compress(body.encode(), 3), ex=SNAPSHOT_TTL)
    pipe.set(VERSION_KEY, version)
    # A new version is published whenever anything changes (a posterior, after every spend posting).
    # The marks of budgets that ran out stay; those of budgets edited since the last version (raised,
    # another mode) go, and the advertisers' (a balance may have grown): the charge script marks
    # again what is still spent. Without the last version to compare with, every mark goes.
    if previous is None:
        pipe.delete(EXHAUSTED)
    else:
        before, after = _budgets(json.loads(zlib.decompress(previous))), _budgets(data)
        marks: list[bytes] = client.zrange(EXHAUSTED, 0, -1)  # type: ignore[assignment]  # bytes: the client does not decode
        stale = [
            member for member in marks if member.startswith(b"a:") or before.get(member.decode()) != after.get(member.decode())
        ]
        if stale:
            pipe.zrem(EXHAUSTED, *stale)
    pipe.execute()
    return version, True


def _budgets(data: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Each ad group's and campaign's budgets (daily, lifetime) in a snapshot, by the name of its exhausted mark."""
    budgets: dict[str, tuple[int, int]] = {}
    for row in data["candidates"]:
        caps = row["caps"]
        budgets[f"ag:{row['ad_group']}"] = (caps[0], caps[1])
        budgets[f"c:{row['campaign']}"] = (caps[2], caps[3])
    return budgets


def compile_snapshot() -> tuple[str, bool]:
    """Build the index from PostgreSQL and publish it."""
    return publish(build())


def load(version: str, client: Any = None) -> Snapshot | None:
    """The published snapshot `version` read back from Redis (None once it has expired)."""
    raw: Any = (client or get_redis()).get(DATA_KEY.format(version))
    return parse(version, raw) if raw is not None else None


def parse(version: str, raw: bytes) -> Snapshot:
    """A published snapshot as the decision path's value objects."""
    data = json.loads(zlib.decompress(raw))
    snapshot = Snapshot(version=version)
    for key, info in data["placements"].items():
        snapshot.placements[key] = PlacementInfo(key, info["floor"], frozenset(info["formats"]), info["prior_ctr"])
        snapshot.key_hashes[info["key_hash"]] = key
        snapshot.candidates[key] = []
    snapshot.pixel_hashes = {key_hash: int(advertiser_id) for key_hash, advertiser_id in data.get("pixels", {}).items()}
    snapshot.currencies = frozenset(data.get("currencies", ()))
    ads_per_group = Counter(row["ad_group"] for row in data["candidates"])
    for row in data["candidates"]:
        frequency = row["frequency"]
        candidate = Candidate(
            ad_id=row["ad"],
            ad_group_id=row["ad_group"],
            campaign_id=row["campaign"],
            advertiser_id=row["advertiser"],
            format=row["format"],
            creative=row["creative"],
            placements=frozenset(row["placements"]),
            targeting=Targeting(
                countries=frozenset(row["countries"]),
                age_ranges=age_ranges(row["age_ranges"]),
                genders=frozenset(row["genders"]),
                languages=frozenset(row["languages"]),
                interests=frozenset(row["interests"]),
                device_types=frozenset(row["device_types"]),
                operating_systems=frozenset(row["operating_systems"]),
            ),
            start_ts=row["start"],
            end_ts=row["end"],
            dayparting=frozenset(row["dayparting"]),
            time_zone=row["time_zone"],
            bid_strategy=row["bid_strategy"],
            bid_micros=row["bid"],
            units_per_usd=row["rate"],
            ad_group_daily_cap=row["caps"][0],
            ad_group_lifetime_cap=row["caps"][1],
            campaign_daily_cap=row["caps"][2],
            campaign_lifetime_cap=row["caps"][3],
            pacing=row["pacing"],
            frequency_impressions=frequency[0],
            frequency_days=frequency[1],
            ctr_alpha=row["ctr"][0],
            ctr_beta=row["ctr"][1],
            cvr_alpha=row["cvr"][0],
            cvr_beta=row["cvr"][1],
            rotates=ads_per_group[row["ad_group"]] > 1,
        )
        for key in candidate.placements:
            snapshot.candidates.setdefault(key, []).append(candidate)
    return snapshot


@dataclass
class LiveState:
    """What changes faster than the index: pacing throttles and budgets or balances that ran out."""

    throttles: dict[int, float] = field(default_factory=dict)
    exhausted: frozenset[str] = frozenset()


class IndexHolder:
    """This process's copy of the snapshot and live state, refreshed at most once a second."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.live = LiveState()
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._requests: dict[str, int] = {}  # ad requests per placement since the last refresh

    def count_request(self, placement: str) -> None:
        """Count one ad request of `placement` (sent to Redis with the next refresh, for pacing's traffic profile)."""
        self._requests[placement] = self._requests.get(placement, 0) + 1  # a lost increment under threads is noise

    def current(self) -> tuple[Snapshot | None, LiveState]:
        """The snapshot and live state to decide with (reloaded when the published version changed)."""
        now = time.monotonic()
        if now - self._checked_at >= REFRESH_SECONDS or self.snapshot is None:
            with self._lock:
                if now - self._checked_at >= REFRESH_SECONDS or self.snapshot is None:
                    self._refresh()
                    self._checked_at = now
        return self.snapshot, self.live

    def _refresh(self) -> None:
        client = get_redis()
        pipe = client.pipeline()
        pipe.get(VERSION_KEY)
        pipe.hgetall(THROTTLE_KEY)
        pipe.zrangebyscore(EXHAUSTED, f"({clock.now().timestamp()}", "+inf")  # in force until (not at) the score
        self._queue_traffic(pipe)
        version, throttles, exhausted, *_ = pipe.execute()  # bytes, as the client does not decode
        self.live = LiveState(
            throttles={int(key): float(value) for key, value in throttles.items()},
            exhausted=frozenset(member.decode() for member in exhausted),
        )
        if version is None:
            self.snapshot = None
            return
        version = version.decode()
        if self.snapshot is not None and self.snapshot.version == version:
            return
        snapshot = load(version, client)
        if snapshot is not None:
            for key in snapshot.placements:  # built here once, not by the first request of each placement
                candidate_index(snapshot, key)
            self.snapshot = snapshot

    def _queue_traffic(self, pipe: Any) -> None:
        counted, self._requests = self._requests, {}
        if counted:
            key = TRAFFIC_KEY.format(hour=clock.now().strftime("%Y%m%d%H"))
            for placement, requests in counted.items():
                pipe.hincrby(key, placement, requests)
            pipe.expire(key, TRAFFIC_TTL)

    def flush_traffic(self) -> None:
        """Send the counted ad requests to Redis now (the simulator, between simulated minutes)."""
        pipe = get_redis().pipeline()
        self._queue_traffic(pipe)
        pipe.execute()

    def reset(self) -> None:
        """Forget everything (tests, and after publishing in the same process)."""
        with self._lock:
            self.snapshot, self.live, self._checked_at = None, LiveState(), 0.0


holder = IndexHolder()
