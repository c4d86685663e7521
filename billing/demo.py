"""Demo money for `make run`: a funded bakery and a welcome code, created idempotently by seed_demo."""

from datetime import timedelta

from accounts.models import Advertiser, User
from adplatform import clock, money

from . import services
from .models import PromoCode


def seed() -> None:
    """Top up the bakery once and create the WELCOME25 code (make run's banner mentions both)."""
    baker = User.objects.get(email="baker@example.com")
    staff = User.objects.filter(is_staff=True).order_by("pk").first()
    bakery = Advertiser.objects.get(name="Corner Bakery", agency__isnull=True)
    services.top_up(
        actor=baker,
        advertiser=bakery,
        amount_micros=money.to_micros("50.00"),
        payment_method="pm_card_visa",
        idempotency_key="demo-first-top-up",
    )
    if staff is not None and not PromoCode.objects.filter(code="WELCOME25").exists():
        services.promo_code_create(
            staff=staff,
            code="WELCOME25",
            amount_micros=money.to_micros("25.00"),
            currency="USD",
            expires_at=clock.now() + timedelta(days=365),
            requires_first_top_up=True,
            description="Welcome credit: 25 USD once your first top-up succeeds",
        )
