"""manage.py check_ledger: prove every cached balance equals the sum of its ledger."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from adplatform import money
from billing import services
from billing.models import Balance


class Command(BaseCommand):
    help = "Compare each advertiser's cached balance with the sum of its transactions; exit 1 on any mismatch."

    def handle(self, *args: Any, **options: Any) -> None:
        mismatches = services.ledger_check()
        for mismatch in mismatches:
            self.stdout.write(
                f"advertiser {mismatch.advertiser_id}: cached {money.format_amount(mismatch.cached_micros)}, "
                f"ledger {money.format_amount(mismatch.ledger_micros)}"
            )
        if mismatches:
            raise CommandError(f"{len(mismatches)} balance(s) differ from the ledger.")
        self.stdout.write(f"OK: {Balance.objects.count()} balance(s) equal their ledgers.")
