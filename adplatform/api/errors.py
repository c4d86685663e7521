"""One error shape for the whole API: {"error": {"code", "message", "fields"}}."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

# DRF's default codes for its own exceptions, renamed where a client benefits from a clearer one.
CODE_OVERRIDES = {
    "invalid": "validation_error",
    "parse_error": "malformed_request",
    "not_authenticated": "not_authenticated",
    "authentication_failed": "not_authenticated",
    "permission_denied": "permission_denied",
    "not_found": "not_found",
    "method_not_allowed": "method_not_allowed",
    "unsupported_media_type": "unsupported_media_type",
    "throttled": "throttled",
}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """The API's error document."""
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten_fields(detail: Any) -> dict[str, Any]:
    """DRF's ValidationError detail as {"field": ["message", ...]} (nested fields use dots)."""
    if isinstance(detail, list):
        return {"non_field_errors": [str(item) for item in detail]}
    fields: dict[str, Any] = {}
    for name, value in detail.items():
        if isinstance(value, dict):
            for inner, messages in _flatten_fields(value).items():
                fields[f"{name}.{inner}"] = messages
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for index, item in enumerate(value):
                for inner, messages in _flatten_fields(item).items():
                    fields[f"{name}.{index}.{inner}"] = messages
        else:
            fields[name] = [str(item) for item in (value if isinstance(value, list) else [value])]
    return fields


def _validation_message(fields: dict[str, Any]) -> str:
    names = [name for name in fields if name != "non_field_errors"]
    if not names:
        messages = fields.get("non_field_errors") or ["Invalid input."]
        return str(messages[0])
    first = names[0]
    return f"Invalid input: {first}: {fields[first][0]}"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler that renders every failure in the one error shape."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)

    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten_fields(exc.detail)
        body = error_body("validation_error", _validation_message(fields), fields)
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        body = error_body(CODE_OVERRIDES.get(code, code), str(exc.detail))
        if isinstance(exc, exceptions.ParseError):
            body["error"]["message"] = f"Malformed request body: {exc.detail}"
    response.data = body
    set_rollback()
    return response
