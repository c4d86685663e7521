"""Dashboard pages for delivery: conversion tracking (the current advertiser's pixels and how to use them).

Thin: pixels are read through delivery.selectors (outside the user's tenancy: 404), each write is
one delivery.services call, and the services decide who may write (admins) — a refusal shows on
the page with nothing written. A new pixel key is shown once, on the page the POST redirects to.
"""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.forms import apply_service_errors
from accounts.models import Advertiser
from accounts.session import current_advertiser, signed_in_user

from . import selectors, services
from .forms import PixelForm
from .tracking import ATTRIBUTION_SECONDS, CLICK_ID_PARAMETER

NEW_PIXEL_SESSION_KEY = "new_conversion_pixel"


def _page(request: HttpRequest, advertiser: Advertiser, form: PixelForm, *, status: int = 200, error: str = "") -> HttpResponse:
    new_pixel = request.session.pop(NEW_PIXEL_SESSION_KEY, None)
    if new_pixel is not None and new_pixel.get("advertiser") != advertiser.pk:
        new_pixel = None  # made for another account: never shown here
    context = {
        "advertiser": advertiser,
        "form": form,
        "error": error,
        "pixels": selectors.pixels_for(signed_in_user(request)).filter(advertiser=advertiser),
        "new_pixel": new_pixel,
        "endpoint": settings.SITE_URL.rstrip("/") + reverse("track_conversion"),
        "click_id_parameter": CLICK_ID_PARAMETER,
        "attribution_days": ATTRIBUTION_SECONDS // 86_400,
    }
    with timezone.override(ZoneInfo(advertiser.time_zone)):
        return render(request, "delivery/conversions.html", context, status=status)


@login_required
def conversions(request: HttpRequest) -> HttpResponse:
    """The current advertiser's conversion pixels, a form for a new one, and how to report conversions."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return redirect("advertiser_new")
    form = PixelForm(request.POST if request.method == "POST" else None)
    if not form.is_bound:
        return _page(request, advertiser, form)
    if not form.is_valid():
        return _page(request, advertiser, form, status=400)
    try:
        pixel, raw = services.pixel_create(actor=signed_in_user(request), advertiser=advertiser, **form.cleaned_data)
    except PermissionDenied as refusal:
        return _page(request, advertiser, form, status=403, error=str(refusal))
    except ValidationError as error:
        apply_service_errors(form, error)
        return _page(request, advertiser, form, status=400)
    request.session[NEW_PIXEL_SESSION_KEY] = {"advertiser": advertiser.pk, "name": pixel.name, "key": raw}
    return redirect("conversions:list")


@login_required
@require_POST
def pixel_deactivate(request: HttpRequest, pixel_id: int) -> HttpResponse:
    """Stop accepting conversions sent with a pixel's key."""
    user = signed_in_user(request)
    pixel = selectors.pixel_get_for_user(user=user, pixel_id=pixel_id)
    try:
        services.pixel_deactivate(actor=user, pixel=pixel)
    except PermissionDenied as refusal:
        return _page(request, pixel.advertiser, PixelForm(), status=403, error=str(refusal))
    messages.success(request, f"Pixel “{pixel.name}” deactivated: conversions sent with its key are refused from now on.")
    return redirect("conversions:list")
