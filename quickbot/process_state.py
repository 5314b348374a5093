"""Every piece of per-process state, reset through one call (`process_state_reset`).

quickbot is the top layer, so it may reach each app's state; the tests call this before and
after each test. Left out on purpose: the `lru_cache` memos (allowlist parsing and
decisions, client-address keys, error bodies, name prototypes), which are pure functions of
their arguments and so cannot carry one test's state into another.
"""

from __future__ import annotations

from django.core.cache import cache

from apitokens.activity.buffer import activity_buffer
from apitokens.api import limits
from apitokens.policy import policy_memo
from apitokens.webhooks.events import subscription_memo
from common.metrics import api_tally


def process_state_reset() -> None:
    """Forget this process's state: the cache (login and rate-limit counters), the API
    limits' counters and memos, the activity buffer and its unknown-token traces (unwritten,
    their flusher stopped), the token policy memo, the webhook subscription memo, and the
    API metrics not yet published (their publisher stopped)."""
    cache.clear()
    limits.reset()
    activity_buffer.reset()
    policy_memo.reset()
    subscription_memo.reset()
    api_tally.reset()
