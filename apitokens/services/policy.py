"""Staff's token policy: saving it, and bringing a token's expiry forward to meet it."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import dateformat, timezone

from accounts.models import User
from apitokens import notifications
from apitokens.models import APIToken, SecurityEvent, TokenPolicy
from apitokens.policy import policy_forget
from apitokens.services.audit import NO_CLIENT, ClientInfo, security_event_record


def token_policy_save(*, policy: TokenPolicy, actor: User, now: datetime | None = None) -> None:
    """Save the site's token policy (the one row) as changed by a staff member. It applies to
    tokens created and regenerated from now on; existing tokens keep their expiry."""
    policy.pk = TokenPolicy.SINGLETON_ID
    policy.updated_at = now or timezone.now()
    policy.updated_by = actor
    policy.save()
    policy_forget()


def api_token_expire_by_policy(
    *,
    token: APIToken,
    expires_at: datetime,
    actor: User,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> bool:
    """Bring an active token's expiry forward to `expires_at` (staff, to meet the policy),
    logging it and emailing the owner. A token that already expires by then, or is deleted
    or expired, is left alone: returns False."""
    now = now or timezone.now()
    previous = token.expires_at
    with transaction.atomic():
        updated = (
            APIToken.objects.usable(now)
            .filter(pk=token.pk)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=expires_at))
            .update(expires_at=expires_at, reminders_sent="")
        )
        if not updated:
            return False
        token.expires_at, token.reminders_sent = expires_at, ""
        when = dateformat.format(timezone.localtime(expires_at), "j M Y, H:i T")
        before = (
            dateformat.format(timezone.localtime(previous), "j M Y, H:i T") if previous else "never"
        )
        security_event_record(
            kind=SecurityEvent.Kind.EXPIRY_CHANGED,
            account=token.owner,
            actor_kind=SecurityEvent.Actor.STAFF,
            actor=actor,
            token=token,
            client=client,
            detail=f"Expiry brought forward by staff to meet the token policy: {when} "
            f"(before: {before})",
            now=now,
        )
    notifications.notify_token_expiry_changed(
        token=token, client=client, now=now, previous_expires_at=previous
    )
    return True
