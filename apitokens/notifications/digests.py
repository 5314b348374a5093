"""The stale-token digest: the weekly email listing an owner's tokens nobody uses, and the
command's run that claims and sends it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from apitokens import selectors, stale
from apitokens.models import APIToken, TokenSuggestionDismissal
from apitokens.notifications import sending
from apitokens.notifications.context import format_time, greeting_name, tokens_url
from apitokens.selectors.suggestions import Suggestion, owner_suggestions
from common import mail

logger = logging.getLogger(__name__)

# An owner gets the stale-token digest at most this often, whenever the command runs.
STALE_DIGEST_INTERVAL = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class DigestRun:
    """What one run of the stale-token digest did (emails, not tokens)."""

    sent: int
    failed: int


def stale_digest_message(
    *,
    owner,
    tokens: list[APIToken],
    days: int,
    now: datetime,
    suggestions: Sequence[tuple[APIToken, Suggestion]] = (),
) -> EmailMultiAlternatives:
    """The weekly "tokens you don't use" email: each token's name, identifier and last use;
    then the right-sizing suggestions for the owner's other tokens, if any."""
    token_list_url = tokens_url()
    context = {
        "name": greeting_name(owner),
        "days": days,
        "tokens": [
            {
                "name": mail.mail_text(token.name),
                "identifier": token.identifier,
                "last_used": format_time(token.last_used_at) if token.last_used_at else "",
                "created": format_time(token.created_at),
                "url": f"{token_list_url}{token.public_id}/delete/?suggestion=delete",
            }
            for token in tokens
        ],
        "suggestions": [
            {
                "name": mail.mail_text(token.name),
                "identifier": token.identifier,
                "title": suggestion.title,
                "networks": ", ".join(suggestion.networks),
                "url": f"{token_list_url}{token.public_id}/",
            }
            for token, suggestion in suggestions
        ],
        "tokens_url": token_list_url,
        "site_url": mail.site_url(),
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
    # A token whose "delete it" suggestion the owner dismissed is not listed again.
    candidates = (
        selectors.stale_tokens(now=now)
        .filter(owner__is_active=True)
        .exclude(dismissed_suggestions__kind=TokenSuggestionDismissal.Kind.DELETE)
    )
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
            others = APIToken.objects.usable(now).filter(owner_id=owner_id).exclude(pk__in=ids)
            message = stale_digest_message(
                owner=tokens[0].owner,
                tokens=tokens,
                days=days,
                now=now,
                suggestions=[
                    (token, suggestion)
                    for token, suggestion in owner_suggestions(tokens=others, now=now)
                    if suggestion.kind != TokenSuggestionDismissal.Kind.DELETE
                ],
            )
        except Exception:
            logger.exception("Could not build the stale_digest email")
            message = None
        if message is not None and sending.send_now(message, kind="stale_digest"):
            sent += 1
        else:
            failed += 1
            APIToken.objects.filter(pk__in=ids, stale_digest_sent_at=now).update(
                stale_digest_sent_at=None
            )
    return DigestRun(sent=sent, failed=failed)
