"""API tokens, their per-request activity, their security log, the site's policy and
webhooks: one module each, re-exported here so `from apitokens.models import APIToken`
keeps working."""

from apitokens.models.activity import TokenActivity, TokenAddress, TokenUsageHour
from apitokens.models.policy import TokenPolicy
from apitokens.models.security import SecurityEvent
from apitokens.models.tokens import (
    ALL_SCOPES,
    SCOPE_READ,
    SCOPE_WRITE,
    APIToken,
    APITokenQuerySet,
    TokenSuggestionDismissal,
)
from apitokens.models.webhooks import EVENT_TYPES, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ALL_SCOPES",
    "EVENT_TYPES",
    "SCOPE_READ",
    "SCOPE_WRITE",
    "APIToken",
    "APITokenQuerySet",
    "SecurityEvent",
    "TokenActivity",
    "TokenAddress",
    "TokenPolicy",
    "TokenSuggestionDismissal",
    "TokenUsageHour",
    "WebhookDelivery",
    "WebhookEndpoint",
]
