"""Dashboard pages for campaigns: the list, the guided create flow, each campaign's page, edit pages, history.

Thin: reads go through campaigns.selectors (outside the user's tenancy: 404), each write is one
campaigns.services call, and a refusal (a role without the right, invalid input) shows on the page
with nothing written. Pages show times in the advertiser's time zone and money in its currency.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.models import Advertiser, Role, User
from accounts.selectors import currency_of, role_for
from accounts.session import current_advertiser, remember_advertiser, signed_in_user
from adplatform import clock
from delivery.selectors import spend_state_for
from delivery.status import campaign_pace

from . import selectors, services
from .choices import (
    AdFormat,
    BudgetMode,
    ReviewStatus,
    Status,
)
from .forms import AdForm, AdGroupForm, CampaignForm, apply_service_errors
from .models import Ad, AdGroup, Campaign
from .presentation import (
    ad_group_view,
    amount,
    budget_text,
    campaign_row,
    history_entries,
    pace_view,
)

Result = TypeVar("Result")
CAMPAIGNS_PER_PAGE = 50
STATUS_FILTERS = (("", "All but archived"), ("active", "Active"), ("paused", "Paused"), ("archived", "Archived"), ("all", "All"))


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _can_edit(user: User, advertiser: Advertiser) -> bool:
    return role_for(user=user, advertiser=advertiser) in (Role.ADMIN, Role.OPERATOR)


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], advertiser: Advertiser, status: int = 200
) -> HttpResponse:
    """Render in the advertiser's time zone, with what every campaigns page needs."""
    context = {
        "advertiser": advertiser,
        "currency": advertiser.currency,
        "can_edit": _can_edit(signed_in_user(request), advertiser),
        **context,
    }
    with timezone.override(ZoneInfo(advertiser.time_zone)):
        return render(request, template, context, status=status)


def _open(request: HttpRequest, advertiser: Advertiser) -> Advertiser:
    """Pages about one item show its advertiser: follow a link into another account the user can see."""
    current = current_advertiser(request)
    if current is None or current.pk != advertiser.pk:
        remember_advertiser(request, advertiser)
    return advertiser


def _submit(form: Any, call: Callable[[], Result]) -> tuple[Result | None, int]:
    """Call one service; on a refusal put its reasons on the form and say which HTTP status to answer."""
    try:
        return call(), 200
    except PermissionDenied as error:
        apply_service_errors(form, error)
        return None, 403
    except ValidationError as error:
        apply_service_errors(form, error)
        return None, 400


def _refusal(call: Callable[[], Any]) -> tuple[str, int]:
    """Call one service for an action without a form: ('', 200) or the refusal's message and status."""
    try:
        call()
    except PermissionDenied as error:
        return str(error), 403
    except ValidationError as error:
        return " ".join(error.messages), 400
    return "", 200


def _next(request: HttpRequest, fallback: str) -> str:
    """Where to go back to: a local path (redirect() would take anything else for a view name), else `fallback`."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _posted(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


def _same(current: Any, new: Any) -> bool:
    """Whether a form value leaves a stored one as it is (lists as sets, times to the minute typed)."""
    if isinstance(current, list | tuple) and isinstance(new, list | tuple):
        return set(current) == set(new)
    if isinstance(current, datetime) and isinstance(new, datetime):
        return current.replace(second=0, microsecond=0) == new
    return bool(current == new)


def _campaign_url(campaign: Campaign, anchor: str = "") -> str:
    return reverse("campaigns:detail", args=[campaign.pk]) + (f"#{anchor}" if anchor else "")


# --- list and inline actions --------------------------------------------------------------------------


@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    """The current advertiser's campaigns with delivery status, filter, inline and bulk pause/resume."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return redirect("advertiser_new")
    mine = selectors.campaigns_for(signed_in_user(request)).filter(advertiser=advertiser)
    counts = dict(mine.order_by().values_list("status").annotate(count=Count("id")))
    chosen = request.GET.get("status", "")
    if chosen not in dict(STATUS_FILTERS):
        chosen = ""
    shown = mine.exclude(status=Status.ARCHIVED) if chosen == "" else mine if chosen == "all" else mine.filter(status=chosen)
    query = request.GET.get("q", "").replace("\x00", "").strip()  # no name holds a NUL: PostgreSQL text cannot
    if query:
        shown = shown.filter(name__icontains=query)
    page = Paginator(shown, CAMPAIGNS_PER_PAGE).get_page(request.GET.get("page"))
    now = clock.now()
    on_page = list(page)
    spend = spend_state_for(on_page, now=now)  # one Redis round trip for the whole page
    total = sum(counts.values())
    sizes = {"": total - counts.get(Status.ARCHIVED, 0), "all": total, **counts}
    filters = [(value, label, sizes.get(value, 0)) for value, label in STATUS_FILTERS]
    context = {
        "rows": [campaign_row(campaign, now, spend) for campaign in on_page],
        "page": page,
        "filters": filters,
        "chosen": chosen,
        "query": query,
        "total": total,
        "list_url": request.get_full_path(),
    }
    return _page(request, "campaigns/list.html", context, advertiser)


@login_required
@require_POST
def campaign_status_change(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Pause or resume one campaign: htmx gets the re-rendered list row, a plain POST a redirect."""
    user = signed_in_user(request)
    campaign = selectors.campaign_get_for_user(user=user, campaign_id=campaign_id)
    status = request.POST.get("status", "")
    if status in (Status.ACTIVE, Status.PAUSED):
        error, code = _refusal(lambda: services.campaign_update(actor=user, campaign=campaign, status=status))
    else:
        error, code = "Choose pause or resume.", 400
    if _is_htmx(request):
        fresh = selectors.campaign_get_for_user(user=user, campaign_id=campaign_id)
        now = clock.now()
        context = {"row": campaign_row(fresh, now, spend_state_for([fresh], now=now)), "row_error": error}
        return _page(request, "campaigns/_campaign_row.html", context, fresh.advertiser, status=code)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"“{campaign.name}” {'resumed' if status == Status.ACTIVE else 'paused'}.")
    return redirect(_next(request, reverse("campaigns:list")))


@login_required
@require_POST
def campaign_bulk_status(request: HttpRequest) -> HttpResponse:
    """Pause or resume the ticked campaigns of the current advertiser, all or nothing."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        raise Http404("No such campaign.")
    user = signed_in_user(request)
    try:
        ids = {int(value) for value in request.POST.getlist("ids")}
    except ValueError as exc:
        raise Http404("No such campaign.") from exc
    chosen = list(selectors.campaigns_for(user).filter(advertiser=advertiser, pk__in=ids))
    if len(chosen) != len(ids):
        raise Http404("No such campaign.")
    status = request.POST.get("status", "")
    error, _ = _refusal(lambda: services.bulk_set_status(actor=user, items=chosen, status=status))
    if error:
        messages.error(request, error)
    else:
        verb = "resumed" if status == Status.ACTIVE else "paused"
        messages.success(request, f"{len(chosen)} campaign{'s' if len(chosen) != 1 else ''} {verb}.")
    return redirect(_next(request, reverse("campaigns:list")))


# --- the guided create flow ------------------------------------------------------------------------------


@login_required
def campaign_create(request: HttpRequest) -> HttpResponse:
    """Step 1: the campaign (name, objective, budget)."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return redirect("advertiser_new")
    user = signed_in_user(request)
    form = CampaignForm(_posted(request))
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            campaign, status = _submit(
                form, lambda: services.campaign_create(actor=user, advertiser=advertiser, **form.service_fields())
            )
            if campaign is not None:
                messages.success(request, f"Campaign “{campaign.name}” created. Next: who should see your ads?")
                return redirect("campaigns:ad_group_create", campaign_id=campaign.pk)
    context = {
        "form": form,
        "step": 1,
        "min_budget": amount(currency_of(advertiser).min_daily_budget_micros, advertiser.currency),
    }
    return _page(request, "campaigns/campaign_form.html", context, advertiser, status)


def _ad_group_form(request: HttpRequest, campaign: Campaign, **kwargs: Any) -> AdGroupForm:
    advertiser = campaign.advertiser
    return AdGroupForm(
        _posted(request),
        objective=campaign.objective,
        currency=currency_of(advertiser),
        time_zone=advertiser.time_zone,
        placements=selectors.active_placements(),
        interests=selectors.active_interests(),
        **kwargs,
    )


def _ad_group_context(form: AdGroupForm, campaign: Campaign, **extra: Any) -> dict[str, Any]:
    currency = currency_of(campaign.advertiser)
    return {
        "form": form,
        "campaign": campaign,
        "campaign_budget": budget_text(campaign.budget_mode, campaign.budget_micros, campaign.advertiser.currency),
        "min_budget": amount(currency.min_daily_budget_micros, currency.code),
        **extra,
    }


@login_required
def ad_group_create(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Step 2: an ad group of the campaign (placements, targeting, schedule, budget, bid)."""
    user = signed_in_user(request)
    campaign = selectors.campaign_get_for_user(user=user, campaign_id=campaign_id)
    advertiser = _open(request, campaign.advertiser)
    count = sum(1 for _ in campaign.ad_groups.all())
    initial = {
        "name": f"Ad group {count + 1}",
        "budget_mode": BudgetMode.UNLIMITED if campaign.budget_mode != BudgetMode.UNLIMITED else BudgetMode.DAILY,
    }
    form = _ad_group_form(request, campaign, initial=initial)
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            ad_group, status = _submit(
                form, lambda: services.ad_group_create(actor=user, campaign=campaign, **form.service_fields())
            )
            if ad_group is not None:
                messages.success(request, f"Ad group “{ad_group.name}” saved. Last step: the ad people will see.")
                return redirect("campaigns:ad_create", ad_group_id=ad_group.pk)
    return _page(request, "campaigns/ad_group_form.html", _ad_group_context(form, campaign, step=2), advertiser, status)


def _preview_placements(ad_group: AdGroup) -> list[dict[str, Any]]:
    return [
        {
            "key": placement.key,
            "name": placement.name,
            "formats": list(placement.allowed_formats),
            "style": "search" if AdFormat.TEXT in placement.allowed_formats else "feed",
        }
        for placement in ad_group.placements.all()
    ]


def _first_fitting_format(ad_group: AdGroup) -> str:
    formats = {fmt for placement in ad_group.placements.all() for fmt in placement.allowed_formats}
    return next((fmt for fmt in AdFormat.values if fmt in formats), AdFormat.IMAGE)


def _review_message(request: HttpRequest, ad: Ad, *, edited: bool) -> None:
    if ad.review_status == ReviewStatus.REJECTED:
        messages.warning(request, f"Your ad was not approved: {ad.review_reason} Edit the ad to send it for review again.")
    elif edited:
        messages.success(
            request, "Ad saved. What viewers see changed, so it went back to review; it delivers again once approved."
        )
    else:
        messages.success(request, "Ad submitted. It is in review and starts delivering once approved.")


@login_required
def ad_create(request: HttpRequest, ad_group_id: int) -> HttpResponse:
    """Step 3: an ad of the ad group, with a live preview in its placements; it goes to review."""
    user = signed_in_user(request)
    ad_group = selectors.ad_group_get_for_user(user=user, ad_group_id=ad_group_id)
    campaign = ad_group.campaign
    advertiser = _open(request, campaign.advertiser)
    initial = {"display_name": advertiser.name[:40], "format": _first_fitting_format(ad_group)}
    form = AdForm(_posted(request), initial=initial)
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            ad, status = _submit(form, lambda: services.ad_create(actor=user, ad_group=ad_group, **form.service_fields()))
            if ad is not None:
                _review_message(request, ad, edited=False)
                return redirect(_campaign_url(campaign, f"ad-{ad.pk}"))
    context = {"form": form, "campaign": campaign, "ad_group": ad_group, "step": 3, "preview": _preview_placements(ad_group)}
    return _page(request, "campaigns/ad_form.html", context, advertiser, status)


# --- the campaign page and its actions ------------------------------------------------------------------


@login_required
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """One campaign: status, actions, its ad groups and ads, and their change history."""
    user = signed_in_user(request)
    campaign = selectors.campaign_get_for_user(user=user, campaign_id=campaign_id)
    advertiser = _open(request, campaign.advertiser)
    zone = ZoneInfo(advertiser.time_zone)
    now = clock.now()
    ad_groups = list(selectors.ad_groups_for(user).filter(campaign=campaign))
    spend = spend_state_for([campaign, *ad_groups], now=now)
    views = [ad_group_view(ad_group, now, advertiser.currency, zone, spend) for ad_group in ad_groups]
    items: list[tuple[str, Campaign | AdGroup | Ad]] = [(f"Campaign “{campaign.name}”", campaign)]
    for ad_group in ad_groups:
        items.append((f"Ad group “{ad_group.name}”", ad_group))
        items.extend((f"Ad “{ad.headline}”", ad) for ad in ad_group.ads.all())
    context = {
        "campaign": campaign,
        "row": campaign_row(campaign, now, spend),
        "pace": pace_view(campaign_pace(campaign, now=now, spend=spend), advertiser.currency),
        "ad_groups": views,
        "history": history_entries(items, advertiser.currency, zone),
    }
    return _page(request, "campaigns/detail.html", context, advertiser)


@login_required
def campaign_edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Change a campaign's name, objective or budget."""
    user = signed_in_user(request)
    campaign = selectors.campaign_get_for_user(user=user, campaign_id=campaign_id)
    advertiser = _open(request, campaign.advertiser)
    initial = {
        "name": campaign.name,
        "objective": campaign.objective,
        "budget_mode": campaign.budget_mode,
        "budget": campaign.budget_micros if campaign.budget_mode != BudgetMode.UNLIMITED else None,
    }
    form = CampaignForm(_posted(request), initial=initial)
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            saved, status = _submit(
                form, lambda: services.campaign_update(actor=user, campaign=campaign, **form.service_fields())
            )
            if saved is not None:
                messages.success(request, "Campaign saved.")
                return redirect(_campaign_url(campaign))
    context = {
        "form": form,
        "campaign": campaign,
        "min_budget": amount(currency_of(advertiser).min_daily_budget_micros, advertiser.currency),
    }
    return _page(request, "campaigns/campaign_form.html", context, advertiser, status)


@login_required
@require_POST
def campaign_archive(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Archive a campaign for good: it stops delivering and can no longer be changed."""
    user = signed_in_user(request)
    campaign = selectors.campaign_get_for_user(user=user, campaign_id=campaign_id)
    error, _ = _refusal(lambda: services.campaign_update(actor=user, campaign=campaign, status=Status.ARCHIVED))
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"“{campaign.name}” archived. It no longer delivers and can't be changed.")
    return redirect(_campaign_url(campaign))


@login_required
@require_POST
def campaign_duplicate(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Copy a campaign with its ad groups and ads; the copy starts paused."""
    user = signed_in_user(request)
    campaign = selectors.campaign_get_for_user(user=user, campaign_id=campaign_id)
    try:
        copy = services.campaign_duplicate(actor=user, campaign=campaign)
    except PermissionDenied as error:
        messages.error(request, str(error))
        return redirect(_campaign_url(campaign))
    except ValidationError as error:
        messages.error(request, "The campaign could not be copied: " + " ".join(error.messages))
        return redirect(_campaign_url(campaign))
    messages.success(
        request, f"Copied as “{copy.name}”. The copy is paused and its ads are in review; resume it when you're ready."
    )
    return redirect(_campaign_url(copy))


# --- ad groups and ads --------------------------------------------------------------------------------------


@login_required
def ad_group_edit(request: HttpRequest, ad_group_id: int) -> HttpResponse:
    """Change an ad group's placements, targeting, schedule, budget or bid."""
    user = signed_in_user(request)
    ad_group = selectors.ad_group_get_for_user(user=user, ad_group_id=ad_group_id)
    campaign = ad_group.campaign
    advertiser = _open(request, campaign.advertiser)
    current: dict[str, Any] = {name: getattr(ad_group, name) for name in services.AD_GROUP_FIELDS}
    current["placements"] = [placement.key for placement in ad_group.placements.all()]
    current["interests"] = [interest.key for interest in ad_group.interests.all()]
    initial = {
        **current,
        "dayparting": [str(slot) for slot in ad_group.dayparting],
        "budget": ad_group.budget_micros if ad_group.budget_mode != BudgetMode.UNLIMITED else None,
        "bid": ad_group.bid_micros,
    }
    form = _ad_group_form(request, campaign, initial=initial)
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            changes = {name: value for name, value in form.service_fields().items() if not _same(current[name], value)}
            saved, status = _submit(form, lambda: services.ad_group_update(actor=user, ad_group=ad_group, **changes))
            if saved is not None:
                messages.success(request, f"Ad group “{saved.name}” saved.")
                return redirect(_campaign_url(campaign, f"ad-group-{ad_group.pk}"))
    context = _ad_group_context(form, campaign, ad_group=ad_group)
    return _page(request, "campaigns/ad_group_form.html", context, advertiser, status)


@login_required
def ad_edit(request: HttpRequest, ad_id: int) -> HttpResponse:
    """Change an ad; changing what viewers see sends it back to review."""
    user = signed_in_user(request)
    ad = selectors.ad_get_for_user(user=user, ad_id=ad_id)
    ad_group = selectors.ad_group_get_for_user(user=user, ad_group_id=ad.ad_group_id)
    campaign = ad_group.campaign
    advertiser = _open(request, campaign.advertiser)
    initial = {name: getattr(ad, name) for name in services.AD_FIELDS}
    form = AdForm(_posted(request), initial=initial)
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            fields = form.service_fields()
            seen_changed = any(fields[name] != getattr(ad, name) for name in services.VIEWER_FIELDS)
            saved, status = _submit(form, lambda: services.ad_update(actor=user, ad=ad, **fields))
            if saved is not None:
                if seen_changed:
                    _review_message(request, saved, edited=True)
                else:
                    messages.success(request, "Ad saved.")
                return redirect(_campaign_url(campaign, f"ad-{ad.pk}"))
    context = {"form": form, "campaign": campaign, "ad_group": ad_group, "ad": ad, "preview": _preview_placements(ad_group)}
    return _page(request, "campaigns/ad_form.html", context, advertiser, status)


def _status_change(request: HttpRequest, item: AdGroup | Ad, call: Callable[[str], Any], what: str) -> HttpResponse:
    status = request.POST.get("status", "")
    if status in Status.values:
        error, _ = _refusal(lambda: call(status))
    else:
        error = "Choose pause, resume or archive."
    if error:
        messages.error(request, error)
    else:
        done = {Status.ACTIVE: "resumed", Status.PAUSED: "paused", Status.ARCHIVED: "archived"}[Status(status)]
        messages.success(request, f"{what} {done}.")
    anchor = f"ad-group-{item.pk}" if isinstance(item, AdGroup) else f"ad-{item.pk}"
    return redirect(_campaign_url(item.campaign, anchor))


@login_required
@require_POST
def ad_group_status_change(request: HttpRequest, ad_group_id: int) -> HttpResponse:
    """Pause, resume or archive an ad group."""
    user = signed_in_user(request)
    ad_group = selectors.ad_group_get_for_user(user=user, ad_group_id=ad_group_id)
    return _status_change(
        request,
        ad_group,
        lambda status: services.ad_group_update(actor=user, ad_group=ad_group, status=status),
        f"Ad group “{ad_group.name}”",
    )


@login_required
@require_POST
def ad_status_change(request: HttpRequest, ad_id: int) -> HttpResponse:
    """Pause, resume or archive an ad."""
    user = signed_in_user(request)
    ad = selectors.ad_get_for_user(user=user, ad_id=ad_id)
    return _status_change(request, ad, lambda status: services.ad_update(actor=user, ad=ad, status=status), f"Ad “{ad.headline}”")
