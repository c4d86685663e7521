"""Signals other apps listen to; delivery refreshes its fast balance guard from `ledger_changed`."""

from django.dispatch import Signal

# Sent after commit whenever an advertiser's ledger moved, with `advertiser_id`, `balance_micros`
# and `spendable_micros` (balance plus any credit limit).
ledger_changed = Signal()
