"""REST resources for campaigns: /api/v1/campaigns/, /ad-groups/, /ads/ (with review), /placements/, /interests/.

Views only translate: they look items up through campaigns.selectors (tenancy: 404 outside it),
validate the input's shape, call one service (roles: 403; rules: 400 naming the field) and render
the item again as the API shows it, with its delivery status.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

import django_filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from django.http import HttpResponse
from django.urls import reverse
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import IDEMPOTENCY_HEADER, IdFilter
from accounts.models import Advertiser, User
from accounts.selectors import advertisers_for
from accounts.session import signed_in_user
from adplatform import clock
from adplatform.api.idempotency import idempotent
from adplatform.api.permissions import HasScope
from delivery.selectors import spend_state_for

from . import selectors, services
from .choices import ReviewStatus
from .models import Ad, AdGroup, Campaign, Interest, Placement
from .serializers import (
    AdBulkResultSerializer,
    AdCreateSerializer,
    AdGroupBulkResultSerializer,
    AdGroupCreateSerializer,
    AdGroupSerializer,
    AdGroupUpdateSerializer,
    AdReviewSerializer,
    AdSerializer,
    AdUpdateSerializer,
    BulkStatusSerializer,
    CampaignBulkResultSerializer,
    CampaignCreateSerializer,
    CampaignDuplicateSerializer,
    CampaignSerializer,
    CampaignUpdateSerializer,
    HistoryEntrySerializer,
    InterestSerializer,
    PlacementSerializer,
)

READ_SCOPES = ("campaigns:read", "reports:read")
WRITE_SCOPE = "campaigns:write"
REVIEW_SCOPE = "review"

TARGETING_LISTS = (
    "countries",
    "age_ranges",
    "genders",
    "languages",
    "interests",
    "device_types",
    "operating_systems",
    "dayparting",
)
# The services' names for ad group fields that the API names differently.
AD_GROUP_ERROR_NAMES = {
    **{field: f"targeting.{field}" for field in TARGETING_LISTS},
    "frequency_cap": "targeting.frequency_cap",
    "frequency_cap_impressions": "targeting.frequency_cap",
    "frequency_cap_days": "targeting.frequency_cap",
    "budget_micros": "budget",
    "bid_micros": "bid",
}
MONEY_ERROR_NAMES = {"budget_micros": "budget"}
REVIEW_ERROR_NAMES = {"ad": "non_field_errors"}

Item = TypeVar("Item", Campaign, AdGroup, Ad)


@contextmanager
def api_field_names(names: Mapping[str, str]) -> Iterator[None]:
    """Re-key a service's ValidationError from the service's field names to the API's."""
    try:
        yield
    except DjangoValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        renamed: dict[str, list[str]] = {}
        for field, messages in exc.message_dict.items():
            renamed.setdefault(names.get(field, field), []).extend(messages)
        raise DjangoValidationError(renamed) from exc  # type: ignore[arg-type]


def _money(fields: dict[str, Any]) -> dict[str, Any]:
    """API money names to the services' micros names ("budget": null means no amount)."""
    if "budget" in fields:
        fields["budget_micros"] = fields.pop("budget") or 0
    if "bid" in fields:
        fields["bid_micros"] = fields.pop("bid")
    return fields


def _ad_group_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """An ad group's API fields as the services' keyword arguments (flat targeting, micros)."""
    targeting = dict(fields.pop("targeting", None) or {})
    if "frequency_cap" in targeting:
        cap = targeting.pop("frequency_cap")
        fields["frequency_cap_impressions"] = cap["impressions"] if cap else None
        fields["frequency_cap_days"] = cap["days"] if cap else None
    return _money(fields | targeting)


# --- filters -------------------------------------------------------------------------------------


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 moment, turned into UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts."""

    def to_python(self, value: Any) -> datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError as exc:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc


class UpdatedSinceFilter(django_filters.IsoDateTimeFilter):
    """Items changed at or after an ISO 8601 moment (e.g. the start of your last sync)."""

    field_class = UtcIsoDateTimeField

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(field_name="updated_at", lookup_expr="gte", label="Changed at or after this ISO 8601 moment.", **kwargs)


class CampaignFilter(django_filters.FilterSet):
    """?advertiser=3&status=active&objective=traffic&updated_since=2025-06-01T00:00:00Z"""

    advertiser = IdFilter(field_name="advertiser_id")
    updated_since = UpdatedSinceFilter()

    class Meta:
        model = Campaign
        fields = ("advertiser", "status", "objective", "updated_since")


class AdGroupFilter(django_filters.FilterSet):
    """?advertiser=3&campaign=7&status=paused&updated_since=..."""

    advertiser = IdFilter(field_name="campaign__advertiser_id")
    campaign = IdFilter(field_name="campaign_id")
    updated_since = UpdatedSinceFilter()

    class Meta:
        model = AdGroup
        fields = ("advertiser", "campaign", "status", "updated_since")


class AdFilter(django_filters.FilterSet):
    """?advertiser=3&campaign=7&ad_group=9&status=active&review_status=pending&updated_since=..."""

    advertiser = IdFilter(field_name="ad_group__campaign__advertiser_id")
    campaign = IdFilter(field_name="ad_group__campaign_id")
    ad_group = IdFilter(field_name="ad_group_id")
    review_status = django_filters.ChoiceFilter(choices=ReviewStatus.choices)
    updated_since = UpdatedSinceFilter()

    class Meta:
        model = Ad
        fields = ("advertiser", "campaign", "ad_group", "status", "review_status", "updated_since")


# --- the three resources -------------------------------------------------------------------------


class _ItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet, Generic[Item]):
    """What campaigns, ad groups and ads share: scopes, paging, ordering, history and bulk status."""

    permission_classes = (IsAuthenticated, HasScope)
    read_scopes = READ_SCOPES
    write_scope = WRITE_SCOPE
    ordering_fields = ("name", "created_at", "updated_at", "id")
    ordering = ("-created_at", "-id")
    http_method_names = ("get", "post", "patch", "head", "options")
    detail_route: ClassVar[str]

    @property
    def user(self) -> User:
        return signed_in_user(self.request)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["now"] = clock.now()  # one moment for every row's delivery status
        return context

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        """The output serializer of the items shown, with their spend counters read once for all of them."""
        if args and "context" not in kwargs:
            rows: list[Any] = list(args[0]) if kwargs.get("many") else [args[0]]
            context = self.get_serializer_context()
            context["spend"] = spend_state_for(rows, now=context["now"])
            shown = rows if kwargs.get("many") else args[0]
            return super().get_serializer(shown, *args[1:], context=context, **kwargs)
        return super().get_serializer(*args, **kwargs)

    def visible(self) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Any]:
        return self.visible()

    def _show(self, item: Model, status_code: int = status.HTTP_200_OK) -> Response:
        """The item as the API shows it, read again through the tenancy gate (with what delivery status needs)."""
        fresh = self.visible().get(pk=item.pk)
        body = self.get_serializer(fresh).data
        if status_code == status.HTTP_201_CREATED:
            location = reverse(f"api:{self.detail_route}-detail", args=[item.pk])
            return Response(body, status=status_code, headers={"Location": location})
        return Response(body, status=status_code)

    def _history(self, item: Item) -> Response:
        page = self.paginate_queryset(selectors.change_history(item))  # type: ignore[arg-type]  # a list pages too
        return self.get_paginated_response(HistoryEntrySerializer(page, many=True).data)

    def _bulk_status(self, request: Request) -> Response:
        data = BulkStatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = list(dict.fromkeys(data.validated_data["ids"]))
        items = list(self.visible().filter(pk__in=ids))
        found = {item.pk for item in items}
        missing = [pk for pk in ids if pk not in found]
        if missing:  # someone else's and nobody's look alike
            raise ValidationError({"ids": [f"Not found: {', '.join(str(pk) for pk in missing)}."]})
        services.bulk_set_status(actor=self.user, items=items, status=data.validated_data["status"])
        fresh = self.visible().filter(pk__in=ids).order_by("pk")
        return Response({"results": self.get_serializer(fresh, many=True).data})


@extend_schema_view(
    list=extend_schema(summary="List campaigns"),
    retrieve=extend_schema(summary="Show one campaign"),
)
class CampaignViewSet(_ItemViewSet[Campaign]):
    """Campaigns of the advertisers you can access, each with why it is or is not delivering."""

    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter
    queryset = Campaign.objects.none()  # for the schema; requests use visible()
    detail_route = "campaign"

    def visible(self) -> QuerySet[Campaign]:
        return selectors.campaigns_for(self.user)

    def get_object(self) -> Campaign:
        return selectors.campaign_get_for_user(user=self.user, campaign_id=self.kwargs["pk"])

    def _advertiser(self, advertiser_id: int) -> Advertiser:
        advertiser = advertisers_for(self.user).filter(pk=advertiser_id).first()
        if advertiser is None:
            raise ValidationError({"advertiser": ["No such advertiser."]})
        return advertiser

    @extend_schema(
        summary="Create a campaign",
        request=CampaignCreateSerializer,
        responses={201: CampaignSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request: Request) -> HttpResponse:
        return idempotent(request, lambda: self._create(request))

    def _create(self, request: Request) -> Response:
        data = CampaignCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = _money(dict(data.validated_data))
        advertiser = self._advertiser(fields.pop("advertiser"))
        campaign = services.campaign_create(actor=self.user, advertiser=advertiser, **fields)
        return self._show(campaign, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a campaign (pause, resume and archive are changes of status)", request=CampaignUpdateSerializer
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        campaign = self.get_object()
        data = CampaignUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with api_field_names(MONEY_ERROR_NAMES):
            services.campaign_update(actor=self.user, campaign=campaign, **_money(dict(data.validated_data)))
        return self._show(campaign)

    @extend_schema(summary="Who changed what in a campaign, newest first", responses=HistoryEntrySerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], serializer_class=HistoryEntrySerializer)
    def history(self, request: Request, pk: str) -> Response:
        return self._history(self.get_object())

    @extend_schema(
        summary="Copy a campaign with its ad groups and ads (the copy starts paused; its ads go through review)",
        request=CampaignDuplicateSerializer,
        responses={201: CampaignSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def duplicate(self, request: Request, pk: str) -> HttpResponse:
        return idempotent(request, lambda: self._duplicate(request))

    def _duplicate(self, request: Request) -> Response:
        campaign = self.get_object()
        data = CampaignDuplicateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        copy = services.campaign_duplicate(actor=self.user, campaign=campaign, name=data.validated_data.get("name"))
        return self._show(copy, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Pause or resume up to 100 campaigns: all or none",
        request=BulkStatusSerializer,
        responses={200: CampaignBulkResultSerializer},
    )
    @action(detail=False, methods=["post"], url_path="bulk-status", filter_backends=[], pagination_class=None)
    def bulk_status(self, request: Request) -> Response:
        return self._bulk_status(request)


@extend_schema_view(
    list=extend_schema(summary="List ad groups"),
    retrieve=extend_schema(summary="Show one ad group"),
)
class AdGroupViewSet(_ItemViewSet[AdGroup]):
    """Ad groups: placements, targeting, schedule, budget and bid."""

    serializer_class = AdGroupSerializer
    filterset_class = AdGroupFilter
    queryset = AdGroup.objects.none()
    detail_route = "ad-group"

    def visible(self) -> QuerySet[AdGroup]:
        return selectors.ad_groups_for(self.user)

    def get_object(self) -> AdGroup:
        return selectors.ad_group_get_for_user(user=self.user, ad_group_id=self.kwargs["pk"])

    def _campaign(self, campaign_id: int) -> Campaign:
        campaign = selectors.campaigns_for(self.user).filter(pk=campaign_id).first()
        if campaign is None:
            raise ValidationError({"campaign": ["No such campaign."]})
        return campaign

    @extend_schema(
        summary="Create an ad group",
        request=AdGroupCreateSerializer,
        responses={201: AdGroupSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request: Request) -> HttpResponse:
        return idempotent(request, lambda: self._create(request))

    def _create(self, request: Request) -> Response:
        data = AdGroupCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = _ad_group_fields(dict(data.validated_data))
        campaign = self._campaign(fields.pop("campaign"))
        with api_field_names(AD_GROUP_ERROR_NAMES):
            ad_group = services.ad_group_create(actor=self.user, campaign=campaign, **fields)
        return self._show(ad_group, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change an ad group (pause, resume and archive are changes of status)", request=AdGroupUpdateSerializer
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        ad_group = self.get_object()
        data = AdGroupUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with api_field_names(AD_GROUP_ERROR_NAMES):
            services.ad_group_update(actor=self.user, ad_group=ad_group, **_ad_group_fields(dict(data.validated_data)))
        return self._show(ad_group)

    @extend_schema(summary="Who changed what in an ad group, newest first", responses=HistoryEntrySerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], serializer_class=HistoryEntrySerializer)
    def history(self, request: Request, pk: str) -> Response:
        return self._history(self.get_object())

    @extend_schema(
        summary="Pause or resume up to 100 ad groups: all or none",
        request=BulkStatusSerializer,
        responses={200: AdGroupBulkResultSerializer},
    )
    @action(detail=False, methods=["post"], url_path="bulk-status", filter_backends=[], pagination_class=None)
    def bulk_status(self, request: Request) -> Response:
        return self._bulk_status(request)


@extend_schema_view(
    list=extend_schema(summary="List ads"),
    retrieve=extend_schema(summary="Show one ad"),
)
class AdViewSet(_ItemViewSet[Ad]):
    """Ads: what viewers see, where it leads, and where review stands."""

    serializer_class = AdSerializer
    filterset_class = AdFilter
    ordering_fields = ("headline", "created_at", "updated_at", "id")
    queryset = Ad.objects.none()
    detail_route = "ad"

    def visible(self) -> QuerySet[Ad]:
        return selectors.ads_for(self.user)

    def get_object(self) -> Ad:
        return selectors.ad_get_for_user(user=self.user, ad_id=self.kwargs["pk"])

    def _ad_group(self, ad_group_id: int) -> AdGroup:
        ad_group = selectors.ad_groups_for(self.user).filter(pk=ad_group_id).first()
        if ad_group is None:
            raise ValidationError({"ad_group": ["No such ad group."]})
        return ad_group

    @extend_schema(
        summary="Create an ad (it goes into review at once)",
        request=AdCreateSerializer,
        responses={201: AdSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request: Request) -> HttpResponse:
        return idempotent(request, lambda: self._create(request))

    def _create(self, request: Request) -> Response:
        data = AdCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        ad_group = self._ad_group(fields.pop("ad_group"))
        ad = services.ad_create(actor=self.user, ad_group=ad_group, **fields)
        return self._show(ad, status.HTTP_201_CREATED)

    @extend_schema(summary="Change an ad (changing what viewers see sends it back into review)", request=AdUpdateSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        ad = self.get_object()
        data = AdUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.ad_update(actor=self.user, ad=ad, **data.validated_data)
        return self._show(ad)

    @extend_schema(summary="Who changed what in an ad, newest first", responses=HistoryEntrySerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], serializer_class=HistoryEntrySerializer)
    def history(self, request: Request, pk: str) -> Response:
        return self._history(self.get_object())

    @extend_schema(
        summary="Pause or resume up to 100 ads: all or none",
        request=BulkStatusSerializer,
        responses={200: AdBulkResultSerializer},
    )
    @action(detail=False, methods=["post"], url_path="bulk-status", filter_backends=[], pagination_class=None)
    def bulk_status(self, request: Request) -> Response:
        return self._bulk_status(request)


class AdReviewView(generics.GenericAPIView):
    """Platform staff approve or reject an ad in review (scope `review`); for anyone else the ad does not exist."""

    permission_classes = (IsAuthenticated, HasScope)
    read_scopes = ()
    write_scope = REVIEW_SCOPE
    serializer_class = AdSerializer
    queryset = Ad.objects.none()  # for the schema
    pagination_class = None
    filter_backends = ()

    @extend_schema(
        summary="Approve or reject an ad in review (platform staff)", request=AdReviewSerializer, responses={200: AdSerializer}
    )
    def post(self, request: Request, pk: str) -> Response:
        reviewer = signed_in_user(request)
        ad = selectors.ad_get_for_review(user=reviewer, ad_id=pk)
        data = AdReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with api_field_names(REVIEW_ERROR_NAMES):
            ad = services.ad_review(reviewer=reviewer, ad=ad, **data.validated_data)
        now = clock.now()
        return Response(AdSerializer(ad, context={"now": now, "spend": spend_state_for([ad], now=now)}).data)


# --- reference data for building targeting ------------------------------------------------------


@extend_schema_view(list=extend_schema(summary="List the placements ads can run on"))
class PlacementViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Placements an ad group can choose, with the formats they show and their floor CPM."""

    permission_classes = (IsAuthenticated, HasScope)
    read_scopes = READ_SCOPES
    serializer_class = PlacementSerializer
    filter_backends = ()
    queryset = Placement.objects.none()

    def get_queryset(self) -> QuerySet[Placement]:
        return selectors.active_placements()


@extend_schema_view(list=extend_schema(summary="List the interests ad groups can target"))
class InterestViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The interest taxonomy; ad groups target interests by key."""

    permission_classes = (IsAuthenticated, HasScope)
    read_scopes = READ_SCOPES
    serializer_class = InterestSerializer
    filterset_fields = ("category",)
    ordering_fields = ("key", "name", "category")
    queryset = Interest.objects.none()

    def get_queryset(self) -> QuerySet[Interest]:
        return selectors.active_interests()
