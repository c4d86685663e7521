"""A short simulator run on a small marketplace: the pacing targets hold, and the same seed gives the same report."""

import io
import json

import pytest
from django.core.management import call_command

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def simulate(tmp_path, **options):
    UserFactory(email="staff@adplatform.test", is_staff=True)
    out = io.StringIO()
    call_command("simulate", stdout=out, out=tmp_path, **options)
    return json.loads((tmp_path / "report.json").read_text()), out.getvalue()


def test_a_small_marketplace_is_paced_to_its_budgets(tmp_path):
    report, printed = simulate(tmp_path, days=2, advertisers=12, requests_per_day=20_000, seed=3, people=2000)
    summary = report["summary"]
    assert "budget utilisation" in printed
    assert summary["billed_over_budget_micros"] == 0
    assert summary["ad_group_days_limited_by_budget"] > 0
    assert 0.97 <= summary["budget_utilization"] <= 1.0
    assert summary["unbilled_overdelivery_ratio"] <= 0.005
    assert summary["max_curve_deviation"] <= 0.05
    assert (tmp_path / "curves.png").stat().st_size > 10_000
