"""The client's address (common/clientip.py): the one function every caller uses, and
`rate_limit_key`, the one key every per-address limiter counts a client under."""

from __future__ import annotations

import ast
import ipaddress
from pathlib import Path

import pytest
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from common.clientip import client_ip, client_ip_from, rate_limit_key


@pytest.fixture
def _unbuffered_activity(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.parametrize(
    ("meta", "count", "expected"),
    [
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, 0, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, 1, "1.2.3.4"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4"}, 1, "1.2.3.4"),
        (
            {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4, 10.0.0.9"},
            2,
            "1.2.3.4",
        ),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, 2, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "garbage"}, 1, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1"}, 1, "10.0.0.1"),
        ({}, 0, None),
    ],
)
def test_client_ip_from(meta, count, expected):
    assert client_ip_from(meta, count) == expected


PROJECT_DIR = Path(__file__).resolve().parents[2]


PROXY = "10.0.0.1"


@pytest.mark.parametrize(
    ("forwarded", "proxies", "expected"),
    [
        # No trusted proxy: the header is anyone's to write.
        ("203.0.113.9", 0, PROXY),
        ("203.0.113.9", 1, "203.0.113.9"),
        # Entries left of the ones trusted proxies appended are the client's own words.
        ("6.6.6.6, 203.0.113.9", 1, "203.0.113.9"),
        ("6.6.6.6 ,203.0.113.9 , 10.0.0.2", 2, "203.0.113.9"),
        ("6.6.6.6, 203.0.113.9, 10.0.0.2", 1, "10.0.0.2"),
        # Fewer hops than proxies: the request came around them.
        ("203.0.113.9", 2, PROXY),
        ("", 1, PROXY),
        (" , ", 1, PROXY),
        # An entry that is no address falls back to the peer.
        ("not-an-ip", 1, PROXY),
        ("203.0.113.9\x00", 1, PROXY),
        ("6.6.6.6, 203.0.113.999", 1, PROXY),
        # IPv6, written in its canonical form.
        ("2001:DB8:0:0::1", 1, "2001:db8::1"),
        ("6.6.6.6, 2001:db8::7", 1, "2001:db8::7"),
    ],
)
def test_client_ip_from_forwarded_header(forwarded, proxies, expected):
    meta = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": forwarded}

    assert client_ip_from(meta, proxies) == expected


def test_ipv6_peer_without_proxies():
    assert client_ip_from({"REMOTE_ADDR": "2001:db8::1"}, 0) == "2001:db8::1"


@pytest.mark.parametrize("proxies", [0, 1])
def test_no_peer_address_is_none(proxies):
    assert client_ip_from({"REMOTE_ADDR": ""}, proxies) is None
    assert client_ip_from({}, proxies) is None


def test_client_ip_reads_the_trusted_proxy_count_setting(settings):
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.9")

    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == PROXY
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.9"


def test_no_other_module_reads_the_client_address_from_the_request():
    """One source for the address: the security log, the emails, the login limiter and
    the API limits cannot disagree about who the client is."""
    readers = [
        f"{path.relative_to(PROJECT_DIR)}:{node.lineno}"
        for package in ("common", "accounts", "apitokens", "quickbot")
        for path in sorted((PROJECT_DIR / package).rglob("*.py"))
        if path != PROJECT_DIR / "common" / "clientip.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in {"REMOTE_ADDR", "HTTP_X_FORWARDED_FOR"}
    ]
    assert readers == []


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:1::1", "2001:db8:1:1::/64"),
        ("2001:db8:1:1::2", "2001:db8:1:1::/64"),
        ("2001:db8:1:1:ffff:ffff:ffff:ffff", "2001:db8:1:1::/64"),
        # Other spellings of one address: uppercase, uncompressed, a zone index.
        ("2001:DB8:1:1::1", "2001:db8:1:1::/64"),
        ("2001:0db8:0001:0001:0000:0000:0000:0001", "2001:db8:1:1::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("fe80::1", "fe80::/64"),
        # An IPv4-mapped IPv6 address is the IPv4 client it carries.
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("::FFFF:cb00:7107", "203.0.113.7"),
        ("::ffff:203.0.113.7%1", "203.0.113.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        (None, None),
        ("", None),
    ],
)
def test_rate_limit_key(ip, expected):
    assert rate_limit_key(ip) == expected


def test_an_unreadable_address_is_its_own_key():
    assert rate_limit_key("not:an:address") == "not:an:address"


ipv6_addresses = st.integers(min_value=0, max_value=2**128 - 1).map(ipaddress.IPv6Address)


@given(ipv6_addresses, st.integers(min_value=0, max_value=2**64 - 1))
def test_every_address_of_a_slash_64_shares_its_key(address, host):
    """Any two addresses with the same first 64 bits share a key, however written."""
    sibling = ipaddress.IPv6Address((int(address) >> 64 << 64) | host)
    if address.ipv4_mapped is None:
        assert rate_limit_key(str(address)) == rate_limit_key(sibling.exploded.upper())


@given(ipv6_addresses, ipv6_addresses)
def test_addresses_of_different_slash_64s_never_share_a_key(first, second):
    if first.ipv4_mapped is not None or second.ipv4_mapped is not None:
        return
    same_network = int(first) >> 64 == int(second) >> 64
    assert (rate_limit_key(str(first)) == rate_limit_key(str(second))) == same_network


@given(st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address))
def test_an_ipv4_client_counts_alone_in_any_spelling(address):
    mapped = ipaddress.IPv6Address(0xFFFF_0000_0000 | int(address))
    assert rate_limit_key(str(address)) == str(address)
    assert rate_limit_key(str(mapped)) == rate_limit_key(mapped.exploded) == str(address)


# --- No limiter keys a counter by the raw address --------------------------------------------

_ADDRESS_NAMES = {"ip", "client_ip", "remote_addr", "address"}


_SOURCE_DIRS = ("accounts", "apitokens", "common", "quickbot")


# Modules that count per client: a counter key built from an address must go through
# rate_limit_key there.
_COUNTING_MARKERS = ("cache.add", "cache.incr", "counters()", "cache.get_many", ".hit(")


def _mentions_address(node: ast.AST) -> bool:
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and child.id in _ADDRESS_NAMES:
            return True
        if isinstance(child, ast.Attribute) and child.attr in _ADDRESS_NAMES:
            return True
    return False


def _keyed_through_rate_limit_key(node: ast.AST) -> bool:
    return any(
        isinstance(child, ast.Call)
        and getattr(child.func, "id", getattr(child.func, "attr", None)) == "rate_limit_key"
        for child in ast.walk(node)
    )


def raw_address_keys(source: str) -> list[int]:
    """Lines where a string or digest is built from an address without rate_limit_key."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        parts: list[ast.AST] = []
        if isinstance(node, ast.JoinedStr):
            parts = [value.value for value in node.values if isinstance(value, ast.FormattedValue)]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_digest":
            parts = list(node.args)
        for part in parts:
            if _mentions_address(part) and not _keyed_through_rate_limit_key(part):
                lines.append(node.lineno)
    return lines


def test_the_scan_finds_a_raw_address_key():
    assert raw_address_keys("key = f\"qb:leakreport:{ip or '-'}:{slot}\"") == [1]
    assert raw_address_keys('subject = _digest(ip or "unknown")') == [1]
    assert raw_address_keys("key = f\"qb:x:{rate_limit_key(ip) or '-'}\"") == []


def test_no_limiter_keys_a_counter_by_the_raw_address():
    offenders = []
    for folder in _SOURCE_DIRS:
        for path in sorted((PROJECT_DIR / folder).rglob("*.py")):
            source = path.read_text()
            if "migrations" in path.parts or not any(m in source for m in _COUNTING_MARKERS):
                continue
            offenders += [
                f"{path.relative_to(PROJECT_DIR)}:{line}" for line in raw_address_keys(source)
            ]
    assert offenders == []
