"""The client's IP address: the one answer every caller uses (API limits, activity rows,
the login limiter, the security log and the notification emails)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from django.conf import settings
from django.http import HttpRequest


def client_ip_from(meta: Mapping[str, str], trusted_proxy_count: int) -> str | None:
    """REMOTE_ADDR, or with N trusted proxies in front, the Nth X-Forwarded-For entry
    from the right (the address the outermost trusted proxy saw). Spoofed entries to the
    left are ignored; an unusable header falls back to REMOTE_ADDR."""
    remote = meta.get("REMOTE_ADDR") or None
    if trusted_proxy_count <= 0:
        return remote
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if len(hops) < trusted_proxy_count:
        return remote
    candidate = hops[-trusted_proxy_count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP for `request` under QUICKBOT_TRUSTED_PROXY_COUNT (see `client_ip_from`)."""
    return client_ip_from(request.META, settings.QUICKBOT_TRUSTED_PROXY_COUNT)
