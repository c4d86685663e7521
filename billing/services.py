"""Every movement of money. The ledger is append-only; the cached balance moves with it under a row lock.

`_post` is the only place that writes a `Transaction`. It locks the advertiser's `Balance` row,
returns the existing transaction for a repeated idempotency key, and otherwise inserts the row
and moves the balance in the same database transaction. Listeners (delivery's balance guard, the
low-balance alert) hear about it after commit.
"""

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from accounts.models import Advertiser, Currency, Role, User
from accounts.selectors import currency_of, notification_emails
from accounts.services import require_role
from adplatform import clock, money
from campaigns.models import Campaign

from . import selectors
from .gateways import ChargeResult, get_gateway
from .models import Balance, BillingProfile, Invoice, InvoiceLine, Kind, PromoCode, Redemption, TopUp, Transaction
from .signals import ledger_changed

logger = logging.getLogger(__name__)


class PaymentDeclinedError(Exception):
    """The gateway refused the payment; `code` says why (card_declined, expired_card, ...)."""

    def __init__(self, top_up: TopUp) -> None:
        super().__init__(top_up.failure_message or "The payment was declined.")
        self.top_up = top_up
        self.code = top_up.failure_code or "card_declined"


class IdempotencyConflictError(Exception):
    """The idempotency key was already used for a different request."""


def _fraction_of_a_coin(amount_micros: int, currency: str) -> str:
    """The refusal message when the amount is not whole minor units of `currency` (cents, yen ...), else ""."""
    try:
        money.to_minor_units(amount_micros, currency)
    except money.MoneyError as exc:
        return str(exc)
    return ""


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def _require_staff(user: User) -> None:
    if not user.is_staff:
        raise PermissionDenied("Only platform staff can do this.")


# --- the ledger ------------------------------------------------------------------------------


def _locked_balance(advertiser: Advertiser) -> Balance:
    Balance.objects.get_or_create(advertiser=advertiser)
    return Balance.objects.select_for_update().get(advertiser=advertiser)


def _announce(advertiser: Advertiser) -> None:
    def send() -> None:
        balance = selectors.balance_micros(advertiser)
        ledger_changed.send(
            sender=Transaction,
            advertiser_id=advertiser.pk,
            balance_micros=balance,
            spendable_micros=selectors.spendable_from(balance=balance, advertiser=advertiser),
        )
        from .tasks import check_low_balance

        check_low_balance.delay(advertiser.pk)

    transaction.on_commit(send)


@transaction.atomic
def _post(
    *,
    advertiser: Advertiser,
    kind: str,
    amount_micros: int,
    idempotency_key: str,
    reference: str = "",
    reason: str = "",
    campaign: Campaign | None = None,
    refund_of: Transaction | None = None,
    created_by: User | None = None,
    at: datetime | None = None,
) -> tuple[Transaction, bool]:
    """Append one transaction and move the cached balance; a repeated key returns the first one."""
    balance = _locked_balance(advertiser)
    existing = Transaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if (existing.advertiser_id, existing.kind, existing.amount_micros) != (advertiser.pk, kind, amount_micros):
            raise IdempotencyConflictError(f"The key {idempotency_key} was already used for a different transaction.")
        return existing, False
    new_balance = balance.balance_micros + amount_micros
    try:
        with transaction.atomic():
            created = Transaction.objects.create(
                advertiser=advertiser,
                kind=kind,
                amount_micros=amount_micros,
                currency=advertiser.currency,
                balance_after_micros=new_balance,
                idempotency_key=idempotency_key,
                reference=reference[:200],
                reason=reason,
                campaign=campaign,
                refund_of=refund_of,
                created_by=created_by,
                created_at=at or clock.now(),
            )
    except IntegrityError:  # the same key, posted concurrently for another advertiser's lock
        existing = Transaction.objects.get(idempotency_key=idempotency_key)
        if (existing.advertiser_id, existing.kind, existing.amount_micros) != (advertiser.pk, kind, amount_micros):
            raise IdempotencyConflictError(f"The key {idempotency_key} was already used for a different transaction.") from None
        return existing, False
    Balance.objects.filter(pk=balance.pk).update(balance_micros=F("balance_micros") + amount_micros, updated_at=clock.now())
    _announce(advertiser)
    return created, True


def record_spend(
    *,
    advertiser: Advertiser,
    amount_micros: int,
    idempotency_key: str,
    campaign: Campaign | None = None,
    reference: str = "",
    at: datetime | None = None,
) -> Transaction:
    """The one way ad spend enters the ledger; safe to call again and again with the same key.

    Spend is money already delivered, so it is always recorded. Delivery's guard charges only
    within the spendable amount; if the ledger ever went below it, the overdraft is logged.
    """
    if amount_micros <= 0:
        raise ValidationError({"amount": ["Spend is a positive amount of cost."]})
    if campaign is not None and campaign.advertiser_id != advertiser.pk:
        raise ValidationError({"campaign": ["The campaign belongs to another advertiser."]})
    posted, created = _post(
        advertiser=advertiser,
        kind=Kind.SPEND,
        amount_micros=-amount_micros,
        idempotency_key=idempotency_key,
        reference=reference,
        campaign=campaign,
        at=at,
    )
    if created and selectors.spendable_from(balance=posted.balance_after_micros, advertiser=advertiser) < 0:
        logger.warning("Spend %s took advertiser %s below its spendable amount", posted.pk, advertiser.pk)
    return posted


@transaction.atomic
def adjustment_post(*, staff: User, advertiser: Advertiser, amount_micros: int, reason: str) -> Transaction:
    """A staff correction, up or down, with the reason on record."""
    _require_staff(staff)
    errors: dict[str, list[str]] = {}
    if amount_micros == 0:
        errors["amount"] = ["An adjustment moves some money: enter a non-zero amount."]
    elif abs(amount_micros) > money.MAX_AMOUNT_MICROS:
        errors["amount"] = ["This amount is too large."]
    if not reason.strip():
        errors["reason"] = ["Say why: the advertiser and auditors read it."]
    _raise_if(errors)
    key = f"adjustment:{advertiser.pk}:{uuid.uuid4()}"  # every staff adjustment is its own movement
    posted, _ = _post(
        advertiser=advertiser,
        kind=Kind.ADJUSTMENT,
        amount_micros=amount_micros,
        idempotency_key=key,
        reason=reason.strip(),
        created_by=staff,
    )
    return posted


# --- top-ups ---------------------------------------------------------------------------------


def minimum_top_up_micros(currency: Currency) -> int:
    return currency.min_daily_budget_micros * settings.MIN_TOP_UP_DAILY_BUDGETS


def _top_up_errors(*, advertiser: Advertiser, amount_micros: int, payment_method: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    currency = currency_of(advertiser)
    minimum = minimum_top_up_micros(currency)
    if amount_micros < minimum:
        errors["amount"] = [f"The smallest top-up is {money.format_amount(minimum)} {currency.code}."]
    elif amount_micros > settings.MAX_TOP_UP_MICROS:
        errors["amount"] = [f"The largest top-up is {money.format_amount(settings.MAX_TOP_UP_MICROS)} {currency.code}."]
    else:
        try:
            money.to_minor_units(amount_micros, currency.code)
        except money.MoneyError as exc:
            errors["amount"] = [str(exc)]
    if not payment_method or len(payment_method) > 200:
        errors["payment_method"] = ["Give a payment method, e.g. pm_card_visa."]
    return errors


def _fingerprint(amount_micros: int, payment_method: str) -> str:
    return hashlib.sha256(f"{amount_micros}|{payment_method}".encode()).hexdigest()


def _next_receipt_number(top_up: TopUp) -> str:
    return f"R-{top_up.created_at:%Y%m}-{top_up.pk:08d}"


def top_up(
    *, actor: User, advertiser: Advertiser, amount_micros: int, payment_method: str, idempotency_key: str | None = None
) -> TopUp:
    """Charge a payment method and add the money to the balance (admins only).

    Honours an idempotency key: a retry returns the first top-up, whatever its outcome, and the
    gateway gets the same key so the card is never charged twice. A declined payment raises
    PaymentDeclinedError after it is recorded; a payment the provider has not decided yet stays pending.
    """
    require_role(user=actor, advertiser=advertiser, minimum=Role.ADMIN)
    _raise_if(_top_up_errors(advertiser=advertiser, amount_micros=amount_micros, payment_method=payment_method))
    fingerprint = _fingerprint(amount_micros, payment_method)
    gateway = get_gateway()
    with transaction.atomic():
        record = TopUp(
            advertiser=advertiser,
            amount_micros=amount_micros,
            currency=advertiser.currency,
            payment_method=payment_method,
            gateway=gateway.name,
            idempotency_key=idempotency_key or f"auto-{uuid.uuid4()}",
            request_fingerprint=fingerprint,
            created_by=actor,
        )
        try:
            with transaction.atomic():
                record.save()
        except IntegrityError:
            record = TopUp.objects.get(advertiser=advertiser, idempotency_key=idempotency_key)
            if record.request_fingerprint != fingerprint:
                raise IdempotencyConflictError("This Idempotency-Key was already used for a different top-up.") from None
    if record.status == TopUp.Status.PENDING:
        # Outside any database transaction: a network call must not hold locks.
        result = gateway.charge(
            amount_micros=amount_micros,
            currency=advertiser.currency,
            payment_method=payment_method,
            idempotency_key=f"adplatform-top-up-{record.pk}",
            description=f"Adplatform balance top-up for {advertiser.name}",
            top_up_id=record.pk,
        )
        record = complete_top_up(top_up=record, result=result)
    if record.status in (TopUp.Status.DECLINED, TopUp.Status.FAILED):
        raise PaymentDeclinedError(record)
    return record  # succeeded, or pending until the provider's webhook settles it


@transaction.atomic
def complete_top_up(*, top_up: TopUp, result: ChargeResult) -> TopUp:
    """Record the gateway's answer once: a success posts the top-up (and any credit waiting for it)."""
    record = TopUp.objects.select_for_update().select_related("advertiser").get(pk=top_up.pk)
    if record.status != TopUp.Status.PENDING:
        return record
    record.gateway_reference = result.reference or record.gateway_reference
    if result.pending:  # the provider has not decided yet; its webhook will settle this top-up
        record.save(update_fields=["gateway_reference"])
        return record
    record.completed_at = clock.now()
    if not result.succeeded:
        record.status = TopUp.Status.FAILED if result.expired else TopUp.Status.DECLINED
        record.failure_code, record.failure_message = result.code[:50], result.message[:300]
        record.save()
        return record
    record.receipt_number = _next_receipt_number(record)
    posted, _ = _post(
        advertiser=record.advertiser,
        kind=Kind.TOP_UP,
        amount_micros=record.amount_micros,
        idempotency_key=f"top-up:{record.pk}",
        reference=record.receipt_number,
        created_by=record.created_by,
    )
    record.status, record.transaction = TopUp.Status.SUCCEEDED, posted
    record.save()
    _apply_pending_credits(record.advertiser)
    _email_receipt(record)
    return record


def _email_receipt(record: TopUp) -> None:
    recipients = notification_emails(advertiser=record.advertiser)
    amount = f"{money.format_amount(record.amount_micros)} {record.currency}"
    message = (
        f"Receipt {record.receipt_number}\n\nAdvertiser: {record.advertiser.name}\nAmount: {amount}\n"
        f"Paid with: {record.payment_method}\nDate: {record.completed_at:%Y-%m-%d %H:%M} UTC\n\nThank you."
    )
    if recipients:
        transaction.on_commit(
            lambda: send_mail(f"Adplatform receipt {record.receipt_number}: {amount}", message, None, recipients)
        )


@transaction.atomic
def refund_top_up(*, staff: User, top_up: TopUp, amount_micros: int, reason: str) -> Transaction:
    """Return (part of) a top-up to its payment method: never more than is left of it or than the balance."""
    _require_staff(staff)
    record = TopUp.objects.select_for_update(of=("self",)).select_related("advertiser", "transaction").get(pk=top_up.pk)
    # The provider is called under these locks on purpose: a refund is rare and staff-driven, and holding
    # the balance lock means no other refund or spend can change what is refundable before it is posted.
    _locked_balance(record.advertiser)
    refundable = selectors.refundable_micros(record)
    errors: dict[str, list[str]] = {}
    if record.status != TopUp.Status.SUCCEEDED:
        errors["top_up"] = ["Only a successful top-up can be refunded."]
    elif amount_micros <= 0:
        errors["amount"] = ["Enter an amount above zero."]
    elif amount_micros > refundable:
        errors["amount"] = [
            f"At most {money.format_amount(refundable)} {record.currency} can be refunded (unspent and not yet refunded)."
        ]
    elif _fraction_of_a_coin(amount_micros, record.currency):
        errors["amount"] = [_fraction_of_a_coin(amount_micros, record.currency)]
    if not reason.strip():
        errors["reason"] = ["Say why."]
    _raise_if(errors)
    refund_number = Transaction.objects.filter(refund_of=record.transaction).count() + 1
    key = f"refund:{record.pk}:{refund_number}"
    result = get_gateway().refund(
        charge_reference=record.gateway_reference, amount_micros=amount_micros, currency=record.currency, idempotency_key=key
    )
    if not result.succeeded:
        raise ValidationError({"top_up": [f"The payment provider refused the refund: {result.message or 'no reason given'}."]})
    posted, _ = _post(
        advertiser=record.advertiser,
        kind=Kind.REFUND,
        amount_micros=-amount_micros,
        idempotency_key=key,
        reference=result.reference,
        reason=reason.strip(),
        refund_of=record.transaction,
        created_by=staff,
    )
    return posted


# --- promotional credits ---------------------------------------------------------------------


@transaction.atomic
def promo_code_create(
    *,
    staff: User,
    code: str,
    amount_micros: int,
    currency: str,
    expires_at: datetime,
    requires_first_top_up: bool = False,
    max_redemptions: int | None = None,
    description: str = "",
) -> PromoCode:
    """Create a promotional code (staff)."""
    _require_staff(staff)
    code = code.strip().upper()
    errors: dict[str, list[str]] = {}
    if not code or not all(char.isascii() and (char.isalnum() or char in "-_") for char in code) or len(code) > 40:
        errors["code"] = ["Use up to 40 letters, digits, - and _."]
    elif PromoCode.objects.filter(code=code).exists():
        errors["code"] = ["This code exists already."]
    if not 0 < amount_micros <= money.MAX_AMOUNT_MICROS:
        errors["amount"] = ["Enter an amount above zero."]
    elif _fraction_of_a_coin(amount_micros, currency):
        errors["amount"] = [_fraction_of_a_coin(amount_micros, currency)]
    if not Currency.objects.filter(code=currency).exists():
        errors["currency"] = [f"Adplatform does not bill in {currency}."]
    if expires_at <= clock.now():
        errors["expires_at"] = ["The expiry must be in the future."]
    if max_redemptions is not None and max_redemptions < 1:
        errors["max_redemptions"] = ["At least one, or empty for no limit."]
    _raise_if(errors)
    return PromoCode.objects.create(
        code=code,
        amount_micros=amount_micros,
        currency=currency,
        expires_at=expires_at,
        requires_first_top_up=requires_first_top_up,
        max_redemptions=max_redemptions,
        description=description,
        created_by=staff,
    )


def _credit_amount(promo: PromoCode, advertiser: Advertiser) -> int:
    if promo.currency == advertiser.currency:
        return promo.amount_micros
    source, target = Currency.objects.get(code=promo.currency), currency_of(advertiser)
    converted = money.convert(promo.amount_micros, from_units_per_usd=source.units_per_usd, to_units_per_usd=target.units_per_usd)
    step = money.MICROS_PER_UNIT // 10 ** money.minor_unit_exponent(advertiser.currency)
    return converted - converted % step  # whole cents (or yen): a credit never has fractions of a coin


def _apply(redemption: Redemption) -> None:
    posted, _ = _post(
        advertiser=redemption.advertiser,
        kind=Kind.CREDIT,
        amount_micros=redemption.amount_micros,
        idempotency_key=f"credit:{redemption.promo_code_id}:{redemption.advertiser_id}",
        reference=redemption.promo_code.code,
        created_by=redemption.redeemed_by,
    )
    redemption.status, redemption.transaction = Redemption.Status.APPLIED, posted
    redemption.save(update_fields=["status", "transaction"])


def _apply_pending_credits(advertiser: Advertiser) -> None:
    for redemption in (
        Redemption.objects.select_for_update()
        .select_related("promo_code")
        .filter(advertiser=advertiser, status=Redemption.Status.PENDING)
    ):
        _apply(redemption)


@transaction.atomic
def promo_code_redeem(*, actor: User, advertiser: Advertiser, code: str) -> Redemption:
    """Redeem a promotional code for an advertiser (admins): the credit lands now or with the first top-up."""
    require_role(user=actor, advertiser=advertiser, minimum=Role.ADMIN)
    promo = PromoCode.objects.select_for_update().filter(code=code.strip().upper()).first()
    if promo is None or not promo.is_active:
        raise ValidationError({"code": ["This code is not valid."]})
    if promo.expires_at <= clock.now():
        raise ValidationError({"code": ["This code has expired."]})
    if Redemption.objects.filter(promo_code=promo, advertiser=advertiser).exists():
        raise ValidationError({"code": ["This account has used this code already."]})
    if promo.max_redemptions is not None and promo.redemptions.count() >= promo.max_redemptions:
        raise ValidationError({"code": ["This code has been used up."]})
    amount = _credit_amount(promo, advertiser)
    if amount <= 0:
        raise ValidationError({"code": ["This code is worth nothing in your currency."]})
    redemption = Redemption.objects.create(
        promo_code=promo, advertiser=advertiser, amount_micros=amount, status=Redemption.Status.PENDING, redeemed_by=actor
    )
    if not promo.requires_first_top_up or selectors.has_succeeded_top_up(advertiser):
        _locked_balance(advertiser)
        _apply(redemption)
    return redemption


# --- balance alerts ----------------------------------------------------------------------------


@transaction.atomic
def billing_profile_update(*, actor: User, advertiser: Advertiser, low_balance_threshold_micros: int | None) -> BillingProfile:
    """Set (or clear, with None) the spendable amount below which admins and operators get an e-mail."""
    require_role(user=actor, advertiser=advertiser, minimum=Role.ADMIN)
    if low_balance_threshold_micros is not None and not 0 < low_balance_threshold_micros <= money.MAX_AMOUNT_MICROS:
        raise ValidationError({"low_balance_threshold": ["Enter an amount above zero, or leave it empty for no alert."]})
    profile, _ = BillingProfile.objects.select_for_update().get_or_create(advertiser=advertiser)
    profile.low_balance_threshold_micros = low_balance_threshold_micros
    profile.low_balance_alerted_at = None
    profile.save()
    return profile


@transaction.atomic
def low_balance_check(*, advertiser: Advertiser) -> bool:
    """E-mail the admins once when spendable falls below their threshold; re-arm when it recovers. True if sent."""
    profile = BillingProfile.objects.select_for_update().filter(advertiser=advertiser).first()
    if profile is None or profile.low_balance_threshold_micros is None:
        return False
    spendable = selectors.spendable_micros(advertiser)
    if spendable >= profile.low_balance_threshold_micros:
        if profile.low_balance_alerted_at is not None:
            profile.low_balance_alerted_at = None
            profile.save(update_fields=["low_balance_alerted_at"])
        return False
    if profile.low_balance_alerted_at is not None:
        return False
    profile.low_balance_alerted_at = clock.now()
    profile.save(update_fields=["low_balance_alerted_at"])
    recipients = notification_emails(advertiser=advertiser)
    left = f"{money.format_amount(max(spendable, 0))} {advertiser.currency}"
    message = (
        f"{advertiser.name} has {left} left to spend, below your alert at "
        f"{money.format_amount(profile.low_balance_threshold_micros)} {advertiser.currency}.\n\n"
        "Top up on the Billing page so your ads keep running: they stop when nothing is left."
    )
    if recipients:
        transaction.on_commit(lambda: send_mail(f"Low balance: {advertiser.name} has {left} left", message, None, recipients))
    return True


# --- ledger self-check -------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    advertiser_id: int
    cached_micros: int
    ledger_micros: int


def ledger_check() -> list[Mismatch]:
    """Every advertiser whose cached balance differs from the sum of its transactions (should be none)."""
    sums = dict(Transaction.objects.values("advertiser").annotate(total=Sum("amount_micros")).values_list("advertiser", "total"))
    cached = dict(Balance.objects.values_list("advertiser_id", "balance_micros"))
    return [
        Mismatch(advertiser_id, cached.get(advertiser_id, 0), sums.get(advertiser_id, 0))
        for advertiser_id in sorted(set(sums) | set(cached))
        if cached.get(advertiser_id, 0) != sums.get(advertiser_id, 0)
    ]


# --- invoices and statements -------------------------------------------------------------------


def month_window(period_start: date, time_zone: str) -> tuple[datetime, datetime, date]:
    """The month starting at `period_start` in `time_zone`, as aware UTC bounds, and the next month's first day."""
    zone = ZoneInfo(time_zone)
    next_month = date(period_start.year + period_start.month // 12, period_start.month % 12 + 1, 1)
    start = datetime(period_start.year, period_start.month, 1, tzinfo=zone)
    end = datetime(next_month.year, next_month.month, 1, tzinfo=zone)
    return start, end, next_month


def _balance_at(advertiser: Advertiser, moment: datetime) -> int:
    """The balance at `moment`: the sum of what happened before it (spend may be posted after later rows)."""
    total = Transaction.objects.filter(advertiser=advertiser, created_at__lt=moment).aggregate(total=Sum("amount_micros"))
    return total["total"] or 0


@transaction.atomic
def invoice_issue(*, advertiser: Advertiser, period_start: date) -> Invoice | None:
    """Issue the month's invoice (credit line) or statement (prepaid), once; None if nothing happened."""
    start, end, next_month = month_window(period_start, advertiser.time_zone)
    if end > clock.now():
        raise ValidationError({"period": ["This month has not ended yet in the advertiser's time zone."]})
    kind = Invoice.Kind.INVOICE if advertiser.billing_mode == Advertiser.BillingMode.CREDIT_LINE else Invoice.Kind.STATEMENT
    existing = Invoice.objects.filter(advertiser=advertiser, period_start=period_start, kind=kind).first()
    if existing is not None:
        return existing
    in_month = Transaction.objects.filter(advertiser=advertiser, created_at__gte=start, created_at__lt=end)
    if not in_month.exists():
        return None
    spend = (
        in_month.filter(kind=Kind.SPEND)
        .values("campaign", "campaign__name")
        .annotate(total=Sum("amount_micros"))
        .order_by("campaign__name", "campaign")
    )
    lines: list[tuple[Campaign | None, str, int]] = [
        (
            Campaign(pk=row["campaign"]) if row["campaign"] else None,
            f"Ad spend: {row['campaign__name'] or 'other'}",
            -row["total"],
        )
        for row in spend
    ]
    total = sum(amount for _, _, amount in lines)
    if kind == Invoice.Kind.STATEMENT:
        for movement in (Kind.TOP_UP, Kind.CREDIT, Kind.REFUND, Kind.ADJUSTMENT, Kind.INVOICE_PAYMENT):
            amount = in_month.filter(kind=movement).aggregate(total=Sum("amount_micros"))["total"]
            if amount:
                lines.append((None, Kind(movement).label, amount))
    prefix = "INV" if kind == Invoice.Kind.INVOICE else "STM"
    invoice = Invoice.objects.create(
        advertiser=advertiser,
        kind=kind,
        number=f"{prefix}-{period_start:%Y%m}-{advertiser.pk:06d}",
        period_start=period_start,
        period_end=next_month,
        currency=advertiser.currency,
        total_micros=total,
        opening_balance_micros=_balance_at(advertiser, start),
        closing_balance_micros=_balance_at(advertiser, end),
        status=Invoice.Status.OPEN if kind == Invoice.Kind.INVOICE and total > 0 else Invoice.Status.ISSUED,
        issued_at=clock.now(),
        due_date=(
            clock.now().astimezone(ZoneInfo(advertiser.time_zone)).date() + timedelta(days=settings.INVOICE_PAYMENT_TERMS_DAYS)
            if kind == Invoice.Kind.INVOICE
            else None
        ),
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(invoice=invoice, campaign=campaign, description=description[:300], amount_micros=amount, position=position)
        for position, (campaign, description, amount) in enumerate(lines, start=1)
    )
    return invoice


def previous_month(moment: datetime, time_zone: str) -> date:
    """The first day of the month before the one `moment` falls in, in `time_zone`."""
    local = moment.astimezone(ZoneInfo(time_zone)).date()
    return date(local.year - (local.month == 1), (local.month - 2) % 12 + 1, 1)


def invoices_issue_due() -> list[Invoice]:
    """Issue every invoice and statement of the month that last closed in each advertiser's time zone."""
    issued = []
    for advertiser in Advertiser.objects.order_by("pk"):
        period = previous_month(clock.now(), advertiser.time_zone)
        invoice = invoice_issue(advertiser=advertiser, period_start=period)
        if invoice is not None:
            issued.append(invoice)
    return issued


@transaction.atomic
def invoice_mark_paid(*, staff: User, invoice: Invoice, reference: str = "") -> Invoice:
    """Staff record that an invoice was paid: an invoice_payment transaction of its total."""
    _require_staff(staff)
    invoice = Invoice.objects.select_for_update().select_related("advertiser").get(pk=invoice.pk)
    if invoice.kind != Invoice.Kind.INVOICE or invoice.status != Invoice.Status.OPEN:
        raise ValidationError({"invoice": ["Only an open invoice can be marked paid."]})
    posted, _ = _post(
        advertiser=invoice.advertiser,
        kind=Kind.INVOICE_PAYMENT,
        amount_micros=invoice.total_micros,
        idempotency_key=f"invoice-payment:{invoice.pk}",
        reference=reference or invoice.number,
        created_by=staff,
    )
    invoice.status, invoice.paid_at, invoice.payment = Invoice.Status.PAID, clock.now(), posted
    invoice.save(update_fields=["status", "paid_at", "payment"])
    return invoice
