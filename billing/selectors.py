"""Reads about money, tenant-scoped where users ask."""

from django.db.models import QuerySet, Sum
from django.http import Http404

from accounts.models import Advertiser, User
from accounts.selectors import advertisers_for

from .models import Balance, Invoice, Kind, TopUp, Transaction


def balance_micros(advertiser: Advertiser) -> int:
    """The advertiser's balance (the cached sum of its ledger)."""
    return Balance.objects.filter(advertiser=advertiser).values_list("balance_micros", flat=True).first() or 0


def spendable_from(*, balance: int, advertiser: Advertiser) -> int:
    """What may still be spent: the balance, plus the credit limit on a credit line."""
    if advertiser.billing_mode == Advertiser.BillingMode.CREDIT_LINE:
        return balance + advertiser.credit_limit_micros
    return balance


def spendable_micros(advertiser: Advertiser) -> int:
    """What the advertiser may still spend; delivery must stop when this reaches zero."""
    return spendable_from(balance=balance_micros(advertiser), advertiser=advertiser)


def ledger_sum_micros(advertiser: Advertiser) -> int:
    """The balance recomputed from every transaction (the truth the cache must equal)."""
    return Transaction.objects.filter(advertiser=advertiser).aggregate(total=Sum("amount_micros"))["total"] or 0


def refunded_micros(top_up: TopUp) -> int:
    """How much of a top-up has been refunded so far (a positive number)."""
    if top_up.transaction_id is None:
        return 0
    total = Transaction.objects.filter(refund_of_id=top_up.transaction_id).aggregate(total=Sum("amount_micros"))["total"]
    return -(total or 0)


def refundable_micros(top_up: TopUp) -> int:
    """The most a refund of this top-up may return: what is left of it, and never more than the balance."""
    if top_up.status != TopUp.Status.SUCCEEDED:
        return 0
    return max(0, min(top_up.amount_micros - refunded_micros(top_up), balance_micros(top_up.advertiser)))


def has_succeeded_top_up(advertiser: Advertiser) -> bool:
    return Transaction.objects.filter(advertiser=advertiser, kind=Kind.TOP_UP).exists()


def transactions_for(user: User) -> QuerySet[Transaction]:
    """Ledger rows of every advertiser `user` may see."""
    return Transaction.objects.filter(advertiser__in=advertisers_for(user)).select_related("advertiser", "campaign", "created_by")


def top_ups_for(user: User) -> QuerySet[TopUp]:
    return TopUp.objects.filter(advertiser__in=advertisers_for(user)).select_related("advertiser")


def invoices_for(user: User) -> QuerySet[Invoice]:
    return Invoice.objects.filter(advertiser__in=advertisers_for(user)).select_related("advertiser").prefetch_related("lines")


def invoice_get_for_user(*, user: User, invoice_id: int | str) -> Invoice:
    """The invoice if `user` may see it, else 404."""
    try:
        return invoices_for(user).get(pk=int(invoice_id))
    except (Invoice.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such invoice.") from exc


def top_up_get_for_user(*, user: User, top_up_id: int | str) -> TopUp:
    try:
        return top_ups_for(user).get(pk=int(top_up_id))
    except (TopUp.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such top-up.") from exc
