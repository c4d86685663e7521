"""Which advertiser the dashboard is showing, remembered in the session."""

from typing import cast

from django.http import HttpRequest
from rest_framework.request import Request

from .models import Advertiser, User
from .selectors import advertisers_for

SESSION_KEY = "current_advertiser_id"


def signed_in_user(request: HttpRequest | Request) -> User:
    """The user of a request that already passed login_required or IsAuthenticated."""
    return cast(User, request.user)


def current_advertiser(request: HttpRequest) -> Advertiser | None:
    """The advertiser chosen in this session, or the user's first one; always inside their tenancy."""
    if not request.user.is_authenticated:
        return None
    if hasattr(request, "_current_advertiser"):
        return request._current_advertiser  # type: ignore[attr-defined]
    visible = advertisers_for(signed_in_user(request)).select_related("agency")
    chosen = request.session.get(SESSION_KEY)
    advertiser = visible.filter(pk=chosen).first() if chosen else None
    if advertiser is None:
        advertiser = visible.order_by("name", "id").first()
    request._current_advertiser = advertiser  # type: ignore[attr-defined]
    return advertiser


def remember_advertiser(request: HttpRequest, advertiser: Advertiser) -> None:
    """Show `advertiser` from now on in this session."""
    request.session[SESSION_KEY] = advertiser.pk
    request._current_advertiser = advertiser  # type: ignore[attr-defined]
