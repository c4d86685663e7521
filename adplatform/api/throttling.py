"""Per-token request throttling on an atomic Redis counter (fixed one-window buckets)."""

import math
from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from adplatform import clock
from adplatform.redis_client import get_redis

if TYPE_CHECKING:
    from rest_framework.views import APIView

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'600/min' -> (600, 60)."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period.strip().lower()]


class TokenRateThrottle(BaseThrottle):
    """Limits requests per bearer token (per user for sessions, per address otherwise).

    Each client gets `API_THROTTLE_RATE` requests per window; the counter is one Redis INCR,
    so concurrent workers never lose a count. A refused request gets 429 with Retry-After.
    """

    def __init__(self) -> None:
        self._wait = 0.0

    def identity(self, request: Request) -> str:
        """The bucket this request counts against."""
        token = getattr(request, "auth", None)
        if token is not None and getattr(token, "pk", None) is not None:
            return f"token:{token.pk}"
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"addr:{self.get_ident(request)}"

    def allow_request(self, request: Request, view: "APIView") -> bool:
        limit, period = parse_rate(settings.API_THROTTLE_RATE)
        now = clock.now().timestamp()
        window = int(now // period)
        key = f"throttle:{self.identity(request)}:{period}:{window}"
        client = get_redis()
        pipe = client.pipeline()
        pipe.incr(key)
        pipe.expire(key, period + 1)
        count, _ = pipe.execute()
        if count <= limit:
            return True
        self._wait = (window + 1) * period - now
        return False

    def wait(self) -> float:
        """Seconds until the current window closes (DRF puts it in Retry-After)."""
        return float(math.ceil(self._wait))
