"""The API's limits: requests per account per hour, requests per address with bad
credentials, leak reports per address.

* `store`: which counter store this process uses (Redis, Redis Cluster or its own memory)
  and the log line when it does not answer;
* `hourly`: the hourly limit, counted in two steps around the token lookup
  (`hourly_start`, then `admit` or `cancel`), overlapped with it on Redis;
* `per_address`: the bad-credential and leak-report limits;
* `redis`, `local`: the stores themselves.

`reset()` forgets every limit's state in this process (the tests call it between tests).
"""

from __future__ import annotations

from apitokens.api.limits.hourly import (
    HourlyCount,
    RateLimitState,
    hourly_limit_for,
    hourly_start,
    owners,
    rate_limit_hit,
    usage_for,
)
from apitokens.api.limits.per_address import (
    bad_auth_blocked,
    bad_auth_count,
    bad_auth_hit,
    credential_report_hit,
    failure_batches,
)
from apitokens.api.limits.store import RateLimitUnavailable, counter_store, counters

__all__ = [
    "HourlyCount",
    "RateLimitState",
    "RateLimitUnavailable",
    "bad_auth_blocked",
    "bad_auth_count",
    "bad_auth_hit",
    "counter_store",
    "counters",
    "credential_report_hit",
    "failure_batches",
    "hourly_limit_for",
    "hourly_start",
    "owners",
    "rate_limit_hit",
    "remember_owner",
    "reset",
    "usage_for",
]

remember_owner = owners.remember


def reset() -> None:
    """Forget every limit's state in this process: the counter store (built anew on next
    use; Redis keeps its keys), the outage log's clock, unsynced failures, known owners."""
    counter_store.reset()
    failure_batches.reset()
    owners.reset()
