"""E-mailed reports: who subscribed, and the hourly send of daily and weekly campaign reports.

A report goes out once its period has closed in the advertiser's time zone, from 06:00 local
(the rollups and the day's close have run by then): yesterday's for a daily subscription, last
Monday to Sunday's for a weekly one (on Mondays). `last_sent_on` keeps the last day a report
covered, claimed with one conditional UPDATE before sending, so a period is never e-mailed twice,
even by two workers at once. Only members who still have access to the advertiser get one.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage
from django.db import connection
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import slugify

from accounts.models import Advertiser, User
from accounts.selectors import role_for
from adplatform import clock, money

from . import selectors, services
from .models import ReportSubscription, RollupWatermark
from .query import ReportQuery, parse

logger = logging.getLogger(__name__)

SEND_FROM_HOUR = 6  # local time: the day closed at midnight, its rollups are final well before
TOP_CAMPAIGNS = 5
EMAIL_METRICS = ("impressions", "clicks", "ctr", "spend", "cpm", "cpc", "conversions", "cpa", "conversion_value", "roas")
Frequency = ReportSubscription.Frequency
EN_DASH = "\N{EN DASH}"


# --- subscriptions ----------------------------------------------------------------------------------


def subscription_subscribe(*, actor: User, advertiser: Advertiser, frequency: str) -> ReportSubscription:
    """Send `actor` the advertiser's campaign report daily or weekly (again subscribing changes nothing)."""
    if role_for(user=actor, advertiser=advertiser) is None:
        raise PermissionDenied("You have no access to this advertiser's reports.")
    subscription, _ = ReportSubscription.objects.get_or_create(
        advertiser=advertiser, user=actor, frequency=Frequency(frequency), defaults={"created_at": clock.now()}
    )
    return subscription


def subscription_cancel(*, actor: User, advertiser: Advertiser, frequency: str) -> bool:
    """Stop `actor`'s daily or weekly report of the advertiser; whether there was one."""
    deleted, _ = ReportSubscription.objects.filter(advertiser=advertiser, user=actor, frequency=Frequency(frequency)).delete()
    return bool(deleted)


# --- which period is due ------------------------------------------------------------------------------


def report_period(frequency: str, local_now: datetime) -> tuple[date, date] | None:
    """The closed period a report is due for at `local_now` (the advertiser's wall clock), or None yet."""
    if local_now.hour < SEND_FROM_HOUR:
        return None
    today = local_now.date()
    if frequency == Frequency.DAILY:
        yesterday = today - timedelta(days=1)
        return yesterday, yesterday
    if frequency == Frequency.WEEKLY and today.weekday() == 0:
        return today - timedelta(days=7), today - timedelta(days=1)
    return None


def _still_member(subscription: ReportSubscription) -> bool:
    user = subscription.user
    return user.is_active and role_for(user=user, advertiser=subscription.advertiser) is not None


def uncounted_since() -> datetime | None:
    """When the oldest event the rollups have not counted yet happened (None: they have counted all)."""
    seq = RollupWatermark.objects.filter(name=services.WATERMARK).values_list("seq", flat=True).first() or 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(occurred_at) FROM delivery_event WHERE seq > %s", [seq])
        return cursor.fetchone()[0]


def send_scheduled_reports() -> int:
    """E-mail every report whose period has closed and was not sent yet; returns how many went out.

    A period whose events the rollups have not all counted (they are behind) waits for a later run.
    """
    now = clock.now()
    behind_from = uncounted_since()
    # A report is due only if it covers a day after last_sent_on, and no advertiser's yesterday is
    # later than UTC's today: the ones sent up to today need no look.
    candidates = (
        ReportSubscription.objects.filter(Q(last_sent_on__isnull=True) | Q(last_sent_on__lt=now.date()))
        .select_related("advertiser", "user")
        .order_by("pk")
    )
    sent = 0
    for subscription in candidates.iterator(chunk_size=500):
        period = report_period(subscription.frequency, now.astimezone(ZoneInfo(subscription.advertiser.time_zone)))
        if period is None or (subscription.last_sent_on is not None and subscription.last_sent_on >= period[1]):
            continue
        if behind_from is not None and behind_from < services.utc_bounds(subscription.advertiser.time_zone, *period)[1]:
            continue
        if not _still_member(subscription):
            logger.info("Dropping report subscription %s: %s has no access any more", subscription.pk, subscription.user_id)
            subscription.delete()
            continue
        try:
            sent += report_send(subscription=subscription, start=period[0], end=period[1])
        except Exception:  # one broken report must not hold up everyone else's; it is tried again next hour
            logger.exception("Report subscription %s: sending %s..%s failed", subscription.pk, *period)
    return sent


def report_send(*, subscription: ReportSubscription, start: date, end: date) -> bool:
    """Claim the period on the subscription and e-mail its report; False if it was already sent."""
    previous = subscription.last_sent_on
    claimed = (
        ReportSubscription.objects.filter(pk=subscription.pk)
        .filter(Q(last_sent_on__isnull=True) | Q(last_sent_on__lt=end))
        .update(last_sent_on=end)
    )
    if not claimed:
        return False
    try:
        report_message(subscription=subscription, start=start, end=end).send()
    except Exception:
        # Give the period back so the next run tries again.
        ReportSubscription.objects.filter(pk=subscription.pk, last_sent_on=end).update(last_sent_on=previous)
        raise
    subscription.last_sent_on = end
    return True


# --- the message -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    label: str
    value: str


def _count(value: int | None) -> str:
    return f"{value or 0:,}"


def _amount(micros: int | None, currency: str) -> str:
    return "—" if micros is None else f"{money.format_amount(micros)} {currency}"


def _percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.2f}%"


def summary(values: dict[str, Any], currency: str) -> list[Figure]:
    """The headline figures of a report's totals (or of one row), as the e-mail and the dashboard word them."""
    return [
        Figure("Spend", _amount(values.get("spend"), currency)),
        Figure("Impressions", _count(values.get("impressions"))),
        Figure("Clicks", _count(values.get("clicks"))),
        Figure("CTR", _percent(values.get("ctr"))),
        Figure("Conversions", _count(values.get("conversions"))),
        Figure("CPA", _amount(values.get("cpa"), currency)),
    ]


def period_text(start: date, end: date) -> str:
    """Monday 9 March 2026, or 2-8 March 2026, or 23 February-1 March 2026 (with an en dash)."""
    if start == end:
        return f"{start:%A} {start.day} {start:%B %Y}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}{EN_DASH}{end.day} {end:%B %Y}"
    if start.year == end.year:
        return f"{start.day} {start:%B} {EN_DASH} {end.day} {end:%B %Y}"
    return f"{start.day} {start:%B %Y} {EN_DASH} {end.day} {end:%B %Y}"


def csv_filename(advertiser: Advertiser, query: ReportQuery) -> str:
    """report-<advertiser>-<level>-<first day>-to-<last day>.csv"""
    name = slugify(advertiser.name)[:40] or f"advertiser-{advertiser.pk}"
    return f"report-{name}-{query.level.replace('_', '-')}-{query.start:%Y-%m-%d}-to-{query.end:%Y-%m-%d}.csv"


def report_message(*, subscription: ReportSubscription, start: date, end: date) -> EmailMessage:
    """The e-mail of one report: a short summary in the body, every campaign's row in the attached CSV."""
    advertiser = subscription.advertiser
    query = parse(
        {
            "level": subscription.level or "campaign",
            "metrics": ",".join(EMAIL_METRICS),
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "ordering": "-spend",
        },
        today=end + timedelta(days=1),
    )
    report = selectors.run_report(advertiser, query, paged=False)
    name_key = f"{query.level}_name"
    top = [
        (row[name_key] or f"#{row[f'{query.level}_id']}", summary(row, advertiser.currency))
        for row in report.rows[:TOP_CAMPAIGNS]
    ]
    site = settings.SITE_URL.rstrip("/")
    frequency = Frequency(subscription.frequency)
    context = {
        "advertiser": advertiser,
        "frequency": frequency.label.split(" ")[0].lower(),
        "period": period_text(start, end),
        "figures": summary(report.totals, advertiser.currency),
        "top": top,
        "more_rows": max(len(report.rows) - TOP_CAMPAIGNS, 0),
        "level_name": query.level.replace("_", " "),
        "report_url": f"{site}{reverse('reports:overview')}?"
        + urlencode({"range": "custom", "start_date": start.isoformat(), "end_date": end.isoformat()}),
        "manage_url": f"{site}{reverse('reports:overview')}#email-reports",
        "has_data": bool(report.rows),
    }
    kind = "Daily" if frequency == Frequency.DAILY else "Weekly"
    message = EmailMessage(
        subject=f"{kind} report · {advertiser.name} · {period_text(start, end)}",
        body=render_to_string("reporting/email/report.txt", context),
        to=[subscription.user.email],
    )
    message.attach(csv_filename(advertiser, query), services.report_csv(report), "text/csv")
    return message
