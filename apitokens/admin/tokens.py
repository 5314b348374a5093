"""The API token admin: who holds which tokens, each token's recent activity and security
log, and the staff actions (`apitokens.admin.actions`). Read-only otherwise."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from apitokens import selectors
from apitokens.admin import actions, lookup
from apitokens.admin.changelist import NoDigestLookupsMixin
from apitokens.admin.display import (
    actor_label,
    changelist_url,
    full_time,
    short_time,
    user_admin_link,
)
from apitokens.admin.filters import (
    LastUsedFilter,
    OwnerIsStaffFilter,
    PausedFilter,
    PolicyBreachFilter,
    StaleFilter,
    TokenStatusFilter,
)
from apitokens.event_details import security_event_details
from apitokens.models import APIToken, SecurityEvent, TokenActivity, TokenUsageHour
from common.admin import ReadOnlyAdminMixin, SafeLookupsMixin, SafeSelectedActionsMixin

# Activity and events shown on a token's admin page; the rest is one click away.
RECENT_ROWS_ON_TOKEN_PAGE = 20
RECENT_ROWS_TEMPLATE = "admin/apitokens/apitoken/recent_rows.html"
REQUESTS_WINDOW_HOURS = 24


def recent_refusals_per_token(*, hours: int) -> Coalesce:
    """An annotation: each token's requests refused 401 (its value no longer works) over the
    same hours as `selectors.recent_requests_per_token`, so the two figures sit together."""
    refused = (
        TokenUsageHour.objects.filter(
            token=OuterRef("pk"), hour__gte=selectors.hour_window(hours=hours)
        )
        .order_by()
        .values("token")
        .annotate(refused=Sum("status_401"))
        .values("refused")
    )
    return Coalesce(Subquery(refused), 0)


def requests_text(*, requests: int, refused: int, status: str) -> str:
    """A token's request count, saying which were refused: "14 (refused: token deleted)"
    when every one was, "20 (6 refused)" when some were, else the bare count."""
    if not refused:
        return str(requests)
    if refused >= requests and status in ("deleted", "expired"):
        return f"{requests} (refused: token {status})"
    return f"{requests} ({refused} refused)"


@admin.register(APIToken)
class APITokenAdmin(
    SafeSelectedActionsMixin,
    SafeLookupsMixin,
    NoDigestLookupsMixin,
    ReadOnlyAdminMixin,
    admin.ModelAdmin,
):
    """Who holds which tokens. Tokens come only from their owner's page and rows are kept
    for audit after deletion: read-only apart from the staff actions."""

    list_display = (
        "name",
        "owner_link",
        "identifier_display",
        "status_badge",
        "paused",
        "created",
        "last_used",
        "requests_24h",
    )
    list_filter = (
        TokenStatusFilter,
        PausedFilter,
        ("created_at", admin.DateFieldListFilter),
        LastUsedFilter,
        StaleFilter,
        PolicyBreachFilter,
        ("owner__is_staff", OwnerIsStaffFilter),
    )
    search_fields = ("name", "owner__email", "identifier")
    search_help_text = "Search by token name, owner email or identifier (qb_…)."
    list_select_related = ("owner",)
    raw_id_fields = ("owner", "revoked_by")
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    actions = (
        actions.revoke_selected,
        actions.expire_selected,
        actions.pause_selected,
        actions.resume_selected,
    )

    class Media:
        css = {"all": ("css/admin_audit.css",)}

    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "owner",
                    "identifier",
                    "public_id",
                    "permissions",
                    "allowlist_display",
                    "status_badge",
                    "paused_since",
                    "paused_by_display",
                )
            },
        ),
        (
            "Dates",
            {
                "fields": (
                    "created_date",
                    "expires",
                    "last_used_date",
                    "last_used_ip_display",
                    "regenerated",
                    "previous_value",
                    "previous_value_until",
                )
            },
        ),
        ("Deletion", {"fields": ("deleted_at", "deleted_by", "deletion_reason")}),
        ("Recent activity", {"fields": ("recent_activity",)}),
        ("Security log", {"fields": ("security_log",)}),
    )
    readonly_fields = (
        "name",
        "owner",
        "identifier",
        "public_id",
        "permissions",
        "allowlist_display",
        "status_badge",
        "paused_since",
        "paused_by_display",
        "created_date",
        "expires",
        "last_used_date",
        "last_used_ip_display",
        "regenerated",
        "previous_value",
        "previous_value_until",
        "deleted_at",
        "deleted_by",
        "deletion_reason",
        "recent_activity",
        "security_log",
    )

    def get_urls(self):
        view = self.admin_site.admin_view(lookup.token_lookup)
        return [path("lookup/", view, name="apitokens_apitoken_lookup"), *super().get_urls()]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                requests_24h=selectors.recent_requests_per_token(hours=REQUESTS_WINDOW_HOURS),
                refused_24h=recent_refusals_per_token(hours=REQUESTS_WINDOW_HOURS),
            )
        )

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        """Revoking needs the model's delete permission (rows are never really deleted)."""
        return request.user.has_perm("apitokens.delete_apitoken")

    @admin.display(description="owner", ordering="owner__email")
    def owner_link(self, token: APIToken) -> str:
        return user_admin_link(token.owner_id, token.owner.email)

    @admin.display(description="identifier", ordering="identifier")
    def identifier_display(self, token: APIToken) -> str:
        return format_html('<span class="audit-mono audit-nowrap">{}</span>', token.identifier)

    @admin.display(description="Created Date", ordering="created_at")
    def created(self, token: APIToken) -> str:
        return short_time(token.created_at, date_only=True)

    @admin.display(description="Last Used", ordering="last_used_at")
    def last_used(self, token: APIToken) -> str:
        if token.last_used_at is None:
            return "Never"
        return format_html(
            '{}<br><span class="audit-mono">{}</span>',
            short_time(token.last_used_at),
            token.last_used_ip or "",
        )

    @admin.display(description="status")
    def status_badge(self, token: APIToken) -> str:
        status = token.status()
        return format_html(
            '<span class="audit-badge audit-badge-{}">{}</span>', status, status.capitalize()
        )

    @admin.display(description="paused", boolean=True, ordering="paused_at")
    def paused(self, token: APIToken) -> bool:
        return token.is_paused

    @admin.display(description="paused since")
    def paused_since(self, token: APIToken) -> str:
        return short_time(token.paused_at, seconds=True) if token.paused_at else "—"

    @admin.display(description="paused by")
    def paused_by_display(self, token: APIToken) -> str:
        if token.paused_by_id is None:
            return "—"
        return user_admin_link(token.paused_by_id, token.paused_by.email)

    # The portal's words: owners see "Permissions" and "Deleted", so staff read the same.
    @admin.display(description="permissions")
    def permissions(self, token: APIToken) -> str:
        return ", ".join(scope.capitalize() for scope in token.scope_list) or "None"

    @admin.display(description="deleted")
    def deleted_at(self, token: APIToken) -> str:
        return short_time(token.revoked_at) if token.revoked_at else "—"

    @admin.display(description="deleted by")
    def deleted_by(self, token: APIToken) -> str:
        if token.revoked_by_id is None:
            return "—"
        return user_admin_link(token.revoked_by_id, token.revoked_by.email)

    @admin.display(description="deletion reason")
    def deletion_reason(self, token: APIToken) -> str:
        return capfirst(token.get_revoked_reason_display()) or "—"

    @admin.display(description="IP allowlist")
    def allowlist_display(self, token: APIToken) -> str:
        entries = token.allowed_ip_list
        if not entries:
            return "Any address"
        listed = format_html_join(
            ", ", '<span class="audit-mono">{}</span>', ((entry,) for entry in entries)
        )
        if not token.allowlist_report_only:
            return listed
        return format_html(
            '{} <span class="audit-badge audit-badge-warning" title="{}">Report only</span>',
            listed,
            "Requests from other addresses are served and recorded, not refused",
        )

    @admin.display(description="requests (24 h)")
    def requests_24h(self, token: APIToken) -> str:
        # A deleted token's refused uses are requests too: say so beside its old Last Used.
        return requests_text(
            requests=getattr(token, "requests_24h", 0),
            refused=getattr(token, "refused_24h", 0),
            status=token.status(),
        )

    # The token page's words for the dates (the model's field names read "created at").
    @admin.display(description="Created Date")
    def created_date(self, token: APIToken) -> str:
        return short_time(token.created_at, seconds=True)

    @admin.display(description="Expires")
    def expires(self, token: APIToken) -> str:
        return short_time(token.expires_at, seconds=True) if token.expires_at else "No expiration"

    @admin.display(description="Last Used")
    def last_used_date(self, token: APIToken) -> str:
        return short_time(token.last_used_at, seconds=True) if token.last_used_at else "Never"

    @admin.display(description="Last used IP")
    def last_used_ip_display(self, token: APIToken) -> str:
        if not token.last_used_ip:
            return "—"
        return format_html('<span class="audit-mono audit-nowrap">{}</span>', token.last_used_ip)

    @admin.display(description="Regenerated")
    def regenerated(self, token: APIToken) -> str:
        return short_time(token.regenerated_at, seconds=True) if token.regenerated_at else "—"

    @admin.display(description="Previous value")
    def previous_value(self, token: APIToken) -> str:
        if not token.previous_identifier:
            return "—"
        return format_html('<span class="audit-mono">{}</span>', token.previous_identifier)

    @admin.display(description="Previous value works until")
    def previous_value_until(self, token: APIToken) -> str:
        if token.previous_expires_at is None:
            return "—"
        return short_time(token.previous_expires_at, seconds=True)

    @admin.display(description="recent activity")
    def recent_activity(self, token: APIToken) -> str:
        rows = TokenActivity.objects.filter(token=token).order_by("-created_at", "-id")[
            :RECENT_ROWS_ON_TOKEN_PAGE
        ]
        return render_to_string(
            RECENT_ROWS_TEMPLATE,
            {
                "label": "Recent activity",
                "headers": ("Time", "Method", "Path", "Status", "IP", ""),
                "rows": [
                    (
                        full_time(row.created_at),
                        row.method,
                        row.path,
                        row.status,
                        row.ip or "—",
                        "flagged" if row.flagged else "",
                    )
                    for row in rows
                ],
                "empty": "No requests recorded.",
                "link_url": changelist_url("tokenactivity", token=token.public_id),
                "link_text": "All activity of this token",
            },
        )

    @admin.display(description="security log")
    def security_log(self, token: APIToken) -> str:
        events = (
            SecurityEvent.objects.filter(token=token)
            .select_related("actor")
            .order_by("-created_at", "-id")[:RECENT_ROWS_ON_TOKEN_PAGE]
        )
        return render_to_string(
            RECENT_ROWS_TEMPLATE,
            {
                "label": "Security log",
                "headers": ("Time", "Event", "By", "IP", "Count", "Detail"),
                "rows": [
                    (
                        full_time(event.created_at),
                        event.get_kind_display(),
                        actor_label(event),
                        event.ip or "—",
                        event.count,
                        security_event_details(event),
                    )
                    for event in events
                ],
                "empty": "No events.",
                "link_url": changelist_url("securityevent", token=token.public_id),
                "link_text": "All security events of this token",
            },
        )
