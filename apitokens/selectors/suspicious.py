"""Suspicious events for the staff dashboard: dead tokens used, bursts of bad-token
attempts from one address, unknown tokens presented, tokens used from a new address.

Each rule runs a small, fixed number of indexed queries and answers SuspiciousEvent
rows; `suspicious_events` merges them newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from apitokens.models import APIToken, SecurityEvent, TokenActivity, TokenAddress

DEAD_TOKEN_KINDS = (SecurityEvent.Kind.DELETED_TOKEN_USED, SecurityEvent.Kind.EXPIRED_TOKEN_USED)

# A burst: this many 401 answers to one IP (requests with a deleted or expired token)
# within one clock hour, looked for over the last BAD_TOKEN_BURST_LOOKBACK.
BAD_TOKEN_BURST_THRESHOLD = 10
BAD_TOKEN_BURST_LOOKBACK = timedelta(hours=24)
# How far back the dashboard looks for suspicious events.
SUSPICIOUS_LOOKBACK = timedelta(days=7)
NEW_IP_LOOKBACK = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class SuspiciousEvent:
    """Something staff should look at. `kind` is a SecurityEvent kind, "burst" or "new_ip"."""

    kind: str
    first_seen_at: datetime
    last_seen_at: datetime
    count: int
    ip: str | None
    token: APIToken | None = None
    token_name: str = ""
    account_email: str = ""
    distinct_tokens: int = 0

    @classmethod
    def from_security_event(cls, event: SecurityEvent) -> SuspiciousEvent:
        """A security-log row as a suspicious event (no account for unknown tokens)."""
        return cls(
            kind=event.kind,
            first_seen_at=event.created_at,
            last_seen_at=event.last_seen_at,
            count=event.count,
            ip=event.ip,
            token=event.token,
            token_name=event.token_name,
            account_email=event.account.email if event.account is not None else "",
        )

    @property
    def title(self) -> str:
        return {
            SecurityEvent.Kind.DELETED_TOKEN_USED: "Deleted token used",
            SecurityEvent.Kind.EXPIRED_TOKEN_USED: "Expired token used",
            "burst": "Burst of bad-token attempts",
            SecurityEvent.Kind.UNKNOWN_TOKENS: "Unknown tokens presented",
            "new_ip": "Token used from a new IP",
        }.get(self.kind, self.kind)


def dead_token_uses(*, since: datetime, limit: int = 20) -> list[SuspiciousEvent]:
    """Uses of deleted or expired tokens, from the security log (one row per token-hour)."""
    events = (
        SecurityEvent.objects.filter(kind__in=DEAD_TOKEN_KINDS, last_seen_at__gte=since)
        .select_related("token", "account")
        .order_by("-last_seen_at")[:limit]
    )
    return [SuspiciousEvent.from_security_event(event) for event in events]


def unknown_token_sprays(*, since: datetime, limit: int = 20) -> list[SuspiciousEvent]:
    """Addresses that presented well-formed tokens matching no account, per window."""
    events = SecurityEvent.objects.filter(
        kind=SecurityEvent.Kind.UNKNOWN_TOKENS, last_seen_at__gte=since
    ).order_by("-last_seen_at")[:limit]
    return [SuspiciousEvent.from_security_event(event) for event in events]


def bad_token_bursts(
    *,
    now: datetime | None = None,
    lookback: timedelta = BAD_TOKEN_BURST_LOOKBACK,
    threshold: int = BAD_TOKEN_BURST_THRESHOLD,
    limit: int = 20,
) -> list[SuspiciousEvent]:
    """(IP, clock hour) pairs within `lookback` before `now` in which one IP got at least
    `threshold` 401 answers (requests with a deleted or expired token)."""
    now = now or timezone.now()
    rows = (
        TokenActivity.objects.filter(
            status=401, created_at__gte=now - lookback, created_at__lte=now
        )
        .exclude(ip__isnull=True)
        .annotate(hour=TruncHour("created_at"))
        .values("ip", "hour")
        .annotate(
            attempts=Count("id"),
            first=Min("created_at"),
            last=Max("created_at"),
            tokens=Count("token", distinct=True),
        )
        .filter(attempts__gte=threshold)
        .order_by("-last")[:limit]
    )
    return [
        SuspiciousEvent(
            kind="burst",
            first_seen_at=row["first"],
            last_seen_at=row["last"],
            count=row["attempts"],
            ip=row["ip"],
            distinct_tokens=row["tokens"],
        )
        for row in rows
    ]


def new_ip_uses(
    *, now: datetime | None = None, lookback: timedelta = NEW_IP_LOOKBACK, limit: int = 20
) -> list[SuspiciousEvent]:
    """Tokens used within `lookback` before `now` from an IP they had never used before,
    from the per-address facts (TokenAddress).

    A token's very first IP is not suspicious, so only tokens with an earlier address
    count; deleted or expired tokens are reported by `dead_token_uses` instead.
    """
    now = now or timezone.now()
    since = now - lookback
    earlier = TokenAddress.objects.filter(token=OuterRef("token"), first_seen_at__lt=since)
    addresses = list(
        TokenAddress.objects.filter(
            Exists(earlier),
            Q(token__expires_at__isnull=True) | Q(token__expires_at__gt=F("first_seen_at")),
            Q(token__revoked_at__isnull=True) | Q(token__revoked_at__gt=F("first_seen_at")),
            first_seen_at__gte=since,
            first_seen_at__lte=now,
        )
        .select_related("token__owner")
        .order_by("-first_seen_at")[:limit]
    )
    if not addresses:
        return []
    # Requests from each new address within the window: one indexed probe per pair.
    pairs = Q()
    for address in addresses:
        pairs |= Q(token_id=address.token_id, ip=address.ip)
    counts = {
        (row["token_id"], row["ip"]): (row["requests"], row["last"])
        for row in TokenActivity.objects.filter(pairs, created_at__gte=since, created_at__lte=now)
        .values("token_id", "ip")
        .annotate(requests=Count("id"), last=Max("created_at"))
        .order_by()
    }
    events = []
    for address in addresses:
        requests, last = counts.get((address.token_id, address.ip), (0, address.first_seen_at))
        events.append(
            SuspiciousEvent(
                kind="new_ip",
                first_seen_at=address.first_seen_at,
                last_seen_at=last,
                count=requests,
                ip=address.ip,
                token=address.token,
                token_name=address.token.name,
                account_email=address.token.owner.email,
            )
        )
    return events


def suspicious_events(*, now: datetime | None = None, limit: int = 20) -> list[SuspiciousEvent]:
    """The most recent suspicious events of every rule, newest first."""
    now = now or timezone.now()
    events = [
        *dead_token_uses(since=now - SUSPICIOUS_LOOKBACK, limit=limit),
        *bad_token_bursts(now=now, limit=limit),
        *unknown_token_sprays(since=now - SUSPICIOUS_LOOKBACK, limit=limit),
        *new_ip_uses(now=now, limit=limit),
    ]
    events.sort(key=lambda event: event.last_seen_at, reverse=True)
    return events[:limit]
