"""The client's IP address: the one answer every caller uses (API limits, activity rows,
the login limiter, the security log and the notification emails), and the one key every
per-address limiter counts it under (`rate_limit_key`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import lru_cache

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


# An IPv6 client holds at least a /64 (RFC 6177: every home connection gets one), and can
# pick any address in it, so a limit per IPv6 address would be no limit.
IPV6_LIMIT_PREFIX = 64
_IPV6_HOST_BITS = 128 - IPV6_LIMIT_PREFIX


def rate_limit_key(ip: str | None) -> str | None:
    """What a per-address limiter counts `ip` under: an IPv4 address as itself, an
    IPv4-mapped IPv6 address as its IPv4 address, any other IPv6 address as its /64
    ("2001:db8:1:1::/64", whatever the spelling, case or zone index); None for no address.
    Only for limiter keys: addresses shown or stored stay the full address."""
    if not ip:
        return None
    if ":" not in ip:  # IPv4 (or an unreadable REMOTE_ADDR): cheap on the API's hot path
        return ip
    return _ipv6_rate_limit_key(ip)


# Bounded: addresses are the client's to choose, so the memo must not grow with them.
@lru_cache(maxsize=4096)
def _ipv6_rate_limit_key(ip: str) -> str:
    try:
        address = ipaddress.IPv6Address(ip)
    except ValueError:
        return ip  # not from a client: REMOTE_ADDR is the server's, the header is parsed
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    prefix = int(address) >> _IPV6_HOST_BITS << _IPV6_HOST_BITS
    return f"{ipaddress.IPv6Address(prefix)}/{IPV6_LIMIT_PREFIX}"
