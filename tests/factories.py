"""factory_boy factories for every model the tests build."""

import hashlib

import factory
from factory.django import DjangoModelFactory

from accounts.models import Advertiser, Agency, AgencyMembership, Membership, Role, User
from billing import services as billing_services
from campaigns.models import Ad, AdGroup, Campaign, Placement
from delivery import services as delivery_services

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()


class AgencyFactory(DjangoModelFactory):
    class Meta:
        model = Agency

    name = factory.Sequence(lambda n: f"Agency {n}")


class AdvertiserFactory(DjangoModelFactory):
    class Meta:
        model = Advertiser

    name = factory.Sequence(lambda n: f"Advertiser {n}")
    currency = "EUR"
    time_zone = "Europe/Berlin"


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    advertiser = factory.SubFactory(AdvertiserFactory)
    role = Role.ADMIN


class AgencyMembershipFactory(DjangoModelFactory):
    class Meta:
        model = AgencyMembership

    user = factory.SubFactory(UserFactory)
    agency = factory.SubFactory(AgencyFactory)
    role = Role.ADMIN


# --- campaigns ---------------------------------------------------------------------------------
# These build rows directly (no services, no review); tests of the services call the services.


class PlacementFactory(DjangoModelFactory):
    class Meta:
        model = Placement
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"placement-{n}")
    name = factory.LazyAttribute(lambda placement: placement.key.replace("-", " ").title())
    allowed_formats = factory.LazyFunction(lambda: ["image", "video", "text"])
    floor_cpm_usd_micros = 500_000
    api_key_hash = factory.Sequence(lambda n: hashlib.sha256(f"plk_test_{n}".encode()).hexdigest())
    api_key_hint = "test"


class CampaignFactory(DjangoModelFactory):
    class Meta:
        model = Campaign

    advertiser = factory.SubFactory(AdvertiserFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")
    objective = "traffic"
    budget_mode = "daily"
    budget_micros = 50_000_000


class AdGroupFactory(DjangoModelFactory):
    class Meta:
        model = AdGroup
        skip_postgeneration_save = True

    campaign = factory.SubFactory(CampaignFactory)
    name = factory.Sequence(lambda n: f"Ad group {n}")
    budget_mode = "daily"
    budget_micros = 20_000_000
    bid_strategy = "cpm"
    bid_micros = 2_000_000

    @factory.post_generation
    def placements(self, create: bool, extracted: list[Placement] | None, **kwargs: object) -> None:
        if create:
            self.placements.set(extracted if extracted is not None else [PlacementFactory(key="feed", name="In-feed")])


class AdFactory(DjangoModelFactory):
    class Meta:
        model = Ad

    ad_group = factory.SubFactory(AdGroupFactory)
    format = "image"
    display_name = "Corner Bakery"
    headline = "Fresh bread every morning"
    body = "Sourdough, rye and croissants."
    media_url = "https://cdn.example.com/bread.jpg"
    landing_url = "https://bakery.example.com/"
    review_status = "approved"


# --- money -------------------------------------------------------------------------------------


def fund(*, actor: User, advertiser: Advertiser, amount_micros: int = 100_000_000) -> None:
    """Money to deliver with: a card top-up by `actor` (an admin), and delivery's Redis balance guard brought up to date.

    The guard follows the ledger after commit; tests that never commit refresh it here themselves.
    """
    billing_services.top_up(actor=actor, advertiser=advertiser, amount_micros=amount_micros, payment_method="pm_card_visa")
    delivery_services.refresh_allowance(advertiser)
