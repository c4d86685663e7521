"""OpenAPI post-processing: document the error responses every operation can give."""

from typing import Any

ERROR_COMPONENT = {
    "type": "object",
    "description": "The one error shape of the API.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "example": "validation_error"},
                "message": {"type": "string", "example": "Invalid input: currency: XYZ is not an ISO 4217 currency code."},
                "fields": {
                    "type": "object",
                    "description": "Messages per field at fault (empty unless code is validation_error).",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
            "required": ["code", "message", "fields"],
        }
    },
    "required": ["error"],
}

DESCRIPTIONS = {
    "400": "Invalid input (`validation_error`, naming the fields) or a body that is not JSON (`malformed_request`).",
    "401": "No valid bearer token (`not_authenticated`).",
    "403": "The token lacks the scope (`insufficient_scope`) or the user's role is too weak (`permission_denied`).",
    "404": "No such object in your tenancy (`not_found`).",
    "409": "The Idempotency-Key was used with a different request (`idempotency_key_reused`).",
    "415": "The body is not `application/json` (`unsupported_media_type`).",
    "429": "Too many requests for this token (`throttled`); see Retry-After.",
}


def _codes(path: str, method: str) -> list[str]:
    codes = ["400", "401", "403"]
    if "{" in path:
        codes.append("404")
    if method == "post":
        codes.append("409")
    if method in {"post", "put", "patch"}:
        codes.append("415")
    codes.append("429")
    return codes


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular hook: an `Error` component and the 4xx answers of each operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_COMPONENT
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in _codes(path, method):
                answer: dict[str, Any] = {"description": DESCRIPTIONS[code], "content": reference}
                if code == "429":
                    answer["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
                responses.setdefault(code, answer)
    return result
