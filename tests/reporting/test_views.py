"""The reports dashboard end to end through Django's test client: overview, CSV, a campaign's panel, subscriptions.

Events go into the event store and are rolled up exactly as in production. Time is frozen at NOW:
Thursday 12 March 2026, 11:00 in Berlin (the bakery's time zone). The bakery ran two campaigns on
10 and 11 March; Client B1 (another agency's client) ran one with much bigger numbers that must
never show on the bakery's pages.
"""

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from accounts.models import Role
from adplatform import clock
from delivery import services as delivery_services
from reporting import query as report_query
from reporting import selectors, services
from reporting.models import ReportSubscription
from tests.factories import AdFactory, AdGroupFactory, CampaignFactory, MembershipFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)  # 11:00 in Berlin (CET)


def event(ad: Any, kind: str, at: datetime, *, status: str = "valid", cost: int = 0, country: str = "DE",
          device: str = "mobile", placement: str = "feed", user: str = "u1") -> list[str]:  # fmt: skip
    """One row of the event store as delivery's consumer writes it."""
    group = ad.ad_group
    return [
        at.isoformat(), str(uuid.uuid4()), kind, status, "", str(uuid.uuid4()), str(ad.pk), str(group.pk),
        str(group.campaign_id), str(group.campaign.advertiser_id), placement, country, device, user, "impression",
        str(cost), str(cost), "0", "", "",
    ]  # fmt: skip


def traffic(ad: Any, at: datetime, *, impressions: int, clicks: int = 0, conversions: int = 0, cost: int = 0,
            **where: str) -> list[list[str]]:  # fmt: skip
    """`impressions` impressions costing `cost` micros each, then clicks and conversions."""
    rows = [event(ad, "impression", at, cost=cost, user=f"u{n}", **where) for n in range(impressions)]
    rows += [event(ad, "click", at, **where) for _ in range(clicks)]
    rows += [event(ad, "conversion", at, **where) for _ in range(conversions)]
    return rows


def roll_up(rows: list[list[str]]) -> None:
    delivery_services.store_rows(rows)
    with clock.frozen(NOW):
        services.rollup()


@pytest.fixture
def frozen():
    with clock.frozen(NOW):
        yield


@pytest.fixture
def bakery_ads(tenancy):
    """Bread (10 and 11 March, DE mobile / AT desktop) and Cakes (11 March, in the search placement)."""
    bread_campaign = CampaignFactory(advertiser=tenancy.bakery, name="Bread")
    cakes_campaign = CampaignFactory(advertiser=tenancy.bakery, name="Cakes")
    bread = AdFactory(ad_group=AdGroupFactory(name="Bread lovers", campaign=bread_campaign))
    cakes = AdFactory(ad_group=AdGroupFactory(name="Cake lovers", campaign=cakes_campaign), headline="Cakes for every party")
    other = AdFactory(ad_group=AdGroupFactory(campaign=CampaignFactory(advertiser=tenancy.client_b1, name="Secret B1")))
    after_midnight = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # 00:30 on the 11th in Berlin
    roll_up(
        traffic(bread, datetime(2026, 3, 10, 9, 15, tzinfo=UTC), impressions=10, clicks=2, conversions=1, cost=12_500)
        + traffic(bread, after_midnight, impressions=4, clicks=1, cost=12_500, country="AT", device="desktop")
        + traffic(cakes, datetime(2026, 3, 11, 13, 5, tzinfo=UTC), impressions=6, clicks=3, cost=50_000, placement="search")
        + [event(bread, "click", datetime(2026, 3, 11, 13, 6, tzinfo=UTC), status="invalid")]
        + traffic(other, datetime(2026, 3, 11, 8, 0, tzinfo=UTC), impressions=999, clicks=99, cost=777_777)
    )
    return bread, cakes, other


def log_in(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


def report_of(advertiser: Any, **parameters: str) -> selectors.Report:
    with clock.frozen(NOW):
        query = report_query.parse(parameters, today=clock.today_in(advertiser.time_zone))
        return selectors.run_report(advertiser, query, paged=False)


# --- who may see what ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["reports:overview", "reports:export"])
def test_anonymous_visitors_are_sent_to_log_in(client, name):
    from django.urls import reverse

    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_owner_sees_kpis_charts_and_the_campaign_table(client, tenancy, bakery_ads, frozen):
    response = log_in(client, tenancy.owner).get("/reports/", {"range": "last_7"})

    assert response.status_code == 200
    kpis = {kpi["key"]: kpi["value"] + kpi["unit"] for kpi in response.context["kpis"]}
    # 14 impressions of Bread at 0.0125 and 6 of Cakes at 0.05: 0.475 spent; 6 valid clicks, 1 conversion.
    assert kpis == {
        "spend": "0.475 EUR",
        "impressions": "20",
        "clicks": "6",
        "ctr": "30.00%",
        "conversions": "1",
        "cpa": "0.48 EUR",  # a cost per conversion: to the cent
    }
    charts = response.context["charts"]
    timeline = charts.data["timeline"]
    assert timeline["labels"] == ["6 Mar", "7 Mar", "8 Mar", "9 Mar", "10 Mar", "11 Mar", "12 Mar"]
    assert timeline["series"]["impressions"] == [0, 0, 0, 0, 10, 10, 0]  # Berlin's days: 00:30 on the 11th
    assert timeline["series"]["spend"] == ["0.00", "0.00", "0.00", "0.00", "0.125", "0.35", "0.00"]
    assert timeline["series"]["clicks"] == [0, 0, 0, 0, 2, 4, 0]
    assert timeline["series"]["conversions"] == [0, 0, 0, 0, 1, 0, 0]
    breakdowns = charts.data["breakdowns"]
    assert breakdowns["country"]["labels"] == ["Germany", "Austria"]
    assert breakdowns["country"]["series"]["impressions"] == [16, 4]
    assert breakdowns["device"]["labels"] == ["Mobile", "Desktop"]
    assert breakdowns["placement"]["labels"] == ["In-feed", "search"]  # a placement's name where it has one
    assert breakdowns["placement"]["series"]["spend"] == ["0.175", "0.30"]
    assert [(row.name, row.cells) for row in response.context["rows"]] == [
        ("Cakes", ["6", "3", "50.00%", "0.30", "50.00", "0.10", "0", "\u2014"]),
        ("Bread", ["14", "3", "21.43%", "0.175", "12.50", "0.06", "1", "0.18"]),
    ]
    assert response.context["totals"] == ["20", "6", "30.00%", "0.475", "23.75", "0.08", "1", "0.48"]
    page = response.content.decode()
    assert 'id="report-charts" type="application/json"' in page
    assert "vendor/chartjs/chart.umd.min.js" in page
    assert "js/reports.js" in page


def test_another_advertisers_numbers_never_show(client, tenancy, bakery_ads, frozen):
    _, _, other = bakery_ads

    page = log_in(client, tenancy.owner).get("/reports/", {"range": "last_30"}).content.decode()
    export = client.get("/reports/export.csv", {"range": "last_30"}).content.decode()

    for shown in (page, export):
        assert "Secret B1" not in shown
        assert "999" not in shown
        assert "777" not in shown
    # Asking for the other tenant's campaign by id is a 404, on the page and in the export.
    assert client.get("/reports/", {"campaign": other.ad_group.campaign_id}).status_code == 404
    assert client.get("/reports/export.csv", {"campaign": other.ad_group.campaign_id}).status_code == 404
    assert client.get(f"/reports/campaigns/{other.ad_group.campaign_id}/charts/").status_code == 404


def test_each_tenant_sees_only_its_own_numbers(client, tenancy, bakery_ads, frozen):
    response = log_in(client, tenancy.agent_b).get("/reports/", {"range": "last_7"})

    assert response.status_code == 200
    assert response.context["advertiser"] == tenancy.client_b1
    assert [row.name for row in response.context["rows"]] == ["Secret B1"]
    assert response.context["totals"][0] == "999"
    assert "Bread" not in response.content.decode()


def test_a_stranger_without_an_advertiser_is_sent_to_create_one(client, tenancy, bakery_ads, frozen):
    response = log_in(client, tenancy.stranger).get("/reports/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/new/"
    assert log_in(client, tenancy.stranger).get("/reports/export.csv").status_code == 404


def test_an_analyst_reads_the_same_numbers(client, tenancy, bakery_ads, frozen):
    response = log_in(client, tenancy.analyst).get("/reports/", {"range": "last_7"})

    assert response.status_code == 200
    assert response.context["totals"][0] == "20"


# --- the query string ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "field", "message"),
    [
        ({"range": "custom", "start_date": "2026-13-01", "end_date": "2026-03-11"}, "start_date", "Enter a valid date."),
        ({"range": "custom", "start_date": "2026-03-10", "end_date": "2026-03-01"}, "end_date", "The end date is before"),
        ({"range": "custom", "start_date": "2024-01-01", "end_date": "2026-03-01"}, "end_date", "at most 400 days."),
        ({"range": "custom", "start_date": "2026-03-10"}, "end_date", "Choose the last day."),
        ({"start_date": "yesterday"}, "start_date", "Enter a valid date."),
        ({"range": "forever"}, "range", "Select a valid choice. forever is not one of the available choices."),
        ({"level": "everything"}, "level", "Select a valid choice. everything is not one of the available choices."),
        ({"ordering": "-password"}, "ordering", "Order by one of the report's columns"),
        ({"page": "0"}, "page", "Send a whole number from 1 to 1000000."),
        ({"page": "x" * 13}, "page", "Ensure this value has at most 12 characters (it has 13)."),
    ],
)  # fmt: skip
def test_a_bad_query_string_is_a_form_error_never_a_500(client, tenancy, bakery_ads, frozen, parameters, field, message):
    response = log_in(client, tenancy.owner).get("/reports/", parameters)

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert message in " ".join(errors[field])
    page = response.content.decode()
    assert f'data-field-error="{field}"' in page
    assert "Fix the dates above to see the report." in page
    assert "report-charts" not in page
    export = client.get("/reports/export.csv", parameters)
    assert export.status_code == 400
    assert export["Content-Type"] == "text/plain; charset=utf-8"


def test_custom_dates_without_a_preset_are_taken_as_custom(client, tenancy, bakery_ads, frozen):
    response = log_in(client, tenancy.owner).get("/reports/", {"start_date": "2026-03-11", "end_date": "2026-03-11"})

    assert response.status_code == 200
    assert (response.context["query"].start.isoformat(), response.context["query"].end.isoformat()) == (
        "2026-03-11",
        "2026-03-11",
    )
    assert response.context["totals"][0] == "10"


@pytest.mark.parametrize(
    ("preset", "start", "end"),
    [
        ("today", "2026-03-12", "2026-03-12"),
        ("yesterday", "2026-03-11", "2026-03-11"),
        ("last_7", "2026-03-06", "2026-03-12"),
        ("last_30", "2026-02-11", "2026-03-12"),
        ("this_month", "2026-03-01", "2026-03-12"),
    ],
)
def test_presets_end_on_the_advertisers_today(client, tenancy, frozen, preset, start, end):
    response = log_in(client, tenancy.owner).get("/reports/", {"range": preset})

    query = response.context["query"]
    assert (query.start.isoformat(), query.end.isoformat()) == (start, end)


def test_presets_follow_the_advertisers_time_zone(client, tenancy, bakery_ads):
    tenancy.bakery.time_zone = "Pacific/Auckland"
    tenancy.bakery.save()

    with clock.frozen(datetime(2026, 3, 12, 12, 0, tzinfo=UTC)):  # 01:00 on 13 March in Auckland
        response = log_in(client, tenancy.owner).get("/reports/", {"range": "today"})

    assert response.context["query"].start.isoformat() == "2026-03-13"


def test_one_day_is_charted_by_the_hour_of_the_advertisers_day(client, tenancy, bakery_ads, frozen):
    response = log_in(client, tenancy.owner).get("/reports/", {"range": "yesterday"})

    charts = response.context["charts"]
    assert charts.hourly is True
    assert charts.data["timeline"]["labels"][:2] == ["00:00", "01:00"]
    impressions = charts.data["timeline"]["series"]["impressions"]
    assert len(impressions) == 24
    assert {hour: n for hour, n in enumerate(impressions) if n} == {0: 4, 14: 6}  # 23:30 and 13:05 UTC in Berlin
    assert "by hour" in response.content.decode()


def test_todays_hours_still_to_come_are_blank_not_zero(client, tenancy, bakery_ads, frozen):
    roll_up([event(bakery_ads[0], "impression", datetime(2026, 3, 12, 8, 10, tzinfo=UTC))])  # 09:10 in Berlin

    response = log_in(client, tenancy.owner).get("/reports/", {"range": "today"})

    impressions = response.context["charts"].data["timeline"]["series"]["impressions"]
    assert impressions == [0] * 9 + [1, 0, 0] + [None] * 12  # it is 11:00 in Berlin


def test_no_data_shows_the_empty_state(client, tenancy, bakery_ads, frozen):
    response = log_in(client, tenancy.owner).get(
        "/reports/", {"range": "custom", "start_date": "2026-01-01", "end_date": "2026-01-31"}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "No data for these dates" in page
    assert 'data-testid="report-empty"' in page
    assert "report-charts" not in page


# --- the table -------------------------------------------------------------------------------------------------


def test_the_table_sorts_by_a_column_and_each_header_links_to_the_other_direction(client, tenancy, bakery_ads, frozen):
    log_in(client, tenancy.owner)

    by_impressions = client.get("/reports/", {"range": "last_7", "ordering": "-impressions"})
    ascending = client.get("/reports/", {"range": "last_7", "ordering": "impressions"})

    assert [row.name for row in by_impressions.context["rows"]] == ["Bread", "Cakes"]
    assert [row.name for row in ascending.context["rows"]] == ["Cakes", "Bread"]
    columns = {column.metric: column for column in by_impressions.context["columns"]}
    assert columns["impressions"].sorted == "descending"
    assert "ordering=impressions" in columns["impressions"].sort_url
    assert "ordering=-clicks" in columns["clicks"].sort_url
    assert "ordering=name" in columns["name"].sort_url
    assert 'aria-sort="descending"' in by_impressions.content.decode()


def test_ad_group_and_ad_tabs_name_where_each_row_sits(client, tenancy, bakery_ads, frozen):
    bread, cakes, _ = bakery_ads
    log_in(client, tenancy.owner)

    groups = client.get("/reports/", {"range": "last_7", "level": "ad_group"})
    ads = client.get("/reports/", {"range": "last_7", "level": "ad", "ordering": "name"})

    assert [(row.name, row.context, row.cells[0]) for row in groups.context["rows"]] == [
        ("Cake lovers", "Cakes", "6"),
        ("Bread lovers", "Bread", "14"),
    ]
    assert [(row.name, row.context, row.url) for row in ads.context["rows"]] == [
        ("Cakes for every party", "Cakes \u203a Cake lovers", f"/campaigns/{cakes.ad_group.campaign_id}/#ad-{cakes.pk}"),
        ("Fresh bread every morning", "Bread \u203a Bread lovers", f"/campaigns/{bread.ad_group.campaign_id}/#ad-{bread.pk}"),
    ]


def test_an_htmx_request_for_the_table_gets_only_the_table(client, tenancy, bakery_ads, frozen):
    response = log_in(client, tenancy.owner).get(
        "/reports/", {"range": "last_7", "level": "ad_group"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="report-table"
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<section class="card mb-4" id="report-table"')
    assert "Bread lovers" in page
    assert "<nav" not in page.split('id="report-table"')[0]
    # The filter form keeps the new level and order for when the dates change.
    assert '<input type="hidden" name="level" id="report-level" value="ad_group" hx-swap-oob="true">' in page
    assert '<input type="hidden" name="ordering" id="report-ordering" value="-spend" hx-swap-oob="true">' in page


def test_the_table_pages_through_rows_and_totals_cover_every_page(client, tenancy, bakery_ads, frozen, monkeypatch):
    monkeypatch.setattr("reporting.forms.PAGE_SIZE", 1)
    monkeypatch.setattr("reporting.views.PAGE_SIZE", 1)
    log_in(client, tenancy.owner)

    first = client.get("/reports/", {"range": "last_7"})
    second = client.get("/reports/", {"range": "last_7", "page": "2"})

    assert [row.name for row in first.context["rows"]] == ["Cakes"]
    assert [row.name for row in second.context["rows"]] == ["Bread"]
    assert first.context["pages"] == 2
    assert "page=2" in first.context["next_url_page"]
    assert second.context["next_url_page"] == ""
    assert first.context["totals"][0] == second.context["totals"][0] == "20"


# --- CSV --------------------------------------------------------------------------------------------------------


def test_the_csv_export_is_the_report_the_page_shows(client, tenancy, bakery_ads, frozen):
    log_in(client, tenancy.owner)
    parameters = {"range": "custom", "start_date": "2026-03-10", "end_date": "2026-03-11", "level": "ad_group"}

    page = client.get("/reports/", parameters)
    response = client.get("/reports/export.csv", parameters)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="report-bakery-ad-group-2026-03-10-to-2026-03-11.csv"'
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert lines[0] == [
        "ad_group_id",
        "ad_group_name",
        "campaign_id",
        "impressions",
        "clicks",
        "ctr",
        "spend",
        "cpm",
        "cpc",
        "conversions",
        "cpa",
    ]
    assert [line[1] for line in lines[1:-1]] == [row.name for row in page.context["rows"]] == ["Cake lovers", "Bread lovers"]
    assert lines[-1] == ["total", "", "", "20", "6", "0.3", "0.475", "23.75", "0.079167", "1", "0.475"]
    # The same numbers as the report itself, to the micro.
    report = report_of(tenancy.bakery, level="ad_group", start_date="2026-03-10", end_date="2026-03-11")
    assert int(lines[-1][3]) == report.totals["impressions"] == 20
    assert lines[-1][6] == "0.475"
    assert report.totals["spend"] == 475_000
    assert sum(int(line[3]) for line in lines[1:-1]) == report.totals["impressions"]


def test_the_csv_of_one_campaign_has_only_that_campaign(client, tenancy, bakery_ads, frozen):
    bread, _, _ = bakery_ads

    response = log_in(client, tenancy.owner).get(
        "/reports/export.csv", {"range": "last_7", "campaign": bread.ad_group.campaign_id}
    )

    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert [line[1] for line in lines[1:]] == ["Bread", ""]
    assert lines[-1][2] == "14"


def test_a_campaign_of_unicode_digits_is_404_on_the_page_and_in_the_export(client, tenancy, bakery_ads, frozen):
    log_in(client, tenancy.owner)

    assert client.get("/reports/", {"campaign": "²"}).status_code == 404  # "²".isdigit() is True, int("²") fails
    assert client.get("/reports/export.csv", {"campaign": "²"}).status_code == 404


# --- a campaign's page -----------------------------------------------------------------------------------------


def test_a_campaigns_page_loads_its_own_charts(client, tenancy, bakery_ads, frozen):
    bread, _, _ = bakery_ads
    campaign_id = bread.ad_group.campaign_id
    log_in(client, tenancy.analyst)

    detail = client.get(f"/campaigns/{campaign_id}/")
    panel = client.get(f"/reports/campaigns/{campaign_id}/charts/", {"range": "last_7"}, HTTP_HX_REQUEST="true")

    assert f'hx-get="/reports/campaigns/{campaign_id}/charts/"' in detail.content.decode()
    assert panel.status_code == 200
    charts = panel.context["charts"]
    assert charts.data["timeline"]["series"]["impressions"] == [0, 0, 0, 0, 10, 4, 0]  # Bread only
    assert charts.data["breakdowns"]["placement"]["labels"] == ["In-feed"]
    assert {kpi["key"]: kpi["value"] for kpi in panel.context["kpis"]}["impressions"] == "14"
    assert f'id="campaign-{campaign_id}-charts" type="application/json"' in panel.content.decode()
    assert f"campaign={campaign_id}" in panel.context["full_report_url"]


def test_a_campaign_panel_with_bad_dates_says_so(client, tenancy, bakery_ads, frozen):
    bread, _, _ = bakery_ads

    response = log_in(client, tenancy.owner).get(f"/reports/campaigns/{bread.ad_group.campaign_id}/charts/", {"range": "never"})

    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()


# --- e-mail subscriptions ----------------------------------------------------------------------------------------


def test_a_member_subscribes_and_unsubscribes_to_e_mailed_reports(client, tenancy, frozen):
    log_in(client, tenancy.analyst)

    response = client.post("/reports/subscriptions/", {"frequency": "weekly", "next": "/reports/?range=last_30"})

    assert response.status_code == 302
    assert response["Location"] == "/reports/?range=last_30#email-reports"
    assert list(ReportSubscription.objects.values_list("advertiser", "user", "frequency", "last_sent_on")) == [
        (tenancy.bakery.pk, tenancy.analyst.pk, "weekly", None)
    ]
    page = client.get("/reports/").content.decode()
    assert "Weekly: subscribed" in page
    # Subscribing again changes nothing.
    client.post("/reports/subscriptions/", {"frequency": "weekly"})
    assert ReportSubscription.objects.count() == 1

    response = client.post("/reports/subscriptions/stop/", {"frequency": "weekly", "next": "https://evil.example/"})

    assert response["Location"] == "/reports/#email-reports"
    assert ReportSubscription.objects.count() == 0


def test_a_bad_frequency_subscribes_nobody(client, tenancy, frozen):
    response = log_in(client, tenancy.owner).post("/reports/subscriptions/", {"frequency": "hourly"})

    assert response.status_code == 302
    assert ReportSubscription.objects.count() == 0


def test_subscriptions_need_a_signed_in_member(client, tenancy, frozen):
    assert client.post("/reports/subscriptions/", {"frequency": "daily"})["Location"].startswith("/login/")
    log_in(client, tenancy.stranger).post("/reports/subscriptions/", {"frequency": "daily"})
    assert ReportSubscription.objects.count() == 0


def test_a_subscription_is_for_the_current_advertiser_only(client, tenancy, frozen):
    other = MembershipFactory(user=tenancy.owner, role=Role.ANALYST).advertiser
    log_in(client, tenancy.owner)
    client.post("/accounts/switch/", {"advertiser": other.pk})

    client.post("/reports/subscriptions/", {"frequency": "daily"})

    assert list(ReportSubscription.objects.values_list("advertiser", flat=True)) == [other.pk]
