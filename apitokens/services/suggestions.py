"""Right-sizing suggestions acted on: applied through the permission and allowlist
services (so the security log and notices are as for an edit), or dismissed for good.

The rules are `apitokens.selectors.suggestions`; an apply checks them again first, since
the token's traffic may have changed after the page showed the suggestion.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from apitokens import allowlist
from apitokens.models import SCOPE_READ, SCOPE_WRITE, APIToken, TokenSuggestionDismissal
from apitokens.selectors import suggestions as rules
from apitokens.services.audit import NO_CLIENT, ClientInfo
from apitokens.services.changes import api_token_update_allowed_ips, api_token_update_scopes

Kind = TokenSuggestionDismissal.Kind
# Kinds applied here; a delete goes through the token's delete confirmation.
APPLICABLE_KINDS = (Kind.READ_ONLY, Kind.ALLOWLIST)


class SuggestionOutdated(Exception):
    """The suggestion no longer holds for the token: nothing was changed. The message says
    why, for the owner."""


def _outdated_reason(*, token: APIToken, kind: str, now: datetime) -> str:
    name = f"‘{token.name}’"
    if token.revoked_at is not None or token.is_expired(now):
        return f"Token {name} no longer works, so nothing was changed."
    since = rules.judge_window_start(now)
    if kind == Kind.READ_ONLY:
        if not token.has_scope(SCOPE_WRITE):
            return f"Token {name} is already read-only."
        if rules.token_write_requests_exist(token=token, since=since):
            return (
                f"A request that needs write was made with {name} since this suggestion was "
                "shown, so it keeps its write permission. Nothing was changed."
            )
    elif kind == Kind.ALLOWLIST:
        if token.allowed_ips:
            return f"Token {name} already has an IP allowlist. Nothing was changed."
        return (
            f"{name} was used from other addresses since this suggestion was shown, so the "
            "suggested allowlist would refuse some of its requests. Nothing was changed: "
            "look at its recent activity and edit the allowlist yourself."
        )
    return f"This suggestion no longer holds for {name}. Nothing was changed."


def _allowlist_stored(typed: str) -> str | None:
    try:
        return allowlist.allowlist_normalize(typed)
    except allowlist.AllowlistError:
        return None


def api_token_suggestion_apply(
    *,
    token: APIToken,
    kind: str,
    actor: User,
    allowed_ips: str = "",
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> rules.Suggestion:
    """Apply a read-only or allowlist suggestion after checking it still holds (for an
    allowlist: the very list shown, `allowed_ips`). Raises SuggestionOutdated, changing
    nothing, when it does not; ValueError for a kind not applied here."""
    if kind not in APPLICABLE_KINDS:
        raise ValueError(f"Suggestions of kind {kind!r} are not applied here.")
    now = now or timezone.now()
    suggestion = rules.token_suggestion(token=token, kind=kind, now=now)
    if suggestion is None or (
        kind == Kind.ALLOWLIST and _allowlist_stored(allowed_ips) != suggestion.allowed_ips
    ):
        raise SuggestionOutdated(_outdated_reason(token=token, kind=kind, now=now))
    if kind == Kind.READ_ONLY:
        api_token_update_scopes(
            token=token, scopes=(SCOPE_READ,), actor=actor, client=client, now=now
        )
    else:
        api_token_update_allowed_ips(
            token=token, allowed_ips=suggestion.allowed_ips, actor=actor, client=client, now=now
        )
    return suggestion


def api_token_delete_suggestion_check(*, token: APIToken, now: datetime | None = None) -> None:
    """Before a delete confirmed from the "delete it" suggestion: raise SuggestionOutdated
    when the token was used meanwhile (the suggestion no longer holds)."""
    now = now or timezone.now()
    if rules.token_suggestion(token=token, kind=Kind.DELETE, now=now) is None:
        raise SuggestionOutdated(
            f"‘{token.name}’ was used since the suggestion to delete it was shown, so it "
            "was not deleted. Delete it from its page if you still want to."
        )


def token_suggestion_dismiss(*, token: APIToken, kind: str, now: datetime | None = None) -> bool:
    """Dismiss a kind of suggestion for this token for good; True when newly dismissed
    (a second dismissal, from a double click or another tab, changes nothing).

    Not a change to the token, so the security log has no row for it."""
    if kind not in Kind.values:
        raise ValueError(f"Unknown suggestion kind {kind!r}.")
    try:
        with transaction.atomic():
            _dismissal, created = TokenSuggestionDismissal.objects.get_or_create(
                token=token, kind=kind, defaults={"dismissed_at": now or timezone.now()}
            )
    except IntegrityError:  # the same dismissal from a concurrent request won
        return False
    return created
