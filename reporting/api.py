"""REST resources for reporting: /api/v1/reports/ and /api/v1/report-jobs/ (scope `reports:read`).

Views only translate: the advertiser through the tenancy gate (404 outside it), the report's
parameters through `reporting.query.parse` (a 400 naming the parameter at fault), then one
selector or service. A report job runs the same report in the background and keeps it as CSV.
"""

import uuid
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from accounts.api import IDEMPOTENCY_HEADER, IdFilter
from accounts.models import Advertiser, User
from accounts.selectors import advertisers_for
from accounts.session import signed_in_user
from adplatform.api.idempotency import idempotent
from adplatform.api.permissions import HasScope
from adplatform.text import is_id

from . import selectors, services
from .models import ReportJob
from .query import (
    DEFAULT_METRICS,
    DEFAULT_PAGE_SIZE,
    DIMENSIONS,
    FILTERS,
    LEVELS,
    MAX_DAYS,
    MAX_PAGE_SIZE,
    METRICS,
    ReportError,
    ReportQuery,
    parse,
)
from .serializers import ReportJobCreateSerializer, ReportJobSerializer, ReportSerializer

READ_SCOPES = ("reports:read",)
NOT_VISIBLE = OpenApiResponse(
    response={"$ref": "#/components/schemas/Error"},
    description="The advertiser does not exist or is outside your tenancy (`not_found`).",
)
# Creating a report job only reads numbers: the same scope as reading a report.
WRITE_SCOPE = "reports:read"
# What a report URL may carry; `format` is DRF's own (`?format=json`).
PARAMETERS = frozenset({"advertiser", "level", "dimensions", "metrics", "start_date", "end_date", *FILTERS})
PAGING = frozenset({"ordering", "page", "page_size"})
KNOWN = PARAMETERS | PAGING | {"format"}


def _invalid(parameter: str, message: str) -> ValidationError:
    return ValidationError({parameter: [message]})


def _query_for(advertiser: Advertiser, parameters: dict[str, str]) -> ReportQuery:
    """The validated report query, the default range ending on the advertiser's today; 400 naming what is wrong."""
    try:
        return parse(parameters, today=services.local_today(advertiser.time_zone))
    except ReportError as exc:
        raise _invalid(exc.parameter, str(exc)) from exc


# --- reports --------------------------------------------------------------------------------------


def _parameter(name: str, description: str, kind: Any = OpenApiTypes.STR, **options: Any) -> OpenApiParameter:
    return OpenApiParameter(name, kind, OpenApiParameter.QUERY, description=description, **options)


REPORT_PARAMETERS = [
    _parameter("advertiser", "The advertiser whose numbers to report.", {"type": "integer", "minimum": 1}, required=True),
    _parameter("level", "What one row is about.", enum=list(LEVELS), default="campaign"),
    _parameter(
        "dimensions",
        f"Comma-separated breakdowns, any of {', '.join(DIMENSIONS)} (none: one row per campaign, ad group or ad). "
        "Dates and hours are the advertiser's local ones.",
    ),
    _parameter("metrics", f"Comma-separated, any of {', '.join(METRICS)}.", default=",".join(DEFAULT_METRICS)),
    _parameter("start_date", "First day, YYYY-MM-DD (default: six days before end_date).", OpenApiTypes.DATE),
    _parameter(
        "end_date", f"Last day, YYYY-MM-DD (default: the advertiser's today; at most {MAX_DAYS} days).", OpenApiTypes.DATE
    ),
    _parameter("campaign", "Only these campaigns (comma-separated ids)."),
    _parameter("ad_group", "Only these ad groups (comma-separated ids)."),
    _parameter("ad", "Only these ads (comma-separated ids)."),
    _parameter("country", "Only these countries (comma-separated two-letter codes)."),
    _parameter("ordering", "A metric or dimension of the report, name or id; prefix - for descending (default: name)."),
    _parameter("page", "Page number.", {"type": "integer", "minimum": 1, "maximum": 1_000_000}, default=1),
    _parameter(
        "page_size",
        f"Rows per page (at most {MAX_PAGE_SIZE}).",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        default=DEFAULT_PAGE_SIZE,
    ),
]


class ReportView(generics.GenericAPIView):
    """An advertiser's numbers for a date range, per campaign, ad group or ad, broken down as asked."""

    permission_classes = (IsAuthenticated, HasScope)
    read_scopes = READ_SCOPES
    serializer_class = ReportSerializer
    queryset = Advertiser.objects.none()  # for the schema
    pagination_class = None
    filter_backends = ()

    @extend_schema(summary="Run a report", parameters=REPORT_PARAMETERS, responses={200: ReportSerializer, 404: NOT_VISIBLE})
    def get(self, request: Request) -> Response:
        given = request.query_params
        for name in sorted(given):
            if name not in KNOWN:
                raise _invalid(name, "Unknown parameter.")
            if len(given.getlist(name)) > 1:
                raise _invalid(name, "Send this parameter once.")
        raw_id = (given.get("advertiser") or "").strip()
        if not raw_id:
            raise _invalid("advertiser", "This parameter is required.")
        if not is_id(raw_id):
            raise _invalid("advertiser", "Enter a whole number.")
        advertiser = selectors.report_advertiser_for(user=signed_in_user(request), advertiser_id=raw_id)
        query = _query_for(advertiser, {name: given[name] for name in given if name in PARAMETERS | PAGING})
        report = selectors.run_report(advertiser, query)
        if query.page > 1 and not report.rows:
            raise _invalid("page", "Invalid page.")
        rows, totals = selectors.present(report)
        url = request.build_absolute_uri()
        following = query.page * query.page_size < report.count
        body = {
            "advertiser": advertiser.pk,
            "currency": advertiser.currency,
            "time_zone": advertiser.time_zone,
            "start_date": query.start,
            "end_date": query.end,
            "level": query.level,
            "dimensions": list(query.dimensions),
            "metrics": list(query.metrics),
            "count": report.count,
            "next": replace_query_param(url, "page", query.page + 1) if following else None,
            "previous": _previous_page(url, query.page),
            "results": rows,
            "totals": totals,
        }
        return Response(ReportSerializer(body).data)


def _previous_page(url: str, page: int) -> str | None:
    if page <= 1:
        return None
    return remove_query_param(url, "page") if page == 2 else replace_query_param(url, "page", page - 1)


# --- report jobs ----------------------------------------------------------------------------------


class ReportJobFilter(django_filters.FilterSet):
    """?advertiser=3&status=done"""

    advertiser = IdFilter(field_name="advertiser_id")
    status = django_filters.ChoiceFilter(choices=ReportJob.Status.choices)

    class Meta:
        model = ReportJob
        fields = ("advertiser", "status")


class CsvRenderer(renderers.BaseRenderer):
    """What the CSV download answers with (`Accept: text/csv` or none); the view hands over the bytes itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        return data


@extend_schema_view(
    list=extend_schema(summary="List report jobs, newest first"),
    retrieve=extend_schema(summary="Show a report job's status"),
)
class ReportJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Reports run in the background, for any size: create one, poll its status, download its CSV."""

    permission_classes = (IsAuthenticated, HasScope)
    read_scopes = READ_SCOPES
    write_scope = WRITE_SCOPE
    serializer_class = ReportJobSerializer
    filterset_class = ReportJobFilter
    ordering_fields = ("created_at",)
    ordering = ("-created_at", "-id")
    http_method_names = ("get", "post", "head", "options")
    queryset = ReportJob.objects.none()  # for the schema; requests use get_queryset

    @property
    def user(self) -> User:
        return signed_in_user(self.request)

    def get_queryset(self) -> QuerySet[ReportJob]:
        return selectors.report_jobs_for(self.user)

    def get_object(self) -> ReportJob:
        try:
            job_id = uuid.UUID(str(self.kwargs["pk"]))
        except ValueError as exc:
            raise Http404("No such report job.") from exc
        job = self.get_queryset().filter(pk=job_id).first()
        if job is None:
            raise Http404("No such report job.")
        return job

    def handle_exception(self, exc: Exception) -> Response:
        # Errors are JSON even where success is CSV (the client may have asked for text/csv only).
        response = super().handle_exception(exc)
        self.request.accepted_renderer = renderers.JSONRenderer()
        self.request.accepted_media_type = renderers.JSONRenderer.media_type
        return response

    @extend_schema(
        summary="Run a report in the background",
        request=ReportJobCreateSerializer,
        responses={201: ReportJobSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request: Request) -> HttpResponse:
        return idempotent(request, lambda: self._create(request))

    def _create(self, request: Request) -> Response:
        data = ReportJobCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        advertiser = advertisers_for(self.user).filter(pk=data.validated_data["advertiser"]).first()
        if advertiser is None:
            raise _invalid("advertiser", "No such advertiser.")
        query = _query_for(advertiser, data.report_parameters())
        job = services.report_job_create(actor=self.user, advertiser=advertiser, query=query)
        location = reverse("api:report-job-detail", args=[job.pk])
        body = ReportJobSerializer(job, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})

    @extend_schema(
        summary="Download a finished report job as CSV",
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The report as CSV: a header, one line per row, and a totals line last. 404 until the job is done.",
            )
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=[CsvRenderer], filter_backends=[])
    def download(self, request: Request, pk: str) -> HttpResponse:
        job = self.get_object()
        if job.status != ReportJob.Status.DONE:
            raise NotFound(f"This report job is {job.status}: its CSV can be downloaded once it is done.")
        response = HttpResponse(bytes(job.csv or b""), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{_file_name(job)}"'
        return response


def _file_name(job: ReportJob) -> str:
    """report-<advertiser>-<level>-<start>-<end>.csv, from the job's validated parameters."""
    parameters = job.parameters if isinstance(job.parameters, dict) else {}
    parts = [str(job.advertiser_id)] + [str(parameters.get(name, "")) for name in ("level", "start_date", "end_date")]
    safe = "-".join("".join(char for char in part if char.isascii() and (char.isalnum() or char in "_-")) for part in parts)
    return f"report-{safe}.csv"
