"""OAuth2 scopes on API views: a bearer token must carry the scope an operation needs."""

from oauth2_provider.models import AbstractAccessToken
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class HasScope(BasePermission):
    """Checks `view.read_scopes` (any one suffices) for safe methods, `view.write_scope` otherwise.

    Only bearer tokens are narrowed by scopes; a signed-in dashboard session acts with the
    user's roles alone. Roles are still checked by the services behind every write.
    """

    message = "This token lacks the scope this operation needs."
    code = "insufficient_scope"

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = request.auth
        if not isinstance(token, AbstractAccessToken):
            return True
        if request.method in SAFE_METHODS:
            needed = list(getattr(view, "read_scopes", ()))
        else:
            write_scope = getattr(view, "write_scope", None)
            needed = [write_scope] if write_scope else []
        if not needed:
            return True
        granted = set(token.scope.split())
        if granted.intersection(needed):
            return True
        self.message = f"This token lacks the scope this operation needs: {' or '.join(needed)}."
        return False
