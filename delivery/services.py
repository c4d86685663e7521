"""Delivery's writes: the event consumer, spend posting, Redis reconciliation, partitions, pixels.

- `consume_events` moves the Redis stream into the PostgreSQL event store: COPY into a temporary
  table, INSERT ... ON CONFLICT DO NOTHING, commit, and only then acknowledge. A consumer killed
  mid-batch re-reads its unacknowledged entries on restart and inserts nothing twice.
- `post_spend` moves charged cost from the event store into the ledger through
  billing.services.record_spend, between two `seq` watermarks, in one database transaction with
  the watermark, so ledger spend == event-store cost, always.
- `reconcile_counters` rebuilds Redis's charge counters from PostgreSQL when Redis lost them.
"""

import csv
import hashlib
import io
import logging
import secrets
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Sum

from accounts.models import Advertiser, Role, User
from accounts.services import require_role
from adplatform import clock
from adplatform.redis_client import get_redis
from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.models import Kind as LedgerKind
from billing.models import Transaction
from campaigns.models import AdGroup, Campaign, Placement

from . import charging
from .models import AdPerformance, ConversionPixel, PlacementPerformance, PostingWatermark, SpendDay

logger = logging.getLogger(__name__)

GROUP = "store"
CONSUMER = "store-1"  # one consumer at a time (a Redis lock), so `seq` order is commit order
CONSUMER_LOCK = "delivery:consumer:lock"
POSTING_LOCK = "delivery:posting:lock"
EPOCH_KEY = "delivery:counters:epoch"  # present while Redis holds counters rebuilt from PostgreSQL
WATERMARK = "ledger"
PIXEL_PREFIX = "pix_"
COLUMNS = (
    "occurred_at", "event_id", "kind", "status", "reason", "request_id", "ad_id", "ad_group_id", "campaign_id",
    "advertiser_id", "placement", "country", "device", "user_key", "billed_on", "price_micros", "cost_micros",
    "value_micros", "currency", "event_name",
)  # fmt: skip
NULL = "\\N"  # how COPY is told a value is missing (an empty string stays an empty string)
EVENT_NAMESPACE = uuid.UUID("9a4f1c2e-5b1d-4c1e-9a55-2a7d3e0c6b11")


# --- the stream into the event store ------------------------------------------------------------


def _ensure_group(client: object) -> None:
    try:
        client.xgroup_create(charging.STREAM, GROUP, id="0", mkstream=True)  # type: ignore[attr-defined]
    except Exception as exc:  # BUSYGROUP: it exists already
        if "BUSYGROUP" not in str(exc):
            raise


def _row(fields: dict[bytes, bytes]) -> list[str]:
    get = {key.decode(): value.decode() for key, value in fields.items()}
    kind = get["k"]
    occurred = datetime.fromtimestamp(float(get["t"]), tz=UTC)
    if kind == "conversion":
        event_id = uuid.uuid5(EVENT_NAMESPACE, f"conversion:{get['eid']}")
    else:
        event_id = uuid.uuid5(EVENT_NAMESPACE, f"{get['r']}:{get['a']}:{kind}")
    return [
        occurred.isoformat(),
        str(event_id),
        kind,
        get.get("status", "valid"),
        get.get("reason", "")[:40],
        get.get("r") or NULL,
        get.get("a") or NULL,
        get.get("g") or NULL,
        get.get("c") or NULL,
        get["v"],
        get.get("p", "")[:50],
        get.get("co", "")[:2],
        get.get("d", "")[:15],
        get.get("u", "")[:32],
        get.get("b", "")[:10],
        get.get("pr", "0") or "0",
        get.get("cost", "0") or "0",
        get.get("val", "0") or "0",
        get.get("cur", "")[:3],
        get.get("ev", "")[:50],
    ]


def store_rows(rows: list[list[str]]) -> int:
    """COPY rows into the event store, skipping any already there; returns how many were new."""
    if not rows:
        return 0
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS delivery_event_load (LIKE delivery_event INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cursor.copy_expert(  # type: ignore[attr-defined]
            f"COPY delivery_event_load ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv, NULL '{NULL}')", buffer
        )
        cursor.execute(
            f"INSERT INTO delivery_event ({', '.join(COLUMNS)}) "  # noqa: S608 - fixed column names
            f"SELECT {', '.join(COLUMNS)} FROM delivery_event_load ORDER BY occurred_at "
            "ON CONFLICT (occurred_at, event_id) DO NOTHING"
        )
        return cursor.rowcount


def consume_events(*, batch: int = 5000, max_batches: int = 1000) -> int:
    """Move what the stream holds into the event store; returns how many events were new."""
    client = get_redis()
    lock = client.lock(CONSUMER_LOCK, timeout=300, blocking_timeout=0)
    if not lock.acquire(blocking=False):
        return 0
    try:
        _ensure_group(client)
        stored = 0
        start_id = "0"  # first what this consumer read before but never acknowledged
        for _ in range(max_batches):
            response: Any = client.xreadgroup(GROUP, CONSUMER, {charging.STREAM: start_id}, count=batch)
            entries = response[0][1] if response else []
            if not entries:
                if start_id == "0":
                    start_id = ">"
                    continue
                break
            rows = [_row(fields) for _, fields in entries if fields]
            with transaction.atomic():
                stored += store_rows(rows)
            ids = [entry_id for entry_id, _ in entries]
            pipe = client.pipeline()
            pipe.xack(charging.STREAM, GROUP, *ids)
            pipe.xdel(charging.STREAM, *ids)
            pipe.execute()
        return stored
    finally:
        lock.release()


# --- charged cost into the ledger ---------------------------------------------------------------


def post_spend() -> int:
    """Post every charged cost the event store holds beyond the watermark; returns ledger rows written."""
    client = get_redis()
    lock = client.lock(POSTING_LOCK, timeout=300, blocking_timeout=0)
    if not lock.acquire(blocking=False):
        return 0
    try:
        with transaction.atomic():
            watermark, _ = PostingWatermark.objects.select_for_update().get_or_create(name=WATERMARK)
            with connection.cursor() as cursor:
                cursor.execute("SELECT coalesce(max(seq), 0) FROM delivery_event")
                upto = cursor.fetchone()[0]
                if upto <= watermark.seq:
                    return 0
                cursor.execute(
                    """
                    SELECT e.advertiser_id, e.campaign_id, e.ad_group_id, e.ad_id, e.placement, e.kind, e.status,
                           (e.occurred_at AT TIME ZONE a.time_zone)::date, sum(e.cost_micros), count(*)
                    FROM delivery_event e JOIN accounts_advertiser a ON a.id = e.advertiser_id
                    WHERE e.seq > %s AND e.seq <= %s AND e.kind <> 'serve'
                    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
                    """,
                    [watermark.seq, upto],
                )
                rows = cursor.fetchall()
            written = _post_rows(rows, watermark.seq, upto)
            watermark.seq, watermark.updated_at = upto, clock.now()
            watermark.save()
        return written
    finally:
        lock.release()


def _post_rows(rows: Iterable[tuple], start: int, end: int) -> int:
    per_campaign: dict[tuple[int, int], int] = defaultdict(int)
    per_day: dict[tuple[int, int, int, Any], int] = defaultdict(int)
    ads: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    placements: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for advertiser_id, campaign_id, ad_group_id, ad_id, placement, kind, status, day, cost, count in rows:
        if cost:
            per_campaign[(advertiser_id, campaign_id)] += cost
            per_day[(advertiser_id, campaign_id, ad_group_id, day)] += cost
        if status == "valid" and ad_id is not None:
            slot = {"impression": 0, "click": 1, "conversion": 2}[kind]
            ads[ad_id][slot] += count
            if placement and slot < 2:
                placements[placement][slot] += count
    advertisers = Advertiser.objects.in_bulk({advertiser_id for advertiser_id, _ in per_campaign})
    campaigns = Campaign.objects.in_bulk({campaign_id for _, campaign_id in per_campaign})
    for (advertiser_id, campaign_id), cost in sorted(per_campaign.items()):
        billing_services.record_spend(
            advertiser=advertisers[advertiser_id],
            amount_micros=cost,
            idempotency_key=f"spend:{advertiser_id}:{campaign_id}:{start}-{end}",
            campaign=campaigns.get(campaign_id),
            reference=f"delivered events {start + 1}-{end}",
        )
    for (advertiser_id, campaign_id, ad_group_id, day), cost in per_day.items():
        updated = SpendDay.objects.filter(ad_group_id=ad_group_id, day=day).update(cost_micros=F("cost_micros") + cost)
        if not updated:
            SpendDay.objects.create(
                ad_group_id=ad_group_id, campaign_id=campaign_id, advertiser_id=advertiser_id, day=day, cost_micros=cost
            )
    now = clock.now()
    for ad_id, (impressions, clicks, conversions) in ads.items():
        if not AdPerformance.objects.filter(ad_id=ad_id).update(
            impressions=F("impressions") + impressions,
            clicks=F("clicks") + clicks,
            conversions=F("conversions") + conversions,
            updated_at=now,
        ):
            AdPerformance.objects.create(
                ad_id=ad_id, impressions=impressions, clicks=clicks, conversions=conversions, updated_at=now
            )
    placement_ids = dict(Placement.objects.filter(key__in=placements).values_list("key", "pk"))
    for key, (impressions, clicks) in placements.items():
        if key in placement_ids and not PlacementPerformance.objects.filter(placement_id=placement_ids[key]).update(
            impressions=F("impressions") + impressions, clicks=F("clicks") + clicks, updated_at=now
        ):
            PlacementPerformance.objects.create(
                placement_id=placement_ids[key], impressions=impressions, clicks=clicks, updated_at=now
            )
    return len(per_campaign)


# --- the balance guard and counters in Redis ------------------------------------------------------


def posted_spend_micros(advertiser: Advertiser) -> int:
    """All spend ever posted to the advertiser's ledger (a positive number)."""
    total = Transaction.objects.filter(advertiser=advertiser, kind=LedgerKind.SPEND).aggregate(total=Sum("amount_micros"))[
        "total"
    ]
    return -(total or 0)


def refresh_allowance(advertiser: Advertiser) -> int:
    """Set the advertiser's Redis allowance: spendable money plus spend already posted (see charging)."""
    allowance = billing_selectors.spendable_micros(advertiser) + posted_spend_micros(advertiser)
    client = get_redis()
    pipe = client.pipeline()
    pipe.set(charging.allowance_key(advertiser.pk), allowance)
    pipe.zrem(charging.EXHAUSTED, f"a:{advertiser.pk}")
    pipe.execute()
    return allowance


def _unposted_cost(watermark: int) -> dict[tuple[str, int], int]:
    """Charged cost in the event store beyond the posting watermark, per ("a"|"c"|"ag", id)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT advertiser_id, campaign_id, ad_group_id, sum(cost_micros) FROM delivery_event "
            "WHERE seq > %s AND cost_micros > 0 GROUP BY 1, 2, 3",
            [watermark],
        )
        totals: dict[tuple[str, int], int] = defaultdict(int)
        for advertiser_id, campaign_id, ad_group_id, cost in cursor.fetchall():
            totals[("a", advertiser_id)] += cost
            totals[("c", campaign_id)] += cost
            totals[("ag", ad_group_id)] += cost
        return totals


def _unposted_today(watermark: int, advertiser: Advertiser) -> dict[tuple[str, int], int]:
    zone = ZoneInfo(advertiser.time_zone)
    start = datetime.combine(clock.now().astimezone(zone).date(), dt_time.min, tzinfo=zone)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT campaign_id, ad_group_id, sum(cost_micros) FROM delivery_event "
            "WHERE seq > %s AND cost_micros > 0 AND advertiser_id = %s AND occurred_at >= %s GROUP BY 1, 2",
            [watermark, advertiser.pk, start],
        )
        totals: dict[tuple[str, int], int] = defaultdict(int)
        for campaign_id, ad_group_id, cost in cursor.fetchall():
            totals[("c", campaign_id)] += cost
            totals[("ag", ad_group_id)] += cost
        return totals


def rebuild_counters(advertisers: Iterable[Advertiser] | None = None) -> int:
    """Rebuild charged totals, allowances and today's and lifetime budget counters from PostgreSQL."""
    client = get_redis()
    watermark = PostingWatermark.objects.filter(name=WATERMARK).values_list("seq", flat=True).first() or 0
    unposted = _unposted_cost(watermark)
    rebuilt = 0
    for advertiser in advertisers if advertisers is not None else Advertiser.objects.all():
        today = clock.now().astimezone(ZoneInfo(advertiser.time_zone)).date()
        unposted_today = _unposted_today(watermark, advertiser)
        posted = posted_spend_micros(advertiser)
        pipe = client.pipeline()
        pipe.set(charging.charged_key(advertiser.pk), posted + unposted.get(("a", advertiser.pk), 0))
        pipe.set(charging.allowance_key(advertiser.pk), billing_selectors.spendable_micros(advertiser) + posted)
        for ad_group in AdGroup.objects.filter(campaign__advertiser=advertiser).select_related("campaign"):
            days = SpendDay.objects.filter(ad_group=ad_group)
            lifetime = (days.aggregate(total=Sum("cost_micros"))["total"] or 0) + unposted.get(("ag", ad_group.pk), 0)
            day_total = (days.filter(day=today).aggregate(total=Sum("cost_micros"))["total"] or 0) + unposted_today.get(
                ("ag", ad_group.pk), 0
            )
            pipe.set(charging.ad_group_life_key(advertiser.pk, ad_group.pk), lifetime)
            pipe.set(
                charging.ad_group_day_key(advertiser.pk, ad_group.pk, today.isoformat()), day_total, ex=charging.DAY_COUNTER_TTL
            )
        for campaign in Campaign.objects.filter(advertiser=advertiser):
            days = SpendDay.objects.filter(campaign_id=campaign.pk)
            lifetime = (days.aggregate(total=Sum("cost_micros"))["total"] or 0) + unposted.get(("c", campaign.pk), 0)
            day_total = (days.filter(day=today).aggregate(total=Sum("cost_micros"))["total"] or 0) + unposted_today.get(
                ("c", campaign.pk), 0
            )
            pipe.set(charging.campaign_life_key(advertiser.pk, campaign.pk), lifetime)
            pipe.set(
                charging.campaign_day_key(advertiser.pk, campaign.pk, today.isoformat()), day_total, ex=charging.DAY_COUNTER_TTL
            )
        pipe.execute()
        rebuilt += 1
    return rebuilt


def reconcile_counters() -> bool:
    """If Redis lost its counters (no epoch marker), rebuild them all from PostgreSQL; True if it did."""
    client = get_redis()
    if client.exists(EPOCH_KEY):
        return False
    rebuild_counters()
    client.set(EPOCH_KEY, clock.now().isoformat())
    return True


# --- partitions of the event store --------------------------------------------------------------


def ensure_partitions(*, days_ahead: int = 3, days_back: int = 1) -> list[str]:
    """Create the daily partitions around today that do not exist yet; returns their names."""
    created = []
    today = clock.now().astimezone(UTC).date()
    with connection.cursor() as cursor:
        for offset in range(-days_back, days_ahead + 1):
            day = today + timedelta(days=offset)
            name = f"delivery_event_{day:%Y%m%d}"
            start = datetime.combine(day, dt_time.min, tzinfo=UTC)
            end = start + timedelta(days=1)
            cursor.execute("SELECT to_regclass(%s)", [name])
            if cursor.fetchone()[0] is not None:
                continue
            cursor.execute(
                "SELECT 1 FROM delivery_event_default WHERE occurred_at >= %s AND occurred_at < %s LIMIT 1", [start, end]
            )
            if cursor.fetchone() is not None:
                continue  # rows for that day already sit in the default partition; leave the day there
            cursor.execute(
                f"CREATE TABLE {name} PARTITION OF delivery_event FOR VALUES FROM (%s) TO (%s)",
                [start, end],
            )
            created.append(name)
    return created


# --- conversion pixels --------------------------------------------------------------------------


@transaction.atomic
def pixel_create(*, actor: User, advertiser: Advertiser, name: str) -> tuple[ConversionPixel, str]:
    """A conversion pixel key for the advertiser (admins); the key is shown once and stored as a hash."""
    require_role(user=actor, advertiser=advertiser, minimum=Role.ADMIN)
    if not name.strip() or len(name.strip()) > 100:
        raise ValidationError({"name": ["Enter a name of at most 100 characters."]})
    raw = PIXEL_PREFIX + secrets.token_urlsafe(24)
    pixel = ConversionPixel.objects.create(
        advertiser=advertiser, name=name.strip(), key_hash=hashlib.sha256(raw.encode()).hexdigest(), key_hint=raw[-4:]
    )
    return pixel, raw


@transaction.atomic
def pixel_deactivate(*, actor: User, pixel: ConversionPixel) -> None:
    """Stop accepting conversions with this pixel's key."""
    require_role(user=actor, advertiser=pixel.advertiser, minimum=Role.ADMIN)
    ConversionPixel.objects.filter(pk=pixel.pk).update(is_active=False)
