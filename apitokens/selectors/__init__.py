"""Read queries over tokens, API activity and the security log, by sub-domain:

- `usage`: counts from the hourly rollups (per hour and day, by status, top lists, the
  dashboard's figures, a token's recent requests);
- `suspicious`: what staff should look at (dead tokens used, bursts, unknown tokens, new IPs);
- `alerts`: the owner's alerts about their dead or exposed tokens;
- `activity`: activity pages and their cursor, for the API and the token page;
- `tokens`: tokens picked by a rule (stale, breaking the policy);
- `overlap`: who still sends a token's old value during a regenerate's overlap.

The names below are re-exported so `from apitokens import selectors` keeps reading well.
"""

from __future__ import annotations

from apitokens.selectors.activity import (
    ACTIVITY_FIELDS,
    ActivityPage,
    ActivityPosition,
    activity_cursor,
    activity_page,
    activity_query,
    parse_activity_cursor,
    token_activity,
    token_activity_page,
    token_new_ips,
    token_outside_allowlist_count,
)
from apitokens.selectors.alerts import (
    ACCOUNT_ALERT_WINDOW,
    EXPOSED_REASONS,
    AccountAlert,
    dead_token_alert,
    since_phrase,
    suspicious_events_for_account,
)
from apitokens.selectors.overlap import (
    OLD_VALUE_CALLERS_SHOWN,
    OLD_VALUE_SCAN_ROWS,
    OldValueCaller,
    OldValueUse,
    previous_value_callers,
)
from apitokens.selectors.suspicious import (
    BAD_TOKEN_BURST_LOOKBACK,
    BAD_TOKEN_BURST_THRESHOLD,
    DEAD_TOKEN_KINDS,
    NEW_IP_LOOKBACK,
    SUSPICIOUS_LOOKBACK,
    SuspiciousEvent,
    bad_token_bursts,
    dead_token_uses,
    new_ip_uses,
    suspicious_events,
    unknown_token_sprays,
)
from apitokens.selectors.tokens import stale_tokens, tokens_breaking_policy
from apitokens.selectors.usage import (
    STATUS_CLASS_COLUMNS,
    STATUS_CLASSES,
    DashboardCounts,
    activity_per_day,
    activity_per_hour,
    dashboard_counts,
    hour_window,
    recent_requests_per_token,
    status_counts,
    token_request_total,
    token_requests_recorded,
    top_accounts,
    top_tokens,
    unknown_token_counts,
)

__all__ = [
    "ACCOUNT_ALERT_WINDOW",
    "ACTIVITY_FIELDS",
    "BAD_TOKEN_BURST_LOOKBACK",
    "BAD_TOKEN_BURST_THRESHOLD",
    "DEAD_TOKEN_KINDS",
    "EXPOSED_REASONS",
    "NEW_IP_LOOKBACK",
    "OLD_VALUE_CALLERS_SHOWN",
    "OLD_VALUE_SCAN_ROWS",
    "STATUS_CLASSES",
    "STATUS_CLASS_COLUMNS",
    "SUSPICIOUS_LOOKBACK",
    "AccountAlert",
    "ActivityPage",
    "ActivityPosition",
    "DashboardCounts",
    "OldValueCaller",
    "OldValueUse",
    "SuspiciousEvent",
    "activity_cursor",
    "activity_page",
    "activity_per_day",
    "activity_per_hour",
    "activity_query",
    "bad_token_bursts",
    "dashboard_counts",
    "dead_token_alert",
    "dead_token_uses",
    "hour_window",
    "new_ip_uses",
    "parse_activity_cursor",
    "previous_value_callers",
    "recent_requests_per_token",
    "since_phrase",
    "stale_tokens",
    "status_counts",
    "suspicious_events",
    "suspicious_events_for_account",
    "token_activity",
    "token_activity_page",
    "token_new_ips",
    "token_outside_allowlist_count",
    "token_request_total",
    "token_requests_recorded",
    "tokens_breaking_policy",
    "top_accounts",
    "top_tokens",
    "unknown_token_counts",
    "unknown_token_sprays",
]
