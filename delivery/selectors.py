"""Reads for showing delivery: the money and evidence behind a list of items, and an advertiser's conversion pixels.

Items come already loaded through the tenancy gate (campaigns.selectors); `spend_state_for` only
adds the hot state and the learning evidence that delivery status needs, for a whole page at once. Pixels are read through
the same gate (accounts.selectors.advertisers_for): outside it a pixel does not exist.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet, Sum
from django.http import Http404
from redis import Redis

from accounts.models import Advertiser, User
from accounts.selectors import advertisers_for
from adplatform.redis_client import get_redis
from billing.models import Balance
from billing.selectors import spendable_from
from campaigns.models import Ad, AdGroup, Campaign

from . import charging, pacing
from .models import AdPerformance, ConversionPixel
from .services import PACING_STATE_KEY
from .status import Evidence, SpendState


def pixels_for(user: User) -> QuerySet[ConversionPixel]:
    """Conversion pixels of every advertiser `user` may see, newest first."""
    return ConversionPixel.objects.filter(advertiser__in=advertisers_for(user)).select_related("advertiser")


def pixel_get_for_user(*, user: User, pixel_id: int | str) -> ConversionPixel:
    """The pixel if `user` may see it, else 404."""
    try:
        return pixels_for(user).get(pk=int(pixel_id))
    except (ConversionPixel.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such pixel.") from exc


def _budgets_behind(items: Iterable[Campaign | AdGroup | Ad]) -> tuple[dict[int, AdGroup], dict[int, Campaign]]:
    """Every ad group and campaign whose budget decides the status of `items` (from what is loaded)."""
    ad_groups: dict[int, AdGroup] = {}
    campaigns: dict[int, Campaign] = {}
    for item in items:
        if isinstance(item, Campaign):
            campaigns[item.pk] = item
            ad_groups.update((ad_group.pk, ad_group) for ad_group in item.ad_groups.all())
        else:
            ad_group = item if isinstance(item, AdGroup) else item.ad_group
            ad_groups[ad_group.pk] = ad_group
            campaigns[ad_group.campaign_id] = ad_group.campaign
    return ad_groups, campaigns


def _number(value: Any) -> int | None:
    return None if value is None else int(value)


def evidence_for(ad_group_ids: Iterable[int]) -> dict[int, Evidence]:
    """What the ads of each ad group have shown together (AdPerformance summed), in one query; every id gets an entry."""
    wanted = list(ad_group_ids)
    if not wanted:
        return {}
    evidence = dict.fromkeys(wanted, Evidence())
    rows = (
        AdPerformance.objects.filter(ad__ad_group_id__in=wanted)
        .values("ad__ad_group_id")
        .annotate(impressions=Sum("impressions"), clicks=Sum("clicks"), conversions=Sum("conversions"))
        .order_by()
    )
    for row in rows:
        evidence[row["ad__ad_group_id"]] = Evidence(row["impressions"], row["clicks"], row["conversions"])
    return evidence


def spend_state_for(items: Iterable[Campaign | AdGroup | Ad], *, now: datetime, client: Redis | None = None) -> SpendState:
    """Today's and lifetime charges, money left, the charge script's marks, pacing states and learning evidence behind `items`.

    One pipelined MGET of every counter key, one ZMSCORE of the exhausted marks and one HMGET of
    the pacing states, for any number of items, and one query of the ad groups' evidence
    (`evidence_for`). Money left is the advertiser's Redis allowance minus what was charged (the
    guard the charge script enforces);
    only for an advertiser whose allowance Redis does not hold (lost, not yet rebuilt) is the
    ledger's spendable amount read instead, in one query for all of them.
    """
    ad_groups, campaigns = _budgets_behind(items)
    if not campaigns:
        return SpendState()
    advertisers: dict[int, Advertiser] = {campaign.advertiser_id: campaign.advertiser for campaign in campaigns.values()}
    days = {pk: now.astimezone(ZoneInfo(advertiser.time_zone)).date().isoformat() for pk, advertiser in advertisers.items()}
    keys: list[str] = []
    for pk, ad_group in ad_groups.items():
        advertiser_id = ad_group.campaign.advertiser_id
        keys += [charging.ad_group_day_key(advertiser_id, pk, days[advertiser_id]), charging.ad_group_life_key(advertiser_id, pk)]
    for pk, campaign in campaigns.items():
        advertiser_id = campaign.advertiser_id
        keys += [charging.campaign_day_key(advertiser_id, pk, days[advertiser_id]), charging.campaign_life_key(advertiser_id, pk)]
    for advertiser_id in advertisers:
        keys += [charging.allowance_key(advertiser_id), charging.charged_key(advertiser_id)]
    paced = [f"ag:{pk}" for pk in ad_groups] + [f"c:{pk}" for pk in campaigns]  # the budgets' pacing states and marks
    marks = paced + [f"a:{pk}" for pk in advertisers]

    pipe = (client or get_redis()).pipeline(transaction=False)
    pipe.mget(keys)
    pipe.zmscore(charging.EXHAUSTED, marks)
    pipe.hmget(PACING_STATE_KEY, paced)
    values, scores, states = pipe.execute()

    counters = iter(_number(value) for value in values)
    ad_group_today, ad_group_lifetime, campaign_today, campaign_lifetime = {}, {}, {}, {}
    for pk in ad_groups:
        ad_group_today[pk], ad_group_lifetime[pk] = next(counters) or 0, next(counters) or 0
    for pk in campaigns:
        campaign_today[pk], campaign_lifetime[pk] = next(counters) or 0, next(counters) or 0
    money_left: dict[int, int] = {}
    unknown: list[int] = []
    for advertiser_id in advertisers:
        allowance, charged = next(counters), next(counters)
        if allowance is None:
            unknown.append(advertiser_id)
        else:
            money_left[advertiser_id] = allowance - (charged or 0)
    if unknown:
        balances = dict(Balance.objects.filter(advertiser_id__in=unknown).values_list("advertiser_id", "balance_micros"))
        for advertiser_id in unknown:
            money_left[advertiser_id] = spendable_from(
                balance=balances.get(advertiser_id, 0), advertiser=advertisers[advertiser_id]
            )
    moment = now.timestamp()
    in_force = frozenset(mark for mark, score in zip(marks, scores, strict=True) if score is not None and score > moment)
    return SpendState(
        ad_group_today,
        ad_group_lifetime,
        campaign_today,
        campaign_lifetime,
        money_left,
        in_force,
        evidence_for(ad_groups),
        {key: pacing.loads(state) for key, state in zip(paced, states, strict=True) if state},
    )
