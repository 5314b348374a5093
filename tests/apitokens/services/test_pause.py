"""Pausing and resuming a token (apitokens/services/pause.py): one security-log row and one
email per real change, nothing else about the token changes, twice is harmless."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apitokens import services
from apitokens.models import APIToken, SecurityEvent
from apitokens.services import ClientInfo
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
CLIENT = ClientInfo(ip="203.0.113.7", user_agent="pytest")


def _columns(token: APIToken) -> dict:
    row = APIToken.objects.filter(pk=token.pk).values().get()
    return {name: value for name, value in row.items() if name not in ("paused_at", "paused_by_id")}


def _events(kind: str) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(kind=kind))


def test_pause_sets_who_and_when_and_logs_it_changing_nothing_else(user, mailoutbox):
    token, _raw = create_token(
        user, "CI runner", scopes=("read", "write"), allowed_ips="203.0.113.7"
    )
    before = _columns(token)
    mailoutbox.clear()

    assert services.api_token_pause(token=token, actor=user, client=CLIENT, now=T0) is True

    stored = APIToken.objects.get(pk=token.pk)
    assert stored.paused_at == T0
    assert stored.paused_by == user
    assert stored.is_paused and token.is_paused
    assert _columns(token) == before
    [event] = _events(SecurityEvent.Kind.PAUSED)
    assert event.actor == user
    assert event.actor_kind == SecurityEvent.Actor.USER
    assert event.ip == "203.0.113.7"
    assert event.token == token
    [message] = mailoutbox
    assert message.subject == "[QuickBot] API token “CI runner” paused"
    assert "paused by you (or someone signed in to your account)" in message.body
    assert "401 token_paused" in message.body
    assert f"/account/tokens/{token.public_id}/" in message.body


def test_resume_clears_the_pause_and_logs_it(user, mailoutbox):
    token, _raw = create_token(user, "CI runner")
    services.api_token_pause(token=token, actor=user, now=T0)
    before = _columns(token)
    mailoutbox.clear()

    assert services.api_token_resume(token=token, actor=user, client=CLIENT) is True

    stored = APIToken.objects.get(pk=token.pk)
    assert stored.paused_at is None and stored.paused_by is None
    assert not token.is_paused
    assert _columns(token) == before
    [event] = _events(SecurityEvent.Kind.RESUMED)
    assert event.actor_kind == SecurityEvent.Actor.USER
    [message] = mailoutbox
    assert message.subject == "[QuickBot] API token “CI runner” resumed"
    assert "resumed by you" in message.body


def test_pausing_twice_or_resuming_an_active_token_changes_and_logs_nothing(user, mailoutbox):
    token, _raw = create_token(user)
    mailoutbox.clear()

    assert services.api_token_resume(token=token, actor=user) is False
    assert services.api_token_pause(token=token, actor=user, now=T0) is True
    assert services.api_token_pause(token=token, actor=user, now=T0 + timedelta(hours=1)) is False
    assert services.api_token_resume(token=token, actor=user) is True
    assert services.api_token_resume(token=token, actor=user) is False

    assert len(_events(SecurityEvent.Kind.PAUSED)) == 1
    assert len(_events(SecurityEvent.Kind.RESUMED)) == 1
    assert len(mailoutbox) == 2


def test_a_second_tab_pausing_with_a_stale_copy_changes_nothing(user):
    token, _raw = create_token(user)
    stale_copy = APIToken.objects.get(pk=token.pk)
    services.api_token_pause(token=token, actor=user, now=T0)

    assert services.api_token_pause(token=stale_copy, actor=user) is False
    assert APIToken.objects.get(pk=token.pk).paused_at == T0


def test_a_deleted_token_is_neither_paused_nor_resumed(user, mailoutbox):
    token, _raw = create_token(user)
    paused, _raw = create_token(user)
    services.api_token_pause(token=paused, actor=user)
    services.api_token_revoke(token=token, actor=user)
    services.api_token_revoke(token=paused, actor=user)
    mailoutbox.clear()

    assert services.api_token_pause(token=token, actor=user) is False
    assert services.api_token_resume(token=paused, actor=user) is False

    assert APIToken.objects.get(pk=token.pk).paused_at is None
    assert APIToken.objects.get(pk=paused.pk).paused_at is not None
    assert len(_events(SecurityEvent.Kind.PAUSED)) == 1
    assert not _events(SecurityEvent.Kind.RESUMED)
    assert mailoutbox == []


def test_staff_pausing_is_logged_as_staff_and_the_email_says_so(user, mailoutbox):
    token, _raw = create_token(user, "CI runner")
    staff = UserFactory(is_staff=True)
    mailoutbox.clear()

    services.api_token_pause(token=token, actor=staff)
    services.api_token_resume(token=token, actor=staff)

    kinds = {event.kind: event for event in SecurityEvent.objects.filter(token=token)}
    assert kinds[SecurityEvent.Kind.PAUSED].actor_kind == SecurityEvent.Actor.STAFF
    assert kinds[SecurityEvent.Kind.RESUMED].actor == staff
    paused, resumed = mailoutbox
    assert "paused by a QuickBot staff member" in paused.body
    assert "resumed by a QuickBot staff member" in resumed.body
    assert paused.to == [user.email]


def test_the_pause_email_escapes_the_token_name_in_html(user, mailoutbox):
    token, _raw = create_token(user, "<b>Backup</b>")
    mailoutbox.clear()

    services.api_token_pause(token=token, actor=user)

    [message] = mailoutbox
    html = message.alternatives[0].content
    assert "<b>Backup</b>" not in html
    assert "&lt;b&gt;Backup&lt;/b&gt;" in html


def test_the_owner_cannot_resume_a_token_staff_paused(user, mailoutbox):
    token, _raw = create_token(user, "CI runner")
    services.api_token_pause(token=token, actor=UserFactory(is_staff=True))
    mailoutbox.clear()

    with pytest.raises(services.ResumeNeedsStaff):
        services.api_token_resume(token=token, actor=user)

    assert APIToken.objects.get(pk=token.pk).paused_at is not None
    assert not _events(SecurityEvent.Kind.RESUMED)
    assert mailoutbox == []


def test_staff_resume_a_staff_pause_and_the_owner_their_own(user):
    held, _raw = create_token(user, "Held by staff")
    own, _raw = create_token(user, "Paused by its owner")
    staff = UserFactory(is_staff=True)
    services.api_token_pause(token=held, actor=staff)
    services.api_token_pause(token=own, actor=user)

    assert services.api_token_resume(token=held, actor=staff)
    assert services.api_token_resume(token=own, actor=user)
    assert not APIToken.objects.filter(paused_at__isnull=False).exists()


def test_a_staff_pause_that_lands_first_is_not_undone_by_the_owner(user):
    """The owner's page still showed their own pause; staff paused in between (as the
    guarded UPDATE sees it): the owner's resume changes nothing."""
    token, _raw = create_token(user, "Raced")
    staff = UserFactory(is_staff=True)
    services.api_token_pause(token=token, actor=user)
    stale = APIToken.objects.get(pk=token.pk)  # what the owner's request loaded
    APIToken.objects.filter(pk=token.pk).update(paused_by=staff)

    with pytest.raises(services.ResumeNeedsStaff):
        services.api_token_resume(token=stale, actor=user)
    assert APIToken.objects.get(pk=token.pk).paused_by == staff


def test_the_staff_pause_email_says_only_staff_resume_it(user, mailoutbox):
    token, _raw = create_token(user, "CI runner")
    mailoutbox.clear()

    services.api_token_pause(token=token, actor=UserFactory(is_staff=True))

    [message] = mailoutbox
    assert "Only QuickBot staff can resume it" in " ".join(message.body.split())
    html = message.alternatives[0][0]
    assert "Only QuickBot staff can resume it" in html
    assert "Resume it on its page" not in html


def test_a_staff_member_resumes_their_own_token_another_staff_member_paused(db):
    owner = UserFactory(is_staff=True)
    token, _raw = create_token(owner, "Held by a colleague")
    services.api_token_pause(token=token, actor=UserFactory(is_staff=True))

    assert services.api_token_resume(token=token, actor=owner)
    assert APIToken.objects.get(pk=token.pk).paused_at is None
