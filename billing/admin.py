"""Staff admin for money: the read-only ledger, adjustments, top-ups and refunds, codes, invoices."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html

from adplatform import money

from . import selectors, services
from .models import Adjustment, Balance, BillingProfile, Invoice, InvoiceLine, PromoCode, Redemption, TopUp, Transaction
from .pdf import invoice_pdf


def _money(micros: int, currency: str) -> str:
    return f"{money.format_amount(micros)} {currency}"


class ReadOnlyAdmin(admin.ModelAdmin):
    """The ledger and what hangs off it are never edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "advertiser", "kind", "amount", "balance_after", "reference", "campaign", "created_by")
    list_filter = ("kind", "currency", ("created_at", admin.DateFieldListFilter))
    search_fields = ("advertiser__name", "reference", "idempotency_key", "reason")
    list_select_related = ("advertiser", "campaign", "created_by")
    date_hierarchy = "created_at"

    @admin.display(description="Amount", ordering="amount_micros")
    def amount(self, transaction: Transaction) -> str:
        return _money(transaction.amount_micros, transaction.currency)

    @admin.display(description="Balance after")
    def balance_after(self, transaction: Transaction) -> str:
        return _money(transaction.balance_after_micros, transaction.currency)


class AdjustmentForm(forms.ModelForm):
    amount = forms.DecimalField(max_digits=22, decimal_places=6, help_text="Positive adds money, negative takes it away.")

    class Meta:
        model = Adjustment
        fields = ("advertiser", "amount", "reason")


@admin.register(Adjustment)
class AdjustmentAdmin(admin.ModelAdmin):
    """Post a correction; it is a new ledger transaction, never an edit."""

    form = AdjustmentForm
    list_display = ("created_at", "advertiser", "amount", "reason", "created_by")
    search_fields = ("advertiser__name", "reason")
    autocomplete_fields = ("advertiser",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Transaction]:
        return super().get_queryset(request).filter(kind="adjustment").select_related("advertiser", "created_by")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Amount")
    def amount(self, adjustment: Transaction) -> str:
        return _money(adjustment.amount_micros, adjustment.currency)

    def save_model(self, request: HttpRequest, obj: Adjustment, form: Any, change: bool) -> None:
        posted = services.adjustment_post(
            staff=request.user,  # type: ignore[arg-type]
            advertiser=form.cleaned_data["advertiser"],
            amount_micros=money.to_micros(form.cleaned_data["amount"]),
            reason=form.cleaned_data["reason"],
        )
        obj.pk = posted.pk


@admin.register(Balance)
class BalanceAdmin(ReadOnlyAdmin):
    list_display = ("advertiser", "balance", "spendable", "updated_at")
    search_fields = ("advertiser__name",)
    list_select_related = ("advertiser",)

    @admin.display(description="Balance", ordering="balance_micros")
    def balance(self, balance: Balance) -> str:
        return _money(balance.balance_micros, balance.advertiser.currency)

    @admin.display(description="Spendable")
    def spendable(self, balance: Balance) -> str:
        return _money(
            selectors.spendable_from(balance=balance.balance_micros, advertiser=balance.advertiser), balance.advertiser.currency
        )


class RefundForm(forms.Form):
    amount = forms.DecimalField(max_digits=22, decimal_places=6, min_value=0)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


@admin.register(TopUp)
class TopUpAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "advertiser", "amount", "status", "failure_code", "gateway", "receipt_number", "refunded")
    list_filter = ("status", "gateway", "currency")
    search_fields = ("advertiser__name", "receipt_number", "gateway_reference")
    list_select_related = ("advertiser",)
    actions = ("refund",)

    @admin.display(description="Amount", ordering="amount_micros")
    def amount(self, top_up: TopUp) -> str:
        return _money(top_up.amount_micros, top_up.currency)

    @admin.display(description="Refunded")
    def refunded(self, top_up: TopUp) -> str:
        return _money(selectors.refunded_micros(top_up), top_up.currency)

    @admin.action(description="Refund the selected top-up…")
    def refund(self, request: HttpRequest, queryset: QuerySet[TopUp]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Refund one top-up at a time.", messages.ERROR)
            return None
        top_up = queryset.get()
        form = RefundForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                services.refund_top_up(
                    staff=request.user,  # type: ignore[arg-type]
                    top_up=top_up,
                    amount_micros=money.to_micros(form.cleaned_data["amount"]),
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(request, f"Refunded {form.cleaned_data['amount']} {top_up.currency}.", messages.SUCCESS)
                return None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund top-up {top_up.receipt_number}",
            "top_up": top_up,
            "refundable": _money(selectors.refundable_micros(top_up), top_up.currency),
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return render(request, "admin/billing/refund.html", context)


class PromoCodeForm(forms.ModelForm):
    amount = forms.DecimalField(max_digits=22, decimal_places=6, min_value=0)

    class Meta:
        model = PromoCode
        fields = (
            "code",
            "amount",
            "currency",
            "expires_at",
            "requires_first_top_up",
            "max_redemptions",
            "description",
            "is_active",
        )


@admin.register(PromoCode)
class PromoCodeAdmin(admin.ModelAdmin):
    form = PromoCodeForm
    list_display = ("code", "amount", "expires_at", "requires_first_top_up", "redeemed", "max_redemptions", "is_active")
    list_filter = ("is_active", "requires_first_top_up", "currency")
    search_fields = ("code", "description")

    @admin.display(description="Amount")
    def amount(self, code: PromoCode) -> str:
        return _money(code.amount_micros, code.currency)

    @admin.display(description="Redeemed")
    def redeemed(self, code: PromoCode) -> int:
        return code.redemptions.count()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("code", "amount", "currency") if obj else ()

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            form.base_fields.pop("amount", None)
        return form

    def save_model(self, request: HttpRequest, obj: PromoCode, form: Any, change: bool) -> None:
        if change:
            obj.save()
            return
        created = services.promo_code_create(
            staff=request.user,  # type: ignore[arg-type]
            code=obj.code,
            amount_micros=money.to_micros(form.cleaned_data["amount"]),
            currency=obj.currency,
            expires_at=obj.expires_at,
            requires_first_top_up=obj.requires_first_top_up,
            max_redemptions=obj.max_redemptions,
            description=obj.description,
        )
        obj.pk = created.pk


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = ("promo_code", "advertiser", "amount_micros", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("promo_code__code", "advertiser__name")


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    readonly_fields = ("position", "description", "campaign", "amount_micros")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ("number", "advertiser", "kind", "period_start", "total", "status", "due_date", "paid_at", "pdf")
    list_filter = ("kind", "status", "period_start")
    search_fields = ("number", "advertiser__name")
    list_select_related = ("advertiser",)
    inlines = (InvoiceLineInline,)
    actions = ("mark_paid",)
    readonly_fields = tuple(field.name for field in Invoice._meta.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Total")
    def total(self, invoice: Invoice) -> str:
        return _money(invoice.total_micros, invoice.currency)

    @admin.display(description="PDF")
    def pdf(self, invoice: Invoice) -> str:
        return format_html('<a href="{}">PDF</a>', reverse("admin:billing_invoice_pdf", args=[invoice.pk]))

    def get_urls(self) -> list[Any]:
        return [
            path("<int:invoice_id>/pdf/", self.admin_site.admin_view(self.pdf_view), name="billing_invoice_pdf"),
            *super().get_urls(),
        ]

    def pdf_view(self, request: HttpRequest, invoice_id: int) -> HttpResponse:
        invoice = Invoice.objects.select_related("advertiser").get(pk=invoice_id)
        response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
        return response

    @admin.action(description="Mark the selected invoices paid")
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        done = 0
        for invoice in queryset:
            try:
                services.invoice_mark_paid(staff=request.user, invoice=invoice)  # type: ignore[arg-type]
            except ValidationError as error:
                self.message_user(request, f"{invoice.number}: {' '.join(error.messages)}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"Marked {done} invoice(s) paid.", messages.SUCCESS)


@admin.register(BillingProfile)
class BillingProfileAdmin(admin.ModelAdmin):
    list_display = ("advertiser", "low_balance_threshold_micros", "low_balance_alerted_at")
    search_fields = ("advertiser__name",)
