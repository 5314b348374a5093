"""Admin for the email-login user, and admin login routed through the portal's login page."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.audit_export import ACCOUNT_EVENTS
from accounts.forms import SignupForm
from accounts.models import AccountEvent, User
from accounts.services import account_access_end_by_staff
from accounts.signals import account_access_end_preview
from accounts.templatetags.browsers import user_agent
from accounts.views import safe_next_url
from common.admin import (
    AuditExportMixin,
    ReadOnlyAdminMixin,
    SafeLookupsMixin,
    SafeSelectedActionsMixin,
)


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


class EndAccessForm(forms.Form):
    """The confirmation of "Delete all tokens and end all sessions": the account's sessions
    version the page was shown with, so a second submit changes nothing."""

    sessions_version = forms.IntegerField(min_value=0, max_value=2**31 - 1)


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

    def get_urls(self):
        view = self.admin_site.admin_view(self.end_access_view)
        return [
            path("<path:object_id>/end-access/", view, name="accounts_user_end_access"),
            *super().get_urls(),
        ]

    @method_decorator(never_cache)
    @method_decorator(require_http_methods(["GET", "POST"]))
    def end_access_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """ "Delete all tokens and end all sessions": GET shows what goes, POST does it."""
        user = self.get_object(request, unquote(object_id))
        if user is None:
            raise Http404("No such user.")
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        change_url = reverse("admin:accounts_user_change", args=[user.pk])
        if user.pk == request.user.pk:
            # Staff would sign themselves out mid-action; their own Security page does this.
            self.message_user(
                request,
                "You cannot end your own sessions here: use Sign out everywhere else on "
                "your Security page.",
                messages.WARNING,
            )
            return HttpResponseRedirect(change_url)
        form = EndAccessForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            deleted = account_access_end_by_staff(
                user=user,
                actor=request.user,
                expected_sessions_version=form.cleaned_data["sessions_version"],
                request=request,
            )
            if deleted is None:
                self.message_user(
                    request,
                    "Nothing to do: this account's sessions were ended meanwhile (a second "
                    "submit, or another staff member). Check the account's security log.",
                    messages.INFO,
                )
            else:
                plural = "" if deleted == 1 else "s"
                self.log_change(
                    request, user, f"Ended all sessions and deleted {deleted} API token{plural}."
                )
                self.message_user(
                    request,
                    f"Ended every session of {user.email} and deleted {deleted} API "
                    f"token{plural}. The owner was emailed once.",
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(change_url)
        if request.method == "POST":
            self.message_user(
                request,
                "The confirmation was not understood (the page may be out of date). "
                "Check the list again and confirm.",
                messages.WARNING,
            )
        removals = [
            line
            for _receiver, lines in account_access_end_preview.send(sender=User, user=user)
            if isinstance(lines, list)
            for line in lines
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Delete all tokens and end all sessions?",
            "opts": self.opts,
            "original": user,
            "removals": removals,
            "sessions_version": user.sessions_version,
            "change_url": change_url,
        }
        return TemplateResponse(
            request, "admin/accounts/user/end_access_confirmation.html", context
        )


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
    AuditExportMixin,
    SafeSelectedActionsMixin,
    SafeLookupsMixin,
    ReadOnlyAdminMixin,
    admin.ModelAdmin,
):
    """The accounts' security logs, read-only (an audit trail is never edited)."""

    list_display = ("created_at", "user", "kind", "detail", "ip", "client")
    list_filter = ("kind", "created_at")
    search_fields = ("user__email", "ip")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    audit_export = ACCOUNT_EVENTS

    class Media:
        # Short labels stay on one line ("Signed in"), as on the tokens' security log.
        css = {"all": ("css/admin_audit.css",)}

    @admin.display(description="Client", ordering="user_agent")
    def client(self, event: AccountEvent) -> str:
        """The browser or tool by name ("Firefox on Linux"), the raw header on hover: the
        whole header made the column wider than the page."""
        return user_agent(event.user_agent, "-")
