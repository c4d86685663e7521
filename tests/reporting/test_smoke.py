import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from adplatform import clock
from delivery import services as delivery_services
from reporting import query as report_query
from reporting import selectors, services
from tests.factories import AdFactory, AdGroupFactory, AdvertiserFactory, CampaignFactory

pytestmark = pytest.mark.django_db(transaction=True)


def event(ad, kind, at, *, status="valid", cost=0, user="u1", country="DE"):
    ag = ad.ad_group
    return [
        at.isoformat(), str(uuid.uuid4()), kind, status, "", str(uuid.uuid4()), str(ad.pk), str(ag.pk), str(ag.campaign_id),
        str(ag.campaign.advertiser_id), "feed", country, "mobile", user, "impression", "1000", str(cost), "0", "", "",
    ]  # fmt: skip


def test_rollup_and_report_smoke():
    advertiser = AdvertiserFactory(time_zone="Pacific/Auckland")
    ad = AdFactory(ad_group=AdGroupFactory(campaign=CampaignFactory(advertiser=advertiser)))
    at = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # 2026-03-11 12:30 in Auckland
    rows = [event(ad, "impression", at, cost=1000, user=f"u{n}") for n in range(10)] + [event(ad, "click", at)]
    delivery_services.store_rows(rows)
    with clock.frozen(at + timedelta(minutes=5)):
        assert services.rollup() == 1
        q = report_query.parse(
            {"metrics": "impressions,clicks,ctr,spend,cpm,reach,frequency", "dimensions": "date"}, today=date(2026, 3, 11)
        )
        report = selectors.run_report(advertiser, q)
    assert report.rows[0]["date"] == "2026-03-11"
    assert report.rows[0]["impressions"] == 10
    assert report.totals["spend"] == 10_000
    assert report.rows[0]["reach"] == 10
