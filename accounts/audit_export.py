"""The account security log as an audit export (`common.audit_export`): the admin's
export links and `manage.py export_audit --kind account` write these columns."""

from __future__ import annotations

from accounts.models import AccountEvent
from common.audit_export import AuditExport, Column

ACCOUNT_EVENTS = AuditExport(
    model=AccountEvent,
    name="account-log",
    columns=(
        Column("id", "pk"),
        Column("time", "created_at"),
        Column("kind", "kind"),
        Column("account_id", "user_id"),
        Column("account_email", "user__email"),
        Column("detail", "detail"),
        Column("ip", "ip"),
        Column("user_agent", "user_agent"),
    ),
)
