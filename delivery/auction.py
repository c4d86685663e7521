"""Scoring and the second-price auction. Pure functions over Candidates; randomness comes from a passed Random.

Score = eCPM in US dollar micros: a CPM bid as it is; a CPC bid x pCTR x 1000; an oCPM target cost
per conversion x pCTR x pCVR x 1000. pCTR and pCVR are Thompson samples from each ad's Beta
posterior, so a new ad with a wide posterior sometimes samples high and gets a first audience,
then scales if it performs. Each winner pays the lowest price that would still have won: the next
score below it, or the placement floor, never above its own score.
"""

from random import Random

from adplatform import money

from .types import Candidate, Scored, Winner


def score(candidate: Candidate, rng: Random) -> Scored:
    """Sample the candidate's rates and price one impression of it in US dollar eCPM."""
    rate = candidate.units_per_usd
    if candidate.bid_strategy == "cpm":
        return Scored(candidate, money.bid_to_usd_ecpm(candidate.bid_micros, rate), 0.0, 0.0)
    p_ctr = rng.betavariate(candidate.ctr_alpha, candidate.ctr_beta)
    if candidate.bid_strategy == "cpc":
        return Scored(candidate, money.bid_to_usd_ecpm(candidate.bid_micros, rate, per_mille_events=p_ctr * 1000), p_ctr, 0.0)
    p_cvr = rng.betavariate(candidate.cvr_alpha, candidate.cvr_beta)
    ecpm = money.bid_to_usd_ecpm(candidate.bid_micros, rate, per_mille_events=p_ctr * p_cvr * 1000)
    return Scored(candidate, ecpm, p_ctr, p_cvr)


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
        key=lambda entry: (-entry.score, entry.candidate.ad_id),
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
