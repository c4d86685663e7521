"""campaigns.services: every write, its roles, its validation, the review workflow and the change history."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model

from accounts.models import Role
from adplatform import clock
from campaigns import services
from campaigns.models import Ad, AdGroup, BlockedTerm, Campaign, Interest, Placement
from campaigns.selectors import change_history
from tests.factories import (
    AdvertiserFactory,
    CampaignFactory,
    MembershipFactory,
    PlacementFactory,
    UserFactory,
)

MOMENT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LATER = MOMENT + timedelta(hours=2)
MIRACLE_REASON = (
    "The headline contains “miracle cure”, which our ad policy does not allow (unproven health claims). Reword it and save."
)


# --- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def feed(db):
    return PlacementFactory(key="feed", name="In-feed", allowed_formats=["image", "video"], floor_cpm_usd_micros=500_000)


@pytest.fixture
def search(db):
    return PlacementFactory(key="search", name="Search results", allowed_formats=["image", "text"], floor_cpm_usd_micros=200_000)


@pytest.fixture
def operator(tenancy):
    return MembershipFactory(advertiser=tenancy.bakery, user__email="operator@example.com", role=Role.OPERATOR).user


@pytest.fixture
def staff(db):
    return UserFactory(email="reviewer@adplatform.test", is_staff=True)


def history_count(model: type[Model]) -> int:
    return model.history.model.objects.count()  # type: ignore[attr-defined]


def counts() -> dict[str, int]:
    """Row counts of every table a campaigns service might write."""
    return {
        "campaigns": Campaign.objects.count(),
        "ad_groups": AdGroup.objects.count(),
        "ads": Ad.objects.count(),
        "placements": Placement.objects.count(),
        "ad_group_placements": AdGroup.placements.through.objects.count(),
        "ad_group_interests": AdGroup.interests.through.objects.count(),
        "campaign_history": history_count(Campaign),
        "ad_group_history": history_count(AdGroup),
        "ad_history": history_count(Ad),
        "placement_history": history_count(Placement),
    }


CAMPAIGN_COLUMNS = ("advertiser_id", "name", "objective", "budget_mode", "budget_micros", "status", "created_at", "updated_at")
AD_GROUP_COLUMNS = (
    "campaign_id",
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
    "updated_at",
)
AD_COLUMNS = (
    "ad_group_id",
    "format",
    "display_name",
    "headline",
    "body",
    "media_url",
    "video_duration_seconds",
    "call_to_action",
    "landing_url",
    "status",
    "review_status",
    "review_reason",
    "submitted_at",
    "reviewed_at",
    "reviewed_by_id",
    "updated_at",
)


def campaign_row(campaign):
    return Campaign.objects.values(*CAMPAIGN_COLUMNS).get(pk=campaign.pk)


def ad_group_row(ad_group):
    row = AdGroup.objects.values(*AD_GROUP_COLUMNS).get(pk=ad_group.pk)
    row["placements"] = sorted(AdGroup.objects.get(pk=ad_group.pk).placements.values_list("key", flat=True))
    row["interests"] = sorted(AdGroup.objects.get(pk=ad_group.pk).interests.values_list("key", flat=True))
    return row


def ad_row(ad):
    return Ad.objects.values(*AD_COLUMNS).get(pk=ad.pk)


def create_campaign(actor, advertiser, **overrides):
    fields = {"name": "Spring sale", "objective": "traffic", "budget_mode": "daily", "budget_micros": 10_000_000} | overrides
    return services.campaign_create(actor=actor, advertiser=advertiser, **fields)


def create_ad_group(actor, campaign, **overrides):
    fields = {
        "name": "Berlin food lovers",
        "placements": ["feed"],
        "bid_micros": 2_000_000,
        "budget_micros": 5_000_000,
    } | overrides
    return services.ad_group_create(actor=actor, campaign=campaign, **fields)


def create_ad(actor, ad_group, **overrides):
    fields = {
        "format": "image",
        "display_name": "Corner Bakery",
        "headline": "Warm croissants from 7 am",
        "body": "Baked every morning.",
        "media_url": "https://cdn.example.com/croissants.jpg",
        "landing_url": "https://bakery.example.com/",
    } | overrides
    return services.ad_create(actor=actor, ad_group=ad_group, **fields)


def message_dict(excinfo):
    return excinfo.value.message_dict


# --- campaign_create ---------------------------------------------------------------------------


def test_campaign_create_by_an_admin_stores_exactly_what_was_given(tenancy):
    with clock.frozen(MOMENT):
        campaign = create_campaign(tenancy.owner, tenancy.bakery, name="  Spring sale  ", budget_micros=12_500_000)

    assert campaign_row(campaign) == {
        "advertiser_id": tenancy.bakery.pk,
        "name": "Spring sale",
        "objective": "traffic",
        "budget_mode": "daily",
        "budget_micros": 12_500_000,
        "status": "active",
        "created_at": MOMENT,
        "updated_at": MOMENT,
    }


def test_campaign_create_defaults_to_an_unlimited_budget(tenancy):
    campaign = services.campaign_create(actor=tenancy.owner, advertiser=tenancy.bakery, name="Always on", objective="reach")

    row = campaign_row(campaign)
    assert (row["budget_mode"], row["budget_micros"], row["status"]) == ("unlimited", 0, "active")


def test_campaign_create_by_an_operator_and_by_the_agency_of_a_client(tenancy, operator):
    by_operator = create_campaign(operator, tenancy.bakery)
    by_agency = create_campaign(tenancy.agent_a, tenancy.client_a1, name="Client launch")

    assert Campaign.objects.filter(pk=by_operator.pk, advertiser=tenancy.bakery).exists()
    assert Campaign.objects.filter(pk=by_agency.pk, advertiser=tenancy.client_a1, name="Client launch").exists()


@pytest.mark.parametrize("who", ["analyst", "stranger", "agent_a", "agent_b"])
def test_campaign_create_is_refused_without_an_editing_role_and_writes_nothing(tenancy, who):
    before = counts()

    with pytest.raises(PermissionDenied, match=r"^This needs the operator role on Bakery\.$"):
        create_campaign(getattr(tenancy, who), tenancy.bakery)

    assert counts() == before


def test_campaign_create_refuses_a_daily_budget_below_the_euro_minimum_and_writes_nothing(tenancy):
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        create_campaign(tenancy.owner, tenancy.bakery, budget_micros=999_999)

    assert message_dict(excinfo) == {"budget": ["The smallest daily budget is 1.00 EUR."]}
    assert counts() == before


def test_campaign_create_accepts_exactly_the_minimum(tenancy):
    campaign = create_campaign(tenancy.owner, tenancy.bakery, budget_micros=1_000_000)

    assert campaign_row(campaign)["budget_micros"] == 1_000_000


def test_campaign_create_uses_the_minimum_of_the_advertisers_currency(db):
    yen = AdvertiserFactory(name="Tokyo Ramen", currency="JPY", time_zone="Asia/Tokyo")
    owner = MembershipFactory(advertiser=yen, user__email="ramen@example.com").user

    with pytest.raises(ValidationError) as excinfo:
        create_campaign(owner, yen, budget_micros=99_999_999)
    campaign = create_campaign(owner, yen, budget_micros=100_000_000)

    assert message_dict(excinfo) == {"budget": ["The smallest daily budget is 100.00 JPY."]}
    assert list(Campaign.objects.filter(advertiser=yen).values_list("pk", "budget_micros")) == [(campaign.pk, 100_000_000)]


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"name": "  "}, {"name": ["Enter a name."]}),
        (
            {"objective": "fame"},
            {
                "objective": [
                    "Choose one of: reach, traffic, video_views, engagement, lead_generation, app_promotion, web_conversions."
                ]
            },
        ),
        (
            {"budget_mode": "unlimited", "budget_micros": 5_000_000},
            {"budget": ["An unlimited budget has no amount; choose daily or lifetime to set one."]},
        ),
        ({"budget_micros": 0}, {"budget": ["Enter a budget above zero."]}),
        ({"status": "archived!"}, {"status": ["Choose one of: active, paused, archived."]}),
    ],
)
def test_campaign_create_refuses_invalid_fields_by_name_and_writes_nothing(tenancy, overrides, errors):
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        create_campaign(tenancy.owner, tenancy.bakery, **overrides)

    assert message_dict(excinfo) == errors
    assert counts() == before


# --- campaign_update ---------------------------------------------------------------------------


def test_campaign_update_changes_the_given_fields(tenancy, operator):
    with clock.frozen(MOMENT):
        campaign = create_campaign(tenancy.owner, tenancy.bakery)
    with clock.frozen(LATER):
        services.campaign_update(
            actor=operator, campaign=campaign, name=" Summer sale ", budget_micros=25_000_000, status="paused"
        )

    assert campaign_row(campaign) == {
        "advertiser_id": tenancy.bakery.pk,
        "name": "Summer sale",
        "objective": "traffic",
        "budget_mode": "daily",
        "budget_micros": 25_000_000,
        "status": "paused",
        "created_at": MOMENT,
        "updated_at": LATER,
    }


def test_campaign_update_to_unlimited_clears_the_amount(tenancy):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)

    services.campaign_update(actor=tenancy.owner, campaign=campaign, budget_mode="unlimited")

    row = campaign_row(campaign)
    assert (row["budget_mode"], row["budget_micros"]) == ("unlimited", 0)


def test_campaign_update_without_a_change_writes_nothing(tenancy):
    with clock.frozen(MOMENT):
        campaign = create_campaign(tenancy.owner, tenancy.bakery)
    before = counts()

    with clock.frozen(LATER):
        services.campaign_update(actor=tenancy.owner, campaign=campaign, name="Spring sale", budget_micros=10_000_000)

    assert counts() == before
    assert campaign_row(campaign)["updated_at"] == MOMENT


@pytest.mark.parametrize("who", ["analyst", "stranger", "agent_a"])
def test_campaign_update_is_refused_without_an_editing_role(tenancy, who):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    before, row = counts(), campaign_row(campaign)

    with pytest.raises(PermissionDenied):
        services.campaign_update(actor=getattr(tenancy, who), campaign=campaign, status="paused")

    assert counts() == before
    assert campaign_row(campaign) == row


def test_campaign_update_refuses_unknown_fields(tenancy):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    row = campaign_row(campaign)

    with pytest.raises(ValidationError) as excinfo:
        services.campaign_update(actor=tenancy.owner, campaign=campaign, name="Other", advertiser_id=tenancy.client_b1.pk)

    assert message_dict(excinfo) == {"advertiser_id": ["Unknown field."]}
    assert campaign_row(campaign) == row


def test_an_archived_campaign_cannot_be_changed_or_resumed(tenancy):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    services.campaign_update(actor=tenancy.owner, campaign=campaign, status="archived")
    before, row = counts(), campaign_row(campaign)

    for changes in ({"name": "Back again"}, {"status": "active"}):
        with pytest.raises(ValidationError) as excinfo:
            services.campaign_update(actor=tenancy.owner, campaign=campaign, **changes)
        assert message_dict(excinfo) == {"status": ["Archived items cannot be changed."]}

    assert counts() == before
    assert campaign_row(campaign) == row


def test_a_lifetime_campaign_budget_is_refused_while_an_ad_group_has_no_end(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    create_ad_group(tenancy.owner, campaign, name="Open ended")
    create_ad_group(tenancy.owner, campaign, name="Ends", end_time=clock.now() + timedelta(days=7))
    before, row = counts(), campaign_row(campaign)

    with pytest.raises(ValidationError) as excinfo:
        services.campaign_update(actor=tenancy.owner, campaign=campaign, budget_mode="lifetime", budget_micros=100_000_000)

    assert message_dict(excinfo) == {"budget_mode": ["A lifetime budget needs an end time: 1 ad group(s) have none."]}
    assert counts() == before
    assert campaign_row(campaign) == row


def test_a_lifetime_campaign_budget_ignores_archived_ad_groups_without_an_end(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    open_ended = create_ad_group(tenancy.owner, campaign)
    services.ad_group_update(actor=tenancy.owner, ad_group=open_ended, status="archived")

    services.campaign_update(actor=tenancy.owner, campaign=campaign, budget_mode="lifetime", budget_micros=100_000_000)

    row = campaign_row(campaign)
    assert (row["budget_mode"], row["budget_micros"]) == ("lifetime", 100_000_000)


def test_changing_the_objective_to_one_its_ad_groups_bids_do_not_fit_is_refused(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery, objective="web_conversions")
    create_ad_group(tenancy.owner, campaign, bid_strategy="cpc", bid_micros=300_000)
    create_ad_group(tenancy.owner, campaign, bid_strategy="ocpm", bid_micros=5_000_000)
    before, row = counts(), campaign_row(campaign)

    with pytest.raises(ValidationError) as excinfo:
        services.campaign_update(actor=tenancy.owner, campaign=campaign, objective="traffic")

    assert message_dict(excinfo) == {"objective": ["Ad groups bid ocpm, which does not fit this objective."]}
    assert counts() == before
    assert campaign_row(campaign) == row


# --- ad_group_create ---------------------------------------------------------------------------


def test_ad_group_create_stores_normalized_targeting_placements_and_interests(tenancy, feed, search):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)

    with clock.frozen(MOMENT):
        ad_group = services.ad_group_create(
            actor=tenancy.owner,
            campaign=campaign,
            name="  Berlin food lovers ",
            placements=["search", "feed", "feed"],
            bid_micros=2_000_000,
            countries=["de", "AT", "De"],
            age_ranges=["35-44", "25-34"],
            genders=["female"],
            languages=["EN", "de", "en"],
            interests=["coffee", "baking"],
            device_types=["mobile"],
            operating_systems=["ios", "android"],
            end_time=MOMENT + timedelta(days=30),
            dayparting=list(range(48 * 7)),
            budget_micros=5_000_000,
            pacing="accelerated",
            frequency_cap_impressions=3,
            frequency_cap_days=1,
        )

    assert ad_group_row(ad_group) == {
        "campaign_id": campaign.pk,
        "name": "Berlin food lovers",
        "countries": ["AT", "DE"],
        "age_ranges": ["25-34", "35-44"],
        "genders": ["female"],
        "languages": ["de", "en"],
        "device_types": ["mobile"],
        "operating_systems": ["android", "ios"],
        "start_time": MOMENT,
        "end_time": MOMENT + timedelta(days=30),
        "dayparting": [],  # all 336 slots are the same as none
        "budget_mode": "daily",
        "budget_micros": 5_000_000,
        "pacing": "accelerated",
        "bid_strategy": "cpm",
        "bid_micros": 2_000_000,
        "frequency_cap_impressions": 3,
        "frequency_cap_days": 1,
        "status": "active",
        "updated_at": MOMENT,
        "placements": ["feed", "search"],
        "interests": ["baking", "coffee"],
    }


def test_ad_group_create_stores_dayparting_slots_once_each_in_numeric_order(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)

    ad_group = create_ad_group(tenancy.owner, campaign, dayparting=[100, 2, 10, 2, 335, 0])

    assert ad_group_row(ad_group)["dayparting"] == [0, 2, 10, 100, 335]


def test_ad_group_create_refuses_336_slots_when_one_is_outside_the_week(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        create_ad_group(tenancy.owner, campaign, dayparting=list(range(1, 337)))

    assert message_dict(excinfo) == {"dayparting": ["Slots run from 0 (Monday 00:00) to 335 (Sunday 23:30)."]}
    assert counts() == before


def test_ad_group_create_with_a_lifetime_budget(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery, budget_mode="unlimited", budget_micros=0)

    with clock.frozen(MOMENT):
        ad_group = create_ad_group(
            tenancy.owner, campaign, budget_mode="lifetime", budget_micros=10_000_000, end_time=MOMENT + timedelta(days=10)
        )

    row = ad_group_row(ad_group)
    assert (row["budget_mode"], row["budget_micros"], row["start_time"], row["end_time"]) == (
        "lifetime",
        10_000_000,
        MOMENT,
        MOMENT + timedelta(days=10),
    )


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"countries": ["DE", "ZZ"]}, {"countries": ["Unknown country: ZZ."]}),
        ({"languages": ["de", "xx"]}, {"languages": ["Unknown language: xx."]}),
        ({"interests": ["baking", "knitting"]}, {"interests": ["Unknown interest: knitting."]}),
        ({"placements": ["feed", "moon"]}, {"placements": ["Unknown placement: moon."]}),
        ({"placements": []}, {"placements": ["Choose at least one placement."]}),
        ({"placements": "feed"}, {"placements": ["Send a list of placement keys."]}),
        ({"bid_micros": 459_999}, {"bid": ["The CPM bid must be at least 0.46 EUR, the floor of In-feed."]}),
        ({"budget_micros": 999_999}, {"budget": ["The smallest daily budget is 1.00 EUR."]}),
        ({"end_time": MOMENT - timedelta(days=1)}, {"end_time": ["The end must be after the start."]}),
        ({"budget_mode": "lifetime", "budget_micros": 50_000_000}, {"end_time": ["A lifetime budget needs an end time."]}),
        ({"dayparting": [0, 336]}, {"dayparting": ["Slots run from 0 (Monday 00:00) to 335 (Sunday 23:30)."]}),
        ({"frequency_cap_impressions": 3}, {"frequency_cap": ["Give both impressions and days, or neither."]}),
        ({"bid_strategy": "ocpm"}, {"bid_strategy": ["ocpm does not fit the traffic objective; use cpc, cpm."]}),
        ({"name": " "}, {"name": ["Enter a name."]}),
        ({"colour": "red"}, {"colour": ["Unknown field."]}),
    ],
)
def test_ad_group_create_refuses_invalid_fields_by_name_and_writes_nothing(tenancy, feed, overrides, errors):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    before = counts()

    with pytest.raises(ValidationError) as excinfo, clock.frozen(MOMENT):
        create_ad_group(tenancy.owner, campaign, **overrides)

    assert message_dict(excinfo) == errors
    assert counts() == before


def test_ad_group_create_treats_a_retired_interest_as_unknown(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    Interest.objects.filter(key="baking").update(is_active=False)
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        create_ad_group(tenancy.owner, campaign, interests=["baking", "coffee"])

    assert message_dict(excinfo) == {"interests": ["Unknown interest: baking."]}
    assert counts() == before


def test_ad_group_create_in_a_lifetime_campaign_needs_an_end(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery, budget_mode="lifetime", budget_micros=100_000_000)
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        create_ad_group(tenancy.owner, campaign)

    assert message_dict(excinfo) == {"end_time": ["The campaign has a lifetime budget, so its ad groups need an end time."]}
    assert counts() == before


def test_ad_group_create_refuses_a_cpc_bid_for_a_reach_campaign(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery, objective="reach")
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        create_ad_group(tenancy.owner, campaign, bid_strategy="cpc", bid_micros=300_000)

    assert message_dict(excinfo) == {"bid_strategy": ["cpc does not fit the reach objective; use cpm."]}
    assert counts() == before


def test_ad_group_create_in_an_archived_campaign_is_refused(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    services.campaign_update(actor=tenancy.owner, campaign=campaign, status="archived")
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        create_ad_group(tenancy.owner, campaign)

    assert message_dict(excinfo) == {"campaign": ["This campaign is archived."]}
    assert counts() == before


@pytest.mark.parametrize("who", ["analyst", "stranger", "agent_b"])
def test_ad_group_create_is_refused_without_an_editing_role(tenancy, feed, who):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    before = counts()

    with pytest.raises(PermissionDenied):
        create_ad_group(getattr(tenancy, who), campaign)

    assert counts() == before


# --- ad_group_update ---------------------------------------------------------------------------


def test_ad_group_update_changes_fields_placements_and_interests(tenancy, operator, feed, search):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    with clock.frozen(MOMENT):
        ad_group = create_ad_group(tenancy.owner, campaign, interests=["baking"])

    with clock.frozen(LATER):
        services.ad_group_update(
            actor=operator,
            ad_group=ad_group,
            placements=["search"],
            interests=["coffee", "cooking"],
            countries=["fr"],
            bid_micros=3_000_000,
        )

    row = ad_group_row(ad_group)
    assert (row["placements"], row["interests"], row["countries"], row["bid_micros"], row["updated_at"]) == (
        ["search"],
        ["coffee", "cooking"],
        ["FR"],
        3_000_000,
        LATER,
    )


def test_ad_group_update_that_fails_validation_writes_nothing(tenancy, feed, search):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign, interests=["baking"])
    before, row = counts(), ad_group_row(ad_group)

    with pytest.raises(ValidationError) as excinfo:
        services.ad_group_update(
            actor=tenancy.owner, ad_group=ad_group, placements=["search"], interests=["coffee"], bid_micros=100_000
        )

    assert message_dict(excinfo) == {"bid": ["The CPM bid must be at least 0.184 EUR, the floor of Search results."]}
    assert counts() == before
    assert ad_group_row(ad_group) == row


def test_ad_group_update_refuses_an_archived_ad_group_and_one_in_an_archived_campaign(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    archived = create_ad_group(tenancy.owner, campaign, name="Old")
    live = create_ad_group(tenancy.owner, campaign, name="Live")
    services.ad_group_update(actor=tenancy.owner, ad_group=archived, status="archived")
    before = counts()

    with pytest.raises(ValidationError) as own:
        services.ad_group_update(actor=tenancy.owner, ad_group=archived, status="active")
    services.campaign_update(actor=tenancy.owner, campaign=campaign, status="archived")
    after_archive = counts()
    with pytest.raises(ValidationError) as parent:
        services.ad_group_update(actor=tenancy.owner, ad_group=live, name="Renamed")

    assert message_dict(own) == {"status": ["Archived items cannot be changed."]}
    assert message_dict(parent) == {"status": ["Its campaign is archived."]}
    assert after_archive == before | {"campaign_history": before["campaign_history"] + 1}
    assert counts() == after_archive
    assert AdGroup.objects.get(pk=archived.pk).status == "archived"
    assert AdGroup.objects.get(pk=live.pk).name == "Live"


@pytest.mark.parametrize("who", ["analyst", "stranger"])
def test_ad_group_update_is_refused_without_an_editing_role(tenancy, feed, who):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign)
    before, row = counts(), ad_group_row(ad_group)

    with pytest.raises(PermissionDenied):
        services.ad_group_update(actor=getattr(tenancy, who), ad_group=ad_group, status="paused")

    assert counts() == before
    assert ad_group_row(ad_group) == row


def test_ad_group_update_without_a_change_writes_nothing(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign, countries=["DE"], interests=["baking"])
    before, row = counts(), ad_group_row(ad_group)

    services.ad_group_update(actor=tenancy.owner, ad_group=ad_group, countries=["de"], interests=["baking"], placements=["feed"])

    assert counts() == before
    assert ad_group_row(ad_group) == row


def test_ad_group_update_with_the_same_placements_and_interests_in_another_order_writes_nothing(tenancy, feed, search):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign, placements=["feed", "search"], interests=["baking", "coffee"])
    before, row = counts(), ad_group_row(ad_group)

    services.ad_group_update(
        actor=tenancy.owner, ad_group=ad_group, placements=["search", "feed"], interests=["coffee", "baking"]
    )

    assert counts() == before
    assert ad_group_row(ad_group) == row


# --- ad_create and automated review ------------------------------------------------------------


def test_ad_create_puts_a_clean_ad_in_review_without_e_mail(tenancy, feed, mailoutbox, django_capture_on_commit_callbacks):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign)

    with clock.frozen(MOMENT), django_capture_on_commit_callbacks(execute=True):
        ad = create_ad(tenancy.owner, ad_group, headline="  Warm croissants from 7 am ")

    assert ad_row(ad) == {
        "ad_group_id": ad_group.pk,
        "format": "image",
        "display_name": "Corner Bakery",
        "headline": "Warm croissants from 7 am",
        "body": "Baked every morning.",
        "media_url": "https://cdn.example.com/croissants.jpg",
        "video_duration_seconds": None,
        "call_to_action": "learn_more",
        "landing_url": "https://bakery.example.com/",
        "status": "active",
        "review_status": "pending",
        "review_reason": "",
        "submitted_at": MOMENT,
        "reviewed_at": None,
        "reviewed_by_id": None,
        "updated_at": MOMENT,
    }
    assert mailoutbox == []


def test_ad_create_of_a_video_ad(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign)

    ad = create_ad(
        tenancy.owner,
        ad_group,
        format="video",
        media_url="https://cdn.example.com/launch.mp4",
        video_duration_seconds=60,
        call_to_action="watch_more",
    )

    row = ad_row(ad)
    assert (row["format"], row["video_duration_seconds"], row["call_to_action"], row["review_status"]) == (
        "video",
        60,
        "watch_more",
        "pending",
    )


def test_ad_create_with_a_blocked_term_is_rejected_and_one_e_mail_goes_to_admins_and_operators(
    tenancy, operator, feed, mailoutbox, django_capture_on_commit_callbacks
):
    campaign = create_campaign(tenancy.owner, tenancy.bakery, name="Health")
    ad_group = create_ad_group(tenancy.owner, campaign, name="Everyone")

    with clock.frozen(MOMENT), django_capture_on_commit_callbacks(execute=True):
        ad = create_ad(operator, ad_group, headline="Miracle cure for back pain")

    row = ad_row(ad)
    assert (row["review_status"], row["review_reason"], row["reviewed_at"], row["reviewed_by_id"]) == (
        "rejected",
        MIRACLE_REASON,
        MOMENT,
        None,
    )
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["operator@example.com", "owner@example.com"]  # not the analyst
    assert mail.subject == "Your ad “Miracle cure for back pain” was not approved"
    assert mail.body == (
        "Your ad “Miracle cure for back pain” in Health / Everyone (Bakery) was not approved.\n\n"
        f"Why: {MIRACLE_REASON}\n\nEdit the ad and save it to send it for review again."
    )


def test_the_rejection_e_mail_reaches_the_agency_members_of_a_client(
    tenancy, feed, mailoutbox, django_capture_on_commit_callbacks
):
    direct = MembershipFactory(advertiser=tenancy.client_a1, user__email="client.ops@example.com", role=Role.OPERATOR).user
    MembershipFactory(advertiser=tenancy.client_a1, user__email="client.analyst@example.com", role=Role.ANALYST)
    campaign = create_campaign(tenancy.agent_a, tenancy.client_a1)
    ad_group = create_ad_group(direct, campaign)

    with django_capture_on_commit_callbacks(execute=True):
        create_ad(tenancy.agent_a, ad_group, format="text", media_url="", body="Order now.")

    assert [message.to for message in mailoutbox] == [["agent.a@example.com", "client.ops@example.com"]]
    assert mailoutbox[0].body.startswith("Your ad “Warm croissants from 7 am” in Spring sale / Berlin food lovers (Client A1)")
    assert (
        "None of the ad group's placements (In-feed) shows text ads; add one that does or change the format."
        in mailoutbox[0].body
    )


def test_a_rejection_e_mail_waits_for_the_commit(tenancy, feed, mailoutbox, django_capture_on_commit_callbacks):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        create_ad(tenancy.owner, ad_group, landing_url="https://bakery.example.com/", media_url="https://cdn.example.com/a.pdf")

    assert mailoutbox == []
    for callback in callbacks:  # the commit comes: now the e-mail goes
        callback()
    assert len(mailoutbox) == 1


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        (
            {"landing_url": "http://bakery.example.com/"},
            {"landing_url": ["Enter a full https:// address, e.g. https://example.com/offer."]},
        ),
        (
            {"format": "video", "media_url": "https://cdn.example.com/a.mp4", "video_duration_seconds": 61},
            {"video_duration_seconds": ["Videos run 1 to 60 seconds."]},
        ),
        (
            {"format": "video", "media_url": "https://cdn.example.com/a.mp4"},
            {"video_duration_seconds": ["Give the video's length in seconds."]},
        ),
        ({"format": "text", "media_url": "", "body": ""}, {"body": ["A text ad needs a body."]}),
        ({"reviewed_by": 1}, {"reviewed_by": ["Unknown field."]}),
        ({"review_status": "approved"}, {"review_status": ["Unknown field."]}),
    ],
)
def test_ad_create_refuses_invalid_fields_by_name_writes_nothing_and_sends_nothing(
    tenancy, feed, mailoutbox, django_capture_on_commit_callbacks, overrides, errors
):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign)
    before = counts()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError) as excinfo:
        create_ad(tenancy.owner, ad_group, **overrides)

    assert message_dict(excinfo) == errors
    assert counts() == before
    assert mailoutbox == []


def test_ad_create_names_every_missing_required_field(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign)
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        services.ad_create(actor=tenancy.owner, ad_group=ad_group, headline="Hello")

    assert message_dict(excinfo) == {
        "format": ["This field is required."],
        "display_name": ["This field is required."],
        "landing_url": ["This field is required."],
    }
    assert counts() == before


@pytest.mark.parametrize("archive", ["ad_group", "campaign"])
def test_ad_create_in_an_archived_ad_group_or_campaign_is_refused(tenancy, feed, archive):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign)
    if archive == "ad_group":
        services.ad_group_update(actor=tenancy.owner, ad_group=ad_group, status="archived")
    else:
        services.campaign_update(actor=tenancy.owner, campaign=campaign, status="archived")
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        create_ad(tenancy.owner, ad_group)

    assert message_dict(excinfo) == {"ad_group": ["This ad group is archived."]}
    assert counts() == before


@pytest.mark.parametrize("who", ["analyst", "stranger", "agent_a"])
def test_ad_create_is_refused_without_an_editing_role(tenancy, feed, who, mailoutbox, django_capture_on_commit_callbacks):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign)
    before = counts()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(PermissionDenied):
        create_ad(getattr(tenancy, who), ad_group, headline="Miracle cure")

    assert counts() == before
    assert mailoutbox == []


# --- ad_update: what goes back into review -----------------------------------------------------


@pytest.fixture
def approved_ad(tenancy, feed, staff):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign)
    with clock.frozen(MOMENT):
        ad = create_ad(tenancy.owner, ad_group)
        services.ad_review(reviewer=staff, ad=ad, decision="approve")
    return ad


def test_editing_the_headline_of_an_approved_ad_puts_it_back_in_review(tenancy, approved_ad):
    with clock.frozen(LATER):
        services.ad_update(actor=tenancy.owner, ad=approved_ad, headline="Croissants from 6 am")

    row = ad_row(approved_ad)
    assert (
        row["headline"],
        row["review_status"],
        row["review_reason"],
        row["submitted_at"],
        row["reviewed_at"],
        row["reviewed_by_id"],
    ) == (
        "Croissants from 6 am",
        "pending",
        "",
        LATER,
        None,
        None,
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"display_name": "Corner Bakery Berlin"},
        {"body": "Now with rye."},
        {"media_url": "https://cdn.example.com/rye.png"},
        {"landing_url": "https://bakery.example.com/rye"},
        {"call_to_action": "shop_now"},
        {"format": "video", "media_url": "https://cdn.example.com/a.mp4", "video_duration_seconds": 10},
    ],
)
def test_any_change_viewers_see_puts_an_approved_ad_back_in_review(tenancy, approved_ad, changes):
    services.ad_update(actor=tenancy.owner, ad=approved_ad, **changes)

    assert ad_row(approved_ad)["review_status"] == "pending"


def test_a_status_only_change_keeps_the_ad_approved(tenancy, approved_ad, staff):
    with clock.frozen(LATER):
        services.ad_update(actor=tenancy.owner, ad=approved_ad, status="paused")

    row = ad_row(approved_ad)
    assert (
        row["status"],
        row["review_status"],
        row["submitted_at"],
        row["reviewed_at"],
        row["reviewed_by_id"],
        row["updated_at"],
    ) == (
        "paused",
        "approved",
        MOMENT,
        MOMENT,
        staff.pk,
        LATER,
    )


def test_saving_the_same_values_keeps_the_ad_approved_and_writes_nothing(tenancy, approved_ad):
    before, row = counts(), ad_row(approved_ad)

    services.ad_update(actor=tenancy.owner, ad=approved_ad, headline=" Warm croissants from 7 am ", status="active")

    assert counts() == before
    assert ad_row(approved_ad) == row


def test_editing_an_ad_into_a_blocked_term_rejects_it_and_e_mails(
    tenancy, approved_ad, mailoutbox, django_capture_on_commit_callbacks
):
    with clock.frozen(LATER), django_capture_on_commit_callbacks(execute=True):
        services.ad_update(actor=tenancy.owner, ad=approved_ad, headline="Miracle cure")

    row = ad_row(approved_ad)
    assert (row["review_status"], row["review_reason"], row["reviewed_at"], row["reviewed_by_id"]) == (
        "rejected",
        MIRACLE_REASON,
        LATER,
        None,
    )
    assert [message.to for message in mailoutbox] == [["owner@example.com"]]


def test_fixing_a_rejected_ad_sends_it_back_to_review(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign)
    ad = create_ad(tenancy.owner, ad_group, headline="Miracle cure")

    services.ad_update(actor=tenancy.owner, ad=ad, headline="Honest bread")

    row = ad_row(ad)
    assert (row["review_status"], row["review_reason"]) == ("pending", "")


def test_changing_a_video_ad_to_an_image_drops_the_duration(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign)
    ad = create_ad(tenancy.owner, ad_group, format="video", media_url="https://cdn.example.com/a.mp4", video_duration_seconds=20)

    services.ad_update(actor=tenancy.owner, ad=ad, format="image", media_url="https://cdn.example.com/a.jpg")

    row = ad_row(ad)
    assert (row["format"], row["video_duration_seconds"], row["review_status"]) == ("image", None, "pending")


def test_an_invalid_ad_update_writes_nothing(tenancy, approved_ad):
    before, row = counts(), ad_row(approved_ad)

    with pytest.raises(ValidationError) as excinfo:
        services.ad_update(actor=tenancy.owner, ad=approved_ad, headline="New", landing_url="ftp://bakery.example.com")

    assert message_dict(excinfo) == {"landing_url": ["Enter a full https:// address, e.g. https://example.com/offer."]}
    assert counts() == before
    assert ad_row(approved_ad) == row


@pytest.mark.parametrize("who", ["analyst", "stranger"])
def test_ad_update_is_refused_without_an_editing_role(tenancy, approved_ad, who):
    before, row = counts(), ad_row(approved_ad)

    with pytest.raises(PermissionDenied):
        services.ad_update(actor=getattr(tenancy, who), ad=approved_ad, status="paused")

    assert counts() == before
    assert ad_row(approved_ad) == row


def test_ad_update_refuses_archived_ads_and_ads_under_an_archived_parent(tenancy, approved_ad):
    ad_group = approved_ad.ad_group
    other = create_ad(tenancy.owner, ad_group, headline="Another")
    services.ad_update(actor=tenancy.owner, ad=other, status="archived")

    with pytest.raises(ValidationError) as own:
        services.ad_update(actor=tenancy.owner, ad=other, status="active")
    services.ad_group_update(actor=tenancy.owner, ad_group=ad_group, status="archived")
    before = counts()
    with pytest.raises(ValidationError) as parent:
        services.ad_update(actor=tenancy.owner, ad=approved_ad, status="paused")

    assert message_dict(own) == {"status": ["Archived items cannot be changed."]}
    assert message_dict(parent) == {"status": ["Its ad group is archived."]}
    assert counts() == before
    assert (Ad.objects.get(pk=other.pk).status, Ad.objects.get(pk=approved_ad.pk).status) == ("archived", "active")


# --- ad_review ---------------------------------------------------------------------------------


@pytest.fixture
def pending_ad(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery, name="Bread")
    ad_group = create_ad_group(tenancy.owner, campaign, name="Berlin")
    with clock.frozen(MOMENT):
        return create_ad(tenancy.owner, ad_group)


def test_staff_approve_an_ad_in_review(staff, pending_ad, mailoutbox, django_capture_on_commit_callbacks):
    with clock.frozen(LATER), django_capture_on_commit_callbacks(execute=True):
        services.ad_review(reviewer=staff, ad=pending_ad, decision="approve")

    row = ad_row(pending_ad)
    assert (row["review_status"], row["review_reason"], row["reviewed_at"], row["reviewed_by_id"], row["submitted_at"]) == (
        "approved",
        "",
        LATER,
        staff.pk,
        MOMENT,
    )
    assert mailoutbox == []


def test_staff_reject_an_ad_with_a_reason_and_the_advertiser_is_e_mailed(
    tenancy, operator, staff, pending_ad, mailoutbox, django_capture_on_commit_callbacks
):
    with clock.frozen(LATER), django_capture_on_commit_callbacks(execute=True):
        services.ad_review(reviewer=staff, ad=pending_ad, decision="reject", reason="  The image is blurry.  ")

    row = ad_row(pending_ad)
    assert (row["review_status"], row["review_reason"], row["reviewed_at"], row["reviewed_by_id"]) == (
        "rejected",
        "The image is blurry.",
        LATER,
        staff.pk,
    )
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["operator@example.com", "owner@example.com"]
    assert mailoutbox[0].body == (
        "Your ad “Warm croissants from 7 am” in Bread / Berlin (Bakery) was not approved.\n\n"
        "Why: The image is blurry.\n\nEdit the ad and save it to send it for review again."
    )


@pytest.mark.parametrize("who", ["owner", "agent_a", "stranger"])
def test_only_staff_review_ads(tenancy, pending_ad, who):
    before, row = counts(), ad_row(pending_ad)

    with pytest.raises(PermissionDenied, match=r"^Only platform staff review ads\.$"):
        services.ad_review(reviewer=getattr(tenancy, who), ad=pending_ad, decision="approve")

    assert counts() == before
    assert ad_row(pending_ad) == row


@pytest.mark.parametrize(
    ("decision", "reason", "errors"),
    [
        ("reject", "", {"reason": ["Say why, in words the advertiser can act on."]}),
        ("reject", "   ", {"reason": ["Say why, in words the advertiser can act on."]}),
        ("maybe", "", {"decision": ["Choose approve or reject."]}),
    ],
)
def test_ad_review_refuses_a_bad_decision_and_writes_nothing(
    staff, pending_ad, mailoutbox, django_capture_on_commit_callbacks, decision, reason, errors
):
    before, row = counts(), ad_row(pending_ad)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError) as excinfo:
        services.ad_review(reviewer=staff, ad=pending_ad, decision=decision, reason=reason)

    assert message_dict(excinfo) == errors
    assert counts() == before
    assert ad_row(pending_ad) == row
    assert mailoutbox == []


@pytest.mark.parametrize(("first", "shown"), [("approve", "approved"), ("reject", "rejected")])
def test_reviewing_an_ad_that_is_not_in_review_is_refused(staff, pending_ad, first, shown):
    services.ad_review(reviewer=staff, ad=pending_ad, decision=first, reason="Blurry.")
    before, row = counts(), ad_row(pending_ad)

    with pytest.raises(ValidationError) as excinfo:
        services.ad_review(reviewer=staff, ad=pending_ad, decision="approve")

    assert message_dict(excinfo) == {"ad": [f"This ad is not in review (it is {shown})."]}
    assert counts() == before
    assert ad_row(pending_ad) == row


# --- bulk_set_status ---------------------------------------------------------------------------


def test_bulk_set_status_pauses_and_resumes_campaigns_ad_groups_and_ads(tenancy, approved_ad):
    ad_group = approved_ad.ad_group
    campaign = ad_group.campaign
    second = create_campaign(tenancy.owner, tenancy.bakery, name="Second")

    updated = services.bulk_set_status(actor=tenancy.owner, items=[approved_ad, second, ad_group, campaign], status="paused")

    assert sorted((type(item).__name__, item.pk) for item in updated) == sorted(
        [("Ad", approved_ad.pk), ("Campaign", second.pk), ("AdGroup", ad_group.pk), ("Campaign", campaign.pk)]
    )
    assert sorted(Campaign.objects.filter(advertiser=tenancy.bakery).values_list("status", flat=True)) == ["paused", "paused"]
    assert AdGroup.objects.get(pk=ad_group.pk).status == "paused"
    assert Ad.objects.values_list("status", "review_status").get(pk=approved_ad.pk) == ("paused", "approved")

    services.bulk_set_status(actor=tenancy.owner, items=[second, campaign], status="active")

    assert sorted(Campaign.objects.filter(advertiser=tenancy.bakery).values_list("status", flat=True)) == ["active", "active"]


def test_bulk_set_status_changes_nothing_when_one_item_is_archived(tenancy, feed):
    campaigns = [create_campaign(tenancy.owner, tenancy.bakery, name=f"Campaign {n}") for n in range(5)]
    services.campaign_update(actor=tenancy.owner, campaign=campaigns[3], status="archived")
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        services.bulk_set_status(actor=tenancy.owner, items=campaigns, status="paused")

    assert message_dict(excinfo) == {"status": ["Archived items cannot be changed."]}
    assert counts() == before
    assert list(Campaign.objects.order_by("name").values_list("status", flat=True)) == [
        "active",
        "active",
        "active",
        "archived",
        "active",
    ]


def test_bulk_set_status_changes_nothing_when_one_item_belongs_to_another_advertiser(tenancy, feed):
    own = [create_campaign(tenancy.owner, tenancy.bakery, name=f"Campaign {n}") for n in range(3)]
    foreign = create_campaign(tenancy.agent_b, tenancy.client_b1, name="Foreign")
    before = counts()

    with pytest.raises(PermissionDenied):
        services.bulk_set_status(actor=tenancy.owner, items=[*own, foreign], status="paused")

    assert counts() == before
    assert set(Campaign.objects.values_list("status", flat=True)) == {"active"}


def test_bulk_set_status_changes_at_most_100_items(tenancy):
    campaigns = CampaignFactory.create_batch(101, advertiser=tenancy.bakery, status="active")
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        services.bulk_set_status(actor=tenancy.owner, items=campaigns, status="paused")

    assert message_dict(excinfo) == {"ids": ["Change at most 100 items at once."]}
    assert counts() == before
    assert set(Campaign.objects.values_list("status", flat=True)) == {"active"}


def test_bulk_set_status_changes_exactly_100_items(tenancy):
    campaigns = CampaignFactory.create_batch(100, advertiser=tenancy.bakery, status="active")

    updated = services.bulk_set_status(actor=tenancy.owner, items=campaigns, status="paused")

    assert len(updated) == 100
    assert set(Campaign.objects.values_list("status", flat=True)) == {"paused"}


@pytest.mark.parametrize(
    ("status", "items", "errors"),
    [
        ("archived", 1, {"status": ["Bulk changes pause or resume: choose active or paused."]}),
        ("deleted", 1, {"status": ["Bulk changes pause or resume: choose active or paused."]}),
        ("paused", 0, {"ids": ["Choose at least one item."]}),
    ],
)
def test_bulk_set_status_only_pauses_or_resumes_something(tenancy, status, items, errors):
    campaigns = CampaignFactory.create_batch(items, advertiser=tenancy.bakery, status="active")
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        services.bulk_set_status(actor=tenancy.owner, items=campaigns, status=status)

    assert message_dict(excinfo) == errors
    assert counts() == before
    assert list(Campaign.objects.values_list("status", flat=True)) == ["active"] * items


# --- campaign_duplicate ------------------------------------------------------------------------


def test_campaign_duplicate_copies_ad_groups_and_ads_paused_and_in_review(tenancy, feed, search, staff):
    source = create_campaign(tenancy.owner, tenancy.bakery, name="Bread", budget_micros=7_000_000)
    end = clock.now() + timedelta(days=20)
    targeted = create_ad_group(
        tenancy.owner,
        source,
        name="Targeted",
        placements=["feed", "search"],
        countries=["DE"],
        languages=["de"],
        interests=["baking", "coffee"],
        dayparting=[16, 17],
        end_time=end,
        frequency_cap_impressions=2,
        frequency_cap_days=7,
    )
    ad = create_ad(tenancy.owner, targeted)
    services.ad_review(reviewer=staff, ad=ad, decision="approve")
    create_ad(tenancy.owner, targeted, headline="Paused one", status="paused")
    archived_ad = create_ad(tenancy.owner, targeted, headline="Gone")
    services.ad_update(actor=tenancy.owner, ad=archived_ad, status="archived")
    archived_group = create_ad_group(tenancy.owner, source, name="Archived")
    services.ad_group_update(actor=tenancy.owner, ad_group=archived_group, status="archived")
    source_rows = (campaign_row(source), ad_group_row(targeted), ad_row(ad))

    copy = services.campaign_duplicate(actor=tenancy.owner, campaign=source)

    copy_row = campaign_row(copy)
    assert (copy_row["name"], copy_row["objective"], copy_row["budget_mode"], copy_row["budget_micros"], copy_row["status"]) == (
        "Bread (copy)",
        "traffic",
        "daily",
        7_000_000,
        "paused",
    )
    [group_copy] = AdGroup.objects.filter(campaign=copy)
    ignored = {"campaign_id", "updated_at"}
    original = {key: value for key, value in ad_group_row(targeted).items() if key not in ignored}
    assert {key: value for key, value in ad_group_row(group_copy).items() if key not in ignored} == original
    assert sorted(Ad.objects.filter(ad_group=group_copy).values_list("headline", "status", "review_status")) == [
        ("Paused one", "paused", "pending"),
        ("Warm croissants from 7 am", "active", "pending"),
    ]
    assert (campaign_row(source), ad_group_row(targeted), ad_row(ad)) == source_rows


def test_campaign_duplicate_takes_a_new_name(tenancy, feed):
    source = create_campaign(tenancy.owner, tenancy.bakery)

    copy = services.campaign_duplicate(actor=tenancy.owner, campaign=source, name="Autumn sale")

    assert campaign_row(copy)["name"] == "Autumn sale"
    assert AdGroup.objects.filter(campaign=copy).count() == 0


def test_campaign_duplicate_rejects_copied_ads_that_break_policy_now(
    tenancy, feed, mailoutbox, django_capture_on_commit_callbacks
):
    source = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, source)
    create_ad(tenancy.owner, ad_group, headline="Wholesome bread")
    BlockedTerm.objects.create(term="wholesome", reason="health claims")

    with django_capture_on_commit_callbacks(execute=True):
        copy = services.campaign_duplicate(actor=tenancy.owner, campaign=source)

    assert list(Ad.objects.filter(ad_group__campaign=copy).values_list("review_status", flat=True)) == ["rejected"]
    assert len(mailoutbox) == 1


@pytest.mark.parametrize("who", ["analyst", "stranger"])
def test_campaign_duplicate_is_refused_without_an_editing_role(tenancy, feed, who):
    source = create_campaign(tenancy.owner, tenancy.bakery)
    create_ad(tenancy.owner, create_ad_group(tenancy.owner, source))
    before = counts()

    with pytest.raises(PermissionDenied):
        services.campaign_duplicate(actor=getattr(tenancy, who), campaign=source)

    assert counts() == before


# --- placements --------------------------------------------------------------------------------


def test_placement_create_returns_the_key_once_and_stores_only_its_hash(db):
    before = counts()

    placement, raw = services.placement_create(
        key="feed", name=" In-feed ", formats=["video", "image", "video"], floor_cpm_usd_micros=500_000
    )

    stored = Placement.objects.values(
        "key", "name", "allowed_formats", "floor_cpm_usd_micros", "api_key_hash", "api_key_hint", "is_active"
    ).get(pk=placement.pk)
    assert raw.startswith("plk_")
    assert len(raw) > 40
    assert stored == {
        "key": "feed",
        "name": "In-feed",
        "allowed_formats": ["image", "video"],
        "floor_cpm_usd_micros": 500_000,
        "api_key_hash": hashlib.sha256(raw.encode()).hexdigest(),
        "api_key_hint": raw[-4:],
        "is_active": True,
    }
    assert raw not in str(Placement.history.model.objects.filter(key="feed").values())
    assert counts() == before | {"placements": before["placements"] + 1, "placement_history": before["placement_history"] + 1}


def test_placement_keys_differ_between_placements(db):
    _, first = services.placement_create(key="feed", name="In-feed", formats=["image"], floor_cpm_usd_micros=0)
    _, second = services.placement_create(key="search", name="Search", formats=["text"], floor_cpm_usd_micros=0)

    assert first != second


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"key": "Feed"}, {"key": ["Use lower-case letters, digits, - and _."]}),
        ({"key": "in feed"}, {"key": ["Use lower-case letters, digits, - and _."]}),
        ({"key": ""}, {"key": ["Use lower-case letters, digits, - and _."]}),
        ({"key": "café"}, {"key": ["Use lower-case letters, digits, - and _."]}),
        ({"key": "x" * 51}, {"key": ["Use at most 50 characters."]}),
        ({"name": "  "}, {"name": ["Enter a name."]}),
        ({"name": "n" * 101}, {"name": ["Use at most 100 characters."]}),
        ({"formats": []}, {"formats": ["Choose from: image, video, text."]}),
        ({"formats": ["image", "audio"]}, {"formats": ["Choose from: image, video, text."]}),
        ({"floor_cpm_usd_micros": -1}, {"floor": ["Enter a floor of zero or more."]}),
    ],
)
def test_placement_create_refuses_invalid_fields_and_writes_nothing(db, fields, errors):
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        services.placement_create(
            **({"key": "feed", "name": "In-feed", "formats": ["image"], "floor_cpm_usd_micros": 500_000} | fields)
        )

    assert message_dict(excinfo) == errors
    assert counts() == before


def test_placement_create_refuses_a_key_in_use(feed):
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        services.placement_create(key="feed", name="Another feed", formats=["image"], floor_cpm_usd_micros=0)

    assert message_dict(excinfo) == {"key": ["A placement with key feed already exists."]}
    assert counts() == before


def test_placement_rotate_key_replaces_the_stored_hash(db):
    placement, old = services.placement_create(key="feed", name="In-feed", formats=["image"], floor_cpm_usd_micros=0)

    new = services.placement_rotate_key(placement=placement)

    stored = Placement.objects.values_list("api_key_hash", "api_key_hint").get(pk=placement.pk)
    assert new.startswith("plk_")
    assert new != old
    assert stored == (hashlib.sha256(new.encode()).hexdigest(), new[-4:])
    assert not Placement.objects.filter(api_key_hash=hashlib.sha256(old.encode()).hexdigest()).exists()


# --- change history ----------------------------------------------------------------------------


def test_campaign_history_has_one_entry_per_service_call_with_old_and_new_values(tenancy, operator):
    with clock.frozen(MOMENT):
        campaign = create_campaign(tenancy.owner, tenancy.bakery)
    with clock.frozen(LATER):
        services.campaign_update(actor=operator, campaign=campaign, name="Summer sale", budget_micros=12_500_000, status="paused")

    entries = change_history(campaign)

    shown = [
        {key: entry[key] for key in ("at", "by", "action", "note")}
        | {"changes": sorted(entry["changes"], key=lambda c: c["field"])}
        for entry in entries
    ]
    assert shown == [
        {
            "at": LATER,
            "by": "operator@example.com",
            "action": "changed",
            "note": "",
            "changes": [
                {"field": "budget", "old": "10.00", "new": "12.50"},
                {"field": "name", "old": "Spring sale", "new": "Summer sale"},
                {"field": "status", "old": "active", "new": "paused"},
            ],
        },
        {"at": MOMENT, "by": "owner@example.com", "action": "created", "note": "", "changes": []},
    ]


def test_ad_group_history_shows_placements_and_interests_as_keys_in_one_entry(tenancy, feed, search):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    with clock.frozen(MOMENT):
        ad_group = create_ad_group(tenancy.owner, campaign, interests=["baking"])
    with clock.frozen(LATER):
        services.ad_group_update(
            actor=tenancy.owner,
            ad_group=ad_group,
            placements=["feed", "search"],
            interests=["coffee", "cooking"],
            bid_micros=2_500_000,
        )

    entries = change_history(ad_group)

    assert len(entries) == 2
    assert {key: entries[0][key] for key in ("at", "by", "action")} == {
        "at": LATER,
        "by": "owner@example.com",
        "action": "changed",
    }
    assert sorted(entries[0]["changes"], key=lambda change: change["field"]) == [
        {"field": "bid", "old": "2.00", "new": "2.50"},
        {"field": "interests", "old": ["baking"], "new": ["coffee", "cooking"]},
        {"field": "placements", "old": ["feed"], "new": ["feed", "search"]},
    ]
    assert (entries[1]["action"], entries[1]["by"], entries[1]["changes"]) == ("created", "owner@example.com", [])


def test_ad_history_records_review_notes_and_who_reviewed(tenancy, feed, staff):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign)
    with clock.frozen(MOMENT):
        ad = create_ad(tenancy.owner, ad_group)
    with clock.frozen(LATER):
        services.ad_review(reviewer=staff, ad=ad, decision="approve")
        services.ad_update(actor=tenancy.owner, ad=ad, headline="Croissants from 6 am")

    entries = change_history(ad)

    assert [(entry["action"], entry["by"], entry["note"]) for entry in entries] == [
        ("changed", "owner@example.com", "submitted for review"),
        ("changed", "reviewer@adplatform.test", "approved"),
        ("created", "owner@example.com", "submitted for review"),
    ]
    newest = {change["field"]: (change["old"], change["new"]) for change in entries[0]["changes"]}
    assert newest == {
        "headline": ("Warm croissants from 7 am", "Croissants from 6 am"),
        "review_status": ("approved", "pending"),
        "reviewed_at": (LATER.isoformat(), None),
        "reviewed_by": (staff.email, None),
    }
    approved = {change["field"]: (change["old"], change["new"]) for change in entries[1]["changes"]}
    assert approved == {
        "review_status": ("pending", "approved"),
        "reviewed_at": (None, LATER.isoformat()),
        "reviewed_by": (None, staff.email),
    }


def test_an_automated_rejection_is_one_history_entry(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign)

    ad = create_ad(tenancy.owner, ad_group, headline="Miracle cure")

    assert [(entry["action"], entry["note"]) for entry in change_history(ad)] == [("created", "automated review: rejected")]


def test_a_refused_change_adds_no_history(tenancy, feed):
    campaign = create_campaign(tenancy.owner, tenancy.bakery)
    ad_group = create_ad_group(tenancy.owner, campaign)

    with pytest.raises(ValidationError):
        services.ad_group_update(actor=tenancy.owner, ad_group=ad_group, countries=["ZZ"])
    with pytest.raises(PermissionDenied):
        services.campaign_update(actor=tenancy.analyst, campaign=campaign, name="No")

    assert len(change_history(campaign)) == 1
    assert len(change_history(ad_group)) == 1
