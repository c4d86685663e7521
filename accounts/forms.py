"""Dashboard forms for accounts. They shape input; the services decide what is allowed."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.core.exceptions import ValidationError

from .models import Agency, Role, User
from .validators import currency_codes, time_zone_names

COMMON_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD", "BRL", "INR", "MXN", "CHF", "SEK", "PLN")


def currency_choices() -> list[tuple[str, str]]:
    common = [(code, code) for code in COMMON_CURRENCIES]
    rest = [(code, code) for code in sorted(currency_codes()) if code not in COMMON_CURRENCIES]
    return [("Common", common), ("All currencies", rest)]  # type: ignore[list-item]


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(time_zone_names())]


def apply_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form, each message on its field where the form has one."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


class EmailAuthenticationForm(AuthenticationForm):
    """Log in with e-mail and password."""

    username = forms.EmailField(label="E-mail", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}))
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That e-mail address and password do not match an account. Passwords are case-sensitive.",
    }


class PasswordResetForm(DjangoPasswordResetForm):
    """Also reaches active users who have no password yet (agency owners made by `create_agency`)."""

    def get_users(self, email: str) -> Any:
        return User.objects.filter(email__iexact=email.strip(), is_active=True)


class AdvertiserFieldsMixin(forms.Form):
    currency = forms.ChoiceField(
        choices=currency_choices, initial="USD", help_text="Billing currency. It cannot be changed later."
    )
    time_zone = forms.ChoiceField(
        choices=time_zone_choices, initial="UTC", help_text="Your day, daily budgets and reports follow this time zone."
    )


class SignUpForm(AdvertiserFieldsMixin):
    """Create a login and the first advertiser account."""

    email = forms.EmailField(label="Work e-mail", widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))
    full_name = forms.CharField(label="Your name", max_length=150, required=False)
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters, not a common or all-numeric password.",
    )
    advertiser_name = forms.CharField(label="Business name", max_length=200, help_text="The name of your ad account.")

    field_order = ("email", "full_name", "password", "advertiser_name", "currency", "time_zone")


class AdvertiserCreateForm(AdvertiserFieldsMixin):
    """A further advertiser: your own account or a client of one of your agencies."""

    name = forms.CharField(max_length=200)
    agency = forms.ModelChoiceField(queryset=Agency.objects.none(), required=False, empty_label="My own account")

    field_order = ("name", "agency", "currency", "time_zone")

    def __init__(self, *args: Any, agencies: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = agencies  # type: ignore[attr-defined]
        if not agencies.exists():
            del self.fields["agency"]


class AdvertiserSettingsForm(forms.Form):
    """What an advertiser's admins may change."""

    name = forms.CharField(max_length=200)
    time_zone = forms.ChoiceField(choices=time_zone_choices)


class InviteForm(forms.Form):
    """Invite a teammate by e-mail."""

    email = forms.EmailField(label="E-mail")
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.OPERATOR,
        help_text="Admins manage the team and settings; operators edit campaigns; analysts only read.",
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class AcceptInvitationForm(forms.Form):
    """Sign up from an invitation: the e-mail address is the invited one."""

    full_name = forms.CharField(label="Your name", max_length=150, required=False)
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


class TokenForm(forms.Form):
    """A new personal access token."""

    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “Reporting script”.")
    scopes = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, choices=())
    days = forms.TypedChoiceField(
        label="Expires after", coerce=int, choices=((30, "30 days"), (90, "90 days"), (365, "1 year")), initial=90
    )

    def __init__(self, *args: Any, staff: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = [  # type: ignore[attr-defined]
            (scope, f"{scope} — {label}") for scope, label in settings.API_SCOPES.items() if staff or scope != "review"
        ]
