"""What a security-log event changed, from what, to what: one line of text that the
owner's token page and the staff admin both show, so the owner never sees less."""

from __future__ import annotations

from django.utils.text import capfirst

from apitokens.models import SecurityEvent

# Details that begin by repeating the event's name ("IP allowlist changed from …"): the
# Event column already says it, so the line starts at "From".
_REPEATED_NAMES = {
    SecurityEvent.Kind.ALLOWLIST_CHANGED: "IP allowlist changed ",
    SecurityEvent.Kind.SCOPES_CHANGED: "Permissions changed ",
}
# Events whose services store no detail, said in the portal's words.
_DEFAULT_DETAILS = {
    SecurityEvent.Kind.DELETED_TOKEN_USED: "Refused: the token was deleted",
    SecurityEvent.Kind.EXPIRED_TOKEN_USED: "Refused: the token had expired",
}


def security_event_details(event: SecurityEvent) -> str:
    """The event's change ("From “any address” to “203.0.113.7”"), or why it matters; ""
    when the event's name says everything."""
    detail = " ".join(event.detail.split())
    repeated = _REPEATED_NAMES.get(event.kind)
    if repeated and detail.lower().startswith(repeated.lower()):
        detail = capfirst(detail[len(repeated) :])
    return detail or _DEFAULT_DETAILS.get(event.kind, "")
