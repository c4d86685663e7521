"""Check that the decision path's fast paths decide exactly what the plain definitions decide.

    DJANGO_SETTINGS_MODULE=adplatform.settings.test .venv/bin/python -m bench.delivery.equivalence [rounds]

The speed-ups in delivery/ (CandidateIndex masks, `eligible_in`, `auction.finalists`, the ad lookup
in `tracking.context_for`) promise the same answers and the same draws from the random generator
as the one-candidate-at-a-time definitions (`targeting.matches`, `targeting.in_schedule`,
`decision.eligible`, `auction.score` + `auction.run_auction` over the whole pool). This drives both
with random marketplaces, requests, moments, exhausted budgets, pacing throttles and frequency
caps, and fails on the first difference. No database or Redis needed.
"""

import os
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from random import Random

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adplatform.settings.test")

import django

django.setup()

from delivery import auction, charging, decision, links, tracking  # noqa: E402
from delivery.index import LiveState  # noqa: E402
from delivery.targeting import AGE_BOUNDS, candidate_index, in_schedule, matches  # noqa: E402
from delivery.types import AdRequest, Candidate, Placement, Snapshot, Targeting  # noqa: E402

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "Pacific/Chatham"]
COUNTRIES = ["DE", "US", "FR", "JP", "BR"]
LANGUAGES = ["de", "en", "fr"]
INTERESTS = ["a", "b", "c", "d", "e"]
BASE = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # a DST change in Europe the same night


def _some(rng: Random, values: list, empty: float = 0.5) -> frozenset:
    return frozenset() if rng.random() < empty else frozenset(rng.sample(values, rng.randint(1, len(values))))


def random_candidate(rng: Random, ad_id: int) -> Candidate:
    start = BASE + timedelta(hours=rng.randint(-48, 48))
    return Candidate(
        ad_id=ad_id,
        ad_group_id=rng.randint(1, 40),
        campaign_id=rng.randint(1, 20),
        advertiser_id=rng.randint(1, 12),
        format=rng.choice(["image", "video", "text"]),
        creative={"landing_url": "https://example.com/"},
        placements=frozenset({"feed"}),
        targeting=Targeting(
            countries=_some(rng, COUNTRIES),
            age_ranges=tuple(AGE_BOUNDS[code] for code in rng.sample(list(AGE_BOUNDS), rng.randint(0, 3))),
            genders=_some(rng, ["female", "male"], 0.7),
            languages=_some(rng, LANGUAGES, 0.7),
            interests=_some(rng, INTERESTS, 0.6),
            device_types=_some(rng, ["mobile", "desktop"], 0.6),
            operating_systems=_some(rng, ["ios", "android"], 0.7),
        ),
        start_ts=start.timestamp(),
        end_ts=(start + timedelta(hours=rng.randint(1, 96))).timestamp() if rng.random() < 0.5 else None,
        dayparting=frozenset(rng.sample(range(336), rng.randint(1, 200))) if rng.random() < 0.4 else frozenset(),
        time_zone=rng.choice(ZONES),
        bid_strategy=rng.choice(["cpm", "cpc", "ocpm"]),
        bid_micros=rng.choice([500_000, 1_000_000, 2_000_000, 2_000_000, 5_000_000]),
        units_per_usd=rng.choice([1.0, 0.92, 150.0]),
        ad_group_daily_cap=0,
        ad_group_lifetime_cap=0,
        campaign_daily_cap=0,
        campaign_lifetime_cap=0,
        pacing="standard",
        frequency_impressions=rng.choice([None, None, 1, 2]),
        frequency_days=1,
        ctr_alpha=rng.uniform(1, 50),
        ctr_beta=rng.uniform(50, 2000),
        cvr_alpha=rng.uniform(0.5, 5),
        cvr_beta=rng.uniform(5, 50),
    )


def random_request(rng: Random) -> AdRequest:
    return AdRequest(
        placement="feed",
        user_key=f"u{rng.randint(1, 5)}",
        country=rng.choice([*COUNTRIES, "XX", None]),
        language=rng.choice([*LANGUAGES, None]),
        device=rng.choice(["mobile", "desktop", "tablet", None]),
        os=rng.choice(["ios", "android", None]),
        age=rng.choice([None, 12, 13, 17, 18, 24, 25, 40, 55, 90, 129]),
        gender=rng.choice(["female", "male", None]),
        interests=_some(rng, [*INTERESTS, "zz"], 0.4),
        count=rng.randint(1, 5),
    )


def random_live(rng: Random, candidates: list[Candidate]) -> LiveState:
    exhausted: set[str] = set()
    for candidate in rng.sample(candidates, min(len(candidates), rng.randint(0, 4))):
        exhausted.add(rng.choice([f"ag:{candidate.ad_group_id}", f"c:{candidate.campaign_id}", f"a:{candidate.advertiser_id}"]))
    throttles = {c.ad_group_id: rng.choice([0.0, 0.3, 1.0]) for c in rng.sample(candidates, min(len(candidates), 3))}
    return LiveState(throttles=throttles if rng.random() < 0.5 else {}, exhausted=frozenset(exhausted))


class Counters:
    """Just enough of a Redis client for `decision._blocked`: MGET over a dict."""

    def __init__(self, counts: dict[str, bytes]) -> None:
        self.counts = counts

    def mget(self, keys: list[str]) -> list[bytes | None]:
        return [self.counts.get(key) for key in keys]


def reference_decide(
    snapshot: Snapshot,
    live: LiveState,
    request: AdRequest,
    client: object,
    moment: datetime,
    rng: Random,
    gate: decision.PacingGate,
) -> list:
    """`decision.decide` as it was: every candidate scored, each round's auction over the whole pool left."""
    placement = snapshot.placements[request.placement]
    candidates = [c for c in snapshot.candidates.get(request.placement, ()) if c.format in placement.formats]
    pool = [auction.score(candidate, rng) for candidate in decision.eligible(candidates, request, live, moment, rng, gate)]
    ad_groups: set[int] = set()
    advertisers: set[int] = set()
    winners = []
    for _ in range(decision.MAX_AUCTION_ROUNDS):
        left = [e for e in pool if e.candidate.ad_group_id not in ad_groups and e.candidate.advertiser_id not in advertisers]
        winners = auction.run_auction(left, floor_ecpm_usd=placement.floor_cpm_usd_micros, slots=request.count)
        if not winners:
            break
        blocked_ad_groups, blocked_advertisers = decision._blocked(client, winners, request, moment)  # type: ignore[arg-type]
        if not blocked_ad_groups and not blocked_advertisers:
            break
        ad_groups |= blocked_ad_groups
        advertisers |= blocked_advertisers
    else:
        winners = []
    return winners


class MismatchError(AssertionError):
    """A fast path answered differently from its definition."""


def same(expected: object, got: object, what: str) -> None:
    if expected != got:
        raise MismatchError(f"{what}: expected {expected!r}, got {got!r}")


def check(rounds: int, seed: int = 1) -> None:
    rng = Random(seed)
    compared = 0
    for round_no in range(rounds):
        candidates = [random_candidate(rng, ad_id) for ad_id in rng.sample(range(1, 400), rng.randint(0, 120))]
        if rng.random() < 0.2 and candidates:  # the same ad listed twice: the first one counts
            candidates.append(replace(candidates[0], bid_micros=9_000_000))
        formats = frozenset(rng.sample(["image", "video", "text"], rng.randint(1, 3)))
        snapshot = Snapshot(
            version=f"v{round_no}",
            placements={"feed": Placement("feed", rng.choice([0, 300_000, 1_500_000]), formats)},
            candidates={"feed": candidates},
        )
        index = candidate_index(snapshot, "feed")
        plain_gate, fast_gate = decision.PacingGate(), decision.PacingGate()  # the pacing credits carried across requests
        same([c for c in candidates if c.format in formats], index.candidates, "index candidates")
        for _ in range(40):
            request = random_request(rng)
            moment = BASE + timedelta(minutes=rng.randint(-3000, 3000), seconds=rng.random())
            live = random_live(rng, candidates)
            expected_mask = [in_schedule(c, moment) and matches(c.targeting, request) for c in index.candidates]
            got_mask = index.matching(request) & index.scheduled(moment)
            same(expected_mask, [bool(got_mask >> n & 1) for n in range(len(index.candidates))], "masks")
            draws = rng.random()
            plain, fast = Random(draws), Random(draws)
            expected_eligible = decision.eligible(index.candidates, request, live, moment, plain, plain_gate)
            same(expected_eligible, decision.eligible_in(index, request, live, moment, fast, fast_gate), "eligible")
            same(plain.random(), fast.random(), "draws after eligible")
            same(plain_gate.credits, fast_gate.credits, "pacing credits after eligible")
            counts = {charging.allowance_key(c.advertiser_id): b"1000000000000" for c in candidates}  # money for all ...
            for c in rng.sample(candidates, min(len(candidates), rng.randint(0, 2))):
                counts[charging.allowance_key(c.advertiser_id)] = b"0"  # ... but a few
            for c in rng.sample(candidates, min(len(candidates), rng.randint(0, 6))):
                counts[charging.frequency_key(c.advertiser_id, c.ad_group_id, request.user_key)] = rng.choice([b"1", b"5"])
            client = Counters(counts)
            plain, fast = Random(draws), Random(draws)
            expected = reference_decide(snapshot, live, request, client, moment, plain, plain_gate)
            got = decision.decide(snapshot, live, request, client, moment=moment, rng=fast, gate=fast_gate).winners  # type: ignore[arg-type]
            same(expected, got, "winners")
            same(plain.random(), fast.random(), "draws after decide")
            same(plain_gate.credits, fast_gate.credits, "pacing credits after decide")
            for candidate in rng.sample(candidates, min(3, len(candidates))):
                served = links.Served(
                    "r", candidate.ad_id, 1, 1, 1, rng.choice(["feed", "other"]), "impression", 1, "u", "", "", 0, 0
                )
                first = next((c for c in snapshot.candidates.get(served.placement, ()) if c.ad_id == served.ad_id), None)
                context = tracking.context_for(snapshot, served)
                same(first.time_zone if first else "UTC", context.time_zone, "tracking context")
            compared += 1
    print(f"equivalent in {compared} decisions over {rounds} marketplaces")


if __name__ == "__main__":
    check(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
