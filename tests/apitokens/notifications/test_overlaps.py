"""The overlap warning (apitokens/notifications/overlaps.py, `send_overlap_warnings`): an hour
before any overlap ends, if the old value was used in the last hour, once per overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apitokens import expiry, services
from apitokens.models import APIToken
from apitokens.notifications import sending
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def run(now: datetime) -> str:
    out = StringIO()
    call_command("send_overlap_warnings", now=now.isoformat(), stdout=out)
    return out.getvalue()


@pytest.fixture
def token(user, mailoutbox):
    token, _ = create_token(user, "Nightly <b>backup</b>", now=T0 - timedelta(days=3))
    token, _ = services.api_token_regenerate(
        token=token, actor=user, overlap=timedelta(hours=24), now=T0
    )
    mailoutbox.clear()
    return token


END = T0 + timedelta(hours=24)


def test_warning_names_each_caller_of_the_last_hour(token, mailoutbox):
    add_activity(token, count=3, at=END - timedelta(minutes=50), used_previous_value=True)
    add_activity(
        token,
        at=END - timedelta(minutes=20),
        ip="2001:db8::7",
        user_agent=FIREFOX,
        used_previous_value=True,
    )
    add_activity(  # used earlier, not in the last hour: not named
        token, at=END - timedelta(hours=5), ip="192.0.2.55", used_previous_value=True
    )
    assert run(END - timedelta(minutes=10)) == "Sent 1 overlap warning.\n"
    [message] = mailoutbox
    assert message.to == [token.owner.email]
    assert "stops within the hour" in message.subject
    assert "198.51.100.10, curl: 3 requests" in message.body
    assert "2001:db8::7, Firefox on Linux: 1 request," in message.body
    assert "192.0.2.55" not in message.body
    assert "<b>" not in message.alternatives[0].content  # the token's name is escaped
    assert APIToken.objects.get(pk=token.pk).overlap_warning_sent_at is not None


def test_warning_is_sent_once_per_overlap(token, mailoutbox, user):
    add_activity(token, at=END - timedelta(minutes=30), used_previous_value=True)
    run(END - timedelta(minutes=25))
    add_activity(token, at=END - timedelta(minutes=10), used_previous_value=True)
    assert run(END - timedelta(minutes=5)) == "Sent 0 overlap warnings.\n"
    assert len(mailoutbox) == 1
    # A new regenerate is a new overlap: it may be warned about again.
    token, _ = services.api_token_regenerate(
        token=token, actor=user, overlap=timedelta(hours=1), now=END - timedelta(minutes=4)
    )
    add_activity(token, at=END - timedelta(minutes=3), used_previous_value=True)
    assert run(END - timedelta(minutes=2)) == "Sent 1 overlap warning.\n"


def test_no_warning_when_the_old_value_was_quiet_or_the_end_is_far(token, mailoutbox):
    add_activity(token, at=END - timedelta(hours=3), used_previous_value=True)
    add_activity(token, count=5, at=END - timedelta(minutes=30))  # the new value only
    assert run(END - timedelta(minutes=10)) == "Sent 0 overlap warnings.\n"
    add_activity(token, at=END - timedelta(hours=2), used_previous_value=True)
    assert run(END - timedelta(hours=1, minutes=30)) == "Sent 0 overlap warnings.\n"
    assert run(END + timedelta(minutes=1)) == "Sent 0 overlap warnings.\n"  # already over
    assert mailoutbox == []


def test_no_warning_for_an_ended_overlap_or_a_deleted_token(token, mailoutbox, user):
    add_activity(token, at=END - timedelta(minutes=30), used_previous_value=True)
    services.api_token_overlap_end(token=token, actor=user, now=END - timedelta(minutes=20))
    assert run(END - timedelta(minutes=10)) == "Sent 0 overlap warnings.\n"
    other, _ = create_token(user, "Other", now=T0)
    other, _ = services.api_token_regenerate(
        token=other, actor=user, overlap=timedelta(hours=24), now=T0
    )
    add_activity(other, at=END - timedelta(minutes=30), used_previous_value=True)
    services.api_token_revoke(token=other, actor=user)
    assert run(END - timedelta(minutes=10)) == "Sent 0 overlap warnings.\n"


def test_a_quiet_overlap_is_warned_about_near_its_seven_day_end(user, mailoutbox):
    token, _ = create_token(user, "Steady client", now=T0 - timedelta(days=1))
    token, _ = services.api_token_regenerate(
        token=token, actor=user, overlap=expiry.QUIET_OVERLAP_MAX, until_quiet=True, now=T0
    )
    hard_end = T0 + expiry.QUIET_OVERLAP_MAX
    APIToken.objects.filter(pk=token.pk).update(previous_expires_at=hard_end)  # kept in use
    add_activity(token, at=hard_end - timedelta(minutes=40), used_previous_value=True)
    mailoutbox.clear()
    assert run(hard_end - timedelta(minutes=30)) == "Sent 1 overlap warning.\n"


def test_a_failed_send_is_released_and_retried(token, mailoutbox, monkeypatch):
    add_activity(token, at=END - timedelta(minutes=30), used_previous_value=True)
    monkeypatch.setattr(sending, "send_now", lambda message, kind: False)
    with pytest.raises(CommandError):
        run(END - timedelta(minutes=20))
    assert APIToken.objects.get(pk=token.pk).overlap_warning_sent_at is None
    monkeypatch.undo()
    assert run(END - timedelta(minutes=15)) == "Sent 1 overlap warning.\n"
