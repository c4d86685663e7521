"""API shapes for accounts: one output serializer, one input serializer per operation."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from adplatform.api.serializers import MoneyField, StrictInputSerializer

from .models import Advertiser, Role, strongest_role


class AdvertiserSerializer(serializers.ModelSerializer):
    """An advertiser as the API shows it, with the caller's role on it."""

    credit_limit = MoneyField(source="credit_limit_micros", read_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = Advertiser
        fields = (
            "id",
            "name",
            "currency",
            "time_zone",
            "status",
            "billing_mode",
            "credit_limit",
            "agency",
            "role",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices, allow_null=True))
    def get_role(self, advertiser: Advertiser) -> str | None:
        """The strongest of the caller's direct and agency roles (annotated by the selector)."""
        return strongest_role(getattr(advertiser, "direct_role", None), getattr(advertiser, "agency_role", None))


class AdvertiserCreateSerializer(StrictInputSerializer):
    """Input for creating an advertiser; `agency` is set from context-scoped choices."""

    name = serializers.CharField(max_length=200)
    currency = serializers.CharField(max_length=3, help_text="ISO 4217 code, e.g. EUR.")
    time_zone = serializers.CharField(max_length=64, help_text="IANA time zone, e.g. Europe/Berlin.")
    agency = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text=(
            "The agency whose client this is. Omitted: your agency if you belong to exactly one, "
            "else your own account. null: your own account."
        ),
    )


class AdvertiserUpdateSerializer(StrictInputSerializer):
    """Input for changing an advertiser: its name and time zone."""

    name = serializers.CharField(max_length=200, required=False)
    time_zone = serializers.CharField(max_length=64, required=False)
    unchangeable_fields = tuple(field for field in AdvertiserSerializer.Meta.fields if field not in ("name", "time_zone"))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Send at least one of: name, time_zone.")
        return attrs
