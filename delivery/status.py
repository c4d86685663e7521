"""Delivery status: the single most important reason an ad, ad group or campaign is or is not delivering.

Computed here and nowhere else; every page, API response and admin list shows these. Pure functions
over loaded model instances and a `SpendState` (what delivery's Redis counters say about money and
what the ad groups' ads have shown so far, read for a whole list at once by
`delivery.selectors.spend_state_for`): callers prefetch `ad_groups__ads` so a list costs no query
per row, one Redis round trip and one query of the evidence in all.

An ad's reason is the first that applies, in this order:

 1. account suspended
 2. campaign archived, ad group archived, ad archived
 3. rejected
 4. ended (the ad group's end time has passed)
 5. paused: the ad, then the campaign, then the ad group
 6. in review
 7. not started
 8. no balance: the advertiser has no spendable money left (or the charger already refused a
    charge for want of it). Before any budget: raising a budget does not help without money, and
    a top-up is needed whatever the budgets say.
 9. lifetime budget spent (the ad group's own or its campaign's), then daily budget spent (either
    of them). A spent lifetime budget needs the advertiser to act; a daily one refills at midnight
    in the advertiser's time zone, so a lifetime budget that is also spent is the one that binds.
10. outside its dayparting hours: a spent budget or no balance is more important, since the ad
    would not deliver in its next half hour either.
11. learning: it serves, but its ad group has not yet gathered enough evidence (below)
12. delivering

A budget counts as spent when its counter has reached it, or when the charge script has marked it
as unable to take one more charge at the price being paid (its counter then stops short of the
budget by less than one price). An ad group or campaign shows the reason of its own state (archived,
ended, paused) or else the best of its children's: delivering, then learning, then the one closest
to delivering (CHILD_PREFERENCE).

Learning. An ad group learns until its ads together have LEARNING_IMPRESSIONS valid impressions and
LEARNING_CLICKS clicks, and an oCPM ad group also LEARNING_CONVERSIONS conversions (the evidence
`delivery.services.post_spend` counts into AdPerformance, and `delivery.index` turns into each ad's
Beta posteriors). A learning item serves like a delivering one: `DeliveryStatus.delivering` is true
for both; learning only says that its CTR and conversion-rate estimates still move a lot, so its
share of traffic and its cost per result may change. The thresholds are the point where the
evidence outweighs the prior and the posterior is narrow:

- 1,000 impressions weigh five times the CTR prior (`index.PRIOR_IMPRESSIONS`, 200), so the
  posterior mean has moved at least 5/6 of the way from the placement's average to the ad's own CTR.
- For Beta(a, b) the relative spread is sd / mean = sqrt(b / (a (a + b + 1))) < 1 / sqrt(a), and
  a is more than the clicks (or conversions) seen. 20 clicks put the CTR's relative spread below
  1 / sqrt(20) = 22%, against the prior's 70% at a 1% placement CTR (99% at 0.5%); 10 conversions
  put the conversion rate's below 1 / sqrt(10) = 32% (about 30%), against the prior's 95%
  (`index.DEFAULT_CVR` 5% with the weight of `index.PRIOR_CLICKS`, 20): a third of the prior's
  spread or less either way. An oCPM score multiplies both rates, so it needs both.

Meta and TikTok ask for about 50 optimisation events a week before leaving learning; their models
are per audience and per bid, these posteriors are per ad and need fewer. The evidence of all an ad
group's ads counts, paused and archived ones too, and it is never reset: a new ad in an ad group
that has left learning does not put it back (the auction gives the new ad its first audience by
Thompson sampling all the same). Learning is judged only for ad groups in `SpendState.evidence`
(the spend state read for a page has every one of them).

Today's pace (`ad_group_pace`, `campaign_pace`): beside the status, how a standard-paced budget's
spend today stands against the plan of the pacing controller (`delivery.pacing`, which steps every
minute and keeps its state in Redis): on pace, ahead or behind it by more than the controller's
band (5% of today's budget, and more than one price), or spent. It also says whether the budget is
what holds delivery back (*limited by budget*, as Google Ads says it: the controller's throttle is
below 1, so the ad group could win more auctions than today's budget pays for), or, when it is
behind at full throttle, that the bid or the audience limits it. Nothing is shown for accelerated
or unlimited budgets, before the controller's first step of the advertiser's day, or when its last
step is older than `pacing.GAP_SECONDS` (the pacing beat is not running: no plan to compare with),
nor while the advertiser has no balance (the status says so; the plan cannot be kept without money).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from accounts.models import Advertiser
from campaigns.choices import SLOTS_PER_DAY, BidStrategy, BudgetMode, Pacing, ReviewStatus, Status
from campaigns.models import Ad, AdGroup, Campaign

from . import pacing


class Reason(StrEnum):
    DELIVERING = "delivering"
    LEARNING = "learning"
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
    NO_BALANCE = "no_balance"
    LIFETIME_BUDGET_SPENT = "lifetime_budget_spent"
    DAILY_BUDGET_SPENT = "daily_budget_spent"


LABELS = {
    Reason.DELIVERING: "Delivering",
    Reason.LEARNING: "Learning",
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
    Reason.NO_BALANCE: "No balance",
    Reason.LIFETIME_BUDGET_SPENT: "Lifetime budget spent",
    Reason.DAILY_BUDGET_SPENT: "Daily budget spent",
}

# Reasons of an item that serves: a child that delivers beats one that learns, which beats the rest.
SERVING = (Reason.DELIVERING, Reason.LEARNING)

# Evidence an ad group's ads need together before it leaves learning (why these: the module's docstring).
LEARNING_IMPRESSIONS = 1_000
LEARNING_CLICKS = 20
LEARNING_CONVERSIONS = 10  # oCPM only

# When nothing below an item delivers, the child reason most worth showing: the one closest to delivering
# (what resumes by itself soonest first, then what needs someone to act).
CHILD_PREFERENCE = [
    Reason.OFF_SCHEDULE,
    Reason.DAILY_BUDGET_SPENT,
    Reason.NOT_STARTED,
    Reason.IN_REVIEW,
    Reason.NO_BALANCE,
    Reason.LIFETIME_BUDGET_SPENT,
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
        """Whether it serves: a learning item does."""
        return self.reason in SERVING

    def as_dict(self) -> dict[str, str | bool]:
        return {"code": self.code, "label": self.label, "delivering": self.delivering}


@dataclass(frozen=True)
class Evidence:
    """Valid impressions, clicks and conversions of an ad group's ads together (from AdPerformance)."""

    impressions: int = 0
    clicks: int = 0
    conversions: int = 0


def learned(evidence: Evidence, bid_strategy: str) -> bool:
    """Whether an ad group with this evidence and bid strategy has left learning (thresholds above)."""
    enough = evidence.impressions >= LEARNING_IMPRESSIONS and evidence.clicks >= LEARNING_CLICKS
    if bid_strategy == BidStrategy.OCPM:
        return enough and evidence.conversions >= LEARNING_CONVERSIONS
    return enough


@dataclass(frozen=True)
class SpendState:
    """What delivery's Redis counters say about money at one moment, for the items being shown.

    Charged micros per ad group and campaign, today (the advertiser's day) and over their lifetime;
    an id that is absent has spent nothing. `money_left` is per advertiser (spendable money not
    yet charged); an advertiser absent from it is not judged. `exhausted` holds the charge script's
    marks still in force ("ag:<id>", "c:<id>", "a:<id>"): a budget or balance that cannot take one
    more charge. `evidence` is per ad group (what its ads have shown so far); an ad group absent
    from it is not judged for learning. `pace_states` holds the pacing controller's last state per
    budget it paces ("ag:<id>", "c:<id>"), for today's pace. The default is nothing spent and
    nothing known, so no money reason, no learning and no pace ever applies.
    """

    ad_group_today: Mapping[int, int] = field(default_factory=dict)
    ad_group_lifetime: Mapping[int, int] = field(default_factory=dict)
    campaign_today: Mapping[int, int] = field(default_factory=dict)
    campaign_lifetime: Mapping[int, int] = field(default_factory=dict)
    money_left: Mapping[int, int] = field(default_factory=dict)
    exhausted: frozenset[str] = frozenset()
    evidence: Mapping[int, Evidence] = field(default_factory=dict)
    pace_states: Mapping[str, pacing.State] = field(default_factory=dict)  # the pacing controller's states ("ag:<id>", "c:<id>")


NOTHING_SPENT = SpendState()


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


def _ended(ad_group: AdGroup, now: datetime) -> Reason | None:
    return Reason.ENDED if ad_group.end_time is not None and now >= ad_group.end_time else None


def _budget_spent(mode: str, budget_micros: int, today: int, lifetime: int, marked: bool) -> Reason | None:
    """Whether one budget is spent; a budget of zero is no cap, as for the charge script."""
    if budget_micros <= 0:
        return None
    if mode == BudgetMode.LIFETIME and (lifetime >= budget_micros or marked):
        return Reason.LIFETIME_BUDGET_SPENT
    if mode == BudgetMode.DAILY and (today >= budget_micros or marked):
        return Reason.DAILY_BUDGET_SPENT
    return None


def _no_balance(advertiser_id: int, spend: SpendState) -> bool:
    """Whether the advertiser cannot pay for one more charge (nothing left, or the charge script's mark)."""
    left = spend.money_left.get(advertiser_id)
    return (left is not None and left <= 0) or f"a:{advertiser_id}" in spend.exhausted


def _money(ad_group: AdGroup, spend: SpendState) -> Reason | None:
    """No balance, else the binding spent budget of the ad group or its campaign (lifetime before daily)."""
    campaign = ad_group.campaign
    if _no_balance(campaign.advertiser_id, spend):
        return Reason.NO_BALANCE
    spent = {
        _budget_spent(
            ad_group.budget_mode,
            ad_group.budget_micros,
            spend.ad_group_today.get(ad_group.pk, 0),
            spend.ad_group_lifetime.get(ad_group.pk, 0),
            f"ag:{ad_group.pk}" in spend.exhausted,
        ),
        _budget_spent(
            campaign.budget_mode,
            campaign.budget_micros,
            spend.campaign_today.get(campaign.pk, 0),
            spend.campaign_lifetime.get(campaign.pk, 0),
            f"c:{campaign.pk}" in spend.exhausted,
        ),
    }
    for reason in (Reason.LIFETIME_BUDGET_SPENT, Reason.DAILY_BUDGET_SPENT):
        if reason in spent:
            return reason
    return None


def _learning(ad_group: AdGroup, spend: SpendState) -> Reason | None:
    evidence = spend.evidence.get(ad_group.pk)
    if evidence is None or learned(evidence, ad_group.bid_strategy):
        return None
    return Reason.LEARNING


def _chain(campaign: Campaign, ad_group: AdGroup | None) -> Reason | None:
    """Reasons from the account and the parents, strongest first."""
    if campaign.advertiser.status != Advertiser.Status.ACTIVE:
        return Reason.ACCOUNT_SUSPENDED
    if campaign.status == Status.ARCHIVED:
        return Reason.CAMPAIGN_ARCHIVED
    if ad_group is not None and ad_group.status == Status.ARCHIVED:
        return Reason.AD_GROUP_ARCHIVED
    return None


def ad_status(ad: Ad, *, now: datetime, spend: SpendState = NOTHING_SPENT) -> DeliveryStatus:
    """Why this ad is or is not delivering right now (the order is in the module's docstring)."""
    ad_group = ad.ad_group
    campaign = ad_group.campaign
    reason = (
        _chain(campaign, ad_group)
        or (Reason.ARCHIVED if ad.status == Status.ARCHIVED else None)
        or (Reason.REJECTED if ad.review_status == ReviewStatus.REJECTED else None)
        or _ended(ad_group, now)
        or _own(ad.status, Reason.ARCHIVED, Reason.PAUSED)
        or _own(campaign.status, Reason.CAMPAIGN_ARCHIVED, Reason.CAMPAIGN_PAUSED)
        or _own(ad_group.status, Reason.AD_GROUP_ARCHIVED, Reason.AD_GROUP_PAUSED)
        or (Reason.IN_REVIEW if ad.review_status == ReviewStatus.PENDING else None)
        or (Reason.NOT_STARTED if now < ad_group.start_time else None)
        or _money(ad_group, spend)
        or (None if in_dayparting(ad_group.dayparting, now, campaign.advertiser.time_zone) else Reason.OFF_SCHEDULE)
        or _learning(ad_group, spend)
        or Reason.DELIVERING
    )
    return DeliveryStatus(reason)


def _best_child(reasons: list[Reason], *, paused_as: Reason) -> Reason:
    for serving in SERVING:
        if serving in reasons:
            return serving
    mapped = [paused_as if reason in (Reason.PAUSED, Reason.AD_GROUP_PAUSED) else reason for reason in reasons]
    for candidate in CHILD_PREFERENCE:
        if candidate in mapped:
            return candidate
    return mapped[0]


def ad_group_status(ad_group: AdGroup, *, now: datetime, spend: SpendState = NOTHING_SPENT) -> DeliveryStatus:
    """Why this ad group is or is not delivering: its own state, then the best of its ads."""
    campaign = ad_group.campaign
    own = (
        _chain(campaign, None)
        or (Reason.ARCHIVED if ad_group.status == Status.ARCHIVED else None)
        or _ended(ad_group, now)
        or _own(ad_group.status, Reason.ARCHIVED, Reason.PAUSED)
        or _own(campaign.status, Reason.CAMPAIGN_ARCHIVED, Reason.CAMPAIGN_PAUSED)
    )
    if own is not None:
        return DeliveryStatus(own)
    ads = [ad for ad in ad_group.ads.all() if ad.status != Status.ARCHIVED]
    if not ads:
        return DeliveryStatus(Reason.NO_ADS)
    reasons = [ad_status(ad, now=now, spend=spend).reason for ad in ads]
    return DeliveryStatus(_best_child(reasons, paused_as=Reason.ADS_PAUSED))


def campaign_status(campaign: Campaign, *, now: datetime, spend: SpendState = NOTHING_SPENT) -> DeliveryStatus:
    """Why this campaign is or is not delivering: its own state, then the best of its ad groups."""
    own = (Reason.ACCOUNT_SUSPENDED if campaign.advertiser.status != Advertiser.Status.ACTIVE else None) or _own(
        campaign.status, Reason.ARCHIVED, Reason.PAUSED
    )
    if own is not None:
        return DeliveryStatus(own)
    ad_groups = [ad_group for ad_group in campaign.ad_groups.all() if ad_group.status != Status.ARCHIVED]
    if not ad_groups:
        return DeliveryStatus(Reason.NO_AD_GROUPS)
    reasons = [ad_group_status(ad_group, now=now, spend=spend).reason for ad_group in ad_groups]
    return DeliveryStatus(_best_child(reasons, paused_as=Reason.AD_GROUPS_PAUSED))


# --- today's pace ------------------------------------------------------------------------------------

PACE_BAND = 0.05  # ahead of or behind the plan by more than this share of today's budget (the controller's target band)


class PaceCode(StrEnum):
    ON_PACE = "on_pace"
    AHEAD = "ahead"
    BEHIND = "behind"
    SPENT = "spent"


LIMITED_BY_BUDGET_HINT = (
    "It could win more auctions than today's budget pays for, so its spend is spread over the day. "
    "A higher budget would deliver more."
)
PACE_LABELS = {
    PaceCode.ON_PACE: "On pace",
    PaceCode.AHEAD: "Ahead of plan",
    PaceCode.BEHIND: "Behind plan",
    PaceCode.SPENT: "Today's budget spent",
}


@dataclass(frozen=True)
class TodaysPace:
    """A standard-paced budget's spend today against its pacing plan (the module's docstring).

    `budget_micros` is today's budget (a lifetime budget's share for today, as pacing spreads it
    over the days left); `planned_micros` what the plan had spent at the controller's last step.
    """

    code: PaceCode
    spent_micros: int
    budget_micros: int
    planned_micros: int
    limited_by_budget: bool

    @property
    def label(self) -> str:
        return PACE_LABELS[self.code]

    @property
    def hint(self) -> str:
        """What it means for the advertiser, and what would change it."""
        if self.code == PaceCode.SPENT:
            return "Today's budget is spent; delivery resumes at midnight in the account's time zone."
        if self.code == PaceCode.BEHIND and not self.limited_by_budget:
            return (
                "It takes every auction it can win and still spends less than its plan: "
                "a higher bid or a broader audience would spend more of the budget."
            )
        if self.code == PaceCode.BEHIND:
            return "Spending less than planned so far; delivery is being raised to catch up within about an hour."
        if self.code == PaceCode.AHEAD:
            return "Spending more than planned so far; delivery is being slowed so the budget lasts the day."
        return "Spending along its plan for the day."


def _pace(key: str, spent: int, advertiser: Advertiser, now: datetime, spend: SpendState) -> TodaysPace | None:
    """Today's pace of the budget whose controller and exhausted mark are `key` ("ag:<id>" / "c:<id>").

    None while its advertiser has no balance: nothing is delivered whatever the plan, and the
    delivery status says why (a pace "behind plan" beside it would blame the bid).
    """
    if _no_balance(advertiser.pk, spend):
        return None
    state = spend.pace_states.get(key)
    today = now.astimezone(ZoneInfo(advertiser.time_zone)).date().isoformat()
    if state is None or state.day != today or state.plan_budget < 0 or not 0 <= now.timestamp() - state.at <= pacing.GAP_SECONDS:
        return None
    budget = state.plan_budget
    planned = round(pacing.planned(state, budget))
    band = max(PACE_BAND * budget, state.price)
    if key in spend.exhausted or spent >= budget or (state.price and budget - spent < state.price):
        code = PaceCode.SPENT
    elif spent - planned > band:
        code = PaceCode.AHEAD
    elif planned - spent > band:
        code = PaceCode.BEHIND
    else:
        code = PaceCode.ON_PACE
    return TodaysPace(code, spent, budget, planned, limited_by_budget=state.throttle < 1.0)


def ad_group_pace(ad_group: AdGroup, *, now: datetime, spend: SpendState) -> TodaysPace | None:
    """How a standard-paced ad group's own budget is spending today (None: nothing to compare)."""
    if ad_group.pacing != Pacing.STANDARD or ad_group.budget_mode == BudgetMode.UNLIMITED:
        return None
    advertiser = ad_group.campaign.advertiser
    return _pace(f"ag:{ad_group.pk}", spend.ad_group_today.get(ad_group.pk, 0), advertiser, now, spend)


def campaign_pace(campaign: Campaign, *, now: datetime, spend: SpendState) -> TodaysPace | None:
    """How a campaign budget shared by its standard-paced ad groups is spending today (None: nothing to compare)."""
    if campaign.budget_mode == BudgetMode.UNLIMITED:
        return None
    return _pace(f"c:{campaign.pk}", spend.campaign_today.get(campaign.pk, 0), campaign.advertiser, now, spend)
