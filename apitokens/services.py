"""Actions that change API tokens. Each writes its security-log row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from apitokens import tokens
from apitokens.models import SCOPE_READ, APIToken, SecurityEvent


class TokenNameTaken(Exception):
    """Another active token of the same owner already has this name (any case)."""


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where an action came from, for the security log."""

    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request) -> ClientInfo:
        return cls(
            ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.headers.get("User-Agent", "")[:256],
        )


NO_CLIENT = ClientInfo()


def security_event_record(
    *,
    kind: str,
    account: User,
    actor_kind: str,
    token: APIToken | None = None,
    actor: User | None = None,
    client: ClientInfo = NO_CLIENT,
    detail: str = "",
    now: datetime | None = None,
) -> SecurityEvent:
    """Append one row to the security log."""
    now = now or timezone.now()
    return SecurityEvent.objects.create(
        kind=kind,
        account=account,
        actor_kind=actor_kind,
        actor=actor,
        token=token,
        token_name=token.name if token else "",
        token_identifier=token.identifier if token else "",
        ip=client.ip,
        user_agent=client.user_agent[:256],
        detail=detail[:255],
        created_at=now,
        last_seen_at=now,
    )


def api_token_create(
    *,
    user: User,
    name: str,
    scopes: tuple[str, ...] = (SCOPE_READ,),
    expires_at: datetime | None = None,
    lifetime_days: int | None = None,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> tuple[APIToken, str]:
    """Create a token and return it with its plaintext value, which is never stored.

    Raises TokenNameTaken when an active token of `user` already has that name.
    """
    now = now or timezone.now()
    raw = tokens.generate_token()
    try:
        with transaction.atomic():
            token = APIToken.objects.create(
                owner=user,
                name=name,
                digest=tokens.token_digest(raw),
                identifier=tokens.token_identifier(raw),
                scopes=" ".join(scopes),
                created_at=now,
                expires_at=expires_at,
                lifetime_days=lifetime_days,
            )
            security_event_record(
                kind=SecurityEvent.Kind.CREATED,
                account=user,
                actor_kind=SecurityEvent.Actor.USER,
                actor=user,
                token=token,
                client=client,
                now=now,
            )
    except IntegrityError as error:
        if APIToken.objects.active().filter(owner=user, name__iexact=name).exists():
            raise TokenNameTaken(name) from error
        raise
    return token, raw


def api_token_revoke(
    *,
    token: APIToken,
    actor: User | None,
    reason: str = APIToken.RevokedBy.OWNER,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> bool:
    """Delete (revoke) a token; it stops authenticating on the next request.

    Returns False when it was already deleted (double submit, second tab): nothing changes.
    """
    now = now or timezone.now()
    with transaction.atomic():
        updated = APIToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=actor, revoked_reason=reason
        )
        if not updated:
            return False
        token.revoked_at, token.revoked_by, token.revoked_reason = now, actor, reason
        actor_kind = {
            APIToken.RevokedBy.OWNER: SecurityEvent.Actor.USER,
            APIToken.RevokedBy.STAFF: SecurityEvent.Actor.STAFF,
            APIToken.RevokedBy.SELF: SecurityEvent.Actor.TOKEN,
        }[reason]
        security_event_record(
            kind=SecurityEvent.Kind.DELETED,
            account=token.owner,
            actor_kind=actor_kind,
            actor=actor,
            token=token,
            client=client,
            now=now,
        )
    return True


def api_token_rename(
    *,
    token: APIToken,
    name: str,
    actor: User,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> None:
    """Rename an active token. Raises TokenNameTaken on a clash."""
    old_name = token.name
    if old_name == name:
        return
    try:
        with transaction.atomic():
            APIToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(name=name)
            token.name = name
            security_event_record(
                kind=SecurityEvent.Kind.RENAMED,
                account=token.owner,
                actor_kind=SecurityEvent.Actor.USER,
                actor=actor,
                token=token,
                client=client,
                detail=f"Renamed from “{old_name}”",
                now=now,
            )
    except IntegrityError as error:
        token.name = old_name
        raise TokenNameTaken(name) from error
