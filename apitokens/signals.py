"""Receivers of accounts' signals (accounts cannot import apitokens, so it signals)."""

from __future__ import annotations

import logging

from django.http import HttpRequest

from accounts.models import AccountEvent, User
from apitokens.models import APIToken
from apitokens.services.audit import NO_CLIENT, ClientInfo
from apitokens.services.staff import account_tokens_revoke_by_staff
from apitokens.services.tokens import api_token_revoke
from apitokens.webhooks.events import account_event_webhooks_emit

logger = logging.getLogger(__name__)


def tokens_revoke_on_claim(
    *, user: User, request: HttpRequest | None = None, **kwargs: object
) -> int:
    """The address's owner took the account: delete every token the claimant made.
    Returns how many were deleted."""
    client = ClientInfo.from_request(request) if request is not None else NO_CLIENT
    tokens = list(user.api_tokens.active().select_related("owner").order_by("pk"))
    return sum(
        api_token_revoke(token=token, actor=None, reason=APIToken.RevokedBy.CLAIMED, client=client)
        for token in tokens
    )


def tokens_revoke_on_staff_end(
    *, user: User, actor: User, request: HttpRequest | None = None, **kwargs: object
) -> int:
    """Staff ended all of the account's access: delete every active token (the owner gets
    accounts' one email, not one per token). Returns how many were deleted."""
    client = ClientInfo.from_request(request) if request is not None else NO_CLIENT
    return account_tokens_revoke_by_staff(user=user, actor=actor, client=client)


def tokens_preview_for_staff_end(*, user: User, **kwargs: object) -> list[str]:
    """The account's active tokens, one line each, for the staff confirmation page."""
    active = user.api_tokens.active().order_by("name", "pk").only("name", "identifier")
    return [f"API token “{token.name}” ({token.identifier})" for token in active]


def account_event_stream(*, event: AccountEvent, **kwargs: object) -> None:
    """An account security-log row was written: stream it to the staff webhook endpoints."""
    try:
        account_event_webhooks_emit(event=event)  # in a savepoint: the log row stays
    except Exception:
        logger.exception("Could not queue the webhooks of account event %s", event.pk)
