"""The API's JSON parser: DRF's, plus the refusals it leaves to the caller.

DRF's JSONParser turns only ValueError into a 400. Two bodies get past it and fail later as a 500:
one nested deeper than Python's recursion limit (a RecursionError while parsing, before
authentication has even looked at the token), and one whose strings carry a lone surrogate escape
such as "\\ud800", which json accepts but no UTF-8 encoder does, so the first error message that
quotes the string cannot be rendered. Both are refused here, once, for every view on the default
parser, including when authentication reads the body.
"""

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from adplatform.text import is_utf8

# No request body of this API nests beyond a handful of levels; the limit keeps everything downstream
# (serializers, the idempotency fingerprint, error rendering) far from the recursion limit.
MAX_NESTING_DEPTH = 64

TOO_DEEP = f"JSON parse error - the body nests arrays and objects more than {MAX_NESTING_DEPTH} levels deep."
NOT_UNICODE = (
    "JSON parse error - the body is not valid UTF-8: a string contains an unpaired surrogate escape (\\ud800 to \\udfff)."
)


class StrictJSONParser(JSONParser):
    """DRF's JSONParser that also refuses very deep nesting and strings that are not valid Unicode."""

    def parse(self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        _refuse_deep_or_non_unicode(data)
        return data


def _refuse_deep_or_non_unicode(data: Any) -> None:
    """Walk the parsed body without recursion, so a deep one cannot blow the stack here either."""
    pending: list[tuple[Any, int]] = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _require_unicode(value)
        elif isinstance(value, dict | list):
            if depth >= MAX_NESTING_DEPTH:
                raise ParseError(TOO_DEEP)
            if isinstance(value, dict):
                for key in value:
                    _require_unicode(key)
                pending.extend((item, depth + 1) for item in value.values())
            else:
                pending.extend((item, depth + 1) for item in value)


def _require_unicode(text: str) -> None:
    if not is_utf8(text):
        raise ParseError(NOT_UNICODE)
