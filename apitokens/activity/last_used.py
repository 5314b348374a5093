"""A token's last use (`last_used_at`, `last_used_ip`), written at most once per
QUICKBOT_LAST_USED_INTERVAL_SECONDS however busy the token is."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings

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
