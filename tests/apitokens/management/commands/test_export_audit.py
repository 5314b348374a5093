"""`manage.py export_audit` (apitokens/management/commands/export_audit.py): a time range
of the security log, the accounts' log or the API activity as JSON Lines or CSV, to stdout
or a file, with the admin's columns; bad arguments are a clear CommandError."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AccountEvent
from accounts.services import account_event_record
from apitokens.models import SecurityEvent, TokenActivity
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 11, 20, tzinfo=UTC)


def export(*args: str) -> str:
    out = io.StringIO()
    call_command("export_audit", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def logs(user):
    token, _ = create_token(user, "=cmd|' /C calc'!A0", now=DAY - timedelta(hours=1))
    SecurityEvent.objects.filter(token=token).update(created_at=DAY - timedelta(hours=1))
    later, _ = create_token(user, "Later job")
    SecurityEvent.objects.filter(token=later).update(created_at=DAY + timedelta(days=2))
    add_activity(token, count=3, at=DAY + timedelta(hours=1))
    TokenActivity.objects.update(request_id="req-1")
    event = account_event_record(user=user, kind=AccountEvent.Kind.SIGNED_IN)
    AccountEvent.objects.filter(pk=event.pk).update(created_at=DAY + timedelta(hours=3))
    return token, later


def test_security_log_as_json_lines_within_the_range(logs):
    token, _later = logs
    lines = export("--since", "2026-11-19", "--until", "2026-11-21").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [(row["kind"], row["token_identifier"]) for row in rows] == [
        ("created", token.identifier)
    ]
    assert rows[0]["time"] == "2026-11-19T23:00:00Z"


def test_until_defaults_to_now(logs):
    rows = export("--since", "2026-11-01").splitlines()
    assert len(rows) == 2


def test_activity_as_csv_with_request_ids_and_neutralised_formulas(logs):
    rows = list(
        csv.DictReader(
            io.StringIO(export("--since", "2026-11-20", "--kind", "activity", "--format", "csv"))
        )
    )
    assert len(rows) == 3
    assert {row["request_id"] for row in rows} == {"req-1"}
    assert rows[0]["token_name"] == "'=cmd|' /C calc'!A0"


def test_account_log_to_a_file(logs, tmp_path, user):
    target = tmp_path / "account.jsonl"
    call_command(
        "export_audit",
        "--since",
        "2026-11-20T00:00",
        "--until",
        "2026-11-20T12:00:00+00:00",
        "--kind",
        "account",
        "--output",
        str(target),
        stderr=io.StringIO(),
    )
    (row,) = [json.loads(line) for line in target.read_text().splitlines()]
    assert (row["kind"], row["account_email"]) == ("signed_in", user.email)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since must be a date"),
        (["--since", "2026-13-45"], "--since must be a date"),
        (["--since", "2026-11-01\x00"], "--since must be a date"),
        (["--since", "2026-11-02", "--until", "2026-11-01"], "--since must be before --until"),
        (["--since", "2026-11-01", "--until", "2026-11-01"], "--since must be before --until"),
        (["--since", "2026-11-01", "--until", "not a date"], "--until must be a date"),
        (["--since", "9999-12-31T23:59:59"], "--since must be before --until"),
    ],
)
def test_bad_dates_are_a_clear_error(args, message):
    with pytest.raises(CommandError, match=message):
        export(*args)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--since", "2026-11-01", "--format", "xlsx"],
        ["--since", "2026-11-01", "--kind", "users"],
    ],
)
def test_missing_or_unknown_arguments_are_refused(args):
    with pytest.raises(CommandError):
        export(*args)


def test_an_unwritable_output_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="Could not write"):
        export("--since", "2026-11-01", "--output", str(tmp_path / "missing" / "out.csv"))
