"""Impressions, clicks and conversions: verified, recorded once, charged within every cap.

Each tracking event costs one Redis round trip (the charge script); nothing here touches SQL.
The prices and caps come from the signed link and the in-process index.
"""

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse
from zoneinfo import ZoneInfo

from redis import Redis

from adplatform import clock, money

from . import links
from .charging import STREAM, Caps, Charger, Outcome, tag
from .decision import event_fields
from .types import Candidate, Snapshot

BOT_PATTERN = re.compile(
    r"bot|crawl|spider|slurp|curl|wget|python-requests|httpclient|headless|phantomjs|facebookexternalhit|preview",
    re.IGNORECASE,
)
CLICK_BURST_PER_MINUTE = 5
ATTRIBUTION_SECONDS = 7 * 86_400
CONVERSION_DEDUPE_SECONDS = 30 * 86_400
CLICK_ID_PARAMETER = "adp_click_id"


def is_bot(user_agent: str) -> bool:
    return not user_agent or BOT_PATTERN.search(user_agent) is not None


def _day_bounds(moment: datetime, time_zone: str) -> tuple[str, int]:
    """The advertiser's local day of `moment` and the unix time that day ends."""
    zone = ZoneInfo(time_zone)
    local_day = moment.astimezone(zone).date()
    return local_day.isoformat(), int(clock.day_start(zone, local_day + timedelta(days=1)).timestamp())


@dataclass(frozen=True)
class Context:
    """What charging needs beyond the link: the ad group's caps and time zone, from the index."""

    caps: Caps
    time_zone: str
    frequency_days: int | None


_by_ad: tuple[Snapshot | None, dict[str, tuple[object, int, dict[int, Candidate]]]] = (None, {})


def _placement_ads(snapshot: Snapshot, placement: str) -> dict[int, Candidate]:
    """The placement's candidates by ad id (the first one listed, as a scan would find), built once per snapshot."""
    global _by_ad
    listed = snapshot.candidates.get(placement, [])
    held, built = _by_ad
    if held is not snapshot:
        built = {}
        _by_ad = (snapshot, built)
    entry = built.get(placement)
    if entry is None or entry[0] is not listed or entry[1] != len(listed):
        ads: dict[int, Candidate] = {}
        for item in listed:
            ads.setdefault(item.ad_id, item)
        entry = built[placement] = (listed, len(listed), ads)
    return entry[2]


def context_for(snapshot: Snapshot | None, served: links.Served) -> Context:
    """Caps and time zone of the served ad group, from the index (no caps known: nothing is charged)."""
    candidate: Candidate | None = None
    if snapshot is not None and served.placement in snapshot.candidates:
        try:
            candidate = _placement_ads(snapshot, served.placement).get(served.ad_id)
        except TypeError:  # an unhashable id from a forged link equals no ad
            candidate = None
    if candidate is None:
        return Context(Caps(-1, -1, -1, -1), "UTC", None)
    caps = Caps(
        candidate.ad_group_daily_cap,
        candidate.ad_group_lifetime_cap,
        candidate.campaign_daily_cap,
        candidate.campaign_lifetime_cap,
    )
    return Context(caps, candidate.time_zone, candidate.frequency_days)


def record(
    charger: Charger,
    kind: str,
    served: links.Served,
    context: Context,
    *,
    moment: datetime,
    invalid_reason: str = "",
) -> Outcome:
    """Record an impression ("i") or click ("c") of a served ad, charging it if it is what is billed."""
    day, day_ends = _day_bounds(moment, context.time_zone)
    billed = served.billed_on == ("impression" if kind == "i" else "click")
    missing_caps = context.caps.ad_group_daily < 0
    reason = invalid_reason or ("unknown_ad" if missing_caps and billed else "")
    caps = Caps(0, 0, 0, 0) if missing_caps else context.caps
    frequency_ttl = (context.frequency_days or 0) * 86_400 if kind == "i" else 0
    return charger.record(
        kind=kind,
        advertiser_id=served.advertiser_id,
        ad_group_id=served.ad_group_id,
        campaign_id=served.campaign_id,
        request_id=served.request_id,
        ad_id=served.ad_id,
        day=day,
        day_ends_at=day_ends,
        now=int(moment.timestamp()),
        price_micros=served.price_micros if billed else 0,
        caps=caps,
        frequency_key_ttl=frequency_ttl,
        user_key=served.user_key,
        fields=event_fields("impression" if kind == "i" else "click", served, status="", at=moment.timestamp()),
        invalid_reason=reason,
        burst_limit=CLICK_BURST_PER_MINUTE if kind == "c" else 0,
    )


def record_bad_link(client: Redis, kind: str, payload: str, reason: str, *, moment: datetime) -> None:
    """Keep a trace of a link that failed verification: an invalid event if its facts can be read, else a counter."""
    served = links.unverified_facts(payload)
    if served is None:
        client.incr(f"delivery:invalid:{reason}")
        return
    fields = event_fields("impression" if kind == "i" else "click", served, status="invalid", at=moment.timestamp())
    fields.update(status="invalid", cost=0, reason=reason)
    client.xadd(STREAM, fields)


def click_id(served: links.Served) -> str:
    """The id handed to the landing page, which the advertiser reports back with a conversion."""
    return f"{served.advertiser_id}.{uuid.uuid5(uuid.NAMESPACE_URL, f'{served.request_id}:{served.ad_id}').hex}"


def remember_click(client: Redis, served: links.Served, *, moment: datetime) -> str:
    """Store what a conversion needs to be attributed to this click, for the attribution window."""
    identifier = click_id(served)
    facts = {
        "ad": served.ad_id,
        "ag": served.ad_group_id,
        "c": served.campaign_id,
        "p": served.placement,
        "co": served.country,
        "d": served.device,
        "u": served.user_key,
        "r": served.request_id,
        "at": moment.timestamp(),
    }
    client.set(f"{tag(served.advertiser_id)}:click:{identifier}", json.dumps(facts), ex=ATTRIBUTION_SECONDS)
    return identifier


def landing_with_click_id(landing_url: str, identifier: str) -> str:
    parts = urlparse(landing_url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), (CLICK_ID_PARAMETER, identifier)]
    return urlunparse(parts._replace(query=urlencode(query)))


class ConversionError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Conversion:
    click_id: str
    event_id: str
    event_name: str
    value_micros: int
    currency: str


def parse_conversion(body: object, *, currencies: frozenset[str] = frozenset()) -> Conversion:
    """A validated conversion report, or ConversionError naming the field (`currencies`: the known codes, if given)."""
    if not isinstance(body, dict):
        raise ConversionError("body", "Send a JSON object.")
    unknown = set(body) - {"click_id", "event_id", "event", "value", "currency"}
    if unknown:
        raise ConversionError(sorted(unknown)[0], "Unknown field.")
    texts = {}
    for name, limit in (("click_id", 80), ("event_id", 100), ("event", 50)):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise ConversionError(name, f"Send a non-empty string of at most {limit} characters.")
        if not value.isprintable() or "\\" in value:
            raise ConversionError(name, "Send printable text without control characters or backslashes.")
        texts[name] = value.strip()
    value_micros = 0
    currency = ""
    if body.get("value") is not None:
        try:
            value_micros = money.to_micros(str(Decimal(str(body["value"]))))
        except (InvalidOperation, money.MoneyError) as exc:
            raise ConversionError("value", "Send a decimal amount such as 12.50.") from exc
        if value_micros < 0:
            raise ConversionError("value", "A conversion value cannot be negative.")
    if body.get("value") is not None or body.get("currency") is not None:
        currency = body.get("currency") or ""
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
            raise ConversionError("currency", "Send the ISO 4217 code of the value, e.g. EUR.")
        if currencies and currency not in currencies:
            raise ConversionError("currency", f"Values in {currency} are not accepted; send one of the platform's currencies.")
    return Conversion(texts["click_id"], texts["event_id"], texts["event"], value_micros, currency)


def record_conversion(client: Redis, advertiser_id: int, conversion: Conversion, *, moment: datetime) -> str:
    """Record a conversion once per event_id, attributed to its click if it came within 7 days.

    Returns "attributed", "unattributed" or "duplicate".
    """
    prefix = tag(advertiser_id)
    fields: dict[Any, Any] = {
        "k": "conversion",
        "t": f"{moment.timestamp():.6f}",
        "v": advertiser_id,
        "ev": conversion.event_name,
        "val": conversion.value_micros,
        "cur": conversion.currency,
        "eid": hashlib.sha256(f"{advertiser_id}:{conversion.event_id}".encode()).hexdigest()[:32],
        "cost": 0,
    }
    if not client.set(f"{prefix}:conversion:{conversion.event_id}", "1", nx=True, ex=CONVERSION_DEDUPE_SECONDS):
        fields.update(status="invalid", reason="duplicate")
    else:
        raw = client.get(f"{prefix}:click:{conversion.click_id}") if conversion.click_id.startswith(f"{advertiser_id}.") else None
        click = json.loads(raw) if raw is not None else None
        if click is None or moment.timestamp() - float(click.get("at", 0)) > ATTRIBUTION_SECONDS:
            fields.update(status="invalid", reason="unattributed")
        else:
            fields.update(
                status="valid",
                reason="",
                r=click["r"],
                a=click["ad"],
                g=click["ag"],
                c=click["c"],
                p=click["p"],
                co=click["co"],
                d=click["d"],
                u=click["u"],
            )
    client.xadd(STREAM, fields)
    return "attributed" if fields["status"] == "valid" else str(fields["reason"])
