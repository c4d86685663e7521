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
import json
import logging
import re
import secrets
import statistics
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Sum
from redis.exceptions import LockNotOwnedError
from redis.lock import Lock

from accounts.models import Advertiser, Role, User
from accounts.services import require_role
from adplatform import clock
from adplatform.redis_client import get_redis
from adplatform.text import is_id
from billing import services as billing_services
from billing.models import Kind as LedgerKind
from billing.models import Transaction
from campaigns.choices import BudgetMode, Pacing, Status
from campaigns.models import AdGroup, Campaign, Placement

from . import charging, index, pacing
from .models import AdPerformance, ConversionPixel, PlacementPerformance, PostingWatermark, SpendDay

logger = logging.getLogger(__name__)

GROUP = "store"
CONSUMER = "store-1"  # one consumer at a time (a Redis lock), so `seq` order is commit order
CONSUMER_LOCK = "delivery:consumer:lock"
CONSUMER_LOCK_SECONDS = 60  # renewed every batch
DEAD_LETTERS = "delivery:events:dead"  # entries that cannot be stored, with why
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


@lru_cache(maxsize=4096)
def _second_isoformat(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()


def _occurred_at(stamp: str) -> str:
    """`datetime.fromtimestamp(float(stamp), tz=UTC).isoformat()`, the same instant, cheaper for the usual stamp."""
    seconds, dot, fraction = stamp.partition(".")
    if dot and len(fraction) == 6 and fraction.isascii() and fraction.isdigit() and seconds.isascii() and seconds.isdigit():
        whole = int(seconds)
        if whole < 2**32:  # the float of such a stamp is within 0.25 us of it, so fromtimestamp keeps its six decimals
            return f"{_second_isoformat(whole)[:-6]}.{fraction}+00:00"
    return datetime.fromtimestamp(float(stamp), tz=UTC).isoformat()


_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes


def _event_id(name: str) -> str:
    """`str(uuid.uuid5(EVENT_NAMESPACE, name))` without building a UUID: SHA-1, then the version 5 and variant bits."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).digest()[:16])
    digest[6] = digest[6] & 0x0F | 0x50
    digest[8] = digest[8] & 0x3F | 0x80
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class BadEntryError(ValueError):
    """A stream entry that cannot become an event-store row; it goes to the dead-letter stream."""


KINDS = frozenset({"serve", "impression", "click", "conversion"})
STATUSES = frozenset({"valid", "invalid", "unbilled"})
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX = re.compile(r"[0-9a-f]{1,64}")


def _id(text: str | None, *, required: bool = False) -> str:
    """A bigint id as COPY text, or NULL."""
    if not text:
        if required:
            raise BadEntryError("an id is missing")
        return NULL
    if not is_id(text):
        raise BadEntryError(f"not an id: {text[:40]!r}")
    return text


def _amount(text: str | None) -> str:
    if not text:
        return "0"
    digits = text[1:] if text[:1] == "-" else text
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 18):
        raise BadEntryError(f"not an amount: {text[:40]!r}")
    return text


def _row(fields: dict[bytes, bytes]) -> list[str]:
    """The event-store row of one stream entry, or BadEntryError saying why it cannot be one.

    The consumer's inner loop (about 8 us a row): the usual entry takes the fast checks only. NUL
    bytes, which PostgreSQL refuses in text, are taken out of each CSV chunk as a whole (`_clean`).
    """
    get = {key.decode(errors="replace"): value.decode(errors="replace") for key, value in fields.items()}
    kind = get.get("k")
    if kind not in KINDS:
        raise BadEntryError(f"unknown kind {kind!r}")
    status = get.get("status", "valid")
    if status not in STATUSES:
        raise BadEntryError(f"unknown status {status!r}")
    request_id = get.get("r")
    if request_id and not _UUID.fullmatch(request_id):
        raise BadEntryError("request id is not a UUID")
    if kind == "conversion":
        if not _HEX.fullmatch(get.get("eid", "")):
            raise BadEntryError("conversion without an event id")
        what = f"conversion:{get['eid']}"
    else:
        if not request_id:
            raise BadEntryError("event without a request id")
        what = f"{request_id}:{get.get('a')}:{kind}"
    try:
        occurred_at = _occurred_at(get.get("t", ""))
    except (ValueError, OverflowError, OSError) as exc:
        raise BadEntryError("no valid time") from exc
    ids = (get.get("a") or "", get.get("g") or "", get.get("c") or "", get.get("v") or "")
    if not all(ids) or not "".join(ids).isdigit() or not "".join(ids).isascii() or max(map(len, ids)) > 18:
        ids = (_id(ids[0]), _id(ids[1]), _id(ids[2]), _id(ids[3], required=True))
    amounts = (get.get("pr") or "0", get.get("cost") or "0", get.get("val") or "0")
    if not "".join(amounts).isdigit() or not "".join(amounts).isascii() or max(map(len, amounts)) > 18:
        amounts = (_amount(amounts[0]), _amount(amounts[1]), _amount(amounts[2]))
    texts = [
        get.get("reason", "")[:40],
        get.get("p", "")[:50],
        get.get("co", "")[:2],
        get.get("d", "")[:15],
        get.get("u", "")[:32],
        get.get("b", "")[:10],
        get.get("cur", "")[:3],
        get.get("ev", "")[:50],
    ]
    if NULL in texts:  # text that reads as COPY's NULL marker would be refused: keep it out
        texts = ["" if text == NULL else text for text in texts]
    reason, placement, country, device, user_key, billed_on, currency, event_name = texts
    return [
        occurred_at, _event_id(what), kind, status, reason, request_id or NULL, *ids, placement, country, device,
        user_key, billed_on, *amounts, currency, event_name,
    ]  # fmt: skip


def _clean(text: str) -> str:
    """CSV text as PostgreSQL takes it: without NUL characters."""
    return text.replace("\x00", "") if "\x00" in text else text


def _csv(rows: Iterable[list[str]]) -> io.StringIO:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return io.StringIO(_clean(buffer.getvalue()))


class BatchRows:
    """A batch of stream entries as event-store rows, oldest first, each converted only when read.

    So while COPY streams them, PostgreSQL works on one chunk while the next is being converted.
    Entries that cannot be rows are skipped and kept in `rejected` (entry id, fields, why) for the
    dead-letter stream, so one bad entry never holds up the ones behind it.
    """

    def __init__(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        self.entries = entries
        self.rejected: list[tuple[bytes, dict[bytes, bytes], str]] = []

    def __len__(self) -> int:
        return len(self.entries)

    def _rows(self, entries: Iterable[tuple[bytes, dict[bytes, bytes]]]) -> Iterator[list[str]]:
        self.rejected = []
        for entry_id, fields in entries:
            try:
                yield _row(fields)
            except BadEntryError as exc:
                self.rejected.append((entry_id, fields, str(exc)))

    def __iter__(self) -> Iterator[list[str]]:
        try:
            ordered = sorted(self.entries, key=lambda entry: float(entry[1][b"t"]))
        except (KeyError, TypeError, ValueError):  # no time to sort by: convert them the plain way
            yield from sorted(self.plain(), key=itemgetter(0))
            return
        yield from self._rows(ordered)

    def plain(self) -> list[list[str]]:
        return list(self._rows(self.entries))


class _CopySource:
    """The input of COPY ... FROM STDIN: rows turned into CSV a chunk at a time, as PostgreSQL reads.

    A failure while making rows ends the input early; it is kept in `failure` for the caller.
    """

    CHUNK_ROWS = 250

    def __init__(self, rows: Iterable[list[str]]) -> None:
        self.rows = iter(rows)
        self.count = 0
        self.failure: Exception | None = None
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)

    def read(self, size: int = -1) -> str:
        if self.failure is not None:
            return ""
        try:
            chunk = list(islice(self.rows, self.CHUNK_ROWS))
            self.buffer.seek(0)
            self.buffer.truncate()
            self.writer.writerows(chunk)
        except Exception as exc:  # whatever it is, the plain way raises it again
            self.failure = exc
            return ""
        self.count += len(chunk)
        return _clean(self.buffer.getvalue())


class _RowsFailedError(Exception):
    """Making the rows failed while COPY was reading them."""


def store_rows(rows: list[list[str]] | BatchRows) -> int:
    """COPY rows into the event store, skipping any already there; returns how many were new.

    Usually none of them is there yet: they are COPYed straight in, oldest first (ISO 8601 UTC times
    sort as text), so `seq` follows time as the ORDER BY below makes it. If any is there (a batch
    read again after a crash), or making a row failed, that COPY is undone and they go the plain
    way: through a temporary table and INSERT ... ON CONFLICT DO NOTHING, which costs twice as much
    (and raises what making the rows raises).
    """
    if not rows:
        return 0
    source = _CopySource(rows if isinstance(rows, BatchRows) else sorted(rows, key=itemgetter(0)))
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.copy_expert(  # type: ignore[attr-defined]
                f"COPY delivery_event ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv, NULL '{NULL}')", source
            )
            if source.failure is not None:
                raise _RowsFailedError  # undoes what the COPY took in
            return source.count
    except (connection.Database.IntegrityError, _RowsFailedError):  # type: ignore[attr-defined]  # COPY errors come unwrapped
        pass
    if isinstance(rows, BatchRows):
        rows = rows.plain()
    buffer = _csv(rows)
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
    lock = client.lock(CONSUMER_LOCK, timeout=CONSUMER_LOCK_SECONDS, blocking_timeout=0)
    if not lock.acquire(blocking=False):
        return 0
    try:
        _ensure_group(client)
        stored = 0
        start_id = "0"  # first what this consumer read before but never acknowledged
        for _ in range(max_batches):
            response: Any = client.xreadgroup(GROUP, CONSUMER, {charging.STREAM: start_id}, count=batch)
            entries = response[0][1] if response else []
            try:
                lock.reacquire()  # a live consumer keeps the lock; a dead one loses it within a minute
            except LockNotOwnedError:  # a batch outlived it (logged on release): what was stored stands, the next run reads on
                break
            if not entries:
                if start_id == "0":
                    start_id = ">"
                    continue
                break
            rows = BatchRows([(entry_id, fields) for entry_id, fields in entries if fields])
            with transaction.atomic():
                stored += store_rows(rows)
            ids = [entry_id for entry_id, _ in entries]
            pipe = client.pipeline()
            for entry_id, fields, why in rows.rejected:  # kept for a person to look at, never retried
                logger.warning("dead-lettered stream entry %s: %s", entry_id, why)
                dead: dict[Any, Any] = {**fields, b"dead_id": entry_id, b"dead_why": why}
                pipe.xadd(DEAD_LETTERS, dead, maxlen=100_000, approximate=True)
            pipe.xack(charging.STREAM, GROUP, *ids)
            pipe.xdel(charging.STREAM, *ids)
            pipe.execute()
        return stored
    finally:
        _release(lock)


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
        _release(lock)


def _release(lock: Lock) -> None:
    """Release a run's lock; one that timed out during the run (a slow database) is logged, not raised.

    The run's work is committed by then, and overlapping runs serialise on the watermark's row lock,
    so the task has not failed: raising here only made it look so.
    """
    try:
        lock.release()
    except LockNotOwnedError:
        logger.warning("lock %s timed out during the run", lock.name)


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


def allowance_micros(advertiser_id: int) -> int:
    """Spendable money plus all spend ever posted, read in one statement, so of one moment.

    That is the credit limit (on a credit line) plus every ledger row that is not spend: posting
    spend moves money between the two terms and leaves the sum where it was.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT CASE WHEN a.billing_mode = %s THEN a.credit_limit_micros ELSE 0 END
                   + coalesce((SELECT sum(t.amount_micros) FROM {Transaction._meta.db_table} t
                               WHERE t.advertiser_id = a.id AND t.kind <> %s), 0)::bigint
            FROM {Advertiser._meta.db_table} a WHERE a.id = %s
            """,  # noqa: S608 - table names from the models
            [Advertiser.BillingMode.CREDIT_LINE, LedgerKind.SPEND, advertiser_id],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def refresh_allowance(advertiser: Advertiser) -> int:
    """Set the advertiser's Redis allowance: spendable money plus spend already posted (see charging)."""
    allowance = allowance_micros(advertiser.pk)
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
            "SELECT advertiser_id, campaign_id, ad_group_id, sum(cost_micros)::bigint FROM delivery_event "
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
            "SELECT campaign_id, ad_group_id, sum(cost_micros)::bigint FROM delivery_event "
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
    chosen = list(advertisers) if advertisers is not None else None
    watermark = PostingWatermark.objects.filter(name=WATERMARK).values_list("seq", flat=True).first() or 0
    unposted = _unposted_cost(watermark)
    rebuilt = 0
    for advertiser in chosen if chosen is not None else Advertiser.objects.all():
        today = clock.now().astimezone(ZoneInfo(advertiser.time_zone)).date()
        unposted_today = _unposted_today(watermark, advertiser)
        posted = posted_spend_micros(advertiser)
        pipe = client.pipeline()
        pipe.set(charging.charged_key(advertiser.pk), posted + unposted.get(("a", advertiser.pk), 0))
        pipe.set(charging.allowance_key(advertiser.pk), allowance_micros(advertiser.pk))
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
    _rebuild_seen(client, [advertiser.pk for advertiser in chosen] if chosen is not None else None)
    return rebuilt


def _rebuild_seen(client: Any, advertiser_ids: list[int] | None) -> int:
    """Mark every impression and click of the links still alive as seen again, so a replay stays a duplicate."""
    now = clock.now()
    since = now - timedelta(seconds=charging.DEDUPE_TTL)
    query = (
        "SELECT advertiser_id, kind, request_id, ad_id, occurred_at FROM delivery_event "
        "WHERE occurred_at >= %s AND kind IN ('impression', 'click') AND request_id IS NOT NULL AND ad_id IS NOT NULL "
        "AND (status <> 'invalid' OR reason IN ('no_impression', 'click_burst'))"
    )
    params: list[Any] = [since]
    if advertiser_ids is not None:
        query += " AND advertiser_id = ANY(%s)"
        params.append(advertiser_ids)
    marked = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(query, params)
        while chunk := cursor.fetchmany(5000):
            pipe = client.pipeline(transaction=False)
            for advertiser_id, kind, request_id, ad_id, occurred_at in chunk:
                ttl = charging.DEDUPE_TTL - int((now - occurred_at).total_seconds())
                if ttl > 0:
                    pipe.set(charging.seen_key(advertiser_id, kind[0], str(request_id), ad_id), "1", ex=ttl, nx=True)
                    marked += 1
            pipe.execute()
    return marked


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


# --- pacing ---------------------------------------------------------------------------------------

PACING_STATE_KEY = "delivery:pacing:state"  # hash: "ag:<id>" / "c:<id>" -> the controller's state (JSON)
# hash: placement -> "<YYYYMMDDHH> <its requests counted in that UTC hour> <epoch seconds>", read at the last run
PACING_REQUESTS_KEY = "delivery:pacing:requests"
# A controller to step: kind ("ag" / "c"), the ad group or campaign, its id, its advertiser's zone,
# the local day, F(now), and (requests counted, requests expected) since the last run if measured.
_Plan = tuple[str, AdGroup | Campaign, int, ZoneInfo, date, float, tuple[float, float] | None]
PROFILE_DAYS = 7
PACE_FIELDS = (  # what pace reads of an ad group, its campaign and advertiser (a minute's 3 x N model instances)
    "id", "pacing", "budget_mode", "budget_micros", "dayparting", "end_time", "campaign__id", "campaign__budget_mode",
    "campaign__budget_micros", "campaign__advertiser__id", "campaign__advertiser__time_zone",
)  # fmt: skip


def traffic_profiles(placements: Iterable[str], *, moment: datetime | None = None) -> dict[str, list[float] | None]:
    """Per placement, its typical ad requests per UTC hour of the day over the last 7 days (None: under a day of history)."""
    wanted = sorted(set(placements))
    return _full_profiles(_traffic_history(wanted, moment or clock.now())) if wanted else {}


def _traffic_history(placements: list[str], now: datetime) -> dict[str, tuple[list[float | None], int]]:
    """Per placement: its typical ad requests per UTC hour of the day over the last 7 days, and its hours with requests.

    Typical is the median of that hour's days (with two days, their mean): a push notification or a
    viral post that brought 5x the traffic for half an hour yesterday is not expected again today
    at the same time — the controller meets today's bursts as they come (`pacing`'s traffic
    ratio). An hour of the day its history does not cover yet (before its first counted hour) is
    None; a quiet hour since then counts as quiet. Per day, not a sum: with less than a week of
    history the hours of the day already seen twice would otherwise weigh double, and F(t) would
    run ahead of the day's traffic.
    """
    hours = [now.astimezone(UTC) - timedelta(hours=back) for back in range(1, PROFILE_DAYS * 24 + 1)]  # newest first
    pipe = get_redis().pipeline(transaction=False)
    for hour in hours:
        pipe.hmget(index.TRAFFIC_KEY.format(hour=hour.strftime("%Y%m%d%H")), placements)
    rows = pipe.execute()
    history: dict[str, tuple[list[float | None], int]] = {}
    for n, placement in enumerate(placements):
        counts = [int(row[n] or 0) for row in rows]
        seen = [back for back, count in enumerate(counts) if count > 0]
        days: list[list[int]] = [[] for _ in range(pacing.HOURS)]
        for back in range(seen[-1] + 1 if seen else 0):
            days[hours[back].hour].append(counts[back])
        history[placement] = ([float(statistics.median(day)) if day else None for day in days], len(seen))
    return history


def _full_profiles(history: dict[str, tuple[list[float | None], int]]) -> dict[str, list[float] | None]:
    """The placements with at least a day of hours with requests: their profiles (every hour of the day covered)."""
    return {
        placement: [typical or 0.0 for typical in hourly] if hours_seen >= pacing.HOURS else None
        for placement, (hourly, hours_seen) in history.items()
    }


def _expected_requests(profile: list[float], start: datetime, end: datetime) -> float:
    """The ad requests a profile of mean requests per UTC hour expects between `start` and `end`."""
    total, moment = 0.0, start.astimezone(UTC)
    while moment < end:
        until = min(moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1), end)
        total += profile[moment.hour] * (until - moment).total_seconds() / 3600
        moment = until
    return total


def _requests_since_last_run(
    placements: list[str], profiles: dict[str, list[float] | None], now: datetime
) -> tuple[dict[str, tuple[float, float]], dict[Any, Any]]:
    """Per placement with a profile: (ad requests counted since the last run, requests its profile expected).

    Also returns the readings to keep for the next run. The counters are the hourly hashes the
    decision view fills, so a reading of the previous hour is carried over the hour's turn.
    """
    if not placements:
        return {}, {}
    hours = [(now - timedelta(hours=back)).astimezone(UTC).strftime("%Y%m%d%H") for back in (0, 1)]
    pipe = get_redis().pipeline(transaction=False)
    for hour in hours:
        pipe.hmget(index.TRAFFIC_KEY.format(hour=hour), placements)
    pipe.hmget(PACING_REQUESTS_KEY, placements)
    counts, counted_before, readings = pipe.execute()
    measured: dict[str, tuple[float, float]] = {}
    kept: dict[Any, Any] = {}
    for placement, count, before, reading in zip(placements, counts, counted_before, readings, strict=True):
        kept[placement] = f"{hours[0]} {int(count or 0)} {now.timestamp()}"
        profile = profiles.get(placement)
        if profile is None or reading is None:
            continue
        hour, last, at = reading.decode().split()
        if not 0 < now.timestamp() - float(at) <= pacing.GAP_SECONDS or hour not in hours:
            continue
        came = int(count or 0) - int(last) if hour == hours[0] else int(before or 0) - int(last) + int(count or 0)
        measured[placement] = (float(max(came, 0)), _expected_requests(profile, datetime.fromtimestamp(float(at), UTC), now))
    return measured, kept


def _local_shape(utc_means: list[float | None], zone: ZoneInfo, day: date) -> list[float]:
    """A placement's expected requests per local hour of `day`: its means, and the default shape where it has none.

    Each local hour takes the UTC hour it mostly falls in. Hours its history does not cover yet
    follow the default profile scaled to the hours it does, so the forecast improves hour by hour
    from a placement's first requests, and F(t) does not jump when the first day is complete.
    """
    middles = [datetime.combine(day, dt_time(hour, 30), tzinfo=zone).astimezone(UTC) for hour in range(pacing.HOURS)]
    local = [utc_means[middle.hour] for middle in middles]
    covered = [(mean, default) for mean, default in zip(local, pacing.DEFAULT_PROFILE, strict=True) if mean is not None]
    scale = sum(mean for mean, _ in covered) / sum(default for _, default in covered) if covered else 0.0
    if scale <= 0:
        return list(pacing.DEFAULT_PROFILE)
    return [mean if mean is not None else default * scale for mean, default in zip(local, pacing.DEFAULT_PROFILE, strict=True)]


def _placements_shape(utc_means: list[list[float | None]], zone: ZoneInfo, day: date) -> list[float]:
    """The expected traffic per local hour of `day` over several placements, each weighing the same (their shapes' sum)."""
    weights = [0.0] * pacing.HOURS
    for means in utc_means:
        shape = _local_shape(means, zone, day)
        total = sum(shape)
        for hour, weight in enumerate(shape):
            weights[hour] += weight / total
    return weights if any(weights) else list(pacing.DEFAULT_PROFILE)


def _allowed_hours(dayparting: list[int], day: date) -> list[float] | None:
    """Per local hour of `day`, the share of it the ad group's dayparting allows (None: no dayparting)."""
    if not dayparting:
        return None
    slots = set(dayparting)
    first = day.weekday() * 48
    return [((first + 2 * hour) in slots) * 0.5 + ((first + 2 * hour + 1) in slots) * 0.5 for hour in range(pacing.HOURS)]


def _hours_before_end(end: datetime | None, zone: ZoneInfo, day: date) -> list[float] | None:
    """Per local hour of `day`, the share of it before the ad group ends (None: it runs all day).

    On its last day an ad group's budget must be spent by its end, not by midnight. Hours are the
    profile's, stretched over a daylight-saving day as `pacing.passed_share` stretches them.
    """
    if end is None:
        return None
    end_day, seconds, length = _seconds_into(end, zone)
    if end_day > day:
        return None
    if end_day < day:
        return [0.0] * pacing.HOURS
    position = seconds / length * pacing.HOURS
    return [min(max(position - hour, 0.0), 1.0) for hour in range(pacing.HOURS)]


def _combined(*allowed: list[float] | None) -> list[float] | None:
    """Per hour, the share every limit allows (None: no limit)."""
    known = [hours for hours in allowed if hours is not None]
    if not known:
        return None
    combined = [1.0] * pacing.HOURS
    for hours in known:
        combined = [a * b for a, b in zip(combined, hours, strict=True)]
    return combined


def _today_budget(
    mode: str, budget: int, life_spent: int, day_spent: int, day: date, end: datetime | None, zone: ZoneInfo
) -> int:
    """The day's budget: a daily one as it is; a lifetime one's remainder spread evenly over its days left (today's included)."""
    if mode == BudgetMode.DAILY:
        return budget
    if mode != BudgetMode.LIFETIME or end is None:
        return 0
    last_day = (end.astimezone(zone) - timedelta(microseconds=1)).date()  # an end at midnight serves none of that day
    days_left = max((last_day - day).days + 1, 1)
    before_today = life_spent - day_spent
    return max(budget - before_today, 0) // days_left


def _seconds_into(moment: datetime, zone: ZoneInfo) -> tuple[date, float, float]:
    """`moment`'s local day, the seconds of it passed, and its length (23 or 25 hours on a daylight-saving day)."""
    day = moment.astimezone(zone).date()
    start, end = clock.day_bounds(zone, day)
    return day, (moment - start).total_seconds(), (end - start).total_seconds()


def pace() -> int:
    """Run the pacing controller once for every serving ad group (and campaign budget); returns throttles written.

    Standard-paced ad groups with a daily or lifetime budget get a throttle from their own
    controller, and, when their campaign has a budget, the smaller of that and the campaign's.
    Accelerated ones get none (they take all the traffic they win).
    """
    moment = clock.now()
    ad_groups = list(
        AdGroup.objects.filter(
            status=Status.ACTIVE,
            campaign__status=Status.ACTIVE,
            campaign__advertiser__status=Advertiser.Status.ACTIVE,
            start_time__lte=moment,
        )
        .exclude(end_time__lte=moment)
        .select_related("campaign__advertiser")
        .only(*PACE_FIELDS)
    )
    client = get_redis()
    placements_of: dict[int, list[str]] = defaultdict(list)  # one query of keys, not a Placement per ad group
    through = AdGroup.placements.through.objects.filter(adgroup_id__in=[ad_group.pk for ad_group in ad_groups])
    for ad_group_id, key in through.values_list("adgroup_id", "placement__key").order_by("placement__key"):
        placements_of[ad_group_id].append(key)
    placements = sorted({key for keys in placements_of.values() for key in keys})
    history = _traffic_history(placements, moment) if placements else {}
    measured, readings = _requests_since_last_run(placements, _full_profiles(history), moment)
    plans: list[_Plan] = []
    counter_keys: list[str] = []
    campaigns: dict[int, Campaign] = {}
    days: dict[str, tuple[date, float, float]] = {}  # per time zone: its day, the seconds passed, its length
    weights_for: dict[tuple[tuple[str, ...], str], list[float]] = {}  # per placements and zone: today's local shape
    for ad_group in ad_groups:
        campaign = ad_group.campaign
        zone = ZoneInfo(campaign.advertiser.time_zone)
        if zone.key not in days:
            days[zone.key] = _seconds_into(moment, zone)
        day, seconds, length = days[zone.key]
        keys = tuple(placements_of[ad_group.pk])
        if (keys, zone.key) not in weights_for:
            weights_for[keys, zone.key] = _placements_shape([history[key][0] for key in keys], zone, day)
        weights = weights_for[keys, zone.key]
        curve = pacing.normalized(
            weights, _combined(_allowed_hours(list(ad_group.dayparting), day), _hours_before_end(ad_group.end_time, zone, day))
        )
        share = pacing.passed_share(curve, seconds, length)
        parts = [measured[key] for key in keys if key in measured]
        requests = (sum(came for came, _ in parts), sum(expected for _, expected in parts)) if parts else None
        advertiser_id = campaign.advertiser_id
        if ad_group.pacing == Pacing.STANDARD and ad_group.budget_mode != BudgetMode.UNLIMITED:
            plans.append(("ag", ad_group, ad_group.pk, zone, day, share, requests))
            counter_keys += [
                charging.ad_group_day_key(advertiser_id, ad_group.pk, day.isoformat()),
                charging.ad_group_life_key(advertiser_id, ad_group.pk),
            ]
        if ad_group.pacing == Pacing.STANDARD and campaign.budget_mode != BudgetMode.UNLIMITED and campaign.pk not in campaigns:
            campaigns[campaign.pk] = campaign
            plans.append(("c", campaign, campaign.pk, zone, day, share, requests))
            counter_keys += [
                charging.campaign_day_key(advertiser_id, campaign.pk, day.isoformat()),
                charging.campaign_life_key(advertiser_id, campaign.pk),
            ]
    pipe = client.pipeline(transaction=False)
    pipe.mget(counter_keys) if counter_keys else pipe.ping()
    pipe.hmget(PACING_STATE_KEY, [f"{kind}:{pk}" for kind, _, pk, *_ in plans]) if plans else pipe.ping()
    counters, states = pipe.execute()
    throttles: dict[str, float] = {}
    saved: dict[Any, Any] = {}
    for n, (kind, item, pk, zone, day, share, requests) in enumerate(plans):
        day_spent, life_spent = int(counters[2 * n] or 0), int(counters[2 * n + 1] or 0)
        end = None
        if item.budget_mode == BudgetMode.LIFETIME:
            end = item.end_time if isinstance(item, AdGroup) else _campaign_end(item)
        budget = _today_budget(item.budget_mode, item.budget_micros, life_spent, day_spent, day, end, zone)
        previous = pacing.loads(states[n]) if states[n] else None
        state = pacing.step(
            previous=previous,
            day=day.isoformat(),
            budget=budget,
            spent=day_spent,
            share=share,
            at=moment.timestamp(),
            requests=requests,
        )
        throttles[f"{kind}:{pk}"] = state.throttle
        saved[f"{kind}:{pk}"] = json.dumps(pacing.as_dict(state))
    applied: dict[int, float] = {}
    for ad_group in ad_groups:
        if ad_group.pacing != Pacing.STANDARD:
            continue
        share = min(throttles.get(f"ag:{ad_group.pk}", 1.0), throttles.get(f"c:{ad_group.campaign_id}", 1.0))
        if share < 1.0:
            applied[ad_group.pk] = share
    pipe = client.pipeline()
    pipe.delete(index.THROTTLE_KEY)
    if applied:
        pipe.hset(index.THROTTLE_KEY, mapping={str(pk): f"{share:.6f}" for pk, share in applied.items()})
    if saved:
        pipe.hset(PACING_STATE_KEY, mapping=saved)
    if readings:
        pipe.hset(PACING_REQUESTS_KEY, mapping=readings)
    pipe.execute()
    return len(applied)


def _campaign_end(campaign: Campaign) -> datetime | None:
    """When a campaign's last ad group ends (None if any runs without an end)."""
    ends = list(campaign.ad_groups.exclude(status=Status.ARCHIVED).values_list("end_time", flat=True))
    known = [end for end in ends if end is not None]
    return max(known) if known and len(known) == len(ends) else None
