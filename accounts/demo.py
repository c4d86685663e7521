"""Demo accounts for `make run`, created idempotently by `manage.py seed_demo`."""

from dataclasses import dataclass

from django.db import transaction

from adplatform import money

from .models import Advertiser, Agency, AgencyMembership, Membership, Role, User

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - printed by `make run` on purpose


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    what: str


def _user(email: str, full_name: str, *, staff: bool = False) -> User:
    user, _ = User.objects.update_or_create(
        email=email, defaults={"full_name": full_name, "is_staff": staff, "is_superuser": staff, "is_active": True}
    )
    if not user.check_password(DEMO_PASSWORD):
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


def _advertiser(name: str, *, currency: str, time_zone: str, agency: Agency | None = None, **extra: object) -> Advertiser:
    advertiser, _ = Advertiser.objects.update_or_create(
        name=name, agency=agency, defaults={"currency": currency, "time_zone": time_zone, **extra}
    )
    return advertiser


@transaction.atomic
def seed() -> list[DemoLogin]:
    """Create (or bring back) the demo users, advertisers and agency; safe to run again and again."""
    staff = _user("staff@adplatform.test", "Sam Staff", staff=True)
    baker = _user("baker@example.com", "Bea Baker")
    analyst = _user("analyst@example.com", "Ana Lyst")
    agent = _user("agency@example.com", "Alex Agent")

    bakery = _advertiser("Corner Bakery", currency="EUR", time_zone="Europe/Berlin")
    Membership.objects.update_or_create(user=baker, advertiser=bakery, defaults={"role": Role.ADMIN})
    Membership.objects.update_or_create(user=analyst, advertiser=bakery, defaults={"role": Role.ANALYST})

    agency, _ = Agency.objects.get_or_create(name="Northwind Media")
    AgencyMembership.objects.update_or_create(user=agent, agency=agency, defaults={"role": Role.ADMIN})
    _advertiser(
        "Brand Co",
        currency="USD",
        time_zone="America/New_York",
        agency=agency,
        billing_mode=Advertiser.BillingMode.CREDIT_LINE,
        credit_limit_micros=money.to_micros("50000.00"),
    )
    _advertiser("Gadget Shop", currency="GBP", time_zone="Europe/London", agency=agency)

    return [
        DemoLogin(baker.email, DEMO_PASSWORD, "advertiser admin (Corner Bakery)"),
        DemoLogin(analyst.email, DEMO_PASSWORD, "analyst (Corner Bakery)"),
        DemoLogin(agent.email, DEMO_PASSWORD, "agency admin (Northwind Media: Brand Co, Gadget Shop)"),
        DemoLogin(staff.email, DEMO_PASSWORD, "platform staff (/admin/)"),
    ]
