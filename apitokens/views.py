"""Account settings > API Tokens: list, create (value shown once), edit, regenerate, delete.

Every view serves both htmx (modal bodies, rendered from named partials of
`apitokens/token_list.html`) and plain HTML pages for browsers without JavaScript.
Nothing here is cacheable: a response may carry a token value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event
from django_htmx.middleware import HtmxDetails

from accounts.models import User
from accounts.sudo import sudo_required
from apitokens import charts, expiry, selectors, services, stale
from apitokens.api.limits import usage_for
from apitokens.forms import (
    TokenCreateForm,
    TokenEditForm,
    TokenRegenerateForm,
    name_taken_error,
)
from apitokens.models import APIToken
from apitokens.services import ClientInfo, TokenNameTaken
from common.clientip import client_ip

logger = logging.getLogger(__name__)

LIST_TEMPLATE = "apitokens/token_list.html"
# The event the token table listens for (`hx-trigger="tokensChanged from:body"`).
TOKENS_CHANGED_EVENT = "tokensChanged"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
    user: User


@dataclass(frozen=True, slots=True)
class TokenRow:
    """One token as the list shows it."""

    token: APIToken
    last_used: str
    expires: expiry.ExpiryDescription
    expired: bool
    stale: bool = False


def token_rows(tokens, now: datetime) -> list[TokenRow]:
    """The display rows for `tokens`, in the order given."""
    return [
        TokenRow(
            token=token,
            last_used=last_used_text(token.last_used_at, now),
            expires=expiry.describe_expiry(token, now),
            expired=token.is_expired(now),
            stale=stale.is_stale(token, now),
        )
        for token in tokens
    ]


def last_used_text(last_used_at: datetime | None, now: datetime) -> str:
    """ "Never", "Just now", or "3 hours ago" (the largest unit only)."""
    if last_used_at is None:
        return "Never"
    if (now - last_used_at).total_seconds() < 60:
        return "Just now"
    return f"{timesince(last_used_at, now, depth=1)} ago"


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """The account's hourly request limit as the page shows it."""

    limit: int
    used: int
    remaining: int
    reset_at: datetime | None

    @property
    def level(self) -> str:
        """ "over" at and past the limit, "near" from 80 % of it, else "" (the bar's colour)."""
        if self.limit and self.used >= self.limit:
            return "over"
        if self.limit and self.used * 5 >= self.limit * 4:
            return "near"
        return ""


def rate_limit_usage(user: User) -> UsageSummary | None:
    """The account's hourly request limit, usage this window and reset time, or None.

    Never breaks the page: the counters live in the cache, which may be down.
    """
    try:
        state = usage_for(user)
        reset_at = state.reset_at
        if isinstance(reset_at, int | float):
            reset_at = datetime.fromtimestamp(reset_at, tz=UTC)
        return UsageSummary(
            limit=state.limit, used=state.used, remaining=state.remaining, reset_at=reset_at
        )
    except Exception:  # noqa: BLE001 - the page works without the numbers
        logger.warning("Could not read the rate-limit usage for user %s", user.pk, exc_info=True)
        return None


def _list_context(request: HtmxHttpRequest) -> dict:
    now = timezone.now()
    tokens = list(request.user.api_tokens.active())
    rows = token_rows(tokens, now)
    return {
        "rows": rows,
        "stale_count": sum(row.stale for row in rows),
        "stale_days": stale.stale_after_days(),
        "now": now,
        "at_limit": len(tokens) >= settings.QUICKBOT_MAX_TOKENS_PER_USER,
        "max_tokens": settings.QUICKBOT_MAX_TOKENS_PER_USER,
    }


def login_required_htmx(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """`login_required`, except that an htmx request (a modal) from a signed-out session
    sends the whole page to the login form instead of swapping it into the modal."""
    protected = login_required(view)

    @wraps(view)
    def wrapper(request: HtmxHttpRequest, *args, **kwargs) -> HttpResponse:
        if request.htmx and not request.user.is_authenticated:
            next_path = request.htmx.current_url_abs_path or request.get_full_path()
            return HttpResponseClientRedirect(redirect_to_login(next_path).url)
        return protected(request, *args, **kwargs)

    return wrapper


def _close_modal(request: HtmxHttpRequest) -> HttpResponse:
    """htmx answer that empties #modal-root, shows the messages and refreshes the table."""
    response = HttpResponse(render_to_string("base.html#messages", request=request))
    return trigger_client_event(response, TOKENS_CHANGED_EVENT)


def _owned_token(request: HtmxHttpRequest, public_id: str) -> APIToken:
    """The signed-in user's token with this public id (deleted ones included), else 404:
    another account's id is a 404 by construction."""
    return get_object_or_404(request.user.api_tokens.all(), public_id=public_id)


def _already_deleted(request: HtmxHttpRequest, token: APIToken) -> HttpResponse:
    """A second tab or a double click acted on a token that is gone: say so, no error."""
    messages.info(request, f"Token ‘{token.name}’ was already deleted.")
    return _close_modal(request) if request.htmx else redirect("apitokens:list")


def _email_unverified(request: HtmxHttpRequest) -> HttpResponse | None:
    """An account whose address is not confirmed cannot mint tokens: say so on the list page
    (which offers to resend the link). None when the address is confirmed."""
    if request.user.email_verified:
        return None
    messages.error(
        request,
        "Confirm your email address before creating or regenerating tokens: open the link "
        "we emailed you, or send a new one below.",
    )
    if request.htmx:
        return HttpResponseClientRedirect(reverse("apitokens:list"))
    return redirect("apitokens:list")


def _show_new_value(
    request: HtmxHttpRequest, *, token: APIToken, value: str, regenerated: bool
) -> HttpResponse:
    context = {"token": token, "token_value": value, "regenerated": regenerated}
    if request.htmx:
        response = render(request, f"{LIST_TEMPLATE}#created-modal", context)
        return trigger_client_event(response, TOKENS_CHANGED_EVENT)
    return render(request, "apitokens/token_new.html", context)


@never_cache
@login_required_htmx
@require_safe
def token_list(request: HtmxHttpRequest) -> HttpResponse:
    """The API Tokens page; for the table's own htmx refresh, just the table."""
    context = _list_context(request)
    if request.htmx and request.htmx.target == "token-table":
        return render(request, f"{LIST_TEMPLATE}#token-table", context)
    context["usage"] = rate_limit_usage(request.user)
    # Done on the no-JavaScript "Token created" page comes back with ?created=<public id>:
    # the new row is highlighted (an id, never the value).
    context["created_id"] = request.GET.get("created", "")
    return render(request, LIST_TEMPLATE, context)


@never_cache
@login_required_htmx
@require_http_methods(["GET", "HEAD", "POST"])
@sudo_required
def token_new(request: HtmxHttpRequest) -> HttpResponse:
    """The "Create Token" form; a valid POST shows the new value once."""
    if refusal := _email_unverified(request):
        return refusal
    if request.method == "POST":
        form = TokenCreateForm(request.POST, user=request.user, current_ip=client_ip(request))
        created: tuple[APIToken, str] | None = None
        with transaction.atomic():
            # One create at a time per account, so two quick submits cannot both pass
            # the active-token limit.
            User.objects.select_for_update().filter(pk=request.user.pk).exists()
            if form.is_valid():
                try:
                    created = services.api_token_create(
                        user=request.user,
                        name=form.cleaned_data["name"],
                        scopes=form.cleaned_data["scopes"],
                        expires_at=form.cleaned_data["expires_at"],
                        lifetime_days=form.cleaned_data["lifetime_days"],
                        allowed_ips=form.cleaned_data["allowed_ips"],
                        client=ClientInfo.from_request(request),
                    )
                except TokenNameTaken:
                    form.add_error("name", name_taken_error(form.cleaned_data["name"]))
        # Shown only once the token is committed.
        if created is not None:
            token, value = created
            return _show_new_value(request, token=token, value=value, regenerated=False)
    else:
        form = TokenCreateForm(user=request.user, current_ip=client_ip(request))
    context = {
        "form": form,
        "at_limit": request.user.api_tokens.active().count()
        >= settings.QUICKBOT_MAX_TOKENS_PER_USER,
        "max_tokens": settings.QUICKBOT_MAX_TOKENS_PER_USER,
    }
    if request.htmx:
        return render(request, f"{LIST_TEMPLATE}#create-modal", context)
    return render(request, "apitokens/token_new.html", context)


@never_cache
@login_required_htmx
@require_safe
def token_first_request(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """The show-once modal's live line: waiting, or the first request since the value was
    issued (its address and time). Owner-scoped; the modal polls it until it arrives."""
    token = _owned_token(request, public_id)
    issued_at = token.regenerated_at or token.created_at
    first_request = None
    if token.last_used_at is not None and token.last_used_at >= issued_at:
        first_request = {"ip": token.last_used_ip, "at": token.last_used_at}
    context = {"token": token, "first_request": first_request}
    return render(request, f"{LIST_TEMPLATE}#first-request", context)


@never_cache
@login_required_htmx
@require_http_methods(["GET", "HEAD", "POST"])
def token_delete(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """Confirm, then delete (revoke) a token. Deleting it again says so; never an error."""
    token = _owned_token(request, public_id)
    if token.is_revoked:
        return _already_deleted(request, token)
    if request.method == "POST":
        deleted = services.api_token_revoke(
            token=token, actor=request.user, client=ClientInfo.from_request(request)
        )
        if not deleted:
            return _already_deleted(request, token)
        messages.success(request, f"Token ‘{token.name}’ deleted.")
        return _close_modal(request) if request.htmx else redirect("apitokens:list")
    context = {"token": token}
    if request.htmx:
        return render(request, f"{LIST_TEMPLATE}#delete-modal", context)
    return render(request, "apitokens/token_delete.html", context)


@never_cache
@login_required_htmx
@require_http_methods(["GET", "HEAD", "POST"])
@sudo_required
def token_regenerate(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """Choose an overlap, then issue a new value for the token and show it once."""
    token = _owned_token(request, public_id)
    if refusal := _email_unverified(request):
        return refusal
    if token.is_revoked:
        return _already_deleted(request, token)
    if request.method == "POST":
        form = TokenRegenerateForm(request.POST)
        if form.is_valid():
            try:
                token, value = services.api_token_regenerate(
                    token=token,
                    actor=request.user,
                    overlap=form.cleaned_data["overlap"],
                    client=ClientInfo.from_request(request),
                )
            except services.TokenNotRegenerable as error:
                form.add_error(None, str(error))
            else:
                return _show_new_value(request, token=token, value=value, regenerated=True)
    else:
        form = TokenRegenerateForm()
    context = {"form": form, "token": token, "expired": token.is_expired()}
    if request.htmx:
        return render(request, f"{LIST_TEMPLATE}#regenerate-modal", context)
    return render(request, "apitokens/token_regenerate.html", context)


@never_cache
@login_required_htmx
@require_http_methods(["GET", "HEAD", "POST"])
@sudo_required
def token_edit(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """Rename a token, change its permissions or IP allowlist; its value stays the same."""
    token = _owned_token(request, public_id)
    if token.is_revoked:
        return _already_deleted(request, token)
    form = TokenEditForm(
        request.POST if request.method == "POST" else None,
        user=request.user,
        instance_pk=token.pk,
        current_ip=client_ip(request),
        initial={"name": token.name, "scopes": token.scope_list, "allowed_ips": token.allowed_ips},
    )
    if request.method == "POST" and form.is_valid():
        client = ClientInfo.from_request(request)
        try:
            with transaction.atomic():
                services.api_token_rename(
                    token=token, name=form.cleaned_data["name"], actor=request.user, client=client
                )
                services.api_token_update_scopes(
                    token=token,
                    scopes=form.cleaned_data["scopes"],
                    actor=request.user,
                    client=client,
                )
                services.api_token_update_allowed_ips(
                    token=token,
                    allowed_ips=form.cleaned_data["allowed_ips"],
                    actor=request.user,
                    client=client,
                )
        except TokenNameTaken:
            form.add_error("name", name_taken_error(form.cleaned_data["name"]))
        else:
            messages.success(request, f"Token ‘{token.name}’ updated.")
            return _close_modal(request) if request.htmx else redirect("apitokens:list")
    context = {"form": form, "token": token}
    if request.htmx:
        return render(request, f"{LIST_TEMPLATE}#edit-modal", context)
    return render(request, "apitokens/token_edit.html", context)


# --- Token page: details, usage and security log (audit) -------------------------------------

ACTIVITY_PAGE_SIZE = 25
CHART_DAYS = 30


def daily_chart(daily: list) -> charts.BarChart:
    """Requests per day as a bar chart, a date label every 7 days ending today."""
    last = len(daily) - 1
    points = []
    for index, (day, requests) in enumerate(daily):
        noun = "request" if requests == 1 else "requests"
        points.append(
            charts.ChartPoint(
                label=f"{day.day} {day:%b}" if (last - index) % 7 == 0 else "",
                value=requests,
                title=f"{day:%a} {day.day} {day:%b}: {requests} {noun}",
            )
        )
    return charts.bar_chart(points, width=640, height=170)


@never_cache
@login_required_htmx
@require_safe
def token_detail(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """One of the user's tokens (deleted ones too): details, requests per day for 30 days,
    recent activity filterable by status with new IPs highlighted, and its security log."""
    token = get_object_or_404(
        request.user.api_tokens.select_related("revoked_by"), public_id=public_id
    )
    now = timezone.now()
    status_class = request.GET.get("status", "")
    if status_class not in selectors.STATUS_CLASSES:
        status_class = ""
    # Keyset pages (time, id): ?older=<cursor> or ?newer=<cursor>; a bad one is the newest.
    activity = selectors.token_activity_page(
        token=token,
        status_class=status_class or None,
        older_than=request.GET.get("older"),
        newer_than=request.GET.get("newer"),
        size=ACTIVITY_PAGE_SIZE,
    )
    new_ips = selectors.token_new_ips(token=token, now=now)
    context = {
        "token": token,
        "status": token.status(now),
        "now": now,
        "activity": activity,
        # Only the first request from each new address is marked "New IP".
        "new_ip_rows": {
            row.pk for row in activity.rows if row.ip and new_ips.get(row.ip) == row.created_at
        },
        "activity_total": selectors.token_request_total(
            token=token, status_class=status_class or None
        ),
        "status_class": status_class,
        "status_choices": [(key, label) for key, (label, _q) in selectors.STATUS_CLASSES.items()],
        "new_ips": new_ips,
        "last_used": last_used_text(token.last_used_at, now),
        # Uses after it stopped working, as the API Tokens page's alert counts them.
        "dead_use": selectors.dead_token_alert(token=token, now=now),
    }
    if request.htmx and request.htmx.target == "token-activity":
        return render(request, "apitokens/token_detail.html#token-activity", context)
    daily = selectors.activity_per_day(token=token, days=CHART_DAYS, now=now)
    context |= {
        "chart": daily_chart(daily),
        "chart_days": CHART_DAYS,
        "requests_in_chart": sum(requests for _day, requests in daily),
        "events": list(token.security_events.select_related("actor")[:50]),
    }
    return render(request, "apitokens/token_detail.html", context)
