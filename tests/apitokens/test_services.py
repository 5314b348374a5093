from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from apitokens import services, tokens
from apitokens.api.lookup import authenticate_token
from apitokens.models import APIToken, SecurityEvent
from apitokens.services import ClientInfo, TokenLimitReached, TokenNameTaken
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CLIENT = ClientInfo(ip="203.0.113.7", user_agent="pytest")


# --- Create -------------------------------------------------------------------------------


def test_create_refuses_past_the_active_token_cap(user, settings):
    settings.QUICKBOT_MAX_TOKENS_PER_USER = 1
    create_token(user, "Mobile App Backend")
    with pytest.raises(TokenLimitReached) as refused:
        services.api_token_create(user=user, name="Development Testing")
    assert refused.value.limit == 1
    assert user.api_tokens.count() == 1
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.CREATED).count() == 1


def test_a_deleted_token_frees_its_place_under_the_cap(user, settings):
    settings.QUICKBOT_MAX_TOKENS_PER_USER = 1
    token, _ = create_token(user, "Mobile App Backend")
    services.api_token_revoke(token=token, actor=user)
    services.api_token_create(user=user, name="Development Testing")
    assert user.api_tokens.active().count() == 1


def test_create_stores_only_digest_and_identifier(user):
    token, raw = services.api_token_create(
        user=user, name="Mobile App Backend", client=CLIENT, now=NOW
    )
    assert tokens.is_well_formed(raw)
    stored = APIToken.objects.get(pk=token.pk)
    assert stored.digest == tokens.token_digest(raw)
    assert stored.identifier == tokens.token_identifier(raw)
    row = APIToken.objects.values().get(pk=token.pk)
    assert all(raw not in str(value) for value in row.values())
    assert stored.created_at == NOW
    assert stored.last_used_at is None
    assert len(stored.public_id) == 16 and stored.public_id != str(stored.pk)


def test_create_applies_scopes_and_expiry(user):
    token, _ = services.api_token_create(
        user=user,
        name="Mobile App Backend",
        scopes=("read", "write"),
        expires_at=NOW + timedelta(days=30),
        lifetime_days=30,
        now=NOW,
    )
    token.refresh_from_db()
    assert token.scope_list == ["read", "write"]
    assert token.expires_at == NOW + timedelta(days=30)
    assert token.lifetime_days == 30


def test_create_records_a_security_event(user):
    token, _ = services.api_token_create(
        user=user, name="Mobile App Backend", client=CLIENT, now=NOW
    )
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.CREATED)
    assert event.token == token
    assert event.account == user
    assert event.actor == user
    assert event.ip == "203.0.113.7"
    assert event.token_identifier == token.identifier


def test_create_with_a_taken_name_raises_and_creates_nothing(user):
    create_token(user, "Mobile App Backend")
    with pytest.raises(TokenNameTaken):
        services.api_token_create(user=user, name="MOBILE app backend")
    assert user.api_tokens.count() == 1
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.CREATED).count() == 1


def test_create_reuses_the_name_of_a_deleted_token(user):
    old, _ = create_token(user, "Mobile App Backend")
    services.api_token_revoke(token=old, actor=user)
    new, _ = services.api_token_create(user=user, name="Mobile App Backend")
    assert new.pk != old.pk


def test_two_users_may_use_the_same_name(user, other_user):
    create_token(user, "Mobile App Backend")
    create_token(other_user, "Mobile App Backend")
    assert APIToken.objects.filter(name="Mobile App Backend").count() == 2


# --- Revoke (delete) ------------------------------------------------------------------------


def test_revoke_keeps_the_row_for_audit(user):
    token, _ = create_token(user, "Mobile App Backend")
    assert services.api_token_revoke(token=token, actor=user, client=CLIENT, now=NOW) is True
    token.refresh_from_db()
    assert token.revoked_at == NOW
    assert token.revoked_by == user
    assert token.revoked_reason == APIToken.RevokedBy.OWNER
    assert token not in APIToken.objects.active()
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.DELETED)
    assert (event.token, event.actor, event.ip) == (token, user, "203.0.113.7")


def test_revoke_twice_changes_nothing_the_second_time(user):
    token, _ = create_token(user, "Mobile App Backend")
    assert services.api_token_revoke(token=token, actor=user, now=NOW) is True
    stale = APIToken.objects.get(pk=token.pk)
    stale.revoked_at = None  # a second tab still holding the old state
    assert services.api_token_revoke(token=stale, actor=user, now=NOW + timedelta(1)) is False
    token.refresh_from_db()
    assert token.revoked_at == NOW
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.DELETED).count() == 1


def test_revoked_token_is_rejected_on_the_very_next_authentication(user):
    token, raw = create_token(user, "Mobile App Backend")
    assert authenticate_token(raw).ok
    services.api_token_revoke(token=token, actor=user)
    result = authenticate_token(raw)
    assert not result.ok
    assert result.reason == "revoked"
    assert result.token.pk == token.pk


def test_revoking_one_token_leaves_the_others_working(user):
    first, first_raw = create_token(user, "Mobile App Backend")
    _, second_raw = create_token(user, "Development Testing")
    services.api_token_revoke(token=first, actor=user)
    assert authenticate_token(second_raw).ok
    assert not authenticate_token(first_raw).ok


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "malformed"),
        ("qb_short", "malformed"),
        ("Bearer something", "malformed"),
        (tokens.generate_token(), "unknown"),
    ],
)
def test_authenticate_reports_reasons_without_raising(db, value, reason):
    result = authenticate_token(value)
    assert result.reason == reason
    assert result.token is None


def test_authenticate_rejects_a_mistyped_value_before_the_database(user, django_assert_num_queries):
    _, raw = create_token(user, "Mobile App Backend")
    mistyped = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    with django_assert_num_queries(0):
        assert authenticate_token(mistyped).reason == "malformed"


# --- Rename --------------------------------------------------------------------------------


def test_rename_records_the_old_name(user):
    token, raw = create_token(user, "Mobile App Backend")
    services.api_token_rename(token=token, name="iOS App Backend", actor=user, client=CLIENT)
    token.refresh_from_db()
    assert token.name == "iOS App Backend"
    assert authenticate_token(raw).ok
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.RENAMED)
    assert "Mobile App Backend" in event.detail


def test_rename_to_the_same_name_records_nothing(user):
    token, _ = create_token(user, "Mobile App Backend")
    services.api_token_rename(token=token, name="Mobile App Backend", actor=user)
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.RENAMED).exists()


def test_rename_to_a_taken_name_raises_and_keeps_the_old_name(user):
    token, _ = create_token(user, "Mobile App Backend")
    create_token(user, "Development Testing")
    with pytest.raises(TokenNameTaken):
        services.api_token_rename(token=token, name="development testing", actor=user)
    assert token.name == "Mobile App Backend"
    token.refresh_from_db()
    assert token.name == "Mobile App Backend"
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.RENAMED).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="real threads need a server database (SQLite's shared in-memory test database "
    "refuses concurrent writers)",
)
def test_two_creates_at_once_on_the_last_place_make_one_token(settings):
    settings.QUICKBOT_MAX_TOKENS_PER_USER = 1
    user = UserFactory()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(name):
        barrier.wait()
        try:
            services.api_token_create(user=user, name=name)
            outcomes.append("created")
        except TokenLimitReached:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("Mobile App", "Website")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "refused"]
    assert user.api_tokens.active().count() == 1
