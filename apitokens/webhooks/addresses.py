"""Which webhook URLs QuickBot may call: HTTPS to a public address only (no server-side
request forgery into the private network or a cloud metadata service).

The check runs when an endpoint is saved and again before each delivery, which then
connects to the very address checked here, so a name that resolves elsewhere later (DNS
rebinding) cannot slip past it. `QUICKBOT_WEBHOOKS_ALLOW_PRIVATE` admits private addresses
and plain http:// for a local receiver (development, tests).
"""

from __future__ import annotations

import ipaddress
import socket
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

URL_MAX_LENGTH = 2000
# Cloud metadata services, refused even when private addresses are allowed.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)

# IPv6 ranges that carry an IPv4 address inside (NAT64), checked as that IPv4 address.
NAT64 = ipaddress.ip_network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class UnsafeWebhookURL(ValueError):
    """The URL may not be called; `str(error)` is a message for the person who gave it."""


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A checked URL: where to connect (`address`, `port`) and what to ask for."""

    url: str
    scheme: str
    host: str
    port: int
    address: str
    path: str


def system_resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def private_allowed() -> bool:
    return bool(getattr(settings, "QUICKBOT_WEBHOOKS_ALLOW_PRIVATE", False))


def address_refusal(address: Address, *, allow_private: bool) -> str | None:
    """Why QuickBot will not connect to `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        elif address.sixtofour is not None:
            address = address.sixtofour
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if allow_private:
        return None
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local):
        return "a private address"
    if not address.is_global:
        return "a reserved address"
    return None


def _split(url: str, *, allow_private: bool) -> SplitResult:
    if not url or not url.strip():
        raise UnsafeWebhookURL("Enter the URL of your webhook receiver.")
    if len(url) > URL_MAX_LENGTH:
        raise UnsafeWebhookURL(f"The URL is too long (at most {URL_MAX_LENGTH} characters).")
    if any(unicodedata.category(char) in {"Cc", "Cf", "Zs", "Zl", "Zp"} for char in url):
        raise UnsafeWebhookURL("The URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeWebhookURL("Enter a valid URL, such as https://example.com/hooks.") from None
    schemes = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in schemes:
        raise UnsafeWebhookURL("The URL must start with https://.")
    if not parts.hostname:
        raise UnsafeWebhookURL("Enter a valid URL, such as https://example.com/hooks.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookURL("The URL may not contain a user name or password.")
    if port == 0:
        raise UnsafeWebhookURL("Enter a valid URL, such as https://example.com/hooks.")
    return parts


def _ascii_host(hostname: str) -> str:
    """The host as DNS knows it: an internationalised name in its xn-- form."""
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        pass
    else:
        return hostname
    try:
        return hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise UnsafeWebhookURL("The URL's host name is not valid.") from None


def webhook_url_check(
    url: str, *, resolve: Resolver | None = None, allow_private: bool | None = None
) -> WebhookTarget:
    """Check `url` and resolve its host; return where to connect, or raise
    UnsafeWebhookURL when any address it resolves to is refused (or it resolves to none)."""
    if allow_private is None:
        allow_private = private_allowed()
    parts = _split(url, allow_private=allow_private)
    host = _ascii_host(parts.hostname or "")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolve(host, port) if resolve is not None else system_resolve(host, port)
        except (OSError, UnicodeError):
            raise UnsafeWebhookURL(f"The host name {host} could not be resolved.") from None
    if not addresses:
        raise UnsafeWebhookURL(f"The host name {host} could not be resolved.")
    for text in addresses:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            raise UnsafeWebhookURL(f"The host name {host} could not be resolved.") from None
        reason = address_refusal(address, allow_private=allow_private)
        if reason is not None:
            raise UnsafeWebhookURL(
                f"QuickBot does not send webhooks to {host}: it resolves to {reason}."
            )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return WebhookTarget(
        url=url,
        scheme=parts.scheme,
        host=host,
        port=port,
        address=addresses[0].split("%", 1)[0],
        path=path,
    )
