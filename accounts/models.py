"""Users, advertisers, agencies, memberships with roles, invitations and API tokens."""

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings
from simple_history.models import HistoricalRecords

from adplatform import clock

from .validators import validate_currency, validate_time_zone


class Role(models.TextChoices):
    """What a member may do on an advertiser: admins manage, operators edit, analysts read."""

    ADMIN = "admin", "Admin"
    OPERATOR = "operator", "Operator"
    ANALYST = "analyst", "Analyst"


ROLE_RANK = {Role.ANALYST: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


def strongest_role(*roles: str | None) -> Role | None:
    """The strongest of the given roles (None where a user holds none)."""
    held = [Role(role) for role in roles if role]
    return max(held, key=ROLE_RANK.__getitem__) if held else None


class UserManager(BaseUserManager["User"]):
    """Users log in with their e-mail address, stored in lower case."""

    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> "User":
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> "User":
        """Log-in is case-insensitive on the e-mail address."""
        return self.get(email__iexact=username)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with e-mail and password."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False, help_text="May sign in to the staff admin.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Currency(models.Model):
    """A currency advertisers can pay in, its rate to the US dollar and its smallest daily budget.

    Placement floors are set in US dollars and converted with these rates; staff keep them current.
    """

    code = models.CharField(max_length=3, primary_key=True, help_text="ISO 4217, e.g. EUR.")
    name = models.CharField(max_length=100)
    units_per_usd = models.DecimalField(max_digits=18, decimal_places=6, help_text="How many units one US dollar buys.")
    min_daily_budget_micros = models.BigIntegerField(help_text="The smallest daily budget, in micros (about one US dollar).")
    is_active = models.BooleanField(default=True, help_text="New advertisers may choose it.")
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "currencies"
        ordering: ClassVar = ["code"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(units_per_usd__gt=0), name="accounts_currency_rate_positive"),
            models.CheckConstraint(
                condition=models.Q(min_daily_budget_micros__gt=0), name="accounts_currency_min_budget_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


class Agency(models.Model):
    """A partner organisation that runs many client advertisers."""

    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "agencies"
        ordering: ClassVar = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class AgencyMembership(models.Model):
    """A user's role in an agency, which applies to every client advertiser of the agency."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="agency_memberships")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "agency"], name="accounts_agencymembership_unique"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="accounts_agencymembership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.agency} ({self.role})"


class AdvertiserStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class BillingMode(models.TextChoices):
    PREPAID = "prepaid", "Prepaid"
    CREDIT_LINE = "credit_line", "Credit line"


class Advertiser(models.Model):
    """An ad account: it owns campaigns, pays in its currency and lives in its time zone."""

    Status = AdvertiserStatus
    BillingMode = BillingMode

    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, validators=[validate_currency], help_text="ISO 4217, e.g. EUR.")
    # (the code is validated against Currency rather than a foreign key, so a currency can be retired
    # for new accounts without touching existing ones)
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone], help_text="IANA, e.g. Europe/Berlin.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    billing_mode = models.CharField(max_length=16, choices=BillingMode.choices, default=BillingMode.PREPAID)
    credit_limit_micros = models.BigIntegerField(default=0, help_text="How far below zero a credit line may go.")
    agency = models.ForeignKey(
        Agency,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="advertisers",
        help_text="The managing agency, if any.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering: ClassVar = ["name", "id"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="accounts_advertiser_currency_iso"),
            models.CheckConstraint(
                condition=models.Q(status__in=AdvertiserStatus.values), name="accounts_advertiser_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(billing_mode__in=BillingMode.values), name="accounts_advertiser_billing_mode_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(credit_limit_micros__gte=0), name="accounts_advertiser_credit_limit_nonnegative"
            ),
            models.CheckConstraint(
                condition=models.Q(billing_mode="credit_line") | models.Q(credit_limit_micros=0),
                name="accounts_advertiser_credit_limit_needs_credit_line",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role on one advertiser."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    advertiser = models.ForeignKey(Advertiser, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "advertiser"], name="accounts_membership_unique"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="accounts_membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.advertiser} ({self.role})"


class Invitation(models.Model):
    """An e-mailed invitation to join an advertiser or an agency with a role."""

    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    advertiser = models.ForeignKey(Advertiser, on_delete=models.CASCADE, null=True, blank=True, related_name="invitations")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, null=True, blank=True, related_name="invitations")
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the secret in the e-mailed link.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=(
                    models.Q(advertiser__isnull=False, agency__isnull=True)
                    | models.Q(advertiser__isnull=True, agency__isnull=False)
                ),
                name="accounts_invitation_one_target",
            ),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="accounts_invitation_role_valid"),
            models.UniqueConstraint(
                fields=["advertiser", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True, advertiser__isnull=False),
                name="accounts_invitation_one_pending_per_advertiser",
            ),
            models.UniqueConstraint(
                fields=["agency", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True, agency__isnull=False),
                name="accounts_invitation_one_pending_per_agency",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.advertiser or self.agency} ({self.role})"

    @property
    def target(self) -> Advertiser | Agency:
        return self.advertiser or self.agency  # type: ignore[return-value]

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > clock.now()


class PersonalAccessToken(models.Model):
    """A named bearer token a user created on the API access page (an OAuth2 access token)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="personal_tokens")
    name = models.CharField(max_length=100)
    access_token = models.OneToOneField(oauth2_settings.ACCESS_TOKEN_MODEL, on_delete=models.CASCADE, related_name="personal")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"


class IdempotencyKey(models.Model):
    """The first response to a create sent with an `Idempotency-Key`, replayed on retries."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    response_status = models.PositiveSmallIntegerField(default=0)
    response_body = models.TextField(blank=True, help_text="The JSON body exactly as first sent.")
    location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["user", "key"], name="accounts_idempotencykey_unique")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"
