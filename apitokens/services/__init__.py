"""Actions that change API tokens, by sub-domain; each writes its security-log row.

- `tokens`: create (within the per-account cap), revoke, regenerate, end a regenerate's
  overlap.
- `changes`: rename, permissions and IP allowlist (its mode too) of a live token.
- `audit`: the security log, `ClientInfo`, uses of dead and unknown tokens.
- `pause`: pause and resume a token (the API refuses a paused one).
- `exposure`: leak reports and tokens sent in a URL.
- `policy`: staff's token policy and expiries brought forward to meet it.
- `staff`: staff tools: find a token by a pasted value, delete all of an account's tokens.

The names below are re-exported so callers can write `services.api_token_revoke(...)`.
"""

from __future__ import annotations

from apitokens.services.audit import (
    DEAD_USE_EVENT_WINDOW,
    NO_CLIENT,
    ClientInfo,
    api_token_dead_use_record,
    security_event_record,
    unknown_tokens_record,
)
from apitokens.services.changes import (
    api_token_allowlist_enforce,
    api_token_rename,
    api_token_update_allowed_ips,
    api_token_update_scopes,
    scopes_validate,
)
from apitokens.services.exposure import (
    MAX_REPORTED_CREDENTIALS,
    LeakReport,
    exposed_tokens_revoke,
    leak_report_process,
    leaked_credentials_report,
)
from apitokens.services.pause import ResumeNeedsStaff, api_token_pause, api_token_resume
from apitokens.services.policy import api_token_expire_by_policy, token_policy_save
from apitokens.services.staff import (
    TokenLookup,
    account_tokens_revoke_by_staff,
    api_token_find_by_value,
)
from apitokens.services.tokens import (
    EXPOSED_DETAILS,
    TokenChangedMeanwhile,
    TokenLimitReached,
    TokenNameTaken,
    TokenNotRegenerable,
    api_token_create,
    api_token_limit,
    api_token_name_clash,
    api_token_overlap_end,
    api_token_regenerate,
    api_token_revoke,
)

__all__ = [
    "DEAD_USE_EVENT_WINDOW",
    "EXPOSED_DETAILS",
    "MAX_REPORTED_CREDENTIALS",
    "NO_CLIENT",
    "ClientInfo",
    "LeakReport",
    "TokenChangedMeanwhile",
    "TokenLimitReached",
    "TokenLookup",
    "TokenNameTaken",
    "TokenNotRegenerable",
    "account_tokens_revoke_by_staff",
    "api_token_allowlist_enforce",
    "api_token_create",
    "api_token_dead_use_record",
    "api_token_expire_by_policy",
    "api_token_find_by_value",
    "api_token_limit",
    "api_token_name_clash",
    "api_token_overlap_end",
    "api_token_pause",
    "api_token_regenerate",
    "api_token_rename",
    "api_token_resume",
    "ResumeNeedsStaff",
    "api_token_revoke",
    "api_token_update_allowed_ips",
    "api_token_update_scopes",
    "exposed_tokens_revoke",
    "leak_report_process",
    "leaked_credentials_report",
    "scopes_validate",
    "security_event_record",
    "token_policy_save",
    "unknown_tokens_record",
]
