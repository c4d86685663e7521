"""OAuth2 scopes on API views: a bearer token must carry the scope an operation needs."""

from typing import Any

from oauth2_provider.models import AbstractAccessToken
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


def scopes_needed(method: str, view: Any) -> list[str]:
    """Scopes of which a token needs any one: the view's `read_scopes` for reads, `write_scope` otherwise."""
    if method.upper() in SAFE_METHODS:
        return list(getattr(view, "read_scopes", ()))
    write_scope = getattr(view, "write_scope", None)
    return [write_scope] if write_scope else []


class HasScope(BasePermission):
    """Checks the scopes a view declares against the request's bearer token.

    Only bearer tokens are narrowed by scopes; a signed-in dashboard session acts with the
    user's roles alone. Roles are still checked by the services behind every write.
    """

    message = "This token lacks the scope this operation needs."
    code = "insufficient_scope"

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, AbstractAccessToken):
            return True
        needed = scopes_needed(request.method or "", view)
        if not needed or set(token.scope.split()).intersection(needed):
            return True
        self.message = f"This token lacks the scope this operation needs: {' or '.join(needed)}."
        return False
