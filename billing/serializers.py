"""API shapes for billing: one output serializer per resource, one input serializer per operation.

Money is a decimal string in the advertiser's currency, signed where it moves (`"-12.50"` is spend).
Inputs only translate names and types; every rule (minimum top-up, decimals of the currency, codes)
is checked by billing.services, which names the field at fault.
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import BillingMode
from adplatform import money
from adplatform.api.serializers import MoneyField, StrictInputSerializer

from .models import Invoice, InvoiceLine, Kind, Redemption, TopUp, Transaction

NULLABLE_MONEY = {"type": "string", "format": "decimal", "example": "10.00", "nullable": True}


# Choice sets whose field names other resources use for other choices (`kind`, `status`) are named
# components, so the schema's enums stay apart.


@extend_schema_field(serializers.ChoiceField(choices=Kind.choices), component_name="TransactionKindEnum")
class TransactionKindField(serializers.ChoiceField):
    """What moved the money: top_up, spend, credit, refund, adjustment, invoice_payment."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Kind.choices, **kwargs)


@extend_schema_field(serializers.ChoiceField(choices=TopUp.Status.choices), component_name="TopUpStatusEnum")
class TopUpStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=TopUp.Status.choices, **kwargs)


@extend_schema_field(serializers.ChoiceField(choices=Invoice.Kind.choices), component_name="InvoiceKindEnum")
class InvoiceKindField(serializers.ChoiceField):
    """invoice (credit lines: to pay) or statement (prepaid: for the records)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Invoice.Kind.choices, **kwargs)


@extend_schema_field(serializers.ChoiceField(choices=Invoice.Status.choices), component_name="InvoiceStatusEnum")
class InvoiceStatusField(serializers.ChoiceField):
    """open and paid for invoices; issued for statements (nothing to pay)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Invoice.Status.choices, **kwargs)


@extend_schema_field(serializers.ChoiceField(choices=Redemption.Status.choices), component_name="RedemptionStatusEnum")
class RedemptionStatusField(serializers.ChoiceField):
    """applied (the credit is in the balance) or pending (it lands with the first successful top-up)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Redemption.Status.choices, **kwargs)


# --- balance and billing profile ------------------------------------------------------------------


class BalanceSerializer(serializers.Serializer):
    """What an advertiser has, and may still spend, right now."""

    advertiser = serializers.IntegerField()
    balance = MoneyField(source="balance_micros", help_text="The sum of every transaction; negative on a used credit line.")
    currency = serializers.CharField()
    spendable = MoneyField(
        source="spendable_micros", help_text="What ads may still spend: the balance, plus the credit limit on a credit line."
    )
    credit_limit = MoneyField(source="credit_limit_micros", help_text="How far below zero a credit line may go.")
    billing_mode = serializers.ChoiceField(choices=BillingMode.choices)
    low_balance_threshold = serializers.SerializerMethodField()

    @extend_schema_field(NULLABLE_MONEY)
    def get_low_balance_threshold(self, balance: dict[str, Any]) -> str | None:
        """The spendable amount below which admins get an e-mail; null: no alert."""
        threshold = balance["low_balance_threshold_micros"]
        return None if threshold is None else money.format_amount(threshold)


class BillingProfileSerializer(serializers.Serializer):
    """An advertiser's billing preferences."""

    advertiser = serializers.IntegerField()
    currency = serializers.CharField()
    low_balance_threshold = serializers.SerializerMethodField()

    @extend_schema_field(NULLABLE_MONEY)
    def get_low_balance_threshold(self, profile: dict[str, Any]) -> str | None:
        """E-mail the admins when the spendable amount drops below this; null: no alert."""
        threshold = profile["low_balance_threshold_micros"]
        return None if threshold is None else money.format_amount(threshold)


class BillingProfileUpdateSerializer(StrictInputSerializer):
    """Input for the low-balance alert."""

    low_balance_threshold = MoneyField(
        allow_null=True, help_text="In the advertiser's currency, above zero; null turns the alert off."
    )
    unchangeable_fields = ("advertiser", "currency")


# --- ledger ---------------------------------------------------------------------------------------


class TransactionSerializer(serializers.ModelSerializer):
    """One ledger row: money in is positive, money out negative; never changed once written."""

    kind = TransactionKindField(read_only=True)
    amount = MoneyField(source="amount_micros", read_only=True, help_text="Signed: spend and refunds are negative.")
    balance_after = MoneyField(source="balance_after_micros", read_only=True, help_text="The balance right after it.")

    class Meta:
        model = Transaction
        fields = (
            "id",
            "advertiser",
            "kind",
            "amount",
            "currency",
            "balance_after",
            "reference",
            "reason",
            "campaign",
            "created_at",
        )
        read_only_fields = fields


# --- top-ups --------------------------------------------------------------------------------------


class TopUpSerializer(serializers.ModelSerializer):
    """A payment into the balance, whatever its outcome (declined ones stay on record)."""

    amount = MoneyField(source="amount_micros", read_only=True)
    status = TopUpStatusField(read_only=True)
    balance = serializers.SerializerMethodField()

    class Meta:
        model = TopUp
        fields = (
            "id",
            "advertiser",
            "amount",
            "currency",
            "status",
            "receipt_number",
            "payment_method",
            "failure_code",
            "failure_message",
            "created_at",
            "completed_at",
            "balance",
        )
        read_only_fields = fields

    @extend_schema_field(NULLABLE_MONEY)
    def get_balance(self, top_up: TopUp) -> str | None:
        """The advertiser's balance right after this top-up; null unless it succeeded."""
        if top_up.transaction is None:
            return None
        return money.format_amount(top_up.transaction.balance_after_micros)


class TopUpCreateSerializer(StrictInputSerializer):
    """Input for a top-up: charge a payment method and add the amount to the balance."""

    advertiser = serializers.IntegerField(help_text="The advertiser whose balance to top up.")
    amount = MoneyField(help_text="In the advertiser's currency, at least five times its smallest daily budget.")
    payment_method = serializers.CharField(
        max_length=200, help_text="The payment provider's payment method id, e.g. pm_card_visa in the sandbox."
    )


# --- invoices -------------------------------------------------------------------------------------


class InvoiceSerializer(serializers.ModelSerializer):
    """A monthly invoice (credit line) or statement (prepaid) as the API lists it."""

    kind = InvoiceKindField(read_only=True)
    status = InvoiceStatusField(read_only=True)
    period = serializers.SerializerMethodField()
    total = MoneyField(source="total_micros", read_only=True, help_text="Ad spend in the month.")
    opening_balance = MoneyField(source="opening_balance_micros", read_only=True)
    closing_balance = MoneyField(source="closing_balance_micros", read_only=True)

    class Meta:
        model = Invoice
        fields: tuple[str, ...] = (
            "id",
            "advertiser",
            "kind",
            "number",
            "period",
            "period_start",
            "period_end",
            "currency",
            "total",
            "opening_balance",
            "closing_balance",
            "status",
            "issued_at",
            "due_date",
            "paid_at",
        )
        read_only_fields = fields
        extra_kwargs = {
            "period_start": {"help_text": "The first day of the month, in the advertiser's time zone."},
            "period_end": {"help_text": "The first day of the next month (not included)."},
        }

    @extend_schema_field({"type": "string", "example": "2025-06"})
    def get_period(self, invoice: Invoice) -> str:
        """The calendar month, YYYY-MM."""
        return f"{invoice.period_start:%Y-%m}"


class InvoiceLineSerializer(serializers.ModelSerializer):
    """One line: a campaign's spend, or (on statements) the month's top-ups, credits, refunds..."""

    amount = MoneyField(source="amount_micros", read_only=True)

    class Meta:
        model = InvoiceLine
        fields = ("position", "description", "campaign", "amount")
        read_only_fields = fields


class InvoiceDetailSerializer(InvoiceSerializer):
    """An invoice or statement with its lines."""

    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta(InvoiceSerializer.Meta):
        fields = (*InvoiceSerializer.Meta.fields, "lines")
        read_only_fields = fields


# --- credits --------------------------------------------------------------------------------------


class RedeemSerializer(StrictInputSerializer):
    """Input for redeeming a promotional code."""

    advertiser = serializers.IntegerField(help_text="The advertiser who gets the credit.")
    code = serializers.CharField(help_text="The promotional code, in any letter case.")


class RedemptionSerializer(serializers.ModelSerializer):
    """A redeemed code: the credit in the advertiser's currency, applied now or with the first top-up."""

    code = serializers.CharField(source="promo_code.code", read_only=True)
    amount = MoneyField(source="amount_micros", read_only=True, help_text="Converted to the advertiser's currency.")
    currency = serializers.CharField(source="advertiser.currency", read_only=True)
    status = RedemptionStatusField(read_only=True)

    class Meta:
        model = Redemption
        fields = ("advertiser", "code", "amount", "currency", "status", "created_at")
        read_only_fields = fields
