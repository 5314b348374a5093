"""The API activity admin: what tokens did, read-only, cheap at a million rows (capped
count, one-column searches, no DISTINCT filters). It also routes the usage dashboard
(`apitokens.admin.dashboard`)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest
from django.urls import path
from django.utils.html import format_html

from apitokens.admin import dashboard
from apitokens.admin.changelist import (
    SEARCH_MATCH_LIMIT,
    CappedCountPaginator,
    EmptyAwareChangeList,
    NoDigestLookupsMixin,
    is_ip_address,
)
from apitokens.admin.display import short_time, token_admin_link, user_admin_link
from apitokens.admin.filters import (
    MethodFilter,
    OutsideAllowlistFilter,
    OwnerFilter,
    StatusClassFilter,
    TokenPublicIdFilter,
)
from apitokens.audit_export import ACTIVITY
from apitokens.models import APIToken, TokenActivity
from common.admin import AuditExportMixin, ReadOnlyAdminMixin
from common.request_id import request_id_valid


@admin.register(TokenActivity)
class TokenActivityAdmin(
    AuditExportMixin, NoDigestLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    """What tokens did. Read-only; rows go away only through `prune_token_activity`."""

    list_display = (
        "time",
        "method",
        "path",
        "status",
        "token_link",
        "owner_link",
        "ip",
        "flagged_badge",
        "duration",
    )
    list_filter = (
        StatusClassFilter,
        MethodFilter,
        "flagged",
        OutsideAllowlistFilter,
        TokenPublicIdFilter,
        OwnerFilter,
    )
    date_hierarchy = "created_at"
    search_fields = ("ip", "path", "token__identifier", "owner__email", "request_id")
    search_help_text = (
        "An IP address, an exact path (/api/v1/me/), a request ID (req_…), a token "
        "identifier (qb_…), an owner's email, or words from a token name."
    )
    list_select_related = ("token", "owner")
    raw_id_fields = ("token", "owner")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedCountPaginator
    list_per_page = 100
    actions = None
    audit_export = ACTIVITY

    class Media:
        css = {"all": ("css/admin_audit.css",)}

    def get_urls(self):
        view = self.admin_site.admin_view(dashboard.dashboard)
        return [path("dashboard/", view, name="apitokens_dashboard"), *super().get_urls()]

    def get_changelist(self, request: HttpRequest, **kwargs) -> type[ChangeList]:
        return EmptyAwareChangeList

    def get_search_results(self, request, queryset, search_term):
        """Search one column chosen by the term's shape, so each search can use an index
        (an OR over four columns and two joins would read the whole table)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if is_ip_address(term):
            return queryset.filter(ip=term), False
        if term.startswith("/"):
            return queryset.filter(path=term), False
        if term.startswith("req_"):
            return queryset.filter(request_id=term), False
        # Resolve tokens and owners first (small tables), so the activity query filters on
        # an indexed foreign key instead of joining while it walks the time index.
        if term.startswith("qb_"):
            token_ids = APIToken.objects.filter(identifier__startswith=term).values_list("pk")
            return queryset.filter(token_id__in=list(token_ids[:SEARCH_MATCH_LIMIT])), False
        if "@" in term:
            owner_model = TokenActivity._meta.get_field("owner").related_model
            owner_ids = owner_model.objects.filter(email__iexact=term).values_list("pk")
            return queryset.filter(owner_id__in=list(owner_ids[:SEARCH_MATCH_LIMIT])), False
        # A trusted proxy's request ID has no prefix: one probe of its index tells it apart.
        if request_id_valid(term) and TokenActivity.objects.filter(request_id=term).exists():
            return queryset.filter(request_id=term), False
        token_ids = APIToken.objects.filter(name__icontains=term).values_list("pk")
        return queryset.filter(token_id__in=list(token_ids[:SEARCH_MATCH_LIMIT])), False

    @admin.display(description="time", ordering="created_at")
    def time(self, activity: TokenActivity) -> str:
        return short_time(activity.created_at, seconds=True)

    @admin.display(description="token", ordering="token__name")
    def token_link(self, activity: TokenActivity) -> str:
        return token_admin_link(activity.token)

    @admin.display(description="flagged", ordering="flagged", empty_value="")
    def flagged_badge(self, activity: TokenActivity) -> str:
        # A badge where something is wrong and nothing elsewhere: the admin's boolean icons
        # put a green tick on the dead-token request and a red cross on every normal one.
        if activity.outside_allowlist and not activity.flagged:
            return format_html(
                '<span class="audit-badge audit-badge-warning" title="{}">Outside allowlist</span>',
                "Served from outside the token's report-only IP allowlist",
            )
        if not activity.flagged:
            return ""
        return format_html(
            '<span class="audit-badge audit-badge-warning" title="{}">Flagged</span>',
            "Made with a deleted or expired token",
        )

    @admin.display(description="ms", ordering="duration_ms")
    def duration(self, activity: TokenActivity) -> int:
        return activity.duration_ms

    @admin.display(description="owner", ordering="owner__email")
    def owner_link(self, activity: TokenActivity) -> str:
        return user_admin_link(activity.owner_id, activity.owner.email)
