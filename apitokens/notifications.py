"""Emails to a token's owner about its lifecycle: created, regenerated, deleted, a dead
token used, and expiry reminders.

Sending never slows or breaks the action that caused it: the message is built after the
database transaction commits (`transaction.on_commit`) and handed to one background
thread per process (`QUICKBOT_EMAIL_ASYNC`, off in tests so they stay deterministic).
A failure to render or send is logged and swallowed. Messages never contain a token
value, only its name and identifier; text someone else may have chosen (the token's name,
the requester's User-Agent, the owner's display name) goes through `common.mail.mail_text`,
and the greeting uses the display name only once the address is confirmed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import dateformat, timezone

from apitokens import selectors, stale
from apitokens.models import APIToken
from common import mail

logger = logging.getLogger(__name__)

# Expiry reminder kinds, as stored in APIToken.reminders_sent, and how long before expiry.
REMINDER_WINDOWS: dict[str, timedelta] = {"7d": timedelta(days=7), "1d": timedelta(days=1)}

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


# --- Public entry points called by services and the dead-use recorder ------------------


def notify_token_created(*, token: APIToken, client: Origin, now: datetime) -> None:
    """Tell the owner a token was created on their account."""
    _dispatch("created", lambda: _event_message("created", token=token, client=client, now=now))


def notify_token_regenerated(
    *,
    token: APIToken,
    client: Origin,
    now: datetime,
    previous_identifier: str,
    previous_expires_at: datetime | None,
) -> None:
    """Tell the owner a token got a new value, and until when the old one works."""
    _dispatch(
        "regenerated",
        lambda: _event_message(
            "regenerated",
            token=token,
            client=client,
            now=now,
            extra={
                "previous_identifier": previous_identifier,
                "previous_immediate": previous_expires_at is None,
                "previous_stops": _format_time(previous_expires_at or now),
            },
        ),
    )


def notify_token_expiry_changed(
    *, token: APIToken, client: Origin, now: datetime, previous_expires_at: datetime | None
) -> None:
    """Tell the owner staff brought a token's expiry forward to meet the token policy."""
    _dispatch(
        "expiry_changed",
        lambda: _event_message(
            "expiry_changed",
            token=token,
            client=client,
            now=now,
            extra={
                "new_expiry": dateformat.format(timezone.localtime(token.expires_at), "j M Y"),
                "new_expiry_time": _format_time(token.expires_at),
                "previous_expiry": (
                    _format_time(previous_expires_at) if previous_expires_at else "never"
                ),
            },
        ),
    )


def notify_token_deleted(
    *, token: APIToken, client: Origin, now: datetime, reason: str = APIToken.RevokedBy.OWNER
) -> None:
    """Tell the owner a token was deleted, and by whom (them, staff, or the token itself);
    a token QuickBot deleted because its value was exposed gets the "exposed" email."""
    if reason in EXPOSED_WORDING:
        _dispatch(
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
    _dispatch(
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
    _dispatch(
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
            "expires": _format_time(token.expires_at),
            "remaining": "in 7 days" if kind == "7d" else "within 24 hours",
        },
    )


@dataclass(frozen=True, slots=True)
class ReminderRun:
    """What one run of the expiry reminders did."""

    sent: int
    failed: int


def due_reminder(token: APIToken, now: datetime) -> str | None:
    """The reminder ("7d" or "1d") a token is due for now, or None.

    A reminder is due once its window (7 days / 1 day before expiry) has begun, if it was
    not sent yet and the token's current value existed before the window began (a 7-day
    token gets no "expires in 7 days" mail right after creation). Once the 1-day reminder
    is due, a 7-day one that was missed is not sent any more.
    """
    if token.expires_at is None or token.expires_at <= now:
        return None
    sent = set(token.reminders_sent.split())
    issued_at = token.regenerated_at or token.created_at
    for kind in ("1d", "7d"):
        window_start = token.expires_at - REMINDER_WINDOWS[kind]
        if now >= window_start:
            if kind in sent or issued_at >= window_start:
                return None
            return kind
    return None


def send_expiry_reminders(*, now: datetime | None = None) -> ReminderRun:
    """Email owners whose tokens expire within 7 days / 1 day; each reminder goes once.

    Idempotent and safe to run concurrently: a reminder is claimed in `reminders_sent`
    with a guarded UPDATE before it is sent, and released again if sending fails, so the
    next run retries it. Mails go out synchronously (this runs from cron, not a request).
    """
    now = now or timezone.now()
    candidates = (
        APIToken.objects.usable(now)
        .filter(expires_at__lte=now + REMINDER_WINDOWS["7d"], owner__is_active=True)
        .exclude(reminders_sent__contains="1d")
        .select_related("owner")
        .order_by("expires_at", "pk")
    )
    sent = failed = 0
    for token in candidates.iterator(chunk_size=500):
        kind = due_reminder(token, now)
        if kind is None:
            continue
        previous = token.reminders_sent
        # The 1-day reminder supersedes a 7-day one that was never sent.
        marks = set(previous.split()) | ({"7d", "1d"} if kind == "1d" else {"7d"})
        claimed = " ".join(sorted(marks))
        if not APIToken.objects.filter(
            pk=token.pk,
            reminders_sent=previous,
            expires_at=token.expires_at,
            revoked_at__isnull=True,
        ).update(reminders_sent=claimed):
            continue  # another run claimed it, or the token changed meanwhile
        try:
            message = expiry_reminder_message(token=token, kind=kind, now=now)
        except Exception:
            logger.exception("Could not build the expiry_reminder email")
            message = None
        if message is not None and send_now(message, kind="expiry_reminder"):
            sent += 1
            logger.info("Sent the %s expiry reminder for token %s", kind, token.public_id)
        else:
            failed += 1
            APIToken.objects.filter(pk=token.pk, reminders_sent=claimed).update(
                reminders_sent=previous
            )
    return ReminderRun(sent=sent, failed=failed)


# An owner gets the stale-token digest at most this often, whenever the command runs.
STALE_DIGEST_INTERVAL = timedelta(days=7)


def stale_digest_message(
    *, owner, tokens: list[APIToken], days: int, now: datetime
) -> EmailMultiAlternatives:
    """The weekly "tokens you don't use" email: each token's name, identifier and last use."""
    tokens_url = _absolute("/account/tokens/")
    context = {
        "name": greeting_name(owner),
        "days": days,
        "tokens": [
            {
                "name": mail.mail_text(token.name),
                "identifier": token.identifier,
                "last_used": _format_time(token.last_used_at) if token.last_used_at else "",
                "created": _format_time(token.created_at),
                "url": f"{tokens_url}{token.public_id}/delete/",
            }
            for token in tokens
        ],
        "tokens_url": tokens_url,
        "site_url": settings.QUICKBOT_SITE_URL.rstrip("/"),
    }
    count = len(tokens)
    subject = (
        f"[QuickBot] {count} API token{'s' if count != 1 else ''} you don't use "
        f"{'are' if count != 1 else 'is'} still active"
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("apitokens/email/stale_digest.txt", context),
        to=[owner.email],
    )
    message.attach_alternative(
        render_to_string("apitokens/email/stale_digest.html", context), "text/html"
    )
    return message


@dataclass(frozen=True, slots=True)
class DigestRun:
    """What one run of the stale-token digest did (emails, not tokens)."""

    sent: int
    failed: int


def send_stale_digests(*, now: datetime | None = None) -> DigestRun:
    """Email each owner the list of their stale tokens, at most once per
    STALE_DIGEST_INTERVAL (a digest goes when one of the owner's stale tokens was not in a
    digest during the interval). Idempotent and safe to run concurrently: the tokens are
    claimed by a guarded UPDATE before sending and released if sending fails."""
    now = now or timezone.now()
    days = stale.stale_after_days()
    if days == 0:
        return DigestRun(sent=0, failed=0)
    due_before = now - STALE_DIGEST_INTERVAL
    candidates = selectors.stale_tokens(now=now).filter(owner__is_active=True)
    owner_ids = (
        candidates.filter(
            Q(stale_digest_sent_at__isnull=True) | Q(stale_digest_sent_at__lte=due_before)
        )
        .order_by()
        .values_list("owner_id", flat=True)
        .distinct()
    )
    sent = failed = 0
    for owner_id in sorted(owner_ids):
        tokens = list(candidates.filter(owner_id=owner_id).select_related("owner"))
        ids = [token.pk for token in tokens]
        claimed = (
            APIToken.objects.filter(pk__in=ids)
            .filter(Q(stale_digest_sent_at__isnull=True) | Q(stale_digest_sent_at__lte=due_before))
            .update(stale_digest_sent_at=now)
        )
        if not claimed:
            continue  # another run sent this owner's digest meanwhile
        # Every token listed counts as told, not only the ones that made the digest due.
        APIToken.objects.filter(pk__in=ids).update(stale_digest_sent_at=now)
        try:
            message = stale_digest_message(owner=tokens[0].owner, tokens=tokens, days=days, now=now)
        except Exception:
            logger.exception("Could not build the stale_digest email")
            message = None
        if message is not None and send_now(message, kind="stale_digest"):
            sent += 1
        else:
            failed += 1
            APIToken.objects.filter(pk__in=ids, stale_digest_sent_at=now).update(
                stale_digest_sent_at=None
            )
    return DigestRun(sent=sent, failed=failed)


def send_now(message: EmailMultiAlternatives, *, kind: str) -> bool:
    """Send one message in this thread (the commands' path); False on any failure."""
    return mail.mail_send_now(message, kind=kind)


# --- Internals ---------------------------------------------------------------------------


def _dispatch(kind: str, build: Callable[[], EmailMultiAlternatives]) -> None:
    """Build right after the current transaction commits (the message reads the token and
    its owner), send on the process's mail thread (common.mail); never raises."""
    mail.mail_dispatch(kind, build, build_after_commit=True)


_SUBJECTS = {
    "created": "API token “{name}” created",
    "regenerated": "API token “{name}” regenerated",
    "deleted": "API token “{name}” deleted",
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
    tokens_url = _absolute("/account/tokens/")
    token_name = mail.mail_text(token.name)
    context = {
        "name": greeting_name(owner),
        "token_name": token_name,
        "identifier": token.identifier,
        "when": _format_time(now),
        "ip": mail.mail_text(client.ip or "unknown"),
        "user_agent": mail.mail_text(client.user_agent),
        "token_url": tokens_url if token.revoked_at else f"{tokens_url}{token.public_id}/",
        "tokens_url": tokens_url,
        "security_url": _absolute(_reverse_or("accounts:security", "/account/security/")),
        "site_url": settings.QUICKBOT_SITE_URL.rstrip("/"),
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


def greeting_name(owner) -> str:
    """The name an email to `owner` greets with: their display name once they have shown
    the address is theirs (whoever signed up with it chose it otherwise), else none."""
    return mail.mail_text(owner.display_name) if owner.email_verified else ""


def _absolute(path: str) -> str:
    return settings.QUICKBOT_SITE_URL.rstrip("/") + path


def _reverse_or(name: str, fallback: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return fallback


def _format_time(moment: datetime) -> str:
    return dateformat.format(timezone.localtime(moment), "j M Y, H:i T")
