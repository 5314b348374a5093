"""Counts of API usage from the hourly rollups: per hour and per day, totals by status,
top accounts and tokens, and the figures the staff dashboard and token list show.

Every function takes an injectable `now` where time matters and runs a small, fixed
number of indexed queries over TokenUsageHour, whatever the number of requests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import (
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from apitokens.models import APIToken, SecurityEvent, TokenUsageHour

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


def hour_floor(moment: datetime) -> datetime:
    """The start of the clock hour holding `moment`."""
    return moment.replace(minute=0, second=0, microsecond=0)


def hour_window(*, hours: int, now: datetime | None = None) -> datetime:
    """The first of the last `hours` UTC hours (the current hour last): the start of every
    "last N hours/days" figure, so totals, charts and top lists count the same requests."""
    return hour_floor((now or timezone.now()).astimezone(UTC)) - timedelta(hours=hours - 1)


def _usage_since(since: datetime) -> QuerySet:
    """Rollup rows from the hour holding `since` on."""
    return TokenUsageHour.objects.filter(hour__gte=hour_floor(since.astimezone(UTC)))


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
    today = timezone.localdate(now or timezone.now())
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
    return token_requests_recorded(token=token, status_class=status_class)[0]


def token_requests_recorded(
    *, token: APIToken, status_class: str | None = None
) -> tuple[int, datetime | None]:
    """`token_request_total` and the hour of the token's oldest kept rollup (older ones are
    pruned), or None: since when the total counts. One query."""
    columns = STATUS_CLASS_COLUMNS.get(status_class or "", ("requests",))
    totals = TokenUsageHour.objects.filter(token=token).aggregate(
        first_hour=Min("hour"), **{column: Sum(column) for column in columns}
    )
    first_hour = totals.pop("first_hour")
    return sum(value or 0 for value in totals.values()), first_hour


def recent_requests_per_token(*, hours: int = 24, now: datetime | None = None) -> Coalesce:
    """An annotation: each token's requests in the last `hours` UTC hours (as the dashboard
    counts them), a correlated subquery evaluated only for the rows a page shows."""
    recent = (
        TokenUsageHour.objects.filter(
            token=OuterRef("pk"), hour__gte=hour_window(hours=hours, now=now)
        )
        .order_by()
        .values("token")
        .annotate(requests=Sum("requests"))
        .values("requests")
    )
    return Coalesce(Subquery(recent), 0)


def status_counts(*, since: datetime, statuses: Iterable[int] = (401, 403, 429)) -> dict[int, int]:
    """How many requests got each of `statuses` (401, 403 or 429) from the hour holding
    `since` on (one query over the hourly rollups)."""
    statuses = tuple(statuses)
    totals = _usage_since(since).aggregate(
        **{f"status_{status}": Sum(f"status_{status}") for status in statuses}
    )
    return {status: totals[f"status_{status}"] or 0 for status in statuses}


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


@dataclass(frozen=True, slots=True)
class DashboardCounts:
    """The staff dashboard's figures over the last `days` days and the last 24 hours, all
    counted over the same whole UTC hours (the rollups' unit), so totals, chart and top
    lists add up."""

    week_start: datetime
    hourly: list[tuple[datetime, int]]
    requests_week: int
    requests_day: int
    unauthorized_day: int
    unauthorized_week: int
    forbidden_day: int
    forbidden_week: int
    rate_limited_day: int
    rate_limited_week: int
    top_accounts: list[dict]
    top_tokens: list[dict]


def dashboard_counts(*, days: int, top_limit: int, now: datetime | None = None) -> DashboardCounts:
    """Requests per hour, 401/403/429 counts and top accounts and tokens for the dashboard."""
    now = now or timezone.now()
    hourly = activity_per_hour(hours=24 * days, now=now)
    week_start = hour_window(hours=24 * days, now=now)
    day_start = hour_window(hours=24, now=now)
    failures_week = status_counts(since=week_start)
    failures_day = status_counts(since=day_start)
    # Unknown tokens are 401s too; they have no activity row (no token to tie them to).
    unknown_day, unknown_week = unknown_token_counts(since=(day_start, week_start))
    return DashboardCounts(
        week_start=week_start,
        hourly=hourly,
        requests_week=sum(requests for _hour, requests in hourly),
        requests_day=sum(requests for _hour, requests in hourly[-24:]),
        unauthorized_day=failures_day[401] + unknown_day,
        unauthorized_week=failures_week[401] + unknown_week,
        forbidden_day=failures_day[403],
        forbidden_week=failures_week[403],
        rate_limited_day=failures_day[429],
        rate_limited_week=failures_week[429],
        top_accounts=top_accounts(since=week_start, limit=top_limit),
        top_tokens=top_tokens(since=week_start, limit=top_limit),
    )
