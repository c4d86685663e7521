"""API shapes for reports and report jobs.

Inputs only translate names and types: every report rule (levels, dimensions, metrics, dates,
ranges, filters) is checked by `reporting.query.parse`, which names the parameter at fault, so
a report asked for in a URL and one asked for in a job's body are refused in the same words.
"""

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from adplatform.api.serializers import StrictInputSerializer

from .models import ReportJob
from .query import DIMENSIONS, LEVELS, METRICS

ID_OR_LIST = {
    "oneOf": [
        {"type": "string", "example": "12,13"},
        {"type": "array", "items": {"oneOf": [{"type": "integer"}, {"type": "string"}]}},
    ]
}


@extend_schema_field(ID_OR_LIST)
class CommaListField(serializers.Field):
    """Names or ids as one comma-separated string ("clicks,spend") or a JSON list (["clicks", "spend"]).

    Kept as the comma-separated text `parse` reads, so a body and a URL are checked alike.
    """

    default_error_messages = {"invalid": "Send a comma-separated string or a list of strings or whole numbers."}

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str):
            return data
        if isinstance(data, int) and not isinstance(data, bool):
            return str(data)
        if isinstance(data, list) and all(
            isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool)) for item in data
        ):
            return ",".join(str(item) for item in data)
        self.fail("invalid")
        return ""  # unreachable: fail() raises

    def to_representation(self, value: Any) -> Any:
        return value


def _text(help_text: str) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=10_000, help_text=help_text)


def _list(help_text: str) -> CommaListField:
    return CommaListField(required=False, allow_null=True, help_text=help_text)


class ReportJobCreateSerializer(StrictInputSerializer):
    """A report to run in the background: the advertiser and the report's parameters, as in the URL of a report."""

    advertiser = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    level = _text(f"One of {', '.join(LEVELS)} (default campaign).")
    dimensions = _list(f"Any of {', '.join(DIMENSIONS)}.")
    metrics = _list(f"Any of {', '.join(METRICS)}.")
    start_date = _text("YYYY-MM-DD in the advertiser's time zone (default: 6 days before end_date).")
    end_date = _text("YYYY-MM-DD in the advertiser's time zone (default: the advertiser's today).")
    campaign = _list("Only these campaign ids.")
    ad_group = _list("Only these ad group ids.")
    ad = _list("Only these ad ids.")
    country = _list("Only these two-letter country codes.")
    ordering = _text("A metric, dimension, name or id; prefix - for descending.")

    def report_parameters(self) -> dict[str, str]:
        """The validated parameters as `reporting.query.parse` reads them (absent ones left out)."""
        return {name: value for name, value in self.validated_data.items() if name != "advertiser" and value is not None}


@extend_schema_field(serializers.ChoiceField(choices=ReportJob.Status.choices), component_name="ReportJobStatusEnum")
class ReportJobStatusField(serializers.ChoiceField):
    """queued, running, done (the CSV can be downloaded) or failed (see `error`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=ReportJob.Status.choices, **kwargs)


class ReportJobSerializer(serializers.ModelSerializer):
    """A report job: its parameters as validated (dates fixed when it was created), its progress and its CSV."""

    status = ReportJobStatusField(read_only=True)
    parameters = serializers.DictField(
        child=serializers.CharField(), read_only=True, help_text="The report's parameters, with the dates resolved."
    )
    download_url = serializers.SerializerMethodField(help_text="Where to download the CSV, once the job is done.")

    class Meta:
        model = ReportJob
        fields = (
            "id",
            "advertiser",
            "status",
            "parameters",
            "row_count",
            "error",
            "created_at",
            "finished_at",
            "download_url",
        )
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_download_url(self, job: ReportJob) -> str | None:
        if job.status != ReportJob.Status.DONE:
            return None
        path = reverse("api:report-job-download", args=[job.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


@extend_schema_field(
    {
        "type": "object",
        "description": "Ids are whole numbers, ratios numbers, money decimal strings; null where a ratio is undefined.",
        "additionalProperties": {},
        "example": {"campaign_id": 7, "campaign_name": "Bread", "date": "2025-06-01", "impressions": 1200, "spend": "3.60"},
    }
)
class ReportRowField(serializers.DictField):
    """One row: the level's id and name (ad rows also carry their campaign and ad group), dimensions, metrics."""


class ReportSerializer(serializers.Serializer):
    """A report page: its rows, the totals of every row on every page, and links to the next and previous pages."""

    advertiser = serializers.IntegerField()
    currency = serializers.CharField(help_text="The currency of every money figure.")
    time_zone = serializers.CharField(help_text="The advertiser's time zone: dates and hours are local to it.")
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    level = serializers.CharField(help_text=f"One of {', '.join(LEVELS)}.")
    dimensions = serializers.ListField(child=serializers.CharField())
    metrics = serializers.ListField(child=serializers.CharField())
    count = serializers.IntegerField(help_text="Rows over all pages.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = serializers.ListField(child=ReportRowField())
    totals = ReportRowField(help_text="The metrics over every row of the report (all pages).")
