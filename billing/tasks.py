"""Celery tasks for billing: thin wrappers over services."""

import logging

from celery import shared_task

from accounts.models import Advertiser

from . import services

logger = logging.getLogger(__name__)


@shared_task
def check_low_balance(advertiser_id: int) -> bool:
    """E-mail an advertiser's admins if its spendable amount fell below their alert."""
    advertiser = Advertiser.objects.filter(pk=advertiser_id).first()
    return advertiser is not None and services.low_balance_check(advertiser=advertiser)


@shared_task
def sweep_low_balances() -> int:
    """Check every advertiser with an alert set (catches what a lost message missed)."""
    sent = 0
    for advertiser in Advertiser.objects.filter(billing_profile__low_balance_threshold_micros__isnull=False):
        sent += services.low_balance_check(advertiser=advertiser)
    return sent


@shared_task
def check_ledger() -> int:
    """Prove cached balances equal the ledger's sums; log every mismatch loudly."""
    mismatches = services.ledger_check()
    for mismatch in mismatches:
        logger.error("Ledger mismatch for advertiser %s: cached %s, ledger %s", *vars(mismatch).values())
    return len(mismatches)


@shared_task
def issue_invoices() -> int:
    """Issue the invoices and statements of every month that has closed."""
    return len(services.invoices_issue_due())
