"""Account settings > API Tokens: list, create (value shown once), edit, regenerate, pause,
resume, delete, and each token's own page.

- `listing`: the API Tokens page and the "Create Token" form;
- `detail`: a token's page and the show-once modal's first-request line;
- `changes`: edit, regenerate, delete, pause and resume, end a regenerate's overlap now,
  enforce a report-only allowlist;
- `base`: the typed request, the htmx-aware login check, the owner-scoped lookup and
  the modal answers they share.

Every view serves both htmx (modal bodies, rendered from named partials of
`apitokens/token_list.html`) and plain HTML pages for browsers without JavaScript.
Nothing here is cacheable: a response may carry a token value.
"""

from __future__ import annotations

from apitokens.views.changes import (
    token_allowlist_enforce,
    token_delete,
    token_edit,
    token_overlap_end,
    token_pause,
    token_regenerate,
    token_resume,
)
from apitokens.views.detail import token_detail, token_first_request
from apitokens.views.listing import (
    TokenRow,
    UsageSummary,
    last_used_text,
    rate_limit_usage,
    token_list,
    token_new,
    token_rows,
)

__all__ = [
    "TokenRow",
    "UsageSummary",
    "last_used_text",
    "rate_limit_usage",
    "token_allowlist_enforce",
    "token_delete",
    "token_detail",
    "token_edit",
    "token_first_request",
    "token_list",
    "token_overlap_end",
    "token_new",
    "token_pause",
    "token_regenerate",
    "token_resume",
    "token_rows",
]
