"""Hostile input every API write shares: bodies the JSON parser must refuse, and unusable Idempotency-Keys.

Each of these used to be a 500; each must be a 400 in the API's error shape that writes nothing.
"""

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import IdempotencyKey
from billing.models import TopUp, Transaction
from campaigns.models import Campaign
from tests.billing import test_api as billing_api

pytestmark = pytest.mark.django_db

charges = billing_api.charges  # the fixture: every charge the sandbox payment provider received

CAMPAIGNS = "/api/v1/campaigns/"
TOP_UPS = "/api/v1/top-ups/"
TOO_DEEP = "Malformed request body: JSON parse error - the body nests arrays and objects more than 64 levels deep."
NOT_UNICODE = (
    "Malformed request body: JSON parse error - the body is not valid UTF-8: "
    "a string contains an unpaired surrogate escape (\\ud800 to \\udfff)."
)


def error(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def header_refused(message: str) -> dict:
    return error("validation_error", f"Invalid input: Idempotency-Key: {message}", {"Idempotency-Key": [message]})


def db_state() -> dict[str, list[tuple]]:
    """Every row a refused campaign create or top-up could have written."""
    return {
        "campaigns": list(Campaign.objects.order_by("pk").values_list()),
        "top_ups": list(TopUp.objects.order_by("pk").values_list()),
        "transactions": list(Transaction.objects.order_by("pk").values_list()),
        "idempotency_keys": list(IdempotencyKey.objects.order_by("pk").values_list()),
    }


def campaign_body(advertiser_id: int, **changes: Any) -> dict:
    body = {
        "advertiser": advertiser_id,
        "name": "Spring bread",
        "objective": "traffic",
        "budget_mode": "daily",
        "budget": "50.00",
    }
    return body | changes


def top_up_body(advertiser_id: int) -> dict:
    return {"advertiser": advertiser_id, "amount": "100.00", "payment_method": "pm_card_visa"}


def nested(depth: int) -> str:
    """`depth` empty arrays, each inside the next: [[[...]]]."""
    return "[" * depth + "]" * depth


# --- Nesting ------------------------------------------------------------------------------------


@pytest.mark.parametrize("signed_in", [True, False], ids=["owner", "anonymous"])
def test_a_body_nested_past_the_recursion_limit_is_a_400(tenancy, api_client_for, signed_in):
    client = api_client_for(tenancy.owner) if signed_in else APIClient()
    before = db_state()

    response = client.post(CAMPAIGNS, "[" * 100_000, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == error("malformed_request", TOO_DEEP)
    assert db_state() == before


def test_a_deep_patch_is_a_400_and_changes_nothing(tenancy, api_client_for):
    url = f"/api/v1/advertisers/{tenancy.bakery.pk}/"

    response = api_client_for(tenancy.owner).patch(url, '{"name": ' + nested(5000) + "}", content_type="application/json")

    assert response.status_code == 400
    assert response.json() == error("malformed_request", TOO_DEEP)
    tenancy.bakery.refresh_from_db()
    assert tenancy.bakery.name == "Bakery"


def test_64_levels_reach_the_serializer_and_65_do_not(tenancy, api_client_for):
    client = api_client_for(tenancy.owner)
    before = db_state()

    # The body itself is one level, so `name` holds 63 and 64 levels of arrays.
    allowed = client.post(
        CAMPAIGNS, f'{{"advertiser": {tenancy.bakery.pk}, "name": {nested(63)}}}', content_type="application/json"
    )
    refused = client.post(
        CAMPAIGNS, f'{{"advertiser": {tenancy.bakery.pk}, "name": {nested(64)}}}', content_type="application/json"
    )

    assert allowed.status_code == 400
    assert allowed.json()["error"]["code"] == "validation_error"
    assert allowed.json()["error"]["fields"]["name"] == ["Not a valid string."]
    assert refused.status_code == 400
    assert refused.json() == error("malformed_request", TOO_DEEP)
    assert db_state() == before


# --- Unicode ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"advertiser": %(pk)d, "name": "x", "objective": "traffic", "\\ud800": 1}',
        '{"advertiser": %(pk)d, "name": "x", "objective": "\\ud800"}',
        '{"advertiser": %(pk)d, "name": "Spring \\udc00 bread", "objective": "traffic"}',
        '{"advertiser": %(pk)d, "name": "x", "objective": "traffic", "extra": [{"deep": ["\\ud83e"]}]}',
    ],
    ids=["unknown-field-name", "choice-value", "text-value", "nested-value"],
)
def test_a_lone_surrogate_anywhere_in_the_body_is_a_400_and_nothing_is_written(tenancy, api_client_for, body):
    before = db_state()

    response = api_client_for(tenancy.owner).post(
        CAMPAIGNS, body % {"pk": tenancy.bakery.pk}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert response.status_code == 400
    assert response.json() == error("malformed_request", NOT_UNICODE)
    assert db_state() == before


def test_non_ascii_text_round_trips_unescaped(tenancy, api_client_for):
    # Raw UTF-8 and a valid surrogate pair escape (\ud83e\udd50 in JSON is 🥐) are both ordinary Unicode.
    body = json.dumps(campaign_body(tenancy.bakery.pk, name="NAME")).replace("NAME", "Café ☕ \\ud83e\\udd50")

    response = api_client_for(tenancy.owner).post(CAMPAIGNS, body.encode(), content_type="application/json")

    assert response.status_code == 201
    assert response.json()["name"] == "Café ☕ 🥐"
    assert '"name":"Café ☕ 🥐"'.encode() in response.content
    assert Campaign.objects.get().name == "Café ☕ 🥐"


# --- Idempotency-Key ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("k\x00", "Use printable ASCII characters only."),
        ("k\x1b[0m", "Use printable ASCII characters only."),
        ("clé", "Use printable ASCII characters only."),
        ("k" * 256, "Send 1 to 255 characters."),
    ],
    ids=["nul", "control", "latin-1", "too-long"],
)
def test_an_unusable_key_on_a_campaign_create_is_a_400_naming_the_header(tenancy, api_client_for, key, message):
    before = db_state()

    response = api_client_for(tenancy.owner).post(CAMPAIGNS, campaign_body(tenancy.bakery.pk), HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert response.json() == header_refused(message)
    assert db_state() == before


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("k\x00", "Use printable ASCII characters only."),
        ("clé", "Use printable ASCII characters only."),
        ("k" * 201, "Send 1 to 200 characters."),
    ],
    ids=["nul", "latin-1", "too-long"],
)
def test_an_unusable_key_on_a_top_up_is_a_400_naming_the_header_and_nothing_is_charged(
    tenancy, api_client_for, charges, key, message
):
    before = db_state()

    response = api_client_for(tenancy.owner).post(TOP_UPS, top_up_body(tenancy.bakery.pk), HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert response.json() == header_refused(message)
    assert db_state() == before
    assert charges == []


def test_a_printable_key_with_spaces_and_punctuation_is_accepted(tenancy, api_client_for):
    key = " order 42: spring/bread ~v1 "

    response = api_client_for(tenancy.owner).post(CAMPAIGNS, campaign_body(tenancy.bakery.pk), HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 201
    assert IdempotencyKey.objects.get().key == "order 42: spring/bread ~v1"
