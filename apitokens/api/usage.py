"""The usage record of one API request: its activity row, handed to the process's
activity buffer, and, for an accepted token, its last use.

The activity store itself (the buffer and its flusher, the writer, the rollups, the
unknown-token traces) lives in `apitokens.activity`; the names other modules imported from
here before it moved are re-exported below.
"""

from __future__ import annotations

import logging
import time

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from apitokens.activity.buffer import (
    activity_buffer,
    activity_flush,
    activity_pending,
    activity_record,
    gunicorn_worker_exit,
    unknown_token_seen,
)
from apitokens.activity.last_used import last_used_touch, previous_value_touch
from apitokens.activity.rollups import hour_of, rollups_add, rollups_rebuild
from apitokens.activity.rows import activity_row, activity_rows
from apitokens.activity.writer import write_rows

__all__ = [
    "activity_flush",
    "activity_pending",
    "activity_record",
    "activity_rows",
    "gunicorn_worker_exit",
    "hour_of",
    "last_used_touch",
    "previous_value_touch",
    "request_record",
    "rollups_add",
    "rollups_rebuild",
    "unknown_token_seen",
    "write_rows",
]

logger = logging.getLogger(__name__)


def request_record(request: HttpRequest, response: HttpResponse, call, started: float) -> None:
    """Record an API request made with a known token (`call` is the request's
    `auth.ApiCall`): its activity row and, for an accepted token, its last use (and the old
    value's, which keeps an overlap "until its traffic stops" open)."""
    token = call.token
    if token is None:
        return
    try:
        activity_buffer.add(
            activity_row(
                token_id=token.pk,
                owner_id=token.owner_id,
                method=request.method or "",
                path=request.path,
                status=response.status_code,
                ip=call.ip,
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                duration_ms=int((time.perf_counter() - started) * 1000),
                flagged=call.flagged,
                used_previous_value=call.used_previous_value,
                outside_allowlist=call.outside_allowlist,
                request_id=request.request_id,
                now=call.now,
            )
        )
        if call.ok:
            last_used_touch(token=token, ip=call.ip, now=call.now)
            if call.used_previous_value and token.overlap_until_quiet:
                previous_value_touch(token=token, now=call.now)
    except DatabaseError:
        logger.exception("Could not record API usage for token %s", token.public_id)
