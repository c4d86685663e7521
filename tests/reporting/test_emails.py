"""E-mailed reports: sent once per closed period, in each advertiser's own day, with the CSV attached.

Events go into the event store and are rolled up as in production; e-mail goes to Django's locmem
outbox. Daily reports go out from 06:00 local for yesterday, weekly ones on Mondays for the week
before. Thursday 12 March 2026 is the reference day; 16 March 2026 is a Monday.
"""

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core import mail
from django_celery_beat.models import PeriodicTask

from accounts.models import Membership, Role
from adplatform import clock
from delivery import services as delivery_services
from reporting import emails, services, tasks
from reporting.models import ReportSubscription
from tests.factories import AdFactory, AdGroupFactory, AdvertiserFactory, CampaignFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def event(ad: Any, kind: str, at: datetime, *, cost: int = 0, user: str = "u1") -> list[str]:
    group = ad.ad_group
    return [
        at.isoformat(), str(uuid.uuid4()), kind, "valid", "", str(uuid.uuid4()), str(ad.pk), str(group.pk),
        str(group.campaign_id), str(group.campaign.advertiser_id), "feed", "DE", "mobile", user, "impression",
        str(cost), str(cost), "0", "", "",
    ]  # fmt: skip


def impressions(ad: Any, at: datetime, n: int, *, cost: int = 10_000) -> list[list[str]]:
    return [event(ad, "impression", at, cost=cost, user=f"u{i}") for i in range(n)]


def store(rows: list[list[str]], *, roll_up: bool = True) -> None:
    delivery_services.store_rows(rows)
    if roll_up:
        services.rollup()


def advertiser_with_ad(time_zone: str, name: str) -> tuple[Any, Any, Any]:
    """An advertiser in `time_zone` with one campaign named after it, one ad, and a member subscribed to nothing yet."""
    advertiser = AdvertiserFactory(name=name, time_zone=time_zone, currency="USD")
    ad = AdFactory(ad_group=AdGroupFactory(campaign=CampaignFactory(advertiser=advertiser, name=f"{name} campaign")))
    member = MembershipFactory(advertiser=advertiser, role=Role.ANALYST, user__email=f"{name.lower()}@example.com").user
    return advertiser, ad, member


def subscribe(advertiser: Any, user: Any, frequency: str = "daily") -> ReportSubscription:
    with clock.frozen(datetime(2026, 3, 1, tzinfo=UTC)):
        return emails.subscription_subscribe(actor=user, advertiser=advertiser, frequency=frequency)


def send_at(moment: datetime) -> int:
    with clock.frozen(moment):
        return emails.send_scheduled_reports()


def attachment_lines(message: Any) -> list[list[str]]:
    (_, content, mimetype), *_ = message.attachments
    assert mimetype == "text/csv"
    return list(csv.reader(io.StringIO(content.decode() if isinstance(content, bytes) else content)))


def test_a_daily_report_goes_out_once_after_6_local_for_yesterday():
    advertiser, ad, member = advertiser_with_ad("Europe/Berlin", "Bakery")
    store(
        impressions(ad, datetime(2026, 3, 11, 9, 0, tzinfo=UTC), 8) + impressions(ad, datetime(2026, 3, 12, 9, 0, tzinfo=UTC), 5)
    )
    subscription = subscribe(advertiser, member)

    assert send_at(datetime(2026, 3, 12, 4, 59, tzinfo=UTC)) == 0  # 05:59 in Berlin: not yet
    assert mail.outbox == []
    assert send_at(datetime(2026, 3, 12, 5, 7, tzinfo=UTC)) == 1  # 06:07 in Berlin

    (message,) = mail.outbox
    assert message.to == ["bakery@example.com"]
    assert message.subject == "Daily report \u00b7 Bakery \u00b7 Wednesday 11 March 2026"
    assert "daily report of Bakery for Wednesday 11 March 2026 (Europe/Berlin)" in message.body
    assert "Spend        0.08 USD" in message.body
    assert "Impressions  8\n" in message.body
    assert "- Bakery campaign: spend 0.08 USD, impressions 8, clicks 0" in message.body
    assert "http://testserver/reports/?range=custom&start_date=2026-03-11&end_date=2026-03-11" in message.body
    (name, _, _) = message.attachments[0]
    assert name == "report-bakery-campaign-2026-03-11-to-2026-03-11.csv"
    lines = attachment_lines(message)
    assert lines[0][:2] == ["campaign_id", "campaign_name"]
    assert lines[1][1] == "Bakery campaign"
    assert lines[-1][:4] == ["total", "", "8", "0"]  # the 5 impressions of the 12th are not in it
    subscription.refresh_from_db()
    assert subscription.last_sent_on.isoformat() == "2026-03-11"

    # Never twice for the same day, however often the task runs.
    assert send_at(datetime(2026, 3, 12, 6, 7, tzinfo=UTC)) == 0
    assert send_at(datetime(2026, 3, 12, 22, 7, tzinfo=UTC)) == 0
    assert len(mail.outbox) == 1
    # The next morning: the 12th.
    assert send_at(datetime(2026, 3, 13, 5, 7, tzinfo=UTC)) == 1
    assert attachment_lines(mail.outbox[1])[-1][2] == "5"


def test_each_advertiser_gets_its_own_yesterday_auckland_and_los_angeles():
    auckland, auckland_ad, kiwi = advertiser_with_ad("Pacific/Auckland", "Kiwi")
    los_angeles, la_ad, angeleno = advertiser_with_ad("America/Los_Angeles", "Angeleno")
    store(
        impressions(auckland_ad, datetime(2026, 3, 10, 10, 30, tzinfo=UTC), 3)  # 23:30 on the 10th in Auckland (NZDT, +13)
        + impressions(auckland_ad, datetime(2026, 3, 10, 11, 30, tzinfo=UTC), 7)  # 00:30 on the 11th in Auckland
        + impressions(la_ad, datetime(2026, 3, 11, 6, 30, tzinfo=UTC), 4)  # 23:30 on the 10th in Los Angeles (PDT since 8 March)
        + impressions(la_ad, datetime(2026, 3, 11, 7, 30, tzinfo=UTC), 9)  # 00:30 on the 11th in Los Angeles
    )
    subscribe(auckland, kiwi)
    subscribe(los_angeles, angeleno)

    # 18:30 UTC on the 11th: 07:30 on the 12th in Auckland, 11:30 on the 11th in Los Angeles.
    assert send_at(datetime(2026, 3, 11, 18, 30, tzinfo=UTC)) == 2

    sent = {message.to[0]: message for message in mail.outbox}
    assert "Wednesday 11 March 2026" in sent["kiwi@example.com"].subject
    assert attachment_lines(sent["kiwi@example.com"])[-1][2] == "7"
    assert "Tuesday 10 March 2026" in sent["angeleno@example.com"].subject
    assert attachment_lines(sent["angeleno@example.com"])[-1][2] == "4"
    assert {
        subscription.user.email: subscription.last_sent_on.isoformat() for subscription in ReportSubscription.objects.all()
    } == {
        "kiwi@example.com": "2026-03-11",
        "angeleno@example.com": "2026-03-10",
    }


def test_los_angeles_waits_for_its_own_6_am():
    advertiser, ad, member = advertiser_with_ad("America/Los_Angeles", "Angeleno")
    store(impressions(ad, datetime(2026, 3, 10, 20, 0, tzinfo=UTC), 2))
    subscribe(advertiser, member)

    assert send_at(datetime(2026, 3, 11, 12, 30, tzinfo=UTC)) == 0  # 05:30 PDT
    assert send_at(datetime(2026, 3, 11, 13, 30, tzinfo=UTC)) == 1  # 06:30 PDT


def test_a_weekly_report_covers_monday_to_sunday_and_goes_out_on_mondays():
    advertiser, ad, member = advertiser_with_ad("Europe/Berlin", "Bakery")
    store(
        impressions(ad, datetime(2026, 3, 8, 12, 0, tzinfo=UTC), 1)  # Sunday before: not in it
        + impressions(ad, datetime(2026, 3, 9, 12, 0, tzinfo=UTC), 2)  # Monday
        + impressions(ad, datetime(2026, 3, 15, 22, 30, tzinfo=UTC), 3)  # 23:30 on Sunday the 15th in Berlin
        + impressions(ad, datetime(2026, 3, 15, 23, 30, tzinfo=UTC), 4)  # 00:30 on Monday the 16th: not in it
    )
    subscription = subscribe(advertiser, member, "weekly")

    assert send_at(datetime(2026, 3, 14, 10, 0, tzinfo=UTC)) == 0  # a Saturday
    assert send_at(datetime(2026, 3, 16, 5, 10, tzinfo=UTC)) == 1  # Monday 06:10 in Berlin

    (message,) = mail.outbox
    assert message.subject == "Weekly report \u00b7 Bakery \u00b7 9\u201315 March 2026"
    assert attachment_lines(message)[-1][2] == "5"
    subscription.refresh_from_db()
    assert subscription.last_sent_on.isoformat() == "2026-03-15"
    assert send_at(datetime(2026, 3, 16, 20, 10, tzinfo=UTC)) == 0
    assert send_at(datetime(2026, 3, 17, 5, 10, tzinfo=UTC)) == 0  # Tuesday
    assert len(mail.outbox) == 1


def test_a_period_without_delivery_still_gets_its_report():
    advertiser, _, member = advertiser_with_ad("Europe/Berlin", "Quiet")
    subscribe(advertiser, member)

    assert send_at(datetime(2026, 3, 12, 6, 0, tzinfo=UTC)) == 1

    assert "Nothing was delivered in this period" in mail.outbox[0].body
    assert attachment_lines(mail.outbox[0])[-1][:4] == ["total", "", "0", "0"]


def test_members_who_lost_access_get_nothing_and_their_subscription_goes():
    advertiser, ad, member = advertiser_with_ad("Europe/Berlin", "Bakery")
    leaver = MembershipFactory(advertiser=advertiser, user__email="leaver@example.com").user
    disabled = MembershipFactory(advertiser=advertiser, user__email="disabled@example.com").user
    store(impressions(ad, datetime(2026, 3, 11, 9, 0, tzinfo=UTC), 8))
    for user in (member, leaver, disabled):
        subscribe(advertiser, user)
    Membership.objects.filter(user=leaver).delete()
    disabled.is_active = False
    disabled.save()

    assert send_at(datetime(2026, 3, 12, 6, 0, tzinfo=UTC)) == 1

    assert [message.to for message in mail.outbox] == [["bakery@example.com"]]
    assert list(ReportSubscription.objects.values_list("user__email", flat=True)) == ["bakery@example.com"]


def test_agency_members_get_their_clients_reports(tenancy):
    ad = AdFactory(ad_group=AdGroupFactory(campaign=CampaignFactory(advertiser=tenancy.client_a1)))
    store(impressions(ad, datetime(2026, 3, 11, 9, 0, tzinfo=UTC), 2))
    subscribe(tenancy.client_a1, tenancy.agent_a)

    assert send_at(datetime(2026, 3, 12, 6, 0, tzinfo=UTC)) == 1
    assert mail.outbox[0].to == ["agent.a@example.com"]


def test_nobody_may_subscribe_to_an_advertiser_they_cannot_see(tenancy):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        emails.subscription_subscribe(actor=tenancy.agent_b, advertiser=tenancy.bakery, frequency="daily")

    assert ReportSubscription.objects.count() == 0


def test_a_report_waits_while_the_rollups_are_behind():
    advertiser, ad, member = advertiser_with_ad("Europe/Berlin", "Bakery")
    store(impressions(ad, datetime(2026, 3, 11, 9, 0, tzinfo=UTC), 8))
    store(impressions(ad, datetime(2026, 3, 11, 20, 0, tzinfo=UTC), 2), roll_up=False)  # stored, not counted yet
    subscription = subscribe(advertiser, member)

    assert send_at(datetime(2026, 3, 12, 6, 0, tzinfo=UTC)) == 0
    assert mail.outbox == []

    services.rollup()
    assert send_at(datetime(2026, 3, 12, 7, 0, tzinfo=UTC)) == 1
    assert attachment_lines(mail.outbox[0])[-1][2] == "10"
    subscription.refresh_from_db()
    assert subscription.last_sent_on.isoformat() == "2026-03-11"


def test_a_failed_send_is_tried_again_next_hour(monkeypatch):
    advertiser, ad, member = advertiser_with_ad("Europe/Berlin", "Bakery")
    other, _, other_member = advertiser_with_ad("Europe/Berlin", "Other")
    store(impressions(ad, datetime(2026, 3, 11, 9, 0, tzinfo=UTC), 8))
    subscription = subscribe(advertiser, member)
    subscribe(other, other_member)
    real_send = mail.EmailMessage.send

    def flaky(message: Any, *args: Any, **kwargs: Any) -> int:
        if message.to == ["bakery@example.com"]:
            raise ConnectionError("SMTP server went away")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(mail.EmailMessage, "send", flaky)
    assert send_at(datetime(2026, 3, 12, 6, 0, tzinfo=UTC)) == 1  # the other advertiser's still went out

    subscription.refresh_from_db()
    assert subscription.last_sent_on is None
    assert [message.to for message in mail.outbox] == [["other@example.com"]]

    monkeypatch.setattr(mail.EmailMessage, "send", real_send)
    assert send_at(datetime(2026, 3, 12, 7, 0, tzinfo=UTC)) == 1
    assert [message.to for message in mail.outbox] == [["other@example.com"], ["bakery@example.com"]]


def test_a_period_claimed_by_another_worker_is_not_sent_again():
    advertiser, _, member = advertiser_with_ad("Europe/Berlin", "Bakery")
    subscription = subscribe(advertiser, member)
    stale = ReportSubscription.objects.get(pk=subscription.pk)
    ReportSubscription.objects.filter(pk=subscription.pk).update(last_sent_on=datetime(2026, 3, 11, tzinfo=UTC).date())

    with clock.frozen(datetime(2026, 3, 12, 6, 0, tzinfo=UTC)):
        sent = emails.report_send(subscription=stale, start=stale.created_at.date(), end=datetime(2026, 3, 11, tzinfo=UTC).date())

    assert sent is False
    assert mail.outbox == []


def test_the_task_sends_and_its_hourly_schedule_is_installed():
    advertiser, _, member = advertiser_with_ad("Europe/Berlin", "Bakery")
    subscribe(advertiser, member)

    with clock.frozen(datetime(2026, 3, 12, 6, 0, tzinfo=UTC)):
        assert tasks.send_scheduled_reports.delay().get() == 1

    assert len(mail.outbox) == 1
    schedule = PeriodicTask.objects.get(task="reporting.tasks.send_scheduled_reports")
    assert (schedule.queue, schedule.enabled, schedule.crontab.minute, schedule.crontab.hour) == ("reporting", True, "7", "*")
