"""How the audit admin shows a cell: links to a user or a token, compact local times,
who did something, and changelist URLs with filters."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from apitokens.models import APIToken, SecurityEvent


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
    """A link to the token's admin page, with its identifier."""
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


def full_time(moment) -> str:
    """A local timestamp to the second, as plain text (the token page's recent rows)."""
    return dateformat.format(timezone.localtime(moment), "j M Y, H:i:s")


# Who acted, in a word or two like the owner's token page ("You", "The token (API)"): the
# model's longer phrases ("the account owner") pushed the security log's Detail off-screen.
ACTOR_LABELS = {
    SecurityEvent.Actor.USER: "owner",
    SecurityEvent.Actor.STAFF: "staff",
    SecurityEvent.Actor.TOKEN: "token (API)",
    SecurityEvent.Actor.SYSTEM: "QuickBot",
    SecurityEvent.Actor.CLIENT: "an API client",
}


def actor_label(event: SecurityEvent) -> str:
    """Who did it: "staff (email)" for a staff member, else the kind of actor."""
    if event.actor_kind == SecurityEvent.Actor.STAFF and event.actor is not None:
        return f"staff ({event.actor.email})"
    return ACTOR_LABELS.get(event.actor_kind, event.get_actor_kind_display())


def changelist_url(model_name: str, **params: object) -> str:
    """The apitokens changelist of `model_name`, filtered by `params`."""
    url = reverse(f"admin:apitokens_{model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url
