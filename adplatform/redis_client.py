"""One Redis connection pool per URL for the whole process."""

from functools import cache

import redis
from django.conf import settings


@cache
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2, health_check_interval=30)


def get_redis() -> redis.Redis:
    """The Redis client for `settings.REDIS_URL` (hot delivery state, throttles, sketches)."""
    return _client_for(settings.REDIS_URL)
