"""Issue 22, fault 8: a User-Agent header as a name an owner reads (common/user_agents.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.user_agents import UNKNOWN_LENGTH, browser_label, clean_user_agent


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox on Linux",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "Chrome on Windows",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
            "Firefox on Android",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
            "Samsung Internet on Android",
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "Chrome on ChromeOS",
        ),
        ("curl/8.5.0", "curl"),
        ("python-requests/2.32.3", "python-requests"),
        ("quickbot-python/2.3 python-requests/2.32", "quickbot-python"),
        ("okhttp/4.12.0", "okhttp"),
        ("Go-http-client/1.1", "Go-http-client"),
        ("PostmanRuntime/7.42.0", "PostmanRuntime"),
        ("GitHub-Actions quickbot-cli/1.4", "GitHub-Actions"),
    ],
)
def test_real_user_agents_get_a_readable_name(user_agent, label):
    assert browser_label(user_agent) == label


@pytest.mark.parametrize("empty", ["", "   ", "\x00", "\t\r\n"])
def test_no_header_gives_no_name(empty):
    assert browser_label(empty) == ""


def test_an_unknown_header_shows_its_start():
    assert browser_label("Mozilla/5.0 (demo browser)") == "Mozilla/5.0 (demo browser)"
    label = browser_label("Mozilla/5.0 " + "x" * 300)
    assert label.endswith("…") and len(label) == UNKNOWN_LENGTH


def test_a_huge_header_is_cut_before_parsing():
    label = browser_label(
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Firefox/133.0 " + "A" * 100_000
    )
    assert label == "Firefox on Linux"


def test_nul_and_control_characters_never_reach_the_page():
    assert browser_label("curl/8.5.0\x00evil") == "curl"
    assert "\x00" not in browser_label("\x00\x01Mozilla/5.0 (weird)\x7f")
    assert clean_user_agent("a\x00b\nc") == "a b c"


def test_html_is_returned_as_text_for_the_template_to_escape():
    assert browser_label("<script>alert(1)</script>") == "<script>alert(1)</script>"


@given(st.text(max_size=600))
def test_any_header_gives_a_short_printable_name(user_agent):
    label = browser_label(user_agent)
    assert len(label) <= 60
    assert not any(ord(char) < 32 or 127 <= ord(char) < 160 for char in label)
