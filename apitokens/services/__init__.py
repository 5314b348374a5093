"""Actions that change API tokens, by sub-domain; each writes its security-log row.

- `tokens`: create (within the per-account cap), revoke, regenerate.
- `changes`: rename, permissions and IP allowlist (its mode too) of a live token.
- `audit`: the security log, `ClientInfo`, uses of dead and unknown tokens.
- `exposure`: leak reports and tokens sent in a URL.
- `policy`: staff's token policy and expiries brought forward to meet it.

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
from apitokens.services.policy import api_token_expire_by_policy, token_policy_save
from apitokens.services.tokens import (
    EXPOSED_DETAILS,
    TokenChangedMeanwhile,
    TokenLimitReached,
    TokenNameTaken,
    TokenNotRegenerable,
    api_token_create,
    api_token_limit,
    api_token_name_clash,
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
    "TokenNameTaken",
    "TokenNotRegenerable",
    "api_token_allowlist_enforce",
    "api_token_create",
    "api_token_dead_use_record",
    "api_token_expire_by_policy",
    "api_token_limit",
    "api_token_name_clash",
    "api_token_regenerate",
    "api_token_rename",
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
