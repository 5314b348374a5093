"""Stale tokens: active tokens nobody uses. The rule lives here and nowhere else.

A token is stale when it is usable (not deleted, not expired) and either its last use is
`stale_after_days()` days old or more, or it was never used and was created at least
`NEVER_USED_GRACE` ago. `stale_after_days()` returning 0 turns the rule off.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q

from apitokens.models import APIToken
from apitokens.policy import policy_memoized

# A token created for a script that never ran: a week is long enough to set the script up.
NEVER_USED_GRACE = timedelta(days=7)


def stale_after_days() -> int:
    """Days without a request after which an active token is stale (0: never stale).

    The staff token policy's value; without a saved policy, QUICKBOT_STALE_TOKEN_DAYS.
    """
    return max(0, int(policy_memoized().stale_token_days))


def stale_condition(now: datetime) -> Q:
    """The stale rule as a filter on APIToken, for `now` (usable tokens only: combine it
    with `APIToken.objects.usable(now)`). Matches nothing when the rule is off."""
    days = stale_after_days()
    if days == 0:
        return Q(pk__in=[])
    return Q(last_used_at__lte=now - timedelta(days=days)) | Q(
        last_used_at__isnull=True, created_at__lte=now - NEVER_USED_GRACE
    )


def is_stale(token: APIToken, now: datetime) -> bool:
    """The same rule as `stale_condition`, for one token already loaded."""
    days = stale_after_days()
    if days == 0 or token.revoked_at is not None or token.is_expired(now):
        return False
    if token.last_used_at is None:
        return token.created_at <= now - NEVER_USED_GRACE
    return token.last_used_at <= now - timedelta(days=days)
