"""delivery.auction and the auction prices of adplatform.money: scores, second prices, exploration. Pure, no DB."""

import random
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adplatform import money
from delivery.auction import finalists, run_auction, sample_scores, score
from delivery.types import Candidate, Scored, Targeting

FLOOR = 500_000.0  # US dollar micros per 1,000 impressions
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


def candidate(ad_id: int = 1, advertiser_id: int | None = None, **overrides) -> Candidate:
    """A serveable ad of its own advertiser (unless told), bidding a 2.00 USD CPM."""
    values = {
        "ad_id": ad_id,
        "ad_group_id": ad_id * 10,
        "campaign_id": ad_id * 100,
        "advertiser_id": advertiser_id if advertiser_id is not None else ad_id * 1000,
        "format": "image",
        "creative": {},
        "placements": frozenset({"feed"}),
        "targeting": Targeting(),
        "start_ts": 0.0,
        "end_ts": None,
        "dayparting": frozenset(),
        "time_zone": "UTC",
        "bid_strategy": "cpm",
        "bid_micros": 2_000_000,
        "units_per_usd": 1.0,
        "ad_group_daily_cap": 0,
        "ad_group_lifetime_cap": 0,
        "campaign_daily_cap": 0,
        "campaign_lifetime_cap": 0,
        "pacing": "standard",
        "frequency_impressions": None,
        "frequency_days": None,
        "ctr_alpha": 2.0,
        "ctr_beta": 198.0,
        "cvr_alpha": 1.0,
        "cvr_beta": 19.0,
    }
    return Candidate(**{**values, **overrides})


def cpm(ad_id: int, bid: int, *, advertiser_id: int | None = None, rate: float = 1.0) -> Scored:
    """A CPM bidder, scored (a CPM score draws nothing, so any Random will do)."""
    return score(candidate(ad_id, advertiser_id, bid_micros=bid, units_per_usd=rate), Random(0))


def sampled(ad_id: int, strategy: str, bid: int, *, p_ctr: float, p_cvr: float = 0.0, rate: float = 1.0) -> Scored:
    """A CPC or oCPM bidder whose rates were sampled as `p_ctr` and `p_cvr`."""
    events_per_mille = p_ctr * 1000 if strategy == "cpc" else p_ctr * p_cvr * 1000
    ecpm = bid / rate * events_per_mille
    return Scored(candidate(ad_id, bid_strategy=strategy, bid_micros=bid, units_per_usd=rate), ecpm, p_ctr, p_cvr)


def outcome(winners) -> list[tuple[int, float, float, int, str]]:
    """(ad, score, price eCPM, charge, billed on) of each winner, in slot order."""
    return [(w.candidate.ad_id, w.score, w.price_ecpm_usd, w.charge_micros, w.billed_on) for w in winners]


# --- scores ------------------------------------------------------------------------------------


def test_a_cpm_bid_scores_as_itself_in_us_dollars_and_draws_nothing():
    # given CPM bids in US dollars and in yen (150 per dollar)
    rng = Random(11)
    # when scored
    usd = score(candidate(1, bid_micros=2_500_000), rng)
    yen = score(candidate(2, bid_micros=300_000_000, units_per_usd=150.0), rng)
    # then the score is the bid in US dollar micros per mille, with no rates sampled
    assert (usd.score, usd.p_ctr, usd.p_cvr) == (2_500_000.0, 0.0, 0.0)
    assert (yen.score, yen.p_ctr, yen.p_cvr) == (2_000_000.0, 0.0, 0.0)
    assert rng.random() == Random(11).random()


def test_a_cpc_bid_scores_as_bid_times_sampled_ctr_times_1000():
    # given a CPC bid of 0.50 USD per click and a seeded Random
    ad = candidate(1, bid_strategy="cpc", bid_micros=500_000, ctr_alpha=3.0, ctr_beta=97.0)
    # when scored
    scored = score(ad, Random(7))
    # then pCTR is the first draw from the ad's Beta posterior and the score is bid x pCTR x 1000
    p_ctr = Random(7).betavariate(3.0, 97.0)
    assert scored.p_ctr == p_ctr
    assert scored.p_cvr == 0.0
    assert scored.score == pytest.approx(500_000 * p_ctr * 1000, rel=1e-12)


def test_an_ocpm_target_scores_as_target_times_ctr_times_cvr_times_1000_in_dollars():
    # given an oCPM target of 1,380 yen per conversion (150 yen per dollar), and a seeded Random
    ad = candidate(1, bid_strategy="ocpm", bid_micros=1_380_000_000, units_per_usd=150.0, cvr_alpha=5.0, cvr_beta=45.0)
    # when scored
    scored = score(ad, Random(3))
    # then pCTR and then pCVR are drawn from the posteriors, and the score is in US dollar eCPM
    draws = Random(3)
    p_ctr, p_cvr = draws.betavariate(2.0, 198.0), draws.betavariate(5.0, 45.0)
    assert (scored.p_ctr, scored.p_cvr) == (p_ctr, p_cvr)
    assert scored.score == pytest.approx(1_380_000_000 / 150.0 * p_ctr * p_cvr * 1000, rel=1e-12)


# --- prices ------------------------------------------------------------------------------------


def test_a_single_bidder_pays_the_floor():
    # given one CPM bidder at 3.00 USD and a floor of 0.50 USD
    # when the auction runs
    winners = run_auction([cpm(1, 3_000_000)], floor_ecpm_usd=FLOOR)
    # then it wins at the floor: 0.50 USD per mille is 500 micros per impression
    assert outcome(winners) == [(1, 3_000_000.0, 500_000.0, 500, "impression")]


def test_the_winner_pays_the_runner_ups_score_whatever_the_order():
    # given two CPM bidders, 3.00 and 2.00 USD
    entries = [cpm(2, 2_000_000), cpm(1, 3_000_000)]
    # when the auction runs on them in either order
    # then the higher one wins and pays the runner-up's 2.00 USD CPM: 2,000 micros per impression
    assert outcome(run_auction(entries, floor_ecpm_usd=FLOOR)) == [(1, 3_000_000.0, 2_000_000.0, 2000, "impression")]
    assert outcome(run_auction(entries[::-1], floor_ecpm_usd=FLOOR)) == [(1, 3_000_000.0, 2_000_000.0, 2000, "impression")]


def test_a_cpc_winner_pays_per_click_the_price_ecpm_over_ctr_times_1000():
    # given a CPC bid of 0.10 USD per click with a sampled pCTR of 2% (eCPM 2.00 USD) and a CPM runner-up at 1.50 USD
    clicker = sampled(1, "cpc", 100_000, p_ctr=0.02)
    # when the auction runs
    (winner,) = run_auction([clicker, cpm(2, 1_500_000)], floor_ecpm_usd=FLOOR)
    # then it pays per click what makes 1.50 USD per mille at 2%: 1,500,000 / 20 = 0.075 USD
    assert outcome([winner]) == [(1, 2_000_000.0, 1_500_000.0, 75_000, "click")]
    assert winner.p_ctr == 0.02


def test_a_lone_cpc_bidder_pays_the_floor_per_click():
    # given one CPC bidder at 0.10 USD per click, pCTR 2%, over a 0.50 USD floor
    # when the auction runs
    winners = run_auction([sampled(1, "cpc", 100_000, p_ctr=0.02)], floor_ecpm_usd=FLOOR)
    # then it pays 500,000 / 20 = 0.025 USD per click
    assert outcome(winners) == [(1, 2_000_000.0, 500_000.0, 25_000, "click")]


def test_a_cpc_winner_tied_with_the_runner_up_pays_exactly_its_bid_never_more():
    # given two CPC bidders with the same eCPM, 2.00 USD
    entries = [sampled(1, "cpc", 100_000, p_ctr=0.02), sampled(2, "cpc", 200_000, p_ctr=0.01)]
    # when the auction runs
    (winner,) = run_auction(entries, floor_ecpm_usd=FLOOR)
    # then the lower ad id wins the tie and pays its own bid per click
    assert outcome([winner]) == [(1, 2_000_000.0, 2_000_000.0, 100_000, "click")]


def test_an_ocpm_winner_pays_per_impression():
    # given an oCPM target of 10.00 USD per conversion at pCTR 2% and pCVR 10% (eCPM 20.00 USD), runner-up 4.00 USD
    converter = sampled(1, "ocpm", 10_000_000, p_ctr=0.02, p_cvr=0.1)
    # when the auction runs
    winners = run_auction([cpm(2, 4_000_000), converter], floor_ecpm_usd=FLOOR)
    # then it is charged on impressions, the runner-up's 4.00 USD per mille: 4,000 micros each
    assert outcome(winners) == [(1, 20_000_000.0, 4_000_000.0, 4000, "impression")]


def test_bids_compete_in_us_dollars_and_winners_pay_in_their_own_currency():
    # given a 300 yen CPM (2.00 USD at 150 yen per dollar) against a 2.50 USD CPM and a 1.00 USD CPM
    yen = cpm(1, 300_000_000, rate=150.0)
    # when the yen bidder meets the 2.50 USD bidder, and then only the 1.00 USD one
    lost = run_auction([yen, cpm(2, 2_500_000)], floor_ecpm_usd=FLOOR)
    won = run_auction([yen, cpm(3, 1_000_000)], floor_ecpm_usd=FLOOR)
    # then 300 yen is less than 2.50 USD; against 1.00 USD it pays 1.00 USD = 0.15 yen = 150,000 yen micros per impression
    assert outcome(lost) == [(2, 2_500_000.0, 2_000_000.0, 2000, "impression")]
    assert outcome(won) == [(1, 2_000_000.0, 1_000_000.0, 150_000, "impression")]


def test_a_cpc_price_in_another_currency():
    # given a CPC bid of 20 yen per click at pCTR 2% (eCPM 2.67 USD) against a 1.50 USD CPM
    clicker = sampled(1, "cpc", 20_000_000, p_ctr=0.02, rate=150.0)
    # when the auction runs
    (winner,) = run_auction([clicker, cpm(2, 1_500_000)], floor_ecpm_usd=FLOOR)
    # then the click costs 1.50 USD / 20 x 150 = 11.25 yen
    assert (winner.price_ecpm_usd, winner.charge_micros, winner.billed_on) == (1_500_000.0, 11_250_000, "click")


def test_at_most_one_ad_per_advertiser_and_its_own_second_ad_does_not_set_its_price():
    # given an advertiser with ads at 5.00 and 4.00 USD, and another advertiser at 3.00 USD
    entries = [cpm(1, 5_000_000, advertiser_id=70), cpm(2, 4_000_000, advertiser_id=70), cpm(3, 3_000_000, advertiser_id=80)]
    # when the auction runs for one slot and for three
    one = run_auction(entries, floor_ecpm_usd=FLOOR, slots=1)
    three = run_auction(entries, floor_ecpm_usd=FLOOR, slots=3)
    # then the advertiser's best ad wins at the other advertiser's 3.00 USD, never against itself
    assert outcome(one) == [(1, 5_000_000.0, 3_000_000.0, 3000, "impression")]
    assert outcome(three) == [(1, 5_000_000.0, 3_000_000.0, 3000, "impression"), (3, 3_000_000.0, 500_000.0, 500, "impression")]


def test_several_slots_use_a_generalized_second_price():
    # given four advertisers at 5.00, 4.00, 3.00 and 2.00 USD, and a floor of 1.00 USD
    entries = [cpm(4, 2_000_000), cpm(1, 5_000_000), cpm(3, 3_000_000), cpm(2, 4_000_000)]
    # when the auction runs for three, four and five slots
    # then each slot's winner pays the score of the one below it, and the last of all pays the floor
    three = [(1, 5_000_000.0, 4_000_000.0, 4000, "impression"), (2, 4_000_000.0, 3_000_000.0, 3000, "impression")]
    three.append((3, 3_000_000.0, 2_000_000.0, 2000, "impression"))
    assert outcome(run_auction(entries, floor_ecpm_usd=1_000_000.0, slots=3)) == three
    four = [*three, (4, 2_000_000.0, 1_000_000.0, 1000, "impression")]
    assert outcome(run_auction(entries, floor_ecpm_usd=1_000_000.0, slots=4)) == four
    assert outcome(run_auction(entries, floor_ecpm_usd=1_000_000.0, slots=5)) == four


def test_a_tie_goes_to_the_lower_ad_id_which_pays_the_tied_score():
    # given two advertisers tied at 2.00 USD
    entries = [cpm(7, 2_000_000), cpm(3, 2_000_000)]
    # when the auction runs for one and for two slots
    # then ad 3 wins and pays 2.00 USD, its own score; in a second slot ad 7 pays the floor
    assert outcome(run_auction(entries, floor_ecpm_usd=FLOOR)) == [(3, 2_000_000.0, 2_000_000.0, 2000, "impression")]
    assert outcome(run_auction(entries, floor_ecpm_usd=FLOOR, slots=2)) == [
        (3, 2_000_000.0, 2_000_000.0, 2000, "impression"),
        (7, 2_000_000.0, 500_000.0, 500, "impression"),
    ]


def test_below_floor_bids_never_win_nor_set_a_price():
    # given a floor of 2.00 USD
    floor = 2_000_000.0
    # when bidders below it, at it and above it take part
    # then below never wins, exactly at the floor wins at the floor, and a below-floor runner-up does not lower the price
    assert run_auction([cpm(1, 1_999_999), cpm(2, 1_000_000)], floor_ecpm_usd=floor) == []
    assert outcome(run_auction([cpm(1, 2_000_000)], floor_ecpm_usd=floor)) == [(1, 2_000_000.0, 2_000_000.0, 2000, "impression")]
    assert outcome(run_auction([cpm(1, 3_000_000), cpm(2, 1_000_000)], floor_ecpm_usd=floor, slots=2)) == [
        (1, 3_000_000.0, 2_000_000.0, 2000, "impression")
    ]


def test_a_zero_score_never_wins_even_without_a_floor_and_no_bidders_no_winners():
    # given a CPC bidder whose sampled pCTR is 0 (score 0) and no floor
    # when the auction runs on it, and on nobody
    # then nobody wins
    assert run_auction([sampled(1, "cpc", 100_000, p_ctr=0.0)], floor_ecpm_usd=0.0) == []
    assert run_auction([], floor_ecpm_usd=FLOOR, slots=5) == []


PRICE_TABLE = [
    # (eCPM in USD micros, units per USD, CPM cap, micros per impression)
    (2_000_000.0, 1.0, None, 2000),
    (1_999_999.0, 1.0, None, 1999),  # rounded down, never up
    (1_234_567.0, 0.92, None, 1135),  # 1,135,801.64 EUR micros per mille
    (1_000_000.0, 150.0, None, 150_000),
    (5_000_000.0, 1.0, 3_000_000, 3000),  # never above the CPM bid
    (3_000_000.0, 1.0, 3_000_999, 3000),
    (999.0, 1.0, None, 0),
    (0.0, 1.0, None, 0),
    (-5.0, 1.0, None, 0),
]


@pytest.mark.parametrize(("ecpm", "rate", "cap", "expected"), PRICE_TABLE)
def test_impression_price_table(ecpm, rate, cap, expected):
    # given an eCPM, a currency rate and a CPM cap
    # when one impression is priced
    charge = money.impression_price(ecpm, rate, cap_cpm_micros=cap)
    # then it is whole micros of the advertiser's currency, rounded down, at most the cap / 1000
    assert charge == expected
    assert type(charge) is int


CLICK_TABLE = [
    # (eCPM in USD micros, units per USD, pCTR, bid per click, micros per click)
    (1_500_000.0, 1.0, 0.02, 100_000, 75_000),
    (1_000_001.0, 1.0, 0.03, 100_000, 33_333),  # 33,333.37 rounded down
    (1_500_000.0, 150.0, 0.02, 20_000_000, 11_250_000),
    (3_000_000.0, 1.0, 0.02, 100_000, 100_000),  # never above the bid
    (1_500_000.0, 1.0, 0.0, 100_000, 0),  # no clicks expected: nothing to price
    (-1.0, 1.0, 0.02, 100_000, 0),
]


@pytest.mark.parametrize(("ecpm", "rate", "p_ctr", "bid", "expected"), CLICK_TABLE)
def test_click_price_table(ecpm, rate, p_ctr, bid, expected):
    # given an impression's worth, a currency rate, a pCTR and a bid per click
    # when one click is priced
    charge = money.click_price(ecpm, rate, p_ctr, bid_micros=bid)
    # then it is eCPM / (pCTR x 1000) converted, rounded down to whole micros, never above the bid
    assert charge == expected
    assert type(charge) is int


def test_bid_to_usd_ecpm():
    # given bids in US dollars and in yen
    # when they are turned into US dollar eCPM, for CPM and with 20 expected clicks per mille
    # then a CPM bid is itself, a CPC bid is multiplied by its events per mille
    assert money.bid_to_usd_ecpm(2_000_000, 1.0) == 2_000_000.0
    assert money.bid_to_usd_ecpm(300_000_000, 150.0) == 2_000_000.0
    assert money.bid_to_usd_ecpm(100_000, 1.0, per_mille_events=20.0) == 2_000_000.0


# --- exploration: Thompson sampling --------------------------------------------------------------

ROUNDS = 2000


def new_ad_wins(new: Candidate, rival: Candidate, seed: int) -> int:
    """How many of ROUNDS one-slot auctions `new` wins against `rival`, both scored afresh each time."""
    rng = Random(seed)
    won = 0
    for _ in range(ROUNDS):
        (winner,) = run_auction([score(new, rng), score(rival, rng)], floor_ecpm_usd=0.0)
        won += winner.candidate.ad_id == new.ad_id
    return won


@pytest.mark.parametrize("seed", [1, 2026])
def test_a_new_ad_with_a_wide_posterior_wins_sometimes_and_a_proven_ad_mostly(seed):
    # given two CPC ads bidding the same: a new one at its prior (CTR 1% on the weight of 200 impressions)
    # and a proven one with 120 clicks in 10,000 impressions (1.2%)
    new = candidate(1, bid_strategy="cpc", bid_micros=500_000, ctr_alpha=2.0, ctr_beta=198.0)
    proven = candidate(2, bid_strategy="cpc", bid_micros=500_000, ctr_alpha=122.0, ctr_beta=10_078.0)
    # when they meet in 2,000 auctions with a seeded Random
    won = new_ad_wins(new, proven, seed)
    # then the new ad gets a first audience (about 31% here), and the proven ad most of the traffic
    assert 0.2 * ROUNDS < won < 0.45 * ROUNDS


@pytest.mark.parametrize("seed", [1, 2026])
def test_a_new_ad_beats_a_proven_poor_performer_mostly(seed):
    # given the same new ad against one proven to get 0.4% (40 clicks in 10,000 impressions)
    new = candidate(1, bid_strategy="cpc", bid_micros=500_000, ctr_alpha=2.0, ctr_beta=198.0)
    poor = candidate(2, bid_strategy="cpc", bid_micros=500_000, ctr_alpha=42.0, ctr_beta=10_158.0)
    # when they meet in 2,000 auctions
    won = new_ad_wins(new, poor, seed)
    # then the new ad wins most of them (about 80% here)
    assert 0.7 * ROUNDS < won < 0.9 * ROUNDS


def test_a_new_ad_that_performs_scales():
    # given the once-new ad after 3,000 impressions with 60 clicks (2%), against the proven 1.2% ad
    grown = candidate(1, bid_strategy="cpc", bid_micros=500_000, ctr_alpha=62.0, ctr_beta=3138.0)
    proven = candidate(2, bid_strategy="cpc", bid_micros=500_000, ctr_alpha=122.0, ctr_beta=10_078.0)
    # when they meet in 2,000 auctions
    won = new_ad_wins(grown, proven, 5)
    # then it takes nearly all of them
    assert won > 0.98 * ROUNDS


# --- properties ----------------------------------------------------------------------------------

rates = st.sampled_from([1.0, 0.92, 150.0, 3.6725, 0.3, 1400.0])
bidders = st.builds(
    lambda ad_id, advertiser_id, strategy, bid, rate, ctr_alpha, ctr_beta: candidate(
        ad_id,
        advertiser_id,
        bid_strategy=strategy,
        bid_micros=bid,
        units_per_usd=rate,
        ctr_alpha=ctr_alpha,
        ctr_beta=ctr_beta,
    ),
    ad_id=st.integers(min_value=1, max_value=10_000),
    advertiser_id=st.integers(min_value=1, max_value=6),
    strategy=st.sampled_from(["cpm", "cpc", "ocpm"]),
    bid=st.integers(min_value=1, max_value=10**12),
    rate=rates,
    ctr_alpha=st.floats(min_value=0.05, max_value=5000),
    ctr_beta=st.floats(min_value=0.05, max_value=50_000),
)


@PROPERTY_SETTINGS
@given(
    ads=st.lists(bidders, max_size=12, unique_by=lambda c: c.ad_id),
    floor=st.integers(min_value=0, max_value=50_000_000),
    slots=st.integers(min_value=1, max_value=5),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_auction_invariants(ads, floor, slots, seed):
    # given any bidders, floor, number of slots and random draws
    rng = random.Random(seed)
    entries = [score(ad, rng) for ad in ads]
    # when the auction runs
    winners = run_auction(entries, floor_ecpm_usd=float(floor), slots=slots)
    # then at most `slots` winners, one per advertiser, best first, each above the floor
    assert len(winners) <= slots
    assert len({w.candidate.advertiser_id for w in winners}) == len(winners)
    assert [w.score for w in winners] == sorted((w.score for w in winners), reverse=True)
    # and each pays between the floor and its own score, less in a lower slot, in whole micros within its bid
    for rank, winner in enumerate(winners):
        assert floor <= winner.price_ecpm_usd <= winner.score
        assert type(winner.charge_micros) is int
        assert winner.charge_micros >= 0
        assert winner.charge_micros <= winner.candidate.bid_micros
        if winner.candidate.bid_strategy == "cpm":
            assert winner.charge_micros <= winner.candidate.bid_micros // 1000
        assert winner.billed_on == ("click" if winner.candidate.bid_strategy == "cpc" else "impression")
        if rank:
            assert winner.price_ecpm_usd <= winners[rank - 1].price_ecpm_usd
    # and every advertiser left out either could not win (below the floor, or zero) or was outscored by each winner
    winning = {w.candidate.advertiser_id for w in winners}
    for entry in entries:
        if entry.candidate.advertiser_id not in winning and entry.score >= floor and entry.score > 0:
            assert len(winners) == slots
            assert entry.score <= winners[-1].score
    assert all(w.score >= floor and w.score > 0 for w in winners)


@PROPERTY_SETTINGS
@given(
    ecpm=st.floats(min_value=0, max_value=1e13),
    rate=rates,
    p_ctr=st.one_of(st.just(0.0), st.floats(min_value=1e-12, max_value=1)),
    bid=st.integers(min_value=1, max_value=10**12),
)
def test_prices_are_whole_nonnegative_micros_within_the_bid(ecpm, rate, p_ctr, bid):
    # given any eCPM, rate, pCTR and bid
    # when an impression and a click are priced
    impression = money.impression_price(ecpm, rate, cap_cpm_micros=bid)
    click = money.click_price(ecpm, rate, p_ctr, bid_micros=bid)
    # then both are whole micros, never negative, never above the bid
    assert type(impression) is int
    assert type(click) is int
    assert 0 <= impression <= bid // 1000
    assert 0 <= click <= bid


@PROPERTY_SETTINGS
@given(
    ads=st.lists(bidders, max_size=12, unique_by=lambda c: c.ad_id),
    floor=st.integers(min_value=0, max_value=50_000_000),
    slots=st.integers(min_value=1, max_value=5),
    seed=st.integers(min_value=0, max_value=2**32),
    excluded_share=st.integers(min_value=0, max_value=3),
)
def test_the_finalists_decide_exactly_as_the_whole_pool(ads, floor, slots, seed, excluded_share):
    # given any bidders sampled once, and some of their ad groups excluded (their person reached a frequency cap)
    pool = sample_scores(ads, Random(seed))
    excluded = {ad.ad_group_id for ad in ads[: len(ads) * excluded_share // 4]}
    # when the auction runs over the finalists only, and over the whole pool less the excluded
    short = run_auction(
        finalists(pool, floor_ecpm_usd=float(floor), slots=slots, excluded_ad_groups=excluded),
        floor_ecpm_usd=float(floor),
        slots=slots,
    )
    whole = run_auction(
        [Scored(c, value, p_ctr, p_cvr) for value, p_ctr, p_cvr, c in pool if c.ad_group_id not in excluded],
        floor_ecpm_usd=float(floor),
        slots=slots,
    )
    # then the winners and their prices are the same, and the samples are the draws `score` makes
    assert short == whole
    rng = Random(seed)
    assert [(s.score, s.p_ctr, s.p_cvr) for s in (score(ad, rng) for ad in ads)] == [entry[:3] for entry in pool]
