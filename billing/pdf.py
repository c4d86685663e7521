"""Invoice and statement PDFs (fpdf2, built-in fonts)."""

from zoneinfo import ZoneInfo

from fpdf import FPDF

from adplatform import money

from .models import Invoice


def _text(value: str) -> str:
    # The built-in PDF fonts cover Windows-1252; anything beyond it is shown as "?" rather than failing.
    return value.encode("cp1252", errors="replace").decode("cp1252")


def _amount(micros: int, currency: str) -> str:
    return f"{money.format_amount(micros)} {currency}"


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice or statement as a one-or-more-page A4 PDF."""
    advertiser = invoice.advertiser
    pdf = FPDF(format="A4")
    pdf.set_title(f"{invoice.get_kind_display()} {invoice.number}")
    pdf.set_author("Adplatform")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 20)
    pdf.cell(0, 12, _text(f"Adplatform {invoice.get_kind_display().lower()}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    last_day = invoice.period_end.fromordinal(invoice.period_end.toordinal() - 1)
    details = [
        ("Number", invoice.number),
        ("Advertiser", f"{advertiser.name} (account {advertiser.pk})"),
        (
            "Period",
            f"{invoice.period_start:%d %b %Y} - {last_day:%d %b %Y} ({advertiser.time_zone})",
        ),
        ("Issued", f"{invoice.issued_at.astimezone(ZoneInfo(advertiser.time_zone)):%d %b %Y}"),
    ]
    if invoice.due_date:
        details.append(("Due", f"{invoice.due_date:%d %b %Y}"))
    details.append(("Status", invoice.get_status_display()))
    for label, value in details:
        pdf.cell(35, 7, _text(label))
        pdf.cell(0, 7, _text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(140, 8, "Description", border="B")
    pdf.cell(0, 8, "Amount", border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    if invoice.kind == Invoice.Kind.STATEMENT:
        pdf.cell(140, 7, "Opening balance")
        pdf.cell(0, 7, _text(_amount(invoice.opening_balance_micros, invoice.currency)), align="R", new_x="LMARGIN", new_y="NEXT")
    for line in invoice.lines.all():
        pdf.cell(140, 7, _text(line.description[:80]))
        pdf.cell(0, 7, _text(_amount(line.amount_micros, invoice.currency)), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(140, 9, "Total ad spend", border="T")
    pdf.cell(0, 9, _text(_amount(invoice.total_micros, invoice.currency)), border="T", align="R", new_x="LMARGIN", new_y="NEXT")
    if invoice.kind == Invoice.Kind.STATEMENT:
        pdf.cell(140, 8, "Closing balance")
        pdf.cell(0, 8, _text(_amount(invoice.closing_balance_micros, invoice.currency)), align="R", new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.ln(4)
        pdf.set_font("Helvetica", "", 10)
        due = f"{invoice.due_date:%d %b %Y}" if invoice.due_date else "the due date"
        payable = _amount(invoice.total_micros, invoice.currency)
        pdf.multi_cell(0, 6, _text(f"Please pay {payable} by {due}, quoting {invoice.number}."))
    return bytes(pdf.output())
