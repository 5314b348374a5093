"""Stale tokens: the rule, the owner's page, the weekly digest command and the admin filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from apitokens import selectors, services, stale
from apitokens.models import APIToken
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def make(user, name, *, created_days_ago, used_days_ago=None, **kwargs):
    token, _ = create_token(user, name, now=NOW - timedelta(days=created_days_ago), **kwargs)
    if used_days_ago is not None:
        token.last_used_at = NOW - timedelta(days=used_days_ago)
        token.save(update_fields=["last_used_at"])
    return token


@pytest.fixture
def tokens(user):
    return {
        "fresh": make(user, "Fresh", created_days_ago=100, used_days_ago=1),
        "old_use": make(user, "Old use", created_days_ago=100, used_days_ago=60),
        "almost": make(user, "Almost", created_days_ago=100, used_days_ago=59),
        "never_new": make(user, "Never new", created_days_ago=6),
        "never_week": make(user, "Never week", created_days_ago=7),
        "expired": make(user, "Expired", created_days_ago=100, expires_at=NOW - timedelta(days=1)),
    }


STALE = {"old_use", "never_week"}


@pytest.mark.django_db
def test_rule_default_is_60_days_or_never_used_after_7(settings, tokens):
    assert stale.stale_after_days() == 60
    assert {key for key, token in tokens.items() if stale.is_stale(token, NOW)} == STALE


@pytest.mark.django_db
def test_selector_and_one_token_rule_agree(tokens, user, other_user):
    make(other_user, "Theirs", created_days_ago=30)
    found = set(selectors.stale_tokens(now=NOW, owner=user).values_list("pk", flat=True))
    assert found == {tokens[key].pk for key in STALE}
    assert selectors.stale_tokens(now=NOW).count() == 3


@pytest.mark.django_db
def test_setting_changes_the_rule_and_zero_turns_it_off(settings, tokens):
    settings.QUICKBOT_STALE_TOKEN_DAYS = 30
    assert stale.is_stale(tokens["almost"], NOW)
    settings.QUICKBOT_STALE_TOKEN_DAYS = 0
    assert not any(stale.is_stale(token, NOW) for token in tokens.values())
    assert not selectors.stale_tokens(now=NOW).exists()


@pytest.mark.django_db
def test_deleted_tokens_are_never_stale(user, tokens):
    services.api_token_revoke(token=tokens["old_use"], actor=user)
    assert not stale.is_stale(tokens["old_use"], NOW)
    assert tokens["old_use"].pk not in set(
        selectors.stale_tokens(now=NOW).values_list("pk", flat=True)
    )


# --- The owner's page ------------------------------------------------------------------


@pytest.mark.django_db
def test_token_page_marks_stale_tokens_with_a_delete_button(user_client, user):
    recent, _ = create_token(user, "Recent")
    unused, _ = create_token(user, "Forgotten")
    APIToken.objects.filter(pk=unused.pk).update(
        created_at=unused.created_at - timedelta(days=200),
        last_used_at=unused.created_at - timedelta(days=90),
    )
    page = user_client.get(reverse("apitokens:list")).content.decode()
    assert 'id="stale-notice"' in page
    assert "One token has not been used for 60 days" in page
    row = page.split(f'id="token-{unused.public_id}"')[1].split("</tr>")[0]
    assert f'id="token-{unused.public_id}" class="token-row is-stale"' in page
    assert ">Unused</span>" in row
    delete_url = reverse("apitokens:delete", args=[unused.public_id])
    assert f'hx-get="{delete_url}"' in row
    assert 'aria-label="Delete unused token Forgotten"' in row
    recent_row = page.split(f'id="token-{recent.public_id}"')[1].split("</tr>")[0]
    assert "Unused" not in recent_row


@pytest.mark.django_db
def test_token_page_without_stale_tokens_shows_no_notice(user_client, user):
    create_token(user, "Brand new")
    page = user_client.get(reverse("apitokens:list")).content.decode()
    assert "stale-notice" not in page and ">Unused</span>" not in page


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
        "default": {"BACKEND": "tests.apitokens.test_notifications.ExplodingBackend"}
    }
    with pytest.raises(CommandError, match="1 stale-token digest could not be sent"):
        run_digest(NOW)
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    assert "Sent 1 stale-token digest." in run_digest(NOW + timedelta(hours=1))


@pytest.mark.django_db
def test_digest_command_refuses_a_bad_now():
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("send_stale_token_digest", "--now", "yesterday")


# --- Admin ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_token_list_filters_stale_tokens(client, user):
    fresh, _ = create_token(user, "Fresh admin")
    old, _ = create_token(user, "Old admin")
    APIToken.objects.filter(pk=old.pk).update(created_at=old.created_at - timedelta(days=30))
    client.force_login(UserFactory(email="root@example.com", is_staff=True, is_superuser=True))
    url = reverse("admin:apitokens_apitoken_changelist")
    page = client.get(url).content.decode()
    assert "?stale=yes" in page
    filtered = client.get(url + "?stale=yes").content.decode()
    assert "Old admin" in filtered
    assert fresh.name not in filtered
