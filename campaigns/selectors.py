"""Reads about campaigns, always inside the caller's tenancy (accounts.selectors.advertisers_for)."""

from datetime import datetime
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from accounts.models import User
from accounts.selectors import advertisers_for
from adplatform import money

from .choices import ReviewStatus
from .models import Ad, AdGroup, Campaign, Interest, Placement


def campaigns_for(user: User) -> QuerySet[Campaign]:
    """Campaigns of every advertiser `user` may see, with what delivery status needs."""
    return (
        Campaign.objects.filter(advertiser__in=advertisers_for(user))
        .select_related("advertiser")
        .prefetch_related(Prefetch("ad_groups", queryset=AdGroup.objects.prefetch_related("ads")))
    )


def ad_groups_for(user: User) -> QuerySet[AdGroup]:
    """Ad groups of every advertiser `user` may see."""
    return (
        AdGroup.objects.filter(campaign__advertiser__in=advertisers_for(user))
        .select_related("campaign__advertiser")
        .prefetch_related("placements", "interests", "ads")
    )


def ads_for(user: User) -> QuerySet[Ad]:
    """Ads of every advertiser `user` may see."""
    return Ad.objects.filter(ad_group__campaign__advertiser__in=advertisers_for(user)).select_related(
        "ad_group__campaign__advertiser"
    )


def _get(queryset: QuerySet[Any], object_id: int | str, what: str) -> Any:
    try:
        return queryset.get(pk=int(object_id))
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404(f"No such {what}.") from exc


def campaign_get_for_user(*, user: User, campaign_id: int | str) -> Campaign:
    """The campaign if `user` may see it, else 404."""
    return _get(campaigns_for(user), campaign_id, "campaign")


def ad_group_get_for_user(*, user: User, ad_group_id: int | str) -> AdGroup:
    """The ad group if `user` may see it, else 404."""
    return _get(ad_groups_for(user), ad_group_id, "ad group")


def ad_get_for_user(*, user: User, ad_id: int | str) -> Ad:
    """The ad if `user` may see it, else 404."""
    return _get(ads_for(user), ad_id, "ad")


def ad_get_for_review(*, user: User, ad_id: int | str) -> Ad:
    """Any ad, for platform staff reviewing it; 404 for everyone else."""
    if not user.is_staff:
        raise Http404("No such ad.")
    return _get(Ad.objects.select_related("ad_group__campaign__advertiser"), ad_id, "ad")


def review_queue() -> QuerySet[Ad]:
    """Ads waiting for a human reviewer, oldest first."""
    return (
        Ad.objects.filter(review_status=ReviewStatus.PENDING)
        .select_related("ad_group__campaign__advertiser")
        .order_by("submitted_at", "id")
    )


def active_placements() -> QuerySet[Placement]:
    return Placement.objects.filter(is_active=True)


def active_interests() -> QuerySet[Interest]:
    return Interest.objects.filter(is_active=True)


MONEY_FIELDS = {"budget_micros": "budget", "bid_micros": "bid", "floor_cpm_usd_micros": "floor_cpm_usd"}
HIDDEN_FIELDS = {"updated_at", "submitted_at"}


def _show(field: str, value: Any) -> Any:
    if field in MONEY_FIELDS and isinstance(value, int):
        return money.format_amount(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if field == "reviewed_by" and value is not None:
        return User.objects.filter(pk=value).values_list("email", flat=True).first()
    return value


def _m2m_keys(field: str, rows: list[dict[str, Any]]) -> list[str]:
    """Historical many-to-many rows ({"adgroup": 1, "placement": 3}) as the related objects' keys."""
    model: type[Placement] | type[Interest] = Placement if field == "placements" else Interest
    column = model._meta.model_name or ""
    ids = [row[column] for row in rows if column in row]
    keys = dict(model.objects.filter(pk__in=ids).values_list("pk", "key"))
    return sorted(keys.get(pk, str(pk)) for pk in ids)


def change_history(item: Campaign | AdGroup | Ad) -> list[dict[str, Any]]:
    """Who changed what, newest first: each entry lists fields with old and new values."""
    records = list(item.history.select_related("history_user").order_by("-history_date", "-history_id"))
    field_order = {field.name: index for index, field in enumerate(type(item)._meta.get_fields())}
    entries = []
    for index, record in enumerate(records):
        previous = records[index + 1] if index + 1 < len(records) else None
        changes = []
        if previous is not None:
            delta = record.diff_against(previous)
            for change in sorted(delta.changes, key=lambda change: field_order.get(change.field, len(field_order))):
                if change.field in HIDDEN_FIELDS:
                    continue
                if change.field in ("placements", "interests"):
                    old, new = _m2m_keys(change.field, change.old), _m2m_keys(change.field, change.new)
                else:
                    old, new = _show(change.field, change.old), _show(change.field, change.new)
                changes.append({"field": MONEY_FIELDS.get(change.field, change.field), "old": old, "new": new})
        entries.append(
            {
                "id": record.history_id,
                "at": record.history_date,
                "by": record.history_user.email if record.history_user else None,
                "action": {"+": "created", "~": "changed", "-": "deleted"}[record.history_type],
                "note": record.history_change_reason or "",
                "changes": changes,
            }
        )
    return entries
