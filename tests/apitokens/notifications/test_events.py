"""The emails about one token's lifecycle (apitokens/notifications/events.py): created, regenerated,
deleted, leaked, a dead token used; text someone else chose is defanged in them (issue #20, L5)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from apitokens import notifications, services
from apitokens.models import APIToken
from apitokens.notifications import events
from apitokens.services import ClientInfo, TokenNameTaken
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

URL = "/api/v1/credentials/revoke"


REPORTER = {"REMOTE_ADDR": "198.51.100.23", "HTTP_USER_AGENT": "quickbot-scan/1"}


def report(client, values, **extra):
    return client.post(
        URL,
        json.dumps({"credentials": values}),
        content_type="application/json",
        **REPORTER,
        **extra,
    )


@pytest.mark.django_db
def test_owner_is_emailed_naming_the_token_when_and_from_where(
    client, user, mailoutbox, django_capture_on_commit_callbacks
):
    token, raw = create_token(user, "CI runner")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        report(client, [raw])
    [message] = mailoutbox
    assert message.to == ["ada@example.com"]
    assert message.subject == "[QuickBot] API token “CI runner” deleted: reported as leaked"
    text = message.body
    assert "because its value was reported as leaked" in text
    assert token.identifier in text
    assert "198.51.100.23" in text
    assert "When:" in text
    html = message.alternatives[0].content
    assert token.identifier in html
    assert raw not in text and raw not in html


EVIL_UA = "Mozilla/5.0 (X11) Visit https://evil.example/reset to keep your account"


EVIL = services.ClientInfo(ip="198.51.100.23", user_agent=EVIL_UA)


def parts(message) -> list[str]:
    return [message.subject, message.body, *(content for content, _ in message.alternatives)]


def assert_defanged(message, *needles: str) -> None:
    for part in parts(message):
        assert "https://evil.example" not in part
        assert "evil.example" not in part
        for needle in needles:
            assert needle not in part


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


NOTIFICATIONS = [
    "created",
    "regenerated",
    "paused",
    "resumed",
    "deleted",
    "exposed",
    "dead_token_used",
]


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
        elif kind == "paused":
            services.api_token_pause(token=token, actor=owner, client=EVIL)
        elif kind == "resumed":
            services.api_token_pause(token=token, actor=owner)
            services.api_token_resume(token=token, actor=owner, client=EVIL)
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


T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


CLIENT = ClientInfo(ip="203.0.113.7", user_agent="curl/8.5")


def body(message) -> str:
    """The plain-text part with whitespace collapsed, so wording survives line wrapping."""
    return " ".join(message.body.split())


def html(message) -> str:
    (content, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return content


@pytest.mark.django_db(transaction=True)
# --- Created / regenerated / deleted --------------------------------------------------------


def test_creating_a_token_emails_the_owner(user, mailoutbox):
    token, raw = create_token(user, "Production Website Integration", client=CLIENT, now=T0)

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["ada@example.com"]
    assert message.subject == "[QuickBot] API token “Production Website Integration” created"
    text = body(message)
    assert "Hello Ada Lovelace" in text
    assert "was created" in text
    assert "1 May 2026, 12:00" in text
    assert "203.0.113.7" in text
    assert "curl/8.5" in text
    assert token.identifier in text
    assert "If this wasn't you" in text
    assert f"http://127.0.0.1:8000/account/tokens/{token.public_id}/" in text
    assert f"/account/tokens/{token.public_id}/" in html(message)
    assert raw not in text
    assert raw not in html(message)


@pytest.mark.django_db(transaction=True)
def test_site_url_setting_builds_the_links(user, mailoutbox, settings):
    settings.QUICKBOT_SITE_URL = "https://portal.quickbot.example/"
    token, _ = create_token(user, client=CLIENT, now=T0)
    assert f"https://portal.quickbot.example/account/tokens/{token.public_id}/" in body(
        mailoutbox[0]
    )


@pytest.mark.django_db(transaction=True)
def test_a_failed_create_sends_nothing(user, mailoutbox):
    create_token(user, "Mobile App Backend", now=T0)
    mailoutbox.clear()
    with pytest.raises(TokenNameTaken):
        create_token(user, "mobile app backend", now=T0)
    assert mailoutbox == []


@pytest.mark.django_db(transaction=True)
def test_no_email_when_the_surrounding_transaction_rolls_back(user, mailoutbox):
    with pytest.raises(RuntimeError), transaction.atomic():
        create_token(user, now=T0)
        raise RuntimeError("the view failed after the service")
    assert mailoutbox == []
    assert not APIToken.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_html_email_escapes_the_token_name_and_text_email_keeps_it(user, mailoutbox):
    create_token(user, '<b>Billing</b> & "sync"', now=T0)
    message = mailoutbox[0]
    assert "&lt;b&gt;Billing&lt;/b&gt; &amp;" in html(message)
    assert "<b>Billing</b>" not in html(message)
    assert '“<b>Billing</b> & "sync"”' in body(message)


@pytest.mark.django_db(transaction=True)
def test_regenerating_emails_the_owner_with_the_overlap_end(user, mailoutbox):
    token, _ = create_token(user, now=T0)
    old_identifier = token.identifier
    mailoutbox.clear()
    _, new_raw = services.api_token_regenerate(
        token=token, actor=user, overlap=timedelta(hours=24), client=CLIENT, now=T0
    )
    (message,) = mailoutbox
    assert "regenerated" in message.subject
    assert f"previous value ({old_identifier}) keeps working until 2 May 2026, 12:00" in body(
        message
    )
    assert token.identifier in body(message)
    assert "203.0.113.7" in body(message)
    assert new_raw not in body(message)
    assert new_raw not in html(message)


@pytest.mark.django_db(transaction=True)
def test_regenerating_with_no_overlap_says_the_old_value_stopped(user, mailoutbox):
    token, _ = create_token(user, now=T0)
    old_identifier = token.identifier
    mailoutbox.clear()
    services.api_token_regenerate(token=token, actor=user, overlap=timedelta(0), now=T0)
    assert f"previous value ({old_identifier}) stopped working at once" in body(mailoutbox[0])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("reason", "wording"),
    [
        (APIToken.RevokedBy.OWNER, "deleted by you"),
        (APIToken.RevokedBy.STAFF, "deleted by a QuickBot staff member"),
        (APIToken.RevokedBy.SELF, "deleted by the token itself, through the API"),
    ],
)
def test_deleting_emails_the_owner_saying_who_did_it(user, mailoutbox, reason, wording):
    token, _ = create_token(user, "CI runner", now=T0)
    mailoutbox.clear()
    actor = UserFactory(is_staff=True) if reason == APIToken.RevokedBy.STAFF else user
    if reason == APIToken.RevokedBy.SELF:
        actor = None
    assert services.api_token_revoke(token=token, actor=actor, reason=reason, client=CLIENT, now=T0)
    (message,) = mailoutbox
    assert message.subject == "[QuickBot] API token “CI runner” deleted"
    assert wording in body(message)
    assert "203.0.113.7" in body(message)
    # A deleted token has no page of its own any more: link to the list.
    assert "at http://127.0.0.1:8000/account/tokens/ and" in body(message)
    assert token.public_id not in body(message)


@pytest.mark.django_db(transaction=True)
def test_deleting_twice_emails_once(user, mailoutbox):
    token, _ = create_token(user, now=T0)
    mailoutbox.clear()
    services.api_token_revoke(token=token, actor=user, now=T0)
    services.api_token_revoke(token=token, actor=user, now=T0)
    assert len(mailoutbox) == 1


@pytest.mark.django_db(transaction=True)
# --- Mail failures never break the action ----------------------------------------------------


def test_mail_failure_is_logged_and_the_action_still_succeeds(user, mailoutbox, settings, caplog):
    settings.MAILERS = {
        "default": {"BACKEND": "tests.apitokens.notifications.backends.ExplodingBackend"}
    }
    with caplog.at_level(logging.ERROR, logger="apitokens.notifications"):
        token, raw = create_token(user, now=T0)
        regenerated, new_raw = services.api_token_regenerate(
            token=token, actor=user, overlap=timedelta(0), now=T0
        )
        assert services.api_token_revoke(token=token, actor=user, now=T0)

    assert APIToken.objects.get(pk=token.pk).revoked_at == T0
    failures = [record for record in caplog.records if "Could not send" in record.getMessage()]
    assert [record.getMessage() for record in failures] == [
        "Could not send the created email",
        "Could not send the regenerated email",
        "Could not send the deleted email",
    ]
    assert all(record.exc_info for record in failures)
    assert raw not in caplog.text
    assert new_raw not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_template_failure_is_logged_and_the_action_still_succeeds(user, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ValueError("template missing")

    monkeypatch.setattr(events, "render_to_string", broken)
    with caplog.at_level(logging.ERROR, logger="apitokens.notifications"):
        token, _ = create_token(user, now=T0)
    assert APIToken.objects.filter(pk=token.pk).exists()
    assert "Could not build the created email" in caplog.text


@pytest.mark.django_db(transaction=True)
# --- Dead token used -----------------------------------------------------------------------


def test_using_a_deleted_token_emails_the_owner_once_per_day(user, mailoutbox):
    token, _ = create_token(user, "CI runner", now=T0)
    services.api_token_revoke(token=token, actor=user, now=T0)
    mailoutbox.clear()

    later = T0 + timedelta(hours=2)
    assert notifications.notify_dead_token_used(token=token, client=CLIENT, now=later)
    assert not notifications.notify_dead_token_used(token=token, client=CLIENT, now=later)
    assert not notifications.notify_dead_token_used(
        token=token, client=CLIENT, now=later + timedelta(hours=9)
    )
    (message,) = mailoutbox
    assert message.subject == "[QuickBot] Someone used your old API token “CI runner”"
    text = body(message)
    assert "used the deleted token “CI runner”" in text
    assert "1 May 2026, 14:00" in text
    assert "203.0.113.7" in text
    assert "If you don't recognise the IP address" in text

    next_day = T0 + timedelta(days=1)
    assert notifications.notify_dead_token_used(token=token, client=CLIENT, now=next_day)
    assert len(mailoutbox) == 2


@pytest.mark.django_db(transaction=True)
def test_the_daily_limit_is_per_token(user, mailoutbox):
    first, _ = create_token(user, now=T0)
    second, _ = create_token(user, now=T0)
    for token in (first, second):
        services.api_token_revoke(token=token, actor=user, now=T0)
    mailoutbox.clear()
    for token in (first, second):
        notifications.notify_dead_token_used(token=token, client=CLIENT, now=T0)
    assert len(mailoutbox) == 2


@pytest.mark.django_db(transaction=True)
def test_using_an_expired_token_says_expired(user, mailoutbox):
    token, _ = create_token(user, expires_at=T0, lifetime_days=7, now=T0 - timedelta(days=7))
    mailoutbox.clear()
    notifications.notify_dead_token_used(token=token, client=CLIENT, now=T0)
    assert "used the expired token" in body(mailoutbox[0])


@pytest.mark.django_db(transaction=True)
def test_using_a_replaced_value_after_its_overlap_says_so(user, mailoutbox):
    token, _ = create_token(user, now=T0)
    mailoutbox.clear()
    notifications.notify_dead_token_used(
        token=token, client=CLIENT, now=T0, used_previous_value=True
    )
    assert "a replaced value of the token, after it stopped working," in body(mailoutbox[0])


@pytest.mark.django_db(transaction=True)
def test_dead_token_email_is_skipped_when_the_cache_is_down(user, mailoutbox, monkeypatch, caplog):
    token, _ = create_token(user, now=T0)
    mailoutbox.clear()

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(events.cache, "add", down)
    with caplog.at_level(logging.ERROR, logger="apitokens.notifications"):
        assert not notifications.notify_dead_token_used(token=token, client=CLIENT, now=T0)
    assert mailoutbox == []
    assert "Cache unavailable" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_unknown_ip_is_shown_as_unknown(user, mailoutbox):
    create_token(user, now=T0)
    assert "IP address: unknown" in body(mailoutbox[0])


@pytest.mark.django_db(transaction=True)
def test_a_replaced_value_of_a_deleted_token_is_reported_as_the_deleted_token(user, mailoutbox):
    token, _ = create_token(user, now=T0)
    services.api_token_revoke(token=token, actor=user, now=T0)
    mailoutbox.clear()
    notifications.notify_dead_token_used(
        token=token, client=CLIENT, now=T0, used_previous_value=True
    )
    assert "used the deleted token" in body(mailoutbox[0])
