"""`Idempotency-Key` on creates: a retried request gets the first response, never a second object.

Same key and same body -> the stored response is replayed (with `Idempotent-Replayed: true`).
Same key, different body -> 409. Keys belong to the authenticated user and are kept for
`IDEMPOTENCY_KEY_TTL_HOURS`. Only successful responses are stored: a request refused by
validation writes nothing, so the client may fix it and retry with the same key.

The key row is inserted in the same transaction as the create itself. A concurrent retry
blocks on the unique index until the first request commits, then replays its response; if
the first rolls back, the retry runs as if it were first.
"""

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import IdempotencyKey
from accounts.session import signed_in_user

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyConflict(exceptions.APIException):
    """The key was already used with a different request."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was already used with a different request."


def _fingerprint(request: Request) -> str:
    canonical = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()


def _replay(record: IdempotencyKey, fingerprint: str) -> HttpResponse:
    if record.fingerprint != fingerprint:
        raise IdempotencyConflict()
    replay = HttpResponse(record.response_body, status=record.response_status, content_type="application/json")
    replay["Idempotent-Replayed"] = "true"
    if record.location:
        replay["Location"] = record.location
    return replay


def idempotency_key(request: Request, *, max_length: int = MAX_KEY_LENGTH) -> str | None:
    """The request's Idempotency-Key, stripped, or None without the header; a 400 naming it when unusable.

    Only printable ASCII is accepted: a header is read as Latin-1, so anything else is either a
    control character (NUL cannot be stored in PostgreSQL at all) or bytes of an unknown encoding.
    """
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > max_length:
        raise exceptions.ValidationError({HEADER: [f"Send 1 to {max_length} characters."]})
    if not all(" " <= char <= "~" for char in key):
        raise exceptions.ValidationError({HEADER: ["Use printable ASCII characters only."]})
    return key


def idempotent(request: Request, handler: Callable[[], Response]) -> HttpResponse:
    """Run `handler` once per (user, Idempotency-Key); without the header, just run it."""
    key = idempotency_key(request)
    if key is None:
        return handler()
    fingerprint = _fingerprint(request)
    user = signed_in_user(request)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    user=user, key=key, fingerprint=fingerprint, method=request.method or "", path=request.path
                )
        except IntegrityError:
            return _replay(IdempotencyKey.objects.get(user=user, key=key), fingerprint)
        response = handler()
        if not status.is_success(response.status_code):
            transaction.set_rollback(True)
            return response
        record.response_status = response.status_code
        record.response_body = JSONRenderer().render(response.data).decode()
        record.location = response.headers.get("Location", "")
        record.save(update_fields=["response_status", "response_body", "location"])
        return response
