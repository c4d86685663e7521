"""Staff admin for accounts: users, agencies, advertisers, memberships, invitations, tokens."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from simple_history.admin import SimpleHistoryAdmin

from adplatform import money

from .models import (
    Advertiser,
    Agency,
    AgencyMembership,
    Currency,
    IdempotencyKey,
    Invitation,
    Membership,
    PersonalAccessToken,
    User,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


class AgencyMembershipInline(admin.TabularInline):
    model = AgencyMembership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "full_name", "is_staff", "is_active", "date_joined", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email", "full_name")
    readonly_fields = ("date_joined", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "password", "full_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),)


@admin.register(Currency)
class CurrencyAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name", "units_per_usd", "min_daily_budget", "is_active", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    list_editable = ("units_per_usd", "is_active")

    @admin.display(description="Smallest daily budget", ordering="min_daily_budget_micros")
    def min_daily_budget(self, currency: Currency) -> str:
        return f"{money.format_amount(currency.min_daily_budget_micros)} {currency.code}"


@admin.register(Agency)
class AgencyAdmin(SimpleHistoryAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    inlines = (AgencyMembershipInline,)


@admin.register(Advertiser)
class AdvertiserAdmin(SimpleHistoryAdmin):
    list_display = ("name", "currency", "time_zone", "status", "billing_mode", "credit_limit", "agency", "created_at")
    list_filter = ("status", "billing_mode", "currency", "agency")
    search_fields = ("name", "agency__name", "memberships__user__email")
    autocomplete_fields = ("agency",)
    readonly_fields = ("created_at", "updated_at")
    inlines = (MembershipInline,)

    @admin.display(description="Credit limit", ordering="credit_limit_micros")
    def credit_limit(self, advertiser: Advertiser) -> str:
        return f"{money.format_amount(advertiser.credit_limit_micros)} {advertiser.currency}"


@admin.register(Membership)
class MembershipAdmin(SimpleHistoryAdmin):
    list_display = ("user", "advertiser", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "advertiser__name")
    autocomplete_fields = ("user", "advertiser")


@admin.register(AgencyMembership)
class AgencyMembershipAdmin(SimpleHistoryAdmin):
    list_display = ("user", "agency", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "agency__name")
    autocomplete_fields = ("user", "agency")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = (
        "email",
        "advertiser",
        "agency",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    )
    list_filter = ("role", ("accepted_at", admin.EmptyFieldListFilter), ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("email", "advertiser__name", "agency__name")
    readonly_fields = ("token_hash", "created_at", "accepted_at", "accepted_by", "invited_by")
    autocomplete_fields = ("advertiser", "agency")


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "scopes", "expires", "created_at")
    list_select_related = ("user", "access_token")
    search_fields = ("name", "user__email")
    readonly_fields = ("user", "name", "access_token", "created_at")

    @admin.display(description="Scopes")
    def scopes(self, token: PersonalAccessToken) -> str:
        return token.access_token.scope

    @admin.display(description="Expires")
    def expires(self, token: PersonalAccessToken) -> object:
        return token.access_token.expires

    def has_add_permission(self, request: object) -> bool:
        return False  # tokens are created by their owners on the API access page or by `issue_token`


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ("key", "user", "method", "path", "response_status", "created_at")
    list_filter = ("method", "response_status")
    search_fields = ("key", "user__email", "path")
    readonly_fields = tuple(field.name for field in IdempotencyKey._meta.fields)

    def has_add_permission(self, request: object) -> bool:
        return False
