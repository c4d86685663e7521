"""Dashboard forms for campaigns. They turn what people type into service arguments; the services decide.

Money is typed as decimals in the advertiser's currency and cleaned to micros; date-times are typed in
the advertiser's time zone and cleaned to aware datetimes. Fields are named like the keys of the
services' ValidationErrors, so a refusal lands on the field it is about.
"""

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pycountry
from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import Currency
from adplatform import money

from .choices import (
    BID_STRATEGIES_FOR_OBJECTIVE,
    SLOTS_PER_DAY,
    SLOTS_PER_WEEK,
    AdFormat,
    AgeRange,
    BidStrategy,
    BudgetMode,
    CallToAction,
    DeviceType,
    Gender,
    Objective,
    OperatingSystem,
    Pacing,
)
from .models import Interest, Placement

DATETIME_INPUT_FORMAT = "%Y-%m-%dT%H:%M"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Service errors about a pair of fields, shown on the first field of the pair.
ERROR_FIELD_ALIASES = {"frequency_cap": "frequency_cap_impressions"}

OBJECTIVE_DESCRIPTIONS = {
    Objective.REACH: "Show your ad to as many people as possible.",
    Objective.TRAFFIC: "Send people to your website or app.",
    Objective.VIDEO_VIEWS: "Get more people to watch your video.",
    Objective.ENGAGEMENT: "Get more likes, comments, shares and follows.",
    Objective.LEAD_GENERATION: "Collect sign-ups and enquiries.",
    Objective.APP_PROMOTION: "Get more people to install your app.",
    Objective.WEB_CONVERSIONS: "Get purchases and sign-ups on your website.",
}


@cache
def country_choices() -> tuple[tuple[str, str], ...]:
    """Every ISO 3166-1 country by its common name."""
    names = ((country.alpha_2, getattr(country, "common_name", country.name)) for country in pycountry.countries)
    return tuple(sorted(names, key=lambda choice: choice[1]))


@cache
def language_choices() -> tuple[tuple[str, str], ...]:
    """Every language with an ISO 639-1 code, by name."""
    names = ((language.alpha_2, language.name) for language in pycountry.languages if hasattr(language, "alpha_2"))
    return tuple(sorted(names, key=lambda choice: choice[1]))


def slot_label(slot: int) -> str:
    """'Monday 09:30' for a half-hour slot of the week."""
    day, half_hour = divmod(slot, SLOTS_PER_DAY)
    return f"{WEEKDAYS[day]} {half_hour // 2:02d}:{30 * (half_hour % 2):02d}"


def apply_service_errors(form: forms.Form, error: ValidationError | PermissionDenied) -> None:
    """Show a service's refusal on the form: each message on its field where the form has one."""
    if isinstance(error, PermissionDenied):
        form.add_error(None, str(error))
        return
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        name = ERROR_FIELD_ALIASES.get(field, field)
        form.add_error(name if name in form.fields else None, errors)


class MoneyField(forms.CharField):
    """A decimal amount in the advertiser's currency ("12.50"), cleaned to integer micros; None when empty."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        text = super().to_python(value)
        if text is None or text in self.empty_values:
            return None
        try:
            return money.to_micros(text)
        except money.MoneyError as error:
            raise ValidationError(str(error), code="money") from error

    def prepare_value(self, value: Any) -> Any:
        return money.format_amount(value) if isinstance(value, int) else value


class LocalDateTimeField(forms.DateTimeField):
    """A `datetime-local` input read and shown in the advertiser's time zone; cleaned to an aware datetime."""

    zone: ZoneInfo = ZoneInfo("UTC")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT_FORMAT))
        kwargs.setdefault("input_formats", [DATETIME_INPUT_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"])
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> datetime | None:
        with timezone.override(self.zone):
            return super().to_python(value)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, datetime) and timezone.is_aware(value):
            return value.astimezone(self.zone).replace(tzinfo=None)
        return value


def _checkboxes(choices: Iterable[tuple[str, str]], label: str, help_text: str = "") -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        choices=list(choices), required=False, widget=forms.CheckboxSelectMultiple, label=label, help_text=help_text
    )


def _amount_or_zero(mode: str, micros: int | None) -> int:
    """An unlimited budget has no amount (its input is hidden); a missing amount is zero, which the service names."""
    return 0 if mode == BudgetMode.UNLIMITED or micros is None else micros


class CampaignForm(forms.Form):
    """Step 1 of the guided flow, and the campaign's edit page."""

    name = forms.CharField(label="Campaign name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    objective = forms.ChoiceField(choices=Objective.choices, widget=forms.RadioSelect)
    budget_mode = forms.ChoiceField(
        label="Campaign budget",
        choices=BudgetMode.choices,
        initial=BudgetMode.DAILY,
        widget=forms.RadioSelect,
        help_text="A campaign budget caps all its ad groups together; ad groups can have their own caps too.",
    )
    budget = MoneyField(label="Budget", required=False)

    def objective_cards(self) -> list[tuple[Any, str]]:
        """Each objective radio with a sentence saying what it optimises for."""
        return [(radio, OBJECTIVE_DESCRIPTIONS[Objective(radio.data["value"])]) for radio in self["objective"]]

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "objective": data["objective"],
            "budget_mode": data["budget_mode"],
            "budget_micros": _amount_or_zero(data["budget_mode"], data["budget"]),
        }


class AdGroupForm(forms.Form):
    """Step 2 of the guided flow, and the ad group's edit page: placements, targeting, schedule, budget, bid."""

    name = forms.CharField(label="Ad group name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    placements = forms.MultipleChoiceField(choices=(), widget=forms.CheckboxSelectMultiple)
    countries = forms.MultipleChoiceField(
        choices=country_choices,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8, "data-picker": "countries"}),
        help_text="Leave empty to reach every country.",
    )
    languages = forms.MultipleChoiceField(
        choices=language_choices,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6, "data-picker": "languages"}),
        help_text="Leave empty for every language.",
    )
    age_ranges = _checkboxes(AgeRange.choices, "Age")
    genders = _checkboxes(Gender.choices, "Gender")
    device_types = _checkboxes(DeviceType.choices, "Devices")
    operating_systems = _checkboxes(OperatingSystem.choices, "Operating systems")
    interests = forms.MultipleChoiceField(choices=(), required=False, widget=forms.CheckboxSelectMultiple)
    start_time = LocalDateTimeField(label="Start", required=False, help_text="Leave empty to start now.")
    end_time = LocalDateTimeField(label="End", required=False, help_text="Leave empty to run until you stop it.")
    dayparting = forms.TypedMultipleChoiceField(
        choices=[(str(slot), slot_label(slot)) for slot in range(SLOTS_PER_WEEK)],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    budget_mode = forms.ChoiceField(
        label="Ad group budget", choices=BudgetMode.choices, initial=BudgetMode.DAILY, widget=forms.RadioSelect
    )
    budget = MoneyField(label="Budget", required=False)
    pacing = forms.ChoiceField(choices=Pacing.choices, initial=Pacing.STANDARD, widget=forms.RadioSelect)
    bid_strategy = forms.ChoiceField(label="Bid strategy", choices=(), widget=forms.RadioSelect)
    bid = MoneyField(label="Bid")
    frequency_cap_impressions = forms.IntegerField(
        label="Impressions", required=False, widget=forms.NumberInput(attrs={"min": 1, "placeholder": "e.g. 3"})
    )
    frequency_cap_days = forms.IntegerField(
        label="Days", required=False, widget=forms.NumberInput(attrs={"min": 1, "placeholder": "e.g. 1"})
    )

    def __init__(
        self,
        *args: Any,
        objective: str,
        currency: Currency,
        time_zone: str,
        placements: Iterable[Placement],
        interests: Iterable[Interest],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.placement_list = list(placements)
        self.fields["placements"].choices = [(placement.key, placement.name) for placement in self.placement_list]  # type: ignore[attr-defined]
        groups: dict[str, list[tuple[str, str]]] = {}
        for interest in interests:
            groups.setdefault(interest.category, []).append((interest.key, interest.name))
        self.fields["interests"].choices = list(groups.items())  # type: ignore[attr-defined]
        fitting = BID_STRATEGIES_FOR_OBJECTIVE[Objective(objective)]
        self.fields["bid_strategy"].choices = [  # type: ignore[attr-defined]
            (value, label) for value, label in BidStrategy.choices if value in fitting
        ]
        self.fields["bid_strategy"].initial = BidStrategy.CPM
        zone = ZoneInfo(time_zone)
        for name in ("start_time", "end_time"):
            self.fields[name].zone = zone  # type: ignore[attr-defined]

    def placement_options(self) -> list[tuple[Any, Placement, str]]:
        """Each placement checkbox with the placement and its floor CPM in the advertiser's currency."""
        by_key = {placement.key: placement for placement in self.placement_list}
        options = []
        for checkbox in self["placements"]:
            placement = by_key[checkbox.data["value"]]
            floor = money.usd_to_currency(placement.floor_cpm_usd_micros, self.currency.units_per_usd)
            options.append((checkbox, placement, money.format_amount(floor)))
        return options

    def interest_groups(self) -> list[tuple[str, list[Any]]]:
        """Interest checkboxes by category."""
        categories = [category for category, _ in self.fields["interests"].choices]  # type: ignore[attr-defined]
        boxes: dict[str, list[Any]] = {}
        for checkbox in self["interests"]:
            boxes.setdefault(checkbox.data["index"].split("_")[0], []).append(checkbox)
        return [(category, boxes.get(str(index), [])) for index, category in enumerate(categories)]

    def dayparting_grid(self) -> list[tuple[str, list[tuple[int, str, bool]]]]:
        """Seven rows of 48 half-hour cells: (slot, label, checked)."""
        chosen = set()
        for value in self["dayparting"].value() or []:
            try:
                chosen.add(int(value))
            except (TypeError, ValueError):
                continue
        return [
            (
                day,
                [(slot, slot_label(slot), slot in chosen) for slot in range(index * SLOTS_PER_DAY, (index + 1) * SLOTS_PER_DAY)],
            )
            for index, day in enumerate(WEEKDAYS)
        ]

    def dayparting_hours(self) -> list[str]:
        return [f"{hour:02d}" for hour in range(SLOTS_PER_DAY // 2)]

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields = {
            name: data[name]
            for name in (
                "name",
                "placements",
                "countries",
                "languages",
                "age_ranges",
                "genders",
                "device_types",
                "operating_systems",
                "interests",
                "start_time",
                "end_time",
                "budget_mode",
                "pacing",
                "bid_strategy",
                "frequency_cap_impressions",
                "frequency_cap_days",
            )
        }
        fields["dayparting"] = sorted(set(data["dayparting"]))
        fields["budget_micros"] = _amount_or_zero(data["budget_mode"], data["budget"])
        fields["bid_micros"] = data["bid"]
        return fields


class AdForm(forms.Form):
    """Step 3 of the guided flow, and the ad's edit page."""

    format = forms.ChoiceField(choices=AdFormat.choices, initial=AdFormat.IMAGE, widget=forms.RadioSelect)
    display_name = forms.CharField(
        label="Display name", max_length=40, help_text="Your brand as viewers see it.", widget=forms.TextInput()
    )
    headline = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    body = forms.CharField(
        label="Ad text",
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional for image and video ads.",
    )
    media_url = forms.CharField(
        label="Media URL",
        required=False,
        widget=forms.URLInput(attrs={"placeholder": "https://cdn.example.com/ad.jpg"}),
        help_text="A direct https:// link to the image (.jpg, .png, .gif, .webp) or video (.mp4, .webm, .mov, .m4v).",
    )
    video_duration_seconds = forms.IntegerField(
        label="Video length (seconds)",
        required=False,
        widget=forms.NumberInput(attrs={"min": 1, "max": 60}),
        help_text="1 to 60 seconds.",
    )
    call_to_action = forms.ChoiceField(label="Call to action", choices=CallToAction.choices, initial=CallToAction.LEARN_MORE)
    landing_url = forms.CharField(
        label="Landing page URL",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/offer"}),
        help_text="Where a tap leads; it must start with https://.",
    )

    def call_to_action_label(self) -> str:
        return str(dict(CallToAction.choices).get(self["call_to_action"].value(), CallToAction.LEARN_MORE.label))

    def landing_domain(self) -> str:
        try:
            return urlparse(str(self["landing_url"].value() or "")).netloc
        except ValueError:  # the form is being shown again with the service's error on landing_url
            return ""

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        ad_format = data["format"]
        return {
            "format": ad_format,
            "display_name": data["display_name"],
            "headline": data["headline"],
            "body": data["body"],
            # Inputs the chosen format hides do not count.
            "media_url": "" if ad_format == AdFormat.TEXT else data["media_url"],
            "video_duration_seconds": data["video_duration_seconds"] if ad_format == AdFormat.VIDEO else None,
            "call_to_action": data["call_to_action"],
            "landing_url": data["landing_url"],
        }
