"""Fuzz the advertisers endpoints from their own OpenAPI schema: no 5xx, and responses that match the schema.

The schema is fetched from /api/schema/ through the project's WSGI app (no network) and every generated
request carries a real bearer token of an agency admin, so the fuzzer reaches the views behind
authentication and scopes. Schema-conforming (positive) and schema-violating (negative) inputs are both
sent: the first must be answered without a server error and in the documented shape, the second must be
refused with a 4xx, never a 5xx.

The cases come from `APIOperation.as_strategy()` inside the test rather than from
`schemathesis.pytest.from_fixture`: the lazy loader writes `Node._nodeid`, which pytest 9 no longer has.
"""

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import services
from accounts.models import Advertiser
from tests.conftest import ALL_SCOPES

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]
EXAMPLES_PER_RUN = 10
OPERATIONS = {
    ("GET", "/api/v1/advertisers/"),
    ("POST", "/api/v1/advertisers/"),
    ("GET", "/api/v1/advertisers/{id}/"),
    ("PATCH", "/api/v1/advertisers/{id}/"),
}


@pytest.fixture
def wsgi_app(db) -> Iterator[WSGIHandler]:
    """The project's WSGI app, kept on the test's database connection.

    A real WSGI request closes old database connections when it starts and ends, which would drop the
    test's transaction; Django's own test client suspends that the same way.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def run_fuzz(operation, *, headers: dict[str, str], mode: GenerationMode, **fixed: object) -> None:
    strategy = operation.as_strategy(generation_mode=mode, **fixed)

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES_PER_RUN,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        if mode is GenerationMode.NEGATIVE:
            assert response.status_code < 500

    fuzz()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_advertisers_endpoints_never_fail_and_answer_in_the_documented_shape(tenancy, wsgi_app, settings, mode):
    # given: the schema as the API serves it, and a real bearer token of an agency admin
    settings.API_THROTTLE_RATE = "100000/min"
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app).include(
        path_regex=r"^/api/v1/advertisers/(\{id\}/)?$"
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    _, raw = services.personal_token_create(user=tenancy.agent_a, name="fuzz", scopes=ALL_SCOPES)
    headers = {"Authorization": f"Bearer {raw}"}

    # then: every documented operation is fuzzed, and detail operations also on an advertiser that exists
    assert {(operation.method.upper(), operation.path) for operation in operations} == OPERATIONS
    for operation in operations:
        run_fuzz(operation, headers=headers, mode=mode)
        # (a GET of one fixed id has nothing left to make invalid, so negative mode skips it)
        if "{id}" in operation.path and (mode is GenerationMode.POSITIVE or operation.method.upper() != "GET"):
            run_fuzz(operation, headers=headers, mode=mode, path_parameters={"id": tenancy.client_a1.pk})
        if operation.method.upper() == "POST" and mode is GenerationMode.POSITIVE:
            run_fuzz(operation, headers=headers, mode=mode, body={"name": "Fuzzed", "currency": "EUR", "time_zone": "UTC"})

    # and the fuzzing never reached outside the caller's tenancy
    assert Advertiser.objects.get(pk=tenancy.client_b1.pk).name == "Client B1"
    assert Advertiser.objects.get(pk=tenancy.bakery.pk).name == "Bakery"
