"""REST resources for billing: balances, the ledger, top-ups, invoices, credits and the low-balance alert.

Views only translate: they look things up through the tenancy gate (404 outside it; an advertiser
named in a body that is outside it is a 400 naming `advertiser`, as everywhere in the API), validate
the input's shape and call one billing service (roles: 403; rules: 400 naming the field).

Top-ups are not wrapped in `adplatform.api.idempotency.idempotent`: that would hold a database
transaction open across the payment provider's network call and roll back the record of a declined
payment. `billing.services.top_up` honours the Idempotency-Key itself, and the provider gets one
key per top-up, so a retry never charges twice.
"""

from datetime import UTC, datetime, time
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import generics, mixins, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import IDEMPOTENCY_HEADER, IdFilter
from accounts.models import Advertiser, User
from accounts.selectors import advertiser_get_for_user, advertisers_for
from accounts.session import signed_in_user
from adplatform.api.errors import error_body
from adplatform.api.idempotency import HEADER as IDEMPOTENCY_KEY_HEADER
from adplatform.api.idempotency import IdempotencyConflict, idempotency_key, idempotent
from adplatform.api.permissions import HasScope

from . import selectors, services
from .gateways import GatewayError
from .models import BillingProfile, Invoice, Kind, TopUp, Transaction
from .pdf import invoice_pdf
from .serializers import (
    BalanceSerializer,
    BillingProfileSerializer,
    BillingProfileUpdateSerializer,
    InvoiceDetailSerializer,
    InvoiceSerializer,
    RedeemSerializer,
    RedemptionSerializer,
    TopUpCreateSerializer,
    TopUpSerializer,
    TransactionSerializer,
)

READ_SCOPES = ("billing:read",)
WRITE_SCOPE = "billing:write"
# TopUp.idempotency_key's column; longer keys are refused rather than cut (two keys must never merge).
MAX_TOP_UP_KEY_LENGTH = 200

ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}
PAYMENT_DECLINED = OpenApiResponse(
    response=ERROR_SCHEMA,
    description=(
        "The payment provider refused the payment. `code` is its reason (`card_declined`, `expired_card`, "
        "`insufficient_funds`, `incorrect_cvc`, `invalid_payment_method`, ...), `fields.payment_method` says it "
        "in words. The declined top-up stays on record (status `declined` or `failed`); `Location` names it. "
        "A retry with the same Idempotency-Key gets the same answer: use a new key to try another card."
    ),
    examples=[
        OpenApiExample(
            "Declined",
            value=error_body("card_declined", "Your card was declined.", {"payment_method": ["Your card was declined."]}),
        )
    ],
)
GATEWAY_UNAVAILABLE = OpenApiResponse(
    response=ERROR_SCHEMA,
    description=(
        "The payment provider could not be reached (`payment_provider_unavailable`). The top-up stays pending; "
        "retry with the same Idempotency-Key and the card is never charged twice."
    ),
)
TOP_UP_IDEMPOTENCY_HEADER = OpenApiParameter(
    IDEMPOTENCY_KEY_HEADER,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "1 to 200 characters. A retry with the same key and body returns the same top-up (201, or the same 402 "
        "for a declined one) and never charges twice; the same key with another body gets 409."
    ),
)


# --- filters --------------------------------------------------------------------------------------


class MomentField(forms.Field):
    """An ISO 8601 date (that day's 00:00 UTC) or date and time (UTC unless it carries an offset)."""

    default_error_messages = {
        "invalid": "Enter an ISO 8601 date (2025-06-01) or date and time (2025-06-01T09:30:00+02:00).",
    }

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        try:
            moment = parse_datetime(text)
            if moment is None:
                day = parse_date(text)
                if day is None:
                    raise ValueError(text)
                moment = datetime.combine(day, time.min)
            if moment.tzinfo is None:
                return moment.replace(tzinfo=UTC)
            # PostgreSQL refuses offsets beyond ±15:59 that Python accepts: compare in UTC.
            return moment.astimezone(UTC)
        except (ValueError, OverflowError) as exc:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc


@extend_schema_field(
    {
        "type": "string",
        "example": "2025-06-01",
        "description": (
            "An ISO 8601 date (that day's 00:00 UTC) or date and time (UTC unless it carries an offset; "
            "write + as %2B). created_after includes the moment, created_before does not."
        ),
    }
)
class MomentFilter(django_filters.Filter):
    field_class = MomentField


@extend_schema_field(
    {"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2025-06", "description": "A calendar month, YYYY-MM."}
)
class MonthFilter(django_filters.DateFilter):
    """A calendar month as YYYY-MM (matched against the month's first day)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(input_formats=["%Y-%m"], error_messages={"invalid": "Enter a month as YYYY-MM."}, **kwargs)


class TransactionFilter(django_filters.FilterSet):
    """?advertiser=3&kind=spend&campaign=7&created_after=2025-06-01&created_before=2025-07-01"""

    advertiser = IdFilter(field_name="advertiser_id")
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    campaign = IdFilter(field_name="campaign_id")
    created_after = MomentFilter(field_name="created_at", lookup_expr="gte")
    created_before = MomentFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Transaction
        fields = ("advertiser", "kind", "campaign", "created_after", "created_before")


class TopUpFilter(django_filters.FilterSet):
    """?advertiser=3&status=declined"""

    advertiser = IdFilter(field_name="advertiser_id")
    status = django_filters.ChoiceFilter(choices=TopUp.Status.choices)

    class Meta:
        model = TopUp
        fields = ("advertiser", "status")


class InvoiceFilter(django_filters.FilterSet):
    """?advertiser=3&kind=invoice&status=open&period=2025-06"""

    advertiser = IdFilter(field_name="advertiser_id")
    kind = django_filters.ChoiceFilter(choices=Invoice.Kind.choices)
    status = django_filters.ChoiceFilter(choices=Invoice.Status.choices)
    period = MonthFilter(field_name="period_start")

    class Meta:
        model = Invoice
        fields = ("advertiser", "kind", "status", "period")


# --- helpers --------------------------------------------------------------------------------------


def _advertiser_in_body(user: User, advertiser_id: int) -> Advertiser:
    """The advertiser a body names, if the caller may see it (else the same 400 as for an unknown id)."""
    advertiser = advertisers_for(user).filter(pk=advertiser_id).first()
    if advertiser is None:
        raise ValidationError({"advertiser": ["No such advertiser."]})
    return advertiser


class PdfRenderer(renderers.BaseRenderer):
    """What the PDF download answers with (`Accept: application/pdf` or none); the view hands over the bytes itself."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        return data


# --- balance and billing profile ------------------------------------------------------------------


class BalanceView(generics.GenericAPIView):
    """An advertiser's balance and what it may still spend."""

    permission_classes = (IsAuthenticated, HasScope)
    read_scopes = READ_SCOPES
    serializer_class = BalanceSerializer
    queryset = Advertiser.objects.none()  # for the schema
    pagination_class = None
    filter_backends = ()

    @extend_schema(summary="Show an advertiser's balance and spendable amount")
    def get(self, request: Request, pk: str) -> Response:
        advertiser = advertiser_get_for_user(user=signed_in_user(request), advertiser_id=pk)
        balance = selectors.balance_micros(advertiser)
        threshold = (
            BillingProfile.objects.filter(advertiser=advertiser).values_list("low_balance_threshold_micros", flat=True).first()
        )
        body = {
            "advertiser": advertiser.pk,
            "balance_micros": balance,
            "currency": advertiser.currency,
            "spendable_micros": selectors.spendable_from(balance=balance, advertiser=advertiser),
            "credit_limit_micros": advertiser.credit_limit_micros,
            "billing_mode": advertiser.billing_mode,
            "low_balance_threshold_micros": threshold,
        }
        return Response(BalanceSerializer(body).data)


class BillingProfileView(generics.GenericAPIView):
    """An advertiser's low-balance alert: admins get an e-mail when the spendable amount drops below it."""

    permission_classes = (IsAuthenticated, HasScope)
    read_scopes = READ_SCOPES
    write_scope = WRITE_SCOPE
    serializer_class = BillingProfileSerializer
    queryset = Advertiser.objects.none()  # for the schema
    pagination_class = None
    filter_backends = ()
    http_method_names = ("get", "patch", "head", "options")

    def _show(self, advertiser: Advertiser) -> Response:
        threshold = (
            BillingProfile.objects.filter(advertiser=advertiser).values_list("low_balance_threshold_micros", flat=True).first()
        )
        body = {"advertiser": advertiser.pk, "currency": advertiser.currency, "low_balance_threshold_micros": threshold}
        return Response(BillingProfileSerializer(body).data)

    @extend_schema(summary="Show an advertiser's low-balance alert")
    def get(self, request: Request, pk: str) -> Response:
        return self._show(advertiser_get_for_user(user=signed_in_user(request), advertiser_id=pk))

    @extend_schema(
        summary="Set or turn off the low-balance alert (admins)",
        request=BillingProfileUpdateSerializer,
        responses={200: BillingProfileSerializer},
    )
    def patch(self, request: Request, pk: str) -> Response:
        user = signed_in_user(request)
        advertiser = advertiser_get_for_user(user=user, advertiser_id=pk)
        data = BillingProfileUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.billing_profile_update(
            actor=user, advertiser=advertiser, low_balance_threshold_micros=data.validated_data["low_balance_threshold"]
        )
        return self._show(advertiser)


# --- the ledger -----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List ledger transactions, newest first"),
    retrieve=extend_schema(summary="Show one transaction"),
)
class TransactionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The append-only ledger of the advertisers you can access: top-ups, spend, credits, refunds, adjustments."""

    permission_classes = (IsAuthenticated, HasScope)
    read_scopes = READ_SCOPES
    serializer_class = TransactionSerializer
    filterset_class = TransactionFilter
    ordering_fields = ("created_at", "id")
    ordering = ("-created_at", "-id")
    queryset = Transaction.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self) -> QuerySet[Transaction]:
        return selectors.transactions_for(signed_in_user(self.request))


# --- top-ups --------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List top-ups, declined ones included"),
    retrieve=extend_schema(summary="Show one top-up"),
)
class TopUpViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Payments into prepaid balances through the payment provider, with their receipts."""

    permission_classes = (IsAuthenticated, HasScope)
    read_scopes = READ_SCOPES
    write_scope = WRITE_SCOPE
    serializer_class = TopUpSerializer
    filterset_class = TopUpFilter
    ordering_fields = ("created_at", "id")
    ordering = ("-created_at", "-id")
    http_method_names = ("get", "post", "head", "options")
    queryset = TopUp.objects.none()  # for the schema; requests use get_queryset

    @property
    def user(self) -> User:
        return signed_in_user(self.request)

    def get_queryset(self) -> QuerySet[TopUp]:
        return selectors.top_ups_for(self.user).select_related("transaction")

    def get_object(self) -> TopUp:
        return selectors.top_up_get_for_user(user=self.user, top_up_id=self.kwargs["pk"])

    def _location(self, top_up: TopUp) -> str:
        return reverse("api:top-up-detail", args=[top_up.pk])

    def _declined(self, exc: services.PaymentDeclinedError) -> Response:
        message = str(exc)
        body = error_body(exc.code, message, {"payment_method": [message]})
        return Response(body, status=status.HTTP_402_PAYMENT_REQUIRED, headers={"Location": self._location(exc.top_up)})

    @extend_schema(
        summary="Top up a balance: charge a payment method (admins)",
        request=TopUpCreateSerializer,
        responses={201: TopUpSerializer, 402: PAYMENT_DECLINED, 502: GATEWAY_UNAVAILABLE},
        parameters=[TOP_UP_IDEMPOTENCY_HEADER],
    )
    def create(self, request: Request) -> Response:
        data = TopUpCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        advertiser = _advertiser_in_body(self.user, data.validated_data["advertiser"])
        key = idempotency_key(request, max_length=MAX_TOP_UP_KEY_LENGTH)
        # The services keep keys per advertiser; to the client a key names one request, whatever it was for.
        if (
            key is not None
            and self.get_queryset().filter(created_by=self.user, idempotency_key=key).exclude(advertiser=advertiser).exists()
        ):
            raise IdempotencyConflict()
        try:
            top_up = services.top_up(
                actor=self.user,
                advertiser=advertiser,
                amount_micros=data.validated_data["amount"],
                payment_method=data.validated_data["payment_method"],
                idempotency_key=key,
            )
        except services.PaymentDeclinedError as exc:
            return self._declined(exc)
        except services.IdempotencyConflictError:
            raise IdempotencyConflict() from None
        except GatewayError:
            body = error_body(
                "payment_provider_unavailable",
                "The payment provider could not be reached. Retry with the same Idempotency-Key: the card is never "
                "charged twice.",
            )
            return Response(body, status=status.HTTP_502_BAD_GATEWAY)
        fresh = self.get_queryset().get(pk=top_up.pk)
        return Response(TopUpSerializer(fresh).data, status=status.HTTP_201_CREATED, headers={"Location": self._location(fresh)})


# --- invoices -------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List monthly invoices and statements"),
    retrieve=extend_schema(summary="Show an invoice or statement with its lines", responses=InvoiceDetailSerializer),
)
class InvoiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Monthly invoices (credit lines) and statements (prepaid), one per advertiser and month."""

    permission_classes = (IsAuthenticated, HasScope)
    read_scopes = READ_SCOPES
    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilter
    ordering_fields = ("period_start", "issued_at", "id")
    ordering = ("-period_start", "-id")
    queryset = Invoice.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self) -> QuerySet[Invoice]:
        return selectors.invoices_for(signed_in_user(self.request))

    def get_object(self) -> Invoice:
        return selectors.invoice_get_for_user(user=signed_in_user(self.request), invoice_id=self.kwargs["pk"])

    def get_serializer_class(self) -> type[InvoiceSerializer]:
        return InvoiceDetailSerializer if self.action == "retrieve" else InvoiceSerializer

    def handle_exception(self, exc: Exception) -> Response:
        # Errors are JSON even where success is a PDF (the client may have asked for application/pdf only).
        response = super().handle_exception(exc)
        self.request.accepted_renderer = renderers.JSONRenderer()
        self.request.accepted_media_type = renderers.JSONRenderer.media_type
        return response

    @extend_schema(
        summary="Download an invoice or statement as PDF",
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF, as <number>.pdf.")},
    )
    @action(detail=True, methods=["get"], renderer_classes=[PdfRenderer], filter_backends=[])
    def pdf(self, request: Request, pk: str) -> HttpResponse:
        invoice = self.get_object()
        response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
        return response


# --- credits --------------------------------------------------------------------------------------


class RedeemView(generics.GenericAPIView):
    """Redeem a promotional code: the credit lands now, or with the first top-up when the code asks for one."""

    permission_classes = (IsAuthenticated, HasScope)
    read_scopes = ()
    write_scope = WRITE_SCOPE
    serializer_class = RedemptionSerializer
    queryset = Advertiser.objects.none()  # for the schema
    pagination_class = None
    filter_backends = ()

    @extend_schema(
        summary="Redeem a promotional code (admins)",
        request=RedeemSerializer,
        responses={201: RedemptionSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request) -> HttpResponse:
        return idempotent(request, lambda: self._redeem(request))

    def _redeem(self, request: Request) -> Response:
        user = signed_in_user(request)
        data = RedeemSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        advertiser = _advertiser_in_body(user, data.validated_data["advertiser"])
        redemption = services.promo_code_redeem(actor=user, advertiser=advertiser, code=data.validated_data["code"])
        return Response(RedemptionSerializer(redemption).data, status=status.HTTP_201_CREATED)
