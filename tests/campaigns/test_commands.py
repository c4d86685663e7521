"""manage.py create_placement and the campaigns half of seed_demo, run through call_command."""

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Ad, AdGroup, Campaign, Placement
from tests.factories import PlacementFactory


def run(*args: str) -> list[str]:
    """Run a management command and return its stdout lines."""
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue().splitlines()


def counts() -> dict[str, int]:
    return {
        "placements": Placement.objects.count(),
        "placement_history": Placement.history.model.objects.count(),
        "campaigns": Campaign.objects.count(),
        "ad_groups": AdGroup.objects.count(),
        "ads": Ad.objects.count(),
    }


# --- create_placement --------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_placement_prints_the_key_last_and_stores_only_its_hash():
    lines = run("create_placement", "--key", "topview", "--name", "Top view", "--formats", "video, image,video", "--floor", "4.5")

    placement = Placement.objects.get()
    api_key = lines[-1]
    assert lines == [
        "Created placement topview (Top view): image, video, floor 4.50 USD CPM. Serving API key:",
        api_key,
    ]
    assert api_key.startswith("plk_")
    assert (placement.key, placement.name, placement.allowed_formats, placement.floor_cpm_usd_micros, placement.is_active) == (
        "topview",
        "Top view",
        ["image", "video"],
        4_500_000,
        True,
    )
    assert placement.api_key_hash == hashlib.sha256(api_key.encode()).hexdigest()
    assert placement.api_key_hint == api_key[-4:]


@pytest.mark.django_db
def test_create_placement_with_a_floor_of_zero():
    run("create_placement", "--key", "search", "--name", "Search", "--formats", "text", "--floor", "0")

    assert list(Placement.objects.values_list("key", "allowed_formats", "floor_cpm_usd_micros")) == [("search", ["text"], 0)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--formats", "video,audio"], "--formats: Choose from: image, video, text."),
        (["--formats", " , "], "--formats: Choose from: image, video, text."),
        (["--floor", "cheap"], "--floor: Enter a decimal amount such as 12.50."),
        (["--floor", "0.0000001"], "--floor: Use at most 6 decimal places."),
        (["--floor", "-1"], "--floor: Enter a floor of zero or more."),
        (["--key", "Top View"], "--key: Use lower-case letters, digits, - and _."),
        (["--name", "  "], "--name: Enter a name."),
    ],
)
def test_create_placement_refuses_bad_arguments_and_writes_nothing(args, message):
    given = {"--key": "topview", "--name": "Top view", "--formats": "video", "--floor": "4.00"}
    given.update(dict(zip(args[::2], args[1::2], strict=True)))
    before = counts()

    with pytest.raises(CommandError) as excinfo:
        run("create_placement", *[part for pair in given.items() for part in pair])

    assert str(excinfo.value) == message
    assert counts() == before


@pytest.mark.django_db
def test_create_placement_refuses_a_key_in_use_and_keeps_the_existing_one():
    existing = PlacementFactory(key="feed", name="In-feed", floor_cpm_usd_micros=500_000)
    before = counts()

    with pytest.raises(CommandError) as excinfo:
        run("create_placement", "--key", "feed", "--name", "Other feed", "--formats", "image", "--floor", "9")

    assert str(excinfo.value) == "--key: A placement with key feed already exists."
    assert counts() == before
    assert Placement.objects.values_list("name", "floor_cpm_usd_micros", "api_key_hash").get() == (
        "In-feed",
        500_000,
        existing.api_key_hash,
    )


@pytest.mark.django_db
def test_create_placement_names_every_bad_argument_at_once():
    with pytest.raises(CommandError) as excinfo:
        run("create_placement", "--key", "Bad Key", "--name", " ", "--formats", "gif", "--floor", "1")

    assert str(excinfo.value) == (
        "--key: Use lower-case letters, digits, - and _.; --name: Enter a name.; --formats: Choose from: image, video, text."
    )
    assert Placement.objects.count() == 0


# --- seed_demo: placements and campaigns ---------------------------------------------------------


def demo_state() -> dict[str, object]:
    return {
        "counts": counts(),
        "placements": list(
            Placement.objects.order_by("key").values_list("key", "allowed_formats", "floor_cpm_usd_micros", "api_key_hash")
        ),
        "campaigns": sorted(
            Campaign.objects.values_list("advertiser__name", "name", "objective", "budget_mode", "budget_micros", "status")
        ),
        "ads": sorted(Ad.objects.values_list("ad_group__campaign__name", "format", "headline", "review_status")),
    }


@pytest.mark.django_db
def test_seed_demo_creates_placements_and_demo_campaigns():
    output = run("seed_demo")

    placement_lines = output[: output.index("Demo logins:")]
    keys = dict(line.removeprefix("placement ").split(": serving API key ") for line in placement_lines)
    assert list(keys) == ["feed", "topview", "search"]
    for key, api_key in keys.items():
        assert Placement.objects.get(key=key).api_key_hash == hashlib.sha256(api_key.encode()).hexdigest()
    state = demo_state()
    assert state["placements"] == [
        ("feed", ["image", "video"], 500_000, Placement.objects.get(key="feed").api_key_hash),
        ("search", ["image", "text"], 200_000, Placement.objects.get(key="search").api_key_hash),
        ("topview", ["video"], 4_000_000, Placement.objects.get(key="topview").api_key_hash),
    ]
    assert state["campaigns"] == [
        ("Brand Co", "Autumn launch", "video_views", "daily", 2_000_000_000, "active"),
        ("Corner Bakery", "Fresh bread in Berlin", "traffic", "daily", 5_000_000, "active"),
    ]
    assert state["ads"] == [
        ("Autumn launch", "video", "Meet the new Brand One", "approved"),
        ("Fresh bread in Berlin", "image", "Warm croissants from 7 am", "approved"),
        ("Fresh bread in Berlin", "text", "Sourdough, rye and spelt", "pending"),
    ]
    assert sorted(AdGroup.objects.values_list("name", flat=True)) == ["Berlin food lovers", "US and Canada, 18-34"]


@pytest.mark.django_db
def test_seed_demo_twice_creates_nothing_new_and_prints_no_new_keys():
    run("seed_demo")
    first = demo_state()

    output = run("seed_demo")

    assert output[0] == "Demo logins:"
    assert demo_state() == first
