"""Campaign -> ad group -> ad, the placements they run on, the interest taxonomy and ad policy terms."""

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Lower
from simple_history.models import HistoricalRecords

from accounts.models import Advertiser
from adplatform import clock

from .choices import (
    AdFormat,
    AgeRange,
    BidStrategy,
    BudgetMode,
    CallToAction,
    DeviceType,
    Gender,
    Objective,
    OperatingSystem,
    Pacing,
    ReviewStatus,
    Status,
)


class Placement(models.Model):
    """Where ads appear in the platform's own apps (in-feed, top view, search ...), managed by staff."""

    key = models.SlugField(max_length=50, unique=True, help_text="What apps send as `placement`, e.g. feed.")
    name = models.CharField(max_length=100)
    allowed_formats = ArrayField(models.CharField(max_length=10, choices=AdFormat.choices), help_text="Ad formats it can show.")
    floor_cpm_usd_micros = models.BigIntegerField(help_text="Lowest price per 1,000 impressions, in US dollar micros.")
    api_key_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the serving API key.")
    api_key_hint = models.CharField(max_length=8, blank=True, help_text="The key's last characters, to tell keys apart.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering: ClassVar = ["name", "id"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(floor_cpm_usd_micros__gte=0), name="campaigns_placement_floor_nonnegative"),
            models.CheckConstraint(condition=~models.Q(allowed_formats=[]), name="campaigns_placement_has_formats"),
        ]

    def __str__(self) -> str:
        return self.name


class Interest(models.Model):
    """One entry of the platform's interest taxonomy (seeded by a migration, edited in admin)."""

    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    category = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering: ClassVar = ["category", "name"]

    def __str__(self) -> str:
        return f"{self.category}: {self.name}"


class BlockedTerm(models.Model):
    """A word or phrase ad policy does not allow in what viewers see."""

    term = models.CharField(max_length=100)
    reason = models.CharField(max_length=200, blank=True, help_text="Shown to the advertiser, e.g. 'unproven health claims'.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["term"]
        constraints: ClassVar = [models.UniqueConstraint(Lower("term"), name="campaigns_blockedterm_unique_ci")]

    def __str__(self) -> str:
        return self.term


def _choice_check(field: str, choices: type[models.TextChoices], name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=models.Q(**{f"{field}__in": choices.values}), name=name)


def _budget_checks(prefix: str) -> list[models.CheckConstraint]:
    """Unlimited has no amount; daily and lifetime have a positive one."""
    return [
        _choice_check("budget_mode", BudgetMode, f"{prefix}_budget_mode_valid"),
        models.CheckConstraint(
            condition=(
                models.Q(budget_mode=BudgetMode.UNLIMITED, budget_micros=0)
                | models.Q(budget_micros__gt=0, budget_mode__in=[BudgetMode.DAILY, BudgetMode.LIFETIME])
            ),
            name=f"{prefix}_budget_matches_mode",
        ),
    ]


class Campaign(models.Model):
    """An advertiser's campaign: an objective and, optionally, a budget shared by its ad groups."""

    advertiser = models.ForeignKey(Advertiser, on_delete=models.PROTECT, related_name="campaigns")
    name = models.CharField(max_length=200)
    objective = models.CharField(max_length=20, choices=Objective.choices)
    budget_mode = models.CharField(max_length=10, choices=BudgetMode.choices, default=BudgetMode.UNLIMITED)
    budget_micros = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now, db_index=True)
    history = HistoricalRecords()

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            _choice_check("objective", Objective, "campaigns_campaign_objective_valid"),
            _choice_check("status", Status, "campaigns_campaign_status_valid"),
            *_budget_checks("campaigns_campaign"),
        ]

    def __str__(self) -> str:
        return self.name


class AdGroup(models.Model):
    """Who sees the ads, where, when, at what bid and within what budget."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="ad_groups")
    name = models.CharField(max_length=200)
    placements = models.ManyToManyField(Placement, related_name="ad_groups")
    # Targeting: an empty list means "everyone".
    countries = ArrayField(models.CharField(max_length=2), default=list, blank=True, help_text="ISO 3166-1 alpha-2.")
    age_ranges = ArrayField(models.CharField(max_length=5, choices=AgeRange.choices), default=list, blank=True)
    genders = ArrayField(models.CharField(max_length=10, choices=Gender.choices), default=list, blank=True)
    languages = ArrayField(models.CharField(max_length=2), default=list, blank=True, help_text="ISO 639-1.")
    interests = models.ManyToManyField(Interest, related_name="ad_groups", blank=True)
    device_types = ArrayField(models.CharField(max_length=15, choices=DeviceType.choices), default=list, blank=True)
    operating_systems = ArrayField(models.CharField(max_length=10, choices=OperatingSystem.choices), default=list, blank=True)
    # Schedule, in the advertiser's time zone for dayparting.
    start_time = models.DateTimeField(default=clock.now)
    end_time = models.DateTimeField(null=True, blank=True)
    dayparting = ArrayField(
        models.PositiveSmallIntegerField(),
        default=list,
        blank=True,
        help_text="Half-hour slots of the week (Monday 00:00 = 0 ... Sunday 23:30 = 335); empty means always.",
    )
    budget_mode = models.CharField(max_length=10, choices=BudgetMode.choices, default=BudgetMode.DAILY)
    budget_micros = models.BigIntegerField(default=0)
    pacing = models.CharField(max_length=12, choices=Pacing.choices, default=Pacing.STANDARD)
    bid_strategy = models.CharField(max_length=5, choices=BidStrategy.choices, default=BidStrategy.CPM)
    bid_micros = models.BigIntegerField(help_text="CPM: per 1,000 impressions; CPC: per click; oCPM: target cost per conversion.")
    frequency_cap_impressions = models.PositiveIntegerField(null=True, blank=True)
    frequency_cap_days = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now, db_index=True)
    history = HistoricalRecords(m2m_fields=[placements, interests])

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            _choice_check("status", Status, "campaigns_adgroup_status_valid"),
            _choice_check("pacing", Pacing, "campaigns_adgroup_pacing_valid"),
            _choice_check("bid_strategy", BidStrategy, "campaigns_adgroup_bid_strategy_valid"),
            *_budget_checks("campaigns_adgroup"),
            models.CheckConstraint(condition=models.Q(bid_micros__gt=0), name="campaigns_adgroup_bid_positive"),
            models.CheckConstraint(
                condition=models.Q(end_time__isnull=True) | models.Q(end_time__gt=models.F("start_time")),
                name="campaigns_adgroup_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(budget_mode__in=[BudgetMode.DAILY, BudgetMode.UNLIMITED]) | models.Q(end_time__isnull=False),
                name="campaigns_adgroup_lifetime_budget_has_end",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(frequency_cap_impressions__isnull=True, frequency_cap_days__isnull=True)
                    | models.Q(frequency_cap_impressions__gte=1, frequency_cap_days__gte=1)
                ),
                name="campaigns_adgroup_frequency_cap_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def advertiser(self) -> Advertiser:
        return self.campaign.advertiser


class Ad(models.Model):
    """A creative: what viewers see, where it leads, and whether review let it through."""

    ad_group = models.ForeignKey(AdGroup, on_delete=models.PROTECT, related_name="ads")
    format = models.CharField(max_length=10, choices=AdFormat.choices)
    display_name = models.CharField(max_length=40, help_text="The advertiser name viewers see.")
    headline = models.CharField(max_length=100)
    body = models.TextField(max_length=500, blank=True)
    media_url = models.URLField(max_length=2048, blank=True)
    video_duration_seconds = models.PositiveSmallIntegerField(null=True, blank=True)
    call_to_action = models.CharField(max_length=20, choices=CallToAction.choices, default=CallToAction.LEARN_MORE)
    landing_url = models.URLField(max_length=2048)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    review_status = models.CharField(max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.PENDING)
    review_reason = models.TextField(blank=True, help_text="Why it was rejected, in words the advertiser can act on.")
    submitted_at = models.DateTimeField(default=clock.now, help_text="When it last entered review.")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: automated.",
    )
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now, db_index=True)
    history = HistoricalRecords()

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["review_status", "submitted_at"], name="campaigns_ad_review_queue")]
        constraints: ClassVar = [
            _choice_check("format", AdFormat, "campaigns_ad_format_valid"),
            _choice_check("status", Status, "campaigns_ad_status_valid"),
            _choice_check("review_status", ReviewStatus, "campaigns_ad_review_status_valid"),
            _choice_check("call_to_action", CallToAction, "campaigns_ad_cta_valid"),
            models.CheckConstraint(
                condition=(
                    models.Q(format=AdFormat.VIDEO, video_duration_seconds__gte=1, video_duration_seconds__lte=60)
                    | (~models.Q(format=AdFormat.VIDEO) & models.Q(video_duration_seconds__isnull=True))
                ),
                name="campaigns_ad_video_duration",
            ),
            models.CheckConstraint(
                condition=~models.Q(review_status=ReviewStatus.REJECTED) | ~models.Q(review_reason=""),
                name="campaigns_ad_rejection_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name}: {self.headline}"

    @property
    def campaign(self) -> Campaign:
        return self.ad_group.campaign


class AdInReview(Ad):
    """The staff review queue: ads waiting for a human decision (a view of Ad for the admin)."""

    class Meta:
        proxy = True
        verbose_name = "ad in review"
        verbose_name_plural = "review queue"
