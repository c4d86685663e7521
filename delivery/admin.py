"""Staff admin for delivery: conversion pixels, and read-only views of the event store, posting and performance.

Everything here but a pixel's on/off switch is written by delivery itself (the event consumer,
spend posting, the performance rollups), so staff can look and filter, never add, edit or delete.
"""

import uuid
from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import URLPattern, path
from django.utils.functional import cached_property

from adplatform import clock, money

from .models import AdPerformance, ConversionPixel, Event, PlacementPerformance, PostingWatermark, SpendDay

# Why an event was not charged, as the tracking endpoints and the charge script record it.
EVENT_REASONS = (
    ("duplicate", "Duplicate"),
    ("bad_signature", "Bad signature"),
    ("malformed", "Malformed link"),
    ("expired", "Expired link"),
    ("no_impression", "Click without impression"),
    ("bot", "Bot"),
    ("click_burst", "Click burst"),
    ("unknown_ad", "Ad no longer in the index"),
    ("unattributed", "Conversion without click"),
    ("ag_daily_budget", "Ad group daily budget"),
    ("ag_lifetime_budget", "Ad group lifetime budget"),
    ("campaign_daily_budget", "Campaign daily budget"),
    ("campaign_lifetime_budget", "Campaign lifetime budget"),
    ("no_balance", "No balance"),
)
EVENT_COUNT_CAP = 10_000
MAX_BIGINT = 2**63


class ReadOnlyAdmin(admin.ModelAdmin):
    """Look, filter and search; delivery writes these rows itself."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _amount(micros: int) -> str:
    return money.format_amount(micros)


@admin.register(ConversionPixel)
class ConversionPixelAdmin(admin.ModelAdmin):
    """Pixels are created by the advertiser's admins (the key is shown to them once); staff may switch one off."""

    list_display = ("name", "advertiser", "key", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "advertiser__name", "key_hint")
    list_select_related = ("advertiser",)
    fields = ("advertiser", "name", "key_hint", "key_hash", "created_at", "is_active")
    readonly_fields = ("advertiser", "name", "key_hint", "key_hash", "created_at")

    @admin.display(description="Key")
    def key(self, pixel: ConversionPixel) -> str:
        return f"pix_…{pixel.key_hint}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PostingWatermark)
class PostingWatermarkAdmin(ReadOnlyAdmin):
    list_display = ("name", "seq", "updated_at")


@admin.register(SpendDay)
class SpendDayAdmin(ReadOnlyAdmin):
    list_display = ("day", "ad_group", "campaign_id", "advertiser_id", "cost")
    list_filter = (("day", admin.DateFieldListFilter),)
    search_fields = ("ad_group__id__exact", "campaign_id__exact", "advertiser_id__exact", "ad_group__name")
    list_select_related = ("ad_group",)
    ordering = ("-day", "ad_group_id")

    @admin.display(description="Cost", ordering="cost_micros")
    def cost(self, row: SpendDay) -> str:
        return _amount(row.cost_micros)


@admin.register(AdPerformance)
class AdPerformanceAdmin(ReadOnlyAdmin):
    list_display = ("ad", "impressions", "clicks", "ctr", "conversions", "updated_at")
    search_fields = ("ad__id__exact", "ad__headline")
    list_select_related = ("ad",)
    ordering = ("-impressions",)

    @admin.display(description="CTR")
    def ctr(self, row: AdPerformance) -> str:
        return f"{100 * row.clicks / row.impressions:.2f}%" if row.impressions else "—"


@admin.register(PlacementPerformance)
class PlacementPerformanceAdmin(ReadOnlyAdmin):
    list_display = ("placement", "impressions", "clicks", "ctr", "updated_at")
    list_select_related = ("placement",)
    ordering = ("-impressions",)

    @admin.display(description="CTR")
    def ctr(self, row: PlacementPerformance) -> str:
        return f"{100 * row.clicks / row.impressions:.2f}%" if row.impressions else "—"


class EventReasonFilter(admin.SimpleListFilter):
    """The known reasons (a fixed list: asking the event store for its distinct values would scan it)."""

    title = "reason"
    parameter_name = "reason"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return EVENT_REASONS

    def queryset(self, request: HttpRequest, queryset: QuerySet[Event]) -> QuerySet[Event]:
        return queryset.filter(reason=self.value()) if self.value() else queryset


class EventWhenFilter(admin.SimpleListFilter):
    """Recent windows of time, so PostgreSQL reads only the day partitions they touch."""

    title = "occurred"
    parameter_name = "within"
    WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return (("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days"))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Event]) -> QuerySet[Event]:
        window = self.WINDOWS.get(self.value() or "")
        return queryset.filter(occurred_at__gte=clock.now() - window) if window else queryset


class CappedCountPaginator(Paginator):
    """Counts at most EVENT_COUNT_CAP rows: the event store is too large to count for a page number."""

    @cached_property
    def count(self) -> int:
        rows: Any = self.object_list  # the admin's QuerySet
        return int(rows[:EVENT_COUNT_CAP].count())


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """The append-only event store, newest first: a list to filter and search, no page per event.

    Its rows have no single-column key (the table's primary key is (occurred_at, event_id)), so
    the admin offers the list only. Search takes an id: a number matches the ad, ad group,
    campaign or advertiser; a UUID matches the event or the ad request.
    """

    list_display = (
        "occurred_at",
        "seq",
        "kind",
        "status",
        "reason",
        "advertiser_id",
        "campaign_id",
        "ad_group_id",
        "ad_id",
        "placement",
        "price",
        "cost",
        "request_id",
    )
    list_display_links = None
    list_filter = ("kind", "status", EventReasonFilter, EventWhenFilter)
    search_fields = ("event_id",)  # shows the search box; get_search_results decides what matches
    search_help_text = "An id: a number finds the ad, ad group, campaign or advertiser; a UUID the event or ad request."
    ordering = ("-seq",)
    actions = None
    paginator = CappedCountPaginator
    show_full_result_count = False

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [path("", self.admin_site.admin_view(self.changelist_view), name="{}_{}_changelist".format(*info))]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Event], search_term: str
    ) -> tuple[QuerySet[Event], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isascii() and term.isdigit() and int(term) < MAX_BIGINT:
            number = int(term)
            return queryset.filter(
                Q(ad_id=number) | Q(ad_group_id=number) | Q(campaign_id=number) | Q(advertiser_id=number)
            ), False
        try:
            identifier = uuid.UUID(term)
        except ValueError:
            return queryset.none(), False
        return queryset.filter(Q(event_id=identifier) | Q(request_id=identifier)), False

    @admin.display(description="Price")
    def price(self, event: Event) -> str:
        return _amount(event.price_micros)

    @admin.display(description="Cost")
    def cost(self, event: Event) -> str:
        return _amount(event.cost_micros)
