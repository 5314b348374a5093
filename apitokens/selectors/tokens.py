"""Tokens picked by a rule: the stale ones (`apitokens.stale`) and the ones that break
the staff token policy (`apitokens.policy`), for the owner's page, the stale-token mail
and the admin."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.models import User
from apitokens import policy, stale
from apitokens.models import APIToken, TokenPolicy


def stale_tokens(*, now: datetime | None = None, owner: User | None = None) -> QuerySet:
    """Usable tokens nobody uses (the rule: `apitokens.stale`), oldest use first; all
    owners', or one owner's."""
    now = now or timezone.now()
    queryset = APIToken.objects.usable(now).filter(stale.stale_condition(now))
    if owner is not None:
        queryset = queryset.filter(owner=owner)
    return queryset.order_by(F("last_used_at").asc(nulls_first=True), "created_at", "pk")


def tokens_breaking_policy(
    *, token_policy: TokenPolicy | None = None, now: datetime | None = None
) -> QuerySet:
    """Usable tokens that break `token_policy` (the current one by default)."""
    now = now or timezone.now()
    token_policy = token_policy if token_policy is not None else TokenPolicy.current()
    return APIToken.objects.usable(now).filter(policy.breach_condition(token_policy, now))
