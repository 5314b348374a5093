"""Django admin for API tokens, their activity, the security log and the token policy.

Staff can answer "who holds which tokens, what did they do with them, what looks
wrong". Secrets never appear: the identifier is shown, never the digest, and lookups
on a digest are refused. Activity and the security log are read-only. Changelists
stay cheap at a million activity rows: no full COUNT(*), joins selected up front,
filters that need no extra query.

One module per admin (`tokens`, `activity`, `security_log`, `policy`, `webhooks`), the staff
dashboard (`dashboard`), the token actions (`actions`), the list filters (`filters`),
the changelist machinery (`changelist`) and cell helpers (`display`). Importing this
package (Django's admin autodiscovery) registers every admin.
"""

from __future__ import annotations

from apitokens.admin.activity import TokenActivityAdmin
from apitokens.admin.changelist import CappedCountPaginator, EmptyAwareChangeList
from apitokens.admin.policy import TokenPolicyAdmin
from apitokens.admin.security_log import SecurityEventAdmin
from apitokens.admin.tokens import APITokenAdmin
from apitokens.admin.webhooks import WebhookDeliveryAdmin, WebhookEndpointAdmin

__all__ = [
    "APITokenAdmin",
    "CappedCountPaginator",
    "EmptyAwareChangeList",
    "SecurityEventAdmin",
    "TokenActivityAdmin",
    "TokenPolicyAdmin",
    "WebhookDeliveryAdmin",
    "WebhookEndpointAdmin",
]
