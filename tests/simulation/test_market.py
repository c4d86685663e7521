"""The simulated marketplace's new ad groups: each starts serving at its own advertiser's first local midnight of the run."""

import random
from datetime import UTC, datetime

import pytest

from campaigns.models import AdGroup
from simulation.market import Market, add_newcomers
from tests.factories import AdGroupFactory

START = datetime(2031, 3, 3, tzinfo=UTC)


@pytest.mark.django_db
def test_new_ad_groups_start_at_their_advertisers_first_local_midnight_of_the_run():
    zones = ("UTC", "Asia/Tokyo", "America/New_York", "Europe/Berlin")
    groups = {
        zone: AdGroupFactory(campaign__advertiser__time_zone=zone, start_time=datetime(2031, 3, 1, tzinfo=UTC)) for zone in zones
    }
    market = Market("run", {}, [], [group.pk for group in groups.values()], {}, {})

    add_newcomers(market, share=1.0, start=START, rng=random.Random(1))

    # 2031-03-03 00:00 UTC is already 09:00 in Tokyo and 01:00 in Berlin (their first whole day is
    # the 4th), and still the 2nd's evening in New York (its first whole day is the 3rd).
    first = {zone: market.first_days[group.pk] for zone, group in groups.items()}
    assert first == {
        "UTC": "2031-03-03",
        "Asia/Tokyo": "2031-03-04",
        "America/New_York": "2031-03-03",
        "Europe/Berlin": "2031-03-04",
    }
    starts = {zone: AdGroup.objects.get(pk=group.pk).start_time for zone, group in groups.items()}
    assert starts == {
        "UTC": datetime(2031, 3, 3, tzinfo=UTC),
        "Asia/Tokyo": datetime(2031, 3, 3, 15, tzinfo=UTC),
        "America/New_York": datetime(2031, 3, 3, 5, tzinfo=UTC),
        "Europe/Berlin": datetime(2031, 3, 3, 23, tzinfo=UTC),
    }


@pytest.mark.django_db
def test_a_share_of_newcomers_picks_that_share_of_the_ad_groups_and_leaves_the_rest_serving():
    groups = AdGroupFactory.create_batch(10, start_time=datetime(2031, 3, 1, tzinfo=UTC))
    market = Market("run", {}, [], [group.pk for group in groups], {}, {})

    add_newcomers(market, share=0.3, start=START, rng=random.Random(1))

    assert len(market.first_days) == 3
    unchanged = AdGroup.objects.exclude(pk__in=market.first_days).values_list("start_time", flat=True)
    assert set(unchanged) == {datetime(2031, 3, 1, tzinfo=UTC)}
