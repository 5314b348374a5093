"""Suggestions acted on (apitokens/services/suggestions.py): applied through the edit
services after a re-check, or dismissed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apitokens.models import SecurityEvent, TokenSuggestionDismissal
from apitokens.services.suggestions import (
    SuggestionOutdated,
    api_token_delete_suggestion_check,
    api_token_suggestion_apply,
    token_suggestion_dismiss,
)
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
Kind = TokenSuggestionDismissal.Kind


@pytest.fixture
def token(user):
    token, _ = create_token(user, now=NOW - timedelta(days=45), scopes=("read", "write"))
    add_activity(token, at=NOW - timedelta(days=3), ip="2001:db8::7")
    token.last_used_at = NOW - timedelta(days=3)
    token.save(update_fields=["last_used_at"])
    return token


def test_apply_allowlist_accepts_the_list_as_shown_or_stored(token, user):
    applied = api_token_suggestion_apply(
        token=token, kind=Kind.ALLOWLIST, actor=user, allowed_ips="2001:DB8:0::7", now=NOW
    )
    assert applied.networks == ("2001:db8::7",)
    token.refresh_from_db()
    assert token.allowed_ips == "2001:db8::7"
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.ALLOWLIST_CHANGED).count() == 1


def test_apply_refuses_a_kind_it_does_not_apply(token, user):
    with pytest.raises(ValueError, match="not applied here"):
        api_token_suggestion_apply(token=token, kind=Kind.DELETE, actor=user, now=NOW)


def test_apply_when_the_token_expired_meanwhile_changes_nothing(token, user):
    token.expires_at = NOW - timedelta(minutes=1)
    token.save(update_fields=["expires_at"])
    with pytest.raises(SuggestionOutdated, match="no longer works"):
        api_token_suggestion_apply(token=token, kind=Kind.READ_ONLY, actor=user, now=NOW)
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SCOPES_CHANGED).exists()


def test_delete_check_passes_only_while_the_token_is_unused(token):
    with pytest.raises(SuggestionOutdated):
        api_token_delete_suggestion_check(token=token, now=NOW)
    api_token_delete_suggestion_check(token=token, now=NOW + timedelta(days=58))


def test_dismiss_is_stored_once(token):
    assert token_suggestion_dismiss(token=token, kind=Kind.READ_ONLY, now=NOW) is True
    assert token_suggestion_dismiss(token=token, kind=Kind.READ_ONLY, now=NOW) is False
    assert TokenSuggestionDismissal.objects.get().dismissed_at == NOW
    with pytest.raises(ValueError, match="Unknown suggestion kind"):
        token_suggestion_dismiss(token=token, kind="everything")
