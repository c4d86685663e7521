"""Dashboard URLs for accounts, including Django's log-in and password-reset views."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views
from .forms import EmailAuthenticationForm, PasswordResetForm

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("signup/", views.sign_up, name="sign_up"),
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=EmailAuthenticationForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(form_class=PasswordResetForm), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("accounts/", views.accounts_list, name="accounts_list"),
    path("accounts/switch/", views.switch_account, name="switch_account"),
    path("accounts/new/", views.advertiser_new, name="advertiser_new"),
    path("settings/", views.advertiser_settings, name="advertiser_settings"),
    path("team/", views.team, name="team"),
    path("team/members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("team/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("team/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("invitations/<str:secret>/", views.invitation_accept, name="invitation_accept"),
    path("api-access/", views.api_access, name="api_access"),
    path("api-access/tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]
