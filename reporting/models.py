"""Reporting's records: rollups of the event store, reach sketches, report jobs and e-mailed reports.

Rollup rows are keyed by the advertiser's local date (and hour) in its time zone, and by ad (so
ad group, campaign, advertiser), placement, country and device. Three grains, each the sum of the
one below: hourly rows (`HourlyRow`), daily rows with the same breakdowns (`DailyRow`), and daily
rows per ad alone (`DailyAdRow`, what most reports read). Every figure is an exact integer: counts,
and money in micros of the advertiser's currency.
"""

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models

from accounts.models import Advertiser
from campaigns.models import Ad, AdGroup, Campaign


def _ref(model: type[models.Model]) -> models.ForeignKey:
    """A reference without a database constraint: rollups outlive nothing, and COPY-speed writes skip the checks."""
    return models.ForeignKey(model, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")


class Metrics(models.Model):
    """The counted figures every rollup row carries."""

    requests_won = models.BigIntegerField(default=0, help_text="Times an ad won an auction and was served.")
    impressions = models.BigIntegerField(default=0, help_text="Valid impressions, billed or not (over budget).")
    clicks = models.BigIntegerField(default=0, help_text="Valid clicks, billed or not.")
    conversions = models.BigIntegerField(default=0, help_text="Attributed conversions.")
    conversion_value_micros = models.BigIntegerField(default=0)
    cost_micros = models.BigIntegerField(default=0, help_text="What was charged, in the advertiser's currency.")
    invalid_events = models.BigIntegerField(default=0, help_text="Duplicates, bots, bad or expired links, bursts.")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}"


METRIC_FIELDS = (
    "requests_won", "impressions", "clicks", "conversions", "conversion_value_micros", "cost_micros", "invalid_events",
)  # fmt: skip


class HourlyRow(Metrics):
    advertiser = _ref(Advertiser)
    campaign = _ref(Campaign)
    ad_group = _ref(AdGroup)
    ad = _ref(Ad)
    local_date = models.DateField()
    local_hour = models.SmallIntegerField()
    placement = models.CharField(max_length=50)
    country = models.CharField(max_length=2)
    device = models.CharField(max_length=15)

    class Meta:
        db_table = "reporting_hourly"
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["local_date", "local_hour", "ad", "placement", "country", "device"], name="reporting_hourly_key"
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["advertiser", "local_date"], name="reporting_hourly_adv_date")]


class DailyRow(Metrics):
    advertiser = _ref(Advertiser)
    campaign = _ref(Campaign)
    ad_group = _ref(AdGroup)
    ad = _ref(Ad)
    local_date = models.DateField()
    placement = models.CharField(max_length=50)
    country = models.CharField(max_length=2)
    device = models.CharField(max_length=15)

    class Meta:
        db_table = "reporting_daily"
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["local_date", "ad", "placement", "country", "device"], name="reporting_daily_key"),
        ]
        indexes: ClassVar = [models.Index(fields=["advertiser", "local_date"], name="reporting_daily_adv_date")]


class DailyAdRow(Metrics):
    advertiser = _ref(Advertiser)
    campaign = _ref(Campaign)
    ad_group = _ref(AdGroup)
    ad = _ref(Ad)
    local_date = models.DateField()

    class Meta:
        db_table = "reporting_daily_ad"
        constraints: ClassVar = [models.UniqueConstraint(fields=["local_date", "ad"], name="reporting_daily_ad_key")]
        indexes: ClassVar = [models.Index(fields=["advertiser", "local_date"], name="reporting_daily_ad_adv_date")]


class PlatformTotals(DailyAdRow):
    """The daily rows seen from above: the staff page of platform totals in admin."""

    class Meta:
        proxy = True
        verbose_name = "platform totals"
        verbose_name_plural = "platform totals"


class RollupWatermark(models.Model):
    """How far (event store `seq`) the rollups have counted."""

    name = models.CharField(max_length=30, primary_key=True)
    seq = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.seq}"


class ReachSketch(models.Model):
    """The HyperLogLog of the people an ad group reached on one local day, kept when the day closes."""

    advertiser = _ref(Advertiser)
    campaign = _ref(Campaign)
    ad_group = _ref(AdGroup)
    local_date = models.DateField()
    sketch = models.BinaryField(help_text="Redis's HyperLogLog representation (PFADD / PFCOUNT / PFMERGE).")
    people = models.BigIntegerField(help_text="The sketch's estimate on its own.")

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["ad_group", "local_date"], name="reporting_reach_key"),
        ]
        indexes: ClassVar = [models.Index(fields=["advertiser", "local_date"], name="reporting_reach_adv_date")]

    def __str__(self) -> str:
        return f"reach of ad group {self.ad_group_id} on {self.local_date}"


class ClosedDay(models.Model):
    """An advertiser's local day whose daily rows and reach sketches are final (late events still re-roll it)."""

    advertiser = models.ForeignKey(Advertiser, on_delete=models.CASCADE, related_name="+")
    local_date = models.DateField()
    closed_at = models.DateTimeField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["advertiser", "local_date"], name="reporting_closed_day_key"),
        ]

    def __str__(self) -> str:
        return f"{self.advertiser_id} {self.local_date} closed"


class ReportJob(models.Model):
    """A large report run in the background (queue `reporting`), downloaded as CSV when done."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    advertiser = models.ForeignKey(Advertiser, on_delete=models.CASCADE, related_name="report_jobs")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    parameters = models.JSONField(help_text="The report's query, as validated.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    row_count = models.IntegerField(null=True)
    csv = models.BinaryField(null=True, editable=False)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return f"report {self.id} ({self.status})"


class ReportSubscription(models.Model):
    """A report e-mailed to a member of an advertiser, daily or weekly, with its CSV attached."""

    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly (Mondays)"

    advertiser = models.ForeignKey(Advertiser, on_delete=models.CASCADE, related_name="report_subscriptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions")
    frequency = models.CharField(max_length=10, choices=Frequency.choices)
    level = models.CharField(max_length=10, default="campaign")
    last_sent_on = models.DateField(null=True, help_text="The advertiser's local date of the last report sent.")
    created_at = models.DateTimeField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["advertiser", "user", "frequency"], name="reporting_subscription_key"),
        ]

    def __str__(self) -> str:
        return f"{self.frequency} report of {self.advertiser} to {self.user}"
