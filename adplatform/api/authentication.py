"""Bearer-token authentication for the API."""

from typing import Any

from drf_spectacular.contrib.django_oauth_toolkit import DjangoOAuthToolkitScheme
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework import exceptions
from rest_framework.request import Request

from .permissions import scopes_needed


class BearerTokenAuthentication(OAuth2Authentication):
    """django-oauth-toolkit's bearer tokens, refused once their user is deactivated."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is not None and not result[0].is_active:
            raise exceptions.AuthenticationFailed("This account is deactivated.")
        return result


class BearerTokenScheme(DjangoOAuthToolkitScheme):
    """Describes BearerTokenAuthentication in the OpenAPI document, with the scopes `HasScope` checks."""

    target_class = "adplatform.api.authentication.BearerTokenAuthentication"

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[str]]]:
        needed = scopes_needed(auto_schema.method, auto_schema.view)
        return [{self.name: [scope]} for scope in needed] or [{self.name: []}]
