"""The token owner's alerts: recent uses of the account's deleted or expired tokens and
tokens QuickBot deleted because their value was exposed, one alert per token, for the
API Tokens page banner and the token page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from apitokens.models import APIToken, SecurityEvent
from apitokens.selectors.suspicious import DEAD_TOKEN_KINDS

# Tokens QuickBot deleted because their value was exposed: the owner's page shows a banner.
EXPOSED_REASONS = (APIToken.RevokedBy.LEAKED, APIToken.RevokedBy.URL)
# How long a dead-token alert stays on the owner's API Tokens page.
ACCOUNT_ALERT_WINDOW = timedelta(days=7)


@dataclass(slots=True)
class AccountAlert:
    """A dead token of the account that was used recently, for the API Tokens page banner."""

    kind: str
    token: APIToken
    first_seen_at: datetime
    last_seen_at: datetime
    count: int = 0
    ips: list[str] = field(default_factory=list)
    since: str = ""
    # Set when QuickBot deleted the token because its value was exposed (leak report, URL).
    exposed: str = ""
    exposed_at: datetime | None = None
    exposed_ip: str = ""

    @property
    def state(self) -> str:
        return "Expired" if self.kind == SecurityEvent.Kind.EXPIRED_TOKEN_USED else "Deleted"

    @property
    def first_ip(self) -> str:
        return self.ips[0] if self.ips else "an unknown address"

    @property
    def other_ip_count(self) -> int:
        return max(len(self.ips) - 1, 0)


def since_phrase(moment: datetime, *, now: datetime | None = None) -> str:
    """'today', 'since yesterday' or 'since 3 Nov', in the site's time zone."""
    day = timezone.localdate(moment)
    today = timezone.localdate(now or timezone.now())
    if day == today:
        return "today"
    if day == today - timedelta(days=1):
        return "since yesterday"
    return f"since {day.day} {day:%b}"


def suspicious_events_for_account(
    *, user: User, now: datetime | None = None, window: timedelta = ACCOUNT_ALERT_WINDOW
) -> list[AccountAlert]:
    """Recent uses of the account's deleted or expired tokens, and tokens QuickBot deleted
    because their value was exposed: one alert per token (one query)."""
    now = now or timezone.now()
    events = (
        SecurityEvent.objects.filter(
            Q(kind__in=DEAD_TOKEN_KINDS)
            | Q(kind=SecurityEvent.Kind.DELETED, token__revoked_reason__in=EXPOSED_REASONS),
            account=user,
            last_seen_at__gte=now - window,
            token__isnull=False,
        )
        .select_related("token")
        .order_by("created_at")
    )
    alerts: dict[int, AccountAlert] = {}
    for event in events:
        alert = alerts.get(event.token_id)
        if alert is None:
            alert = alerts[event.token_id] = AccountAlert(
                kind=event.kind,
                token=event.token,
                first_seen_at=event.created_at,
                last_seen_at=event.last_seen_at,
            )
        if event.kind == SecurityEvent.Kind.DELETED:
            alert.exposed = event.token.get_revoked_reason_display()
            alert.exposed_at, alert.exposed_ip = event.created_at, event.ip or ""
            alert.last_seen_at = max(alert.last_seen_at, event.last_seen_at)
            continue
        alert.kind = event.kind
        alert.count += event.count
        alert.last_seen_at = max(alert.last_seen_at, event.last_seen_at)
        if event.ip and event.ip not in alert.ips:
            alert.ips.append(event.ip)
    for alert in alerts.values():
        alert.since = since_phrase(alert.first_seen_at, now=now)
    return sorted(alerts.values(), key=lambda alert: alert.last_seen_at, reverse=True)


def dead_token_alert(*, token: APIToken, now: datetime | None = None) -> AccountAlert | None:
    """The API Tokens page's alert for this deleted or expired token, if it has one: the
    token page says the same count and time (one source)."""
    if token.revoked_at is None and not token.is_expired(now):
        return None
    alerts = suspicious_events_for_account(user=token.owner, now=now)
    return next((alert for alert in alerts if alert.token.pk == token.pk and alert.count), None)
