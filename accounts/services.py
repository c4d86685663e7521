"""Every write about accounts: sign-up, advertisers, agencies, team invitations and API tokens.

Role checks live here, not in templates or views: each service that changes an advertiser or
agency takes the acting user and refuses with PermissionDenied when their role is too weak.
Refusals about input raise ValidationError keyed by the field at fault.
"""

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from oauth2_provider.models import get_access_token_model, set_token_value

from adplatform import clock

from .models import (
    ROLE_RANK,
    Advertiser,
    Agency,
    AgencyMembership,
    IdempotencyKey,
    Invitation,
    Membership,
    PersonalAccessToken,
    Role,
    User,
)
from .selectors import agency_role_for, role_for, secret_hash
from .validators import validate_currency, validate_time_zone

INVITATION_LIFETIME = timedelta(days=7)
TOKEN_PREFIX = "adp_"  # noqa: S105 - a marker that lets secret scanners spot leaked tokens
TOKEN_MAX_DAYS = 365
STAFF_ONLY_SCOPES = frozenset({"review"})


def _check(errors: dict[str, list[str]], field: str, validator: Any, value: Any) -> None:
    try:
        validator(value)
    except ValidationError as exc:
        errors.setdefault(field, []).extend(exc.messages)


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def _normalize_email(email: str) -> str:
    return email.strip().lower()


def require_role(*, user: User, advertiser: Advertiser, minimum: Role) -> Role:
    """The user's role on `advertiser`, or PermissionDenied if it is weaker than `minimum`."""
    role = role_for(user=user, advertiser=advertiser)
    if role is None or ROLE_RANK[role] < ROLE_RANK[minimum]:
        raise PermissionDenied(f"This needs the {minimum.label.lower()} role on {advertiser.name}.")
    return role


def require_agency_role(*, user: User, agency: Agency, minimum: Role) -> Role:
    """The user's role in `agency`, or PermissionDenied if it is weaker than `minimum`."""
    role = agency_role_for(user=user, agency=agency)
    if role is None or ROLE_RANK[role] < ROLE_RANK[minimum]:
        raise PermissionDenied(f"This needs the {minimum.label.lower()} role in {agency.name}.")
    return role


def _email_errors(email: str) -> list[str]:
    try:
        validate_email(email)
    except ValidationError:
        return ["Enter a valid e-mail address."]
    return []


def _validate_new_user(*, email: str, password: str, full_name: str = "") -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if bad_email := _email_errors(email):
        errors["email"] = bad_email
    elif User.objects.filter(email__iexact=email).exists():
        errors["email"] = ["An account with this e-mail address already exists."]
    try:
        validate_password(password, user=User(email=email, full_name=full_name))
    except ValidationError as exc:
        errors["password"] = exc.messages
    return errors


def _validate_advertiser_fields(*, name: str, currency: str, time_zone: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["Enter a name."]
    _check(errors, "currency", validate_currency, currency)
    _check(errors, "time_zone", validate_time_zone, time_zone)
    return errors


def _create_user(*, email: str, password: str | None, full_name: str = "") -> User:
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, full_name=full_name)
    except IntegrityError as exc:  # a concurrent sign-up with the same address won the race
        raise ValidationError({"email": ["An account with this e-mail address already exists."]}) from exc


@transaction.atomic
def user_sign_up(
    *, email: str, password: str, advertiser_name: str, currency: str, time_zone: str, full_name: str = ""
) -> tuple[User, Advertiser]:
    """Create a user and their first advertiser, with the user as its admin."""
    email = _normalize_email(email)
    currency = currency.strip().upper()
    errors = _validate_new_user(email=email, password=password, full_name=full_name)
    for field, messages in _validate_advertiser_fields(name=advertiser_name, currency=currency, time_zone=time_zone).items():
        errors["advertiser_name" if field == "name" else field] = messages
    _raise_if(errors)
    user = _create_user(email=email, password=password, full_name=full_name.strip())
    advertiser = Advertiser.objects.create(name=advertiser_name.strip(), currency=currency, time_zone=time_zone)
    Membership.objects.create(user=user, advertiser=advertiser, role=Role.ADMIN)
    return user, advertiser


@transaction.atomic
def advertiser_create(*, actor: User, name: str, currency: str, time_zone: str, agency: Agency | None = None) -> Advertiser:
    """Create an advertiser: an agency client when `agency` is given, else the actor's own account."""
    if agency is not None:
        require_agency_role(user=actor, agency=agency, minimum=Role.OPERATOR)
    currency = currency.strip().upper()
    _raise_if(_validate_advertiser_fields(name=name, currency=currency, time_zone=time_zone))
    advertiser = Advertiser.objects.create(name=name.strip(), currency=currency, time_zone=time_zone, agency=agency)
    if agency is None:
        Membership.objects.create(user=actor, advertiser=advertiser, role=Role.ADMIN)
    return advertiser


@transaction.atomic
def advertiser_update(
    *, actor: User, advertiser: Advertiser, name: str | None = None, time_zone: str | None = None
) -> Advertiser:
    """Rename an advertiser or move it to another time zone (admins only)."""
    require_role(user=actor, advertiser=advertiser, minimum=Role.ADMIN)
    errors: dict[str, list[str]] = {}
    if name is not None and not name.strip():
        errors["name"] = ["Enter a name."]
    if time_zone is not None:
        _check(errors, "time_zone", validate_time_zone, time_zone)
    _raise_if(errors)
    advertiser = Advertiser.objects.select_for_update().get(pk=advertiser.pk)
    if name is not None:
        advertiser.name = name.strip()
    if time_zone is not None:
        advertiser.time_zone = time_zone
    advertiser.save()
    return advertiser


@transaction.atomic
def agency_create(*, name: str, owner_email: str) -> tuple[Agency, User, bool]:
    """Create an agency with an admin owner; the owner's user is created (without a password) if missing."""
    email = _normalize_email(owner_email)
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["Enter a name."]
    if bad_email := _email_errors(email):
        errors["owner_email"] = bad_email
    _raise_if(errors)
    owner = User.objects.filter(email__iexact=email).first()
    created_user = owner is None
    if owner is None:
        owner = _create_user(email=email, password=None)
    agency = Agency.objects.create(name=name.strip())
    AgencyMembership.objects.create(user=owner, agency=agency, role=Role.ADMIN)
    return agency, owner, created_user


def _invitation_target_errors(*, email: str, advertiser: Advertiser | None, agency: Agency | None) -> dict[str, list[str]]:
    if advertiser is not None:
        already = Membership.objects.filter(advertiser=advertiser, user__email__iexact=email).exists()
        pending = Invitation.objects.filter(
            advertiser=advertiser, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
        )
    else:
        already = AgencyMembership.objects.filter(agency=agency, user__email__iexact=email).exists()
        pending = Invitation.objects.filter(agency=agency, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True)
    if already:
        return {"email": ["This person is already a member."]}
    if pending.filter(expires_at__gt=clock.now()).exists():
        return {"email": ["This person already has a pending invitation."]}
    pending.update(revoked_at=clock.now())  # an expired invitation gives way to the new one
    return {}


@transaction.atomic
def invitation_create(
    *, actor: User, email: str, role: str, advertiser: Advertiser | None = None, agency: Agency | None = None
) -> tuple[Invitation, str]:
    """Invite someone by e-mail to an advertiser or an agency (admins only); returns the link's secret."""
    if (advertiser is None) == (agency is None):
        raise ValueError("Invite to exactly one advertiser or agency.")
    if advertiser is not None:
        require_role(user=actor, advertiser=advertiser, minimum=Role.ADMIN)
    else:
        require_agency_role(user=actor, agency=agency, minimum=Role.ADMIN)  # type: ignore[arg-type]
    email = _normalize_email(email)
    errors: dict[str, list[str]] = {}
    if role not in Role.values:
        errors["role"] = [f"Choose one of: {', '.join(Role.values)}."]
    if bad_email := _email_errors(email):
        errors["email"] = bad_email
    _raise_if(errors)
    _raise_if(_invitation_target_errors(email=email, advertiser=advertiser, agency=agency))
    secret = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        email=email,
        role=role,
        advertiser=advertiser,
        agency=agency,
        invited_by=actor,
        token_hash=secret_hash(secret),
        expires_at=clock.now() + INVITATION_LIFETIME,
    )
    link = settings.SITE_URL.rstrip("/") + reverse("invitation_accept", args=[secret])
    target, inviter, role_name = invitation.target, actor.get_full_name(), invitation.get_role_display().lower()
    transaction.on_commit(
        lambda: send_mail(
            subject=f"{inviter} invited you to {target} on Adplatform",
            message=(
                f"{inviter} invited you to join {target} on Adplatform as {role_name}.\n\n"
                f"Accept the invitation: {link}\n\nThe link works for {INVITATION_LIFETIME.days} days."
            ),
            from_email=None,
            recipient_list=[email],
        )
    )
    return invitation, secret


def _grant(*, user: User, invitation: Invitation) -> None:
    """Give `user` the invitation's role, keeping a stronger role they already hold."""
    model: type[Membership] | type[AgencyMembership]
    lookup: dict[str, int | None]
    if invitation.advertiser_id is not None:
        model, lookup = Membership, {"advertiser_id": invitation.advertiser_id}
    else:
        model, lookup = AgencyMembership, {"agency_id": invitation.agency_id}
    membership, created = model.objects.select_for_update().get_or_create(user=user, **lookup, defaults={"role": invitation.role})
    if not created and ROLE_RANK[Role(invitation.role)] > ROLE_RANK[Role(membership.role)]:
        membership.role = invitation.role
        membership.save(update_fields=["role"])


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Invitation:
    """Accept an invitation as the signed-in `user`, whose e-mail must be the invited one."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_pending:
        raise ValidationError("This invitation has expired or was already used.")
    if user.email.lower() != invitation.email.lower():
        raise PermissionDenied(f"This invitation is for {invitation.email}; sign in with that address to accept it.")
    _grant(user=user, invitation=invitation)
    invitation.accepted_at = clock.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return invitation


@transaction.atomic
def invitation_accept_with_sign_up(*, invitation: Invitation, password: str, full_name: str = "") -> User:
    """Create the invited person's user with `password` and accept the invitation."""
    _raise_if(_validate_new_user(email=invitation.email, password=password, full_name=full_name))
    user = _create_user(email=invitation.email, password=password, full_name=full_name.strip())
    invitation_accept(invitation=invitation, user=user)
    return user


@transaction.atomic
def invitation_revoke(*, actor: User, invitation: Invitation) -> None:
    """Withdraw a pending invitation (admins of its advertiser or agency only)."""
    if invitation.advertiser is not None:
        require_role(user=actor, advertiser=invitation.advertiser, minimum=Role.ADMIN)
    else:
        require_agency_role(user=actor, agency=invitation.agency, minimum=Role.ADMIN)  # type: ignore[arg-type]
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(revoked_at=clock.now())


@transaction.atomic
def membership_change_role(*, actor: User, membership: Membership, role: str) -> Membership:
    """Give a member another role (admins only); an advertiser always keeps one admin."""
    require_role(user=actor, advertiser=membership.advertiser, minimum=Role.ADMIN)
    if role not in Role.values:
        raise ValidationError({"role": [f"Choose one of: {', '.join(Role.values)}."]})
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.ADMIN and role != Role.ADMIN:
        _require_another_admin(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, actor: User, membership: Membership) -> None:
    """Remove a member from an advertiser (admins only); the last admin cannot be removed."""
    require_role(user=actor, advertiser=membership.advertiser, minimum=Role.ADMIN)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.ADMIN:
        _require_another_admin(membership)
    membership.delete()


def _require_another_admin(membership: Membership) -> None:
    admins = Membership.objects.select_for_update().filter(advertiser_id=membership.advertiser_id, role=Role.ADMIN)
    if not admins.exclude(pk=membership.pk).exists():
        raise ValidationError({"role": ["An advertiser needs at least one admin."]})


def _validate_scopes(*, user: User, scopes: list[str]) -> dict[str, list[str]]:
    known = settings.API_SCOPES
    unknown = [scope for scope in scopes if scope not in known]
    if not scopes:
        return {"scopes": ["Choose at least one scope."]}
    if unknown:
        return {"scopes": [f"Unknown scope: {', '.join(unknown)}. Choose from: {', '.join(known)}."]}
    if not user.is_staff and STAFF_ONLY_SCOPES.intersection(scopes):
        return {"scopes": ["The review scope is for platform staff only."]}
    return {}


@transaction.atomic
def personal_token_create(*, user: User, name: str, scopes: list[str], days: int = 90) -> tuple[PersonalAccessToken, str]:
    """Create a named bearer token for `user`; the raw token is returned once and stored only as a hash."""
    errors = _validate_scopes(user=user, scopes=scopes)
    if not name.strip():
        errors["name"] = ["Enter a name."]
    if not 1 <= days <= TOKEN_MAX_DAYS:
        errors["days"] = [f"Choose between 1 and {TOKEN_MAX_DAYS} days."]
    _raise_if(errors)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    access_token = get_access_token_model()(
        user=user, application=None, scope=" ".join(sorted(set(scopes))), expires=clock.now() + timedelta(days=days)
    )
    set_token_value(access_token, raw)
    access_token.save()
    token = PersonalAccessToken.objects.create(user=user, name=name.strip(), access_token=access_token)
    return token, raw


@transaction.atomic
def personal_token_revoke(*, user: User, token: PersonalAccessToken) -> None:
    """Revoke one of `user`'s personal tokens; it stops working at once."""
    if token.user_id != user.pk:
        raise PermissionDenied("Only the token's owner can revoke it.")
    token.access_token.delete()  # cascades to the PersonalAccessToken row


def idempotency_keys_purge() -> int:
    """Forget Idempotency-Key responses older than the retention window; returns how many."""
    cutoff = clock.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
