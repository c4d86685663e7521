"""manage.py issue_invoices: issue the invoices and statements of every month that has closed."""

from typing import Any

from django.core.management.base import BaseCommand

from billing import services


class Command(BaseCommand):
    help = "Issue each advertiser's invoice (credit line) or statement (prepaid) for its last closed month."

    def handle(self, *args: Any, **options: Any) -> None:
        issued = services.invoices_issue_due()
        for invoice in issued:
            self.stdout.write(f"{invoice.number}: {invoice.advertiser.name}, {invoice.get_kind_display().lower()}")
        self.stdout.write(f"{len(issued)} invoice(s) and statement(s) issued or already there.")
