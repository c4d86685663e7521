"""Latency of the advertisers API in-process (Django test client, real PostgreSQL and Redis).

    DJANGO_SETTINGS_MODULE=adplatform.settings.test TEST_LANE=4 .venv/bin/python -m bench.api_latency

Builds a throwaway test database, an agency with 200 client advertisers and a bearer token, then
times list, detail, create (with Idempotency-Key) and update requests. Prints percentiles in ms.
"""

import os
import statistics
import time
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adplatform.settings.test")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
CLIENTS = 200


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return f"p50 {statistics.median(ordered):6.2f}  p95 {pick(0.95):6.2f}  p99 {pick(0.99):6.2f}  max {ordered[-1]:6.2f} ms"


def timed(call) -> float:
    start = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code >= 400:
        raise SystemExit(f"unexpected {response.status_code}: {response.content[:200]!r}")
    return elapsed


def main() -> None:
    from accounts import services
    from accounts.models import Advertiser

    settings.API_THROTTLE_RATE = "1000000/min"
    agency, user, _ = services.agency_create(name="Bench Agency", owner_email="bench@example.com")
    Advertiser.objects.bulk_create(
        Advertiser(name=f"Client {n:03d}", currency="EUR", time_zone="Europe/Berlin", agency=agency) for n in range(CLIENTS)
    )
    _, token = services.personal_token_create(user=user, name="bench", scopes=["campaigns:read", "campaigns:write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    first = Advertiser.objects.filter(agency=agency).order_by("id")[0]

    for _ in range(20):  # warm up connections and caches
        client.get("/api/v1/advertisers/")

    cases = {
        "GET  /advertisers/ (50 of 200)": lambda: client.get("/api/v1/advertisers/"),
        "GET  /advertisers/{id}/": lambda: client.get(f"/api/v1/advertisers/{first.pk}/"),
        "POST /advertisers/ + Idempotency-Key": lambda: client.post(
            "/api/v1/advertisers/",
            {"name": "New", "currency": "EUR", "time_zone": "Europe/Berlin"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        ),
        "PATCH /advertisers/{id}/": lambda: client.patch(f"/api/v1/advertisers/{first.pk}/", {"name": "Renamed"}, format="json"),
    }
    print(f"{REQUESTS} requests each, in-process, PostgreSQL {connection.pg_version // 10000}")  # type: ignore[attr-defined]  # the backend's, not in the stubs
    for name, call in cases.items():
        samples = [timed(call) for _ in range(REQUESTS)]
        print(f"  {name:<40} {percentiles(samples)}")


if __name__ == "__main__":
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        main()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
