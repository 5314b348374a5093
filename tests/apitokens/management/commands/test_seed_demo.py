"""`manage.py seed_demo` (apitokens/management/commands/seed_demo.py): the demo account, idempotent,
and refused on a database server unless forced."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, get_commands

from accounts.models import User
from apitokens.management.commands import seed_demo
from apitokens.models import APIToken, SecurityEvent, TokenActivity

pytestmark = pytest.mark.django_db


TOKEN_VALUE = re.compile(r"qb_[0-9A-Za-z]{38}")


@pytest.fixture(autouse=True)
def _local_checkout(settings, monkeypatch):
    """seed_demo runs on local setups (DEBUG on, the SQLite file); the suite also runs on
    PostgreSQL, so the database counts as local here. The refusal tests undo both."""
    settings.DEBUG = True
    monkeypatch.setattr(seed_demo, "database_vendor", lambda: "sqlite")


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_belongs_to_apitokens_so_accounts_never_imports_it():
    assert get_commands()["seed_demo"] == "apitokens"


def test_seed_demo_is_idempotent():
    _seed()
    counts = (
        APIToken.objects.count(),
        TokenActivity.objects.count(),
        SecurityEvent.objects.count(),
    )
    output = _seed()
    assert "Added" not in output
    after = (APIToken.objects.count(), TokenActivity.objects.count(), SecurityEvent.objects.count())
    assert after == counts


def test_seed_demo_never_prints_a_token_value(capsys):
    output = _seed()
    captured = capsys.readouterr()
    assert not TOKEN_VALUE.search(output + captured.out + captured.err)


def test_seed_demo_creates_the_demo_account_and_prints_how_to_log_in(settings):
    out = StringIO()

    call_command("seed_demo", stdout=out)

    account = User.objects.get(email="demo@quickbot.local")
    assert account.check_password(settings.QUICKBOT_DEMO_PASSWORD)
    assert "http://127.0.0.1:8000/account/login/" in out.getvalue()
    assert settings.QUICKBOT_DEMO_PASSWORD in out.getvalue()


def test_seed_demo_is_idempotent_and_restores_the_password(settings):
    call_command("seed_demo", stdout=StringIO())
    account = User.objects.get(email="demo@quickbot.local")
    account.set_password("changed-by-someone-1")
    account.is_active = False
    account.save()

    call_command("seed_demo", stdout=StringIO())

    assert User.objects.filter(email__iexact="demo@quickbot.local").count() == 1
    account.refresh_from_db()
    assert account.is_active
    assert account.check_password(settings.QUICKBOT_DEMO_PASSWORD)


def test_seed_demo_prints_the_url_it_is_told(settings):
    out = StringIO()

    call_command("seed_demo", "--url", "http://127.0.0.1:8012/", stdout=out)

    assert "http://127.0.0.1:8012/account/login/" in out.getvalue()


def test_seed_demo_refuses_when_debug_is_off_and_says_why(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG is off.*--force"):
        call_command("seed_demo", stdout=StringIO())

    assert not User.objects.filter(email__iexact="demo@quickbot.local").exists()


def test_seed_demo_runs_with_debug_off_when_forced(settings):
    settings.DEBUG = False

    call_command("seed_demo", "--force", stdout=StringIO())

    assert User.objects.filter(email__iexact="demo@quickbot.local").exists()


@pytest.mark.parametrize("debug", [True, False])
def test_seed_demo_refuses_a_database_server_whatever_debug_says(settings, monkeypatch, debug):
    # DATABASE_URL=postgres://… without DEBUG: manage.py turns DEBUG on (issue #20, M4).
    settings.DEBUG = debug
    monkeypatch.setattr(seed_demo, "database_vendor", lambda: "postgresql")

    with pytest.raises(CommandError, match="postgresql server.*whatever DEBUG says.*--force"):
        call_command("seed_demo", stdout=StringIO())

    assert not User.objects.filter(email__iexact="demo@quickbot.local").exists()


def test_seed_demo_runs_on_a_database_server_when_forced(settings, monkeypatch):
    settings.DEBUG = True
    monkeypatch.setattr(seed_demo, "database_vendor", lambda: "postgresql")

    call_command("seed_demo", "--force", stdout=StringIO())

    assert User.objects.get(email="demo@quickbot.local").email_verified


def test_seed_demo_decides_by_the_database_this_suite_runs_on(monkeypatch):
    """No stand-in: the SQLite run creates the account, the PostgreSQL run refuses."""
    monkeypatch.undo()  # the real database_vendor (DEBUG stays on)
    from django.db import connection

    if connection.vendor == "sqlite":
        _seed()
        assert User.objects.filter(email__iexact="demo@quickbot.local").exists()
    else:
        with pytest.raises(CommandError, match="whatever DEBUG says"):
            _seed()
        assert not User.objects.filter(email__iexact="demo@quickbot.local").exists()


@pytest.mark.parametrize(
    ("vendor", "debug", "refused"),
    [
        ("sqlite", True, False),
        ("sqlite", False, True),
        ("postgresql", True, True),
        ("postgresql", False, True),
        ("mysql", True, True),
        ("oracle", True, True),
    ],
)
def test_only_the_local_sqlite_file_with_debug_on_qualifies(vendor, debug, refused):
    assert (seed_demo.demo_refusal(vendor=vendor, debug=debug) is not None) is refused


def test_the_option_is_not_abbreviated_by_accident():
    # An abbreviation of --force is a usage error, not a way in.
    with pytest.raises(CommandError):
        call_command("seed_demo", "--forc", stdout=StringIO())


def test_the_demo_account_counts_as_verified():
    _seed()

    assert User.objects.get(email="demo@quickbot.local").email_verified
