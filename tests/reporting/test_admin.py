"""Staff admin for reporting: platform totals per day, top advertisers, report jobs and subscriptions.

A euro and a yen advertiser delivered on 10 and 11 March 2026 (their local days), with some invalid
traffic; the totals page adds them up per day and ranks the advertisers in US dollars.
"""

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.contrib.auth.models import Permission

from adplatform import clock
from delivery import services as delivery_services
from reporting import services
from reporting.models import ReportJob, ReportSubscription
from tests.factories import AdFactory, AdGroupFactory, AdvertiserFactory, CampaignFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/admin/reporting/platformtotals/"


def event(ad: Any, kind: str, at: datetime, *, status: str = "valid", cost: int = 0) -> list[str]:
    group = ad.ad_group
    return [
        at.isoformat(), str(uuid.uuid4()), kind, status, "", str(uuid.uuid4()), str(ad.pk), str(group.pk),
        str(group.campaign_id), str(group.campaign.advertiser_id), "feed", "DE", "mobile", "u1", "impression",
        str(cost), str(cost), "0", "", "",
    ]  # fmt: skip


def many(ad: Any, kind: str, at: datetime, n: int, **kwargs: Any) -> list[list[str]]:
    return [event(ad, kind, at, **kwargs) for _ in range(n)]


@pytest.fixture
def delivered():
    euro = AdvertiserFactory(name="Euro Bakery", currency="EUR", time_zone="Europe/Berlin")
    yen = AdvertiserFactory(name="Yen Ramen", currency="JPY", time_zone="Asia/Tokyo")
    euro_ad = AdFactory(ad_group=AdGroupFactory(campaign=CampaignFactory(advertiser=euro)))
    yen_ad = AdFactory(ad_group=AdGroupFactory(campaign=CampaignFactory(advertiser=yen)))
    tenth, eleventh = datetime(2026, 3, 10, 9, 0, tzinfo=UTC), datetime(2026, 3, 11, 3, 0, tzinfo=UTC)
    delivery_services.store_rows(
        many(euro_ad, "impression", tenth, 90, cost=10_000)  # 0.90 EUR
        + many(euro_ad, "click", tenth, 6)
        + many(euro_ad, "impression", tenth, 4, status="invalid")
        + many(yen_ad, "impression", eleventh, 50, cost=4_000_000)  # 200 JPY, about 1.33 USD: more than 0.90 EUR
        + many(yen_ad, "click", eleventh, 2)
        + many(yen_ad, "click", eleventh, 8, status="invalid")
    )
    services.rollup()
    return euro, yen


@pytest.fixture
def staff(client):
    user = UserFactory(email="staff@adplatform.test", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_platform_totals_per_day_with_spend_per_currency_and_invalid_traffic(staff, delivered):
    response = staff.get(URL, {"start": "2026-03-09", "end": "2026-03-12"})

    assert response.status_code == 200
    days = {row.day: row for row in response.context["days"]}
    assert list(days) == [date(2026, 3, 11), date(2026, 3, 10)]  # newest first, days without delivery left out
    tenth, eleventh = days[date(2026, 3, 10)], days[date(2026, 3, 11)]
    assert (tenth.impressions, tenth.clicks, tenth.invalid_events, tenth.spend) == (90, 6, 4, ["0.90 EUR"])
    assert tenth.invalid_rate == "4.00%"  # 4 of 100 tracked events
    assert (eleventh.impressions, eleventh.clicks, eleventh.invalid_events, eleventh.spend) == (50, 2, 8, ["200.00 JPY"])
    assert eleventh.invalid_rate == "13.33%"  # 8 of 60
    total = response.context["total"]
    assert (total.impressions, total.clicks, total.invalid_events, total.spend) == (140, 8, 12, ["0.90 EUR", "200.00 JPY"])
    assert total.invalid_rate == "7.50%"
    assert [(row.name, row.spend, row.spend_usd) for row in response.context["top"]] == [
        ("Yen Ramen", "200.00 JPY", "1.33 USD"),
        ("Euro Bakery", "0.90 EUR", "0.98 USD"),
    ]
    page = response.content.decode()
    assert "Platform totals" in page
    assert "0.90 EUR · 200.00 JPY" in page


def test_the_default_range_is_the_last_30_days(staff, delivered):
    with clock.frozen(datetime(2026, 3, 20, 12, 0, tzinfo=UTC)):
        response = staff.get(URL)

    assert (response.context["start"], response.context["end"]) == (date(2026, 2, 19), date(2026, 3, 20))
    assert len(response.context["days"]) == 2


def test_a_bad_range_is_a_form_error(staff, delivered):
    response = staff.get(URL, {"start": "2026-03-12", "end": "2026-03-01"})

    assert response.status_code == 400
    assert "The end date is before the start date." in response.content.decode()
    assert response.context["days"] == []
    assert staff.get(URL, {"start": "not a date"}).status_code == 400


def test_only_staff_with_the_right_see_the_totals(client, delivered):
    assert client.get(URL).status_code == 302  # to the admin's log-in

    plain = UserFactory(email="plain@adplatform.test", is_staff=True)
    client.force_login(plain)
    assert client.get(URL).status_code == 403

    plain.user_permissions.add(Permission.objects.get(codename="view_platformtotals"))
    assert client.get(URL).status_code == 200


def test_the_admin_index_links_to_the_totals(staff):
    page = staff.get("/admin/").content.decode()

    assert f'href="{URL}"' in page


def test_report_jobs_are_read_only_and_a_finished_one_downloads(staff, delivered):
    euro, _ = delivered
    job = ReportJob.objects.create(
        advertiser=euro, parameters={"level": "campaign"}, status=ReportJob.Status.DONE, csv=b"campaign_id\n1\n",
        row_count=1, created_at=clock.now(), finished_at=clock.now(),
    )  # fmt: skip

    listing = staff.get("/admin/reporting/reportjob/")
    detail = staff.get(f"/admin/reporting/reportjob/{job.pk}/change/")
    download = staff.get(f"/admin/reporting/reportjob/{job.pk}/csv/")

    assert listing.status_code == detail.status_code == download.status_code == 200
    assert "Euro Bakery" in listing.content.decode()
    assert download.content == b"campaign_id\n1\n"
    assert download["Content-Disposition"] == f'attachment; filename="report-job-{job.pk}.csv"'
    assert staff.get("/admin/reporting/reportjob/add/").status_code == 403
    assert staff.post(f"/admin/reporting/reportjob/{job.pk}/change/", {"status": "failed"}).status_code == 403
    assert staff.get(f"/admin/reporting/reportjob/{uuid.uuid4()}/csv/").status_code == 404
    job.refresh_from_db()
    assert job.status == ReportJob.Status.DONE


def test_staff_may_clear_when_a_subscription_was_last_sent(staff, delivered):
    euro, _ = delivered
    member = UserFactory(email="member@example.com")
    subscription = ReportSubscription.objects.create(
        advertiser=euro, user=member, frequency="daily", last_sent_on=date(2026, 3, 11), created_at=clock.now()
    )

    assert "member@example.com" in staff.get("/admin/reporting/reportsubscription/").content.decode()
    response = staff.post(
        f"/admin/reporting/reportsubscription/{subscription.pk}/change/", {"last_sent_on": "", "frequency": "weekly"}
    )

    assert response.status_code == 302
    subscription.refresh_from_db()
    assert (subscription.last_sent_on, subscription.frequency) == (None, "daily")  # the frequency is the member's to change
    assert staff.get("/admin/reporting/reportsubscription/add/").status_code == 403
