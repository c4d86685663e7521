"""HTTP endpoints of the delivery path: the decision API, tracking links and conversions.

No session, no CSRF, no SQL: authenticated by placement key, link signature or pixel key.
"""

import hashlib
import json
import random
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from adplatform import clock
from adplatform.redis_client import get_redis

from . import decision, links, tracking
from .charging import Charger
from .index import holder

_rng = random.Random()  # noqa: S311 - auction sampling, not security
_gate = decision.PacingGate()  # this process's pacing gate: throttled ad groups enter evenly spaced auctions
_charger: Charger | None = None


def _charger_for() -> Charger:
    global _charger
    client = get_redis()
    if _charger is None or _charger.client is not client:
        _charger = Charger(client)
    return _charger


def _error(status: int, code: str, message: str, field: str | None = None) -> JsonResponse:
    """The API's one error shape; a field error reads "Invalid input: <field>: <message>"."""
    fields = {field: [message]} if field is not None else {}
    text = f"Invalid input: {field}: {message}" if field is not None and code == "validation_error" else message
    return JsonResponse({"error": {"code": code, "message": text, "fields": fields}}, status=status)


def _json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return ValueError


@csrf_exempt
@require_POST
def decision_view(request: HttpRequest) -> HttpResponse:
    """POST /serve/v1/decision: the winning ads for one request, or 204 when none is eligible."""
    body = _json_body(request)
    if body is ValueError:
        return _error(400, "malformed_request", "The body is not valid JSON.", "body")
    try:
        ad_request = decision.parse_request(body)
    except decision.RequestError as exc:
        return _error(400, "validation_error", str(exc), exc.field)
    snapshot, live = holder.current()
    if snapshot is None:
        return HttpResponse(status=204)
    try:
        decision.placement_for(snapshot, request.META.get("HTTP_X_PLACEMENT_KEY", ""), ad_request.placement)
    except decision.Unauthorized:
        return _error(401, "not_authenticated", "Send the placement's serving key in X-Placement-Key.")
    holder.count_request(ad_request.placement)
    moment = clock.now()
    client = get_redis()
    result = decision.decide(snapshot, live, ad_request, client, moment=moment, rng=_rng, gate=_gate)
    if not result.winners:
        return HttpResponse(status=204)
    base_url = f"{request.scheme}://{request.get_host()}"
    return JsonResponse(decision.render(result, ad_request, client, base_url=base_url, moment=moment))


def _verified(request: HttpRequest, kind: str) -> tuple[links.Served | None, str]:
    payload, signature = request.GET.get("d", ""), request.GET.get("s", "")
    moment = clock.now()
    try:
        return links.verify(payload, signature, kind, now=moment.timestamp()), ""
    except links.BadLink as exc:
        if exc.served is not None:  # expired: recorded as invalid, never charged
            return exc.served, exc.reason
        tracking.record_bad_link(get_redis(), kind, payload, exc.reason, moment=moment)
        return None, exc.reason


@csrf_exempt
@require_GET
def impression_view(request: HttpRequest) -> HttpResponse:
    """GET /t/v1/i: count an impression once; charge it when impressions are what is billed."""
    served, reason = _verified(request, "i")
    if served is not None:
        invalid = reason or ("bot" if tracking.is_bot(request.META.get("HTTP_USER_AGENT", "")) else "")
        snapshot, _ = holder.current()
        tracking.record(
            _charger_for(), "i", served, tracking.context_for(snapshot, served), moment=clock.now(), invalid_reason=invalid
        )
    return HttpResponse(status=204)


@csrf_exempt
@require_GET
def click_view(request: HttpRequest) -> HttpResponse:
    """GET /t/v1/c: count a click once (after its impression), charge it when clicks are billed, go to the landing page."""
    served, reason = _verified(request, "c")
    if served is None:
        return HttpResponse("This link is not valid.", status=404, content_type="text/plain")
    moment = clock.now()
    invalid = reason or ("bot" if tracking.is_bot(request.META.get("HTTP_USER_AGENT", "")) else "")
    snapshot, _ = holder.current()
    outcome = tracking.record(
        _charger_for(), "c", served, tracking.context_for(snapshot, served), moment=moment, invalid_reason=invalid
    )
    destination = served.landing_url
    if outcome.status != "invalid":
        destination = tracking.landing_with_click_id(
            served.landing_url, tracking.remember_click(get_redis(), served, moment=moment)
        )
    response = HttpResponseRedirect(destination)
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_POST
def conversion_view(request: HttpRequest) -> HttpResponse:
    """POST /t/v1/conversions: a conversion reported with the advertiser's pixel key, deduplicated by event_id."""
    key = request.headers.get("X-Pixel-Key", "")
    snapshot, _ = holder.current()
    advertiser_id = snapshot.pixel_hashes.get(hashlib.sha256(key.encode()).hexdigest()) if snapshot and key else None
    if advertiser_id is None:
        return _error(401, "not_authenticated", "Send your pixel key in X-Pixel-Key.")
    body = _json_body(request)
    if body is ValueError:
        return _error(400, "malformed_request", "The body is not valid JSON.", "body")
    try:
        conversion = tracking.parse_conversion(body, currencies=snapshot.currencies if snapshot else frozenset())
    except tracking.ConversionError as exc:
        return _error(400, "validation_error", str(exc), exc.field)
    status = tracking.record_conversion(get_redis(), advertiser_id, conversion, moment=clock.now())
    return JsonResponse(
        {"status": "attributed" if status == "valid" else status if status != "invalid" else "recorded"}, status=202
    )
