"""Expiry reminders (apitokens/notifications/reminders.py): 7 days and 1 day before, each sent once,
claimed before sending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apitokens import notifications, services
from apitokens.models import APIToken
from apitokens.notifications import sending
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
EXPIRES = T0 + timedelta(days=30)


def run(now: datetime) -> str:
    out = StringIO()
    call_command("send_token_expiry_reminders", now=now.isoformat(), stdout=out)
    return out.getvalue()


@pytest.fixture
def token(user, mailoutbox):
    token, _ = create_token(user, "Nightly backup", expires_at=EXPIRES, lifetime_days=30, now=T0)
    mailoutbox.clear()
    return token


def reminders_sent(token) -> str:
    return APIToken.objects.get(pk=token.pk).reminders_sent


def test_nothing_is_sent_before_the_seven_day_window(token, mailoutbox):
    assert run(EXPIRES - timedelta(days=7, seconds=1)) == "Sent 0 expiry reminders.\n"
    assert mailoutbox == []


def test_seven_day_reminder_names_the_token_and_links_to_its_page(token, mailoutbox):
    assert run(EXPIRES - timedelta(days=7)) == "Sent 1 expiry reminder.\n"
    (message,) = mailoutbox
    assert message.to == ["ada@example.com"]
    assert message.subject == "[QuickBot] API token “Nightly backup” expires in 7 days"
    text = " ".join(message.body.split())
    assert "“Nightly backup”" in text
    assert token.identifier in text
    assert "31 May 2026, 12:00" in text
    assert f"http://127.0.0.1:8000/account/tokens/{token.public_id}/" in text
    (html, _), *_ = message.alternatives
    assert f"http://127.0.0.1:8000/account/tokens/{token.public_id}/" in html
    assert reminders_sent(token) == "7d"


def test_each_reminder_is_sent_once_across_hourly_runs(token, mailoutbox):
    moment = EXPIRES - timedelta(days=8)
    while moment < EXPIRES + timedelta(days=1):
        run(moment)
        moment += timedelta(hours=1)
    subjects = [message.subject for message in mailoutbox]
    assert subjects == [
        "[QuickBot] API token “Nightly backup” expires in 7 days",
        "[QuickBot] API token “Nightly backup” expires within 24 hours",
    ]
    assert reminders_sent(token) == "1d 7d"


def test_running_twice_at_the_same_time_sends_once(token, mailoutbox):
    run(EXPIRES - timedelta(days=1))
    run(EXPIRES - timedelta(days=1))
    assert len(mailoutbox) == 1


def test_a_missed_seven_day_window_sends_only_the_one_day_reminder(token, mailoutbox):
    run(EXPIRES - timedelta(hours=12))
    run(EXPIRES - timedelta(hours=11))
    (message,) = mailoutbox
    assert "within 24 hours" in message.subject
    assert reminders_sent(token) == "1d 7d"


def test_a_seven_day_token_gets_no_seven_day_reminder_right_after_creation(user, mailoutbox):
    token, _ = create_token(user, expires_at=T0 + timedelta(days=7), lifetime_days=7, now=T0)
    mailoutbox.clear()
    run(T0 + timedelta(minutes=30))
    assert mailoutbox == []
    run(T0 + timedelta(days=6))
    assert ["within 24 hours" in message.subject for message in mailoutbox] == [True]


@pytest.mark.parametrize("state", ["deleted", "expired", "no_expiry", "inactive_owner"])
def test_no_reminder_for_tokens_that_cannot_expire_soon(user, mailoutbox, state):
    expires_at = None if state == "no_expiry" else EXPIRES
    token, _ = create_token(user, expires_at=expires_at, now=T0)
    moment = EXPIRES - timedelta(hours=6)
    if state == "deleted":
        services.api_token_revoke(token=token, actor=user, now=T0)
    elif state == "expired":
        moment = EXPIRES
    elif state == "inactive_owner":
        user.is_active = False
        user.save(update_fields=["is_active"])
    mailoutbox.clear()
    assert run(moment) == "Sent 0 expiry reminders.\n"
    assert mailoutbox == []


def test_regenerating_restarts_the_reminders_for_the_new_expiry(token, user, mailoutbox):
    run(EXPIRES - timedelta(days=7))
    regenerated_at = EXPIRES - timedelta(days=6)
    services.api_token_regenerate(token=token, actor=user, overlap=timedelta(0), now=regenerated_at)
    mailoutbox.clear()
    new_expiry = regenerated_at + timedelta(days=30)
    run(EXPIRES - timedelta(hours=1))
    assert mailoutbox == []
    run(new_expiry - timedelta(days=7))
    assert len(mailoutbox) == 1
    assert "expires in 7 days" in mailoutbox[0].subject


def test_a_failed_mail_is_not_marked_sent_and_is_retried(token, mailoutbox, settings, caplog):
    settings.MAILERS = {
        "default": {"BACKEND": "tests.apitokens.notifications.backends.ExplodingBackend"}
    }
    with pytest.raises(CommandError, match="1 expiry reminder could not be sent"):
        run(EXPIRES - timedelta(days=7))
    assert reminders_sent(token) == ""
    assert "Could not send the expiry_reminder email" in caplog.text

    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    assert run(EXPIRES - timedelta(days=6, hours=23)) == "Sent 1 expiry reminder.\n"
    assert reminders_sent(token) == "7d"


def test_a_reminder_is_claimed_before_it_is_sent(token, mailoutbox, monkeypatch):
    """A second run that starts while the first is still sending finds nothing to do."""
    inner_runs = []
    real_send_now = notifications.send_now

    def send_now_with_a_concurrent_run(message, *, kind):
        inner_runs.append(notifications.send_expiry_reminders(now=EXPIRES - timedelta(days=7)))
        return real_send_now(message, kind=kind)

    monkeypatch.setattr(sending, "send_now", send_now_with_a_concurrent_run)
    run(EXPIRES - timedelta(days=7))
    assert inner_runs == [notifications.ReminderRun(sent=0, failed=0)]
    assert len(mailoutbox) == 1


def test_the_function_takes_the_time_as_an_argument(token, mailoutbox):
    assert notifications.send_expiry_reminders(now=EXPIRES - timedelta(days=3)) == (
        notifications.ReminderRun(sent=1, failed=0)
    )


def test_naive_now_is_read_in_the_site_time_zone(token, mailoutbox):
    out = StringIO()
    naive = (EXPIRES - timedelta(days=7)).replace(tzinfo=None).isoformat()
    call_command("send_token_expiry_reminders", now=naive, stdout=out)
    assert out.getvalue() == "Sent 1 expiry reminder.\n"


def test_invalid_now_is_refused(token):
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("send_token_expiry_reminders", now="next tuesday", stdout=StringIO())


def test_without_now_the_current_time_is_used(user, mailoutbox):
    create_token(user, expires_at=datetime.now(UTC) + timedelta(days=3), now=T0)
    mailoutbox.clear()
    out = StringIO()
    call_command("send_token_expiry_reminders", stdout=out)
    assert out.getvalue() == "Sent 1 expiry reminder.\n"
