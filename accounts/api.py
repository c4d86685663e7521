"""REST resources for accounts: /api/v1/advertisers/."""

import django_filters
from django import forms
from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from adplatform.api.idempotency import idempotent
from adplatform.api.permissions import HasScope

from . import services
from .models import Advertiser, Agency
from .selectors import advertiser_get_for_user, advertisers_with_roles_for, agencies_for
from .serializers import AdvertiserCreateSerializer, AdvertiserSerializer, AdvertiserUpdateSerializer
from .session import signed_in_user

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description="Retry-safe creates: the same key and body replay the first response; another body gets 409.",
)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """An integer id (a NumberFilter would accept 1.5 and quietly match 1)."""

    field_class = forms.IntegerField


class AdvertiserFilter(django_filters.FilterSet):
    """?name=bak&status=active&currency=EUR&agency=3&billing_mode=prepaid"""

    name = django_filters.CharFilter(lookup_expr="icontains")
    # A plain id, not a choice over every agency: another tenant's agency and an unknown id must look alike.
    agency = IdFilter(field_name="agency_id")

    class Meta:
        model = Advertiser
        fields = ("name", "status", "currency", "agency", "billing_mode")


@extend_schema_view(
    list=extend_schema(summary="List the advertisers you can access"),
    retrieve=extend_schema(summary="Show one advertiser"),
)
class AdvertiserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Advertiser accounts: your own and, for agency members, every client of your agencies."""

    permission_classes = (IsAuthenticated, HasScope)
    read_scopes = ("campaigns:read", "reports:read", "billing:read")
    write_scope = "campaigns:write"
    serializer_class = AdvertiserSerializer
    filterset_class = AdvertiserFilter
    ordering_fields = ("name", "created_at", "id")
    ordering = ("name", "id")
    http_method_names = ("get", "post", "patch", "head", "options")
    queryset = Advertiser.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self) -> QuerySet[Advertiser]:
        return advertisers_with_roles_for(signed_in_user(self.request))

    def _agency_for_create(self, data: dict) -> Agency | None:
        if "agency" in data:
            if data["agency"] is None:
                return None
            agency = agencies_for(signed_in_user(self.request)).filter(pk=data["agency"]).first()
            if agency is None:
                raise ValidationError({"agency": ["No such agency."]})
            return agency
        agencies = list(agencies_for(signed_in_user(self.request))[:2])
        if len(agencies) > 1:
            raise ValidationError({"agency": ["You belong to several agencies: say which one (or null for your own account)."]})
        return agencies[0] if agencies else None

    @extend_schema(
        summary="Create an advertiser (agency members create client accounts)",
        request=AdvertiserCreateSerializer,
        responses={201: AdvertiserSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request: Request) -> HttpResponse:
        return idempotent(request, lambda: self._create(request))

    def _create(self, request: Request) -> Response:
        data = AdvertiserCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        agency = self._agency_for_create(fields)
        fields.pop("agency", None)
        advertiser = services.advertiser_create(actor=signed_in_user(request), agency=agency, **fields)
        body = AdvertiserSerializer(self.get_queryset().get(pk=advertiser.pk)).data
        location = reverse("api:advertiser-detail", args=[advertiser.pk])
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})

    @extend_schema(summary="Rename an advertiser or change its time zone", request=AdvertiserUpdateSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        advertiser = advertiser_get_for_user(user=signed_in_user(request), advertiser_id=pk)
        data = AdvertiserUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.advertiser_update(actor=signed_in_user(request), advertiser=advertiser, **data.validated_data)
        return Response(AdvertiserSerializer(self.get_queryset().get(pk=advertiser.pk)).data)
