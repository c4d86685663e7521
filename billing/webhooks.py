"""The payment provider's webhooks: signed event notifications that complete top-ups asynchronously."""

import logging

import stripe
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from adplatform import money
from adplatform.text import is_id

from . import services
from .gateways import ChargeResult
from .models import TopUp

logger = logging.getLogger(__name__)


def _top_up_for(intent: dict) -> TopUp | None:
    top_up_id = str((intent.get("metadata") or {}).get("adplatform_top_up") or "")
    if is_id(top_up_id):
        return TopUp.objects.filter(pk=int(top_up_id), gateway="stripe").first()
    return TopUp.objects.filter(gateway="stripe", gateway_reference=intent.get("id", "")).first()


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Verify Stripe's signature, then settle the top-up a payment_intent event is about (idempotently)."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        return JsonResponse(
            {"error": {"code": "not_configured", "message": "Stripe is not configured.", "fields": {}}}, status=404
        )
    try:
        event = stripe.Webhook.construct_event(
            request.body.decode("utf-8"), request.headers.get("Stripe-Signature", ""), settings.STRIPE_WEBHOOK_SECRET
        )
    except (ValueError, stripe.SignatureVerificationError) as exc:
        logger.warning("Refused a Stripe webhook: %s", exc)
        return JsonResponse(
            {"error": {"code": "invalid_signature", "message": "Bad signature or payload.", "fields": {}}}, status=400
        )
    intent = event["data"]["object"].to_dict()
    if event["type"] not in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        return JsonResponse({"received": True, "handled": False})
    top_up = _top_up_for(intent)
    if top_up is None:
        logger.warning("Stripe event %s names no known top-up", event["id"])
        return JsonResponse({"received": True, "handled": False})
    if event["type"] == "payment_intent.succeeded":
        expected = (money.to_minor_units(top_up.amount_micros, top_up.currency), top_up.currency.lower())
        if (intent.get("amount_received") or intent.get("amount"), intent.get("currency")) != expected:
            logger.error("Stripe event %s does not match top-up %s in amount or currency", event["id"], top_up.pk)
            return JsonResponse({"received": True, "handled": False})
        result = ChargeResult(True, intent["id"])
    else:
        error = intent.get("last_payment_error") or {}
        code = error.get("decline_code") or error.get("code") or "card_declined"
        result = ChargeResult(False, intent["id"], code, error.get("message", "The payment failed."), code == "expired_card")
    top_up = services.complete_top_up(top_up=top_up, result=result)
    return JsonResponse({"received": True, "handled": True, "top_up": top_up.pk, "status": top_up.status})
