"""The decision: from an app's ad request to the winning ads and their signed tracking links.

Reads only the in-process index and Redis (one MGET of the winners' frequency, budget and money
counters, one pipelined XADD of the served events): never SQL.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

from redis import Redis

from adplatform.text import is_utf8

from . import auction, links
from .charging import (
    STREAM,
    ad_group_day_key,
    ad_group_life_key,
    allowance_key,
    campaign_day_key,
    campaign_life_key,
    charged_key,
    frequency_key,
)
from .index import LiveState
from .targeting import CandidateIndex, candidate_index, in_schedule, matches
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
    if not is_utf8(value):
        raise RequestError(name, "Send valid Unicode text (no unpaired surrogates).")
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


class PacingGate:
    """The pacing gate: an ad group with throttle t enters t of the auctions it is eligible for, evenly spaced.

    Each throttled ad group carries a credit in [0, 1): every request it is eligible for adds t, and
    it enters the auction when the credit reaches 1, which pays 1. At t = 0.01 it enters every
    hundredth such request, not a random hundredth of them: an ad group that wins a few dozen
    events a day wins them along its day instead of in the clusters and droughts a coin per request
    makes (at 40 events a day, four in an hour where two were due is 5% of its budget ahead of its
    curve). A credit starts at a random phase, so ad groups at the same throttle do not all enter
    the same requests; with a fresh gate per request, that phase is the coin. One per process: each
    decision worker spaces its own share of the traffic. One decision per ad group and request (at
    its first eligible ad), whatever its number of ads: the throttle is the share of auctions the
    ad group enters, not of its ads'.
    """

    def __init__(self) -> None:
        self.credits: dict[int, float] = {}

    def opens(self, gates: dict[int, bool], ad_group_id: int, throttles: dict[int, float], rng: Random) -> bool:
        """Whether `ad_group_id` takes part in this request's auction (`gates`: this request's decisions so far)."""
        open_ = gates.get(ad_group_id)
        if open_ is None:
            share = throttles.get(ad_group_id)
            open_ = gates[ad_group_id] = share is None or self._enters(ad_group_id, share, rng)
        return open_

    def _enters(self, ad_group_id: int, share: float, rng: Random) -> bool:
        """Raise the ad group's credit by its throttle; it enters when the credit reaches 1, which pays 1."""
        credit = self.credits.get(ad_group_id)
        credit = (rng.random() if credit is None else credit) + share
        self.credits[ad_group_id] = credit - 1.0 if credit >= 1.0 else credit
        return credit >= 1.0

    def forget(self, throttles: dict[int, float]) -> None:
        """Drop the credits of ad groups no longer throttled (one that is again starts at a new phase)."""
        if len(self.credits) > len(throttles):
            self.credits = {key: value for key, value in self.credits.items() if key in throttles}


def _gate_for(gate: PacingGate | None, throttles: dict[int, float]) -> PacingGate:
    """The gate a request decides through (None: a fresh one, the coin), rid of credits no longer throttled."""
    gate = gate or PacingGate()
    gate.forget(throttles)
    return gate


def eligible(
    candidates: list[Candidate],
    request: AdRequest,
    live: LiveState,
    moment: datetime,
    rng: Random,
    gate: PacingGate | None = None,
) -> list[Candidate]:
    """Candidates that may show now: schedule, targeting, budgets and balance left, pacing gate open.

    The definition, one candidate at a time; `decide` gets the same list from `eligible_in`. `gate`
    carries the pacing gate's credits from request to request (None: a fresh one, a coin per request).
    """
    exhausted, throttles = live.exhausted, live.throttles
    gate = _gate_for(gate, throttles)
    chosen = []
    gates: dict[int, bool] = {}
    for candidate in candidates:
        if not in_schedule(candidate, moment) or not matches(candidate.targeting, request):
            continue
        if exhausted and (
            f"ag:{candidate.ad_group_id}" in exhausted
            or f"c:{candidate.campaign_id}" in exhausted
            or f"a:{candidate.advertiser_id}" in exhausted
        ):
            continue
        if not gate.opens(gates, candidate.ad_group_id, throttles, rng):
            continue
        chosen.append(candidate)
    return chosen


def eligible_in(
    index: CandidateIndex, request: AdRequest, live: LiveState, moment: datetime, rng: Random, gate: PacingGate | None = None
) -> list[Candidate]:
    """`eligible(index.candidates, ...)` through the index's masks: the same list, the same draws from `rng`."""
    mask = index.matching(request)
    if mask:
        mask = index.scheduled(moment, among=mask)
    if mask and live.exhausted:
        mask &= index.unspent(live.exhausted)
    chosen = index.select(mask)
    throttles = live.throttles
    gate = _gate_for(gate, throttles)
    if not throttles:
        return chosen
    gates: dict[int, bool] = {}  # the pacing gate decides in candidate order, as `eligible` does
    return [candidate for candidate in chosen if gate.opens(gates, candidate.ad_group_id, throttles, rng)]


def _blocked(client: Redis, winners: list[Winner], request: AdRequest, moment: datetime) -> tuple[set[int], set[int]]:
    """Ad groups and advertisers among the winners that must give way: (ad groups, advertisers).

    An ad group gives way when this person reached its frequency cap or its price no longer fits a
    daily or lifetime budget (its own or its campaign's); an advertiser when its price no longer
    fits its money. The charge script would refuse such an impression anyway; asking first, in the
    one MGET, keeps an ad that cannot be billed from being shown at all (budgets spent since the
    live state was read, a balance that never was).
    """
    keys: list[str] = []
    plans: list[tuple[Winner, list[tuple[int, int]], int]] = []  # per winner: (key position, limit) pairs, money at
    for winner in winners:
        c = winner.candidate
        checks: list[tuple[int, int]] = []
        if c.frequency_impressions:
            keys.append(frequency_key(c.advertiser_id, c.ad_group_id, request.user_key))
            checks.append((len(keys) - 1, -c.frequency_impressions))  # negative: a count, not money
        day = moment.astimezone(ZoneInfo(c.time_zone)).date().isoformat()
        for key, cap in (
            (ad_group_day_key(c.advertiser_id, c.ad_group_id, day), c.ad_group_daily_cap),
            (ad_group_life_key(c.advertiser_id, c.ad_group_id), c.ad_group_lifetime_cap),
            (campaign_day_key(c.advertiser_id, c.campaign_id, day), c.campaign_daily_cap),
            (campaign_life_key(c.advertiser_id, c.campaign_id), c.campaign_lifetime_cap),
        ):
            if cap > 0:
                keys.append(key)
                checks.append((len(keys) - 1, cap))
        plans.append((winner, checks, len(keys)))
        keys.extend((charged_key(c.advertiser_id), allowance_key(c.advertiser_id)))
    values = client.mget(keys)
    ad_groups: set[int] = set()
    advertisers: set[int] = set()
    for winner, checks, money_at in plans:
        c, price = winner.candidate, winner.charge_micros
        for index, limit in checks:
            count = int(values[index] or 0)
            if (limit < 0 and count >= -limit) or (limit > 0 and count + price > limit):
                ad_groups.add(c.ad_group_id)
        if int(values[money_at] or 0) + price > int(values[money_at + 1] or 0):
            advertisers.add(c.advertiser_id)
    return ad_groups, advertisers


@dataclass(frozen=True)
class Decision:
    request_id: str
    winners: list[Winner]


def decide(
    snapshot: Snapshot,
    live: LiveState,
    request: AdRequest,
    client: Redis,
    *,
    moment: datetime,
    rng: Random,
    gate: PacingGate | None = None,
) -> Decision:
    """Run the auction for one request; winners past a frequency cap, a budget or their money give way to the next best.

    `gate` is the process's pacing gate (None: a fresh one, a coin per request: see `PacingGate`).
    """
    placement = snapshot.placements[request.placement]
    floor = placement.floor_cpm_usd_micros
    eligible_now = eligible_in(candidate_index(snapshot, request.placement), request, live, moment, rng, gate)
    pool = auction.sample_scores(eligible_now, rng)
    ad_groups: set[int] = set()
    advertisers: set[int] = set()
    winners: list[Winner] = []
    for _ in range(MAX_AUCTION_ROUNDS):
        finalists = auction.finalists(
            pool, floor_ecpm_usd=floor, slots=request.count, excluded_ad_groups=ad_groups, excluded_advertisers=advertisers
        )
        winners = auction.run_auction(finalists, floor_ecpm_usd=floor, slots=request.count)
        if not winners:
            break
        blocked_ad_groups, blocked_advertisers = _blocked(client, winners, request, moment)
        if not blocked_ad_groups and not blocked_advertisers:
            break
        ad_groups |= blocked_ad_groups
        advertisers |= blocked_advertisers
    else:
        winners = []
    return Decision(str(uuid.uuid4()), winners)


def render(decision: Decision, request: AdRequest, client: Redis, *, base_url: str, moment: datetime) -> dict[str, Any]:
    """The response body, with signed links; the served events go to the stream in one round trip."""
    served_at = int(moment.timestamp())
    events = []
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
        events.append(event_fields("serve", served, status="valid", at=moment.timestamp()))
    if len(events) == 1:
        client.xadd(STREAM, events[0])  # one round trip either way; a single command skips the pipeline's bookkeeping
    elif events:
        pipe = client.pipeline(transaction=False)
        for fields in events:
            pipe.xadd(STREAM, fields)
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
