"""The accounts dashboard pages end to end through Django's test client: responses, pages and database."""

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user
from django.test.html import Element, parse_html
from django.utils import dateformat
from oauth2_provider.models import AccessToken
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Advertiser, AgencyMembership, Invitation, Membership, PersonalAccessToken, Role, User
from accounts.selectors import secret_hash
from accounts.session import SESSION_KEY
from adplatform import clock
from tests.factories import (
    DEFAULT_PASSWORD,
    AdvertiserFactory,
    AgencyMembershipFactory,
    MembershipFactory,
    UserFactory,
)

NEW_PASSWORD = "rye-and-sourdough-42"

SIGN_UP = {
    "email": "Nia.Baker@Example.com",
    "full_name": "Nia Baker",
    "password": NEW_PASSWORD,
    "advertiser_name": "Nia's Bakery",
    "currency": "EUR",
    "time_zone": "Europe/Berlin",
}

PAGES = ["/dashboard/", "/accounts/", "/accounts/new/", "/settings/", "/team/", "/api-access/"]


# --- helpers -----------------------------------------------------------------------------------


def _walk(node: Any) -> Any:
    if isinstance(node, Element):
        yield node
        for child in node.children:
            yield from _walk(child)


def text(node: Any) -> str:
    """The visible text of a parsed element, whitespace collapsed."""
    if isinstance(node, str):
        return node
    return " ".join(" ".join(text(child) for child in node.children).split())


def find(html: Any, tag: str | None = None, **attributes: str | None) -> list[Element]:
    """Elements (of `tag`, if given) whose attributes have the given values, underscores for dashes.

    None matches any value; `class_` matches elements that carry all the listed classes.
    """
    wanted = {name.rstrip("_").replace("_", "-"): value for name, value in attributes.items()}
    root = parse_html(html.content.decode()) if hasattr(html, "content") else html
    found = []
    for element in _walk(root):
        present = dict(element.attributes)
        if tag is not None and element.name != tag:
            continue
        if all(_matches(name, value, present) for name, value in wanted.items()):
            found.append(element)
    return found


def _matches(name: str, value: str | None, present: dict[str, str | None]) -> bool:
    if name not in present:
        return False
    if value is None:
        return True
    if name == "class":
        return set(value.split()) <= set((present[name] or "").split())
    return present[name] == value


def texts(html: Any, tag: str | None = None, **attributes: str | None) -> list[str]:
    return [text(element) for element in find(html, tag, **attributes)]


def page_text(response: Any) -> str:
    return text(parse_html(response.content.decode()))


def alerts(response: Any) -> list[str]:
    return texts(response, role="alert")


def field_errors(response: Any, field: str) -> list[str]:
    return texts(response, data_field_error=field)


def table_rows(response: Any, testid: str, columns: int) -> list[list[str]]:
    """The first `columns` cell texts of each body row of the table marked data-testid=`testid`."""
    (table,) = find(response, data_testid=testid)
    rows = [element for element in _walk(table) if element.name == "tr"]
    body = [[text(cell) for cell in row.children if isinstance(cell, Element) and cell.name == "td"] for row in rows]
    return [cells[:columns] for cells in body if cells]


def snapshot() -> dict[str, list[Any]]:
    """Every accounts row a refused request could have touched."""
    return {
        "users": list(User.objects.order_by("pk").values_list("pk", "email", "password", "is_active")),
        "advertisers": list(Advertiser.objects.order_by("pk").values_list("pk", "name", "currency", "time_zone", "agency_id")),
        "memberships": list(Membership.objects.order_by("pk").values_list("pk", "user_id", "advertiser_id", "role")),
        "agency_memberships": list(AgencyMembership.objects.order_by("pk").values_list("pk", "user_id", "agency_id", "role")),
        "invitations": list(
            Invitation.objects.order_by("pk").values_list("pk", "email", "role", "accepted_at", "accepted_by", "revoked_at")
        ),
        "tokens": list(PersonalAccessToken.objects.order_by("pk").values_list("pk", "user_id", "name", "access_token_id")),
        "access_tokens": list(AccessToken.objects.order_by("pk").values_list("pk", "user_id", "scope")),
    }


def signed_in(client: Any) -> User | None:
    user = get_user(client)
    return user if user.is_authenticated else None


def switch(client: Any, advertiser: Advertiser) -> Any:
    return client.post("/accounts/switch/", {"advertiser": advertiser.pk})


def heading(client: Any) -> str:
    (name,) = texts(client.get("/dashboard/"), data_testid="advertiser-name")
    return name


def invite(*, actor: User, advertiser: Advertiser, email: str, role: str = Role.OPERATOR) -> tuple[Invitation, str]:
    return services.invitation_create(actor=actor, advertiser=advertiser, email=email, role=role)


def bearer_client(raw_token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    return api


def day(moment: Any) -> str:
    return dateformat.format(moment, "j M Y")


# --- anonymous visitors --------------------------------------------------------------------------


def test_home_welcomes_anonymous_visitors_and_sends_users_to_their_dashboard(client, tenancy):
    welcome = client.get("/")
    client.force_login(tenancy.owner)
    signed = client.get("/")

    assert welcome.status_code == 200
    assert texts(welcome, "h1") == ["Ads for every budget"]
    assert signed.status_code == 302
    assert signed["Location"] == "/dashboard/"


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_log_in_from_every_page(client, tenancy, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/switch/",
        "/accounts/new/",
        "/settings/",
        "/team/",
        "/team/members/{membership}/role/",
        "/team/members/{membership}/remove/",
        "/team/invitations/{invitation}/revoke/",
        "/api-access/",
        "/api-access/tokens/{token}/revoke/",
    ],
)
def test_anonymous_posts_are_sent_to_log_in_and_change_nothing(client, tenancy, path):
    invitation, _ = invite(actor=tenancy.owner, advertiser=tenancy.bakery, email="pending@example.com")
    token, _ = services.personal_token_create(user=tenancy.owner, name="Script", scopes=["campaigns:read"])
    membership = Membership.objects.get(user=tenancy.analyst)
    path = path.format(membership=membership.pk, invitation=invitation.pk, token=token.pk)
    before = snapshot()

    response = client.post(
        path,
        {"advertiser": tenancy.bakery.pk, "role": "admin", "name": "Hijacked", "time_zone": "UTC", "email": "x@example.com"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"
    assert snapshot() == before


# --- sign-up -------------------------------------------------------------------------------------


def test_sign_up_form_asks_for_login_and_business_details(client, db):
    response = client.get("/signup/")

    assert response.status_code == 200
    names = [dict(element.attributes)["name"] for element in find(response, name=None) if element.name in ("input", "select")]
    assert names == ["csrfmiddlewaretoken", "email", "full_name", "password", "advertiser_name", "currency", "time_zone"]


def test_sign_up_creates_the_user_and_their_advertiser_and_lands_on_its_dashboard(client, db):
    response = client.post("/signup/", SIGN_UP)

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    user = User.objects.get()
    assert (user.email, user.full_name) == ("nia.baker@example.com", "Nia Baker")
    assert user.check_password(NEW_PASSWORD)
    advertiser = Advertiser.objects.get()
    assert (advertiser.name, advertiser.currency, advertiser.time_zone, advertiser.agency) == (
        "Nia's Bakery",
        "EUR",
        "Europe/Berlin",
        None,
    )
    assert list(Membership.objects.values_list("user", "advertiser", "role")) == [(user.pk, advertiser.pk, "admin")]
    assert signed_in(client) == user
    dashboard = client.get("/dashboard/")
    assert texts(dashboard, data_testid="advertiser-name") == ["Nia's Bakery"]
    assert alerts(dashboard) == ["Welcome to Adplatform! Nia's Bakery is ready."]


@pytest.mark.parametrize(
    ("changes", "field", "errors"),
    [
        ({"email": "OWNER@Example.COM"}, "email", ["An account with this e-mail address already exists."]),
        ({"email": "not-an-address"}, "email", ["Enter a valid email address."]),
        (
            {"password": "12345"},
            "password",
            [
                "This password is too short. It must contain at least 10 characters.",
                "This password is too common.",
                "This password is entirely numeric.",
            ],
        ),
        (
            {"time_zone": "Mars/Olympus_Mons"},
            "time_zone",
            ["Select a valid choice. Mars/Olympus_Mons is not one of the available choices."],
        ),
        ({"currency": "XYZ"}, "currency", ["Select a valid choice. XYZ is not one of the available choices."]),
        ({"advertiser_name": ""}, "advertiser_name", ["This field is required."]),
    ],
    ids=["duplicate-email-other-case", "invalid-email", "weak-password", "unknown-time-zone", "unknown-currency", "no-name"],
)
def test_sign_up_with_bad_input_names_the_field_and_writes_nothing(client, db, changes, field, errors):
    UserFactory(email="owner@example.com")
    before = snapshot()

    response = client.post("/signup/", {**SIGN_UP, **changes})

    assert response.status_code == 400
    assert field_errors(response, field) == errors
    assert snapshot() == before
    assert signed_in(client) is None


def test_signed_in_users_skip_the_sign_up_form(client, tenancy):
    client.force_login(tenancy.owner)

    response = client.get("/signup/")

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"


# --- log in, log out, password reset --------------------------------------------------------------


@pytest.mark.parametrize("typed", ["owner@example.com", "OWNER@EXAMPLE.COM", "Owner@Example.Com"])
def test_log_in_accepts_the_email_in_any_letter_case(client, tenancy, typed):
    response = client.post("/login/", {"username": typed, "password": DEFAULT_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    assert signed_in(client) == tenancy.owner
    assert heading(client) == "Bakery"


def test_log_in_returns_to_the_page_that_asked_for_it(client, tenancy):
    response = client.post("/login/", {"username": "owner@example.com", "password": DEFAULT_PASSWORD, "next": "/team/"})

    assert response.status_code == 302
    assert response["Location"] == "/team/"


def test_log_in_with_a_wrong_password_shows_an_error(client, tenancy):
    response = client.post("/login/", {"username": "owner@example.com", "password": "not-the-password"})

    assert response.status_code == 200
    assert alerts(response) == ["That e-mail address and password do not match an account. Passwords are case-sensitive."]
    assert signed_in(client) is None


def test_log_out_is_a_post_and_ends_the_session(client, tenancy):
    client.force_login(tenancy.owner)

    refused = client.get("/logout/")
    still_in = signed_in(client)
    response = client.post("/logout/")

    assert refused.status_code == 405
    assert still_in == tenancy.owner
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert signed_in(client) is None
    assert client.get("/dashboard/")["Location"] == "/login/?next=/dashboard/"


def test_password_reset_mails_a_link_that_sets_a_new_password(client, tenancy, mailoutbox):
    response = client.post("/password-reset/", {"email": "Owner@Example.com"})

    assert response.status_code == 302
    assert response["Location"] == "/password-reset/sent/"
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["owner@example.com"]
    (link,) = re.findall(r"http://testserver(/password-reset/[^/\s]+/[^/\s]+/)", mailoutbox[0].body)

    form_page = client.get(link, follow=True)
    set_password_url = form_page.redirect_chain[-1][0]
    done = client.post(set_password_url, {"new_password1": "baguette-at-dawn-77", "new_password2": "baguette-at-dawn-77"})

    assert done.status_code == 302
    assert done["Location"] == "/password-reset/done/"
    assert client.post("/login/", {"username": "owner@example.com", "password": DEFAULT_PASSWORD}).status_code == 200
    assert signed_in(client) is None
    assert client.post("/login/", {"username": "owner@example.com", "password": "baguette-at-dawn-77"}).status_code == 302
    assert signed_in(client) == tenancy.owner
    client.logout()
    reused = client.get(link, follow=True)
    assert texts(reused, "h1") == ["This link has expired"]


def test_password_reset_for_an_unknown_address_sends_nothing_but_looks_the_same(client, tenancy, mailoutbox):
    response = client.post("/password-reset/", {"email": "nobody@example.com"}, follow=True)

    assert response.redirect_chain == [("/password-reset/sent/", 302)]
    assert texts(response, "h1") == ["Check your e-mail"]
    assert mailoutbox == []


def test_agency_owner_created_without_a_password_sets_one_through_password_reset(client, db, mailoutbox):
    # `manage.py create_agency` creates the owner without a password and tells them to use this page.
    _, owner, created = services.agency_create(name="Northwind Media", owner_email="founder@northwind.example")

    client.post("/password-reset/", {"email": "founder@northwind.example"})

    assert created is True
    assert [mail.to for mail in mailoutbox] == [["founder@northwind.example"]]
    (link,) = re.findall(r"http://testserver(/password-reset/[^/\s]+/[^/\s]+/)", mailoutbox[0].body)
    set_password_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(set_password_url, {"new_password1": "northwind-2026-media", "new_password2": "northwind-2026-media"})
    owner.refresh_from_db()
    assert owner.check_password("northwind-2026-media")


# --- invitations ---------------------------------------------------------------------------------


def test_admin_invites_a_teammate_who_gets_a_link_and_shows_as_pending(
    client, tenancy, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(tenancy.owner)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/team/", {"email": "new.person@example.com", "role": "operator"})

    assert response.status_code == 302
    assert response["Location"] == "/team/"
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.advertiser, invitation.agency, invitation.invited_by) == (
        "new.person@example.com",
        "operator",
        tenancy.bakery,
        None,
        tenancy.owner,
    )
    assert (invitation.accepted_at, invitation.revoked_at) == (None, None)
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["new.person@example.com"]
    assert mail.subject == f"{tenancy.owner.full_name} invited you to Bakery on Adplatform"
    (secret,) = re.findall(r"http://testserver/invitations/([^/\s]+)/", mail.body)
    assert secret_hash(secret) == invitation.token_hash
    team = client.get("/team/")
    assert alerts(team) == ["Invitation sent to new.person@example.com."]
    assert table_rows(team, "invitations", 4) == [
        ["new.person@example.com", "Operator", "owner@example.com", day(invitation.expires_at)]
    ]


def test_invitation_email_is_stored_in_lower_case_and_cannot_be_sent_twice(
    client, tenancy, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(tenancy.owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/team/", {"email": "New.Person@Example.com", "role": "analyst"})
    before = snapshot()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = client.post("/team/", {"email": "NEW.PERSON@example.com", "role": "admin"})

    assert list(Invitation.objects.values_list("email", "role")) == [("new.person@example.com", "analyst")]
    assert again.status_code == 400
    assert field_errors(again, "email") == ["This person already has a pending invitation."]
    assert callbacks == []
    assert len(mailoutbox) == 1
    assert snapshot() == before


def test_inviting_an_existing_member_is_refused_on_the_email_field(client, tenancy, django_capture_on_commit_callbacks):
    client.force_login(tenancy.owner)
    before = snapshot()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post("/team/", {"email": "Analyst@Example.com", "role": "admin"})

    assert response.status_code == 400
    assert field_errors(response, "email") == ["This person is already a member."]
    assert callbacks == []
    assert snapshot() == before


def test_analyst_cannot_invite(client, tenancy, mailoutbox, django_capture_on_commit_callbacks):
    client.force_login(tenancy.analyst)
    page = client.get("/team/")
    before = snapshot()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post("/team/", {"email": "new.person@example.com", "role": "admin"})

    assert "Only admins of Bakery can invite people. Your role is analyst." in page_text(page)
    assert find(page, name="email") == []
    assert find(page, "select", aria_label=None) == []
    assert response.status_code == 403
    assert callbacks == []
    assert mailoutbox == []
    assert snapshot() == before


def test_invitation_link_for_a_new_person_shows_a_sign_up_form(client, tenancy):
    _, secret = invite(actor=tenancy.owner, advertiser=tenancy.bakery, email="new.person@example.com")

    response = client.get(f"/invitations/{secret}/")

    assert response.status_code == 200
    assert texts(response, "h1") == ["Join Bakery"]
    assert f"{tenancy.owner.full_name} invited new.person@example.com to join as operator." in page_text(response)
    names = [dict(element.attributes)["name"] for element in find(response, name=None) if element.name == "input"]
    assert names == ["csrfmiddlewaretoken", "full_name", "password"]


def test_new_person_accepts_by_choosing_a_password_and_lands_on_the_advertiser(client, tenancy):
    invitation, secret = invite(actor=tenancy.agent_a, advertiser=tenancy.client_a2, email="new.person@example.com")

    response = client.post(f"/invitations/{secret}/", {"full_name": "Nova Person", "password": NEW_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    user = User.objects.get(email="new.person@example.com")
    assert (user.full_name, user.check_password(NEW_PASSWORD)) == ("Nova Person", True)
    assert list(Membership.objects.filter(user=user).values_list("advertiser", "role")) == [(tenancy.client_a2.pk, "operator")]
    invitation.refresh_from_db()
    assert invitation.accepted_by == user
    assert invitation.accepted_at is not None
    assert signed_in(client) == user
    dashboard = client.get("/dashboard/")
    assert texts(dashboard, data_testid="advertiser-name") == ["Client A2"]
    assert alerts(dashboard) == ["You joined Client A2."]


def test_new_person_with_a_weak_password_stays_on_the_form_and_nothing_is_written(client, tenancy):
    _, secret = invite(actor=tenancy.owner, advertiser=tenancy.bakery, email="new.person@example.com")
    before = snapshot()

    response = client.post(f"/invitations/{secret}/", {"full_name": "", "password": "short"})

    assert response.status_code == 400
    assert field_errors(response, "password") == ["This password is too short. It must contain at least 10 characters."]
    assert snapshot() == before
    assert signed_in(client) is None


def test_existing_user_who_is_not_signed_in_is_offered_to_log_in_then_accepts(client, tenancy):
    invitation, secret = invite(actor=tenancy.agent_a, advertiser=tenancy.client_a2, email="owner@example.com", role="analyst")
    link = f"/invitations/{secret}/"

    page = client.get(link)

    assert page.status_code == 200
    (login_link,) = find(page, href=f"/login/?next={link}")
    assert text(login_link) == "Log in to accept"
    assert find(page, name="password") == []

    logged_in = client.post("/login/", {"username": "owner@example.com", "password": DEFAULT_PASSWORD, "next": link})
    assert logged_in["Location"] == link
    accepted = client.post(link)

    assert accepted.status_code == 302
    assert accepted["Location"] == "/dashboard/"
    assert Membership.objects.get(user=tenancy.owner, advertiser=tenancy.client_a2).role == "analyst"
    invitation.refresh_from_db()
    assert invitation.accepted_by == tenancy.owner
    assert heading(client) == "Client A2"


def test_signed_in_invited_user_accepts_with_one_click(client, tenancy):
    _, secret = invite(actor=tenancy.agent_a, advertiser=tenancy.client_a2, email="owner@example.com", role="operator")
    client.force_login(tenancy.owner)

    page = client.get(f"/invitations/{secret}/")
    response = client.post(f"/invitations/{secret}/")

    assert [text(button) for button in find(page, type="submit") if button.name == "button"][-1] == "Accept invitation"
    assert response.status_code == 302
    assert Membership.objects.get(user=tenancy.owner, advertiser=tenancy.client_a2).role == "operator"
    assert heading(client) == "Client A2"


def test_invitation_cannot_be_accepted_by_someone_else(client, tenancy):
    _, secret = invite(actor=tenancy.owner, advertiser=tenancy.bakery, email="new.person@example.com", role="admin")
    client.force_login(tenancy.agent_b)
    page = client.get(f"/invitations/{secret}/")
    before = snapshot()

    response = client.post(f"/invitations/{secret}/")

    assert texts(page, class_="alert-warning") == [
        "You are signed in as agent.b@example.com. Log out and sign in as new.person@example.com to accept."
    ]
    assert response.status_code == 200
    assert alerts(response)[0] == ("This invitation is for new.person@example.com; sign in with that address to accept it.")
    assert snapshot() == before
    assert not Membership.objects.filter(user=tenancy.agent_b, advertiser=tenancy.bakery).exists()


def _used(tenancy: Any, invitation: Invitation, secret: str) -> None:
    services.invitation_accept_with_sign_up(invitation=invitation, password=NEW_PASSWORD)


def _withdrawn(tenancy: Any, invitation: Invitation, secret: str) -> None:
    services.invitation_revoke(actor=tenancy.owner, invitation=invitation)


@pytest.mark.parametrize("spoil", [_used, _withdrawn], ids=["used", "withdrawn"])
def test_used_or_withdrawn_invitation_link_is_not_valid(client, tenancy, spoil):
    invitation, secret = invite(actor=tenancy.owner, advertiser=tenancy.bakery, email="new.person@example.com")
    spoil(tenancy, invitation, secret)
    before = snapshot()

    page = client.get(f"/invitations/{secret}/")
    post = client.post(f"/invitations/{secret}/", {"password": "another-strong-pass-9"})

    assert page.status_code == 404
    assert texts(page, "h1") == ["This invitation is not valid"]
    assert post.status_code == 404
    assert snapshot() == before


def test_invitation_link_works_for_seven_days_then_is_not_valid(client, tenancy):
    invitation, secret = invite(actor=tenancy.owner, advertiser=tenancy.bakery, email="new.person@example.com")
    before = snapshot()

    with clock.frozen(invitation.created_at + timedelta(days=7) - timedelta(minutes=1)):
        last_minute = client.get(f"/invitations/{secret}/")
    with clock.frozen(invitation.expires_at + timedelta(seconds=1)):
        expired = client.get(f"/invitations/{secret}/")
        post = client.post(f"/invitations/{secret}/", {"password": NEW_PASSWORD})

    assert last_minute.status_code == 200
    assert expired.status_code == 404
    assert texts(expired, "h1") == ["This invitation is not valid"]
    assert post.status_code == 404
    assert snapshot() == before


def test_unknown_invitation_link_is_not_valid(client, db):
    response = client.get("/invitations/made-up-secret/")

    assert response.status_code == 404
    assert texts(response, "h1") == ["This invitation is not valid"]


def test_admin_withdraws_a_pending_invitation(client, tenancy):
    invitation, secret = invite(actor=tenancy.owner, advertiser=tenancy.bakery, email="new.person@example.com")
    client.force_login(tenancy.owner)

    response = client.post(f"/team/invitations/{invitation.pk}/revoke/", follow=True)

    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert alerts(response) == ["Invitation to new.person@example.com withdrawn."]
    assert find(response, data_testid="invitations") == []
    assert client.get(f"/invitations/{secret}/").status_code == 404


def test_analyst_cannot_withdraw_an_invitation(client, tenancy):
    invitation, _ = invite(actor=tenancy.owner, advertiser=tenancy.bakery, email="new.person@example.com")
    client.force_login(tenancy.analyst)
    before = snapshot()

    response = client.post(f"/team/invitations/{invitation.pk}/revoke/")

    assert response.status_code == 403
    assert snapshot() == before


def test_another_tenant_cannot_withdraw_an_invitation(client, tenancy):
    invitation, _ = invite(actor=tenancy.owner, advertiser=tenancy.bakery, email="new.person@example.com")
    client.force_login(tenancy.agent_b)
    before = snapshot()

    response = client.post(f"/team/invitations/{invitation.pk}/revoke/")

    assert response.status_code == 404
    assert snapshot() == before


def test_user_without_an_advertiser_cannot_even_find_an_agency_invitation(client, tenancy):
    invitation, _ = services.invitation_create(
        actor=tenancy.agent_a, agency=tenancy.agency_a, email="new.agent@example.com", role="operator"
    )
    client.force_login(tenancy.stranger)
    before = snapshot()

    response = client.post(f"/team/invitations/{invitation.pk}/revoke/")

    assert response.status_code == 404
    assert snapshot() == before


# --- team management -----------------------------------------------------------------------------


def test_admin_changes_a_members_role(client, tenancy):
    membership = Membership.objects.get(user=tenancy.analyst)
    client.force_login(tenancy.owner)

    response = client.post(f"/team/members/{membership.pk}/role/", {"role": "operator"}, follow=True)

    membership.refresh_from_db()
    assert membership.role == "operator"
    assert response.redirect_chain == [("/team/", 302)]
    assert alerts(response) == ["analyst@example.com is now operator."]


def test_admin_removes_a_member(client, tenancy):
    membership = Membership.objects.get(user=tenancy.analyst)
    client.force_login(tenancy.owner)

    response = client.post(f"/team/members/{membership.pk}/remove/", follow=True)

    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert alerts(response) == ["analyst@example.com was removed."]
    assert [row[0] for row in table_rows(response, "members", 1)] == [f"{tenancy.owner.get_full_name()} owner@example.com"]


@pytest.mark.parametrize("action", ["role", "remove"])
def test_analyst_cannot_change_the_team(client, tenancy, action):
    owner_membership = Membership.objects.get(user=tenancy.owner)
    client.force_login(tenancy.analyst)
    before = snapshot()

    response = client.post(f"/team/members/{owner_membership.pk}/{action}/", {"role": "analyst"})

    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("action", ["role", "remove"])
def test_another_tenant_cannot_change_the_team(client, tenancy, action):
    analyst_membership = Membership.objects.get(user=tenancy.analyst)
    client.force_login(tenancy.agent_b)
    before = snapshot()

    response = client.post(f"/team/members/{analyst_membership.pk}/{action}/", {"role": "admin"})

    assert response.status_code == 404
    assert snapshot() == before


def test_changing_a_role_to_an_unknown_value_changes_nothing(client, tenancy):
    membership = Membership.objects.get(user=tenancy.analyst)
    client.force_login(tenancy.owner)
    before = snapshot()

    response = client.post(f"/team/members/{membership.pk}/role/", {"role": "owner"})

    assert response.status_code == 302
    assert snapshot() == before


@pytest.mark.parametrize(("action", "data"), [("role", {"role": "operator"}), ("remove", {})])
def test_the_last_admin_can_be_neither_demoted_nor_removed(client, tenancy, action, data):
    membership = Membership.objects.get(user=tenancy.owner)
    client.force_login(tenancy.owner)
    before = snapshot()

    response = client.post(f"/team/members/{membership.pk}/{action}/", data, follow=True)

    assert response.redirect_chain == [("/team/", 302)]
    assert alerts(response) == ["An advertiser needs at least one admin."]
    assert snapshot() == before


def test_an_admin_can_step_down_while_another_admin_remains(client, tenancy):
    Membership.objects.filter(user=tenancy.analyst).update(role=Role.ADMIN)
    membership = Membership.objects.get(user=tenancy.owner)
    client.force_login(tenancy.owner)

    client.post(f"/team/members/{membership.pk}/role/", {"role": "analyst"})

    assert dict(Membership.objects.values_list("user__email", "role")) == {
        "owner@example.com": "analyst",
        "analyst@example.com": "admin",
    }


def test_team_page_lists_only_the_current_advertisers_members_and_its_agency(client, tenancy):
    direct = MembershipFactory(advertiser=tenancy.client_a1, user__email="direct.a1@example.com", role=Role.ANALYST).user
    MembershipFactory(advertiser=tenancy.client_a2, user__email="direct.a2@example.com")
    invite(actor=tenancy.agent_a, advertiser=tenancy.client_a2, email="pending.a2@example.com")
    client.force_login(tenancy.agent_a)

    response = client.get("/team/")

    assert texts(response, "h1") == ["Team · Client A1"]
    assert table_rows(response, "members", 2) == [
        [f"{direct.get_full_name()} direct.a1@example.com", "Analyst"],
        [f"{tenancy.agent_a.get_full_name()} agent.a@example.com", "Admin via Agency A"],
    ]
    assert find(response, data_testid="invitations") == []


def test_owner_team_page_lists_bakery_members_with_role_controls(client, tenancy):
    client.force_login(tenancy.owner)

    response = client.get("/team/")

    assert table_rows(response, "members", 2) == [
        [f"{tenancy.analyst.get_full_name()} analyst@example.com", "Analyst"],
        [f"{tenancy.owner.get_full_name()} owner@example.com", "Admin"],
    ]
    controls = find(response, "select", aria_label=None)
    assert [dict(select.attributes)["aria-label"] for select in controls] == [
        "Role for analyst@example.com",
        "Role for owner@example.com",
    ]
    assert [text(select) for select in controls] == ["Admin Operator Analyst"] * 2
    (members,) = find(response, data_testid="members")
    assert texts(members, "button") == ["Change", "Remove"] * 2


# --- switching accounts --------------------------------------------------------------------------


def test_agency_user_switches_between_client_accounts(client, tenancy):
    client.force_login(tenancy.agent_a)
    first = heading(client)

    to_a2 = switch(client, tenancy.client_a2)
    on_a2 = client.get("/dashboard/")
    switch(client, tenancy.client_a1)
    back = heading(client)

    assert first == "Client A1"
    assert to_a2.status_code == 302
    assert to_a2["Location"] == "/dashboard/"
    assert texts(on_a2, data_testid="advertiser-name") == ["Client A2"]
    assert alerts(on_a2) == ["Now viewing Client A2."]
    assert back == "Client A1"


@pytest.mark.parametrize("outside", ["client_b1", "bakery"])
def test_switching_to_an_advertiser_outside_the_tenancy_is_not_found_and_keeps_the_current_one(client, tenancy, outside):
    client.force_login(tenancy.agent_a)
    switch(client, tenancy.client_a2)

    response = switch(client, getattr(tenancy, outside))

    assert response.status_code == 404
    assert client.session[SESSION_KEY] == tenancy.client_a2.pk
    assert heading(client) == "Client A2"


@pytest.mark.parametrize("value", ["", "not-a-number", "999999999"])
def test_switching_to_nonsense_is_not_found(client, tenancy, value):
    client.force_login(tenancy.agent_a)

    response = client.post("/accounts/switch/", {"advertiser": value})

    assert response.status_code == 404
    assert heading(client) == "Client A1"


def test_dashboard_summarises_the_current_advertiser(client, tenancy):
    client.force_login(tenancy.agent_a)
    switch(client, tenancy.client_a2)

    response = client.get("/dashboard/")

    assert texts(response, class_="text-body-secondary small") == [
        "USD · America/New_York · managed by Agency A · your role: admin",
        "days, budgets and reports",
    ]
    assert texts(response, class_="kpi-value") == ["Prepaid", "0", "0", "America/New_York"]


def test_accounts_page_shows_the_strongest_role_a_user_holds(client, tenancy):
    # agent_a is an admin of every Agency A client and, on top, a direct analyst of Client A1.
    MembershipFactory(advertiser=tenancy.client_a1, user=tenancy.agent_a, role=Role.ANALYST)
    client.force_login(tenancy.agent_a)

    accounts = client.get("/accounts/")
    dashboard = client.get("/dashboard/")

    assert (
        texts(dashboard, class_="text-body-secondary small")[0] == "EUR · Europe/Berlin · managed by Agency A · your role: admin"
    )
    roles = [text(row.children[5]) for row in find(accounts, data_testid="account-row")]
    assert roles == ["admin", "admin"]


def test_switching_needs_a_post(client, tenancy):
    client.force_login(tenancy.agent_a)

    response = client.get("/accounts/switch/", {"advertiser": tenancy.client_a2.pk})

    assert response.status_code == 405
    assert heading(client) == "Client A1"


def test_a_session_pointing_outside_the_tenancy_falls_back_to_the_users_own_account(client, tenancy):
    client.force_login(tenancy.agent_a)
    session = client.session
    session[SESSION_KEY] = tenancy.bakery.pk
    session.save()

    assert heading(client) == "Client A1"


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (
            "agent_a",
            [
                ["Client A1", "Agency A", "EUR", "Europe/Berlin", "Active", "admin"],
                ["Client A2", "Agency A", "USD", "America/New_York", "Active", "admin"],
            ],
        ),
        ("agent_b", [["Client B1", "Agency B", "EUR", "Europe/Berlin", "Active", "admin"]]),
        ("analyst", [["Bakery", "—", "EUR", "Europe/Berlin", "Active", "analyst"]]),
    ],
)
def test_accounts_page_lists_exactly_the_advertisers_in_the_users_tenancy(client, tenancy, user, expected):
    client.force_login(getattr(tenancy, user))

    response = client.get("/accounts/")

    assert response.status_code == 200
    rows = [
        [text(cell) for cell in row.children if isinstance(cell, Element)][:6]
        for row in find(response, data_testid="account-row")
    ]
    assert rows == expected


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("a2", ["Client A2"]),
        ("CLIENT", ["Client A1", "Client A2"]),
        ("bakery", []),
        ("b1", []),
        ("\x00", ["Client A1", "Client A2"]),  # a NUL is ignored: no name can hold one
        ("a\x002", ["Client A2"]),
    ],
)
def test_accounts_page_searches_by_name_within_the_tenancy(client, tenancy, query, names):
    client.force_login(tenancy.agent_a)

    response = client.get("/accounts/", {"q": query})

    rows = find(response, data_testid="account-row")
    assert [text(row.children[0]) for row in rows] == names
    if not names:
        assert f"No accounts match “{query}”." in page_text(response)


def test_navbar_switcher_lists_the_users_advertisers_and_marks_the_current_one(client, tenancy):
    client.force_login(tenancy.agent_a)
    switch(client, tenancy.client_a2)

    response = client.get("/dashboard/")

    (switcher,) = find(response, data_testid="account-switcher")
    assert text(switcher) == "Client A2"
    buttons = [button for button in find(response, name="advertiser") if button.name == "button"]
    assert [(dict(b.attributes)["value"], text(b)) for b in buttons] == [
        (str(tenancy.client_a1.pk), "Client A1 · Agency A"),
        (str(tenancy.client_a2.pk), "Client A2 · Agency A"),
    ]
    assert ["active" in dict(b.attributes)["class"].split() for b in buttons] == [False, True]


def test_navbar_switcher_shows_at_most_twenty_accounts(client, tenancy):
    AdvertiserFactory.create_batch(23, agency=tenancy.agency_a)
    client.force_login(tenancy.agent_a)

    response = client.get("/dashboard/")

    buttons = [button for button in find(response, name="advertiser") if button.name == "button"]
    expected = list(Advertiser.objects.filter(agency=tenancy.agency_a).order_by("name", "id").values_list("pk", flat=True)[:20])
    assert [int(dict(button.attributes)["value"]) for button in buttons] == expected
    assert "All accounts…" in texts(response, href="/accounts/")


# --- new advertiser ------------------------------------------------------------------------------


def test_new_advertiser_form_offers_only_the_users_own_agencies(client, tenancy):
    client.force_login(tenancy.agent_a)
    agent = client.get("/accounts/new/")
    client.force_login(tenancy.owner)
    owner = client.get("/accounts/new/")

    (agency_select,) = [element for element in find(agent, name="agency") if element.name == "select"]
    assert [text(option) for option in agency_select.children if isinstance(option, Element)] == ["My own account", "Agency A"]
    assert find(owner, name="agency") == []


def test_new_advertiser_of_ones_own_makes_the_user_its_admin(client, tenancy):
    client.force_login(tenancy.owner)

    response = client.post("/accounts/new/", {"name": "Second Shop", "currency": "GBP", "time_zone": "Europe/London"})

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    advertiser = Advertiser.objects.get(name="Second Shop")
    assert (advertiser.currency, advertiser.time_zone, advertiser.agency) == ("GBP", "Europe/London", None)
    assert list(advertiser.memberships.values_list("user", "role")) == [(tenancy.owner.pk, "admin")]
    assert heading(client) == "Second Shop"


def test_agency_member_creates_a_client_account_for_their_agency(client, tenancy):
    client.force_login(tenancy.agent_a)

    response = client.post(
        "/accounts/new/", {"name": "Client A3", "agency": tenancy.agency_a.pk, "currency": "EUR", "time_zone": "Europe/Paris"}
    )

    assert response.status_code == 302
    advertiser = Advertiser.objects.get(name="Client A3")
    assert (advertiser.agency, advertiser.currency, advertiser.time_zone) == (tenancy.agency_a, "EUR", "Europe/Paris")
    assert list(advertiser.memberships.all()) == []
    assert heading(client) == "Client A3"


def test_agency_member_may_still_create_an_account_of_their_own(client, tenancy):
    client.force_login(tenancy.agent_a)

    client.post("/accounts/new/", {"name": "Side Project", "agency": "", "currency": "USD", "time_zone": "UTC"})

    advertiser = Advertiser.objects.get(name="Side Project")
    assert advertiser.agency is None
    assert list(advertiser.memberships.values_list("user", "role")) == [(tenancy.agent_a.pk, "admin")]


def test_agency_analyst_cannot_create_a_client_account(client, tenancy):
    analyst = AgencyMembershipFactory(agency=tenancy.agency_a, user__email="junior@example.com", role=Role.ANALYST).user
    client.force_login(analyst)
    before = snapshot()

    response = client.post(
        "/accounts/new/", {"name": "Sneaky Client", "agency": tenancy.agency_a.pk, "currency": "EUR", "time_zone": "UTC"}
    )

    assert response.status_code == 400
    assert alerts(response) == ["This needs the operator role in Agency A."]
    assert snapshot() == before


def test_another_agencys_member_cannot_create_a_client_account_for_it(client, tenancy):
    client.force_login(tenancy.agent_b)
    before = snapshot()

    response = client.post(
        "/accounts/new/", {"name": "Sneaky Client", "agency": tenancy.agency_a.pk, "currency": "EUR", "time_zone": "UTC"}
    )

    assert response.status_code == 400
    assert field_errors(response, "agency") == ["Select a valid choice. That choice is not one of the available choices."]
    assert snapshot() == before


def test_new_advertiser_without_a_name_is_refused(client, tenancy):
    client.force_login(tenancy.owner)
    before = snapshot()

    response = client.post("/accounts/new/", {"name": "", "currency": "EUR", "time_zone": "UTC"})

    assert response.status_code == 400
    assert field_errors(response, "name") == ["This field is required."]
    assert snapshot() == before


# --- settings ------------------------------------------------------------------------------------


def test_admin_renames_the_advertiser_and_changes_its_time_zone(client, tenancy):
    client.force_login(tenancy.owner)

    response = client.post("/settings/", {"name": "Bakery & Café", "time_zone": "America/Chicago"}, follow=True)

    tenancy.bakery.refresh_from_db()
    assert (tenancy.bakery.name, tenancy.bakery.time_zone, tenancy.bakery.currency) == (
        "Bakery & Café",
        "America/Chicago",
        "EUR",
    )
    assert response.redirect_chain == [("/settings/", 302)]
    assert alerts(response) == ["Settings saved."]
    assert heading(client) == "Bakery & Café"


def test_agency_admin_changes_the_settings_of_the_client_they_are_viewing(client, tenancy):
    client.force_login(tenancy.agent_a)
    switch(client, tenancy.client_a2)

    client.post("/settings/", {"name": "Client A2 (US)", "time_zone": "America/Denver"})

    assert dict(Advertiser.objects.filter(agency=tenancy.agency_a).values_list("name", "time_zone")) == {
        "Client A1": "Europe/Berlin",
        "Client A2 (US)": "America/Denver",
    }


def test_a_forged_session_cannot_point_settings_or_invitations_at_another_tenant(
    client, tenancy, django_capture_on_commit_callbacks
):
    client.force_login(tenancy.agent_b)
    session = client.session
    session[SESSION_KEY] = tenancy.bakery.pk
    session.save()

    client.post("/settings/", {"name": "Taken Over", "time_zone": "UTC"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/team/", {"email": "mole@example.com", "role": "admin"})

    assert dict(Advertiser.objects.values_list("pk", "name"))[tenancy.bakery.pk] == "Bakery"
    assert Advertiser.objects.get(pk=tenancy.client_b1.pk).name == "Taken Over"
    assert list(Invitation.objects.values_list("email", "advertiser")) == [("mole@example.com", tenancy.client_b1.pk)]


def test_analyst_cannot_change_settings(client, tenancy):
    client.force_login(tenancy.analyst)
    before = snapshot()

    response = client.post("/settings/", {"name": "Analyst's Bakery", "time_zone": "Asia/Tokyo"})

    assert response.status_code == 403
    assert snapshot() == before


def test_settings_refuse_an_unknown_time_zone(client, tenancy):
    client.force_login(tenancy.owner)
    before = snapshot()

    response = client.post("/settings/", {"name": "Bakery", "time_zone": "Europe/Atlantis"})

    assert response.status_code == 400
    assert field_errors(response, "time_zone") == ["Select a valid choice. Europe/Atlantis is not one of the available choices."]
    assert snapshot() == before


# --- API access ----------------------------------------------------------------------------------


def create_token(client: Any, **changes: Any) -> Any:
    data = {"name": "Reporting script", "scopes": ["campaigns:read", "reports:read"], "days": "30", **changes}
    return client.post("/api-access/", data, follow=True)


def test_new_token_is_shown_once_and_works_as_a_bearer(client, tenancy):
    client.force_login(tenancy.owner)

    response = create_token(client)

    assert response.status_code == 200
    assert response.redirect_chain == [("/api-access/", 302)]
    (raw,) = texts(response, data_testid="new-token")
    assert raw.startswith("adp_")
    assert len(raw) > 40
    token = PersonalAccessToken.objects.get()
    assert (token.user, token.name, token.access_token.scope) == (
        tenancy.owner,
        "Reporting script",
        "campaigns:read reports:read",
    )
    assert token.access_token.expires.date() == (clock.now() + timedelta(days=30)).date()
    assert token.access_token.token != raw
    api = bearer_client(raw).get("/api/v1/advertisers/")
    assert api.status_code == 200
    assert [advertiser["name"] for advertiser in api.json()["results"]] == ["Bakery"]

    reloaded = client.get("/api-access/")

    assert raw not in reloaded.content.decode()
    assert find(reloaded, data_testid="new-token") == []
    assert table_rows(reloaded, "tokens", 2) == [["Reporting script", "campaigns:read reports:read"]]


def test_revoked_token_stops_working(client, tenancy):
    client.force_login(tenancy.owner)
    (raw,) = texts(create_token(client), data_testid="new-token")
    token = PersonalAccessToken.objects.get()

    response = client.post(f"/api-access/tokens/{token.pk}/revoke/", follow=True)

    assert response.redirect_chain == [("/api-access/", 302)]
    assert alerts(response) == ["Token “Reporting script” revoked."]
    assert table_rows(response, "tokens", 1) == [["No tokens yet."]]
    assert PersonalAccessToken.objects.count() == 0
    assert AccessToken.objects.count() == 0
    assert bearer_client(raw).get("/api/v1/advertisers/").status_code == 401


def test_revoking_another_users_token_is_not_found(client, tenancy):
    client.force_login(tenancy.owner)
    (raw,) = texts(create_token(client), data_testid="new-token")
    token = PersonalAccessToken.objects.get()
    client.force_login(tenancy.analyst)
    before = snapshot()

    response = client.post(f"/api-access/tokens/{token.pk}/revoke/")

    assert response.status_code == 404
    assert snapshot() == before
    assert bearer_client(raw).get("/api/v1/advertisers/").status_code == 200


def test_api_access_page_lists_only_ones_own_tokens(client, tenancy):
    services.personal_token_create(user=tenancy.analyst, name="Analyst export", scopes=["reports:read"])
    services.personal_token_create(user=tenancy.owner, name="Owner sync", scopes=["campaigns:write", "billing:read"])
    client.force_login(tenancy.owner)

    response = client.get("/api-access/")

    assert table_rows(response, "tokens", 2) == [["Owner sync", "billing:read campaigns:write"]]


@pytest.mark.parametrize(("staff", "offered"), [(False, False), (True, True)])
def test_review_scope_is_offered_to_staff_only(client, tenancy, staff, offered):
    User.objects.filter(pk=tenancy.owner.pk).update(is_staff=staff)
    client.force_login(tenancy.owner)

    response = client.get("/api-access/")

    scopes = [dict(box.attributes)["value"] for box in find(response, name="scopes", type="checkbox")]
    assert scopes == ["campaigns:read", "campaigns:write", "reports:read", "billing:read", "billing:write"] + (
        ["review"] if offered else []
    )


def test_review_scope_posted_by_a_non_staff_user_is_refused(client, tenancy):
    client.force_login(tenancy.owner)
    before = snapshot()

    response = create_token(client, scopes=["campaigns:read", "review"])

    assert response.status_code == 400
    assert field_errors(response, "scopes") == ["Select a valid choice. review is not one of the available choices."]
    assert find(response, data_testid="new-token") == []
    assert snapshot() == before


def test_staff_may_create_a_review_token(client, tenancy):
    User.objects.filter(pk=tenancy.owner.pk).update(is_staff=True)
    client.force_login(tenancy.owner)

    response = create_token(client, scopes=["review"])

    assert response.status_code == 200
    assert PersonalAccessToken.objects.get().access_token.scope == "review"


@pytest.mark.parametrize(
    ("changes", "field", "errors"),
    [
        ({"scopes": []}, "scopes", ["This field is required."]),
        ({"name": ""}, "name", ["This field is required."]),
        ({"days": "400"}, "days", ["Select a valid choice. 400 is not one of the available choices."]),
    ],
    ids=["no-scopes", "no-name", "too-long"],
)
def test_token_form_refuses_bad_input(client, tenancy, changes, field, errors):
    client.force_login(tenancy.owner)
    before = snapshot()

    response = create_token(client, **changes)

    assert response.status_code == 400
    assert field_errors(response, field) == errors
    assert snapshot() == before


# --- a user without any advertiser --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "location"),
    [
        ("/dashboard/", 200, None),
        ("/team/", 302, "/accounts/new/"),
        ("/settings/", 302, "/accounts/new/"),
        ("/accounts/", 200, None),
        ("/accounts/new/", 200, None),
        ("/api-access/", 200, None),
    ],
)
def test_every_page_works_for_a_user_without_an_advertiser(client, tenancy, path, status, location):
    client.force_login(tenancy.stranger)

    response = client.get(path)

    assert response.status_code == status
    if location:
        assert response["Location"] == location
    else:
        assert texts(response, data_testid="account-switcher") == ["No account yet"]


def test_dashboard_for_a_user_without_an_advertiser_invites_them_to_create_one(client, tenancy):
    client.force_login(tenancy.stranger)

    response = client.get("/dashboard/")

    assert texts(response, "h1") == ["You have no ad account yet"]
    assert texts(response, href="/accounts/new/") == ["New advertiser", "Create an advertiser"]


def test_accounts_page_for_a_user_without_an_advertiser_is_empty(client, tenancy):
    client.force_login(tenancy.stranger)

    response = client.get("/accounts/")

    assert find(response, data_testid="account-row") == []
    assert "No accounts." in page_text(response)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/team/", 302),
        ("/settings/", 302),
        ("/team/members/{membership}/role/", 404),
        ("/team/members/{membership}/remove/", 404),
        ("/accounts/switch/", 404),
    ],
)
def test_posts_by_a_user_without_an_advertiser_change_nothing(client, tenancy, path, status):
    path = path.format(membership=Membership.objects.get(user=tenancy.analyst).pk)
    client.force_login(tenancy.stranger)
    before = snapshot()

    response = client.post(
        path, {"advertiser": tenancy.bakery.pk, "role": "admin", "email": "x@example.com", "name": "Mine", "time_zone": "UTC"}
    )

    assert response.status_code == status
    assert snapshot() == before
