"""The token lookup (`apitokens.api.lookup`): the fast path (apitokens/api/internals.py) and
the plain ORM must load exactly the same token and owner, on SQLite and on PostgreSQL (CI
runs this file on both), so a Django or driver upgrade that breaks the fast path fails here
instead of in a request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apitokens import services, tokens
from apitokens.api import internals, lookup
from apitokens.api.lookup import authenticate_token
from apitokens.models import APIToken
from tests.apitokens.factories import create_token


@pytest.fixture
def lookup_mode(settings, request):
    settings.QUICKBOT_FAST_TOKEN_LOOKUP = request.param
    return request.param


def _field_values(instance):
    return {
        field.attname: getattr(instance, field.attname)
        for field in type(instance)._meta.concrete_fields
    }


@pytest.fixture
def busy_token(user):
    """A token with every kind of column set: datetimes (some NULL), text, an IP, integers."""
    token, raw = create_token(
        user, scopes=("read", "write"), expires_at=timezone.now() + timedelta(days=30)
    )
    APIToken.objects.filter(pk=token.pk).update(
        last_used_at=timezone.now(),
        last_used_ip="2001:db8::1",
        reminders_sent="7d",
        allowed_ips="203.0.113.7\n2001:db8::/32",
        paused_at=timezone.now(),
        paused_by=user,
        allowlist_report_only=True,
    )
    user.api_hourly_limit = 250
    user.last_login = timezone.now()
    user.save()
    return token, raw


@pytest.mark.django_db
def test_fast_and_orm_lookups_load_the_same_token_and_owner(busy_token, user):
    token, raw = busy_token
    digest = tokens.token_digest(raw)
    fast = internals.fetch_token_with_owner(digest)
    orm = lookup.token_with_owner_orm(digest)
    assert (
        _field_values(fast)
        == _field_values(orm)
        == _field_values(APIToken.objects.get(pk=token.pk))
    )
    assert _field_values(fast.owner) == _field_values(orm.owner)
    assert _field_values(fast.owner) == _field_values(type(user).objects.get(pk=user.pk))
    for value in [*_field_values(fast).values(), *_field_values(fast.owner).values()]:
        if hasattr(value, "tzinfo"):
            assert value.tzinfo is not None  # aware, as USE_TZ wants
    assert fast._state.adding is orm._state.adding is False
    assert fast._state.db == orm._state.db == "default"
    assert fast.owner.is_active is True


@pytest.mark.django_db
@pytest.mark.parametrize("lookup_mode", [True, False], ids=["fast", "orm"], indirect=True)
def test_every_verdict_is_the_same_on_both_lookups(user, lookup_mode):
    now = timezone.now()
    live, live_raw = create_token(user, name="Live")
    dead, dead_raw = create_token(user, name="Dead")
    services.api_token_revoke(token=dead, actor=user)
    _, old_raw = create_token(user, name="Rotated")
    rotated = APIToken.objects.get(name="Rotated")
    _, new_raw = services.api_token_regenerate(token=rotated, actor=user, overlap=timedelta(0))
    expired, expired_raw = create_token(user, name="Expired", expires_at=now + timedelta(days=1))
    verdicts = {
        "live": lookup.authenticate_token(live_raw, now),
        "deleted": lookup.authenticate_token(dead_raw, now),
        "old value": lookup.authenticate_token(old_raw, now + timedelta(seconds=1)),
        "new value": lookup.authenticate_token(new_raw, now + timedelta(seconds=1)),
        "expired": lookup.authenticate_token(expired_raw, now + timedelta(days=2)),
        "unknown": lookup.authenticate_token(tokens.generate_token(), now),
        "malformed": lookup.authenticate_token("qb_nope", now),
    }
    assert {name: result.reason for name, result in verdicts.items()} == {
        "live": None,
        "deleted": "revoked",
        "old value": "expired",
        "new value": None,
        "expired": "expired",
        "unknown": "unknown",
        "malformed": "malformed",
    }
    assert verdicts["old value"].used_previous_value
    assert verdicts["live"].token == live


@pytest.mark.django_db
@pytest.mark.parametrize("lookup_mode", [True, False], ids=["fast", "orm"], indirect=True)
def test_the_one_lookup_brings_the_report_only_mode(user, lookup_mode):
    token, raw = create_token(user, allowed_ips="203.0.113.7", allowlist_report_only=True)
    _, enforced_raw = create_token(user, allowed_ips="203.0.113.7")
    with CaptureQueriesContext(connection) as captured:
        report_only = lookup.authenticate_token(raw).token
        enforced = lookup.authenticate_token(enforced_raw).token
    assert len(captured.captured_queries) == 2  # one statement per lookup, nothing deferred
    assert report_only.allowlist_report_only is True
    assert enforced.allowlist_report_only is False
    assert "allowlist_report_only" in captured.captured_queries[0]["sql"]


@pytest.mark.django_db
@pytest.mark.parametrize("lookup_mode", [True, False], ids=["fast", "orm"], indirect=True)
def test_lookup_is_one_query_that_query_counting_sees(user, lookup_mode):
    _, raw = create_token(user)
    with CaptureQueriesContext(connection) as captured:
        assert lookup.authenticate_token(raw).ok
    assert len(captured.captured_queries) == 1
    assert captured.captured_queries[0]["sql"].lstrip().upper().startswith("SELECT")


@pytest.mark.django_db
def test_fast_lookup_runs_through_execute_wrappers(user):
    _, raw = create_token(user)
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        assert internals.fetch_token_with_owner(tokens.token_digest(raw)) is not None
    assert len(seen) == 1


@pytest.mark.django_db(transaction=True)
def test_fast_lookup_refuses_inside_a_broken_transaction(user):
    _, raw = create_token(user)
    with transaction.atomic():
        transaction.set_rollback(True)
        connection.needs_rollback = True
        with pytest.raises(TransactionManagementError):
            internals.fetch_token_with_owner(tokens.token_digest(raw))


@pytest.mark.django_db
@pytest.mark.parametrize("lookup_mode", [True, False], ids=["fast", "orm"], indirect=True)
def test_lookup_of_unknown_digest_finds_nothing(user, lookup_mode):
    create_token(user)
    result = lookup.authenticate_digest(tokens.token_digest(tokens.generate_token()))
    assert result.token is None
    assert result.reason == "unknown"


def test_revoked_token_is_rejected_on_the_very_next_authentication(user):
    token, raw = create_token(user, "Mobile App Backend")
    assert authenticate_token(raw).ok
    services.api_token_revoke(token=token, actor=user)
    result = authenticate_token(raw)
    assert not result.ok
    assert result.reason == "revoked"
    assert result.token.pk == token.pk


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "malformed"),
        ("qb_short", "malformed"),
        ("Bearer something", "malformed"),
        pytest.param(tokens.generate_token(), "unknown", id="generated-unknown"),
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


T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def auth(raw, now):
    return authenticate_token(raw, now=now)


@pytest.mark.django_db
# --- Expiry at the exact second --------------------------------------------------------------


def test_token_expires_exactly_at_its_expiry_second(user):
    expires_at = T0 + timedelta(days=30)
    _, raw = create_token(user, expires_at=expires_at, lifetime_days=30, now=T0)
    assert auth(raw, expires_at - timedelta(seconds=1)).ok
    result = auth(raw, expires_at)
    assert result.reason == "expired"
    assert result.token is not None
