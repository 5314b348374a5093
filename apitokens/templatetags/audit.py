"""Template tags for the owner's pages: the dead-token alert banner."""

from __future__ import annotations

from django import template

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
