"""The emails about one token's lifecycle: created, regenerated (and its overlap ended
early), expiry changed, paused, resumed, deleted
(or deleted because its value was exposed), a dead token used, and the expiry reminder's
message. Each is built after commit and sent by the task worker (`sending.dispatch`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import dateformat, timezone

from apitokens.models import APIToken
from apitokens.notifications.context import format_time, greeting_name, security_url, tokens_url
from apitokens.notifications.sending import dispatch
from common import mail

logger = logging.getLogger(__name__)

# Why QuickBot deleted a token whose value was exposed, as the email and its subject say it.
EXPOSED_WORDING: dict[str, str] = {
    APIToken.RevokedBy.LEAKED: "reported as leaked",
    APIToken.RevokedBy.URL: "sent in a URL",
}


class Origin(Protocol):
    """Where an action came from, as shown in an email (services.ClientInfo fits)."""

    @property
    def ip(self) -> str | None: ...

    @property
    def user_agent(self) -> str: ...


@dataclass(frozen=True, slots=True)
class _Nowhere:
    ip: str | None = None
    user_agent: str = ""


def notify_token_created(*, token: APIToken, client: Origin, now: datetime) -> None:
    """Tell the owner a token was created on their account."""
    dispatch("created", lambda: _event_message("created", token=token, client=client, now=now))


def notify_token_regenerated(
    *,
    token: APIToken,
    client: Origin,
    now: datetime,
    previous_identifier: str,
    previous_expires_at: datetime | None,
    until_quiet: bool = False,
) -> None:
    """Tell the owner a token got a new value, and until when the old one works
    (`previous_expires_at` at the latest, sooner when `until_quiet` and its traffic stops)."""
    dispatch(
        "regenerated",
        lambda: _event_message(
            "regenerated",
            token=token,
            client=client,
            now=now,
            extra={
                "previous_identifier": previous_identifier,
                "previous_immediate": previous_expires_at is None,
                "previous_stops": format_time(previous_expires_at or now),
                "previous_until_quiet": until_quiet,
            },
        ),
    )


def notify_overlap_ended(*, token: APIToken, client: Origin, now: datetime) -> None:
    """Tell the owner a regenerate's overlap was ended early: the old value stopped."""
    dispatch(
        "overlap_ended",
        lambda: _event_message(
            "overlap_ended",
            token=token,
            client=client,
            now=now,
            extra={"previous_identifier": token.previous_identifier},
        ),
    )


def notify_token_expiry_changed(
    *, token: APIToken, client: Origin, now: datetime, previous_expires_at: datetime | None
) -> None:
    """Tell the owner staff brought a token's expiry forward to meet the token policy."""
    dispatch(
        "expiry_changed",
        lambda: _event_message(
            "expiry_changed",
            token=token,
            client=client,
            now=now,
            extra={
                "new_expiry": dateformat.format(timezone.localtime(token.expires_at), "j M Y"),
                "new_expiry_time": format_time(token.expires_at),
                "previous_expiry": (
                    format_time(previous_expires_at) if previous_expires_at else "never"
                ),
            },
        ),
    )


def notify_token_paused(*, token: APIToken, client: Origin, now: datetime, by_staff: bool) -> None:
    """Tell the owner a token was paused (the API refuses it until it is resumed)."""
    dispatch(
        "paused",
        lambda: _event_message(
            "paused",
            token=token,
            client=client,
            now=now,
            extra={"by": _changed_by(by_staff), "by_staff": by_staff},
        ),
    )


def notify_token_resumed(*, token: APIToken, client: Origin, now: datetime, by_staff: bool) -> None:
    """Tell the owner a paused token was resumed (it works again)."""
    dispatch(
        "resumed",
        lambda: _event_message(
            "resumed", token=token, client=client, now=now, extra={"by": _changed_by(by_staff)}
        ),
    )


def _changed_by(by_staff: bool) -> str:
    return "a QuickBot staff member" if by_staff else "you (or someone signed in to your account)"


def notify_token_deleted(
    *, token: APIToken, client: Origin, now: datetime, reason: str = APIToken.RevokedBy.OWNER
) -> None:
    """Tell the owner a token was deleted, and by whom (them, staff, or the token itself);
    a token QuickBot deleted because its value was exposed gets the "exposed" email."""
    if reason in EXPOSED_WORDING:
        dispatch(
            "exposed",
            lambda: _event_message(
                "exposed",
                token=token,
                client=client,
                now=now,
                extra={"how": EXPOSED_WORDING[reason], "reason": reason},
            ),
        )
        return
    by = {
        APIToken.RevokedBy.OWNER: "you (or someone signed in to your account)",
        APIToken.RevokedBy.STAFF: "a QuickBot staff member",
        APIToken.RevokedBy.SELF: "the token itself, through the API",
    }.get(reason, "QuickBot")
    dispatch(
        "deleted",
        lambda: _event_message("deleted", token=token, client=client, now=now, extra={"by": by}),
    )


def notify_dead_token_used(
    *,
    token: APIToken,
    client: Origin,
    now: datetime | None = None,
    used_previous_value: bool = False,
) -> bool:
    """Tell the owner someone used a deleted or expired token (or a replaced value after
    its overlap): at most one such email per token per day (site time zone).

    Returns whether an email was queued. The daily limit lives in the cache; if the cache
    is unreachable no email is sent (the security log still records the use).
    """
    now = now or timezone.now()
    key = f"apitokens:dead-use-mail:{token.pk}:{timezone.localdate(now).isoformat()}"
    try:
        first_today = cache.add(key, 1, timeout=2 * 24 * 3600)
    except Exception:
        logger.exception("Cache unavailable: skipped dead-token email for token %s", token.pk)
        return False
    if not first_today:
        return False
    if token.revoked_at is not None:
        what = "the deleted token"
    elif used_previous_value:
        what = "a replaced value of the token, after it stopped working,"
    else:
        what = "the expired token"
    dispatch(
        "dead_token_used",
        lambda: _event_message(
            "dead_token_used", token=token, client=client, now=now, extra={"what": what}
        ),
    )
    return True


def expiry_reminder_message(*, token: APIToken, kind: str, now: datetime) -> EmailMultiAlternatives:
    """The "your token expires in 7 days / tomorrow" email (sent synchronously by the
    send_token_expiry_reminders command, which needs to know whether it went out)."""
    assert token.expires_at is not None
    return _event_message(
        "expiry_reminder",
        token=token,
        client=_Nowhere(),
        now=now,
        extra={
            "kind": kind,
            "expires": format_time(token.expires_at),
            "remaining": "in 7 days" if kind == "7d" else "within 24 hours",
        },
    )


_SUBJECTS = {
    "created": "API token “{name}” created",
    "regenerated": "API token “{name}” regenerated",
    "overlap_ended": "The old value of API token “{name}” stopped working",
    "deleted": "API token “{name}” deleted",
    "paused": "API token “{name}” paused",
    "resumed": "API token “{name}” resumed",
    "dead_token_used": "Someone used your old API token “{name}”",
    "exposed": "API token “{name}” deleted: {how}",
    "expiry_reminder": "API token “{name}” expires {remaining}",
    "expiry_changed": "API token “{name}” now expires on {new_expiry}",
}


def _event_message(
    kind: str,
    *,
    token: APIToken,
    client: Origin,
    now: datetime,
    extra: dict | None = None,
) -> EmailMultiAlternatives:
    owner = token.owner
    token_list_url = tokens_url()
    token_name = mail.mail_text(token.name)
    context = {
        "name": greeting_name(owner),
        "token_name": token_name,
        "identifier": token.identifier,
        "when": format_time(now),
        "ip": mail.mail_text(client.ip or "unknown"),
        "user_agent": mail.mail_text(client.user_agent),
        "token_url": token_list_url if token.revoked_at else f"{token_list_url}{token.public_id}/",
        "tokens_url": token_list_url,
        "security_url": security_url(),
        "site_url": mail.site_url(),
        **(extra or {}),
    }
    subject = "[QuickBot] " + _SUBJECTS[kind].format(name=token_name, **(extra or {}))
    text = render_to_string(f"apitokens/email/{kind}.txt", context)
    html = render_to_string(f"apitokens/email/{kind}.html", context)
    message = EmailMultiAlternatives(
        subject=subject.replace("\n", " "), body=text, to=[owner.email]
    )
    message.attach_alternative(html, "text/html")
    return message
