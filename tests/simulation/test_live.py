"""`manage.py simulate --live`: simulated people asking the marketplace in the database for ads, in real time.

What `make run`'s `traffic` process does: the same decision, charging and event code as the
decision and tracking endpoints, on the real clock, so what it causes must be charged exactly,
stored once and posted to the ledger like any traffic. The runs are a few seconds long (--minutes)
at a request rate far above a real day's, so they send hundreds of requests.
"""

import io
import os
import re
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum

from adplatform import clock
from billing.models import Kind, Transaction
from campaigns.models import Ad, Placement
from delivery import index, services
from delivery.models import Event
from simulation.live import hidden_rates
from tests.factories import AdFactory, AdGroupFactory, AdvertiserFactory, MembershipFactory, PlacementFactory, fund

FAST = ["--requests-per-day", "10000000", "--people", "500", "--seed", "7"]  # about 20 to 200 requests a second
SUMMARY = re.compile(
    r"live traffic stopped after \d+ min \d\d s: (?P<requests>[\d,]+) requests \((?P<filled>[\d,]+) filled\), "
    r"(?P<impressions>[\d,]+) impressions, (?P<clicks>[\d,]+) clicks, (?P<conversions>[\d,]+) conversions$"
)


@pytest.fixture(autouse=True)
def _fresh_index():
    """This process's copy of the index forgotten before and after (the live mode reads it as a web process does)."""
    index.holder.reset()
    yield
    index.holder.reset()


def advertiser_with_ad(name: str, placement: Placement, **ad_group: object) -> Ad:
    """A funded advertiser with one untargeted ad group (daily budget 20.00) and one approved ad on `placement`."""
    advertiser = AdvertiserFactory(name=name, currency="USD", time_zone="UTC")
    fund(actor=MembershipFactory(advertiser=advertiser).user, advertiser=advertiser)
    group = AdGroupFactory(
        campaign__advertiser=advertiser,
        campaign__budget_mode="unlimited",
        campaign__budget_micros=0,
        placements=[placement],
        start_time=clock.now() - timedelta(days=1),
        **ad_group,
    )
    return AdFactory(ad_group=group, display_name=name)


def publish() -> None:
    """Compile the index into Redis, as Celery beat does every minute."""
    index.compile_snapshot()


def live(*arguments: str) -> tuple[dict[str, int], str]:
    """Run the live mode; returns the counts of its summary line and everything it printed."""
    printed = io.StringIO()
    call_command("simulate", "--live", *arguments, stdout=printed)
    output = printed.getvalue()
    summary = SUMMARY.search(output.strip().splitlines()[-1])
    assert summary is not None, output
    return {name: int(value.replace(",", "")) for name, value in summary.groupdict().items()}, output


@pytest.mark.django_db
def test_live_traffic_is_charged_exactly_stored_once_and_posted():
    # given two funded advertisers on one placement, one paying per impression and one per click
    feed = PlacementFactory(key="live-feed", floor_cpm_usd_micros=1_000_000)
    advertiser_with_ad("Bakery", feed, bid_strategy="cpm", bid_micros=3_000_000)
    advertiser_with_ad("Diner", feed, bid_strategy="cpc", bid_micros=400_000)
    publish()

    # when three seconds of live traffic run, and the consumer and spend posting do their rounds
    counts, output = live(*FAST, "--minutes", "0.05")
    services.consume_events()
    services.post_spend()

    # then every ad it reports was served, seen, clicked and converted exactly once in the event store
    assert "2 serveable ad(s)" in output
    assert counts["requests"] >= 50
    assert counts["filled"] == counts["impressions"] > 0  # one ad asked for, and the feed always has one to show
    assert Event.objects.filter(kind="serve").count() == counts["impressions"]
    assert Event.objects.filter(kind="impression", status="valid").count() == counts["impressions"]
    assert Event.objects.filter(kind="click").count() == counts["clicks"]
    assert Event.objects.filter(kind="conversion").count() == counts["conversions"]
    assert not Event.objects.filter(kind="conversion", value_micros__lt=5_000_000).exists()  # purchases of 5.00-80.00
    assert Event.objects.count() == Event.objects.values("event_id").distinct().count()
    # and what the event store charged is what the ledger holds as spend, to the micro
    cost = Event.objects.aggregate(total=Sum("cost_micros"))["total"]
    spend = -Transaction.objects.filter(kind=Kind.SPEND).aggregate(total=Sum("amount_micros"))["total"]
    assert cost == spend > 0


@pytest.mark.django_db(transaction=True)
def test_an_ad_created_while_the_traffic_runs_is_served_too():
    # given one advertiser on the feed, and a second placement with nothing on it yet
    feed = PlacementFactory(key="live-feed")
    search = PlacementFactory(key="live-search")
    advertiser_with_ad("Bakery", feed)
    publish()

    # when, a second into the traffic, another advertiser puts an ad on the search page (and beat compiles the index)
    def launch() -> None:
        try:
            advertiser_with_ad("Late Shop", search)
            publish()
        finally:
            connection.close()  # this thread's own connection, so the test database can be dropped at the end

    launching = threading.Timer(1.0, launch)
    launching.start()
    live(*FAST, "--minutes", "0.06")
    launching.join()
    services.consume_events()

    # then the new ad was shown, with a hidden CTR of its own, and charged like the others
    late = Ad.objects.get(display_name="Late Shop")
    assert Event.objects.filter(kind="impression", ad_id=late.pk, status="valid", cost_micros__gt=0).exists()
    assert 0.002 <= hidden_rates(7, late.pk)[0] <= 0.05


@pytest.mark.django_db
def test_without_placements_it_waits_and_stops_when_its_minutes_are_up():
    # given a platform with nothing in the index yet (beat has not compiled it)
    started = time.monotonic()

    # when the live traffic runs for a second
    counts, output = live("--minutes", "0.02")

    # then it said it is waiting, sent nothing, and stopped on time with its summary
    assert "no placement in the index yet" in output
    assert counts == {"requests": 0, "filled": 0, "impressions": 0, "clicks": 0, "conversions": 0}
    assert time.monotonic() - started < 5
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_sigterm_stops_the_traffic_cleanly_with_a_summary():
    # (pytest runs tests on the main thread, the only one a signal handler can be installed from)
    assert threading.current_thread() is threading.main_thread()
    # given a placement with an ad, and live traffic meant to run for a minute
    advertiser_with_ad("Bakery", PlacementFactory(key="live-feed"))
    publish()
    handler_before = signal.getsignal(signal.SIGTERM)
    stopping = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    started = time.monotonic()

    # when the process is sent SIGTERM (what honcho does on Ctrl-C) after a second
    stopping.start()
    counts, output = live(*FAST, "--minutes", "1")
    stopping.join()

    # then it stopped within moments, with a summary of what it did, and gave the signal back
    assert time.monotonic() - started < 5
    assert counts["impressions"] > 0
    assert output.strip().splitlines()[-1].startswith("live traffic stopped after 0 min 0")
    assert signal.getsignal(signal.SIGTERM) is handler_before
