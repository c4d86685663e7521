"""Fixtures shared by the whole suite: real PostgreSQL and Redis, API clients with real tokens."""

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Advertiser, Agency, Currency, Role, User
from accounts.reference import seed_currencies
from adplatform.redis_client import get_redis
from campaigns.models import BlockedTerm, Interest
from campaigns.reference import seed_blocked_terms, seed_interests
from tests.factories import AdvertiserFactory, AgencyFactory, AgencyMembershipFactory, MembershipFactory, UserFactory

# Django's live server runs beside Playwright's event loop in the same process.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ALL_SCOPES = ["campaigns:read", "campaigns:write", "reports:read", "billing:read", "billing:write"]


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    """Every test starts with this worker's Redis database empty (throttles, caches, hot state)."""
    get_redis().flushdb()
    return


@pytest.fixture(autouse=True)
def _reference_data(request: pytest.FixtureRequest) -> Iterator[None]:
    """Transactional tests flush every table after they run; give them back what migrations seed.

    The event store is not a Django-managed table, so the flush leaves it alone: empty it too.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction"))
    if transactional:
        request.getfixturevalue("transactional_db")
        seed_currencies(Currency)
        seed_interests(Interest)
        seed_blocked_terms(BlockedTerm)
    yield
    if transactional:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE delivery_event")


@pytest.fixture(autouse=True)
def _site_url(settings: pytest.FixtureRequest) -> None:
    settings.SITE_URL = "http://testserver"  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Drive Debian's Chromium: Playwright cannot download its own browser on these machines."""
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


def bearer(user: User, scopes: list[str] | None = None) -> APIClient:
    """An API client authenticated with a fresh personal access token of `user`."""
    _, raw = services.personal_token_create(user=user, name="test", scopes=scopes or ALL_SCOPES)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api_client_for() -> Callable[..., APIClient]:
    """api_client_for(user, scopes=[...]) -> APIClient with a bearer token."""
    return bearer


@dataclass
class Tenancy:
    """Two agencies and three advertisers, with one user per way of having access.

    - agency_a manages client_a1 and client_a2; agency_b manages client_b1.
    - bakery is a direct advertiser (no agency), owned by `owner`.
    """

    agency_a: Agency
    agency_b: Agency
    client_a1: Advertiser
    client_a2: Advertiser
    client_b1: Advertiser
    bakery: Advertiser
    agent_a: User  # admin of agency_a
    agent_b: User  # admin of agency_b
    owner: User  # admin of bakery
    analyst: User  # analyst of bakery
    stranger: User  # no access to anything


@pytest.fixture
def tenancy(db: None) -> Tenancy:
    agency_a, agency_b = AgencyFactory(name="Agency A"), AgencyFactory(name="Agency B")
    client_a1 = AdvertiserFactory(name="Client A1", agency=agency_a)
    client_a2 = AdvertiserFactory(name="Client A2", agency=agency_a, currency="USD", time_zone="America/New_York")
    client_b1 = AdvertiserFactory(name="Client B1", agency=agency_b)
    bakery = AdvertiserFactory(name="Bakery")
    agent_a = AgencyMembershipFactory(agency=agency_a, user__email="agent.a@example.com").user
    agent_b = AgencyMembershipFactory(agency=agency_b, user__email="agent.b@example.com").user
    owner = MembershipFactory(advertiser=bakery, user__email="owner@example.com").user
    analyst = MembershipFactory(advertiser=bakery, user__email="analyst@example.com", role=Role.ANALYST).user
    stranger = UserFactory(email="stranger@example.com")
    return Tenancy(agency_a, agency_b, client_a1, client_a2, client_b1, bakery, agent_a, agent_b, owner, analyst, stranger)
