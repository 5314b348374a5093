"""Template tags for the owner's pages: the dead-token alert banner, what a security-log
event changed, and a client's User-Agent as a name ("Firefox on Linux")."""

from __future__ import annotations

from django import template

from apitokens.event_details import security_event_details
from apitokens.models import SecurityEvent
from apitokens.selectors.alerts import suspicious_events_for_account

register = template.Library()


@register.inclusion_tag("apitokens/security_alerts.html", takes_context=True)
def security_alerts(context: template.Context) -> dict:
    """Recent uses of the signed-in user's deleted or expired tokens (one query)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"alerts": []}
    return {"alerts": suspicious_events_for_account(user=user)}


@register.filter
def event_details(event: SecurityEvent) -> str:
    """What the event changed, as the admin shows it (`security_event_details`)."""
    return security_event_details(event)
