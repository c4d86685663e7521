"""Template context every dashboard page needs: the current account and the account switcher."""

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors import advertisers_for, role_for
from .session import current_advertiser, signed_in_user

SWITCHER_LIMIT = 20


def current_account(request: HttpRequest) -> dict[str, Any]:
    """`current_advertiser`, the user's `current_role` on it and up to 20 `switchable_advertisers`."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}

    def role() -> str | None:
        advertiser = current_advertiser(request)
        return role_for(user=signed_in_user(request), advertiser=advertiser) if advertiser else None

    def switchable() -> list[Any]:
        visible = advertisers_for(signed_in_user(request)).select_related("agency").order_by("name", "id")
        return list(visible[: SWITCHER_LIMIT + 1])

    return {
        "current_advertiser": SimpleLazyObject(lambda: current_advertiser(request)),
        "current_role": SimpleLazyObject(role),
        "switchable_advertisers": SimpleLazyObject(switchable),
        "switcher_limit": SWITCHER_LIMIT,
    }
