"""Delivery status: the single most important reason an ad, ad group or campaign is or is not delivering.

Computed here and nowhere else; every page, API response and admin list shows these. The delivery
issue extends it with budget, balance and cap states. Pure functions over loaded model instances:
callers prefetch `ad_groups__ads` (and placements) so a list costs no query per row.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from accounts.models import Advertiser
from campaigns.choices import SLOTS_PER_DAY, ReviewStatus, Status
from campaigns.models import Ad, AdGroup, Campaign


class Reason(StrEnum):
    DELIVERING = "delivering"
    ACCOUNT_SUSPENDED = "account_suspended"
    ARCHIVED = "archived"
    CAMPAIGN_ARCHIVED = "campaign_archived"
    AD_GROUP_ARCHIVED = "ad_group_archived"
    REJECTED = "rejected"
    ENDED = "ended"
    PAUSED = "paused"
    CAMPAIGN_PAUSED = "campaign_paused"
    AD_GROUP_PAUSED = "ad_group_paused"
    IN_REVIEW = "in_review"
    NOT_STARTED = "not_started"
    OFF_SCHEDULE = "off_schedule"
    NO_ADS = "no_ads"
    NO_AD_GROUPS = "no_ad_groups"
    ADS_PAUSED = "ads_paused"
    AD_GROUPS_PAUSED = "ad_groups_paused"


LABELS = {
    Reason.DELIVERING: "Delivering",
    Reason.ACCOUNT_SUSPENDED: "Account suspended",
    Reason.ARCHIVED: "Archived",
    Reason.CAMPAIGN_ARCHIVED: "Campaign archived",
    Reason.AD_GROUP_ARCHIVED: "Ad group archived",
    Reason.REJECTED: "Rejected",
    Reason.ENDED: "Ended",
    Reason.PAUSED: "Paused",
    Reason.CAMPAIGN_PAUSED: "Campaign paused",
    Reason.AD_GROUP_PAUSED: "Ad group paused",
    Reason.IN_REVIEW: "In review",
    Reason.NOT_STARTED: "Not started",
    Reason.OFF_SCHEDULE: "Outside its dayparting hours",
    Reason.NO_ADS: "No ads",
    Reason.NO_AD_GROUPS: "No ad groups",
    Reason.ADS_PAUSED: "All ads paused",
    Reason.AD_GROUPS_PAUSED: "All ad groups paused",
}

# When nothing below an item delivers, the child reason most worth showing: the one closest to delivering.
CHILD_PREFERENCE = [
    Reason.OFF_SCHEDULE,
    Reason.NOT_STARTED,
    Reason.IN_REVIEW,
    Reason.REJECTED,
    Reason.ENDED,
    Reason.PAUSED,
    Reason.ADS_PAUSED,
    Reason.NO_ADS,
    Reason.ARCHIVED,
]


@dataclass(frozen=True)
class DeliveryStatus:
    reason: Reason

    @property
    def code(self) -> str:
        return self.reason.value

    @property
    def label(self) -> str:
        return LABELS[self.reason]

    @property
    def delivering(self) -> bool:
        return self.reason == Reason.DELIVERING

    def as_dict(self) -> dict[str, str | bool]:
        return {"code": self.code, "label": self.label, "delivering": self.delivering}


def in_dayparting(slots: list[int], moment: datetime, time_zone: str) -> bool:
    """Whether `moment` falls in one of the week's half-hour `slots` in `time_zone` (empty: always)."""
    if not slots:
        return True
    local = moment.astimezone(ZoneInfo(time_zone))
    slot = local.weekday() * SLOTS_PER_DAY + local.hour * 2 + (1 if local.minute >= 30 else 0)
    return slot in slots


def _own(status: str, archived: Reason, paused: Reason) -> Reason | None:
    if status == Status.ARCHIVED:
        return archived
    if status == Status.PAUSED:
        return paused
    return None


def _schedule(ad_group: AdGroup, advertiser: Advertiser, now: datetime) -> Reason | None:
    if ad_group.end_time is not None and now >= ad_group.end_time:
        return Reason.ENDED
    if now < ad_group.start_time:
        return Reason.NOT_STARTED
    if not in_dayparting(ad_group.dayparting, now, advertiser.time_zone):
        return Reason.OFF_SCHEDULE
    return None


def _chain(campaign: Campaign, ad_group: AdGroup | None) -> Reason | None:
    """Reasons from the account and the parents, strongest first."""
    if campaign.advertiser.status != Advertiser.Status.ACTIVE:
        return Reason.ACCOUNT_SUSPENDED
    if campaign.status == Status.ARCHIVED:
        return Reason.CAMPAIGN_ARCHIVED
    if ad_group is not None and ad_group.status == Status.ARCHIVED:
        return Reason.AD_GROUP_ARCHIVED
    return None


def ad_status(ad: Ad, *, now: datetime) -> DeliveryStatus:
    """Why this ad is or is not delivering right now."""
    ad_group = ad.ad_group
    campaign = ad_group.campaign
    reason = (
        _chain(campaign, ad_group)
        or (Reason.ARCHIVED if ad.status == Status.ARCHIVED else None)
        or (Reason.REJECTED if ad.review_status == ReviewStatus.REJECTED else None)
        or (Reason.ENDED if ad_group.end_time is not None and now >= ad_group.end_time else None)
        or _own(ad.status, Reason.ARCHIVED, Reason.PAUSED)
        or _own(campaign.status, Reason.CAMPAIGN_ARCHIVED, Reason.CAMPAIGN_PAUSED)
        or _own(ad_group.status, Reason.AD_GROUP_ARCHIVED, Reason.AD_GROUP_PAUSED)
        or (Reason.IN_REVIEW if ad.review_status == ReviewStatus.PENDING else None)
        or _schedule(ad_group, campaign.advertiser, now)
        or Reason.DELIVERING
    )
    return DeliveryStatus(reason)


def _best_child(reasons: list[Reason], *, paused_as: Reason) -> Reason:
    if Reason.DELIVERING in reasons:
        return Reason.DELIVERING
    mapped = [paused_as if reason in (Reason.PAUSED, Reason.AD_GROUP_PAUSED) else reason for reason in reasons]
    for candidate in CHILD_PREFERENCE:
        if candidate in mapped:
            return candidate
    return mapped[0]


def ad_group_status(ad_group: AdGroup, *, now: datetime) -> DeliveryStatus:
    """Why this ad group is or is not delivering: its own state, then the best of its ads."""
    campaign = ad_group.campaign
    own = (
        _chain(campaign, None)
        or (Reason.ARCHIVED if ad_group.status == Status.ARCHIVED else None)
        or (Reason.ENDED if ad_group.end_time is not None and now >= ad_group.end_time else None)
        or _own(ad_group.status, Reason.ARCHIVED, Reason.PAUSED)
        or _own(campaign.status, Reason.CAMPAIGN_ARCHIVED, Reason.CAMPAIGN_PAUSED)
    )
    if own is not None:
        return DeliveryStatus(own)
    ads = [ad for ad in ad_group.ads.all() if ad.status != Status.ARCHIVED]
    if not ads:
        return DeliveryStatus(Reason.NO_ADS)
    return DeliveryStatus(_best_child([ad_status(ad, now=now).reason for ad in ads], paused_as=Reason.ADS_PAUSED))


def campaign_status(campaign: Campaign, *, now: datetime) -> DeliveryStatus:
    """Why this campaign is or is not delivering: its own state, then the best of its ad groups."""
    own = (Reason.ACCOUNT_SUSPENDED if campaign.advertiser.status != Advertiser.Status.ACTIVE else None) or _own(
        campaign.status, Reason.ARCHIVED, Reason.PAUSED
    )
    if own is not None:
        return DeliveryStatus(own)
    ad_groups = [ad_group for ad_group in campaign.ad_groups.all() if ad_group.status != Status.ARCHIVED]
    if not ad_groups:
        return DeliveryStatus(Reason.NO_AD_GROUPS)
    reasons = [ad_group_status(ad_group, now=now).reason for ad_group in ad_groups]
    return DeliveryStatus(_best_child(reasons, paused_as=Reason.AD_GROUPS_PAUSED))
