"""Dashboard pages for billing: balance, top-ups, promo codes, the low-balance alert, transactions and invoices.

Thin: reads go through billing.selectors for the current advertiser (an invoice outside the user's
tenancy is a 404), each write is one billing.services call, and the services decide who may write
(admins only) — a refusal shows on the page with nothing written. Times are shown in the advertiser's
time zone and money in its currency.
"""

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Advertiser, Role, User
from accounts.selectors import currency_of, role_for
from accounts.session import current_advertiser, signed_in_user
from adplatform import clock, money
from campaigns.forms import apply_service_errors

from . import selectors, services
from .forms import LowBalanceAlertForm, PromoCodeForm, TopUpForm, TransactionFilterForm, payment_method_label
from .gateways import GatewayError
from .models import BillingProfile, Invoice, Kind, Redemption, TopUp, Transaction
from .pdf import invoice_pdf

TRANSACTIONS_PER_PAGE = 50
TOP_UPS_PER_PAGE = 50
INVOICES_PER_PAGE = 24
RECENT_ROWS = 10
FILTER_FIELDS = ("kind", "date_from", "date_to")
CSV_HEADER = ("date", "type", "description", "reference", "campaign", "amount", "balance_after", "currency")
# A spreadsheet runs a cell that starts with one of these as a formula; text cells get a leading quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DESCRIPTIONS = {
    Kind.TOP_UP: "Card payment",
    Kind.SPEND: "Ad delivery",
    Kind.CREDIT: "Promotional ad credit",
    Kind.REFUND: "Refund to the card",
    Kind.ADJUSTMENT: "Correction by Adplatform",
    Kind.INVOICE_PAYMENT: "Invoice paid",
}
TOP_UP_TONES = {
    TopUp.Status.SUCCEEDED: "success",
    TopUp.Status.PENDING: "warning",
    TopUp.Status.DECLINED: "danger",
    TopUp.Status.FAILED: "danger",
}
INVOICE_TONES = {Invoice.Status.OPEN: "warning", Invoice.Status.PAID: "success", Invoice.Status.ISSUED: "secondary"}


# --- what the pages show ---------------------------------------------------------------------------


def amount(micros: int, currency: str) -> str:
    return f"{money.format_amount(micros)} {currency}"


def signed(micros: int) -> str:
    """+20.00 for money in, -5.00 for money out."""
    return f"+{money.format_amount(micros)}" if micros > 0 else money.format_amount(micros)


@dataclass(frozen=True)
class Summary:
    balance_micros: int
    spendable_micros: int
    balance: str
    spendable: str
    credit_limit: str
    is_credit_line: bool
    threshold_micros: int | None
    threshold: str
    below_threshold: bool

    @property
    def exhausted(self) -> bool:
        return self.spendable_micros <= 0


def summary(advertiser: Advertiser) -> Summary:
    balance = selectors.balance_micros(advertiser)
    spendable = selectors.spendable_from(balance=balance, advertiser=advertiser)
    profile = BillingProfile.objects.filter(advertiser=advertiser).first()
    threshold = profile.low_balance_threshold_micros if profile else None
    return Summary(
        balance_micros=balance,
        spendable_micros=spendable,
        balance=amount(balance, advertiser.currency),
        spendable=amount(spendable, advertiser.currency),
        credit_limit=amount(advertiser.credit_limit_micros, advertiser.currency),
        is_credit_line=advertiser.billing_mode == Advertiser.BillingMode.CREDIT_LINE,
        threshold_micros=threshold,
        threshold=amount(threshold, advertiser.currency) if threshold else "",
        below_threshold=threshold is not None and 0 < spendable < threshold,
    )


@dataclass(frozen=True)
class TransactionRow:
    transaction: Transaction
    kind: str
    description: str
    reference: str
    campaign: str
    amount: str
    tone: str
    balance_after: str


def transaction_row(transaction: Transaction) -> TransactionRow:
    return TransactionRow(
        transaction=transaction,
        kind=transaction.get_kind_display(),
        description=transaction.reason or DESCRIPTIONS.get(Kind(transaction.kind), ""),
        reference=transaction.reference,
        campaign=transaction.campaign.name if transaction.campaign else "",
        amount=signed(transaction.amount_micros),
        tone="success" if transaction.amount_micros > 0 else "danger",
        balance_after=money.format_amount(transaction.balance_after_micros),
    )


@dataclass(frozen=True)
class TopUpRow:
    top_up: TopUp
    amount: str
    payment_method: str
    tone: str


def top_up_row(record: TopUp) -> TopUpRow:
    return TopUpRow(
        record,
        amount(record.amount_micros, record.currency),
        payment_method_label(record.payment_method),
        TOP_UP_TONES[TopUp.Status(record.status)],
    )


@dataclass(frozen=True)
class InvoiceRow:
    invoice: Invoice
    total: str
    tone: str


def invoice_row(invoice: Invoice) -> InvoiceRow:
    return InvoiceRow(invoice, amount(invoice.total_micros, invoice.currency), INVOICE_TONES[Invoice.Status(invoice.status)])


# --- plumbing ------------------------------------------------------------------------------------------


def _can_manage(user: User, advertiser: Advertiser) -> bool:
    return role_for(user=user, advertiser=advertiser) == Role.ADMIN


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], advertiser: Advertiser, status: int = 200
) -> HttpResponse:
    """Render in the advertiser's time zone, with what every billing page needs."""
    context = {
        "advertiser": advertiser,
        "currency": advertiser.currency,
        "can_manage": _can_manage(signed_in_user(request), advertiser),
        **context,
    }
    with timezone.override(ZoneInfo(advertiser.time_zone)):
        return render(request, template, context, status=status)


def _sandbox() -> bool:
    return not settings.STRIPE_SECRET_KEY


def _transactions(user: User, advertiser: Advertiser) -> QuerySet[Transaction]:
    return selectors.transactions_for(user).filter(advertiser=advertiser)


def _top_ups(user: User, advertiser: Advertiser) -> QuerySet[TopUp]:
    return selectors.top_ups_for(user).filter(advertiser=advertiser)


def _invoices(user: User, advertiser: Advertiser) -> QuerySet[Invoice]:
    return selectors.invoices_for(user).filter(advertiser=advertiser)


def _overview(
    request: HttpRequest,
    advertiser: Advertiser,
    *,
    top_up_form: TopUpForm | None = None,
    promo_form: PromoCodeForm | None = None,
    alert_form: LowBalanceAlertForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = signed_in_user(request)
    state = summary(advertiser)
    posted = next(
        (
            (name, form)
            for name, form in (("top_up", top_up_form), ("promo", promo_form), ("alert", alert_form))
            if form is not None
        ),
        None,
    )
    context = {
        "summary": state,
        "posted": posted,
        "top_up_form": top_up_form or TopUpForm(sandbox=_sandbox()),
        "promo_form": promo_form or PromoCodeForm(),
        "alert_form": alert_form or LowBalanceAlertForm(initial={"low_balance_threshold": state.threshold_micros}),
        "sandbox": _sandbox(),
        "minimum_top_up": amount(services.minimum_top_up_micros(currency_of(advertiser)), advertiser.currency),
        "pending_credits": [
            (redemption, amount(redemption.amount_micros, advertiser.currency))
            for redemption in Redemption.objects.filter(advertiser=advertiser, status=Redemption.Status.PENDING)
            .select_related("promo_code")
            .order_by("created_at", "pk")
        ],
        "transactions": [transaction_row(row) for row in _transactions(user, advertiser)[:RECENT_ROWS]],
        "transaction_count": _transactions(user, advertiser).count(),
        "top_ups": [top_up_row(record) for record in _top_ups(user, advertiser)[:RECENT_ROWS]],
        "top_up_count": _top_ups(user, advertiser).count(),
        "invoices": [invoice_row(invoice) for invoice in _invoices(user, advertiser)[:RECENT_ROWS]],
        "invoice_count": _invoices(user, advertiser).count(),
    }
    return _page(request, "billing/overview.html", context, advertiser, status)


def _refused(form: Any, error: ValidationError | PermissionDenied) -> int:
    """Put a service's refusal on the form; the HTTP status to answer with."""
    apply_service_errors(form, error)
    return 403 if isinstance(error, PermissionDenied) else 400


# --- the overview and its forms --------------------------------------------------------------------------


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    """Balance, what can still be spent, the forms that move money and the latest of everything."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return redirect("advertiser_new")
    return _overview(request, advertiser)


@login_required
@require_POST
def top_up(request: HttpRequest) -> HttpResponse:
    """Charge a payment method and add the money; the form's key makes a double submit one payment."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return redirect("advertiser_new")
    user = signed_in_user(request)
    form = TopUpForm(request.POST, sandbox=_sandbox())
    if not form.is_valid():
        return _overview(request, advertiser, top_up_form=form, status=400)
    fields = form.service_fields()
    replayed = _top_ups(user, advertiser).filter(idempotency_key=fields["idempotency_key"]).exists()
    try:
        record = services.top_up(actor=user, advertiser=advertiser, **fields)
    except (PermissionDenied, ValidationError) as error:
        return _overview(request, advertiser, top_up_form=form, status=_refused(form, error))
    except services.PaymentDeclinedError as declined:
        form.add_error(None, f"{declined} Nothing was charged and your balance is unchanged.")
        form.renew_key()
        return _overview(request, advertiser, top_up_form=form, status=402)
    except services.IdempotencyConflictError:
        form.add_error(None, "This form was already used for another payment. Check the amount and card, then submit again.")
        form.renew_key()
        return _overview(request, advertiser, top_up_form=form, status=409)
    except GatewayError:
        # The top-up stays pending under the same key: submitting again resumes it and never charges twice.
        form.add_error(None, "The payment provider could not be reached. Nothing was added yet; submit again in a moment.")
        return _overview(request, advertiser, top_up_form=form, status=503)
    added = amount(record.amount_micros, record.currency)
    if replayed:
        messages.info(
            request, f"This payment was already made: {added}, receipt {record.receipt_number}. Nothing was charged again."
        )
    else:
        messages.success(request, f"Payment received: {added} was added to your balance. Receipt {record.receipt_number}.")
    return redirect("billing:overview")


@login_required
@require_POST
def promo_redeem(request: HttpRequest) -> HttpResponse:
    """Redeem a promotional code: the credit lands now, or with the first top-up when the code says so."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return redirect("advertiser_new")
    form = PromoCodeForm(request.POST)
    if not form.is_valid():
        return _overview(request, advertiser, promo_form=form, status=400)
    try:
        redemption = services.promo_code_redeem(
            actor=signed_in_user(request), advertiser=advertiser, code=form.cleaned_data["code"]
        )
    except (PermissionDenied, ValidationError) as error:
        return _overview(request, advertiser, promo_form=form, status=_refused(form, error))
    credit, code = amount(redemption.amount_micros, advertiser.currency), redemption.promo_code.code
    if redemption.status == Redemption.Status.APPLIED:
        messages.success(request, f"Code {code} applied: {credit} of ad credit was added to your balance.")
    else:
        messages.success(request, f"Code {code} accepted: {credit} of ad credit is pending until your first top-up.")
    return redirect("billing:overview")


@login_required
@require_POST
def alert_update(request: HttpRequest) -> HttpResponse:
    """Set or clear the low-balance e-mail alert."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return redirect("advertiser_new")
    form = LowBalanceAlertForm(request.POST)
    if not form.is_valid():
        return _overview(request, advertiser, alert_form=form, status=400)
    threshold = form.cleaned_data["low_balance_threshold"]
    try:
        services.billing_profile_update(
            actor=signed_in_user(request), advertiser=advertiser, low_balance_threshold_micros=threshold
        )
    except (PermissionDenied, ValidationError) as error:
        return _overview(request, advertiser, alert_form=form, status=_refused(form, error))
    if threshold is None:
        messages.success(request, "Low-balance alert turned off.")
    else:
        messages.success(
            request,
            f"Low-balance alert saved: admins get an e-mail when less than {amount(threshold, advertiser.currency)} is left.",
        )
    return redirect("billing:overview")


# --- transactions ------------------------------------------------------------------------------------------


def _filtered(request: HttpRequest, advertiser: Advertiser) -> tuple[TransactionFilterForm, QuerySet[Transaction]]:
    form = TransactionFilterForm(request.GET)
    rows = _transactions(signed_in_user(request), advertiser)
    if kind := form.chosen_kind():
        rows = rows.filter(kind=kind)
    start, end = form.bounds(advertiser.time_zone)
    if start:
        rows = rows.filter(created_at__gte=start)
    if end:
        rows = rows.filter(created_at__lt=end)
    return form, rows


def _filter_query(request: HttpRequest) -> str:
    """The filters of this request as a query string, for paging and the export link."""
    return urlencode([(name, request.GET[name]) for name in FILTER_FIELDS if request.GET.get(name)])


@login_required
@require_GET
def transactions(request: HttpRequest) -> HttpResponse:
    """Every ledger row of the current advertiser, filtered by type and dates, newest first."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return redirect("advertiser_new")
    form, rows = _filtered(request, advertiser)
    page = Paginator(rows, TRANSACTIONS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "filter_form": form,
        "page": page,
        "rows": [transaction_row(row) for row in page],
        "query": _filter_query(request),
        "filtered": any(request.GET.get(name) for name in FILTER_FIELDS),
    }
    return _page(request, "billing/transactions.html", context, advertiser, status=400 if form.errors else 200)


def _text_cell(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _csv_lines(rows: Iterable[Transaction], zone: ZoneInfo) -> Iterator[str]:
    class Line:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Line())
    yield writer.writerow(CSV_HEADER)
    for row in rows:
        line = transaction_row(row)
        yield writer.writerow(
            (
                row.created_at.astimezone(zone).isoformat(timespec="seconds"),
                row.kind,
                _text_cell(line.description),
                _text_cell(line.reference),
                _text_cell(line.campaign),
                money.format_amount(row.amount_micros),
                money.format_amount(row.balance_after_micros),
                row.currency,
            )
        )


@login_required
@require_GET
def transactions_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The filtered transactions as CSV: ISO dates in the advertiser's time zone, amounts as decimal strings."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        raise Http404("No advertiser.")
    form, rows = _filtered(request, advertiser)
    if form.errors:
        problems = "; ".join(f"{name}: {' '.join(str(error) for error in errors)}" for name, errors in form.errors.items())
        return HttpResponse(f"Fix the filters: {problems}\n", status=400, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(
        _csv_lines(rows.iterator(chunk_size=2000), ZoneInfo(advertiser.time_zone)), content_type="text/csv; charset=utf-8"
    )
    filename = f"transactions-{advertiser.pk}-{clock.today_in(advertiser.time_zone):%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- top-ups and invoices ---------------------------------------------------------------------------------


@login_required
@require_GET
def top_ups(request: HttpRequest) -> HttpResponse:
    """Every payment attempt: status, receipt number and why a failed one failed."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return redirect("advertiser_new")
    page = Paginator(_top_ups(signed_in_user(request), advertiser), TOP_UPS_PER_PAGE).get_page(request.GET.get("page"))
    return _page(request, "billing/top_ups.html", {"page": page, "top_ups": [top_up_row(record) for record in page]}, advertiser)


@login_required
@require_GET
def invoices(request: HttpRequest) -> HttpResponse:
    """Monthly invoices (credit lines) and statements (prepaid) with their PDFs."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return redirect("advertiser_new")
    page = Paginator(_invoices(signed_in_user(request), advertiser), INVOICES_PER_PAGE).get_page(request.GET.get("page"))
    return _page(
        request, "billing/invoices.html", {"page": page, "invoices": [invoice_row(invoice) for invoice in page]}, advertiser
    )


@login_required
@require_GET
def invoice_download(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """An invoice or statement as PDF; one outside the user's tenancy is a 404."""
    invoice = selectors.invoice_get_for_user(user=signed_in_user(request), invoice_id=invoice_id)
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    return response
