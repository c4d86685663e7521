"""Celery tasks for accounts."""

from celery import shared_task

from . import services


@shared_task
def purge_idempotency_keys() -> int:
    """Forget stored Idempotency-Key responses past their retention window."""
    return services.idempotency_keys_purge()
