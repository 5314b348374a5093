"""The token security log and the API activity as audit exports (`common.audit_export`),
and every export by the name `manage.py export_audit --kind` takes. Tokens appear by
identifier and name only: the tables hold no value."""

from __future__ import annotations

from accounts.audit_export import ACCOUNT_EVENTS
from apitokens.models import SecurityEvent, TokenActivity
from common.audit_export import AuditExport, Column

SECURITY_EVENTS = AuditExport(
    model=SecurityEvent,
    name="security-log",
    columns=(
        Column("id", "pk"),
        Column("time", "created_at"),
        Column("last_seen", "last_seen_at"),
        Column("kind", "kind"),
        Column("account_id", "account_id"),
        Column("account_email", "account__email"),
        Column("actor_kind", "actor_kind"),
        Column("actor_email", "actor__email"),
        Column("token_name", "token_name"),
        Column("token_identifier", "token_identifier"),
        Column("ip", "ip"),
        Column("user_agent", "user_agent"),
        Column("count", "count"),
        Column("detail", "detail"),
    ),
)

ACTIVITY = AuditExport(
    model=TokenActivity,
    name="api-activity",
    columns=(
        Column("id", "pk"),
        Column("time", "created_at"),
        Column("request_id", "request_id"),
        Column("method", "method"),
        Column("path", "path"),
        Column("status", "status"),
        Column("duration_ms", "duration_ms"),
        Column("ip", "ip"),
        Column("user_agent", "user_agent"),
        Column("token_name", "token__name"),
        Column("token_identifier", "token__identifier"),
        Column("owner_id", "owner_id"),
        Column("owner_email", "owner__email"),
        Column("flagged", "flagged"),
        Column("used_previous_value", "used_previous_value"),
        Column("outside_allowlist", "outside_allowlist"),
    ),
)

# `export_audit --kind`: the security log of tokens, the accounts' log, the API activity.
EXPORTS: dict[str, AuditExport] = {
    "security": SECURITY_EVENTS,
    "account": ACCOUNT_EVENTS,
    "activity": ACTIVITY,
}
