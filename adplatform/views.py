"""Project-level views: the health check and error pages that speak JSON under /api/."""

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from redis import Redis
from redis.exceptions import RedisError

from adplatform.api.errors import error_body
from adplatform.redis_client import get_redis


def check_postgres(db: BaseDatabaseWrapper) -> str:
    """'ok', or the reason PostgreSQL did not answer."""
    try:
        with db.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "down"; the reason goes into the answer
        return f"error: {exc.__class__.__name__}"
    return "ok"


def check_redis(client: Redis) -> str:
    """'ok', or the reason Redis did not answer."""
    try:
        client.ping()
    except (RedisError, OSError) as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when PostgreSQL and Redis both answer, else 503; the body says which is down."""
    checks = {"postgres": check_postgres(connection), "redis": check_redis(get_redis())}
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503)


def healthz_lite(request: HttpRequest) -> HttpResponse:
    """No I/O at all: the framework's own ceiling, measured beside the decision API in bench/."""
    return HttpResponse(b"ok", content_type="text/plain")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """JSON for /api/ paths, the site's page elsewhere."""
    if _is_api(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """JSON for /api/ paths (details go to the logs), the site's page elsewhere."""
    if _is_api(request):
        return JsonResponse(error_body("server_error", "Internal server error."), status=500)
    return defaults.server_error(request)
