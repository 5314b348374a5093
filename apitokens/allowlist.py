"""A token's IP allowlist: parsing what a user typed, and the per-request check.

Pure functions, no ORM, no request. The list is stored on the token row as normalised
text (one network per line, e.g. "203.0.113.7\\n2001:db8::/48"), so the API path reads it
with the token and checks it without a query; `address_allowed` parses each stored text
once per process and remembers its answer per (list, address) pair (both bounded caches).

A list must restrict something: one that admits every IPv4 or every IPv6 address, however
it is written (0.0.0.0/1 with 128.0.0.0/1, ::ffff:0:0/96, NAT64's 64:ff9b::/96), is
refused, and so is an entry wider than a /8 of IPv4 or a /16 of IPv6
(`allowlist_unrestricted` says the same of a stored list, for the token policy).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

MAX_ENTRIES = 20
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# The widest entry accepted per IP version: wider ranges hold many unrelated networks
# (an IPv4 /8 is a 256th of the Internet), so they restrict nothing a user could mean.
WIDEST_PREFIX = {4: 8, 6: 16}

_EVERY_ADDRESS = {4: ipaddress.IPv4Network("0.0.0.0/0"), 6: ipaddress.IPv6Network("::/0")}
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
# IPv6 prefixes whose last 32 bits are an IPv4 address: IPv4-mapped (how a dual-stack socket
# sees an IPv4 client) and NAT64's well-known prefix (RFC 6052), how an IPv4 client looks
# behind a NAT64/SIIT gateway. An entry in them admits those IPv4 clients.
_IPV4_SPELLINGS = (_IPV4_MAPPED, ipaddress.IPv6Network("64:ff9b::/96"))

# Entries may be separated by newlines, commas, semicolons or spaces.
_SEPARATORS = re.compile(r"[\s,;]+")


class AllowlistError(ValueError):
    """The typed list is not usable; `messages` holds one sentence per problem and `codes`
    its code ("invalid_ip", "allows_every_address", "too_wide")."""

    def __init__(self, messages: list[str], codes: list[str] | None = None) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages
        self.codes = codes or ["invalid_ip"] * len(messages)


class _EntryError(ValueError):
    def __init__(self, message: str, code: str = "invalid_ip") -> None:
        super().__init__(message)
        self.code = code


def _shown(entry: str) -> str:
    return entry if len(entry) <= 50 else entry[:50] + "…"


def _entry_network(entry: str) -> IPNetwork:
    """One typed entry as a network, or _EntryError with a message for the user."""
    shown = _shown(entry)
    if "%" in entry:
        raise _EntryError(f"“{shown}”: remove the zone index (%…); it is not part of an address.")
    try:
        network = ipaddress.ip_network(entry, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise _EntryError(
                f"“{shown}” is not an IPv4 or IPv6 address or CIDR range "
                "(e.g. 203.0.113.7, 198.51.100.0/24, 2001:db8::/48)."
            ) from None
        raise _EntryError(
            f"“{shown}” has bits set after the /{loose.prefixlen} prefix: did you mean {loose}?"
        ) from None
    mapped = getattr(network.network_address, "ipv4_mapped", None)
    if mapped is not None and network.prefixlen >= 96:
        # Clients are matched on their IPv4 address; store it that way.
        network = ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}")
    if network.prefixlen == 0:  # after the mapping: ::ffff:0:0/96 is 0.0.0.0/0
        raise _EntryError(
            f"“{shown}” allows every address; leave the list empty instead, or narrow it.",
            code="allows_every_address",
        )
    return network


def _ipv4_spelled(network: IPNetwork) -> list[ipaddress.IPv4Network]:
    """The IPv4 clients `network` admits: itself for IPv4, for IPv6 the IPv4 addresses it
    spells as IPv4-mapped or NAT64 addresses (all of them when it holds a whole prefix)."""
    if network.version == 4:
        return [network]
    parts = []
    for prefix in _IPV4_SPELLINGS:
        if prefix.subnet_of(network):
            parts.append(_EVERY_ADDRESS[4])
        elif network.subnet_of(prefix):
            low_bits = int(network.network_address) & 0xFFFF_FFFF
            parts.append(ipaddress.IPv4Network((low_bits, network.prefixlen - 96)))
    return parts


def _families_admitted_entirely(networks: list[IPNetwork]) -> list[int]:
    """The IP versions (4, 6) whose every address the networks admit together."""
    ipv4 = [part for network in networks for part in _ipv4_spelled(network)]
    # IPv4-mapped clients are matched as IPv4, so an IPv6 list need not hold them.
    ipv6 = [network for network in networks if network.version == 6] + [_IPV4_MAPPED]
    return [
        version
        for version, parts in ((4, ipv4), (6, ipv6))
        if list(ipaddress.collapse_addresses(parts)) == [_EVERY_ADDRESS[version]]
    ]


def _too_wide(network: IPNetwork, skip_versions: list[int]) -> str | None:
    """Why `network` is wider than WIDEST_PREFIX allows (for itself or the IPv4 addresses
    it spells), or None. Versions already reported as entirely admitted are skipped."""
    shown = _compact(network)
    if network.version == 6 and 6 not in skip_versions and network.prefixlen < WIDEST_PREFIX[6]:
        return (
            f"“{shown}” is wider than a /{WIDEST_PREFIX[6]}: it holds many unrelated "
            "networks. List only your own addresses or ranges."
        )
    if 4 in skip_versions:
        return None
    for part in _ipv4_spelled(network):
        if part.prefixlen < WIDEST_PREFIX[4]:
            spelled = "" if network.version == 4 else f" (the IPv4 addresses {part})"
            return (
                f"“{shown}”{spelled} is wider than a /{WIDEST_PREFIX[4]} of IPv4: it holds "
                "many unrelated networks. List only your own addresses or ranges."
            )
    return None


_SPELLINGS_NOTE = " (IPv4-mapped ::ffff:… and NAT64 64:ff9b::… addresses are IPv4 clients)"


def _breadth_problems(networks: list[IPNetwork]) -> list[tuple[str, str]]:
    """(code, message) for a list that restricts (almost) nothing, [] otherwise."""
    problems = []
    everything = _families_admitted_entirely(networks)
    if everything:
        wide = [
            network
            for network in networks
            if (6 in everything and network.version == 6)
            or (4 in everything and _ipv4_spelled(network))
        ]
        entries = ", ".join(f"“{_compact(network)}”" for network in wide)
        verb = "together allow" if len(wide) > 1 else "allows"
        versions = " and ".join(f"IPv{version}" for version in everything)
        note = _SPELLINGS_NOTE if 4 in everything and any(n.version == 6 for n in wide) else ""
        problems.append(
            (
                "allows_every_address",
                f"{entries} {verb} every {versions} address{note}, so the list would "
                "restrict nothing. Leave it empty instead, or list only your own addresses "
                "or ranges.",
            )
        )
    for network in networks:
        reason = _too_wide(network, everything)
        if reason is not None:
            problems.append(("too_wide", reason))
    return problems


def _compact(network: IPNetwork) -> str:
    """A single address without its /32 or /128; a range as address/prefix."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def allowlist_normalize(text: str) -> str:
    """The stored form of a typed list: one entry per line, in the order typed, duplicates
    dropped, IPv6 compressed. "" for an empty list.

    Raises AllowlistError naming every bad entry, a list that admits every IPv4 or IPv6
    address, an entry wider than WIDEST_PREFIX, or more than MAX_ENTRIES entries.
    """
    entries = [entry for entry in _SEPARATORS.split(text.strip()) if entry]
    problems: list[tuple[str, str]] = []
    networks: list[IPNetwork] = []
    for entry in entries:
        try:
            network = _entry_network(entry)
        except _EntryError as error:
            problems.append((error.code, str(error)))
            continue
        if network not in networks:
            networks.append(network)
    problems += _breadth_problems(networks)
    if problems:
        raise AllowlistError([message for _, message in problems], [code for code, _ in problems])
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


def allowlist_unrestricted(stored: str) -> bool:
    """Whether a stored, non-empty list restricts (almost) nothing: it admits every IPv4 or
    IPv6 address, or holds an entry `allowlist_normalize` would now refuse as too wide
    (lists saved before those were refused). The token policy counts it as no allowlist."""
    if not stored:
        return False
    networks = list(_stored_networks(stored))
    return any(network.prefixlen == 0 for network in networks) or bool(_breadth_problems(networks))


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
