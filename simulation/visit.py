"""One simulated person's ad request and all it leads to, through the platform's own code in process.

Shared by the batch simulator (`simulation.engine`, on the simulated clock) and the live mode
(`simulation.live`, on the real one). A visit does without HTTP what an app, its user and an
advertiser's site do through the endpoints: the request is parsed and decided as the decision
endpoint does it (`delivery.decision`), every ad returned is seen (its signed impression link
verified and recorded by the charge script), some are clicked (the ad's hidden true CTR times the
person's affinity) and some clicks convert (the ad's hidden conversion rate), reported as the
advertiser's pixel would report them.

The draws from the people's `rng` come in a fixed order — one for the click of every ad seen,
one for the conversion of every valid click — so the same seed replays the same visits.
"""

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from redis import Redis

from delivery import decision, index, links, tracking
from delivery.charging import Charger, Outcome
from delivery.index import LiveState
from delivery.types import Snapshot

from .market import Person

BASE_URL = "https://sim.invalid"  # the links' host: never fetched, the visit verifies them in process
Rates = Callable[[int], tuple[float, float]]  # ad id -> (true CTR, true conversion rate per click)


@dataclass(frozen=True)
class View:
    """One ad a person saw: its link's facts, what recording the impression did, and the click's if they clicked."""

    served: links.Served
    impression: Outcome
    true_ctr: float
    click: Outcome | None = None
    converted: bool = False


class Visitor:
    """Plays simulated people against the platform: one `visit` is one ad request and what follows it."""

    def __init__(self, *, client: Redis, charger: Charger, rng: random.Random, auction_rng: random.Random, rates: Rates) -> None:
        self.client = client
        self.charger = charger
        self.rng = rng  # the people's draws: clicks and conversions
        self.auction_rng = auction_rng  # the decision's draws: pacing gates' phases and Thompson samples
        self.gate = decision.PacingGate()  # the platform's one decision process
        self.rates = rates

    def visit(
        self, person: Person, placement: str, snapshot: Snapshot | None, live: LiveState, *, moment: datetime
    ) -> list[View] | None:
        """`person` asks `placement` for an ad at `moment`: the ads they saw ([] if none won; None: no such placement)."""
        if snapshot is None or placement not in snapshot.placements:
            return None
        request = decision.parse_request(_body(person, placement))
        index.holder.count_request(placement)
        result = decision.decide(snapshot, live, request, self.client, moment=moment, rng=self.auction_rng, gate=self.gate)
        if not result.winners:
            return []
        body = decision.render(result, request, self.client, base_url=BASE_URL, moment=moment)
        return [self._see(person, snapshot, ad["impression_url"], moment) for ad in body["ads"]]

    def _see(self, person: Person, snapshot: Snapshot, impression_url: str, moment: datetime) -> View:
        """The impression of one ad returned, then perhaps its click and the click's conversion."""
        rng = self.rng
        query = dict(part.split("=", 1) for part in impression_url.split("?", 1)[1].split("&"))
        served = links.verify(query["d"], query["s"], "i", now=moment.timestamp())
        context = tracking.context_for(snapshot, served)
        shown = tracking.record(self.charger, "i", served, context, moment=moment)
        true_ctr, true_cvr = self.rates(served.ad_id)
        if rng.random() >= min(true_ctr * person.affinity, 1.0):
            return View(served, shown, true_ctr)
        clicked = tracking.record(self.charger, "c", served, context, moment=moment)
        converted = clicked.status != "invalid" and rng.random() < true_cvr
        if converted:
            click_id = tracking.remember_click(self.client, served, moment=moment)
            conversion = tracking.Conversion(click_id, f"{click_id}-order", "purchase", order_value(click_id), "")
            tracking.record_conversion(self.client, served.advertiser_id, conversion, moment=moment)
        return View(served, shown, true_ctr, clicked, converted)


def order_value(click_id: str) -> int:
    """A purchase's value, 5.00 to 80.00 in the advertiser's currency (micros), from its click id: no draw from the rng."""
    return (500 + int(hashlib.sha256(click_id.encode()).hexdigest()[:8], 16) % 7_501) * 10_000


def _body(person: Person, placement: str) -> dict[str, object]:
    """The decision request an app sends for `person` (only what it knows about them)."""
    body: dict[str, object] = {
        "placement": placement,
        "user_id": person.user_id,
        "country": person.country,
        "device": person.device,
        "age": person.age,
        "gender": person.gender,
    }
    if person.language:
        body["language"] = person.language
    if person.os:
        body["os"] = person.os
    if person.interests:
        body["interests"] = list(person.interests)
    return body
