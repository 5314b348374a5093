"""The security log: where an action came from (ClientInfo), appending a row, and the
uses of dead and unknown tokens the API path reports."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from apitokens import notifications
from apitokens.models import APIToken, SecurityEvent
from apitokens.webhooks.events import security_event_webhooks_emit
from common.clientip import client_ip

logger = logging.getLogger(__name__)

# The security log's column is the one limit on a stored User-Agent.
USER_AGENT_MAX_LENGTH = SecurityEvent._meta.get_field("user_agent").max_length


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where an action came from, for the security log; the User-Agent is cut to what the
    log stores."""

    ip: str | None = None
    user_agent: str = ""

    def __post_init__(self) -> None:
        # NUL: PostgreSQL refuses it in text, and no browser sends one.
        cleaned = self.user_agent.replace("\x00", "")[:USER_AGENT_MAX_LENGTH]
        object.__setattr__(self, "user_agent", cleaned)

    @classmethod
    def from_request(cls, request: HttpRequest, *, ip: str | None = None) -> ClientInfo:
        """The client's address and browser of `request`. `ip` is the address the caller
        already decided (the API keeps it on `request.api_call`); by default `client_ip`."""
        return cls(
            ip=ip if ip is not None else client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )


NO_CLIENT = ClientInfo()


def security_actor_kind(*, token: APIToken, actor: User) -> str:
    """Who the security log says acted on `token`: its owner, or else staff."""
    return SecurityEvent.Actor.USER if actor.pk == token.owner_id else SecurityEvent.Actor.STAFF


def security_event_record(
    *,
    kind: str,
    account: User | None,
    actor_kind: str,
    token: APIToken | None = None,
    actor: User | None = None,
    client: ClientInfo = NO_CLIENT,
    detail: str = "",
    count: int = 1,
    now: datetime | None = None,
) -> SecurityEvent:
    """Append one row to the security log (`account` None: an event of no account), and
    queue the webhook events it stands for (the token event of its kind, and the staff
    endpoints' audit stream)."""
    now = now or timezone.now()
    event = SecurityEvent.objects.create(
        kind=kind,
        account=account,
        actor_kind=actor_kind,
        actor=actor,
        token=token,
        token_name=token.name if token else "",
        token_identifier=token.identifier if token else "",
        ip=client.ip,
        user_agent=client.user_agent,
        detail=detail[:255],
        count=count,
        created_at=now,
        last_seen_at=now,
    )
    try:
        security_event_webhooks_emit(event=event)  # in a savepoint: the log row stays
    except Exception:
        logger.exception("Could not queue the webhooks of security event %s", event.pk)
    return event


# --- Uses of dead tokens and unknown tokens ------------------------------------------------

DEAD_USE_EVENT_WINDOW = timedelta(hours=1)


def api_token_dead_use_record(
    *,
    token: APIToken,
    client: ClientInfo,
    now: datetime | None = None,
    used_previous_value: bool = False,
) -> None:
    """Log that someone presented a deleted or expired token (or a replaced value after
    its overlap): at most one SecurityEvent per token per hour, whose `count` and
    `last_seen_at` grow with each further use inside that hour.

    Runs on the API request path, so it is one indexed UPDATE in the common case and an
    INSERT (plus the owner's email, rate-limited by the notifications module) once an hour.
    Two simultaneous first uses may both insert; the log then holds two rows for that hour.
    """
    now = now or timezone.now()
    if token.revoked_at is not None:
        kind = SecurityEvent.Kind.DELETED_TOKEN_USED
        detail = ""
    else:
        kind = SecurityEvent.Kind.EXPIRED_TOKEN_USED
        detail = ""
        if used_previous_value or not token.is_expired(now):
            detail = "A value replaced by Regenerate was used after its overlap ended."
    bumped = SecurityEvent.objects.filter(
        token=token, kind=kind, created_at__gt=now - DEAD_USE_EVENT_WINDOW, created_at__lte=now
    ).update(count=F("count") + 1, last_seen_at=Greatest(F("last_seen_at"), Value(now)))
    if bumped:
        return
    security_event_record(
        kind=kind,
        account=token.owner,
        actor_kind=SecurityEvent.Actor.TOKEN,
        token=token,
        client=client,
        detail=detail,
        now=now,
    )
    try:
        notifications.notify_dead_token_used(
            token=token, client=client, now=now, used_previous_value=used_previous_value
        )
    except Exception:  # the API answer must not depend on email
        logger.exception("Could not notify the owner of dead token %s", token.pk)


def unknown_tokens_record(
    *, ip: str | None, window_start: datetime, count: int, now: datetime
) -> None:
    """Log `count` requests from `ip` with well-formed tokens that match no token: one
    SecurityEvent per address per bad-credential window, its `count` growing."""
    bumped = SecurityEvent.objects.filter(
        kind=SecurityEvent.Kind.UNKNOWN_TOKENS,
        account__isnull=True,
        ip=ip,
        created_at__gte=window_start,
    ).update(count=F("count") + count, last_seen_at=Greatest(F("last_seen_at"), Value(now)))
    if bumped:
        return
    security_event_record(
        kind=SecurityEvent.Kind.UNKNOWN_TOKENS,
        account=None,
        actor_kind=SecurityEvent.Actor.CLIENT,
        client=ClientInfo(ip=ip),
        count=count,
        detail="Well-formed tokens that match no QuickBot token",
        now=now,
    )
