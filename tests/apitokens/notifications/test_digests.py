"""The stale-token digest (apitokens/notifications/digests.py): once a week per owner, active
accounts only, retried after a failure."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.accounts.factories import UserFactory
from tests.apitokens.stale_tokens import NOW, STALE, make


@pytest.fixture
def tokens(stale_rule_tokens):
    return stale_rule_tokens


# --- The weekly digest -------------------------------------------------------------------


def run_digest(now):
    out = StringIO()
    call_command("send_stale_token_digest", "--now", now.isoformat(), stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_digest_lists_an_owners_stale_tokens_once_a_week(tokens, user, mailoutbox):
    mailoutbox.clear()
    assert "Sent 1 stale-token digest." in run_digest(NOW)
    [message] = mailoutbox
    assert message.to == [user.email]
    assert message.subject == "[QuickBot] 2 API tokens you don't use are still active"
    for key in STALE:
        assert tokens[key].name in message.body and tokens[key].identifier in message.body
    assert tokens["fresh"].name not in message.body
    assert f"/account/tokens/{tokens['old_use'].public_id}/delete/" in message.body
    assert tokens["old_use"].identifier in message.alternatives[0].content
    # Idempotent: the same week sends nothing more, a week later it goes again.
    assert "Sent 0 stale-token digests." in run_digest(NOW)
    assert "Sent 0 stale-token digests." in run_digest(NOW + timedelta(hours=20))
    assert len(mailoutbox) == 1
    assert "Sent 1 stale-token digest." in run_digest(NOW + timedelta(days=7))
    assert len(mailoutbox) == 2


@pytest.mark.django_db
def test_digest_goes_to_each_owner_and_skips_inactive_accounts(user, mailoutbox):
    make(user, "Mine", created_days_ago=30)
    other = UserFactory(email="grace@example.com")
    make(other, "Hers", created_days_ago=30)
    gone = UserFactory(email="gone@example.com", is_active=False)
    make(gone, "Gone", created_days_ago=30)
    mailoutbox.clear()
    run_digest(NOW)
    assert sorted(message.to[0] for message in mailoutbox) == [
        "ada@example.com",
        "grace@example.com",
    ]


@pytest.mark.django_db
def test_a_failed_digest_is_retried_next_run(user, settings, mailoutbox):
    make(user, "Mine", created_days_ago=30)
    mailoutbox.clear()
    settings.MAILERS = {
        "default": {"BACKEND": "tests.apitokens.notifications.backends.ExplodingBackend"}
    }
    with pytest.raises(CommandError, match="1 stale-token digest could not be sent"):
        run_digest(NOW)
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    assert "Sent 1 stale-token digest." in run_digest(NOW + timedelta(hours=1))


# --- Right-sizing suggestions in the digest ------------------------------------------------


@pytest.mark.django_db
def test_digest_carries_the_other_tokens_suggestions_and_respects_dismissals(user, mailoutbox):
    from apitokens.models import TokenSuggestionDismissal
    from tests.apitokens.activity_factories import add_activity

    make(user, "Old import", created_days_ago=100, used_days_ago=70)
    dismissed = make(user, "Kept on purpose", created_days_ago=100, used_days_ago=70)
    TokenSuggestionDismissal.objects.create(
        token=dismissed, kind=TokenSuggestionDismissal.Kind.DELETE
    )
    busy = make(user, "Report export", created_days_ago=100, scopes=("read", "write"))
    add_activity(busy, at=NOW - timedelta(days=2), ip="198.51.100.4")
    busy.last_used_at = NOW - timedelta(days=2)
    busy.save(update_fields=["last_used_at"])
    mailoutbox.clear()
    run_digest(NOW)
    [message] = mailoutbox
    assert "Old import" in message.body
    assert "Kept on purpose" not in message.body
    assert "Report export" in message.body
    assert "No write requests in 30 days — make it read-only" in message.body
    assert "allow only it (198.51.100.4)" in message.body
    assert f"/account/tokens/{busy.public_id}/" in message.alternatives[0].content
