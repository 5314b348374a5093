"""The "old value still in use, it stops within the hour" warning: which overlaps are due,
and the command's run that claims and sends each once per overlap."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from apitokens.models import APIToken
from apitokens.notifications import sending
from apitokens.notifications.context import format_time, greeting_name, tokens_url
from apitokens.selectors.overlap import OldValueUse, previous_value_callers
from common import mail

logger = logging.getLogger(__name__)

# Warn this long before an overlap ends, when the old value was used this recently.
OVERLAP_WARNING_AHEAD = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class OverlapWarningRun:
    """What one run of the overlap warnings did."""

    sent: int
    failed: int


def overlap_warning_message(
    *, token: APIToken, use: OldValueUse, now: datetime
) -> EmailMultiAlternatives:
    """The warning naming each caller that sent the old value within the last hour."""
    token_name = mail.mail_text(token.name)
    callers = [
        {
            "ip": mail.mail_text(caller.ip or "unknown"),
            "client": mail.mail_text(caller.client or "unknown client"),
            "count": caller.count,
            "last_seen": format_time(caller.last_seen_at),
        }
        for caller in use.callers
    ]
    context = {
        "name": greeting_name(token.owner),
        "token_name": token_name,
        "identifier": token.identifier,
        "previous_identifier": token.previous_identifier,
        "stops": format_time(token.previous_expires_at),
        "callers": callers,
        "others": use.others,
        "when": format_time(now),
        "token_url": f"{tokens_url()}{token.public_id}/",
        "site_url": mail.site_url(),
    }
    subject = f"[QuickBot] The old value of API token “{token_name}” stops within the hour"
    text = render_to_string("apitokens/email/overlap_warning.txt", context)
    html = render_to_string("apitokens/email/overlap_warning.html", context)
    message = EmailMultiAlternatives(
        subject=subject.replace("\n", " "), body=text, to=[token.owner.email]
    )
    message.attach_alternative(html, "text/html")
    return message


def send_overlap_warnings(*, now: datetime | None = None) -> OverlapWarningRun:
    """Email owners whose regenerated token's old value stops within the hour and was used
    within the last hour, naming those callers; once per overlap.

    Idempotent and safe to run concurrently: the warning is claimed in
    `overlap_warning_sent_at` with a guarded UPDATE before it is sent, and released if
    sending fails (the next run retries). A regenerate starts a new overlap (and clears
    the mark). An overlap whose old value was quiet for the last hour gets no email.
    """
    now = now or timezone.now()
    candidates = (
        APIToken.objects.active()
        .filter(
            previous_digest__isnull=False,
            previous_expires_at__gt=now,
            previous_expires_at__lte=now + OVERLAP_WARNING_AHEAD,
            overlap_warning_sent_at__isnull=True,
            owner__is_active=True,
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("owner")
        .order_by("previous_expires_at", "pk")
    )
    sent = failed = 0
    for token in candidates.iterator(chunk_size=500):
        since = max(token.regenerated_at or token.created_at, now - OVERLAP_WARNING_AHEAD)
        use = previous_value_callers(token=token, since=since)
        if not use.callers:
            continue  # nobody to warn about; a later run looks again
        if not APIToken.objects.filter(
            pk=token.pk,
            previous_digest=token.previous_digest,
            overlap_warning_sent_at__isnull=True,
            revoked_at__isnull=True,
        ).update(overlap_warning_sent_at=now):
            continue  # another run claimed it, or the token changed meanwhile
        try:
            message = overlap_warning_message(token=token, use=use, now=now)
        except Exception:
            logger.exception("Could not build the overlap_warning email")
            message = None
        if message is not None and sending.send_now(message, kind="overlap_warning"):
            sent += 1
            logger.info("Sent the overlap warning for token %s", token.public_id)
        else:
            failed += 1
            APIToken.objects.filter(pk=token.pk, overlap_warning_sent_at=now).update(
                overlap_warning_sent_at=None
            )
    return OverlapWarningRun(sent=sent, failed=failed)
