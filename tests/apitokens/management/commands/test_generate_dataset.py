"""`manage.py generate_dataset` (apitokens/management/commands/generate_dataset.py)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import User
from apitokens.models import APIToken, SecurityEvent, TokenActivity


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
