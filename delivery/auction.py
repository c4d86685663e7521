"""Scoring and the second-price auction. Pure functions over Candidates; randomness comes from a passed Random.

Score = eCPM in US dollar micros: a CPM bid as it is; a CPC bid x pCTR x 1000; an oCPM target cost
per conversion x pCTR x pCVR x 1000. pCTR and pCVR are Thompson samples from each ad's Beta
posterior, so a new ad with a wide posterior sometimes samples high and gets a first audience,
then scales if it performs. Among equal scores (a CPM ad group's ads share its bid) the higher
sampled pCTR wins, so an ad group shows its better ads more and learns which they are. Each
winner pays the lowest price that would still have won: the next score below it, or the placement
floor, never above its own score.
"""

from random import Random

from adplatform import money

from .types import Candidate, Scored, Winner

Sample = tuple[float, float, float, Candidate]  # score, pCTR, pCVR, candidate: a Scored not yet built


def _sample(candidate: Candidate, rng: Random) -> Sample:
    """Sample the candidate's rates from `rng` and price one impression of it in US dollar eCPM."""
    rate = candidate.units_per_usd
    if candidate.bid_strategy == "cpm":
        # The price does not depend on the CTR; its sample only picks among the ad group's ads (rotation).
        p_ctr = rng.betavariate(candidate.ctr_alpha, candidate.ctr_beta) if candidate.rotates else 0.0
        return money.bid_to_usd_ecpm(candidate.bid_micros, rate), p_ctr, 0.0, candidate
    p_ctr = rng.betavariate(candidate.ctr_alpha, candidate.ctr_beta)
    if candidate.bid_strategy == "cpc":
        return money.bid_to_usd_ecpm(candidate.bid_micros, rate, per_mille_events=p_ctr * 1000), p_ctr, 0.0, candidate
    p_cvr = rng.betavariate(candidate.cvr_alpha, candidate.cvr_beta)
    ecpm = money.bid_to_usd_ecpm(candidate.bid_micros, rate, per_mille_events=p_ctr * p_cvr * 1000)
    return ecpm, p_ctr, p_cvr, candidate


def score(candidate: Candidate, rng: Random) -> Scored:
    """Sample the candidate's rates and price one impression of it in US dollar eCPM."""
    ecpm, p_ctr, p_cvr, _ = _sample(candidate, rng)
    return Scored(candidate, ecpm, p_ctr, p_cvr)


def sample_scores(candidates: list[Candidate], rng: Random) -> list[Sample]:
    """What `score` gives for each candidate in turn (the same draws), as plain tuples."""
    return [_sample(candidate, rng) for candidate in candidates]


def finalists(
    pool: list[Sample],
    *,
    floor_ecpm_usd: float,
    slots: int,
    excluded_ad_groups: set[int],
    excluded_advertisers: set[int] | frozenset[int] = frozenset(),
) -> list[Scored]:
    """The entries `run_auction` decides by: each advertiser's best at or above the floor, best first, `slots` + 1 of them.

    The last one only sets the runner-up price. Running the auction over these gives exactly what
    running it over the whole pool (less the excluded ad groups and advertisers) gives, and only these become Scored.
    """
    ranked = sorted(
        (-entry[0], -entry[1], entry[3].ad_id, position)
        for position, entry in enumerate(pool)
        if entry[0] >= floor_ecpm_usd
        and entry[0] > 0
        and entry[3].ad_group_id not in excluded_ad_groups
        and entry[3].advertiser_id not in excluded_advertisers
    )  # the order of run_auction's stable sort by (-score, -pCTR, ad_id)
    chosen: list[Scored] = []
    advertisers: set[int] = set()
    for _, _, _, position in ranked:
        value, p_ctr, p_cvr, candidate = pool[position]
        if candidate.advertiser_id not in advertisers:
            advertisers.add(candidate.advertiser_id)
            chosen.append(Scored(candidate, value, p_ctr, p_cvr))
            if len(chosen) > slots:
                break
    return chosen


def _price(entry: Scored, price_ecpm: float) -> tuple[int, str]:
    candidate = entry.candidate
    if candidate.bid_strategy == "cpc":
        return money.click_price(price_ecpm, candidate.units_per_usd, entry.p_ctr, bid_micros=candidate.bid_micros), "click"
    cap = candidate.bid_micros if candidate.bid_strategy == "cpm" else None
    return money.impression_price(price_ecpm, candidate.units_per_usd, cap_cpm_micros=cap), "impression"


def run_auction(entries: list[Scored], *, floor_ecpm_usd: float, slots: int = 1) -> list[Winner]:
    """Up to `slots` winners, at most one per advertiser, each paying the next score (or the floor)."""
    above_floor = sorted(
        (entry for entry in entries if entry.score >= floor_ecpm_usd and entry.score > 0),
        key=lambda entry: (-entry.score, -entry.p_ctr, entry.candidate.ad_id),  # equal bids: the likelier click
    )
    best_per_advertiser: list[Scored] = []
    seen: set[int] = set()
    for entry in above_floor:
        if entry.candidate.advertiser_id not in seen:
            seen.add(entry.candidate.advertiser_id)
            best_per_advertiser.append(entry)
    winners = []
    for rank, entry in enumerate(best_per_advertiser[:slots]):
        runner_up = best_per_advertiser[rank + 1].score if rank + 1 < len(best_per_advertiser) else 0.0
        price_ecpm = min(max(runner_up, floor_ecpm_usd), entry.score)
        charge, billed_on = _price(entry, price_ecpm)
        winners.append(Winner(entry.candidate, entry.score, price_ecpm, charge, billed_on, entry.p_ctr))
    return winners
