"""A token's IP allowlist: parsing what a user typed, and the per-request check.

Pure functions, no ORM, no request. The list is stored on the token row as normalised
text (one network per line, e.g. "203.0.113.7\\n2001:db8::/48"), so the API path reads it
with the token and checks it without a query; `address_allowed` parses each stored text
once per process and remembers its answer per (list, address) pair (both bounded caches).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

MAX_ENTRIES = 20
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Entries may be separated by newlines, commas, semicolons or spaces.
_SEPARATORS = re.compile(r"[\s,;]+")


class AllowlistError(ValueError):
    """The typed list is not usable; `messages` holds one sentence per problem."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages


def _entry_network(entry: str) -> IPNetwork:
    """One typed entry as a network, or ValueError with a message for the user."""
    shown = entry if len(entry) <= 50 else entry[:50] + "…"
    if "%" in entry:
        raise ValueError(f"“{shown}”: remove the zone index (%…); it is not part of an address.")
    try:
        network = ipaddress.ip_network(entry, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(
                f"“{shown}” is not an IPv4 or IPv6 address or CIDR range "
                "(e.g. 203.0.113.7, 198.51.100.0/24, 2001:db8::/48)."
            ) from None
        raise ValueError(
            f"“{shown}” has bits set after the /{loose.prefixlen} prefix: did you mean {loose}?"
        ) from None
    if network.prefixlen == 0:
        raise ValueError(
            f"“{shown}” allows every address; leave the list empty instead, or narrow it."
        )
    mapped = getattr(network.network_address, "ipv4_mapped", None)
    if mapped is not None and network.prefixlen >= 96:
        # Clients are matched on their IPv4 address; store it that way.
        network = ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}")
    return network


def _compact(network: IPNetwork) -> str:
    """A single address without its /32 or /128; a range as address/prefix."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def allowlist_normalize(text: str) -> str:
    """The stored form of a typed list: one entry per line, in the order typed, duplicates
    dropped, IPv6 compressed. "" for an empty list.

    Raises AllowlistError naming every bad entry, or when there are more than MAX_ENTRIES.
    """
    entries = [entry for entry in _SEPARATORS.split(text.strip()) if entry]
    problems: list[str] = []
    networks: list[IPNetwork] = []
    for entry in entries:
        try:
            network = _entry_network(entry)
        except ValueError as error:
            problems.append(str(error))
            continue
        if network not in networks:
            networks.append(network)
    if problems:
        raise AllowlistError(problems)
    if len(networks) > MAX_ENTRIES:
        raise AllowlistError(
            [
                f"At most {MAX_ENTRIES} addresses or ranges ({len(networks)} given): "
                "combine neighbours into a CIDR range."
            ]
        )
    return "\n".join(_compact(network) for network in networks)


def allowlist_entries(stored: str) -> list[str]:
    """The stored list as entries, for pages ([] when any address is allowed)."""
    return stored.split() if stored else []


@lru_cache(maxsize=1024)
def _stored_networks(stored: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry) for entry in stored.split())


def address_allowed(stored: str, ip: str | None) -> bool:
    """Whether a request from `ip` may use a token with this stored allowlist.

    An empty list allows every address; an unknown or unreadable address none. An
    IPv4-mapped IPv6 address (::ffff:203.0.113.7) is matched as its IPv4 address.
    """
    if not stored:
        return True
    return _decision(stored, ip)


# A token's scripts call from a few addresses: the answer for (list, address) is kept.
@lru_cache(maxsize=4096)
def _decision(stored: str, ip: str | None) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return any(address in network for network in _stored_networks(stored))
