"""Third-party text in emails (common/mail.py `mail_text`): defanged and cut, never a link (issue
#20, L5)."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apitokens import services
from common.mail import MAIL_TEXT_MAX_LENGTH, mail_text

EVIL_UA = "Mozilla/5.0 (X11) Visit https://evil.example/reset to keep your account"


EVIL = services.ClientInfo(ip="198.51.100.23", user_agent=EVIL_UA)


# What a mail client would turn into a link: a scheme, or a dot before a letter.
LINKABLE = re.compile(r"(?i)[a-z][a-z0-9+.-]*://|(?:mailto|javascript|tel):|[^\W_]\.[^\W\d_]")


# --- The function -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("Visit https://evil.example/reset", "Visit https[:]//evil[.]example/reset"),
        ("HTTPS://EVIL.EXAMPLE", "HTTPS[:]//EVIL[.]EXAMPLE"),
        ("www.evil.example", "www[.]evil[.]example"),
        ("mail me: mailto:x@evil.example", "mail me: mailto[:]x@evil[.]example"),
        ("javascript:alert(1)", "javascript[:]alert(1)"),
        # Full-width letters and look-alike dots that IDNA reads as a dot.
        ("ｈｔｔｐｓ：／／ｅｖｉｌ．ｅｘａｍｐｌｅ", "https[:]//evil[.]example"),
        ("evil。example", "evil[.]example"),
        ("evil｡example", "evil[.]example"),
        # Invisible characters cannot split a domain or reorder it (bidi override).
        ("evil\u200b.example", "evil[.]example"),
        ("\u202eelpmaxe.live//:sptth", "elpmaxe[.]live//:sptth"),
        ("line one\r\nDevice: forged\tline", "line one Device: forged line"),
        ("nul\x00byte\x1b[31m", "nulbyte[31m"),
        ("Ünïcödé.ëxample", "Ünïcödé[.]ëxample"),
        # Ordinary User-Agents and addresses stay readable.
        ("curl/8.5.0", "curl/8.5.0"),
        ("Mozilla/5.0 Chrome/120.0.6099.109", "Mozilla/5.0 Chrome/120.0.6099.109"),
        ("198.51.100.23", "198.51.100.23"),
        ("2001:db8::1", "2001:db8::1"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("CI runner", "CI runner"),
        ("", ""),
    ],
)
def test_third_party_text_is_defanged(value, shown):
    assert mail_text(value) == shown


def test_long_text_is_cut():
    shown = mail_text("x" * 10_000)
    assert len(shown) == MAIL_TEXT_MAX_LENGTH
    assert shown.endswith("…")
    assert mail_text("a.b " * 100, max_length=10) == "a[.]b a[.…"


@given(st.text(max_size=400))
def test_nothing_linkable_survives_any_input(value):
    shown = mail_text(value)
    assert not LINKABLE.search(shown)
    assert len(shown) <= MAIL_TEXT_MAX_LENGTH
    assert "\n" not in shown and "\r" not in shown
    assert not any(unicodedata.category(char) in {"Cc", "Cf"} for char in shown)


@given(st.from_regex(r"https?://[a-z]{1,10}\.(com|example|xn--p1ai)/[a-z]{0,10}", fullmatch=True))
def test_urls_never_survive(url):
    assert "://" not in mail_text(f"Visit {url} now")
