"""Text someone else chose never becomes a link or a greeting in QuickBot's emails
(issue #20, L5): `common.mail.mail_text` defangs it, and every email about an address
greets by name only once the address is confirmed."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from apitokens import notifications, services
from apitokens.models import APIToken
from common.mail import MAIL_TEXT_MAX_LENGTH, mail_text
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

EVIL_UA = "Mozilla/5.0 (X11) Visit https://evil.example/reset to keep your account"
EVIL = services.ClientInfo(ip="198.51.100.23", user_agent=EVIL_UA)
# What a mail client would turn into a link: a scheme, or a dot before a letter.
LINKABLE = re.compile(r"(?i)[a-z][a-z0-9+.-]*://|(?:mailto|javascript|tel):|[^\W_]\.[^\W\d_]")


def parts(message) -> list[str]:
    return [message.subject, message.body, *(content for content, _ in message.alternatives)]


def assert_defanged(message, *needles: str) -> None:
    for part in parts(message):
        assert "https://evil.example" not in part
        assert "evil.example" not in part
        for needle in needles:
            assert needle not in part


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


# --- Token emails ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_leak_email_shows_the_reporters_user_agent_defanged(
    client, user, django_capture_on_commit_callbacks
):
    token, raw = create_token(user, "CI runner")
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/api/v1/credentials/revoke",
            json.dumps({"credentials": [raw]}),
            content_type="application/json",
            REMOTE_ADDR="198.51.100.23",
            HTTP_USER_AGENT=EVIL_UA,
        )
    [message] = mail.outbox
    assert_defanged(message)
    assert "Visit https[:]//evil[.]example/reset" in message.body
    assert "Visit https[:]//evil[.]example/reset" in message.alternatives[0].content
    token.refresh_from_db()
    assert token.revoked_reason == APIToken.RevokedBy.LEAKED


@pytest.mark.django_db
def test_a_user_agent_cannot_add_lines_to_the_email(user, django_capture_on_commit_callbacks):
    token, _ = create_token(user, "CI runner")
    mail.outbox = []
    forged = services.ClientInfo(ip="198.51.100.23", user_agent="x\nIP address: 10.0.0.1")
    with django_capture_on_commit_callbacks(execute=True):
        services.api_token_revoke(
            token=token, actor=None, reason=APIToken.RevokedBy.LEAKED, client=forged
        )
    [message] = mail.outbox
    assert "\nIP address: 10.0.0.1" not in message.body
    assert "Device:     x IP address: 10.0.0.1" in message.body


NOTIFICATIONS = ["created", "regenerated", "deleted", "exposed", "dead_token_used"]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", NOTIFICATIONS)
def test_no_token_email_links_a_name_or_user_agent(kind, django_capture_on_commit_callbacks):
    # Someone signed in to the account (or the account's squatter) chose the token's name.
    owner = UserFactory(display_name="Ada, see evil.example")
    with django_capture_on_commit_callbacks(execute=True):
        token, _ = create_token(owner, "Go to https://evil.example/x", client=EVIL)
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        if kind == "created":
            create_token(owner, "www.evil.example", client=EVIL)
        elif kind == "regenerated":
            services.api_token_regenerate(
                token=token, actor=owner, client=EVIL, overlap=timedelta(hours=1)
            )
        elif kind == "deleted":
            services.api_token_revoke(token=token, actor=owner, client=EVIL)
        elif kind == "exposed":
            services.exposed_tokens_revoke(
                values=[_value(owner)], reason=APIToken.RevokedBy.URL, client=EVIL
            )
        else:
            services.api_token_revoke(token=token, actor=owner)
            notifications.notify_dead_token_used(token=token, client=EVIL)
    assert mail.outbox
    for message in mail.outbox:
        assert_defanged(message)


def _value(owner) -> str:
    _, raw = create_token(owner, "Another one")
    return raw


@pytest.mark.django_db
def test_expiry_and_stale_digest_emails_defang_names(settings):
    owner = UserFactory(display_name="Hi from evil.example")
    now = timezone.now()
    token, _ = create_token(owner, "Visit https://evil.example", expires_at=now + timedelta(days=1))
    message = notifications.expiry_reminder_message(token=token, kind="1d", now=now)
    assert_defanged(message)
    digest = notifications.stale_digest_message(owner=owner, tokens=[token], days=60, now=now)
    assert_defanged(digest)


# --- Greetings --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_token_emails_greet_by_name_only_once_the_address_is_confirmed(
    django_capture_on_commit_callbacks,
):
    confirmed = UserFactory(display_name="Ada Lovelace")
    squatted = UserFactory(display_name="Mallory", email_verified_at=None)
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        for owner in (confirmed, squatted):
            token, _ = create_token(owner, "CI runner")
            services.api_token_revoke(token=token, actor=owner)
    greetings = {message.to[0]: message.body.splitlines()[0] for message in mail.outbox}
    assert greetings == {confirmed.email: "Hello Ada Lovelace,", squatted.email: "Hello,"}
    for message in mail.outbox:
        if message.to == [squatted.email]:
            assert "Mallory" not in message.alternatives[0].content


@pytest.mark.django_db(transaction=True)
def test_the_owner_is_not_greeted_with_a_squatters_display_name(client):
    # Someone signed up first with the owner's address and chose the display name.
    UserFactory(
        email="owner@example.com",
        display_name="Support: visit https://evil.example/reset",
        email_verified_at=None,
    )
    mail.outbox = []
    password = "quiet-otter-lantern-42"
    client.post(
        "/account/signup/",
        {"email": "owner@example.com", "password1": password, "password2": password},
    )
    client.post("/account/password-reset/", {"email": "owner@example.com"})
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert message.to == ["owner@example.com"]
        assert message.body.startswith("Hello,\n")
        assert "evil" not in message.body and "Support" not in message.body


@pytest.mark.django_db(transaction=True)
def test_the_verification_email_does_not_greet_with_the_chosen_name(client):
    password = "quiet-otter-lantern-42"
    client.post(
        "/account/signup/",
        {
            "email": "someone@example.com",
            "display_name": "Visit evil.example",
            "password1": password,
            "password2": password,
        },
    )
    [message] = mail.outbox
    assert message.body.startswith("Hello,\n")
    assert "evil" not in message.body
