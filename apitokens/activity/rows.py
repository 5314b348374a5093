"""The activity row: the one list of TokenActivity columns that the writer, the rollups and
the buffer share (`ActivityRow`), and how a request's facts or saved instances become rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from apitokens.models import TokenActivity
from apitokens.tokens import redact_tokens


class ActivityRow(NamedTuple):
    """One TokenActivity row in the writer's column order (a plain tuple, not a model
    instance: building one per request would cost more than its share of the INSERT).
    Bulk loaders may hand the writer plain tuples in this same order."""

    token_id: int
    owner_id: int
    created_at: datetime
    method: str
    path: str
    status: int
    ip: str | None
    user_agent: str
    duration_ms: int
    flagged: bool
    used_previous_value: bool
    outside_allowlist: bool = False
    request_id: str = ""


# The TokenActivity columns every activity statement writes, in row order.
ACTIVITY_COLUMNS: tuple[str, ...] = ActivityRow._fields


def activity_row(
    *,
    token_id: int,
    owner_id: int,
    method: str,
    path: str,
    status: int,
    ip: str | None,
    user_agent: str,
    duration_ms: int,
    flagged: bool = False,
    used_previous_value: bool = False,
    outside_allowlist: bool = False,
    request_id: str = "",
    now: datetime,
) -> ActivityRow:
    """The row of one API request made with a known token, cut to the column sizes."""
    return ActivityRow(
        token_id=token_id,
        owner_id=owner_id,
        created_at=now,
        method=method[:10],
        # PostgreSQL text cannot hold NUL; a token in the path (even percent-encoded, or
        # split by a NUL) is stored as its identifier only.
        path=redact_tokens(path.replace("\x00", ""))[:512],
        status=status,
        ip=ip,
        user_agent=user_agent[:256].replace("\x00", ""),
        duration_ms=duration_ms,
        flagged=flagged,
        used_previous_value=used_previous_value,
        outside_allowlist=outside_allowlist,
        request_id=request_id,
    )


def activity_rows(activities: Iterable[TokenActivity]) -> list[ActivityRow]:
    """TokenActivity instances as rows (for rows written another way, such as a test factory's
    bulk_create, whose rollups `rollups_add` then adds)."""
    return [
        ActivityRow._make(getattr(activity, name) for name in ACTIVITY_COLUMNS)
        for activity in activities
    ]
