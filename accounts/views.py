"""Dashboard pages for accounts: sign-up, the dashboard home, team, settings and API access."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from oauth2_provider.models import get_access_token_model

from . import selectors, services
from .forms import (
    AcceptInvitationForm,
    AdvertiserCreateForm,
    AdvertiserSettingsForm,
    InviteForm,
    RoleForm,
    SignUpForm,
    TokenForm,
    apply_service_errors,
)
from .models import Invitation, Membership, strongest_role
from .session import current_advertiser, remember_advertiser, signed_in_user

AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"
ACCOUNTS_PER_PAGE = 50
NEW_TOKEN_SESSION_KEY = "new_personal_token"  # noqa: S105 - a session key, not a secret


def home(request: HttpRequest) -> HttpResponse:
    """The dashboard for signed-in users; a short welcome for everyone else."""
    if not request.user.is_authenticated:
        return render(request, "accounts/welcome.html")
    return redirect("dashboard")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The current advertiser at a glance."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return render(request, "accounts/no_advertiser.html")
    context = {
        "advertiser": advertiser,
        "member_count": selectors.members_of_advertiser(advertiser=advertiser).count(),
        "token_count": selectors.personal_tokens_for(signed_in_user(request)).count(),
    }
    return render(request, "accounts/dashboard.html", context)


def sign_up(request: HttpRequest) -> HttpResponse:
    """Create a login and a first advertiser, then land on its dashboard."""
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user, advertiser = services.user_sign_up(**form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            login(request, user, backend=AUTH_BACKEND)
            remember_advertiser(request, advertiser)
            messages.success(request, f"Welcome to Adplatform! {advertiser.name} is ready.")
            return redirect("dashboard")
    return render(request, "accounts/sign_up.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def accounts_list(request: HttpRequest) -> HttpResponse:
    """Every advertiser the user can open (agency users: all their clients), with a search box."""
    advertisers = selectors.advertisers_with_roles_for(signed_in_user(request)).select_related("agency").order_by("name", "id")
    query = request.GET.get("q", "").replace("\x00", "").strip()  # no name holds a NUL: PostgreSQL text cannot
    if query:
        advertisers = advertisers.filter(name__icontains=query)
    page = Paginator(advertisers, ACCOUNTS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        (advertiser, strongest_role(getattr(advertiser, "direct_role", None), getattr(advertiser, "agency_role", None)))
        for advertiser in page
    ]
    return render(request, "accounts/accounts_list.html", {"page": page, "rows": rows, "query": query})


@login_required
@require_POST
def switch_account(request: HttpRequest) -> HttpResponse:
    """Open another advertiser the user can access."""
    advertiser = selectors.advertiser_get_for_user(user=signed_in_user(request), advertiser_id=request.POST.get("advertiser", ""))
    remember_advertiser(request, advertiser)
    messages.info(request, f"Now viewing {advertiser.name}.")
    return redirect("dashboard")


@login_required
def advertiser_new(request: HttpRequest) -> HttpResponse:
    """Create another advertiser: one's own or an agency client."""
    agencies = selectors.agencies_for(signed_in_user(request))
    form = AdvertiserCreateForm(request.POST or None, agencies=agencies)
    if request.method == "POST" and form.is_valid():
        try:
            advertiser = services.advertiser_create(actor=signed_in_user(request), **form.cleaned_data)
        except (ValidationError, PermissionDenied) as error:
            apply_service_errors(form, error if isinstance(error, ValidationError) else ValidationError(str(error)))
        else:
            remember_advertiser(request, advertiser)
            messages.success(request, f"{advertiser.name} is ready.")
            return redirect("dashboard")
    return render(request, "accounts/advertiser_new.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def advertiser_settings(request: HttpRequest) -> HttpResponse:
    """Rename the current advertiser or change its time zone (admins)."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return redirect("advertiser_new")
    form = AdvertiserSettingsForm(request.POST or None, initial={"name": advertiser.name, "time_zone": advertiser.time_zone})
    if request.method == "POST" and form.is_valid():
        try:
            services.advertiser_update(actor=signed_in_user(request), advertiser=advertiser, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, "Settings saved.")
            return redirect("advertiser_settings")
    return render(request, "accounts/settings.html", {"form": form, "advertiser": advertiser}, status=400 if form.errors else 200)


@login_required
def team(request: HttpRequest) -> HttpResponse:
    """Members and pending invitations of the current advertiser, with an invite form."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        return redirect("advertiser_new")
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(actor=signed_in_user(request), advertiser=advertiser, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("team")
    context = {
        "advertiser": advertiser,
        "form": form,
        "members": selectors.members_of_advertiser(advertiser=advertiser),
        "agency_members": selectors.members_of_agency(agency=advertiser.agency) if advertiser.agency else [],
        "invitations": selectors.pending_invitations(advertiser=advertiser).select_related("invited_by"),
        "role_form": RoleForm(),
    }
    return render(request, "accounts/team.html", context, status=400 if form.errors else 200)


def _membership_for_current(request: HttpRequest, membership_id: int) -> Membership:
    advertiser = current_advertiser(request)
    return get_object_or_404(Membership.objects.select_related("advertiser", "user"), pk=membership_id, advertiser=advertiser)


@login_required
@require_POST
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    """Change a teammate's role."""
    membership = _membership_for_current(request, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles: admin, operator or analyst.")
    else:
        try:
            services.membership_change_role(actor=signed_in_user(request), membership=membership, role=form.cleaned_data["role"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{membership.user.email} is now {form.cleaned_data['role']}.")
    return redirect("team")


@login_required
@require_POST
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    """Remove a teammate from the current advertiser."""
    membership = _membership_for_current(request, membership_id)
    try:
        services.membership_remove(actor=signed_in_user(request), membership=membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{membership.user.email} was removed.")
    return redirect("team")


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """Withdraw a pending invitation of the current advertiser."""
    advertiser = current_advertiser(request)
    if advertiser is None:
        raise Http404("No such invitation.")
    invitation = get_object_or_404(Invitation, pk=invitation_id, advertiser=advertiser)
    services.invitation_revoke(actor=signed_in_user(request), invitation=invitation)
    messages.success(request, f"Invitation to {invitation.email} withdrawn.")
    return redirect("team")


def _accept(request: HttpRequest, invitation: Invitation, form: AcceptInvitationForm) -> bool:
    """Accept as the signed-in user, or sign up with the invited address; False shows the page again."""
    try:
        if request.user.is_authenticated:
            services.invitation_accept(invitation=invitation, user=signed_in_user(request))
            return True
        if not form.is_valid():
            return False
        user = services.invitation_accept_with_sign_up(invitation=invitation, **form.cleaned_data)
    except ValidationError as error:
        apply_service_errors(form, error)
        return False
    except PermissionDenied as error:
        messages.error(request, str(error))
        return False
    login(request, user, backend=AUTH_BACKEND)
    return True


def invitation_accept(request: HttpRequest, secret: str) -> HttpResponse:
    """The e-mailed link: join with the signed-in account, or sign up with the invited address."""
    invitation = selectors.invitation_get_by_secret(secret=secret)
    if invitation is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    form = AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and _accept(request, invitation, form):
        if invitation.advertiser:
            remember_advertiser(request, invitation.advertiser)
        messages.success(request, f"You joined {invitation.target}.")
        return redirect("dashboard")
    context = {
        "invitation": invitation,
        "form": form,
        "existing_user": not request.user.is_authenticated and selectors.user_exists(email=invitation.email),
    }
    return render(request, "accounts/invitation_accept.html", context, status=400 if form.errors else 200)


@login_required
def api_access(request: HttpRequest) -> HttpResponse:
    """Personal access tokens and the partner apps the user has authorised.

    A new token is shown once, on the page the POST redirects to, so a reload never makes another.
    """
    user = signed_in_user(request)
    form = TokenForm(request.POST or None, staff=user.is_staff)
    if request.method == "POST" and form.is_valid():
        try:
            _, raw = services.personal_token_create(user=user, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            request.session[NEW_TOKEN_SESSION_KEY] = raw
            return redirect("api_access")
    authorised_apps = (
        get_access_token_model()
        .objects.filter(user=user, application__isnull=False)
        .select_related("application")
        .order_by("-created")
    )
    context = {
        "form": form,
        "new_token": request.session.pop(NEW_TOKEN_SESSION_KEY, None),
        "tokens": selectors.personal_tokens_for(user),
        "authorised_apps": authorised_apps,
        "api_docs_url": reverse("swagger-ui"),
    }
    return render(request, "accounts/api_access.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    """Revoke a personal access token."""
    token = selectors.personal_token_get_for_user(user=signed_in_user(request), token_id=token_id)
    services.personal_token_revoke(user=signed_in_user(request), token=token)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("api_access")
