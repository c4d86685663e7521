"""API shapes for campaigns, ad groups and ads: one output serializer per resource, one input serializer per operation.

Inputs only translate: names and types. Every rule (budgets, bids, targeting vocabularies, URLs)
is checked by campaigns.services, which names the field at fault.
"""

from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from adplatform import clock, money
from adplatform.api.serializers import MoneyField, StrictInputSerializer
from delivery import status as delivery_status
from delivery.status import NOTHING_SPENT, PaceCode, Reason, SpendState

from .choices import (
    BULK_LIMIT,
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
    Status,
)
from .models import Ad, AdGroup, Campaign, Interest, Placement

BULK_STATUSES = [(Status.ACTIVE.value, Status.ACTIVE.label), (Status.PAUSED.value, Status.PAUSED.label)]
NULLABLE_MONEY = {"type": "string", "format": "decimal", "example": "50.00", "nullable": True}


def _now(context: dict[str, Any]) -> datetime:
    """One moment per response, so every row of a page is judged at the same time."""
    moment = context.get("now")
    return moment if isinstance(moment, datetime) else clock.now()


def _spend(context: dict[str, Any]) -> SpendState:
    """The spend counters read once for every row of the response (delivery.selectors.spend_state_for)."""
    spend = context.get("spend")
    return spend if isinstance(spend, SpendState) else NOTHING_SPENT


def _budget(budget_mode: str, micros: int) -> str | None:
    return None if budget_mode == BudgetMode.UNLIMITED else money.format_amount(micros)


def _require_some(attrs: dict[str, Any], fields: Any) -> dict[str, Any]:
    if not attrs:
        raise serializers.ValidationError(f"Send at least one of: {', '.join(fields)}.")
    return attrs


# --- shared pieces -------------------------------------------------------------------------------
# Choice sets whose field names other resources use for other choices (advertisers have a `status`
# too) are named components, so the schema's enums stay apart without project-wide overrides.


@extend_schema_field(serializers.ChoiceField(choices=Status.choices), component_name="ItemStatusEnum")
class ItemStatusField(serializers.ChoiceField):
    """What the advertiser wants for a campaign, ad group or ad; `delivery_status` says what happens."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Status.choices, **kwargs)


@extend_schema_field(serializers.ChoiceField(choices=BULK_STATUSES), component_name="BulkStatusEnum")
class BulkStatusField(serializers.ChoiceField):
    """Bulk changes pause or resume."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=BULK_STATUSES, **kwargs)


@extend_schema_field(serializers.ChoiceField(choices=AdFormat.choices), component_name="AdFormatEnum")
class AdFormatField(serializers.ChoiceField):
    """An ad format (also what a placement shows)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=AdFormat.choices, **kwargs)


class DeliveryStatusSerializer(serializers.Serializer):
    """The single most important reason the item is or is not delivering right now."""

    code = serializers.ChoiceField(choices=[(reason.value, delivery_status.LABELS[reason]) for reason in Reason])
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    delivering = serializers.BooleanField()


class TodaysPaceSerializer(serializers.Serializer):
    """A standard-paced budget's spend today against the pacing controller's plan for the day."""

    code = serializers.ChoiceField(choices=[(code.value, delivery_status.PACE_LABELS[code]) for code in PaceCode])
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    spent = serializers.CharField(help_text="Spent today, in the advertiser's currency.")
    budget = serializers.CharField(help_text="Today's budget (a lifetime budget's share for today).")
    planned = serializers.CharField(help_text="What the plan had spent by the controller's last step (each minute).")
    limited_by_budget = serializers.BooleanField(help_text="It could win more auctions than today's budget pays for.")


def _pace(pace: delivery_status.TodaysPace | None) -> dict[str, Any] | None:
    if pace is None:
        return None
    return {
        "code": pace.code.value,
        "label": pace.label,
        "spent": money.format_amount(pace.spent_micros),
        "budget": money.format_amount(pace.budget_micros),
        "planned": money.format_amount(pace.planned_micros),
        "limited_by_budget": pace.limited_by_budget,
    }


class FrequencyCapSerializer(StrictInputSerializer):
    """At most `impressions` impressions per person every `days` days."""

    impressions = serializers.IntegerField(help_text="Impressions per person, 1 to 1000.")
    days = serializers.IntegerField(help_text="Over this many days, 1 to 30.")


class TargetingSerializer(serializers.Serializer):
    """Who sees an ad group's ads; an empty list means everyone."""

    countries = serializers.ListField(child=serializers.CharField(), help_text="ISO 3166-1 alpha-2 codes, e.g. DE.")
    age_ranges = serializers.ListField(child=serializers.ChoiceField(choices=AgeRange.choices))
    genders = serializers.ListField(child=serializers.ChoiceField(choices=Gender.choices))
    languages = serializers.ListField(child=serializers.CharField(), help_text="ISO 639-1 codes, e.g. de.")
    interests = serializers.ListField(child=serializers.CharField(), help_text="Keys from /api/v1/interests/.")
    device_types = serializers.ListField(child=serializers.ChoiceField(choices=DeviceType.choices))
    operating_systems = serializers.ListField(child=serializers.ChoiceField(choices=OperatingSystem.choices))
    dayparting = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Half-hour slots of the week in the advertiser's time zone (Monday 00:00 = 0 ... Sunday 23:30 = 335).",
    )
    frequency_cap = FrequencyCapSerializer(allow_null=True)


class TargetingInputSerializer(StrictInputSerializer):
    """Targeting to set; each list left out stays as it is (on create: everyone)."""

    countries = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="ISO 3166-1 alpha-2 codes, e.g. DE."
    )
    age_ranges = serializers.ListField(child=serializers.CharField(), required=False, help_text=", ".join(AgeRange.values))
    genders = serializers.ListField(child=serializers.CharField(), required=False, help_text=", ".join(Gender.values))
    languages = serializers.ListField(child=serializers.CharField(), required=False, help_text="ISO 639-1 codes, e.g. de.")
    interests = serializers.ListField(child=serializers.CharField(), required=False, help_text="Keys from /api/v1/interests/.")
    device_types = serializers.ListField(child=serializers.CharField(), required=False, help_text=", ".join(DeviceType.values))
    operating_systems = serializers.ListField(
        child=serializers.CharField(), required=False, help_text=", ".join(OperatingSystem.values)
    )
    dayparting = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="Half-hour slots of the week in the advertiser's time zone (Monday 00:00 = 0 ... Sunday 23:30 = 335).",
    )
    frequency_cap = FrequencyCapSerializer(required=False, allow_null=True, help_text="null: no cap.")


class HistoryChangeSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The API name of the field, e.g. budget.")
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class HistoryEntrySerializer(serializers.Serializer):
    """One entry of an item's change history: who changed what, old -> new."""

    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    by = serializers.EmailField(allow_null=True, help_text="Who made the change; null for the platform itself.")
    action = serializers.ChoiceField(choices=["created", "changed", "deleted"])
    note = serializers.CharField(allow_blank=True, help_text="Why, when the platform recorded it, e.g. approved.")
    changes = HistoryChangeSerializer(many=True)


class BulkStatusSerializer(StrictInputSerializer):
    """Pause or resume up to 100 items at once: all of them or none."""

    ids = serializers.ListField(
        child=serializers.IntegerField(),
        max_length=BULK_LIMIT,
        error_messages={"max_length": f"Change at most {BULK_LIMIT} items at once."},
    )
    status = BulkStatusField()


# --- campaigns ---------------------------------------------------------------------------------


class CampaignSerializer(serializers.ModelSerializer):
    """A campaign as the API shows it."""

    budget = serializers.SerializerMethodField()
    currency = serializers.CharField(source="advertiser.currency", read_only=True)
    status = ItemStatusField(read_only=True)
    delivery_status = serializers.SerializerMethodField()
    today = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = (
            "id",
            "advertiser",
            "name",
            "objective",
            "budget_mode",
            "budget",
            "currency",
            "status",
            "delivery_status",
            "today",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(NULLABLE_MONEY)
    def get_budget(self, campaign: Campaign) -> str | None:
        """The budget in the advertiser's currency; null when unlimited."""
        return _budget(campaign.budget_mode, campaign.budget_micros)

    @extend_schema_field(DeliveryStatusSerializer)
    def get_delivery_status(self, campaign: Campaign) -> dict[str, Any]:
        return delivery_status.campaign_status(campaign, now=_now(self.context), spend=_spend(self.context)).as_dict()

    @extend_schema_field(TodaysPaceSerializer(allow_null=True))
    def get_today(self, campaign: Campaign) -> dict[str, Any] | None:
        """The campaign budget's pace today; null when it has none or the controller has not paced it today."""
        return _pace(delivery_status.campaign_pace(campaign, now=_now(self.context), spend=_spend(self.context)))


CAMPAIGN_SHOWN_ONLY = ("id", "advertiser", "currency", "delivery_status", "today", "created_at", "updated_at")


class CampaignBulkResultSerializer(serializers.Serializer):
    """The campaigns a bulk status change touched, by id."""

    results = CampaignSerializer(many=True)


class CampaignCreateSerializer(StrictInputSerializer):
    """Input for creating a campaign."""

    advertiser = serializers.IntegerField(help_text="The advertiser the campaign belongs to.")
    name = serializers.CharField(max_length=200)
    objective = serializers.ChoiceField(choices=Objective.choices)
    budget_mode = serializers.ChoiceField(choices=BudgetMode.choices, default=BudgetMode.UNLIMITED)
    budget = MoneyField(required=False, allow_null=True, help_text="In the advertiser's currency; omit or null when unlimited.")
    status = ItemStatusField(default=Status.ACTIVE)


class CampaignUpdateSerializer(StrictInputSerializer):
    """Input for changing a campaign; pausing, resuming and archiving are changes of `status`."""

    name = serializers.CharField(max_length=200, required=False)
    objective = serializers.ChoiceField(choices=Objective.choices, required=False)
    budget_mode = serializers.ChoiceField(choices=BudgetMode.choices, required=False)
    budget = MoneyField(required=False, allow_null=True, help_text="null: no amount (for an unlimited budget).")
    status = ItemStatusField(required=False)
    unchangeable_fields = CAMPAIGN_SHOWN_ONLY

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _require_some(attrs, self.fields)


class CampaignDuplicateSerializer(StrictInputSerializer):
    """Input for duplicating a campaign with its ad groups and ads."""

    name = serializers.CharField(max_length=200, required=False, help_text="Default: the original's name with (copy).")


# --- ad groups ---------------------------------------------------------------------------------


class AdGroupSerializer(serializers.ModelSerializer):
    """An ad group as the API shows it, with its targeting as one object."""

    advertiser = serializers.IntegerField(source="campaign.advertiser_id", read_only=True)
    placements = serializers.SerializerMethodField()
    targeting = serializers.SerializerMethodField()
    budget = serializers.SerializerMethodField()
    bid = MoneyField(source="bid_micros", read_only=True)
    currency = serializers.CharField(source="campaign.advertiser.currency", read_only=True)
    status = ItemStatusField(read_only=True)
    delivery_status = serializers.SerializerMethodField()
    today = serializers.SerializerMethodField()

    class Meta:
        model = AdGroup
        fields = (
            "id",
            "advertiser",
            "campaign",
            "name",
            "placements",
            "targeting",
            "start_time",
            "end_time",
            "budget_mode",
            "budget",
            "pacing",
            "bid_strategy",
            "bid",
            "currency",
            "status",
            "delivery_status",
            "today",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField(), help_text="Placement keys."))
    def get_placements(self, ad_group: AdGroup) -> list[str]:
        return sorted(placement.key for placement in ad_group.placements.all())

    @extend_schema_field(TargetingSerializer)
    def get_targeting(self, ad_group: AdGroup) -> dict[str, Any]:
        cap = None
        if ad_group.frequency_cap_impressions is not None:
            cap = {"impressions": ad_group.frequency_cap_impressions, "days": ad_group.frequency_cap_days}
        return {
            "countries": ad_group.countries,
            "age_ranges": ad_group.age_ranges,
            "genders": ad_group.genders,
            "languages": ad_group.languages,
            "interests": sorted(interest.key for interest in ad_group.interests.all()),
            "device_types": ad_group.device_types,
            "operating_systems": ad_group.operating_systems,
            "dayparting": ad_group.dayparting,
            "frequency_cap": cap,
        }

    @extend_schema_field(NULLABLE_MONEY)
    def get_budget(self, ad_group: AdGroup) -> str | None:
        """The ad group's own budget in the advertiser's currency; null when unlimited."""
        return _budget(ad_group.budget_mode, ad_group.budget_micros)

    @extend_schema_field(DeliveryStatusSerializer)
    def get_delivery_status(self, ad_group: AdGroup) -> dict[str, Any]:
        return delivery_status.ad_group_status(ad_group, now=_now(self.context), spend=_spend(self.context)).as_dict()

    @extend_schema_field(TodaysPaceSerializer(allow_null=True))
    def get_today(self, ad_group: AdGroup) -> dict[str, Any] | None:
        """Its own budget's pace today; null for accelerated or unlimited ad groups, or before it was paced today."""
        return _pace(delivery_status.ad_group_pace(ad_group, now=_now(self.context), spend=_spend(self.context)))


AD_GROUP_SHOWN_ONLY = ("id", "advertiser", "campaign", "currency", "delivery_status", "today", "created_at", "updated_at")


class AdGroupBulkResultSerializer(serializers.Serializer):
    """The ad groups a bulk status change touched, by id."""

    results = AdGroupSerializer(many=True)


class AdGroupCreateSerializer(StrictInputSerializer):
    """Input for creating an ad group."""

    campaign = serializers.IntegerField(help_text="The campaign the ad group belongs to.")
    name = serializers.CharField(max_length=200)
    placements = serializers.ListField(child=serializers.CharField(), help_text="Placement keys from /api/v1/placements/.")
    targeting = TargetingInputSerializer(required=False)
    start_time = serializers.DateTimeField(required=False, allow_null=True, help_text="ISO 8601; default: now.")
    end_time = serializers.DateTimeField(required=False, allow_null=True, help_text="ISO 8601; needed by lifetime budgets.")
    budget_mode = serializers.ChoiceField(choices=BudgetMode.choices, default=BudgetMode.DAILY)
    budget = MoneyField(required=False, allow_null=True, help_text="In the advertiser's currency; omit or null when unlimited.")
    pacing = serializers.ChoiceField(choices=Pacing.choices, default=Pacing.STANDARD)
    bid_strategy = serializers.ChoiceField(choices=BidStrategy.choices, default=BidStrategy.CPM)
    bid = MoneyField(help_text="CPM: per 1,000 impressions; CPC: per click; oCPM: target cost per conversion.")
    status = ItemStatusField(default=Status.ACTIVE)


class AdGroupUpdateSerializer(StrictInputSerializer):
    """Input for changing an ad group; within `targeting`, only the lists sent change."""

    name = serializers.CharField(max_length=200, required=False)
    placements = serializers.ListField(child=serializers.CharField(), required=False, help_text="Placement keys.")
    targeting = TargetingInputSerializer(required=False)
    start_time = serializers.DateTimeField(required=False, allow_null=True, help_text="ISO 8601; null: now.")
    end_time = serializers.DateTimeField(required=False, allow_null=True, help_text="ISO 8601; null: no end.")
    budget_mode = serializers.ChoiceField(choices=BudgetMode.choices, required=False)
    budget = MoneyField(required=False, allow_null=True, help_text="null: no amount (for an unlimited budget).")
    pacing = serializers.ChoiceField(choices=Pacing.choices, required=False)
    bid_strategy = serializers.ChoiceField(choices=BidStrategy.choices, required=False)
    bid = MoneyField(required=False)
    status = ItemStatusField(required=False)
    unchangeable_fields = AD_GROUP_SHOWN_ONLY

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _require_some(attrs, self.fields)


# --- ads -----------------------------------------------------------------------------------------


class AdSerializer(serializers.ModelSerializer):
    """An ad as the API shows it, with where review stands."""

    advertiser = serializers.IntegerField(source="ad_group.campaign.advertiser_id", read_only=True)
    campaign = serializers.IntegerField(source="ad_group.campaign_id", read_only=True)
    format = AdFormatField(read_only=True)
    status = ItemStatusField(read_only=True)
    delivery_status = serializers.SerializerMethodField()

    class Meta:
        model = Ad
        fields = (
            "id",
            "advertiser",
            "campaign",
            "ad_group",
            "format",
            "display_name",
            "headline",
            "body",
            "media_url",
            "video_duration_seconds",
            "call_to_action",
            "landing_url",
            "status",
            "review_status",
            "review_reason",
            "reviewed_at",
            "delivery_status",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(DeliveryStatusSerializer)
    def get_delivery_status(self, ad: Ad) -> dict[str, Any]:
        return delivery_status.ad_status(ad, now=_now(self.context), spend=_spend(self.context)).as_dict()


AD_SHOWN_ONLY = (
    "id",
    "advertiser",
    "campaign",
    "ad_group",
    "review_status",
    "review_reason",
    "reviewed_at",
    "delivery_status",
    "created_at",
    "updated_at",
)


class AdBulkResultSerializer(serializers.Serializer):
    """The ads a bulk status change touched, by id."""

    results = AdSerializer(many=True)


class AdCreateSerializer(StrictInputSerializer):
    """Input for creating an ad; it goes into review at once."""

    ad_group = serializers.IntegerField(help_text="The ad group the ad belongs to.")
    format = AdFormatField()
    display_name = serializers.CharField(max_length=40, help_text="The advertiser name viewers see.")
    headline = serializers.CharField(max_length=100)
    body = serializers.CharField(max_length=500, required=False, allow_blank=True, help_text="Needed by text ads.")
    media_url = serializers.CharField(
        max_length=2048, required=False, allow_blank=True, help_text="https link to the image or video file; none for text."
    )
    video_duration_seconds = serializers.IntegerField(required=False, allow_null=True, help_text="Videos only: 1 to 60 seconds.")
    call_to_action = serializers.ChoiceField(choices=CallToAction.choices, default=CallToAction.LEARN_MORE)
    landing_url = serializers.CharField(max_length=2048, help_text="https address viewers land on.")
    status = ItemStatusField(default=Status.ACTIVE)


class AdUpdateSerializer(StrictInputSerializer):
    """Input for changing an ad; changing what viewers see sends it back into review."""

    format = AdFormatField(required=False)
    display_name = serializers.CharField(max_length=40, required=False)
    headline = serializers.CharField(max_length=100, required=False)
    body = serializers.CharField(max_length=500, required=False, allow_blank=True)
    media_url = serializers.CharField(max_length=2048, required=False, allow_blank=True)
    video_duration_seconds = serializers.IntegerField(required=False, allow_null=True)
    call_to_action = serializers.ChoiceField(choices=CallToAction.choices, required=False)
    landing_url = serializers.CharField(max_length=2048, required=False)
    status = ItemStatusField(required=False)
    unchangeable_fields = AD_SHOWN_ONLY

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _require_some(attrs, self.fields)


class AdReviewSerializer(StrictInputSerializer):
    """A staff reviewer's decision on an ad in review."""

    decision = serializers.ChoiceField(choices=["approve", "reject"])
    reason = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, help_text="Needed to reject: what the advertiser should change."
    )


# --- reference data ---------------------------------------------------------------------------------


class PlacementSerializer(serializers.ModelSerializer):
    """Where ads can run, what formats each place shows and its floor price (never its serving key)."""

    allowed_formats = serializers.ListField(child=AdFormatField(), read_only=True)
    floor_cpm_usd = MoneyField(
        source="floor_cpm_usd_micros", read_only=True, help_text="Lowest CPM bid in US dollars (converted to your currency)."
    )

    class Meta:
        model = Placement
        fields = ("key", "name", "allowed_formats", "floor_cpm_usd")
        read_only_fields = fields


class InterestSerializer(serializers.ModelSerializer):
    """One entry of the interest taxonomy that ad groups target by key."""

    class Meta:
        model = Interest
        fields = ("key", "name", "category")
        read_only_fields = fields
