"""Staff tools: find the token a pasted value belongs to, and delete every token of an
account (the user page's "Delete all tokens and end all sessions", through accounts'
signal). Each writes its security-log rows; no token value is ever kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from accounts.models import User
from apitokens import tokens
from apitokens.models import APIToken, SecurityEvent
from apitokens.services.audit import NO_CLIENT, ClientInfo, security_event_record
from apitokens.services.tokens import api_token_revoke


@dataclass(frozen=True, slots=True)
class TokenLookup:
    """What a pasted value is: a token's current or previous value, or nothing."""

    token: APIToken | None
    previous_value: bool = False


def api_token_find_by_value(
    *, value: str, actor: User, client: ClientInfo = NO_CLIENT, now: datetime | None = None
) -> TokenLookup:
    """Find the token whose current or previous (regenerate overlap) value is `value`, a
    well-formed token (`tokens.is_well_formed`), and log the lookup (a miss without a
    token or account). The value is digested here and kept nowhere."""
    digest = tokens.token_digest(value)
    token = (
        APIToken.objects.filter(Q(digest=digest) | Q(previous_digest=digest))
        .select_related("owner")
        .first()
    )
    previous_value = token is not None and token.digest != digest
    if token is None:
        detail = "No token has this value"
    elif previous_value:
        detail = "Matched the token's previous value"
    else:
        detail = "Matched the token's value"
    security_event_record(
        kind=SecurityEvent.Kind.LOOKED_UP,
        # A miss has no account, like the unknown tokens presented to the API.
        account=token.owner if token is not None else None,
        actor_kind=SecurityEvent.Actor.STAFF,
        actor=actor,
        token=token,
        client=client,
        detail=detail,
        now=now,
    )
    return TokenLookup(token=token, previous_value=previous_value)


def account_tokens_revoke_by_staff(
    *, user: User, actor: User | None, client: ClientInfo = NO_CLIENT
) -> int:
    """Delete every active token of `user` for staff (one security-log row each) without
    the per-token emails: the caller sends the owner one email for the whole action.
    Returns how many were deleted."""
    active = list(user.api_tokens.active().select_related("owner").order_by("pk"))
    return sum(
        api_token_revoke(
            token=token,
            actor=actor,
            reason=APIToken.RevokedBy.STAFF,
            client=client,
            notify=False,
        )
        for token in active
    )
