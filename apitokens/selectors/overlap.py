"""Who still sends a token's old value during a regenerate's overlap: each caller's address
and client, how many requests and when last, for the token page and the owner's warning
email.

Read from the activity rows through the (token, created_at) index, from the overlap's start
(the regenerate) and over the newest `OLD_VALUE_SCAN_ROWS` rows at most, so a token busy with
its new value costs the same bounded read at any table size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max

from apitokens.models import APIToken, TokenActivity
from common.user_agents import browser_label, clean_user_agent

# The most recent requests read to find the old value's callers (every status).
OLD_VALUE_SCAN_ROWS = 20_000
# Callers listed at most; the rest are summed up in `others`.
OLD_VALUE_CALLERS_SHOWN = 10


@dataclass(frozen=True, slots=True)
class OldValueCaller:
    """One address and client that sent the old value: `client` is the readable name
    ("curl", "Firefox on Linux"), `user_agent` the cleaned header."""

    ip: str | None
    client: str
    user_agent: str
    count: int
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class OldValueUse:
    """The old value's callers since `since`, most recent first. `complete` is False when
    the window held more than `OLD_VALUE_SCAN_ROWS` requests: then the counts cover those
    since `counted_since` only. `others` counts the callers beyond the ones listed,
    `requests` the old value's requests of every caller."""

    since: datetime
    callers: list[OldValueCaller]
    others: int
    requests: int
    complete: bool
    counted_since: datetime


def previous_value_callers(
    *,
    token: APIToken,
    since: datetime,
    scan_rows: int = OLD_VALUE_SCAN_ROWS,
    shown: int = OLD_VALUE_CALLERS_SHOWN,
) -> OldValueUse:
    """The callers that sent `token`'s old value (`used_previous_value`) since `since` (the
    regenerate, or later), grouped by address and readable client name."""
    # The time of the oldest row a bounded read takes in; none when the window is smaller.
    bound = next(
        iter(
            TokenActivity.objects.filter(token=token, created_at__gte=since)
            .order_by("-created_at")
            .values_list("created_at", flat=True)[scan_rows - 1 : scan_rows]
        ),
        None,
    )
    rows = TokenActivity.objects.filter(token=token, used_previous_value=True)
    rows = rows.filter(created_at__gte=bound or since)
    grouped = rows.values("ip", "user_agent").annotate(
        count=Count("id"), last_seen_at=Max("created_at")
    )
    by_caller: dict[tuple[str | None, str], dict] = {}
    for row in grouped.order_by():
        client = browser_label(row["user_agent"])
        key = (row["ip"], client)
        seen = by_caller.get(key)
        if seen is None:
            by_caller[key] = {
                "count": row["count"],
                "last_seen_at": row["last_seen_at"],
                "user_agent": clean_user_agent(row["user_agent"]),
            }
            continue
        seen["count"] += row["count"]
        if row["last_seen_at"] > seen["last_seen_at"]:
            seen["last_seen_at"] = row["last_seen_at"]
            seen["user_agent"] = clean_user_agent(row["user_agent"])
    callers = sorted(
        (
            OldValueCaller(ip=ip, client=client, **facts)
            for (ip, client), facts in by_caller.items()
        ),
        key=lambda caller: (caller.last_seen_at, caller.count),
        reverse=True,
    )
    return OldValueUse(
        since=since,
        callers=callers[:shown],
        others=max(0, len(callers) - shown),
        requests=sum(caller.count for caller in callers),
        complete=bound is None,
        counted_since=bound or since,
    )
