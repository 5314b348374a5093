"""The API Tokens page and the "Create Token" form (the new value shown once)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.timesince import timesince
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from accounts.models import User
from accounts.sudo import sudo_required
from apitokens import expiry, stale
from apitokens.api.limits import usage_for
from apitokens.forms import TokenCreateForm, name_taken_error, too_many_tokens_error
from apitokens.forms.prefill import CreatePrefill, create_prefill
from apitokens.models import APIToken
from apitokens.services.audit import ClientInfo
from apitokens.services.tokens import (
    TokenLimitReached,
    TokenNameTaken,
    api_token_create,
    api_token_limit,
)
from apitokens.views.base import (
    LIST_TEMPLATE,
    HtmxHttpRequest,
    email_unverified,
    login_required_htmx,
    show_new_value,
)
from common.clientip import client_ip

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TokenRow:
    """One token as the list shows it."""

    token: APIToken
    last_used: str
    expires: expiry.ExpiryDescription
    expired: bool
    stale: bool = False
    # Until when the value replaced by Regenerate still works (None: it no longer does).
    previous_until: datetime | None = None


def token_rows(tokens, now: datetime) -> list[TokenRow]:
    """The display rows for `tokens`, in the order given."""
    return [
        TokenRow(
            token=token,
            last_used=last_used_text(token.last_used_at, now),
            expires=expiry.describe_expiry(token, now),
            expired=token.is_expired(now),
            stale=stale.is_stale(token, now),
            previous_until=previous_value_until(token, now),
        )
        for token in tokens
    ]


def previous_value_until(token: APIToken, now: datetime) -> datetime | None:
    """When the value Regenerate replaced stops working, while it still works; else None."""
    until = token.previous_expires_at
    return until if token.previous_digest and until and until > now else None


def time_ago(moment: datetime, now: datetime) -> str:
    """ "just now" within a minute (never "0 minutes ago"), else "3 hours ago"."""
    if (now - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, now, depth=1)} ago"


def last_used_text(last_used_at: datetime | None, now: datetime) -> str:
    """ "Never", "Just now", or "3 hours ago" (the largest unit only)."""
    if last_used_at is None:
        return "Never"
    return capfirst(time_ago(last_used_at, now))


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
    limit = api_token_limit()
    return {
        "rows": rows,
        "stale_count": sum(row.stale for row in rows),
        "stale_days": stale.stale_after_days(),
        "now": now,
        "at_limit": len(tokens) >= limit,
        "max_tokens": limit,
    }


@never_cache
@login_required_htmx
@require_safe
def token_list(request: HtmxHttpRequest) -> HttpResponse:
    """The API Tokens page; for the htmx refresh after a modal action, the part of it
    that holds every figure (alerts, usage line, table)."""
    context = _list_context(request)
    if request.htmx and request.htmx.target == "token-table":
        return render(request, f"{LIST_TEMPLATE}#token-table", context)
    context["usage"] = rate_limit_usage(request.user)
    if request.htmx and request.htmx.target == "token-panel":
        return render(request, f"{LIST_TEMPLATE}#token-panel", context)
    # Done on the no-JavaScript "Token created" page comes back with ?created=<public id>:
    # the new row is highlighted (an id, never the value).
    context["created_id"] = request.GET.get("created", "")
    return render(request, LIST_TEMPLATE, context)


@never_cache
@login_required_htmx
@require_http_methods(["GET", "HEAD", "POST"])
@sudo_required
def token_new(request: HtmxHttpRequest) -> HttpResponse:
    """The "Create Token" form, filled in from a link's query string if it has one
    (`apitokens.forms.prefill`); a valid POST shows the new value once (the service holds
    the per-account cap and the name check under its lock)."""
    if refusal := email_unverified(request):
        return refusal
    prefill = CreatePrefill()
    if request.method == "POST":
        form = TokenCreateForm(request.POST, user=request.user, current_ip=client_ip(request))
        if form.is_valid():
            try:
                token, value = api_token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_at=form.cleaned_data["expires_at"],
                    lifetime_days=form.cleaned_data["lifetime_days"],
                    allowed_ips=form.cleaned_data["allowed_ips"],
                    allowlist_report_only=form.cleaned_data["allowlist_report_only"],
                    client=ClientInfo.from_request(request),
                )
            except TokenLimitReached as error:
                form.add_error(None, too_many_tokens_error(error.limit))
            except TokenNameTaken:
                form.add_error("name", name_taken_error(form.cleaned_data["name"]))
            else:
                return show_new_value(request, token=token, value=value, regenerated=False)
    else:
        form = TokenCreateForm(user=request.user, current_ip=client_ip(request))
        # A pre-filled link (token template) fills the form in; only the owner's click creates.
        prefill = create_prefill(request.GET, form)
        form.initial.update(prefill.initial)
    limit = api_token_limit()
    context = {
        "prefill": prefill,
        "form": form,
        "at_limit": request.user.api_tokens.active().count() >= limit,
        "max_tokens": limit,
    }
    if request.htmx:
        return render(request, f"{LIST_TEMPLATE}#create-modal", context)
    return render(request, "apitokens/token_new.html", context)
