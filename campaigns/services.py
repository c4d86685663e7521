"""Every write about campaigns: create, edit, pause, resume, archive, duplicate, review, placements.

Role checks (operators and admins edit, analysts read) and validation live here; forms and
serializers only translate. Each service validates the whole intended state, so nothing is
written unless all of it is valid. Time comes from adplatform.clock.
"""

import hashlib
import re
import secrets
from collections.abc import Iterable
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import models, transaction
from django.db.models.signals import post_save

from accounts.models import Advertiser, Role, User
from accounts.selectors import currency_of, notification_emails
from accounts.services import require_role
from adplatform import clock, money

from . import policy
from .choices import BULK_LIMIT, SLOTS_PER_WEEK, AdFormat, BudgetMode, ReviewStatus, Status
from .models import Ad, AdGroup, BlockedTerm, Campaign, Interest, Placement
from .validation import (
    CurrencyFacts,
    Errors,
    PlacementFacts,
    ad_errors,
    ad_group_errors,
    campaign_errors,
)

PLACEMENT_KEY_PREFIX = "plk_"
PLACEMENT_KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")
CAMPAIGN_FIELDS = ("name", "objective", "budget_mode", "budget_micros", "status")
AD_GROUP_FIELDS = (
    "name",
    "countries",
    "age_ranges",
    "genders",
    "languages",
    "device_types",
    "operating_systems",
    "start_time",
    "end_time",
    "dayparting",
    "budget_mode",
    "budget_micros",
    "pacing",
    "bid_strategy",
    "bid_micros",
    "frequency_cap_impressions",
    "frequency_cap_days",
    "status",
)
AD_GROUP_RELATIONS = ("placements", "interests")  # given as lists of keys
AD_FIELDS = (
    "format",
    "display_name",
    "headline",
    "body",
    "media_url",
    "video_duration_seconds",
    "call_to_action",
    "landing_url",
    "status",
)
# Changing any of these changes what viewers see, so the ad goes back into review.
VIEWER_FIELDS = frozenset(AD_FIELDS) - {"status"}
LIST_FIELDS = ("countries", "age_ranges", "genders", "languages", "device_types", "operating_systems", "dayparting")

Item = TypeVar("Item", Campaign, AdGroup, Ad)


def _raise_if(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


def _require_editor(actor: User, advertiser: Advertiser) -> None:
    require_role(user=actor, advertiser=advertiser, minimum=Role.OPERATOR)


def _unknown_fields(changes: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in unknown})


def _currency(advertiser: Advertiser) -> CurrencyFacts:
    currency = currency_of(advertiser)
    return CurrencyFacts(currency.code, currency.units_per_usd, currency.min_daily_budget_micros)


def _refuse_if_archived(item: Campaign | AdGroup | Ad, *parents: Campaign | AdGroup) -> None:
    if item.status == Status.ARCHIVED:
        raise ValidationError({"status": ["Archived items cannot be changed."]})
    for parent in parents:
        if parent.status == Status.ARCHIVED:
            raise ValidationError({"status": [f"Its {parent._meta.verbose_name} is archived."]})


def _status_only(state: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether the change only sets the status.

    Pausing, resuming and archiving must work even when the rest of the item no longer passes
    today's rules (staff raised a floor or a minimum budget, retired an interest), so such a change
    checks the status value alone.
    """
    changed = {field for field, value in state.items() if current.get(field) != value}
    if changed - {"status"}:
        return False
    if state["status"] not in Status.values:
        raise ValidationError({"status": [f"Choose one of: {', '.join(Status.values)}."]})
    return True


def _save(item: models.Model, actor: User | None, reason: str = "") -> None:
    """Save with the change history recording who did it."""
    item._history_user = actor  # type: ignore[attr-defined]
    item._history_date = clock.now()  # type: ignore[attr-defined]
    if reason:
        item._change_reason = reason  # type: ignore[attr-defined]
    item.updated_at = clock.now()  # type: ignore[attr-defined]
    item.save()


def _save_with_relations(ad_group: AdGroup, actor: User, relations: dict[str, list[Any]]) -> None:
    """Save an ad group and its many-to-many fields as one entry of its change history."""
    created = ad_group.pk is None
    ad_group.skip_history_when_saving = True  # type: ignore[attr-defined]
    try:
        _save(ad_group, actor)
        for field, objects in relations.items():
            getattr(ad_group, field).set(objects)
    finally:
        del ad_group.skip_history_when_saving  # type: ignore[attr-defined]
    post_save.send(sender=AdGroup, instance=ad_group, created=created, raw=False, using="default", update_fields=None)


ALL_SLOTS = frozenset(range(SLOTS_PER_WEEK))


def _normalize_lists(state: dict[str, Any]) -> None:
    """Targeting lists as stored: de-duplicated, sorted, codes in their canonical case."""
    for field in (*LIST_FIELDS, *AD_GROUP_RELATIONS):
        values = state.get(field)
        if not isinstance(values, list | tuple):
            continue
        if all(isinstance(value, str) for value in values):
            if field == "countries":
                values = [value.upper() for value in values]
            elif field == "languages":
                values = [value.lower() for value in values]
            state[field] = sorted(set(values))
        elif all(isinstance(value, int) and not isinstance(value, bool) for value in values):
            state[field] = sorted(set(values))
    if isinstance(state.get("dayparting"), list) and set(state["dayparting"]) == ALL_SLOTS:
        state["dayparting"] = []  # every slot of the week is the same as no dayparting


# --- campaigns -------------------------------------------------------------------------------


def _campaign_errors(campaign: Campaign | None, state: dict[str, Any], currency: CurrencyFacts) -> Errors:
    without_end, strategies = 0, []
    if campaign is not None and campaign.pk:
        live = campaign.ad_groups.exclude(status=Status.ARCHIVED)
        without_end = live.filter(end_time__isnull=True).count()
        strategies = list(live.values_list("bid_strategy", flat=True).distinct())
    return campaign_errors(state=state, currency=currency, ad_groups_without_end=without_end, ad_group_strategies=strategies)


@transaction.atomic
def campaign_create(
    *,
    actor: User,
    advertiser: Advertiser,
    name: str,
    objective: str,
    budget_mode: str = BudgetMode.UNLIMITED,
    budget_micros: int = 0,
    status: str = Status.ACTIVE,
) -> Campaign:
    """Create a campaign for `advertiser` (operators and admins)."""
    _require_editor(actor, advertiser)
    state = {
        "name": name.strip(),
        "objective": objective,
        "budget_mode": budget_mode,
        "budget_micros": budget_micros or 0,
        "status": status,
    }
    _raise_if(_campaign_errors(None, state, _currency(advertiser)))
    campaign = Campaign(advertiser=advertiser, **state)
    _save(campaign, actor)
    return campaign


@transaction.atomic
def campaign_update(*, actor: User, campaign: Campaign, **changes: Any) -> Campaign:
    """Change a campaign's fields; a status change is just another field (pause, resume, archive)."""
    _require_editor(actor, campaign.advertiser)
    _unknown_fields(changes, CAMPAIGN_FIELDS)
    campaign = Campaign.objects.select_for_update().select_related("advertiser").get(pk=campaign.pk)
    _refuse_if_archived(campaign)
    if "name" in changes:
        changes["name"] = changes["name"].strip()
    if changes.get("budget_mode") == BudgetMode.UNLIMITED and "budget_micros" not in changes:
        changes["budget_micros"] = 0
    current = {field: getattr(campaign, field) for field in CAMPAIGN_FIELDS}
    state = current | changes
    if not _status_only(state, current):
        _raise_if(_campaign_errors(campaign, state, _currency(campaign.advertiser)))
    if all(getattr(campaign, field) == value for field, value in state.items()):
        return campaign
    for field, value in state.items():
        setattr(campaign, field, value)
    _save(campaign, actor)
    return campaign


# --- ad groups -------------------------------------------------------------------------------


def _placements(keys: Any) -> tuple[list[Placement], list[str]]:
    if not isinstance(keys, list | tuple) or not all(isinstance(key, str) for key in keys):
        raise ValidationError({"placements": ["Send a list of placement keys."]})
    found = {placement.key: placement for placement in Placement.objects.filter(key__in=keys)}
    return [found[key] for key in dict.fromkeys(keys) if key in found], [key for key in keys if key not in found]


def _placement_facts(placement: Placement) -> PlacementFacts:
    return PlacementFacts(
        placement.key, placement.name, tuple(placement.allowed_formats), placement.floor_cpm_usd_micros, placement.is_active
    )


def _validate_ad_group(campaign: Campaign, state: dict[str, Any]) -> tuple[list[Placement], list[Interest]]:
    placements, unknown = _placements(state["placements"])
    interest_keys = state["interests"] if isinstance(state["interests"], list | tuple) else []
    interests = list(Interest.objects.filter(key__in=interest_keys, is_active=True))
    errors = ad_group_errors(
        state=state,
        objective=campaign.objective,
        campaign_budget_mode=campaign.budget_mode,
        placements=[_placement_facts(placement) for placement in placements],
        unknown_placements=unknown,
        currency=_currency(campaign.advertiser),
        known_interests=[interest.key for interest in interests],
    )
    _raise_if(errors)
    return placements, interests


AD_GROUP_DEFAULTS: dict[str, Any] = {
    "countries": [],
    "age_ranges": [],
    "genders": [],
    "languages": [],
    "interests": [],
    "device_types": [],
    "operating_systems": [],
    "end_time": None,
    "dayparting": [],
    "budget_mode": BudgetMode.DAILY,
    "budget_micros": 0,
    "pacing": "standard",
    "bid_strategy": "cpm",
    "frequency_cap_impressions": None,
    "frequency_cap_days": None,
    "status": Status.ACTIVE,
}


@transaction.atomic
def ad_group_create(
    *, actor: User, campaign: Campaign, name: str, placements: list[str], bid_micros: int, **fields: Any
) -> AdGroup:
    """Create an ad group in `campaign`: placements by key, targeting, schedule, budget and bid."""
    _require_editor(actor, campaign.advertiser)
    _unknown_fields(fields, set(AD_GROUP_FIELDS) | set(AD_GROUP_RELATIONS))
    campaign = Campaign.objects.select_for_update().select_related("advertiser").get(pk=campaign.pk)
    if campaign.status == Status.ARCHIVED:
        raise ValidationError({"campaign": ["This campaign is archived."]})
    state = AD_GROUP_DEFAULTS | {"start_time": clock.now()} | fields
    state |= {"name": (name or "").strip(), "placements": placements, "bid_micros": bid_micros}
    if state["start_time"] is None:
        state["start_time"] = clock.now()
    if state["budget_mode"] == BudgetMode.UNLIMITED and "budget_micros" not in fields:
        state["budget_micros"] = 0
    _normalize_lists(state)
    placement_objects, interests = _validate_ad_group(campaign, state)
    ad_group = AdGroup(campaign=campaign, **{field: state[field] for field in AD_GROUP_FIELDS})
    _save_with_relations(ad_group, actor, {"placements": placement_objects, "interests": interests})
    return ad_group


def _ad_group_state(ad_group: AdGroup) -> dict[str, Any]:
    state = {field: getattr(ad_group, field) for field in AD_GROUP_FIELDS}
    state["placements"] = sorted(ad_group.placements.values_list("key", flat=True))
    state["interests"] = sorted(ad_group.interests.values_list("key", flat=True))
    return state


@transaction.atomic
def ad_group_update(*, actor: User, ad_group: AdGroup, **changes: Any) -> AdGroup:
    """Change an ad group: any field, including placements and interests (lists of keys)."""
    _require_editor(actor, ad_group.campaign.advertiser)
    _unknown_fields(changes, set(AD_GROUP_FIELDS) | set(AD_GROUP_RELATIONS))
    ad_group = AdGroup.objects.select_for_update().select_related("campaign__advertiser").get(pk=ad_group.pk)
    _refuse_if_archived(ad_group, ad_group.campaign)
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
    if changes.get("budget_mode") == BudgetMode.UNLIMITED and "budget_micros" not in changes:
        changes["budget_micros"] = 0
    if "start_time" in changes and changes["start_time"] is None:
        changes["start_time"] = clock.now()
    current = _ad_group_state(ad_group)
    state = current | changes
    _normalize_lists(state)
    if state == current:
        return ad_group
    if _status_only(state, current):
        ad_group.status = state["status"]
        _save(ad_group, actor)
        return ad_group
    placements, interests = _validate_ad_group(ad_group.campaign, state)
    for field in AD_GROUP_FIELDS:
        setattr(ad_group, field, state[field])
    _save_with_relations(ad_group, actor, {"placements": placements, "interests": interests})
    return ad_group


# --- ads -------------------------------------------------------------------------------------


def _ad_state(fields: dict[str, Any]) -> dict[str, Any]:
    state = {
        "body": "",
        "media_url": "",
        "video_duration_seconds": None,
        "call_to_action": "learn_more",
        "status": Status.ACTIVE,
    } | fields
    for text in ("display_name", "headline", "body", "media_url", "landing_url"):
        state[text] = (state.get(text) or "").strip()
    return state


def _blocked_terms() -> list[policy.Term]:
    return [policy.Term(term.term, term.reason) for term in BlockedTerm.objects.all()]


def _submit_for_review(ad: Ad, actor: User | None) -> None:
    """Put the ad in review: automated checks reject at once with reasons, or it waits for a person."""
    placements = list(ad.ad_group.placements.all())
    reasons = policy.automated_review(
        ad={field: getattr(ad, field) for field in AD_FIELDS},
        placement_formats=[placement.allowed_formats for placement in placements],
        placement_names=[placement.name for placement in placements],
        blocked_terms=_blocked_terms(),
    )
    ad.submitted_at = clock.now()
    ad.reviewed_by = None
    if reasons:
        ad.review_status, ad.review_reason, ad.reviewed_at = ReviewStatus.REJECTED, " ".join(reasons), clock.now()
        _save(ad, actor, reason="automated review: rejected")
        _email_rejection(ad)
    else:
        ad.review_status, ad.review_reason, ad.reviewed_at = ReviewStatus.PENDING, "", None
        _save(ad, actor, reason="submitted for review")


@transaction.atomic
def ad_create(*, actor: User, ad_group: AdGroup, **fields: Any) -> Ad:
    """Create an ad in `ad_group`; it goes straight into review."""
    _require_editor(actor, ad_group.campaign.advertiser)
    _unknown_fields(fields, AD_FIELDS)
    ad_group = AdGroup.objects.select_for_update().select_related("campaign__advertiser").get(pk=ad_group.pk)
    if ad_group.status == Status.ARCHIVED or ad_group.campaign.status == Status.ARCHIVED:
        raise ValidationError({"ad_group": ["This ad group is archived."]})
    missing = [field for field in ("format", "display_name", "headline", "landing_url") if field not in fields]
    _raise_if({field: ["This field is required."] for field in missing})
    state = _ad_state(fields)
    _raise_if(ad_errors(state=state))
    ad = Ad(ad_group=ad_group, **state)
    _submit_for_review(ad, actor)
    return ad


@transaction.atomic
def ad_update(*, actor: User, ad: Ad, **changes: Any) -> Ad:
    """Change an ad; changing what viewers see sends it back into review."""
    _require_editor(actor, ad.ad_group.campaign.advertiser)
    _unknown_fields(changes, AD_FIELDS)
    ad = Ad.objects.select_for_update().select_related("ad_group__campaign__advertiser").get(pk=ad.pk)
    _refuse_if_archived(ad, ad.ad_group, ad.ad_group.campaign)
    current = {field: getattr(ad, field) for field in AD_FIELDS}
    state = _ad_state(current | changes)
    if state.get("format") != AdFormat.VIDEO and "format" in changes and "video_duration_seconds" not in changes:
        state["video_duration_seconds"] = None
    if not _status_only(state, current):
        _raise_if(ad_errors(state=state))
    changed = {field for field in AD_FIELDS if state[field] != current[field]}
    if not changed:
        return ad
    for field in changed:
        setattr(ad, field, state[field])
    if changed & VIEWER_FIELDS:
        _submit_for_review(ad, actor)
    else:
        _save(ad, actor)
    return ad


def _email_rejection(ad: Ad) -> None:
    advertiser = ad.ad_group.campaign.advertiser
    recipients = notification_emails(advertiser=advertiser)
    if not recipients:
        return
    subject = f"Your ad “{ad.headline}” was not approved"
    message = (
        f"Your ad “{ad.headline}” in {ad.ad_group.campaign.name} / {ad.ad_group.name} ({advertiser.name}) was not approved.\n\n"
        f"Why: {ad.review_reason}\n\nEdit the ad and save it to send it for review again."
    )
    transaction.on_commit(lambda: send_mail(subject=subject, message=message, from_email=None, recipient_list=recipients))


@transaction.atomic
def ad_review(*, reviewer: User, ad: Ad, decision: str, reason: str = "") -> Ad:
    """A staff reviewer approves or rejects (with a reason) an ad that is in review."""
    if not reviewer.is_staff:
        raise PermissionDenied("Only platform staff review ads.")
    ad = Ad.objects.select_for_update().select_related("ad_group__campaign__advertiser").get(pk=ad.pk)
    errors: Errors = {}
    if decision not in ("approve", "reject"):
        errors["decision"] = ["Choose approve or reject."]
    elif decision == "reject" and not reason.strip():
        errors["reason"] = ["Say why, in words the advertiser can act on."]
    if ad.review_status != ReviewStatus.PENDING:
        errors["ad"] = [f"This ad is not in review (it is {ad.get_review_status_display().lower()})."]
    _raise_if(errors)
    ad.reviewed_by, ad.reviewed_at = reviewer, clock.now()
    if decision == "approve":
        ad.review_status, ad.review_reason = ReviewStatus.APPROVED, ""
        _save(ad, reviewer, reason="approved")
    else:
        ad.review_status, ad.review_reason = ReviewStatus.REJECTED, reason.strip()
        _save(ad, reviewer, reason="rejected")
        _email_rejection(ad)
    return ad


# --- bulk status and duplication ---------------------------------------------------------------


@transaction.atomic
def bulk_set_status(*, actor: User, items: list[Item], status: str) -> list[Item]:
    """Pause or resume up to 100 campaigns, ad groups or ads at once: all or nothing."""
    if status not in (Status.ACTIVE, Status.PAUSED):
        raise ValidationError({"status": ["Bulk changes pause or resume: choose active or paused."]})
    if not items:
        raise ValidationError({"ids": ["Choose at least one item."]})
    if len(items) > BULK_LIMIT:
        raise ValidationError({"ids": [f"Change at most {BULK_LIMIT} items at once."]})
    updated: list[Item] = []
    for item in sorted(items, key=lambda item: item.pk):  # one lock order for every caller
        if isinstance(item, Campaign):
            updated.append(campaign_update(actor=actor, campaign=item, status=status))  # type: ignore[arg-type]
        elif isinstance(item, AdGroup):
            updated.append(ad_group_update(actor=actor, ad_group=item, status=status))  # type: ignore[arg-type]
        else:
            updated.append(ad_update(actor=actor, ad=item, status=status))  # type: ignore[arg-type]
    return updated


@transaction.atomic
def campaign_duplicate(*, actor: User, campaign: Campaign, name: str | None = None) -> Campaign:
    """Copy a campaign with its ad groups and ads. The copy starts paused and its ads go through review."""
    _require_editor(actor, campaign.advertiser)
    source = Campaign.objects.select_related("advertiser").get(pk=campaign.pk)
    copy = campaign_create(
        actor=actor,
        advertiser=source.advertiser,
        name=(name or f"{source.name} (copy)")[:200],
        objective=source.objective,
        budget_mode=source.budget_mode,
        budget_micros=source.budget_micros,
        status=Status.PAUSED,
    )
    for ad_group in source.ad_groups.exclude(status=Status.ARCHIVED).prefetch_related("placements", "interests", "ads"):
        ad_group_copy = ad_group_create(actor=actor, campaign=copy, **_ad_group_state(ad_group))
        for ad in ad_group.ads.exclude(status=Status.ARCHIVED):
            ad_create(actor=actor, ad_group=ad_group_copy, **{field: getattr(ad, field) for field in AD_FIELDS})
    return copy


# --- placements ------------------------------------------------------------------------------


def _new_placement_key() -> tuple[str, str]:
    raw = PLACEMENT_KEY_PREFIX + secrets.token_urlsafe(32)
    return raw, hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def placement_create(*, key: str, name: str, formats: list[str], floor_cpm_usd_micros: int) -> tuple[Placement, str]:
    """Create a placement; returns it with its serving API key (shown once, stored as a hash)."""
    errors: Errors = {}
    if len(key) > 50:
        errors["key"] = ["Use at most 50 characters."]
    elif not PLACEMENT_KEY_PATTERN.fullmatch(key):
        errors["key"] = ["Use lower-case letters, digits, - and _."]
    elif Placement.objects.filter(key=key).exists():
        errors["key"] = [f"A placement with key {key} already exists."]
    if not name.strip():
        errors["name"] = ["Enter a name."]
    elif len(name.strip()) > 100:
        errors["name"] = ["Use at most 100 characters."]
    bad = [fmt for fmt in formats if fmt not in AdFormat.values]
    if not formats or bad:
        errors["formats"] = [f"Choose from: {', '.join(AdFormat.values)}."]
    if floor_cpm_usd_micros < 0 or floor_cpm_usd_micros > money.MAX_AMOUNT_MICROS:
        errors["floor"] = ["Enter a floor of zero or more."]
    _raise_if(errors)
    raw, digest = _new_placement_key()
    placement = Placement.objects.create(
        key=key,
        name=name.strip(),
        allowed_formats=sorted(set(formats)),
        floor_cpm_usd_micros=floor_cpm_usd_micros,
        api_key_hash=digest,
        api_key_hint=raw[-4:],
    )
    return placement, raw


@transaction.atomic
def placement_rotate_key(*, placement: Placement) -> str:
    """Give a placement a new serving API key; the old one stops working."""
    raw, digest = _new_placement_key()
    Placement.objects.filter(pk=placement.pk).update(api_key_hash=digest, api_key_hint=raw[-4:])
    return raw
