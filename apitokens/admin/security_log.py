"""The security log admin: token lifecycle events, read-only (the app never edits or
deletes them), searchable by account, address, token name or identifier."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q
from django.utils.html import format_html

from apitokens.admin.changelist import CappedCountPaginator, NoDigestLookupsMixin, is_ip_address
from apitokens.admin.display import actor_label, short_time, token_admin_link, user_admin_link
from apitokens.admin.filters import TokenPublicIdFilter
from apitokens.audit_export import SECURITY_EVENTS
from apitokens.event_details import security_event_details
from apitokens.models import SecurityEvent
from common.admin import AuditExportMixin, ReadOnlyAdminMixin, SafeLookupsMixin


@admin.register(SecurityEvent)
class SecurityEventAdmin(
    AuditExportMixin, SafeLookupsMixin, NoDigestLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    """Token lifecycle events. Read-only: the app never edits or deletes them."""

    list_display = (
        "time",
        "kind",
        "token_display",
        "account_link",
        "actor_display",
        "ip",
        "detail_display",
    )
    list_filter = ("kind", ("created_at", admin.DateFieldListFilter), TokenPublicIdFilter)
    search_fields = ("account__email", "ip", "token_name", "token_identifier")
    search_help_text = "Search by account email, IP address, token name or identifier."
    list_select_related = ("account", "actor", "token")
    raw_id_fields = ("token", "account", "actor")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedCountPaginator
    list_per_page = 100
    actions = None
    audit_export = SECURITY_EVENTS

    class Media:
        css = {"all": ("css/admin_audit.css",)}

    def get_search_results(self, request, queryset, search_term):
        """An IP address matches the IP column only (an `inet` lookup with any other text
        fails on PostgreSQL); anything else matches account email, token name or
        identifier."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if is_ip_address(term):
            return queryset.filter(ip=term), False
        return (
            queryset.filter(
                Q(account__email__icontains=term)
                | Q(token_name__icontains=term)
                | Q(token_identifier__startswith=term)
            ),
            False,
        )

    @admin.display(description="time", ordering="created_at")
    def time(self, event: SecurityEvent) -> str:
        return short_time(event.created_at, seconds=True)

    @admin.display(description="token", ordering="token_name")
    def token_display(self, event: SecurityEvent) -> str:
        if event.token is not None:
            return token_admin_link(event.token)
        return f"{event.token_name} {event.token_identifier}".strip() or "—"

    @admin.display(description="account", ordering="account__email")
    def account_link(self, event: SecurityEvent) -> str:
        if event.account is None:  # unknown tokens: no account to show
            return "—"
        return user_admin_link(event.account_id, event.account.email)

    @admin.display(description="by")
    def actor_display(self, event: SecurityEvent) -> str:
        return actor_label(event)

    @admin.display(description="detail")
    def detail_display(self, event: SecurityEvent) -> str:
        # A repeated event's count and last time follow its detail, as on the owner's page:
        # two columns fewer keep Detail in view at 1280 px.
        details = security_event_details(event)
        if event.count <= 1:
            return details or "—"
        return format_html(
            '{}{}<span class="audit-nowrap">{} times</span>, the last {}',
            details,
            " · " if details else "",
            event.count,
            short_time(event.last_seen_at, seconds=True),
        )
