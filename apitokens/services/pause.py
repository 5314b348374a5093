"""Pause and resume a token: while paused the API refuses it with its own error
(`token_paused`); its value, permissions, allowlist and expiry stay as they are. Each
change writes its security-log row and emails the owner; doing it twice changes nothing."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from apitokens import notifications
from apitokens.models import APIToken, SecurityEvent
from apitokens.services.audit import (
    NO_CLIENT,
    ClientInfo,
    security_actor_kind,
    security_event_record,
)


class ResumeNeedsStaff(Exception):
    """Someone who is not staff (its owner) tried to resume a token QuickBot staff paused:
    only staff resume it (a staff pause holds a token while, say, a leak is looked into)."""


def api_token_pause(
    *,
    token: APIToken,
    actor: User,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> bool:
    """Pause a token that is not deleted: the API refuses it from the next request.

    Returns False when nothing changed (already paused, or deleted meanwhile): no event,
    no email.
    """
    return _pause_state_set(token=token, actor=actor, client=client, now=now, paused=True)


def api_token_resume(
    *,
    token: APIToken,
    actor: User,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> bool:
    """Resume a paused token that is not deleted: it works again from the next request.

    Returns False when nothing changed (not paused, or deleted meanwhile): no event, no
    email. Raises ResumeNeedsStaff when its owner tries to resume a token staff paused.
    """
    return _pause_state_set(token=token, actor=actor, client=client, now=now, paused=False)


def _pause_state_set(
    *, token: APIToken, actor: User, client: ClientInfo, now: datetime | None, paused: bool
) -> bool:
    """Pause (`paused`) or resume in one guarded UPDATE; its event and the owner's email."""
    now = now or timezone.now()
    paused_at, paused_by = (now, actor) if paused else (None, None)
    actor_kind = security_actor_kind(token=token, actor=actor)
    # Only staff resume a staff pause; a staff member who owns the token counts as staff (the
    # admin's Resume action never meets a refusal).
    owner_resumes = not paused and not actor.is_staff
    current = APIToken.objects.filter(
        pk=token.pk, revoked_at__isnull=True, paused_at__isnull=paused
    )
    if owner_resumes:
        # The owner resumes only their own pause (in the same guarded UPDATE: a staff pause
        # that lands meanwhile is not undone).
        current = current.filter(Q(paused_by__isnull=True) | Q(paused_by=F("owner")))
    with transaction.atomic():
        # Guarded on the current state: a double submit or a second tab changes nothing.
        updated = current.update(paused_at=paused_at, paused_by=paused_by)
        if not updated:
            if owner_resumes:
                token.refresh_from_db(fields=["paused_at", "paused_by", "revoked_at"])
                if token.paused_by_staff and not token.is_revoked:
                    raise ResumeNeedsStaff
            return False
        token.paused_at, token.paused_by = paused_at, paused_by
        security_event_record(
            kind=SecurityEvent.Kind.PAUSED if paused else SecurityEvent.Kind.RESUMED,
            account=token.owner,
            actor_kind=actor_kind,
            actor=actor,
            token=token,
            client=client,
            now=now,
        )
    notify = notifications.notify_token_paused if paused else notifications.notify_token_resumed
    notify(token=token, client=client, now=now, by_staff=actor_kind == SecurityEvent.Actor.STAFF)
    return True
