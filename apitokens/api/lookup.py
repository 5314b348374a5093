"""Find the token a presented value belongs to, and decide whether it may be used.

One indexed query joins the owner. With QUICKBOT_FAST_TOKEN_LOOKUP (the default) it runs
through `internals.fetch_token_with_owner`; without, through the plain ORM. Both return the
same instances (tests/apitokens/api/test_lookup.py holds them to it on both databases).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apitokens import tokens
from apitokens.api import internals
from apitokens.models import APIToken

# "address": a usable token presented from outside its IP allowlist; "paused": a usable token
# its owner or staff paused (both set by apitokens.api.auth after the lookup, not by it).
AuthFailure = Literal["malformed", "unknown", "revoked", "expired", "inactive", "address", "paused"]


@dataclass(frozen=True, slots=True)
class AuthResult:
    """A token, or the reason there is none.

    `token` is set for "revoked", "expired" and "inactive" too, so callers can record who
    still holds a dead token; `ok` is True only for a usable token of an active user.
    """

    token: APIToken | None
    reason: AuthFailure | None = None
    used_previous_value: bool = False

    @property
    def ok(self) -> bool:
        return self.reason is None


def authenticate_token(raw: str, now: datetime | None = None) -> AuthResult:
    """Check a presented value: its format and checksum offline, then one lookup."""
    if not tokens.is_well_formed(raw):
        return AuthResult(None, "malformed")
    return authenticate_digest(tokens.token_digest(raw), now)


def authenticate_digest(digest: str, now: datetime | None = None) -> AuthResult:
    """`authenticate_token` for the digest of a well-formed value. A value replaced by
    Regenerate authenticates until its overlap ends; afterwards it is "expired"."""
    if settings.QUICKBOT_FAST_TOKEN_LOOKUP:
        token = internals.fetch_token_with_owner(digest)
    else:
        token = token_with_owner_orm(digest)
    if token is None:
        return AuthResult(None, "unknown")
    now = now or timezone.now()
    used_previous = not hmac.compare_digest(token.digest, digest)
    if used_previous and (token.previous_expires_at is None or token.previous_expires_at <= now):
        return AuthResult(token, "expired", used_previous_value=True)
    if token.revoked_at is not None:
        return AuthResult(token, "revoked", used_previous)
    if token.expires_at is not None and token.expires_at <= now:
        return AuthResult(token, "expired", used_previous)
    if not token.owner.is_active:
        return AuthResult(token, "inactive", used_previous)
    return AuthResult(token, None, used_previous)


def token_with_owner_orm(digest: str) -> APIToken | None:
    """The lookup through the ORM: the reference the fast lookup is tested against."""
    found = APIToken.objects.select_related("owner").filter(
        Q(digest=digest) | Q(previous_digest=digest)
    )
    return next(iter(found.order_by()[:1]), None)
