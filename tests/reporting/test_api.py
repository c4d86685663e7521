"""/api/v1/reports/ and /api/v1/report-jobs/ end to end: events in the event store, rolled up, read back.

The bakery (Europe/Berlin, EUR) ran two campaigns on 1 and 2 June 2025; every figure below is worked
out by hand from the events put in, to the micro. Every endpoint is tried by an anonymous caller,
another tenant, a token without `reports:read`, an analyst and the owner.
"""

import csv
import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import services as account_services
from accounts.models import IdempotencyKey
from adplatform import clock
from campaigns.models import Ad, AdGroup, Campaign
from delivery import services as delivery_services
from reporting import services
from reporting.models import ReportJob
from tests.conftest import bearer
from tests.factories import AdFactory, AdGroupFactory, CampaignFactory

pytestmark = pytest.mark.django_db

REPORTS = "/api/v1/reports/"
JOBS = "/api/v1/report-jobs/"
ALL_METRICS = "impressions,clicks,ctr,spend,cpm,cpc,conversions,cpa,conversion_value,roas"
JUNE = {"start_date": "2025-06-01", "end_date": "2025-06-02"}
NOW = datetime(2025, 6, 3, 9, 0, tzinfo=UTC)  # 11:00 on 3 June in Berlin
SCHEMA_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]
UNKNOWN_VIEWS = (
    "Unknown metric 'views'; choose from requests_won, impressions, clicks, conversions, conversion_value, "
    "spend, invalid_events, ctr, cpm, cpc, cpa, roas, reach, frequency."
)
REACH_ONLY_PER_AD_GROUP = (
    "Reach and frequency are counted per ad group and day: ask for them at campaign or ad_group level, "
    "by date at most, without ad or country filters."
)
NOT_FOUND = {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}
NOT_AUTHENTICATED = {
    "error": {"code": "not_authenticated", "message": "Authentication credentials were not provided.", "fields": {}}
}
NO_SCOPE = {
    "error": {
        "code": "insufficient_scope",
        "message": "This token lacks the scope this operation needs: reports:read.",
        "fields": {},
    }
}


def invalid(parameter: str, message: str) -> dict:
    return {
        "error": {
            "code": "validation_error",
            "message": f"Invalid input: {parameter}: {message}",
            "fields": {parameter: [message]},
        }
    }


def event(
    ad: Ad,
    kind: str,
    at: datetime,
    *,
    cost: int = 0,
    value: int = 0,
    user: str = "",
    country: str = "DE",
    device: str = "mobile",
    placement: str = "feed",
    status: str = "valid",
) -> list[str]:
    """One event-store row (delivery.services.COLUMNS)."""
    group = ad.ad_group
    return [
        at.isoformat(), str(uuid.uuid4()), kind, status, "", str(uuid.uuid4()), str(ad.pk), str(group.pk),
        str(group.campaign_id), str(group.campaign.advertiser_id), placement, country, device, user, "impression",
        "1500", str(cost), str(value), "", "",
    ]  # fmt: skip


def times(count: int, ad: Ad, kind: str, at: datetime, **options: Any) -> list[list[str]]:
    users = options.pop("users", [""] * count)
    return [event(ad, kind, at, user=user, **options) for user in users]


@dataclass
class Bakery:
    """Bread (Rye: Sourdough, Baguette) and Cakes (Tarts: Cheesecake), with their events rolled up."""

    bread: Campaign
    cakes: Campaign
    rye: AdGroup
    tarts: AdGroup
    sourdough: Ad
    baguette: Ad
    cheesecake: Ad


@pytest.fixture
def bakery(tenancy) -> Bakery:
    owner = tenancy.bakery
    bread = CampaignFactory(advertiser=owner, name="Bread")
    cakes = CampaignFactory(advertiser=owner, name="Cakes")
    rye = AdGroupFactory(campaign=bread, name="Rye")
    tarts = AdGroupFactory(campaign=cakes, name="Tarts")
    sourdough = AdFactory(ad_group=rye, headline="Sourdough")
    baguette = AdFactory(ad_group=rye, headline="Baguette")
    cheesecake = AdFactory(ad_group=tarts, headline="Cheesecake")
    june_1_morning = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)  # 10:00 on 1 June in Berlin
    june_1_late = datetime(2025, 6, 1, 22, 30, tzinfo=UTC)  # 00:30 on 2 June in Berlin
    june_2_noon = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)  # 14:00 on 2 June in Berlin
    june_1_nine = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)  # 11:00 on 1 June in Berlin
    rows = [
        # Sourdough: 3 impressions at 0.0015, a click and a 12.34 conversion on 1 June (DE, mobile) ...
        *times(3, sourdough, "impression", june_1_morning, cost=1_500, users=["u1", "u2", "u3"]),
        event(sourdough, "click", june_1_morning, user="u1"),
        event(sourdough, "conversion", june_1_morning, user="u1", value=12_340_000),
        # ... and 2 impressions just after midnight on 2 June (FR, desktop)
        *times(2, sourdough, "impression", june_1_late, cost=1_500, users=["u1", "u4"], country="FR", device="desktop"),
        # Baguette: 5 impressions at 0.002001 and 2 clicks in search on 1 June, and a bot's impression
        *times(5, baguette, "impression", june_1_nine, cost=2_001, users=["u5", "u6", "u7", "u8", "u9"], placement="search"),
        *times(2, baguette, "click", june_1_nine, users=["u5", "u6"], placement="search"),
        event(baguette, "impression", june_1_nine, user="bot", placement="search", status="invalid"),
        # Cheesecake: one impression at 1.00 and a click on 2 June, seen by u1 again
        event(cheesecake, "impression", june_2_noon, cost=1_000_000, user="u1"),
        event(cheesecake, "click", june_2_noon, user="u1"),
    ]
    delivery_services.store_rows(rows)
    with clock.frozen(NOW):
        services.rollup()
    return Bakery(bread, cakes, rye, tarts, sourdough, baguette, cheesecake)


@pytest.fixture
def api_client_for() -> Callable[..., APIClient]:
    """Bearer tokens made at the real time: the reports' clock stands still in June 2025, token expiry does not."""

    def make(user: Any, scopes: list[str] | None = None) -> APIClient:
        with clock.frozen(datetime.now(UTC)):
            return bearer(user, scopes)

    return make


@pytest.fixture
def owner_api(tenancy, api_client_for) -> APIClient:
    return api_client_for(tenancy.owner)


@pytest.fixture(autouse=True)
def _now():
    with clock.frozen(NOW):
        yield


def report(client: APIClient, advertiser: Any, **parameters: Any):
    return client.get(REPORTS, {"advertiser": getattr(advertiser, "pk", advertiser), **parameters})


def raw_totals(advertiser_id: int) -> tuple[int, int]:
    """Valid impressions and charged cost straight from the event store."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE kind = 'impression' AND status <> 'invalid'), sum(cost_micros) "
            "FROM delivery_event WHERE advertiser_id = %s",
            [advertiser_id],
        )
        impressions, cost = cursor.fetchone()
    return int(impressions), int(cost)


# --- the numbers ----------------------------------------------------------------------------------


def test_a_campaign_report_adds_up_the_events_to_the_micro(tenancy, bakery, owner_api):
    response = report(owner_api, tenancy.bakery, level="campaign", metrics=ALL_METRICS, **JUNE)

    assert response.status_code == 200
    assert response.json() == {
        "advertiser": tenancy.bakery.pk,
        "currency": "EUR",
        "time_zone": "Europe/Berlin",
        "start_date": "2025-06-01",
        "end_date": "2025-06-02",
        "level": "campaign",
        "dimensions": [],
        "metrics": ALL_METRICS.split(","),
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {
                "campaign_id": bakery.bread.pk,
                "campaign_name": "Bread",
                "impressions": 10,
                "clicks": 3,
                "ctr": 0.3,
                "spend": "0.017505",
                "cpm": "1.7505",
                "cpc": "0.005835",
                "conversions": 1,
                "cpa": "0.017505",
                "conversion_value": "12.34",
                "roas": 704.9414,
            },
            {
                "campaign_id": bakery.cakes.pk,
                "campaign_name": "Cakes",
                "impressions": 1,
                "clicks": 1,
                "ctr": 1.0,
                "spend": "1.00",
                "cpm": "1000.00",
                "cpc": "1.00",
                "conversions": 0,
                "cpa": None,
                "conversion_value": "0.00",
                "roas": 0.0,
            },
        ],
        "totals": {
            "impressions": 11,
            "clicks": 4,
            "ctr": 0.363636,
            "spend": "1.017505",
            "cpm": "92.500455",
            "cpc": "0.254376",
            "conversions": 1,
            "cpa": "1.017505",
            "conversion_value": "12.34",
            "roas": 12.1277,
        },
    }
    # and the totals are the event store's own counts
    assert raw_totals(tenancy.bakery.pk) == (11, 1_017_505)


def test_rows_are_dated_in_the_advertisers_time_zone(tenancy, bakery, owner_api):
    # 22:30 UTC on 1 June is 00:30 on 2 June in Berlin
    response = report(
        owner_api, tenancy.bakery, level="ad", dimensions="date", metrics="impressions,spend,invalid_events", **JUNE
    )

    assert response.status_code == 200
    assert [
        (row["ad_id"], row["ad_name"], row["campaign_id"], row["ad_group_id"], row["date"], row["impressions"], row["spend"])
        for row in response.json()["results"]
    ] == [
        (bakery.baguette.pk, "Baguette", bakery.bread.pk, bakery.rye.pk, "2025-06-01", 5, "0.010005"),
        (bakery.cheesecake.pk, "Cheesecake", bakery.cakes.pk, bakery.tarts.pk, "2025-06-02", 1, "1.00"),
        (bakery.sourdough.pk, "Sourdough", bakery.bread.pk, bakery.rye.pk, "2025-06-01", 3, "0.0045"),
        (bakery.sourdough.pk, "Sourdough", bakery.bread.pk, bakery.rye.pk, "2025-06-02", 2, "0.003"),
    ]
    assert [row["invalid_events"] for row in response.json()["results"]] == [1, 0, 0, 0]
    assert response.json()["totals"] == {"impressions": 11, "spend": "1.017505", "invalid_events": 1}


def test_a_report_for_one_local_day_leaves_out_the_evening_before_midnight(tenancy, bakery, owner_api):
    response = report(owner_api, tenancy.bakery, metrics="impressions", start_date="2025-06-02", end_date="2025-06-02")

    assert response.json()["totals"] == {"impressions": 3}  # Sourdough's 2 after midnight and Cheesecake's 1
    assert [row["impressions"] for row in response.json()["results"]] == [2, 1]


def test_hours_countries_devices_and_placements_break_the_numbers_down(tenancy, bakery, owner_api):
    response = report(
        owner_api,
        tenancy.bakery,
        level="ad_group",
        dimensions="date,hour,country,device,placement",
        metrics="impressions,clicks,spend",
        campaign=str(bakery.bread.pk),
        **JUNE,
    )

    assert response.status_code == 200
    rows = [
        {key: value for key, value in row.items() if key not in {"ad_group_id", "ad_group_name", "campaign_id"}}
        for row in response.json()["results"]
    ]
    assert rows == [
        {"date": "2025-06-01", "hour": 10, "country": "DE", "device": "mobile", "placement": "feed", "impressions": 3,
         "clicks": 1, "spend": "0.0045"},
        {"date": "2025-06-01", "hour": 11, "country": "DE", "device": "mobile", "placement": "search", "impressions": 5,
         "clicks": 2, "spend": "0.010005"},
        {"date": "2025-06-02", "hour": 0, "country": "FR", "device": "desktop", "placement": "feed", "impressions": 2,
         "clicks": 0, "spend": "0.003"},
    ]  # fmt: skip
    assert response.json()["totals"] == {"impressions": 10, "clicks": 3, "spend": "0.017505"}


def test_reach_counts_each_person_once_across_days_and_ad_groups(tenancy, bakery, owner_api):
    by_day = report(owner_api, tenancy.bakery, level="ad_group", dimensions="date", metrics="impressions,reach,frequency", **JUNE)
    whole_range = report(owner_api, tenancy.bakery, level="campaign", metrics="impressions,reach,frequency", **JUNE)

    assert by_day.status_code == whole_range.status_code == 200
    assert [(row["ad_group_name"], row["date"], row["reach"], row["frequency"]) for row in by_day.json()["results"]] == [
        ("Rye", "2025-06-01", 8, 1.0),
        ("Rye", "2025-06-02", 2, 1.0),
        ("Tarts", "2025-06-02", 1, 1.0),
    ]
    # u1 saw Rye on both days and Tarts too: 9 people in all (the bot is not a person)
    assert [(row["campaign_name"], row["reach"], row["frequency"]) for row in whole_range.json()["results"]] == [
        ("Bread", 9, 1.11),
        ("Cakes", 1, 1.0),
    ]
    assert whole_range.json()["totals"] == {"impressions": 11, "reach": 9, "frequency": 1.22}


def test_a_range_without_events_is_an_empty_report_with_zero_totals(tenancy, bakery, owner_api):
    response = report(
        owner_api, tenancy.bakery, metrics="impressions,spend,ctr,cpm", start_date="2025-05-01", end_date="2025-05-31"
    )

    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert response.json()["results"] == []
    assert response.json()["totals"] == {"impressions": 0, "spend": "0.00", "ctr": None, "cpm": None}


def test_the_default_range_is_the_last_seven_days_up_to_the_advertisers_today(tenancy, bakery, owner_api):
    response = report(owner_api, tenancy.bakery)

    assert response.status_code == 200
    body = response.json()
    assert (body["start_date"], body["end_date"]) == ("2025-05-28", "2025-06-03")
    assert body["level"] == "campaign"
    assert body["metrics"] == ["impressions", "clicks", "ctr", "spend", "cpm", "cpc", "conversions", "cpa"]
    assert body["totals"]["impressions"] == 11


def test_the_report_is_in_the_advertisers_currency(tenancy, api_client_for):
    # client_a2 is in USD and New York; agent_a manages it
    ad = AdFactory(ad_group=AdGroupFactory(campaign=CampaignFactory(advertiser=tenancy.client_a2, name="Hats")))
    delivery_services.store_rows([event(ad, "impression", datetime(2025, 6, 2, 3, 0, tzinfo=UTC), cost=2_500_000)])
    services.rollup()

    response = report(api_client_for(tenancy.agent_a), tenancy.client_a2, metrics="impressions,spend", **JUNE)

    assert response.status_code == 200
    body = response.json()
    assert (body["currency"], body["time_zone"]) == ("USD", "America/New_York")
    # 03:00 UTC on 2 June is 23:00 on 1 June in New York
    assert (
        report(api_client_for(tenancy.agent_a), tenancy.client_a2, dimensions="date", metrics="spend", **JUNE).json()["results"][
            0
        ]["date"]
        == "2025-06-01"
    )
    assert body["totals"] == {"impressions": 1, "spend": "2.50"}


# --- paging, ordering, filters --------------------------------------------------------------------


def test_pages_link_to_each_other_and_the_totals_cover_every_page(tenancy, bakery, owner_api):
    common = {"level": "ad", "dimensions": "date", "metrics": "impressions", "page_size": "2", **JUNE}

    first = report(owner_api, tenancy.bakery, **common)
    second = owner_api.get(first.json()["next"])

    assert first.status_code == second.status_code == 200
    assert first.json()["count"] == second.json()["count"] == 4
    assert [row["impressions"] for row in first.json()["results"]] == [5, 1]
    assert [row["impressions"] for row in second.json()["results"]] == [3, 2]
    assert first.json()["previous"] is None
    assert first.json()["next"].startswith("http://testserver/api/v1/reports/?")
    assert "page=2" in first.json()["next"]
    assert second.json()["next"] is None
    assert "page=" not in second.json()["previous"]
    assert owner_api.get(second.json()["previous"]).json() == first.json()
    assert first.json()["totals"] == second.json()["totals"] == {"impressions": 11}


def test_a_page_past_the_end_is_a_400_naming_page(tenancy, bakery, owner_api):
    response = report(owner_api, tenancy.bakery, page="3", **JUNE)

    assert response.status_code == 400
    assert response.json() == invalid("page", "Invalid page.")


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("-spend", ["Cheesecake", "Baguette", "Sourdough"]),
        ("spend", ["Sourdough", "Baguette", "Cheesecake"]),
        ("-ctr", ["Cheesecake", "Baguette", "Sourdough"]),
        ("name", ["Baguette", "Cheesecake", "Sourdough"]),
        ("-name", ["Sourdough", "Cheesecake", "Baguette"]),
        ("cpa", ["Sourdough", "Baguette", "Cheesecake"]),  # no conversions: last
    ],
)
def test_ordering_by_any_column(tenancy, bakery, owner_api, ordering, expected):
    response = report(owner_api, tenancy.bakery, level="ad", metrics="spend,ctr,cpa", ordering=ordering, **JUNE)

    assert response.status_code == 200
    assert [row["ad_name"] for row in response.json()["results"]] == expected


def test_ordering_by_reach(tenancy, bakery, owner_api):
    response = report(owner_api, tenancy.bakery, level="ad_group", metrics="reach", ordering="reach", **JUNE)

    assert [(row["ad_group_name"], row["reach"]) for row in response.json()["results"]] == [("Tarts", 1), ("Rye", 9)]


@pytest.mark.parametrize(
    ("filters", "impressions", "names"),
    [
        ({"campaign": "{cakes}"}, 1, ["Cheesecake"]),
        ({"ad_group": "{rye}"}, 10, ["Baguette", "Sourdough"]),
        ({"ad": "{sourdough},{cheesecake}"}, 6, ["Cheesecake", "Sourdough"]),
        ({"country": "fr"}, 2, ["Sourdough"]),
        ({"country": "DE", "campaign": "{bread}"}, 8, ["Baguette", "Sourdough"]),
        ({"campaign": "999999"}, 0, []),
    ],
)
def test_filters_narrow_rows_and_totals(tenancy, bakery, owner_api, filters, impressions, names):
    ids = {
        "cakes": bakery.cakes.pk,
        "bread": bakery.bread.pk,
        "rye": bakery.rye.pk,
        "sourdough": bakery.sourdough.pk,
        "cheesecake": bakery.cheesecake.pk,
    }
    response = report(
        owner_api,
        tenancy.bakery,
        level="ad",
        metrics="impressions",
        **{name: value.format(**ids) for name, value in filters.items()},
        **JUNE,
    )

    assert response.status_code == 200
    assert [row["ad_name"] for row in response.json()["results"]] == names
    assert response.json()["totals"] == {"impressions": impressions}


def test_another_advertisers_campaign_in_a_filter_shows_nothing_of_it(tenancy, bakery, owner_api):
    other = AdFactory(ad_group=AdGroupFactory(campaign=CampaignFactory(advertiser=tenancy.client_b1)))
    delivery_services.store_rows([event(other, "impression", datetime(2025, 6, 1, 12, 0, tzinfo=UTC), cost=5_000)])
    services.rollup()

    response = report(owner_api, tenancy.bakery, level="ad", campaign=str(other.ad_group.campaign_id), **JUNE)

    assert response.status_code == 200
    assert response.json()["results"] == []
    assert response.json()["totals"]["impressions"] == 0


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "parameter", "message"),
    [
        (
            {"metrics": "impressions,views"},
            "metrics",
            UNKNOWN_VIEWS,
        ),
        (
            {"dimensions": "date,city"},
            "dimensions",
            "Unknown dimension 'city'; choose from date, hour, country, device, placement.",
        ),
        ({"dimensions": "date,date"}, "dimensions", "Name each one once."),
        ({"level": "account"}, "level", "Choose one of: campaign, ad_group, ad."),
        ({"start_date": "2024-01-01", "end_date": "2025-02-04"}, "end_date", "A report covers at most 400 days."),
        ({"start_date": "2025-06-02", "end_date": "2025-06-01"}, "end_date", "The end date is before the start date."),
        ({"start_date": "01/06/2025"}, "start_date", "Send a date as YYYY-MM-DD."),
        ({"end_date": "2025-02-30"}, "end_date", "Send a date as YYYY-MM-DD."),
        ({"campaign": "7,abc"}, "campaign", "Send ids separated by commas (at most 500)."),
        ({"ad_group": "-1"}, "ad_group", "Send ids separated by commas (at most 500)."),
        ({"ad": "1.5"}, "ad", "Send ids separated by commas (at most 500)."),
        ({"country": "Germany"}, "country", "Send two-letter country codes separated by commas."),
        (
            {"level": "ad", "metrics": "reach"},
            "metrics",
            REACH_ONLY_PER_AD_GROUP,
        ),
        (
            {"dimensions": "country", "metrics": "frequency"},
            "metrics",
            REACH_ONLY_PER_AD_GROUP,
        ),
        (
            {"metrics": "clicks", "ordering": "-spend"},
            "ordering",
            "Order by one of the report's columns: clicks, id, name.",
        ),
        ({"page": "0"}, "page", "Send a whole number from 1 to 1000000."),
        ({"page_size": "1001"}, "page_size", "Send a whole number from 1 to 1000."),
        ({"metric": "clicks"}, "metric", "Unknown parameter."),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(tenancy, bakery, owner_api, parameters, parameter, message):
    response = report(owner_api, tenancy.bakery, **parameters)

    assert response.status_code == 400
    assert response.json() == invalid(parameter, message)


def test_a_400_day_range_is_allowed(tenancy, bakery, owner_api):
    response = report(owner_api, tenancy.bakery, start_date="2024-05-29", end_date="2025-07-02")

    assert response.status_code == 200
    assert response.json()["totals"]["impressions"] == 11


def test_a_parameter_sent_twice_is_refused(tenancy, bakery, owner_api):
    response = owner_api.get(f"{REPORTS}?advertiser={tenancy.bakery.pk}&metrics=clicks&metrics=spend")

    assert response.status_code == 400
    assert response.json() == invalid("metrics", "Send this parameter once.")


@pytest.mark.parametrize(
    ("advertiser", "message"),
    [(None, "This parameter is required."), ("", "This parameter is required."), ("abc", "Enter a whole number.")],
)
def test_the_advertiser_is_required_and_a_number(bakery, owner_api, advertiser, message):
    response = owner_api.get(REPORTS, {} if advertiser is None else {"advertiser": advertiser})

    assert response.status_code == 400
    assert response.json() == invalid("advertiser", message)


@pytest.mark.parametrize("who", ["agent_b", "stranger", "agent_a"])
def test_another_tenants_advertiser_is_404(tenancy, bakery, api_client_for, who):
    response = report(api_client_for(getattr(tenancy, who)), tenancy.bakery, **JUNE)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_an_advertiser_that_does_not_exist_is_404(tenancy, owner_api):
    assert report(owner_api, 999_999_999).json() == NOT_FOUND
    assert report(owner_api, "999999999999999999").status_code == 404


def test_anonymous_callers_get_401(tenancy, bakery):
    response = report(APIClient(), tenancy.bakery, **JUNE)

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


def test_a_token_without_reports_read_is_refused(tenancy, bakery, api_client_for):
    client = api_client_for(tenancy.owner, scopes=["campaigns:read", "campaigns:write", "billing:read", "billing:write"])

    response = report(client, tenancy.bakery, **JUNE)

    assert response.status_code == 403
    assert response.json() == NO_SCOPE


def test_a_token_with_only_reports_read_and_an_analyst_may_read_reports(tenancy, bakery, api_client_for):
    response = report(api_client_for(tenancy.analyst, scopes=["reports:read"]), tenancy.bakery, metrics="spend", **JUNE)

    assert response.status_code == 200
    assert response.json()["totals"] == {"spend": "1.017505"}


def test_an_agency_member_reads_its_clients_reports(tenancy, api_client_for):
    response = report(api_client_for(tenancy.agent_a), tenancy.client_a1, **JUNE)

    assert response.status_code == 200
    assert response.json()["advertiser"] == tenancy.client_a1.pk


FUZZED_PARAMETERS = (
    "level", "dimensions", "metrics", "start_date", "end_date", "campaign", "ad_group", "ad", "country", "ordering",
    "page", "page_size", "advertiser", "x",
)  # fmt: skip
TRICKY_VALUES = (
    "ad", "ad_group", "date,hour", "reach,frequency", "-reach", "0001-01-01", "9999-12-31", "2025-06-01", "1,2", "DE",
    "-1", "99999999999999999999", "date", "country", "spend", "-ctr", "5",
)  # fmt: skip
REPORT_VALUES = st.one_of(st.text(st.characters(codec="utf-8"), max_size=20), st.sampled_from(TRICKY_VALUES))


def test_no_combination_of_parameters_is_a_server_error(tenancy, bakery, owner_api, settings):
    settings.API_THROTTLE_RATE = "100000/min"

    @given(st.dictionaries(st.sampled_from(FUZZED_PARAMETERS), REPORT_VALUES, max_size=6))
    @hypothesis_settings(
        max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    def fuzz(parameters: dict[str, str]) -> None:
        response = owner_api.get(REPORTS, {"advertiser": tenancy.bakery.pk, **parameters})
        assert response.status_code in {200, 400, 404}, (parameters, response.content)
        if response.status_code == 400:
            fields = response.json()["error"]["fields"]
            assert len(fields) == 1
            assert set(fields) <= set(FUZZED_PARAMETERS)

    fuzz()


# --- report jobs ----------------------------------------------------------------------------------


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))


def test_a_report_job_runs_and_its_csv_has_the_same_numbers_as_the_json_report(
    tenancy, bakery, owner_api, django_capture_on_commit_callbacks
):
    parameters = {"level": "ad", "dimensions": "date", "metrics": "impressions,clicks,ctr,spend,cpm,conversions,cpa", **JUNE}

    with django_capture_on_commit_callbacks(execute=True):
        created = owner_api.post(JOBS, {"advertiser": tenancy.bakery.pk, **parameters}, format="json")

    assert created.status_code == 201
    job = ReportJob.objects.get()
    assert created["Location"] == f"/api/v1/report-jobs/{job.pk}/"
    assert created.json() == {
        "id": str(job.pk),
        "advertiser": tenancy.bakery.pk,
        "status": "queued",
        "parameters": parameters,
        "row_count": None,
        "error": "",
        "created_at": "2025-06-03T09:00:00Z",
        "finished_at": None,
        "download_url": None,
    }
    shown = owner_api.get(created["Location"])
    assert shown.status_code == 200
    assert shown.json() | {"parameters": None} == created.json() | {
        "status": "done",
        "row_count": 4,
        "finished_at": "2025-06-03T09:00:00Z",
        "download_url": f"http://testserver/api/v1/report-jobs/{job.pk}/download/",
        "parameters": None,
    }

    download = owner_api.get(shown.json()["download_url"])

    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"] == (f'attachment; filename="report-{tenancy.bakery.pk}-ad-2025-06-01-2025-06-02.csv"')
    as_json = report(owner_api, tenancy.bakery, **parameters).json()
    header, *lines, total = csv_rows(download.content)
    columns = ["ad_id", "ad_name", "campaign_id", "ad_group_id", "date", *parameters["metrics"].split(",")]
    assert header == columns
    assert lines == [["" if row[column] is None else str(row[column]) for column in columns] for row in as_json["results"]]
    assert lines[0] == [str(bakery.baguette.pk), "Baguette", str(bakery.bread.pk), str(bakery.rye.pk), "2025-06-01", "5",
                        "2", "0.4", "0.010005", "2.001", "0", ""]  # fmt: skip
    assert total == ["total", "", "", "", "", "11", "4", "0.363636", "1.017505", "92.500455", "1", "1.017505"]


def test_a_job_may_name_its_metrics_and_ids_as_lists_and_resolves_the_default_range(
    tenancy, bakery, owner_api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = owner_api.post(
            JOBS,
            {"advertiser": tenancy.bakery.pk, "metrics": ["impressions", "spend"], "campaign": [bakery.bread.pk]},
            format="json",
        )

    assert created.status_code == 201
    assert created.json()["parameters"] == {
        "level": "campaign",
        "dimensions": "",
        "metrics": "impressions,spend",
        "start_date": "2025-05-28",
        "end_date": "2025-06-03",
        "campaign": str(bakery.bread.pk),
    }
    content = owner_api.get(f"{JOBS}{created.json()['id']}/download/").content
    assert csv_rows(content) == [
        ["campaign_id", "campaign_name", "impressions", "spend"],
        [str(bakery.bread.pk), "Bread", "10", "0.017505"],
        ["total", "", "10", "0.017505"],
    ]


@pytest.mark.parametrize(
    ("body", "parameter", "message"),
    [
        ({"metrics": "impressions,views"}, "metrics", None),
        ({"dimensions": ["date", "city"]}, "dimensions", None),
        ({"start_date": "2024-01-01", "end_date": "2025-06-01"}, "end_date", "A report covers at most 400 days."),
        ({"start_date": "2025-06-02", "end_date": "2025-06-01"}, "end_date", "The end date is before the start date."),
        ({"start_date": "yesterday"}, "start_date", "Send a date as YYYY-MM-DD."),
        ({"level": "ad", "metrics": ["reach"]}, "metrics", None),
        ({"campaign": ["x"]}, "campaign", "Send ids separated by commas (at most 500)."),
        ({"campaign": {"id": 1}}, "campaign", "Send a comma-separated string or a list of strings or whole numbers."),
        ({"page": 2}, "page", "Unknown field."),
        ({"advertiser": "abc"}, "advertiser", "A valid integer is required."),
        ({"advertiser": None}, "advertiser", "This field may not be null."),
    ],
)
def test_a_job_with_a_bad_parameter_is_a_400_naming_it_and_nothing_is_queued(
    tenancy, bakery, owner_api, body, parameter, message
):
    response = owner_api.post(JOBS, {"advertiser": tenancy.bakery.pk, **body}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [parameter]
    if message is not None:
        assert response.json() == invalid(parameter, message)
    assert not ReportJob.objects.exists()


def test_a_job_without_an_advertiser_is_a_400(tenancy, owner_api):
    response = owner_api.post(JOBS, {"metrics": "clicks"}, format="json")

    assert response.status_code == 400
    assert response.json() == invalid("advertiser", "This field is required.")


@pytest.mark.parametrize("who", ["agent_b", "stranger"])
def test_a_job_for_another_tenants_advertiser_is_refused_as_unknown(tenancy, bakery, api_client_for, who):
    response = api_client_for(getattr(tenancy, who)).post(JOBS, {"advertiser": tenancy.bakery.pk}, format="json")

    assert response.status_code == 400
    assert response.json() == invalid("advertiser", "No such advertiser.")
    assert not ReportJob.objects.exists()


@pytest.fixture
def done_job(tenancy, bakery, owner_api, django_capture_on_commit_callbacks) -> ReportJob:
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_api.post(JOBS, {"advertiser": tenancy.bakery.pk, **JUNE}, format="json")
    return ReportJob.objects.get(pk=response.json()["id"])


@pytest.mark.parametrize("who", ["agent_b", "stranger", "agent_a"])
def test_another_tenant_cannot_see_or_download_a_job(tenancy, done_job, api_client_for, who):
    client = api_client_for(getattr(tenancy, who))

    assert client.get(f"{JOBS}{done_job.pk}/").json() == NOT_FOUND
    download = client.get(f"{JOBS}{done_job.pk}/download/")
    assert download.status_code == 404
    assert download.json() == NOT_FOUND
    listed = client.get(JOBS)
    assert listed.status_code == 200
    assert listed.json()["count"] == 0


def test_colleagues_share_an_advertisers_jobs(tenancy, done_job, api_client_for):
    analyst = api_client_for(tenancy.analyst, scopes=["reports:read"])

    listed = analyst.get(JOBS)

    assert [job["id"] for job in listed.json()["results"]] == [str(done_job.pk)]
    assert listed.json()["results"][0]["status"] == "done"
    assert analyst.get(f"{JOBS}{done_job.pk}/download/").status_code == 200


def test_jobs_are_listed_newest_first_and_filtered(tenancy, bakery, owner_api, api_client_for):
    first = owner_api.post(JOBS, {"advertiser": tenancy.bakery.pk}, format="json").json()["id"]
    with clock.frozen(datetime(2025, 6, 3, 10, 0, tzinfo=UTC)):
        second = owner_api.post(JOBS, {"advertiser": tenancy.bakery.pk}, format="json").json()["id"]
    agent = api_client_for(tenancy.agent_a)
    theirs = agent.post(JOBS, {"advertiser": tenancy.client_a1.pk}, format="json").json()["id"]

    assert [job["id"] for job in owner_api.get(JOBS).json()["results"]] == [second, first]
    assert [job["id"] for job in agent.get(JOBS).json()["results"]] == [theirs]
    assert owner_api.get(JOBS, {"status": "done"}).json()["count"] == 0  # never ran: no commit in this test
    assert owner_api.get(JOBS, {"status": "queued", "advertiser": tenancy.bakery.pk}).json()["count"] == 2
    assert owner_api.get(JOBS, {"status": "lost"}).status_code == 400


def test_a_job_that_is_not_done_cannot_be_downloaded_yet(tenancy, bakery, owner_api):
    created = owner_api.post(JOBS, {"advertiser": tenancy.bakery.pk}, format="json")  # its commit never comes here

    response = owner_api.get(f"{JOBS}{created.json()['id']}/download/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "This report job is queued: its CSV can be downloaded once it is done.",
            "fields": {},
        }
    }


def test_a_job_whose_report_cannot_run_fails_with_the_reason(tenancy, bakery, owner_api):
    job = ReportJob.objects.create(
        advertiser=tenancy.bakery, parameters={"metrics": "views"}, created_at=clock.now(), requested_by=tenancy.owner
    )

    services.report_job_run(str(job.pk))

    shown = owner_api.get(f"{JOBS}{job.pk}/").json()
    assert (shown["status"], shown["download_url"]) == ("failed", None)
    assert shown["error"].startswith("metrics: Unknown metric 'views'")
    assert owner_api.get(f"{JOBS}{job.pk}/download/").status_code == 404


def test_a_job_larger_than_the_limit_fails_asking_for_a_narrower_report(tenancy, bakery, owner_api, monkeypatch):
    # given a limit of 3 rows, and an ad-by-day report of 4
    monkeypatch.setattr(services, "MAX_JOB_ROWS", 3)
    job = ReportJob.objects.create(
        advertiser=tenancy.bakery,
        parameters={"level": "ad", "dimensions": "date", **JUNE},
        created_at=clock.now(),
        requested_by=tenancy.owner,
    )

    services.report_job_run(str(job.pk))

    shown = owner_api.get(f"{JOBS}{job.pk}/").json()
    assert (shown["status"], shown["row_count"]) == ("failed", None)
    assert shown["error"] == "The report has 4 rows, more than 3: narrow the dates or the breakdowns."


@pytest.mark.parametrize("job_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_job_is_404(owner_api, job_id):
    assert owner_api.get(f"{JOBS}{job_id}/").json() == NOT_FOUND
    assert owner_api.get(f"{JOBS}{job_id}/download/").status_code == 404


def test_a_retried_job_with_the_same_idempotency_key_is_the_same_job(tenancy, bakery, owner_api):
    body = {"advertiser": tenancy.bakery.pk, "metrics": "clicks", **JUNE}

    first = owner_api.post(JOBS, body, format="json", HTTP_IDEMPOTENCY_KEY="june-report")
    again = owner_api.post(JOBS, body, format="json", HTTP_IDEMPOTENCY_KEY="june-report")
    other = owner_api.post(JOBS, {**body, "metrics": "spend"}, format="json", HTTP_IDEMPOTENCY_KEY="june-report")

    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 409)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert ReportJob.objects.count() == 1
    assert IdempotencyKey.objects.filter(key="june-report").count() == 1


def test_job_endpoints_need_reports_read(tenancy, done_job, api_client_for):
    client = api_client_for(tenancy.owner, scopes=["campaigns:read", "campaigns:write", "billing:read", "billing:write"])

    for response in (
        client.get(JOBS),
        client.get(f"{JOBS}{done_job.pk}/"),
        client.get(f"{JOBS}{done_job.pk}/download/"),
        client.post(JOBS, {"advertiser": tenancy.bakery.pk}, format="json"),
    ):
        assert response.status_code == 403
        assert response.json() == NO_SCOPE
    assert ReportJob.objects.count() == 1


def test_anonymous_callers_get_401_on_jobs(done_job):
    client = APIClient()

    for response in (
        client.get(JOBS),
        client.get(f"{JOBS}{done_job.pk}/"),
        client.get(f"{JOBS}{done_job.pk}/download/"),
        client.post(JOBS, {"advertiser": done_job.advertiser_id}, format="json"),
    ):
        assert response.status_code == 401
        assert response.json() == NOT_AUTHENTICATED
    assert ReportJob.objects.count() == 1


def test_jobs_cannot_be_changed_or_deleted(owner_api, done_job):
    assert owner_api.delete(f"{JOBS}{done_job.pk}/").status_code == 405
    assert owner_api.patch(f"{JOBS}{done_job.pk}/", {"status": "queued"}, format="json").status_code == 405
    assert ReportJob.objects.get().status == "done"


# --- the schema -----------------------------------------------------------------------------------


def test_the_schema_documents_reports_and_report_jobs(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]

    assert set(paths["/api/v1/reports/"]) == {"get"}
    assert set(paths["/api/v1/report-jobs/"]) == {"get", "post"}
    assert set(paths["/api/v1/report-jobs/{id}/"]) == {"get"}
    assert set(paths["/api/v1/report-jobs/{id}/download/"]) == {"get"}
    get = paths["/api/v1/reports/"]["get"]
    assert {parameter["name"] for parameter in get["parameters"]} == {
        "advertiser", "level", "dimensions", "metrics", "start_date", "end_date", "campaign", "ad_group", "ad",
        "country", "ordering", "page", "page_size",
    }  # fmt: skip
    for operation in (get, paths["/api/v1/report-jobs/"]["post"], paths["/api/v1/report-jobs/{id}/download/"]["get"]):
        assert [scheme["oauth2"] for scheme in operation["security"] if "oauth2" in scheme] == [["reports:read"]]
    assert {"200", "400", "401", "403", "404"} <= set(get["responses"])


def test_report_dates_in_the_response_are_dates(tenancy, bakery, owner_api):
    body = report(owner_api, tenancy.bakery, **JUNE).json()

    assert date.fromisoformat(body["start_date"]) == date(2025, 6, 1)


@pytest.fixture
def wsgi_app(db) -> Iterator[WSGIHandler]:
    """The project's WSGI app on the test's database connection (see tests/adplatform/test_schema_fuzz.py)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_report_endpoints_never_fail_and_answer_as_documented(tenancy, bakery, wsgi_app, settings, mode):
    settings.API_THROTTLE_RATE = "100000/min"
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app).include(path_regex=r"^/api/v1/report(s|-jobs)/")
    with clock.frozen(datetime.now(UTC)):
        _, raw = account_services.personal_token_create(user=tenancy.owner, name="fuzz", scopes=["reports:read"])
    headers = {"Authorization": f"Bearer {raw}"}
    operations = [result.ok() for result in schema.get_all_operations()]

    assert {(operation.method.upper(), operation.path) for operation in operations} == {
        ("GET", "/api/v1/reports/"),
        ("GET", "/api/v1/report-jobs/"),
        ("POST", "/api/v1/report-jobs/"),
        ("GET", "/api/v1/report-jobs/{id}/"),
        ("GET", "/api/v1/report-jobs/{id}/download/"),
    }
    for operation in operations:
        fixed: list[dict[str, Any]] = [{}]
        if operation.path == "/api/v1/reports/":
            fixed.append({"query": {"advertiser": tenancy.bakery.pk, **JUNE}})
        if operation.method.upper() == "POST" and mode is GenerationMode.POSITIVE:
            fixed.append({"body": {"advertiser": tenancy.bakery.pk, "metrics": "clicks,spend"}})
        for options in fixed:
            strategy = operation.as_strategy(generation_mode=mode, **options)

            @given(case=strategy)
            @hypothesis_settings(
                max_examples=15, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
            )
            def fuzz(case) -> None:
                response = case.call_and_validate(headers=headers, checks=SCHEMA_CHECKS)
                assert response.status_code < 500

            fuzz()
