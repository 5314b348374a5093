"""`manage.py prune_token_activity` (apitokens/management/commands/prune_token_activity.py):
retention, batches, dry run."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apitokens.models import SecurityEvent, TokenActivity
from tests.apitokens.factories import create_token


def _rows(token, ages_in_days):
    now = timezone.now()
    TokenActivity.objects.bulk_create(
        TokenActivity(
            token=token,
            owner=token.owner,
            created_at=now - timedelta(days=days),
            method="GET",
            path="/api/v1/me/",
            status=200,
        )
        for days in ages_in_days
    )


@pytest.mark.django_db
def test_prune_deletes_only_rows_past_retention_in_batches(user, settings):
    settings.QUICKBOT_ACTIVITY_RETENTION_DAYS = 30
    token, _ = create_token(user)
    _rows(token, [31, 40, 45, 100, 200, 29, 1, 0])
    out = StringIO()
    call_command("prune_token_activity", "--batch-size", "2", "--pause", "0", stdout=out)
    assert "Deleted 5 activity rows older than 30 days" in out.getvalue()
    remaining = TokenActivity.objects.order_by("created_at")
    assert remaining.count() == 3
    assert all(row.created_at > timezone.now() - timedelta(days=30) for row in remaining)


@pytest.mark.django_db
def test_prune_days_option_and_dry_run(user):
    token, _ = create_token(user)
    _rows(token, [3, 8, 9])
    out = StringIO()
    call_command("prune_token_activity", "--days", "7", "--dry-run", stdout=out)
    assert "2 activity rows are older than 7 days" in out.getvalue()
    assert TokenActivity.objects.count() == 3
    call_command("prune_token_activity", "--days", "7", stdout=StringIO())
    assert TokenActivity.objects.count() == 1


@pytest.mark.django_db
def test_prune_refuses_nonsense():
    with pytest.raises(CommandError):
        call_command("prune_token_activity", "--days", "0")
    with pytest.raises(CommandError):
        call_command("prune_token_activity", "--batch-size", "0")


@pytest.mark.django_db
def test_prune_deletes_security_events_past_retention(user, settings):
    settings.QUICKBOT_ACTIVITY_RETENTION_DAYS = 30
    token, _ = create_token(user)  # writes a "created" event now
    old = timezone.now() - timedelta(days=31)
    SecurityEvent.objects.create(
        kind=SecurityEvent.Kind.DELETED_TOKEN_USED,
        account=user,
        actor_kind=SecurityEvent.Actor.TOKEN,
        token=token,
        created_at=old,
        last_seen_at=old,
    )
    recent_use = SecurityEvent.objects.create(
        kind=SecurityEvent.Kind.DELETED_TOKEN_USED,
        account=user,
        actor_kind=SecurityEvent.Actor.TOKEN,
        token=token,
        created_at=old,
        last_seen_at=timezone.now(),  # still being bumped: kept
    )
    out = StringIO()
    call_command("prune_token_activity", "--pause", "0", stdout=out)
    assert "Deleted 1 security events older than 30 days" in out.getvalue()
    kept = set(SecurityEvent.objects.values_list("kind", "pk"))
    assert (SecurityEvent.Kind.DELETED_TOKEN_USED, recent_use.pk) in kept
    assert len(kept) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("days", ["800000", "99999999999999"])
def test_prune_refuses_a_retention_too_long_for_the_calendar(days):
    # These were an OverflowError traceback instead of a clear command error.
    with pytest.raises(CommandError, match="--days must be at most"):
        call_command("prune_token_activity", "--days", days, stdout=StringIO())
