"""Reads about accounts. `advertisers_for` is the platform's one tenancy gate."""

import hashlib

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from adplatform import clock

from .models import (
    Advertiser,
    Agency,
    AgencyMembership,
    Currency,
    Invitation,
    Membership,
    PersonalAccessToken,
    Role,
    User,
    strongest_role,
)


def advertisers_for(user: User) -> QuerySet[Advertiser]:
    """Every advertiser `user` may see: their own accounts and the clients of their agencies."""
    if not user.is_authenticated or not user.is_active:
        return Advertiser.objects.none()
    own = Membership.objects.filter(user=user).values("advertiser_id")
    agencies = AgencyMembership.objects.filter(user=user).values("agency_id")
    return Advertiser.objects.filter(Q(id__in=own) | Q(agency_id__in=agencies))


def currency_of(advertiser: Advertiser) -> Currency:
    """The advertiser's billing currency with its rate and minimum budget."""
    return Currency.objects.get(code=advertiser.currency)


def notification_emails(*, advertiser: Advertiser) -> list[str]:
    """Who hears about an advertiser's ads: its admins and operators, directly or through its agency."""
    editors = [Role.ADMIN, Role.OPERATOR]
    direct = User.objects.filter(is_active=True, memberships__advertiser=advertiser, memberships__role__in=editors)
    emails = set(direct.values_list("email", flat=True))
    if advertiser.agency_id is not None:
        via_agency = User.objects.filter(
            is_active=True, agency_memberships__agency_id=advertiser.agency_id, agency_memberships__role__in=editors
        )
        emails |= set(via_agency.values_list("email", flat=True))
    return sorted(emails)


def advertisers_with_roles_for(user: User) -> QuerySet[Advertiser]:
    """`advertisers_for(user)` annotated with the user's `direct_role` and `agency_role` on each."""
    return advertisers_for(user).annotate(
        direct_role=Subquery(Membership.objects.filter(user=user, advertiser=OuterRef("pk")).values("role")[:1]),
        agency_role=Subquery(AgencyMembership.objects.filter(user=user, agency=OuterRef("agency_id")).values("role")[:1]),
    )


def advertiser_get_for_user(*, user: User, advertiser_id: int | str) -> Advertiser:
    """The advertiser if `user` may see it, else 404 (never a hint that it exists)."""
    try:
        return advertisers_for(user).select_related("agency").get(pk=int(advertiser_id))
    except (Advertiser.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such advertiser.") from exc


def agencies_for(user: User) -> QuerySet[Agency]:
    """Agencies `user` is a member of."""
    if not user.is_authenticated or not user.is_active:
        return Agency.objects.none()
    return Agency.objects.filter(memberships__user=user)


def agency_get_for_user(*, user: User, agency_id: int | str) -> Agency:
    """The agency if `user` is a member, else 404."""
    try:
        return agencies_for(user).get(pk=int(agency_id))
    except (Agency.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such agency.") from exc


def role_for(*, user: User, advertiser: Advertiser) -> Role | None:
    """The strongest role `user` holds on `advertiser`, directly or through its agency."""
    if not user.is_active:
        return None
    roles = list(Membership.objects.filter(user=user, advertiser=advertiser).values_list("role", flat=True))
    if advertiser.agency_id is not None:
        roles += AgencyMembership.objects.filter(user=user, agency_id=advertiser.agency_id).values_list("role", flat=True)
    return strongest_role(*roles)


def agency_role_for(*, user: User, agency: Agency) -> Role | None:
    """The role `user` holds in `agency`."""
    if not user.is_active:
        return None
    role = AgencyMembership.objects.filter(user=user, agency=agency).values_list("role", flat=True).first()
    return Role(role) if role else None


def members_of_advertiser(*, advertiser: Advertiser) -> QuerySet[Membership]:
    """Direct members of an advertiser, by e-mail."""
    return Membership.objects.filter(advertiser=advertiser).select_related("user").order_by("user__email")


def members_of_agency(*, agency: Agency) -> QuerySet[AgencyMembership]:
    """Members of an agency."""
    return AgencyMembership.objects.filter(agency=agency).select_related("user").order_by("user__email")


def pending_invitations(*, advertiser: Advertiser | None = None, agency: Agency | None = None) -> QuerySet[Invitation]:
    """Invitations to `advertiser` or `agency` that can still be accepted."""
    return Invitation.objects.filter(
        advertiser=advertiser, agency=agency, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=clock.now()
    )


def personal_tokens_for(user: User) -> QuerySet[PersonalAccessToken]:
    """The user's personal access tokens, newest first."""
    return PersonalAccessToken.objects.filter(user=user).select_related("access_token")


def personal_token_get_for_user(*, user: User, token_id: int | str) -> PersonalAccessToken:
    """One of the user's personal tokens, else 404."""
    try:
        return personal_tokens_for(user).get(pk=int(token_id))
    except (PersonalAccessToken.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such token.") from exc


def user_exists(*, email: str) -> bool:
    """Whether someone already signed up with `email` (any letter case)."""
    return User.objects.filter(email__iexact=email.strip()).exists()


def secret_hash(secret: str) -> str:
    """How e-mailed secrets are stored: SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def invitation_get_by_secret(*, secret: str) -> Invitation | None:
    """The pending invitation behind an e-mailed link, or None if it is unknown, used or expired."""
    invitation = (
        Invitation.objects.select_related("advertiser", "agency", "invited_by").filter(token_hash=secret_hash(secret)).first()
    )
    if invitation is None or not invitation.is_pending:
        return None
    return invitation
