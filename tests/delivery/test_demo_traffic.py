"""`manage.py demo_traffic` drives the real endpoints over HTTP: what it causes is charged, stored once and posted."""

import io

import pytest
from django.core.management import call_command
from django.db.models import Sum

from billing.models import Kind, Transaction
from delivery import services
from delivery.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_traffic_is_charged_exactly_stored_once_and_posted(serving_marketplace, live_server):
    # given two funded advertisers with an ad each on the feed, and a placement the demo does not know yet
    market = serving_marketplace
    market.serving_ad("Bakery")
    market.serving_ad("Diner", bid_micros=3_000_000)
    market.publish()

    # when 60 ad requests of demo traffic run against the live server, every click converting
    output = io.StringIO()
    call_command(
        "demo_traffic",
        url=live_server.url,
        requests=60,
        rate=0,
        click_rate=0.5,
        conversion_rate=1.0,
        seed=7,
        stdout=output,
    )
    services.consume_events()
    services.post_spend()

    # then every decision was answered, every ad shown once, every click led to an attributed conversion
    report = output.getvalue()
    assert "decision 0" not in report
    assert "decision 401" not in report
    served = Event.objects.filter(kind="serve").count()
    assert served > 0
    assert Event.objects.filter(kind="impression", status="valid").count() == served
    clicks = Event.objects.filter(kind="click", status="valid").count()
    assert clicks > 0
    assert Event.objects.filter(kind="conversion", status="valid").count() == clicks
    # and what the event store charged is what the ledger holds as spend, to the micro
    cost = Event.objects.aggregate(total=Sum("cost_micros"))["total"]
    spend = -Transaction.objects.filter(kind=Kind.SPEND).aggregate(total=Sum("amount_micros"))["total"]
    assert cost == spend > 0
    # and nothing was stored twice
    assert Event.objects.count() == Event.objects.values("event_id").distinct().count()
