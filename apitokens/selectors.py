"""Read queries over API activity and the security log: counts, top lists, suspicious events.

Every function takes an injectable `now` so the rules are tested at exact times, and
each one runs a small, fixed number of indexed queries whatever the table size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connections
from django.db.models import (
    CharField,
    Count,
    Exists,
    F,
    Func,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import TruncDate, TruncHour
from django.utils import timezone

from accounts.models import User
from apitokens import stale
from apitokens.models import APIToken, SecurityEvent, TokenActivity

# Filters shared by the admin changelist and the owner's token page.
STATUS_CLASSES: dict[str, tuple[str, Q]] = {
    "2xx": ("2xx success", Q(status__gte=200, status__lt=300)),
    "4xx": ("4xx client error", Q(status__gte=400, status__lt=500)),
    "401": ("401 unauthorized", Q(status=401)),
    # IP not in the token's allowlist (ip_not_allowed) or a missing permission.
    "403": ("403 forbidden", Q(status=403)),
    "429": ("429 rate limited", Q(status=429)),
    "5xx": ("5xx server error", Q(status__gte=500, status__lt=600)),
}

DEAD_TOKEN_KINDS = (SecurityEvent.Kind.DELETED_TOKEN_USED, SecurityEvent.Kind.EXPIRED_TOKEN_USED)
# Tokens QuickBot deleted because their value was exposed: the owner's page shows a banner.
EXPOSED_REASONS = (APIToken.RevokedBy.LEAKED, APIToken.RevokedBy.URL)

# A burst: this many 401 answers to one IP (requests with a deleted or expired token)
# within one clock hour, looked for over the last BAD_TOKEN_BURST_LOOKBACK.
BAD_TOKEN_BURST_THRESHOLD = 10
BAD_TOKEN_BURST_LOOKBACK = timedelta(hours=24)
# How far back the dashboard looks for suspicious events.
SUSPICIOUS_LOOKBACK = timedelta(days=7)
NEW_IP_LOOKBACK = timedelta(hours=24)
# How long a dead-token alert stays on the owner's API Tokens page.
ACCOUNT_ALERT_WINDOW = timedelta(days=7)


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


# --- Counts -------------------------------------------------------------------------


def _utc_hour_text(field: str) -> Func:
    """SQLite only: the UTC hour of a timestamp as text, with SQLite's native strftime.

    Django's TruncHour runs a Python function per row on SQLite, too slow over many rows.
    """
    return Func(Value("%Y-%m-%d %H:00:00"), F(field), function="strftime", output_field=CharField())


def activity_per_hour(
    *, hours: int = 168, now: datetime | None = None, queryset: QuerySet | None = None
) -> list[tuple[datetime, int]]:
    """Requests per UTC hour for the last `hours` hours (the current hour last), zeros
    included. Buckets are aware datetimes; show them in local time."""
    now = _now(now).astimezone(UTC)
    first_hour = _hour_floor(now) - timedelta(hours=hours - 1)
    rows = (queryset if queryset is not None else TokenActivity.objects.all()).filter(
        created_at__gte=first_hour
    )
    if connections[rows.db].vendor == "sqlite":
        grouped = rows.annotate(hour=_utc_hour_text("created_at"))
    else:
        grouped = rows.annotate(hour=TruncHour("created_at", tzinfo=UTC))
    counts: dict[datetime, int] = {}
    for row in grouped.values("hour").annotate(requests=Count("id")).order_by():
        hour = row["hour"]
        if isinstance(hour, str):
            hour = datetime.fromisoformat(hour).replace(tzinfo=UTC)
        counts[hour.astimezone(UTC)] = row["requests"]
    buckets = [first_hour + timedelta(hours=offset) for offset in range(hours)]
    return [(bucket, counts.get(bucket, 0)) for bucket in buckets]


def activity_per_day(
    *, token: APIToken, days: int = 30, now: datetime | None = None
) -> list[tuple[date, int]]:
    """Requests per day made with `token` for the last `days` days (today last), zeros included."""
    today = timezone.localdate(_now(now))
    first_day = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first_day, datetime.min.time()))
    rows = (
        TokenActivity.objects.filter(token=token, created_at__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(requests=Count("id"))
        .order_by()
    )
    counts = {row["day"]: row["requests"] for row in rows}
    return [
        (first_day + timedelta(days=offset), counts.get(first_day + timedelta(days=offset), 0))
        for offset in range(days)
    ]


def status_counts(*, since: datetime, statuses: Iterable[int] = (401, 403, 429)) -> dict[int, int]:
    """How many requests got each of `statuses` since `since` (one grouped query)."""
    statuses = tuple(statuses)
    rows = (
        TokenActivity.objects.filter(created_at__gte=since, status__in=statuses)
        .values("status")
        .annotate(requests=Count("id"))
        .order_by()
    )
    counts = dict.fromkeys(statuses, 0)
    counts.update({row["status"]: row["requests"] for row in rows})
    return counts


def top_accounts(*, since: datetime, limit: int = 10) -> list[dict]:
    """Accounts with the most requests since `since`: dicts of owner id, email, requests."""
    return list(
        TokenActivity.objects.filter(created_at__gte=since)
        .values("owner_id", "owner__email")
        .annotate(requests=Count("id"))
        .order_by("-requests", "owner_id")[:limit]
    )


def top_tokens(*, since: datetime, limit: int = 10) -> list[dict]:
    """Tokens with the most requests since `since`, with name, identifier and owner email."""
    rows = list(
        TokenActivity.objects.filter(created_at__gte=since)
        .values("token_id")
        .annotate(requests=Count("id"))
        .order_by("-requests", "token_id")[:limit]
    )
    tokens = APIToken.objects.select_related("owner").in_bulk([row["token_id"] for row in rows])
    return [
        {"token": tokens[row["token_id"]], "requests": row["requests"]}
        for row in rows
        if row["token_id"] in tokens
    ]


# --- Suspicious events ----------------------------------------------------------------


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
    return [
        SuspiciousEvent(
            kind=event.kind,
            first_seen_at=event.created_at,
            last_seen_at=event.last_seen_at,
            count=event.count,
            ip=event.ip,
            token=event.token,
            token_name=event.token_name,
            account_email=event.account.email,
        )
        for event in events
    ]


def unknown_token_counts(*, since: Iterable[datetime]) -> list[int]:
    """Requests refused 401 for a well-formed token of no account since each moment, in
    one query (they have no activity row: the security log keeps one counted row per
    address and window)."""
    moments = list(since)
    totals = SecurityEvent.objects.filter(
        kind=SecurityEvent.Kind.UNKNOWN_TOKENS, last_seen_at__gte=min(moments)
    ).aggregate(
        **{
            f"since_{index}": Sum("count", filter=Q(last_seen_at__gte=moment))
            for index, moment in enumerate(moments)
        }
    )
    return [totals[f"since_{index}"] or 0 for index in range(len(moments))]


def unknown_token_sprays(*, since: datetime, limit: int = 20) -> list[SuspiciousEvent]:
    """Addresses that presented well-formed tokens matching no account, per window."""
    events = SecurityEvent.objects.filter(
        kind=SecurityEvent.Kind.UNKNOWN_TOKENS, last_seen_at__gte=since
    ).order_by("-last_seen_at")[:limit]
    return [
        SuspiciousEvent(
            kind=event.kind,
            first_seen_at=event.created_at,
            last_seen_at=event.last_seen_at,
            count=event.count,
            ip=event.ip,
        )
        for event in events
    ]


def bad_token_bursts(
    *,
    now: datetime | None = None,
    lookback: timedelta = BAD_TOKEN_BURST_LOOKBACK,
    threshold: int = BAD_TOKEN_BURST_THRESHOLD,
    limit: int = 20,
) -> list[SuspiciousEvent]:
    """(IP, clock hour) pairs within `lookback` before `now` in which one IP got at least
    `threshold` 401 answers (requests with a deleted or expired token)."""
    now = _now(now)
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
    """Tokens used successfully within `lookback` from an IP they had never used before.

    A token's very first IP is not suspicious, so only tokens with earlier activity count;
    uses of dead tokens (flagged rows) are reported by `dead_token_uses` instead.
    """
    now = _now(now)
    since = now - lookback
    earlier = TokenActivity.objects.filter(token=OuterRef("token"), created_at__lt=since)
    rows = list(
        TokenActivity.objects.filter(created_at__gte=since, created_at__lte=now, flagged=False)
        .exclude(ip__isnull=True)
        .filter(Exists(earlier), ~Exists(earlier.filter(ip=OuterRef("ip"))))
        .values("token_id", "ip")
        .annotate(requests=Count("id"), first=Min("created_at"), last=Max("created_at"))
        .order_by("-first")[:limit]
    )
    tokens = APIToken.objects.select_related("owner").in_bulk({row["token_id"] for row in rows})
    return [
        SuspiciousEvent(
            kind="new_ip",
            first_seen_at=row["first"],
            last_seen_at=row["last"],
            count=row["requests"],
            ip=row["ip"],
            token=tokens.get(row["token_id"]),
            token_name=tokens[row["token_id"]].name if row["token_id"] in tokens else "",
            account_email=(
                tokens[row["token_id"]].owner.email if row["token_id"] in tokens else ""
            ),
        )
        for row in rows
    ]


def suspicious_events(*, now: datetime | None = None, limit: int = 20) -> list[SuspiciousEvent]:
    """The most recent suspicious events of every rule, newest first."""
    now = _now(now)
    events = [
        *dead_token_uses(since=now - SUSPICIOUS_LOOKBACK, limit=limit),
        *bad_token_bursts(now=now, limit=limit),
        *unknown_token_sprays(since=now - SUSPICIOUS_LOOKBACK, limit=limit),
        *new_ip_uses(now=now, limit=limit),
    ]
    events.sort(key=lambda event: event.last_seen_at, reverse=True)
    return events[:limit]


# --- For the token owner -----------------------------------------------------------------


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
    today = timezone.localdate(_now(now))
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
    now = _now(now)
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


def stale_tokens(*, now: datetime | None = None, owner: User | None = None) -> QuerySet:
    """Usable tokens nobody uses (the rule: `apitokens.stale`), oldest use first; all
    owners', or one owner's."""
    now = _now(now)
    queryset = APIToken.objects.usable(now).filter(stale.stale_condition(now))
    if owner is not None:
        queryset = queryset.filter(owner=owner)
    return queryset.order_by(F("last_used_at").asc(nulls_first=True), "created_at", "pk")


def token_new_ips(
    *, token: APIToken, now: datetime | None = None, days: int = 7
) -> dict[str, datetime]:
    """IPs whose first request with `token` falls in the last `days` days, with that time."""
    since = _now(now) - timedelta(days=days)
    rows = (
        TokenActivity.objects.filter(token=token)
        .exclude(ip__isnull=True)
        .values("ip")
        .annotate(first=Min("created_at"))
        .filter(first__gte=since)
        .order_by("-first")
    )
    return {row["ip"]: row["first"] for row in rows}


def token_activity(*, token: APIToken, status_class: str | None = None) -> QuerySet:
    """The token's activity, newest first, optionally one of STATUS_CLASSES."""
    queryset = TokenActivity.objects.filter(token=token).order_by("-created_at", "-id")
    if status_class in STATUS_CLASSES:
        queryset = queryset.filter(STATUS_CLASSES[status_class][1])
    return queryset
