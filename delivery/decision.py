"""The decision: from an app's ad request to the winning ads and their signed tracking links.

Reads only the in-process index and Redis (one MGET of the winners' frequency counters, one
pipelined XADD of the served events): never SQL.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from random import Random
from typing import Any

from redis import Redis

from . import auction, links
from .charging import STREAM, frequency_key
from .index import LiveState
from .targeting import in_schedule, matches
from .types import AdRequest, Candidate, Snapshot, Winner

MAX_ADS = 5
MAX_AUCTION_ROUNDS = 4
DEVICES = frozenset({"mobile", "tablet", "desktop", "connected_tv"})
OPERATING_SYSTEMS = frozenset({"android", "ios", "windows", "macos", "linux"})
GENDERS = frozenset({"female", "male"})


class RequestError(ValueError):
    """A malformed ad request; `field` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Unauthorized(Exception):  # noqa: N818 - named for the HTTP answer it becomes
    """No placement answers to this key, or the key belongs to another placement."""


def _text(body: dict[str, Any], name: str, *, required: bool = False, max_length: int = 64) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise RequestError(name, "This field is required.")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise RequestError(name, f"Send a non-empty string of at most {max_length} characters.")
    return value.strip()


def _code(body: dict[str, Any], name: str, length: int, transform: Any) -> str | None:
    value = _text(body, name, max_length=length)
    if value is None:
        return None
    if len(value) != length or not value.isascii() or not value.isalpha():
        raise RequestError(name, f"Send a {length}-letter code.")
    return transform(value)


def _choice(body: dict[str, Any], name: str, allowed: frozenset[str]) -> str | None:
    value = _text(body, name, max_length=20)
    if value is not None and value.lower() not in allowed:
        raise RequestError(name, f"Choose one of: {', '.join(sorted(allowed))}.")
    return value.lower() if value is not None else None


def parse_request(body: Any, *, user_key: Any = links.user_key) -> AdRequest:
    """A validated AdRequest, or RequestError naming the field."""
    if not isinstance(body, dict):
        raise RequestError("body", "Send a JSON object.")
    unknown = set(body) - {"placement", "user_id", "country", "language", "device", "os", "age", "gender", "interests", "count"}
    if unknown:
        raise RequestError(sorted(unknown)[0], "Unknown field.")
    placement = _text(body, "placement", required=True, max_length=50)
    user_id = _text(body, "user_id", required=True, max_length=128)
    age = body.get("age")
    if age is not None and (isinstance(age, bool) or not isinstance(age, int) or not 0 < age < 130):
        raise RequestError("age", "Send a whole number of years.")
    interests = body.get("interests", [])
    if (
        not isinstance(interests, list)
        or len(interests) > 50
        or not all(isinstance(item, str) and len(item) <= 50 for item in interests)
    ):
        raise RequestError("interests", "Send a list of at most 50 interest keys.")
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_ADS:
        raise RequestError("count", f"Ask for 1 to {MAX_ADS} ads.")
    return AdRequest(
        placement=placement or "",
        user_key=user_key(user_id),
        country=_code(body, "country", 2, str.upper),
        language=_code(body, "language", 2, str.lower),
        device=_choice(body, "device", DEVICES),
        os=_choice(body, "os", OPERATING_SYSTEMS),
        age=age,
        gender=_choice(body, "gender", GENDERS),
        interests=frozenset(interests),
        count=count,
    )


def placement_for(snapshot: Snapshot, api_key: str, requested: str) -> str:
    """The placement a serving key belongs to; it must be the one the request names."""
    placement = snapshot.key_hashes.get(hashlib.sha256(api_key.encode()).hexdigest()) if api_key else None
    if placement is None or placement != requested:
        raise Unauthorized()
    return placement


def eligible(candidates: list[Candidate], request: AdRequest, live: LiveState, moment: datetime, rng: Random) -> list[Candidate]:
    """Candidates that may show now: schedule, targeting, budgets and balance left, pacing gate open."""
    exhausted, throttles = live.exhausted, live.throttles
    chosen = []
    for candidate in candidates:
        if not in_schedule(candidate, moment) or not matches(candidate.targeting, request):
            continue
        if exhausted and (
            f"ag:{candidate.ad_group_id}" in exhausted
            or f"c:{candidate.campaign_id}" in exhausted
            or f"a:{candidate.advertiser_id}" in exhausted
        ):
            continue
        share = throttles.get(candidate.ad_group_id)
        if share is not None and rng.random() >= share:
            continue
        chosen.append(candidate)
    return chosen


def _capped(client: Redis, winners: list[Winner], request: AdRequest) -> set[int]:
    """Ad groups among the winners whose frequency cap this person has reached."""
    capped = [winner.candidate for winner in winners if winner.candidate.frequency_impressions]
    if not capped:
        return set()
    counts = client.mget([frequency_key(c.advertiser_id, c.ad_group_id, request.user_key) for c in capped])
    return {
        candidate.ad_group_id
        for candidate, count in zip(capped, counts, strict=True)
        if count is not None and int(count) >= (candidate.frequency_impressions or 0)
    }


@dataclass(frozen=True)
class Decision:
    request_id: str
    winners: list[Winner]


def decide(snapshot: Snapshot, live: LiveState, request: AdRequest, client: Redis, *, moment: datetime, rng: Random) -> Decision:
    """Run the auction for one request; winners past a frequency cap give way to the next best."""
    placement = snapshot.placements[request.placement]
    candidates = [c for c in snapshot.candidates.get(request.placement, ()) if c.format in placement.formats]
    pool = [auction.score(candidate, rng) for candidate in eligible(candidates, request, live, moment, rng)]
    winners: list[Winner] = []
    for _ in range(MAX_AUCTION_ROUNDS):
        winners = auction.run_auction(pool, floor_ecpm_usd=placement.floor_cpm_usd_micros, slots=request.count)
        capped = _capped(client, winners, request)
        if not capped:
            break
        pool = [entry for entry in pool if entry.candidate.ad_group_id not in capped]
    else:
        winners = []
    return Decision(str(uuid.uuid4()), winners)


def render(decision: Decision, request: AdRequest, client: Redis, *, base_url: str, moment: datetime) -> dict[str, Any]:
    """The response body, with signed links; the served events go to the stream in one round trip."""
    served_at = int(moment.timestamp())
    pipe = client.pipeline(transaction=False)
    ads = []
    for winner in decision.winners:
        candidate = winner.candidate
        served = links.Served(
            request_id=decision.request_id,
            ad_id=candidate.ad_id,
            ad_group_id=candidate.ad_group_id,
            campaign_id=candidate.campaign_id,
            advertiser_id=candidate.advertiser_id,
            placement=request.placement,
            billed_on=winner.billed_on,
            price_micros=winner.charge_micros,
            user_key=request.user_key,
            country=request.country or "",
            device=request.device or "",
            served_at=served_at,
            expires_at=served_at + links.LINK_LIFETIME_SECONDS,
            landing_url=str(candidate.creative["landing_url"]),
        )
        ads.append(
            {
                "ad_id": candidate.ad_id,
                "ad_group_id": candidate.ad_group_id,
                "campaign_id": candidate.campaign_id,
                "advertiser_id": candidate.advertiser_id,
                "format": candidate.format,
                "display_name": candidate.creative["display_name"],
                "headline": candidate.creative["headline"],
                "body": candidate.creative["body"],
                "media_url": candidate.creative["media_url"],
                "call_to_action": candidate.creative["call_to_action"],
                "impression_url": f"{base_url}/t/v1/i?{links.sign(served, 'i')}",
                "click_url": f"{base_url}/t/v1/c?{links.sign(served, 'c')}",
            }
        )
        pipe.xadd(STREAM, event_fields("serve", served, status="valid", at=moment.timestamp()))
    if ads:
        pipe.execute()
    return {"request_id": decision.request_id, "ads": ads}


def event_fields(kind: str, served: links.Served, *, status: str, at: float, cost: int = 0, reason: str = "") -> dict[Any, Any]:
    """The stream entry for an event about a served ad (the charge script adds status and cost itself)."""
    fields: dict[Any, Any] = {
        "k": kind,
        "t": f"{at:.6f}",
        "r": served.request_id,
        "a": served.ad_id,
        "g": served.ad_group_id,
        "c": served.campaign_id,
        "v": served.advertiser_id,
        "p": served.placement,
        "co": served.country,
        "d": served.device,
        "u": served.user_key,
        "b": served.billed_on,
        "pr": served.price_micros,
    }
    if kind == "serve":
        fields.update(status=status, cost=cost, reason=reason)
    return fields
