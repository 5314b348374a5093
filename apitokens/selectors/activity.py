"""Reading API activity a page at a time, for the API (`GET /api/v1/activity/`) and the
owner's token page: one query, one keyset cursor, one paging function.

Pages are keyset pages on (time, id), newest first, never OFFSET. The cursor is the
position of a row, "<microseconds since 1970 UTC>_<id>": opaque to API clients, and
digits only so it travels in a URL as it is. On a token's page the hourly rollups bound
the raw rows read to the hours that hold the page.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from apitokens.activity.rows import ACTIVITY_COLUMNS
from apitokens.models import APIToken, TokenActivity, TokenAddress, TokenUsageHour
from apitokens.selectors.usage import STATUS_CLASS_COLUMNS, STATUS_CLASSES, hour_floor

# The columns an activity page reads: every written column (one list, the store's) but
# the foreign keys, which the token's name and ids replace (the token page uses fewer).
ACTIVITY_FIELDS = (
    "id",
    *(column for column in ACTIVITY_COLUMNS if column not in ("token_id", "owner_id")),
    "token__public_id",
    "token__name",
    "token__identifier",
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Longer text is no cursor this code wrote (20 digits of time, 19 of id, one "_").
_CURSOR_MAX_LENGTH = 40
# A legacy cursor: base64 of an ISO time with offset, "|" and an id.
_LEGACY_CURSOR_MAX_LENGTH = 96
_MAX_ID = 2**63
# The rows one request ID can find (it is one request's; a proxy may reuse its IDs).
_REQUEST_ID_ROWS = 100


class ActivityPosition(NamedTuple):
    """Where a row sits in the (time, id) order: the key a cursor carries."""

    moment: datetime
    pk: int


def activity_cursor(row: TokenActivity) -> str:
    """The keyset position of an activity row: its time in microseconds and its id."""
    micros = (row.created_at.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}_{row.pk}"


def parse_activity_cursor(cursor: str | None) -> ActivityPosition | None:
    """The position `activity_cursor` wrote; None for anything else (a forged, damaged or
    out-of-range value)."""
    if not cursor or len(cursor) > _LEGACY_CURSOR_MAX_LENGTH or not cursor.isascii():
        return None
    micros, _sep, pk = cursor.partition("_")
    if not (micros.isdigit() and pk.isdigit()):
        return _legacy_position(cursor)
    if len(cursor) > _CURSOR_MAX_LENGTH or int(pk) >= _MAX_ID:
        return None
    try:
        moment = _EPOCH + timedelta(microseconds=int(micros))
    except OverflowError:
        return None
    return ActivityPosition(moment, int(pk))


def _legacy_position(cursor: str) -> ActivityPosition | None:
    # The API's cursors before one format served both callers: base64url("<ISO time>|<id>").
    # Still read, so a client paging through a deploy does not start again.
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment_text, pk_text = raw.split("|")
        moment = datetime.fromisoformat(moment_text)
        pk = int(pk_text)
    except (ValueError, OverflowError, UnicodeDecodeError, binascii.Error):
        return None
    if moment.tzinfo is None or not pk_text.isdigit() or pk >= _MAX_ID:
        return None
    return ActivityPosition(moment.astimezone(UTC), pk)


def activity_query(
    *,
    owner: User | None = None,
    token: APIToken | None = None,
    status_class: str | None = None,
    status: int | None = None,
    since: datetime | None = None,
    outside_allowlist: bool = False,
    request_id: str | None = None,
) -> QuerySet:
    """Activity rows newest first (time, id) with their token's name and ids: one account's
    or one token's, optionally one of STATUS_CLASSES or one exact status, from `since` on,
    only those served from outside a report-only allowlist (`outside_allowlist`), or the
    request with one QuickBot-Request-Id."""
    queryset = TokenActivity.objects.all()
    if request_id is not None:
        # The rows with this ID first, through its index: asked in one query, SQLite (without
        # statistics) walks the token's or the owner's index instead, every row of it.
        matching = TokenActivity.objects.filter(request_id=request_id).values_list("pk")
        queryset = queryset.filter(pk__in=[pk for (pk,) in matching[:_REQUEST_ID_ROWS]])
    if owner is not None:
        queryset = queryset.filter(owner_id=owner.pk)
    if token is not None:
        queryset = queryset.filter(token_id=token.pk)
    if status_class in STATUS_CLASSES:
        queryset = queryset.filter(STATUS_CLASSES[status_class][1])
    if status is not None:
        queryset = queryset.filter(status=status)
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    if outside_allowlist:
        queryset = queryset.filter(outside_allowlist=True)
    return queryset.select_related("token").only(*ACTIVITY_FIELDS).order_by("-created_at", "-id")


def token_activity(*, token: APIToken, status_class: str | None = None) -> QuerySet:
    """The token's activity, newest first, optionally one of STATUS_CLASSES."""
    return activity_query(token=token, status_class=status_class)


@dataclass(frozen=True, slots=True)
class ActivityPage:
    """One page of activity, newest first, and the cursors to its neighbours
    (`activity_cursor`): None where there is no such page."""

    rows: list[TokenActivity]
    older: str | None
    newer: str | None


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
        cursor_hour = hour_floor(before.astimezone(UTC))
        hours = hours.filter(hour__lte=cursor_hour).order_by("-hour")
    elif after is not None:
        cursor_hour = hour_floor(after.astimezone(UTC))
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


def activity_page(
    *,
    owner: User | None = None,
    token: APIToken | None = None,
    status_class: str | None = None,
    status: int | None = None,
    since: datetime | None = None,
    outside_allowlist: bool = False,
    request_id: str | None = None,
    older_than: ActivityPosition | None = None,
    newer_than: ActivityPosition | None = None,
    size: int,
    bounded_by_rollups: bool = False,
) -> ActivityPage:
    """A page of `activity_query`'s rows by keyset: the newest page, the page after
    `older_than` or the page before `newer_than` (a newer page past the newest is the
    newest). With `bounded_by_rollups` (one token, at most a status class), raw rows are
    read only within the hours whose rollups hold the page."""
    queryset = activity_query(
        owner=owner,
        token=token,
        status_class=status_class,
        status=status,
        since=since,
        outside_allowlist=outside_allowlist,
        request_id=request_id,
    )

    def window(**cursor: datetime | None) -> Q | None:
        """The rows' hours when rollups bound them; None when nothing can match."""
        if not bounded_by_rollups:
            return Q()
        hours = _page_hours(token=token, status_class=status_class, size=size + 1, **cursor)
        return _within_hours(hours) if hours else None

    if newer_than is not None:
        moment, pk = newer_than
        hours = window(after=moment)
        rows = (
            []
            if hours is None
            else list(
                queryset.filter(hours)
                .filter(Q(created_at__gt=moment) | Q(created_at=moment, pk__gt=pk))
                .order_by("created_at", "id")[: size + 1]
            )
        )
        has_newer = len(rows) > size
        rows = rows[:size][::-1]
        if not rows:
            return activity_page(
                owner=owner,
                token=token,
                status_class=status_class,
                status=status,
                since=since,
                outside_allowlist=outside_allowlist,
                request_id=request_id,
                size=size,
                bounded_by_rollups=bounded_by_rollups,
            )
        has_older = True
    else:
        if older_than is not None:
            moment, pk = older_than
            queryset = queryset.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))
        hours = window(before=older_than.moment if older_than else None)
        rows = [] if hours is None else list(queryset.filter(hours)[: size + 1])
        has_older = len(rows) > size
        rows = rows[:size]
        has_newer = older_than is not None and bool(rows)
    return ActivityPage(
        rows=rows,
        older=activity_cursor(rows[-1]) if has_older and rows else None,
        newer=activity_cursor(rows[0]) if has_newer and rows else None,
    )


def token_activity_page(
    *,
    token: APIToken,
    status_class: str | None = None,
    outside_allowlist_since: datetime | None = None,
    request_id: str | None = None,
    older_than: str | None = None,
    newer_than: str | None = None,
    size: int = 25,
) -> ActivityPage:
    """A page of the token's activity for its page: cursors as the page's links carry
    them (`activity_cursor`); a bad one shows the newest page. With
    `outside_allowlist_since`, only the requests `token_outside_allowlist_count` counts
    (the rollups do not count them, so the token index and the time bound the read). With
    `request_id`, the token's request(s) with that QuickBot-Request-Id (through its index,
    not the rollups)."""
    newer = parse_activity_cursor(newer_than)
    outside = outside_allowlist_since is not None
    return activity_page(
        token=token,
        status_class=status_class,
        since=outside_allowlist_since,
        outside_allowlist=outside,
        request_id=request_id,
        newer_than=newer,
        older_than=None if newer else parse_activity_cursor(older_than),
        size=size,
        # The rollups count neither flag nor request ID: they would bound the read wrongly.
        bounded_by_rollups=not outside and request_id is None,
    )


def token_outside_allowlist_count(*, token: APIToken, since: datetime) -> int:
    """Requests served from outside the token's report-only allowlist from `since` on:
    those an enforced list would have refused. One count over the token's time index."""
    return activity_query(token=token, since=since, outside_allowlist=True).order_by().count()


def token_new_ips(
    *, token: APIToken, now: datetime | None = None, days: int = 7
) -> dict[str, datetime]:
    """IPs whose first request with `token` falls in the last `days` days, with that time
    (newest first), from the per-address facts."""
    since = (now or timezone.now()) - timedelta(days=days)
    return dict(
        TokenAddress.objects.filter(token=token, first_seen_at__gte=since)
        .order_by("-first_seen_at")
        .values_list("ip", "first_seen_at")
    )
