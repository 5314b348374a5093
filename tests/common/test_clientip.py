from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.test import RequestFactory

from common.clientip import client_ip, client_ip_from

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
