"""billing low-balance alerts: one e-mail per crossing below the threshold, re-armed when the balance recovers."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import Advertiser, Role
from adplatform import clock
from billing import services, tasks
from billing.models import BillingProfile, TopUp
from tests.factories import AdvertiserFactory, MembershipFactory

MOMENT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
UNIT = 1_000_000  # micros in 1.00


# --- fixtures and helpers ----------------------------------------------------------------------


def profiles() -> list[tuple]:
    return list(
        BillingProfile.objects.order_by("pk").values_list(
            "advertiser_id", "low_balance_threshold_micros", "low_balance_alerted_at"
        )
    )


def fund(tenancy, amount, key):
    """Money coming in, with the on-commit work (signal, eager alert task) run as after a real commit."""
    services.top_up(
        actor=tenancy.owner, advertiser=tenancy.bakery, amount_micros=amount, payment_method="pm_card_visa", idempotency_key=key
    )


def spend(advertiser, amount, key):
    services.record_spend(advertiser=advertiser, amount_micros=amount, idempotency_key=key)


@pytest.fixture(autouse=True)
def _sandbox_gateway(settings):
    """Top-ups here go through the sandbox even if the environment carries Stripe keys: no network in tests."""
    settings.STRIPE_SECRET_KEY = ""


@pytest.fixture
def alert_at_50(tenancy):
    return services.billing_profile_update(actor=tenancy.owner, advertiser=tenancy.bakery, low_balance_threshold_micros=50 * UNIT)


# --- billing_profile_update --------------------------------------------------------------------


def test_billing_profile_update_sets_and_clears_the_threshold(tenancy):
    profile = services.billing_profile_update(
        actor=tenancy.owner, advertiser=tenancy.bakery, low_balance_threshold_micros=25 * UNIT
    )
    assert profiles() == [(tenancy.bakery.pk, 25 * UNIT, None)]

    BillingProfile.objects.filter(pk=profile.pk).update(low_balance_alerted_at=MOMENT)
    services.billing_profile_update(actor=tenancy.owner, advertiser=tenancy.bakery, low_balance_threshold_micros=None)

    assert profiles() == [(tenancy.bakery.pk, None, None)]


@pytest.mark.parametrize("threshold", [0, -1, 10**15 + 1])
def test_billing_profile_update_refuses_a_threshold_out_of_range(tenancy, threshold):
    before = profiles()

    with pytest.raises(ValidationError) as refused:
        services.billing_profile_update(actor=tenancy.owner, advertiser=tenancy.bakery, low_balance_threshold_micros=threshold)

    assert refused.value.message_dict == {
        "low_balance_threshold": ["Enter an amount above zero, or leave it empty for no alert."]
    }
    assert profiles() == before


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ANALYST])
def test_only_admins_set_the_alert(tenancy, role):
    member = MembershipFactory(advertiser=tenancy.bakery, user__email=f"new.{role}@example.com", role=role).user

    with pytest.raises(PermissionDenied):
        services.billing_profile_update(actor=member, advertiser=tenancy.bakery, low_balance_threshold_micros=UNIT)

    assert profiles() == []


# --- low_balance_check -------------------------------------------------------------------------


def test_no_alert_without_a_profile_or_a_threshold(tenancy, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert services.low_balance_check(advertiser=tenancy.bakery) is False
        services.billing_profile_update(actor=tenancy.owner, advertiser=tenancy.bakery, low_balance_threshold_micros=None)
        assert services.low_balance_check(advertiser=tenancy.bakery) is False

    assert mailoutbox == []
    assert profiles() == [(tenancy.bakery.pk, None, None)]


def test_one_email_when_spendable_falls_below_the_threshold(tenancy, alert_at_50, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        fund(tenancy, 100 * UNIT, "t1")
    assert [mail.subject for mail in mailoutbox] == [f"Adplatform receipt {TopUp.objects.get().receipt_number}: 100.00 EUR"]
    mailoutbox.clear()

    with clock.frozen(MOMENT), django_capture_on_commit_callbacks(execute=True):
        spend(tenancy.bakery, 50 * UNIT, "s1")  # exactly at the threshold: not below it
    assert mailoutbox == []

    with clock.frozen(MOMENT), django_capture_on_commit_callbacks(execute=True):
        spend(tenancy.bakery, 10_500_000, "s2")

    assert [(mail.subject, mail.to, mail.body) for mail in mailoutbox] == [
        (
            "Low balance: Bakery has 39.50 EUR left",
            ["owner@example.com"],
            (
                "Bakery has 39.50 EUR left to spend, below your alert at 50.00 EUR.\n\n"
                "Top up on the Billing page so your ads keep running: they stop when nothing is left."
            ),
        )
    ]
    assert profiles() == [(tenancy.bakery.pk, 50 * UNIT, MOMENT)]


def test_no_second_email_until_the_balance_recovers(tenancy, alert_at_50, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        fund(tenancy, 100 * UNIT, "t1")
    with clock.frozen(MOMENT), django_capture_on_commit_callbacks(execute=True):
        spend(tenancy.bakery, 60 * UNIT, "s1")
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        spend(tenancy.bakery, 30 * UNIT, "s2")
        spend(tenancy.bakery, 15 * UNIT, "s3")
        fund(tenancy, 5 * UNIT, "t2")  # money in, but still below the threshold: still warned
    assert tasks.sweep_low_balances.delay().get() == 0

    assert [mail.subject for mail in mailoutbox if mail.subject.startswith("Low balance")] == []
    assert len(mailoutbox) == 1  # the receipt of the 5.00 top-up
    assert profiles() == [(tenancy.bakery.pk, 50 * UNIT, MOMENT)]


def test_money_coming_in_re_arms_the_alert(tenancy, alert_at_50, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        fund(tenancy, 100 * UNIT, "t1")
    with clock.frozen(MOMENT), django_capture_on_commit_callbacks(execute=True):
        spend(tenancy.bakery, 60 * UNIT, "s1")

    with django_capture_on_commit_callbacks(execute=True):
        fund(tenancy, 10 * UNIT, "t2")  # back to exactly 50.00
    assert profiles() == [(tenancy.bakery.pk, 50 * UNIT, None)]
    mailoutbox.clear()

    later = datetime(2026, 3, 12, 8, 0, tzinfo=UTC)
    with clock.frozen(later), django_capture_on_commit_callbacks(execute=True):
        spend(tenancy.bakery, 45 * UNIT, "s2")

    assert [mail.subject for mail in mailoutbox] == ["Low balance: Bakery has 5.00 EUR left"]
    assert profiles() == [(tenancy.bakery.pk, 50 * UNIT, later)]


def test_the_alert_says_nothing_is_left_when_spend_went_below_zero(
    tenancy, alert_at_50, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        spend(tenancy.bakery, 2 * UNIT, "s1")

    assert [mail.subject for mail in mailoutbox] == ["Low balance: Bakery has 0.00 EUR left"]


def test_a_credit_line_is_warned_on_balance_plus_credit_limit(db, mailoutbox, django_capture_on_commit_callbacks):
    client = AdvertiserFactory(
        name="Northwind", currency="USD", billing_mode=Advertiser.BillingMode.CREDIT_LINE, credit_limit_micros=1_000 * UNIT
    )
    admin = MembershipFactory(advertiser=client, user__email="cfo@northwind.example").user
    operator = MembershipFactory(advertiser=client, user__email="ops@northwind.example", role=Role.OPERATOR).user
    services.billing_profile_update(actor=admin, advertiser=client, low_balance_threshold_micros=100 * UNIT)

    with django_capture_on_commit_callbacks(execute=True):
        spend(client, 900 * UNIT, "s1")  # spendable 100.00: not below
    assert mailoutbox == []

    with django_capture_on_commit_callbacks(execute=True):
        spend(client, 1, "s2")

    assert [(mail.subject, mail.to) for mail in mailoutbox] == [
        ("Low balance: Northwind has 99.999999 USD left", [admin.email, operator.email])
    ]


def test_an_agency_client_warns_the_agency_team(tenancy, mailoutbox, django_capture_on_commit_callbacks):
    services.billing_profile_update(actor=tenancy.agent_a, advertiser=tenancy.client_a1, low_balance_threshold_micros=10 * UNIT)

    with django_capture_on_commit_callbacks(execute=True):
        spend(tenancy.client_a1, UNIT, "s1")

    assert [(mail.subject, mail.to) for mail in mailoutbox] == [
        ("Low balance: Client A1 has 0.00 EUR left", ["agent.a@example.com"])
    ]


def test_an_advertiser_without_recipients_is_marked_warned_without_mail(db, mailoutbox, django_capture_on_commit_callbacks):
    lonely = AdvertiserFactory(name="Lonely")
    BillingProfile.objects.create(advertiser=lonely, low_balance_threshold_micros=10 * UNIT)

    with clock.frozen(MOMENT), django_capture_on_commit_callbacks(execute=True):
        assert services.low_balance_check(advertiser=lonely) is True

    assert mailoutbox == []
    assert profiles() == [(lonely.pk, 10 * UNIT, MOMENT)]


# --- the tasks, run eagerly --------------------------------------------------------------------


def test_check_low_balance_task_sends_once(tenancy, alert_at_50, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = tasks.check_low_balance.delay(tenancy.bakery.pk).get()
        second = tasks.check_low_balance.delay(tenancy.bakery.pk).get()

    assert (first, second) == (True, False)
    assert [mail.subject for mail in mailoutbox] == ["Low balance: Bakery has 0.00 EUR left"]


def test_check_low_balance_task_ignores_an_unknown_advertiser(db, mailoutbox):
    assert tasks.check_low_balance.delay(987_654).get() is False
    assert mailoutbox == []


def test_sweep_low_balances_catches_every_advertiser_below_its_alert(tenancy, mailoutbox, django_capture_on_commit_callbacks):
    for advertiser, actor in [
        (tenancy.bakery, tenancy.owner),
        (tenancy.client_a1, tenancy.agent_a),
        (tenancy.client_a2, tenancy.agent_a),
    ]:
        services.billing_profile_update(actor=actor, advertiser=advertiser, low_balance_threshold_micros=10 * UNIT)
    services.top_up(actor=tenancy.agent_a, advertiser=tenancy.client_a2, amount_micros=20 * UNIT, payment_method="pm_card_visa")

    with django_capture_on_commit_callbacks(execute=True):
        sent = tasks.sweep_low_balances.delay().get()
        sent_again = tasks.sweep_low_balances.delay().get()

    assert (sent, sent_again) == (2, 0)
    assert sorted(mail.subject for mail in mailoutbox) == [
        "Low balance: Bakery has 0.00 EUR left",
        "Low balance: Client A1 has 0.00 EUR left",
    ]
