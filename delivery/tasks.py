"""Celery tasks for delivery (queue `delivery`): thin wrappers over the index and services."""

from celery import shared_task

from accounts.models import Advertiser

from . import index, services


@shared_task
def compile_index() -> str:
    """Compile the serveable-ad index into a new Redis snapshot when anything changed."""
    version, _ = index.compile_snapshot()
    return version


@shared_task
def consume_events() -> int:
    """Copy the event stream into the PostgreSQL event store."""
    return services.consume_events()


@shared_task
def post_spend() -> int:
    """Post charged cost from the event store to the ledger."""
    return services.post_spend()


@shared_task
def reconcile_counters() -> bool:
    """Rebuild Redis counters from PostgreSQL if Redis lost them."""
    return services.reconcile_counters()


@shared_task
def ensure_partitions() -> list[str]:
    """Create the event store's daily partitions ahead of time."""
    return services.ensure_partitions()


@shared_task
def refresh_allowance(advertiser_id: int) -> int | None:
    """Bring an advertiser's Redis balance guard up to date with its ledger."""
    advertiser = Advertiser.objects.filter(pk=advertiser_id).first()
    return services.refresh_allowance(advertiser) if advertiser else None


@shared_task
def pace() -> int:
    """Run the pacing controller: a throttle per standard-paced ad group with a budget."""
    return services.pace()
