"""A token's last use (`last_used_at`, `last_used_ip`), and the end of an overlap "until its
traffic stops" that each use of the old value moves on: each written at most once per
QUICKBOT_LAST_USED_INTERVAL_SECONDS however busy the token is."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings

from apitokens import expiry
from apitokens.models import APIToken


@lru_cache(maxsize=8)
def _interval(seconds: int) -> timedelta:
    return timedelta(seconds=seconds)


def last_used_touch(*, token: APIToken, ip: str | None, now: datetime) -> bool:
    """Set the token's last use, at most once per QUICKBOT_LAST_USED_INTERVAL_SECONDS.

    Decided from the row just read (no extra query when recent) and written with a
    conditional UPDATE, so concurrent processes write once and a token deleted meanwhile
    stays deleted. Returns True when it wrote.
    """
    interval = _interval(settings.QUICKBOT_LAST_USED_INTERVAL_SECONDS)
    if token.last_used_at is not None and now - token.last_used_at < interval:
        return False
    threshold = now - interval
    queryset = APIToken.objects.filter(pk=token.pk, revoked_at__isnull=True)
    if token.last_used_at is not None:
        queryset = queryset.filter(last_used_at__lte=threshold)
    else:
        queryset = queryset.filter(last_used_at__isnull=True)
    written = queryset.update(last_used_at=now, last_used_ip=ip) > 0
    if written:
        token.last_used_at, token.last_used_ip = now, ip
    return written


def previous_value_touch(*, token: APIToken, now: datetime) -> bool:
    """Keep an overlap "until its traffic stops" open a quiet day past this use of the old
    value (`expiry.quiet_overlap_end`), at most once per QUICKBOT_LAST_USED_INTERVAL_SECONDS.

    The lookup then decides from `previous_expires_at` alone, so a request after a quiet
    day is refused with no extra query and no cron. The end is written a quiet day plus one
    interval ahead, so the value never stops before a full quiet day, however the writes
    fell. The UPDATE is guarded on the overlap read: one ended (End overlap now), replaced
    (another regenerate) or deleted meanwhile is never reopened. Returns True when it wrote.
    """
    current_end = token.previous_expires_at
    if not token.overlap_until_quiet or current_end is None or token.regenerated_at is None:
        return False
    interval = _interval(settings.QUICKBOT_LAST_USED_INTERVAL_SECONDS)
    new_end = expiry.quiet_overlap_end(
        last_use=now, regenerated_at=token.regenerated_at, slack=interval
    )
    if new_end - current_end < interval:
        return False
    written = (
        APIToken.objects.filter(
            pk=token.pk,
            revoked_at__isnull=True,
            overlap_until_quiet=True,
            previous_digest=token.previous_digest,
            regenerated_at=token.regenerated_at,
            previous_expires_at__gt=now,
            previous_expires_at__lt=new_end,
        ).update(previous_expires_at=new_end)
        > 0
    )
    if written:
        token.previous_expires_at = new_end
    return written
