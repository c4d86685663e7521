"""The ledger and everything that moves money: balances, top-ups, promotional credits, invoices.

The ledger (`Transaction`) is append-only: PostgreSQL refuses UPDATE and DELETE on it (a trigger
installed by migration), so a correction is always a new transaction. `Balance` caches the sum
per advertiser and is only written under its row lock in the same database transaction.
"""

from typing import ClassVar

from django.conf import settings
from django.db import models

from accounts.models import Advertiser
from adplatform import clock
from campaigns.models import Campaign


class Kind(models.TextChoices):
    TOP_UP = "top_up", "Top-up"
    SPEND = "spend", "Ad spend"
    CREDIT = "credit", "Ad credit"
    REFUND = "refund", "Refund"
    ADJUSTMENT = "adjustment", "Adjustment"
    INVOICE_PAYMENT = "invoice_payment", "Invoice payment"


# The sign every kind must carry: money in is positive, money out negative.
POSITIVE_KINDS = (Kind.TOP_UP, Kind.CREDIT, Kind.INVOICE_PAYMENT)
NEGATIVE_KINDS = (Kind.SPEND, Kind.REFUND)


class Transaction(models.Model):
    """One movement of an advertiser's money. Never updated or deleted."""

    advertiser = models.ForeignKey(Advertiser, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount_micros = models.BigIntegerField(help_text="Signed: positive adds to the balance, negative takes from it.")
    currency = models.CharField(max_length=3)
    balance_after_micros = models.BigIntegerField(help_text="The advertiser's balance right after this transaction.")
    idempotency_key = models.CharField(max_length=200, unique=True, help_text="The same key never moves money twice.")
    reference = models.CharField(max_length=200, blank=True, help_text="Top-up, code, spend window or invoice it belongs to.")
    reason = models.TextField(blank=True, help_text="Why, for adjustments and refunds.")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, null=True, blank=True, related_name="transactions")
    refund_of = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=clock.now, db_index=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        indexes: ClassVar = [
            models.Index(fields=["advertiser", "created_at"], name="billing_tx_advertiser_time"),
            models.Index(fields=["advertiser", "kind", "created_at"], name="billing_tx_advertiser_kind"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(kind__in=Kind.values), name="billing_transaction_kind_valid"),
            models.CheckConstraint(
                condition=(
                    models.Q(kind__in=POSITIVE_KINDS, amount_micros__gt=0)
                    | models.Q(kind__in=NEGATIVE_KINDS, amount_micros__lt=0)
                    | (models.Q(kind=Kind.ADJUSTMENT) & ~models.Q(amount_micros=0))
                ),
                name="billing_transaction_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind=Kind.ADJUSTMENT) | ~models.Q(reason=""), name="billing_transaction_adjustment_has_reason"
            ),
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="billing_transaction_currency_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_micros} {self.currency} ({self.advertiser})"


class Balance(models.Model):
    """The cached sum of an advertiser's transactions, written only under its row lock."""

    advertiser = models.OneToOneField(Advertiser, on_delete=models.PROTECT, primary_key=True, related_name="balance")
    balance_micros = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"{self.advertiser}: {self.balance_micros}"


class BillingProfile(models.Model):
    """An advertiser's billing preferences: when to warn about a low balance."""

    advertiser = models.OneToOneField(Advertiser, on_delete=models.CASCADE, primary_key=True, related_name="billing_profile")
    low_balance_threshold_micros = models.BigIntegerField(null=True, blank=True, help_text="E-mail when spendable drops below.")
    low_balance_alerted_at = models.DateTimeField(null=True, blank=True, help_text="Set when warned; cleared by money coming in.")

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(low_balance_threshold_micros__isnull=True) | models.Q(low_balance_threshold_micros__gt=0),
                name="billing_profile_threshold_positive",
            )
        ]

    def __str__(self) -> str:
        return f"Billing profile of {self.advertiser}"


class TopUp(models.Model):
    """A payment through a gateway that, when it succeeds, becomes a top_up transaction."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        DECLINED = "declined", "Declined"
        FAILED = "failed", "Failed"

    advertiser = models.ForeignKey(Advertiser, on_delete=models.PROTECT, related_name="top_ups")
    amount_micros = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    payment_method = models.CharField(max_length=200)
    gateway = models.CharField(max_length=20)
    gateway_reference = models.CharField(max_length=200, blank=True, help_text="The provider's payment id.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    failure_code = models.CharField(max_length=50, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    idempotency_key = models.CharField(max_length=200, help_text="The client's Idempotency-Key, or a generated one.")
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of what was asked, to spot a reused key.")
    receipt_number = models.CharField(max_length=30, unique=True, null=True, blank=True)
    transaction = models.OneToOneField(Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="top_up")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=clock.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["advertiser", "idempotency_key"], name="billing_topup_idempotency_unique"),
            models.CheckConstraint(condition=models.Q(amount_micros__gt=0), name="billing_topup_amount_positive"),
            models.CheckConstraint(
                condition=~models.Q(status="succeeded") | models.Q(transaction__isnull=False, receipt_number__isnull=False),
                name="billing_topup_succeeded_has_transaction",
            ),
        ]

    def __str__(self) -> str:
        return f"Top-up {self.pk} of {self.advertiser} ({self.status})"


class PromoCode(models.Model):
    """A promotional ad credit staff hand out: one use per advertiser, optionally after a first top-up."""

    code = models.CharField(max_length=40, unique=True, help_text="What advertisers type, stored in upper case.")
    amount_micros = models.BigIntegerField()
    currency = models.CharField(max_length=3, help_text="Advertisers in other currencies get the converted amount.")
    expires_at = models.DateTimeField()
    requires_first_top_up = models.BooleanField(
        default=False, help_text="The credit is granted once the advertiser's first top-up succeeds."
    )
    max_redemptions = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    is_active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(amount_micros__gt=0), name="billing_promocode_amount_positive"),
            models.CheckConstraint(condition=models.Q(code__regex=r"^[A-Z0-9_-]+$"), name="billing_promocode_code_format"),
        ]

    def __str__(self) -> str:
        return self.code


class Redemption(models.Model):
    """An advertiser's use of a promo code; pending until a first top-up when the code asks for one."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a first top-up"
        APPLIED = "applied", "Applied"

    promo_code = models.ForeignKey(PromoCode, on_delete=models.PROTECT, related_name="redemptions")
    advertiser = models.ForeignKey(Advertiser, on_delete=models.PROTECT, related_name="redemptions")
    amount_micros = models.BigIntegerField(help_text="In the advertiser's currency.")
    status = models.CharField(max_length=10, choices=Status.choices)
    transaction = models.OneToOneField(Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="redemption")
    redeemed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["promo_code", "advertiser"], name="billing_redemption_once_per_advertiser"),
            models.CheckConstraint(
                condition=models.Q(status="pending", transaction__isnull=True)
                | models.Q(status="applied", transaction__isnull=False),
                name="billing_redemption_applied_has_transaction",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.promo_code} by {self.advertiser}"


class Invoice(models.Model):
    """A monthly invoice (credit lines) or statement (prepaid) for one advertiser and calendar month."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        STATEMENT = "statement", "Statement"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        ISSUED = "issued", "Issued"  # statements: nothing to pay

    advertiser = models.ForeignKey(Advertiser, on_delete=models.PROTECT, related_name="invoices")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    number = models.CharField(max_length=30, unique=True)
    period_start = models.DateField(help_text="The first day of the month, in the advertiser's time zone.")
    period_end = models.DateField(help_text="The first day of the next month.")
    currency = models.CharField(max_length=3)
    total_micros = models.BigIntegerField(help_text="Ad spend in the month.")
    opening_balance_micros = models.BigIntegerField()
    closing_balance_micros = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices)
    issued_at = models.DateTimeField(default=clock.now)
    due_date = models.DateField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment = models.OneToOneField(Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="paid_invoice")

    class Meta:
        ordering: ClassVar = ["-period_start", "-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["advertiser", "period_start", "kind"], name="billing_invoice_one_per_month"),
            models.CheckConstraint(condition=models.Q(total_micros__gte=0), name="billing_invoice_total_nonnegative"),
            models.CheckConstraint(
                condition=~models.Q(status="paid") | models.Q(payment__isnull=False, paid_at__isnull=False),
                name="billing_invoice_paid_has_payment",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class InvoiceLine(models.Model):
    """One line of an invoice or statement: spend of a campaign, or a money movement on a statement."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    description = models.CharField(max_length=300)
    amount_micros = models.BigIntegerField()
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering: ClassVar = ["invoice", "position"]

    def __str__(self) -> str:
        return self.description


class Adjustment(Transaction):
    """Staff corrections, as their own page in the admin (a view of Transaction)."""

    class Meta:
        proxy = True
        verbose_name = "adjustment"
