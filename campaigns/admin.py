"""Staff admin for campaigns: placements, taxonomy, policy terms, every item with history, the review queue."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from simple_history.admin import SimpleHistoryAdmin

from adplatform import clock, money
from delivery import status as delivery_status
from delivery.selectors import spend_state_for

from . import selectors, services
from .choices import AdFormat, ReviewStatus
from .models import Ad, AdGroup, AdInReview, BlockedTerm, Campaign, Interest, Placement


class PlacementForm(forms.ModelForm):
    floor_cpm_usd = forms.DecimalField(label="Floor CPM (USD)", min_value=0, decimal_places=6, max_digits=15)
    allowed_formats = forms.MultipleChoiceField(choices=AdFormat.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Placement
        fields = ("key", "name", "allowed_formats", "is_active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["floor_cpm_usd"].initial = money.from_micros(self.instance.floor_cpm_usd_micros)


@admin.register(Placement)
class PlacementAdmin(SimpleHistoryAdmin):
    form = PlacementForm
    list_display = ("key", "name", "formats", "floor", "api_key_hint", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("key", "name")
    actions = ("rotate_api_key",)

    @admin.display(description="Formats")
    def formats(self, placement: Placement) -> str:
        return ", ".join(placement.allowed_formats)

    @admin.display(description="Floor CPM", ordering="floor_cpm_usd_micros")
    def floor(self, placement: Placement) -> str:
        return f"{money.format_amount(placement.floor_cpm_usd_micros)} USD"

    def save_model(self, request: HttpRequest, obj: Placement, form: Any, change: bool) -> None:
        floor = money.to_micros(form.cleaned_data["floor_cpm_usd"])
        if change:
            obj.floor_cpm_usd_micros = floor
            obj.save()
            return
        try:
            placement, key = services.placement_create(
                key=obj.key, name=obj.name, formats=list(obj.allowed_formats), floor_cpm_usd_micros=floor
            )
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)
            return
        obj.pk = placement.pk
        self.message_user(request, f"Serving API key for {placement.key} (shown once): {key}", messages.WARNING)

    @admin.action(description="Rotate the serving API key")
    def rotate_api_key(self, request: HttpRequest, queryset: QuerySet[Placement]) -> None:
        for placement in queryset:
            key = services.placement_rotate_key(placement=placement)
            self.message_user(request, f"New serving API key for {placement.key} (shown once): {key}", messages.WARNING)


@admin.register(Interest)
class InterestAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "category", "is_active")
    list_filter = ("category", "is_active")
    search_fields = ("name", "key", "category")
    list_editable = ("is_active",)


@admin.register(BlockedTerm)
class BlockedTermAdmin(admin.ModelAdmin):
    list_display = ("term", "reason", "created_at")
    search_fields = ("term", "reason")


SPEND_ATTRIBUTE = "_delivery_spend"  # where a changelist row keeps the spend state read for its page


class DeliveryStatusMixin:
    """A "Delivery" column; the spend counters of a changelist page are read once, for all its rows."""

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)  # type: ignore[misc]
        rows = list(changelist.result_list)  # evaluated once; the page renders these same instances
        spend = spend_state_for(rows, now=clock.now())
        for row in rows:
            setattr(row, SPEND_ATTRIBUTE, spend)
        return changelist

    @admin.display(description="Delivery")
    def delivery(self, item: Any) -> str:
        now = clock.now()
        spend = getattr(item, SPEND_ATTRIBUTE, None) or spend_state_for([item], now=now)
        if isinstance(item, Campaign):
            return delivery_status.campaign_status(item, now=now, spend=spend).label
        if isinstance(item, AdGroup):
            return delivery_status.ad_group_status(item, now=now, spend=spend).label
        return delivery_status.ad_status(item, now=now, spend=spend).label


@admin.register(Campaign)
class CampaignAdmin(DeliveryStatusMixin, SimpleHistoryAdmin):
    list_display = ("name", "advertiser", "objective", "budget_mode", "budget", "status", "delivery", "updated_at")
    list_filter = ("status", "objective", "budget_mode")
    search_fields = ("name", "advertiser__name")
    readonly_fields = ("advertiser", "created_at", "updated_at")
    list_select_related = ("advertiser",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return super().get_queryset(request).prefetch_related("ad_groups__ads")

    @admin.display(description="Budget", ordering="budget_micros")
    def budget(self, campaign: Campaign) -> str:
        return f"{money.format_amount(campaign.budget_micros)} {campaign.advertiser.currency}" if campaign.budget_micros else "—"


@admin.register(AdGroup)
class AdGroupAdmin(DeliveryStatusMixin, SimpleHistoryAdmin):
    list_display = ("name", "campaign", "bid_strategy", "status", "delivery", "start_time", "end_time")
    list_filter = ("status", "bid_strategy", "pacing", "placements")
    search_fields = ("name", "campaign__name", "campaign__advertiser__name")
    readonly_fields = ("campaign", "created_at", "updated_at")
    list_select_related = ("campaign__advertiser",)
    filter_horizontal = ("placements", "interests")

    def get_queryset(self, request: HttpRequest) -> QuerySet[AdGroup]:
        return super().get_queryset(request).prefetch_related("ads")


@admin.register(Ad)
class AdAdmin(DeliveryStatusMixin, SimpleHistoryAdmin):
    list_display = ("headline", "display_name", "format", "advertiser", "status", "review_status", "delivery", "updated_at")
    list_filter = ("review_status", "status", "format")
    search_fields = ("headline", "display_name", "ad_group__campaign__advertiser__name")
    readonly_fields = ("ad_group", "review_status", "review_reason", "submitted_at", "reviewed_at", "reviewed_by", "created_at")
    list_select_related = ("ad_group__campaign__advertiser",)

    @admin.display(description="Advertiser")
    def advertiser(self, ad: Ad) -> str:
        return ad.ad_group.campaign.advertiser.name


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), help_text="The advertiser reads this.")


@admin.register(AdInReview)
class ReviewQueueAdmin(admin.ModelAdmin):
    """Ads waiting for a person, oldest first; approve or reject in bulk."""

    list_display = ("headline", "display_name", "format", "advertiser", "landing_url", "media_link", "submitted_at")
    list_filter = ("format",)
    search_fields = ("headline", "display_name", "body", "ad_group__campaign__advertiser__name")
    actions = ("approve", "reject")
    readonly_fields = tuple(field.name for field in Ad._meta.fields)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ad]:
        return selectors.review_queue()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Advertiser")
    def advertiser(self, ad: Ad) -> str:
        return ad.ad_group.campaign.advertiser.name

    @admin.display(description="Media")
    def media_link(self, ad: Ad) -> str:
        return ad.media_url or "—"

    def _review(self, request: HttpRequest, queryset: QuerySet[Ad], decision: str, reason: str = "") -> int:
        done = 0
        for ad in queryset.filter(review_status=ReviewStatus.PENDING):
            services.ad_review(reviewer=request.user, ad=ad, decision=decision, reason=reason)  # type: ignore[arg-type]
            done += 1
        return done

    @admin.action(description="Approve the selected ads")
    def approve(self, request: HttpRequest, queryset: QuerySet[Ad]) -> None:
        done = self._review(request, queryset, "approve")
        self.message_user(request, f"Approved {done} ad(s).", messages.SUCCESS)

    @admin.action(description="Reject the selected ads…")
    def reject(self, request: HttpRequest, queryset: QuerySet[Ad]) -> HttpResponse | None:
        if "apply" in request.POST:
            form = RejectForm(request.POST)
            if form.is_valid():
                done = self._review(request, queryset, "reject", form.cleaned_data["reason"])
                self.message_user(request, f"Rejected {done} ad(s); their advertisers were e-mailed.", messages.SUCCESS)
                return None
        else:
            form = RejectForm()
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject ads",
            "ads": queryset,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return render(request, "admin/campaigns/reject_ads.html", context)
