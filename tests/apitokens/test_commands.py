from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import User
from apitokens.models import APIToken, SecurityEvent, TokenActivity
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
def test_generate_dataset_creates_the_requested_sizes():
    out = StringIO()
    call_command(
        "generate_dataset",
        "--users",
        "20",
        "--tokens",
        "60",
        "--activity",
        "500",
        "--events",
        "40",
        "--batch-size",
        "25",
        "--prefix",
        "t1",
        stdout=out,
    )
    assert User.objects.filter(email__startswith="t1-user").count() == 20
    assert APIToken.objects.count() == 60
    assert TokenActivity.objects.count() == 500
    assert SecurityEvent.objects.count() == 40
    assert "Dataset 't1' done" in out.getvalue()
    # Realistic mix: some deleted tokens, whose use is flagged; activity in the past.
    assert APIToken.objects.revoked().exists()
    flagged = TokenActivity.objects.filter(flagged=True)
    assert all(row.token.revoked_at is not None for row in flagged.select_related("token"))
    assert not TokenActivity.objects.filter(created_at__gt=timezone.now()).exists()
    assert all(
        row.owner_id == row.token.owner_id
        for row in TokenActivity.objects.select_related("token")[:50]
    )


@pytest.mark.django_db
def test_generate_dataset_twice_does_not_clash():
    for prefix in ("a", "b"):
        call_command(
            "generate_dataset",
            "--users",
            "5",
            "--tokens",
            "10",
            "--activity",
            "0",
            "--events",
            "0",
            "--prefix",
            prefix,
            stdout=StringIO(),
        )
    assert APIToken.objects.count() == 20


@pytest.mark.django_db
def test_generate_dataset_refuses_tokens_without_users():
    with pytest.raises(CommandError):
        call_command("generate_dataset", "--users", "0", "--tokens", "5", stdout=StringIO())


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
