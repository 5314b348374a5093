"""The token policy admin: the one policy row, edited on its change page and saved
through the service; on save, staff are told how many existing tokens break it."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from apitokens import selectors, services
from apitokens.admin.display import changelist_url
from apitokens.models import TokenPolicy


@admin.register(TokenPolicy)
class TokenPolicyAdmin(admin.ModelAdmin):
    """The one token policy row: its changelist is its change page, created from the
    environment's defaults the first time it is saved. No add, no delete."""

    fields = (
        "max_lifetime_days",
        "expiry_required",
        "allowlist_required",
        "stale_token_days",
        "updated_at",
        "updated_by",
    )
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_object(self, request: HttpRequest, object_id: str, from_field=None):
        # Before staff first save it, the page shows the defaults the site runs with.
        if str(object_id) != str(TokenPolicy.SINGLETON_ID):
            return None
        return TokenPolicy.current()

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return redirect(
            reverse("admin:apitokens_tokenpolicy_change", args=[TokenPolicy.SINGLETON_ID])
        )

    def save_model(self, request: HttpRequest, obj: TokenPolicy, form, change: bool) -> None:
        services.token_policy_save(policy=obj, actor=request.user)

    def response_change(self, request: HttpRequest, obj: TokenPolicy) -> HttpResponse:
        count = selectors.tokens_breaking_policy(token_policy=obj).count()
        if count:
            self.message_user(
                request,
                format_html(
                    "The policy applies to tokens created and regenerated from now on. "
                    '<a href="{}">{} existing token{} break{} it</a>: select them there and '
                    "use “Expire selected tokens on a date”.",
                    changelist_url("apitoken", policy="breaks"),
                    count,
                    "s" if count != 1 else "",
                    "" if count != 1 else "s",
                ),
                messages.WARNING,
            )
        else:
            self.message_user(request, "Token policy saved.", messages.SUCCESS)
        if "_continue" in request.POST:
            return redirect(request.path)
        return redirect(reverse("admin:index"))
