"""Django admin for API tokens, their activity and the security log.

Staff can answer "who holds which tokens, what did they do with them, what looks
wrong". Secrets never appear: the identifier is shown, never the digest, and lookups
on a digest are refused. Activity and the security log are read-only. Changelists
stay cheap at a million activity rows: no full COUNT(*), joins selected up front,
filters that need no extra query.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from functools import cached_property

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.constants import LOOKUP_SEP
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.text import capfirst

from apitokens import admin_views, policy, selectors, services, stale
from apitokens.forms import PolicyExpiryForm
from apitokens.models import APIToken, SecurityEvent, TokenActivity, TokenPolicy, TokenUsageHour
from common.admin import SafeLookupsChangeList, SafeLookupsMixin, SafeSelectedActionsMixin

# Activity and events shown on a token's admin page; the rest is one click away.
RECENT_ROWS_ON_TOKEN_PAGE = 20
# A search term resolved to tokens or owners matches at most this many of them.
SEARCH_MATCH_LIMIT = 100


# --- Shared pieces -------------------------------------------------------------------------


class NoDigestLookupsMixin:
    """Refuse changelist lookups on any digest field (including through relations)."""

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # A digest lookup would turn the admin into an oracle for guessed or leaked values.
        if any("digest" in part for part in lookup.split(LOOKUP_SEP)):
            return False
        return super().lookup_allowed(lookup, value, request)  # type: ignore[misc]


class ReadOnlyAdminMixin:
    """Audit rows are written by the app only: no add, change or delete in admin."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class CappedCountPaginator(Paginator):
    """A paginator that counts at most `count_cap` rows.

    COUNT(*) over a million-row table costs a full index scan on every page view;
    counting `LIMIT cap + 1` rows is bounded. Past the cap, pages stop at the cap and
    the template says "more than". Narrow down with filters to see the rest.
    """

    count_cap = 10_000

    @cached_property
    def count(self) -> int:
        counted = self.object_list.order_by()[: self.count_cap + 1].count()
        self.is_capped = counted > self.count_cap
        return min(counted, self.count_cap)

    is_capped = False


class EmptyAwareChangeList(SafeLookupsChangeList):
    """Skips the page query when the count found nothing: ORDER BY time LIMIT over a
    filter that matches no row would walk the whole time index for nothing."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        if self.result_count == 0:
            self.result_list = self.queryset.none()

    def get_filters(self, request: HttpRequest, *args, **kwargs):
        # Django builds the date drill-down bounds outside its own try: a year like
        # 9999999999 (OverflowError) or 9999 (the year after is out of range) was a 500.
        try:
            return super().get_filters(request, *args, **kwargs)
        except (OverflowError, ValueError) as error:
            raise IncorrectLookupParameters(error) from error


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def user_admin_link(user_id: int | None, label: str) -> str:
    """A link to the user's admin page, or plain text if users are not in admin."""
    if user_id is None:
        return "—"
    try:
        url = reverse("admin:accounts_user_change", args=[user_id])
    except NoReverseMatch:
        return label
    return format_html('<a href="{}">{}</a>', url, label)


def token_admin_link(token: APIToken | None, fallback: str = "—") -> str:
    if token is None:
        return fallback
    url = reverse("admin:apitokens_apitoken_change", args=[token.pk])
    return format_html(
        '<a href="{}">{}</a> <span class="audit-mono audit-nowrap">{}</span>',
        url,
        token.name,
        token.identifier,
    )


def short_time(moment, *, seconds: bool = False, date_only: bool = False) -> str:
    """A compact local timestamp for changelists, with the full one in a tooltip."""
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    # The portal's date format ("1 Dec 2026, 08:06"), so staff and owners read the same dates.
    text_format = "j M Y, H:i:s" if seconds else "j M Y, H:i"
    text = dateformat.format(local, "j M Y" if date_only else text_format)
    return format_html(
        '<time class="audit-nowrap" datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        dateformat.format(local, "D j M Y, H:i:s T"),
        text,
    )


def changelist_url(model_name: str, **params: object) -> str:
    url = reverse(f"admin:apitokens_{model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


class TokenPublicIdFilter(admin.SimpleListFilter):
    """Narrow to one token, chosen by a link (`?token=<public id>`), never a 10,000-row list."""

    title = "token"
    parameter_name = "token"

    def lookups(self, request, model_admin):
        value = self.value()
        if not value:
            return ()
        token = APIToken.objects.filter(public_id=value).only("name", "identifier").first()
        return ((value, str(token) if token else value),)

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(token__public_id=self.value())
        return queryset


# --- API tokens ------------------------------------------------------------------------------


class TokenStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return (("active", "Active"), ("expired", "Expired"), ("deleted", "Deleted"))

    def queryset(self, request, queryset):
        now = timezone.now()
        match self.value():
            case "active":
                return queryset.usable(now)
            case "expired":
                return queryset.active().filter(expires_at__lte=now)
            case "deleted":
                return queryset.revoked()
        return queryset


class OwnerIsStaffFilter(admin.BooleanFieldListFilter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.title = "owner is staff"


class LastUsedFilter(admin.SimpleListFilter):
    title = "last used"
    parameter_name = "last_used"

    def lookups(self, request, model_admin):
        return (
            ("never", "Never"),
            ("30", "Over 30 days ago"),
            ("90", "Over 90 days ago"),
        )

    def queryset(self, request, queryset):
        now = timezone.now()
        match self.value():
            case "never":
                return queryset.filter(last_used_at__isnull=True)
            case "30":
                return queryset.filter(last_used_at__lt=now - timedelta(days=30))
            case "90":
                return queryset.filter(last_used_at__lt=now - timedelta(days=90))
        return queryset


class StaleFilter(admin.SimpleListFilter):
    """Tokens nobody uses, by the owner page's rule (`apitokens.stale`)."""

    title = "stale"
    parameter_name = "stale"

    def lookups(self, request, model_admin):
        return (("yes", "Stale (unused or never used)"),)

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        now = timezone.now()
        return (queryset & APIToken.objects.usable(now)).filter(stale.stale_condition(now))


class PolicyBreachFilter(admin.SimpleListFilter):
    """Usable tokens that break the staff token policy (`apitokens.policy.breach_condition`)."""

    title = "token policy"
    parameter_name = "policy"

    def lookups(self, request, model_admin):
        return (("breaks", "Breaks the policy"),)

    def queryset(self, request, queryset):
        if self.value() != "breaks":
            return queryset
        now = timezone.now()
        breach = policy.breach_condition(TokenPolicy.current(), now)
        return (queryset & APIToken.objects.usable(now)).filter(breach)


@admin.register(APIToken)
class APITokenAdmin(
    SafeSelectedActionsMixin, SafeLookupsMixin, NoDigestLookupsMixin, admin.ModelAdmin
):
    """Who holds which tokens. Read-only apart from the staff revoke action."""

    list_display = (
        "name",
        "owner_link",
        "identifier_display",
        "status_badge",
        "created",
        "last_used",
        "requests_24h",
    )
    list_filter = (
        TokenStatusFilter,
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
    actions = ("revoke_selected", "expire_selected")

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
                )
            },
        ),
        (
            "Dates",
            {
                "fields": (
                    "created_at",
                    "expires_at",
                    "last_used_at",
                    "last_used_ip",
                    "regenerated_at",
                    "previous_identifier",
                    "previous_expires_at",
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
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_ip",
        "regenerated_at",
        "previous_identifier",
        "previous_expires_at",
        "deleted_at",
        "deleted_by",
        "deletion_reason",
        "recent_activity",
        "security_log",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # A correlated subquery over the hourly rollups (the last 24 UTC hours, as the
        # dashboard counts them), evaluated only for the rows of the page shown.
        since = selectors.hour_window(hours=24)
        recent = (
            TokenUsageHour.objects.filter(token=OuterRef("pk"), hour__gte=since)
            .order_by()
            .values("token")
            .annotate(requests=Sum("requests"))
            .values("requests")
        )
        return super().get_queryset(request).annotate(requests_24h=Coalesce(Subquery(recent), 0))

    # Tokens come only from their owner's page; rows are kept for audit after deletion.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        """Revoking needs the model's delete permission (rows are never really deleted)."""
        return request.user.has_perm("apitokens.delete_apitoken")

    @admin.display(description="owner", ordering="owner__email")
    def owner_link(self, token: APIToken) -> str:
        return user_admin_link(token.owner_id, token.owner.email)

    @admin.display(description="identifier", ordering="identifier")
    def identifier_display(self, token: APIToken) -> str:
        return format_html('<span class="audit-mono audit-nowrap">{}</span>', token.identifier)

    @admin.display(description="created", ordering="created_at")
    def created(self, token: APIToken) -> str:
        return short_time(token.created_at, date_only=True)

    @admin.display(description="last used", ordering="last_used_at")
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
        return format_html_join(
            ", ", '<span class="audit-mono">{}</span>', ((entry,) for entry in entries)
        )

    @admin.display(description="requests (24 h)")
    def requests_24h(self, token: APIToken) -> int:
        return getattr(token, "requests_24h", 0)

    @admin.display(description="recent activity")
    def recent_activity(self, token: APIToken) -> str:
        rows = TokenActivity.objects.filter(token=token).order_by("-created_at", "-id")[
            :RECENT_ROWS_ON_TOKEN_PAGE
        ]
        return _inline_table(
            ("Time", "Method", "Path", "Status", "IP", ""),
            (
                (
                    dateformat.format(timezone.localtime(row.created_at), "j M Y, H:i:s"),
                    row.method,
                    row.path,
                    row.status,
                    row.ip or "—",
                    "flagged" if row.flagged else "",
                )
                for row in rows
            ),
            empty="No requests recorded.",
            label="Recent activity",
            link=format_html(
                '<a href="{}">All activity of this token</a>',
                changelist_url("tokenactivity", token=token.public_id),
            ),
        )

    @admin.display(description="security log")
    def security_log(self, token: APIToken) -> str:
        events = (
            SecurityEvent.objects.filter(token=token)
            .select_related("actor")
            .order_by("-created_at", "-id")[:RECENT_ROWS_ON_TOKEN_PAGE]
        )
        return _inline_table(
            ("Time", "Event", "By", "IP", "Count", "Detail"),
            (
                (
                    dateformat.format(timezone.localtime(event.created_at), "j M Y, H:i:s"),
                    event.get_kind_display(),
                    _actor_label(event),
                    event.ip or "—",
                    event.count,
                    event.detail,
                )
                for event in events
            ),
            empty="No events.",
            label="Security log",
            link=format_html(
                '<a href="{}">All security events of this token</a>',
                changelist_url("securityevent", token=token.public_id),
            ),
        )

    @admin.action(
        description="Delete (revoke) selected tokens",
        permissions=["revoke"],
        location=[admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM],
    )
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Ask for confirmation, then revoke each selected active token through the service,
        recording the staff member who did it."""
        tokens = list(
            queryset.filter(revoked_at__isnull=True).select_related("owner").order_by("pk")
        )
        already_deleted = queryset.filter(revoked_at__isnull=False).count()
        if request.POST.get("post") == "yes":
            client = services.ClientInfo.from_request(request)
            revoked = 0
            for token in tokens:
                if services.api_token_revoke(
                    token=token,
                    actor=request.user,
                    reason=APIToken.RevokedBy.STAFF,
                    client=client,
                ):
                    revoked += 1
                    self.log_change(request, token, "Deleted (revoked) by staff.")
            if revoked:
                self.message_user(
                    request,
                    f"Deleted (revoked) {revoked} token{'s' if revoked != 1 else ''}. "
                    "Applications using them lost access immediately.",
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    "Nothing to do: the selected tokens were already deleted.",
                    messages.INFO,
                )
            return None
        on_change_form = f"{admin.ActionLocation.CHANGE_FORM.value}-action" in request.POST
        context = {
            **self.admin_site.each_context(request),
            "title": "Delete (revoke) tokens?",
            "opts": self.opts,
            "tokens": tokens,
            "already_deleted": already_deleted,
            "selected_ids": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_field_name": (
                f"{admin.ActionLocation.CHANGE_FORM.value}-action" if on_change_form else "action"
            ),
        }
        return TemplateResponse(
            request, "admin/apitokens/apitoken/revoke_selected_confirmation.html", context
        )

    @admin.action(
        description="Expire selected tokens on a date (token policy)",
        permissions=["revoke"],
    )
    def expire_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Ask for a date, then bring each selected usable token's expiry forward to the end
        of that day through the service (security log, owner emailed). Tokens that expire
        earlier already, deleted or expired ones are left alone."""
        now = timezone.now()
        current_policy = TokenPolicy.current()
        selected = list(queryset.select_related("owner").order_by("pk"))
        usable = [token for token in selected if token.status(now) == "active"]
        confirmed = request.POST.get("post") == "yes"
        form = PolicyExpiryForm(request.POST if confirmed else None, now=now)
        if confirmed and form.is_valid():
            expires_at = form.cleaned_data["expires_on"]
            client = services.ClientInfo.from_request(request)
            changed = 0
            for token in usable:
                if services.api_token_expire_by_policy(
                    token=token, expires_at=expires_at, actor=request.user, client=client, now=now
                ):
                    changed += 1
                    self.log_change(request, token, "Expiry brought forward (token policy).")
            day = timezone.localdate(expires_at)
            if changed:
                self.message_user(
                    request,
                    f"{changed} token{'s' if changed != 1 else ''} now expire on {day:%Y-%m-%d}; "
                    "their owners were emailed.",
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    f"Nothing to do: the selected tokens already expire by {day:%Y-%m-%d}, or "
                    "are deleted or expired.",
                    messages.INFO,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Expire tokens on a date?",
            "opts": self.opts,
            "form": form,
            "rows": [
                (token, policy.breach_reasons(token, current_policy, now)) for token in usable
            ],
            "left_alone": len(selected) - len(usable),
            "selected_ids": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/apitokens/apitoken/expire_selected_confirmation.html", context
        )


def _actor_label(event: SecurityEvent) -> str:
    if event.actor_kind == SecurityEvent.Actor.STAFF and event.actor is not None:
        return f"staff ({event.actor.email})"
    return event.get_actor_kind_display()


def _inline_table(headers, rows, *, empty: str, link, label: str) -> str:
    """A read-only table on the token change page (escaped cells), in a box that scrolls
    sideways on a phone, followed by `link`; `empty` instead when there are no rows."""
    rows = list(rows)
    if not rows:
        return format_html("<p>{}</p>{}", empty, link)
    cells = "".join(["<td>{}</td>"] * len(headers))
    # Focusable and named, so a keyboard can scroll the box (WCAG 2.1.1).
    return format_html(
        '<div class="audit-inline-scroll" tabindex="0" role="region" aria-label="{}">'
        '<table class="audit-inline-table">'
        "<thead><tr>{}</tr></thead><tbody>{}</tbody></table></div><p>{}</p>",
        label,
        format_html_join("", "<th>{}</th>", ((header,) for header in headers)),
        format_html_join("", f"<tr>{cells}</tr>", rows),
        link,
    )


# --- Activity ------------------------------------------------------------------------------


class StatusClassFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status_class"

    def lookups(self, request, model_admin):
        return tuple((key, label) for key, (label, _query) in selectors.STATUS_CLASSES.items())

    # Classes that are a large share of all requests. Filtering them with the status index
    # would read every matching row to sort by time (seconds at a million rows); filtering
    # on status / 100, which no index serves, makes the database walk the time index
    # newest first and stop after one page.
    common_classes = ("2xx", "4xx")

    def queryset(self, request, queryset):
        value = self.value()
        if value in self.common_classes:
            hundreds = int(value[0])
            return queryset.alias(status_hundreds=F("status") / 100).filter(
                status_hundreds=hundreds
            )
        if value in selectors.STATUS_CLASSES:
            return queryset.filter(selectors.STATUS_CLASSES[value][1])
        return queryset


class MethodFilter(admin.SimpleListFilter):
    """A fixed list: the default filter would run SELECT DISTINCT over every row."""

    title = "method"
    parameter_name = "method"
    methods = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

    def lookups(self, request, model_admin):
        return tuple((method, method) for method in self.methods)

    def queryset(self, request, queryset):
        if self.value() in self.methods:
            return queryset.filter(method=self.value())
        return queryset


class OwnerFilter(admin.SimpleListFilter):
    """Narrow to one account, chosen by a link (`?owner=<user id>`)."""

    title = "owner"
    parameter_name = "owner"

    def owner_id(self) -> int | None:
        value = self.value() or ""
        # Anything but a plain 64-bit id is ignored (never a database error).
        if value.isascii() and value.isdigit() and int(value) < 2**63:
            return int(value)
        return None

    def lookups(self, request, model_admin):
        owner_id = self.owner_id()
        if owner_id is None:
            return ()
        owner = model_admin.model._meta.get_field("owner").related_model
        user = owner.objects.filter(pk=owner_id).only("email").first()
        return ((str(owner_id), user.email if user else str(owner_id)),)

    def queryset(self, request, queryset):
        owner_id = self.owner_id()
        return queryset if owner_id is None else queryset.filter(owner_id=owner_id)


@admin.register(TokenActivity)
class TokenActivityAdmin(NoDigestLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """What tokens did. Read-only; rows go away only through `prune_token_activity`."""

    list_display = (
        "time",
        "method",
        "path",
        "status",
        "token_link",
        "owner_link",
        "ip",
        "flagged",
        "duration_ms",
    )
    list_filter = (StatusClassFilter, MethodFilter, "flagged", TokenPublicIdFilter, OwnerFilter)
    date_hierarchy = "created_at"
    search_fields = ("ip", "path", "token__identifier", "owner__email")
    search_help_text = (
        "An IP address, an exact path (/api/v1/me/), a token identifier (qb_…), "
        "an owner's email, or words from a token name."
    )
    list_select_related = ("token", "owner")
    raw_id_fields = ("token", "owner")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedCountPaginator
    list_per_page = 100
    actions = None

    class Media:
        css = {"all": ("css/admin_audit.css",)}

    def get_urls(self):
        dashboard = self.admin_site.admin_view(admin_views.dashboard)
        return [
            path("dashboard/", dashboard, name="apitokens_dashboard"),
            *super().get_urls(),
        ]

    def get_changelist(self, request: HttpRequest, **kwargs) -> type[ChangeList]:
        return EmptyAwareChangeList

    def get_search_results(self, request, queryset, search_term):
        """Search one column chosen by the term's shape, so each search can use an index
        (an OR over four columns and two joins would read the whole table)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if _is_ip_address(term):
            return queryset.filter(ip=term), False
        if term.startswith("/"):
            return queryset.filter(path=term), False
        # Resolve tokens and owners first (small tables), so the activity query filters on
        # an indexed foreign key instead of joining while it walks the time index.
        if term.startswith("qb_"):
            token_ids = APIToken.objects.filter(identifier__startswith=term).values_list("pk")
            return queryset.filter(token_id__in=list(token_ids[:SEARCH_MATCH_LIMIT])), False
        if "@" in term:
            owner_model = TokenActivity._meta.get_field("owner").related_model
            owner_ids = owner_model.objects.filter(email__iexact=term).values_list("pk")
            return queryset.filter(owner_id__in=list(owner_ids[:SEARCH_MATCH_LIMIT])), False
        token_ids = APIToken.objects.filter(name__icontains=term).values_list("pk")
        return queryset.filter(token_id__in=list(token_ids[:SEARCH_MATCH_LIMIT])), False

    @admin.display(description="time", ordering="created_at")
    def time(self, activity: TokenActivity) -> str:
        return short_time(activity.created_at, seconds=True)

    @admin.display(description="token", ordering="token__name")
    def token_link(self, activity: TokenActivity) -> str:
        return token_admin_link(activity.token)

    @admin.display(description="owner", ordering="owner__email")
    def owner_link(self, activity: TokenActivity) -> str:
        return user_admin_link(activity.owner_id, activity.owner.email)


# --- Security log ---------------------------------------------------------------------------


@admin.register(SecurityEvent)
class SecurityEventAdmin(
    SafeLookupsMixin, NoDigestLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    """Token lifecycle events. Read-only: the app never edits or deletes them."""

    list_display = (
        "time",
        "kind",
        "token_display",
        "account_link",
        "actor_display",
        "ip",
        "count",
        "last_seen",
        "detail",
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

    class Media:
        css = {"all": ("css/admin_audit.css",)}

    def get_search_results(self, request, queryset, search_term):
        """An IP address matches the IP column only (an `inet` lookup with any other text
        fails on PostgreSQL); anything else matches account email, token name or
        identifier."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if _is_ip_address(term):
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

    @admin.display(description="last seen", ordering="last_seen_at")
    def last_seen(self, event: SecurityEvent) -> str:
        return short_time(event.last_seen_at, seconds=True)

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
        return _actor_label(event)


# --- Token policy ---------------------------------------------------------------------------


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
        breaking = APIToken.objects.usable().filter(policy.breach_condition(obj, timezone.now()))
        count = breaking.count()
        if count:
            url = f"{changelist_url('apitoken', policy='breaks')}"
            self.message_user(
                request,
                format_html(
                    "The policy applies to tokens created and regenerated from now on. "
                    '<a href="{}">{} existing token{} break{} it</a>: select them there and '
                    "use “Expire selected tokens on a date”.",
                    url,
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
