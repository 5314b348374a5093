"""Read queries over API activity and the security log: counts, top lists, suspicious events.

Every function takes an injectable `now` so the rules are tested at exact times, and
each one runs a small, fixed number of indexed queries whatever the table size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db.models import (
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import TruncHour
from django.utils import timezone

from accounts.models import User
from apitokens import stale
from apitokens.models import (
    APIToken,
    SecurityEvent,
    TokenActivity,
    TokenAddress,
    TokenUsageHour,
)

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

# The hourly rollup columns that add up to each status class (TokenUsageHour).
STATUS_CLASS_COLUMNS: dict[str, tuple[str, ...]] = {
    "2xx": ("status_2xx",),
    "4xx": ("status_401", "status_403", "status_429", "status_4xx_other"),
    "401": ("status_401",),
    "403": ("status_403",),
    "429": ("status_429",),
    "5xx": ("status_5xx",),
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


def hour_window(*, hours: int, now: datetime | None = None) -> datetime:
    """The first of the last `hours` UTC hours (the current hour last): the start of every
    "last N hours/days" figure, so totals, charts and top lists count the same requests."""
    return _hour_floor(_now(now).astimezone(UTC)) - timedelta(hours=hours - 1)


def _usage_since(since: datetime) -> QuerySet:
    """Rollup rows from the hour holding `since` on."""
    return TokenUsageHour.objects.filter(hour__gte=_hour_floor(since.astimezone(UTC)))


def activity_per_hour(
    *, hours: int = 168, now: datetime | None = None
) -> list[tuple[datetime, int]]:
    """Requests per UTC hour for the last `hours` hours (the current hour last), zeros
    included, from the hourly rollups. Buckets are aware datetimes; show them in local time."""
    first_hour = hour_window(hours=hours, now=now)
    rows = (
        TokenUsageHour.objects.filter(hour__gte=first_hour)
        .values("hour")
        .annotate(total=Sum("requests"))
        .order_by()
    )
    counts = {row["hour"].astimezone(UTC): row["total"] for row in rows}
    buckets = [first_hour + timedelta(hours=offset) for offset in range(hours)]
    return [(bucket, counts.get(bucket, 0)) for bucket in buckets]


def activity_per_day(
    *, token: APIToken, days: int = 30, now: datetime | None = None
) -> list[tuple[date, int]]:
    """Requests per local day made with `token` for the last `days` days (today last), zeros
    included, from the hourly rollups (exact for time zones whole hours from UTC)."""
    today = timezone.localdate(_now(now))
    first_day = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first_day, datetime.min.time()))
    counts: dict[date, int] = {}
    for hour, requests in TokenUsageHour.objects.filter(
        token=token, hour__gte=start.astimezone(UTC)
    ).values_list("hour", "requests"):
        day = timezone.localdate(hour)
        counts[day] = counts.get(day, 0) + requests
    return [
        (first_day + timedelta(days=offset), counts.get(first_day + timedelta(days=offset), 0))
        for offset in range(days)
    ]


def token_request_total(*, token: APIToken, status_class: str | None = None) -> int:
    """Every recorded request of `token` (within the retention), optionally one of
    STATUS_CLASSES: the sum of its hourly rollups (at most 24 rows a day kept)."""
    columns = STATUS_CLASS_COLUMNS.get(status_class or "", ("requests",))
    totals = TokenUsageHour.objects.filter(token=token).aggregate(
        **{column: Sum(column) for column in columns}
    )
    return sum(value or 0 for value in totals.values())


def status_counts(*, since: datetime, statuses: Iterable[int] = (401, 403, 429)) -> dict[int, int]:
    """How many requests got each of `statuses` (401, 403 or 429) from the hour holding
    `since` on (one query over the hourly rollups)."""
    statuses = tuple(statuses)
    totals = _usage_since(since).aggregate(
        **{f"status_{status}": Sum(f"status_{status}") for status in statuses}
    )
    return {status: totals[f"status_{status}"] or 0 for status in statuses}


def _grouped_by(column: str) -> ExpressionWrapper:
    """`column` + 0 as the GROUP BY key: SQLite's planner (without statistics) would walk a
    whole index led by `column` to skip a sort, instead of the hour index's short range."""
    return ExpressionWrapper(F(column) + Value(0), output_field=IntegerField())


def top_accounts(*, since: datetime, limit: int = 10) -> list[dict]:
    """Accounts with the most requests from the hour holding `since` on: dicts of owner
    id, email, requests."""
    rows = list(
        _usage_since(since)
        .values(group=_grouped_by("owner_id"))
        .annotate(requests=Sum("requests"))
        .order_by("-requests", "group")[:limit]
    )
    emails = dict(
        User.objects.filter(pk__in=[row["group"] for row in rows]).values_list("pk", "email")
    )
    return [
        {"owner_id": row["group"], "owner__email": emails.get(row["group"], ""), **row}
        for row in rows
    ]


def top_tokens(*, since: datetime, limit: int = 10) -> list[dict]:
    """Tokens with the most requests from the hour holding `since` on, with name,
    identifier and owner email."""
    rows = list(
        _usage_since(since)
        .values(group=_grouped_by("token_id"))
        .annotate(requests=Sum("requests"))
        .order_by("-requests", "group")[:limit]
    )
    tokens = APIToken.objects.select_related("owner").in_bulk([row["group"] for row in rows])
    return [
        {"token": tokens[row["group"]], "requests": row["requests"]}
        for row in rows
        if row["group"] in tokens
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
    """Tokens used within `lookback` before `now` from an IP they had never used before,
    from the per-address facts (TokenAddress).

    A token's very first IP is not suspicious, so only tokens with an earlier address
    count; deleted or expired tokens are reported by `dead_token_uses` instead.
    """
    now = _now(now)
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


def dead_token_alert(*, token: APIToken, now: datetime | None = None) -> AccountAlert | None:
    """The API Tokens page's alert for this deleted or expired token, if it has one: the
    token page says the same count and time (one source)."""
    if token.revoked_at is None and not token.is_expired(now):
        return None
    alerts = suspicious_events_for_account(user=token.owner, now=now)
    return next((alert for alert in alerts if alert.token.pk == token.pk and alert.count), None)


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
    """IPs whose first request with `token` falls in the last `days` days, with that time
    (newest first), from the per-address facts."""
    since = _now(now) - timedelta(days=days)
    return dict(
        TokenAddress.objects.filter(token=token, first_seen_at__gte=since)
        .order_by("-first_seen_at")
        .values_list("ip", "first_seen_at")
    )


def token_activity(*, token: APIToken, status_class: str | None = None) -> QuerySet:
    """The token's activity, newest first, optionally one of STATUS_CLASSES."""
    queryset = TokenActivity.objects.filter(token=token).order_by("-created_at", "-id")
    if status_class in STATUS_CLASSES:
        queryset = queryset.filter(STATUS_CLASSES[status_class][1])
    return queryset


@dataclass(frozen=True, slots=True)
class ActivityPage:
    """One page of a token's activity, newest first, and the cursors to its neighbours
    ("time_id" keys, `activity_cursor`): None where there is no such page."""

    rows: list[TokenActivity]
    older: str | None
    newer: str | None


def activity_cursor(row: TokenActivity) -> str:
    """The keyset position of an activity row: its time in microseconds and its id."""
    moment = row.created_at.astimezone(UTC)
    micros = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return f"{micros}_{row.pk}"


def _parse_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """(time, id) from `activity_cursor`'s text; None for anything else."""
    if not cursor or len(cursor) > 40:
        return None
    micros, _sep, pk = cursor.partition("_")
    if not (micros.isdigit() and pk.isdigit()):
        return None
    try:
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))
    except OverflowError:
        return None
    return moment, int(pk)


def _page_hours(
    *,
    token: APIToken,
    status_class: str | None,
    size: int,
    before: datetime | None = None,
    after: datetime | None = None,
) -> list[datetime]:
    """The fewest hours next to a cursor (older than `before`, or newer than `after`; from
    the newest without either) whose rollups hold at least `size` matching requests, or all
    there are. The raw rows of a page are read within these hours only."""
    columns = STATUS_CLASS_COLUMNS.get(status_class or "", ("requests",))
    hours = TokenUsageHour.objects.filter(token=token)
    cursor_hour = None
    if before is not None:
        cursor_hour = _hour_floor(before.astimezone(UTC))
        hours = hours.filter(hour__lte=cursor_hour).order_by("-hour")
    elif after is not None:
        cursor_hour = _hour_floor(after.astimezone(UTC))
        hours = hours.filter(hour__gte=cursor_hour).order_by("hour")
    else:
        hours = hours.order_by("-hour")
    matching = sum((F(column) for column in columns[1:]), F(columns[0]))
    rows = hours.annotate(matching=matching).filter(matching__gt=0).values_list("hour", "matching")
    found, chosen = 0, []
    for offset in range(0, 24 * 400, 200):
        chunk = list(rows[offset : offset + 200])
        for hour, count in chunk:
            chosen.append(hour)
            # The cursor's own hour also holds rows already shown: it does not count.
            if hour != cursor_hour:
                found += count
            if found >= size:
                return chosen
        if len(chunk) < 200:
            break
    return chosen


def _within_hours(hours: list[datetime]) -> Q:
    condition = Q()
    for hour in hours:
        condition |= Q(created_at__gte=hour, created_at__lt=hour + timedelta(hours=1))
    return condition


def token_activity_page(
    *,
    token: APIToken,
    status_class: str | None = None,
    older_than: str | None = None,
    newer_than: str | None = None,
    size: int = 25,
) -> ActivityPage:
    """A page of the token's activity by keyset (time, id), never OFFSET: the newest page,
    the page after `older_than` or the page before `newer_than` (cursors from
    `activity_cursor`). The hourly rollups bound the raw rows read to the hours that hold
    the page."""
    queryset = token_activity(token=token, status_class=status_class)
    after = _parse_cursor(newer_than)
    before = None if after else _parse_cursor(older_than)
    if after is not None:
        moment, pk = after
        hours = _page_hours(token=token, status_class=status_class, size=size + 1, after=moment)
        rows = list(
            queryset.filter(_within_hours(hours))
            .filter(Q(created_at__gt=moment) | Q(created_at=moment, pk__gt=pk))
            .order_by("created_at", "id")[: size + 1]
            if hours
            else []
        )
        has_newer = len(rows) > size
        rows = rows[:size][::-1]
        if not rows:
            return token_activity_page(token=token, status_class=status_class, size=size)
        has_older = True
    else:
        if before is not None:
            moment, pk = before
            queryset = queryset.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))
        hours = _page_hours(
            token=token,
            status_class=status_class,
            size=size + 1,
            before=before[0] if before else None,
        )
        rows = list(queryset.filter(_within_hours(hours))[: size + 1]) if hours else []
        has_older = len(rows) > size
        rows = rows[:size]
        has_newer = before is not None and bool(rows)
    return ActivityPage(
        rows=rows,
        older=activity_cursor(rows[-1]) if has_older and rows else None,
        newer=activity_cursor(rows[0]) if has_newer and rows else None,
    )
