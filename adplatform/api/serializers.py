"""Serializer building blocks shared by every resource."""

from decimal import Decimal
from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from adplatform import money


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know instead of silently ignoring them."""

    # Fields the resource shows but a client may not send here, e.g. {"currency": "..."} on PATCH.
    unchangeable_fields: ClassVar[tuple[str, ...]] = ()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            errors: dict[str, list[str]] = {}
            for name in data:
                if name in self.unchangeable_fields:
                    errors[name] = ["This field cannot be changed."]
                elif name not in self.fields:
                    errors[name] = ["Unknown field."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "format": "decimal", "example": "12.50"})
class MoneyField(serializers.Field):
    """Integer micros inside, a decimal string such as "12.50" outside."""

    default_error_messages: ClassVar = {"invalid": "Enter a decimal amount such as 12.50."}

    def to_representation(self, value: int) -> str:
        return money.format_amount(value)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, str | int | float | Decimal):
            self.fail("invalid")
        try:
            return money.to_micros(str(data))
        except money.MoneyError as exc:
            raise serializers.ValidationError(str(exc)) from exc
