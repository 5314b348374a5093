"""Expiry reminders: which reminder ("7d", "1d") a token is due for, and the command's run
that claims and sends each once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from apitokens.models import APIToken
from apitokens.notifications import sending
from apitokens.notifications.events import expiry_reminder_message
from apitokens.webhooks.events import token_expiring_emit

logger = logging.getLogger(__name__)

# Expiry reminder kinds, as stored in APIToken.reminders_sent, and how long before expiry.
REMINDER_WINDOWS: dict[str, timedelta] = {"7d": timedelta(days=7), "1d": timedelta(days=1)}


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
        if message is not None and sending.send_now(message, kind="expiry_reminder"):
            sent += 1
            logger.info("Sent the %s expiry reminder for token %s", kind, token.public_id)
            _expiring_webhook_emit(token=token, kind=kind, now=now)
        else:
            failed += 1
            APIToken.objects.filter(pk=token.pk, reminders_sent=claimed).update(
                reminders_sent=previous
            )
    return ReminderRun(sent=sent, failed=failed)


def _expiring_webhook_emit(*, token: APIToken, kind: str, now: datetime) -> None:
    """`token.expiring` goes with the reminder it was claimed with, so once too."""
    try:
        token_expiring_emit(token=token, reminder=kind, now=now)
    except Exception:
        logger.exception("Could not queue the token.expiring webhook of token %s", token.pk)
