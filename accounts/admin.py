"""Admin for the email-login user, and admin login routed through the portal's login page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse

from accounts.forms import SignupForm
from accounts.models import AccountEvent, User
from accounts.views import safe_next_url
from common.admin import ReadOnlyAdminMixin, SafeLookupsMixin, SafeSelectedActionsMixin


class AdminUserCreationForm(SignupForm):
    """The add form: email, display name, password twice (validated like sign-up). Staff
    may be told that an address is taken."""

    def clean_email(self) -> str:
        email = super().clean_email()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(
                "An account with this email address already exists.", code="duplicate_email"
            )
        return email


class AdminUserChangeForm(auth_forms.UserChangeForm):
    """The change form, refusing an email another account already uses in any case."""

    class Meta:
        model = User
        fields = "__all__"
        field_classes: dict = {}

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).strip()
        taken = User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists()
        if taken:
            raise ValidationError(
                "Another account already uses this email address.", code="duplicate_email"
            )
        return email


@admin.register(User)
class UserAdmin(SafeSelectedActionsMixin, SafeLookupsMixin, DjangoUserAdmin):
    form = AdminUserChangeForm
    add_form = AdminUserCreationForm
    list_display = (
        "email",
        "display_name",
        "is_active",
        "is_staff",
        "api_hourly_limit",
        "email_verified_at",
        "date_joined",
        "last_login",
    )
    list_display_links = ("email",)
    list_filter = ("is_active", "is_staff", "is_superuser", "date_joined", "last_login")
    search_fields = ("email", "display_name")
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined")
    # Counting a million rows for "N of M selected" is the slow part of a big changelist.
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name",)}),
        (
            "API access",
            {
                "fields": ("api_hourly_limit",),
                "description": "Leave the limit empty to use the site-wide default.",
            },
        ),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("email_verified_at", "last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "display_name", "password1", "password2"),
            },
        ),
    )
    # Plain multiple selects: the admin's filter widget adds an aria-label to a <span>,
    # which WCAG (axe aria-prohibited-attr) refuses.
    filter_horizontal = ()


def admin_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """Send admin logins through the portal login page, so its failure limiter applies."""
    next_url = safe_next_url(request) or reverse("admin:index")
    if request.user.is_authenticated:
        if request.user.is_active and request.user.is_staff:
            return HttpResponseRedirect(next_url)
        messages.error(request, "Your account does not have access to the admin site.")
        return redirect(settings.LOGIN_REDIRECT_URL)
    return redirect_to_login(next_url, login_url="accounts:login")


admin.site.login = admin_login
admin.site.site_header = "QuickBot administration"
admin.site.site_title = "QuickBot admin"
admin.site.index_title = "Accounts and API tokens"
# Changelists get the whole width (the token list's last columns fit at 1280 px); the
# breadcrumbs and the index already lead everywhere the sidebar did.
admin.site.enable_nav_sidebar = False


# Groups keep Django's admin, with forged action selections refused like everywhere else.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(SafeSelectedActionsMixin, SafeLookupsMixin, DjangoGroupAdmin):
    pass


@admin.register(AccountEvent)
class AccountEventAdmin(
    SafeSelectedActionsMixin, SafeLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    """The accounts' security logs, read-only (an audit trail is never edited)."""

    list_display = ("created_at", "user", "kind", "detail", "ip", "user_agent")
    list_filter = ("kind", "created_at")
    search_fields = ("user__email", "ip")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    date_hierarchy = "created_at"
    show_full_result_count = False
