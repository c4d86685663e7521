"""Delivery's own records: the event store, conversion pixels, what has been posted, and ad performance.

The event store (`Event`) is a PostgreSQL table partitioned by day, created by raw SQL in a
migration and read here through an unmanaged model. Every served ad, impression, click and
conversion lands in it exactly once (its primary key is (occurred_at, event_id) and event ids are
derived from what happened, so a replayed batch inserts nothing twice).
"""

from typing import ClassVar

from django.db import models

from accounts.models import Advertiser
from adplatform import clock
from campaigns.models import Ad, AdGroup, Placement


class Event(models.Model):
    """One row of the append-only event store (partitioned by day on `occurred_at`)."""

    class Kind(models.TextChoices):
        SERVE = "serve"
        IMPRESSION = "impression"
        CLICK = "click"
        CONVERSION = "conversion"

    class Status(models.TextChoices):
        VALID = "valid"
        INVALID = "invalid"  # duplicates, bad or expired links, bots, bursts: never charged
        UNBILLED = "unbilled"  # real, but a budget or the balance had no room: not charged

    occurred_at = models.DateTimeField(primary_key=True)  # with event_id, see the migration
    event_id = models.UUIDField()
    seq = models.BigIntegerField(help_text="Order of arrival in the store; posting watermarks follow it.")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    reason = models.CharField(max_length=40, blank=True)
    request_id = models.UUIDField(null=True)
    ad_id = models.BigIntegerField(null=True)
    ad_group_id = models.BigIntegerField(null=True)
    campaign_id = models.BigIntegerField(null=True)
    advertiser_id = models.BigIntegerField()
    placement = models.CharField(max_length=50, blank=True)
    country = models.CharField(max_length=2, blank=True)
    device = models.CharField(max_length=15, blank=True)
    user_key = models.CharField(max_length=32, blank=True)
    billed_on = models.CharField(max_length=10, blank=True)
    price_micros = models.BigIntegerField(default=0)
    cost_micros = models.BigIntegerField(default=0)
    value_micros = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)
    event_name = models.CharField(max_length=50, blank=True)

    class Meta:
        managed = False
        db_table = "delivery_event"
        ordering: ClassVar = ["seq"]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_id}"


class ConversionPixel(models.Model):
    """An advertiser's key for reporting conversions to POST /t/v1/conversions."""

    advertiser = models.ForeignKey(Advertiser, on_delete=models.CASCADE, related_name="pixels")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the pixel key.")
    key_hint = models.CharField(max_length=8, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.advertiser})"


class PostingWatermark(models.Model):
    """How far (by event `seq`) charged cost has been posted to the ledger."""

    name = models.CharField(max_length=50, primary_key=True)
    seq = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"{self.name}: {self.seq}"


class SpendDay(models.Model):
    """Cost posted per ad group and advertiser-local day: the durable copy of Redis's budget counters."""

    ad_group = models.ForeignKey(AdGroup, on_delete=models.PROTECT, related_name="spend_days")
    campaign_id = models.BigIntegerField()
    advertiser_id = models.BigIntegerField()
    day = models.DateField(help_text="In the advertiser's time zone.")
    cost_micros = models.BigIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["ad_group", "day"], name="delivery_spendday_unique")]
        indexes: ClassVar = [models.Index(fields=["campaign_id", "day"], name="delivery_spendday_campaign")]

    def __str__(self) -> str:
        return f"{self.ad_group_id} {self.day}: {self.cost_micros}"


class AdPerformance(models.Model):
    """Valid impressions, clicks and conversions of an ad: the evidence behind its CTR and CVR posteriors."""

    ad = models.OneToOneField(Ad, on_delete=models.CASCADE, primary_key=True, related_name="performance")
    impressions = models.BigIntegerField(default=0)
    clicks = models.BigIntegerField(default=0)
    conversions = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"ad {self.ad_id}: {self.impressions} imp, {self.clicks} clicks"


class PlacementPerformance(models.Model):
    """Valid impressions and clicks per placement: the prior a new ad's CTR starts from."""

    placement = models.OneToOneField(Placement, on_delete=models.CASCADE, primary_key=True, related_name="performance")
    impressions = models.BigIntegerField(default=0)
    clicks = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"{self.placement_id}: {self.impressions} imp, {self.clicks} clicks"
