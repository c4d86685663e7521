"""What delivery listens to: anything that changes what may be served recompiles the index (debounced);
any ledger movement refreshes the advertiser's balance guard."""

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from accounts.models import Advertiser, Currency
from adplatform.redis_client import get_redis
from billing.signals import ledger_changed
from campaigns.models import Ad, AdGroup, Campaign, Placement

from .models import ConversionPixel

DEBOUNCE_KEY = "delivery:index:compile-scheduled"
DEBOUNCE_SECONDS = 2


def schedule_compile(**_: Any) -> None:
    """Recompile the index a moment after the change commits, once for a burst of changes."""

    def enqueue() -> None:
        from .tasks import compile_index

        if get_redis().set(DEBOUNCE_KEY, "1", nx=True, ex=DEBOUNCE_SECONDS):
            compile_index.apply_async(countdown=DEBOUNCE_SECONDS)

    transaction.on_commit(enqueue)


def refresh_guard(*, advertiser_id: int, **_: Any) -> None:
    """Refresh the advertiser's Redis balance guard once what changed it has committed."""
    from .tasks import refresh_allowance

    refresh_allowance.delay_on_commit(advertiser_id)


def advertiser_saved(instance: Advertiser, **kwargs: Any) -> None:
    schedule_compile()
    refresh_guard(advertiser_id=instance.pk)  # the credit limit or billing mode may have changed


def connect() -> None:
    for model in (Campaign, AdGroup, Ad, Placement, Currency, ConversionPixel):
        post_save.connect(schedule_compile, sender=model, dispatch_uid=f"delivery-compile-save-{model.__name__}")
        post_delete.connect(schedule_compile, sender=model, dispatch_uid=f"delivery-compile-delete-{model.__name__}")
    for through in (AdGroup.placements.through, AdGroup.interests.through):
        m2m_changed.connect(schedule_compile, sender=through, dispatch_uid=f"delivery-compile-m2m-{through.__name__}")
    post_save.connect(advertiser_saved, sender=Advertiser, dispatch_uid="delivery-advertiser-saved")
    ledger_changed.connect(refresh_guard, dispatch_uid="delivery-refresh-guard")
