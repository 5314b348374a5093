from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import User

pytestmark = pytest.mark.django_db

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_createsuperuser_noinput_reads_email_and_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Root@Example.COM")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-admin-password-7")

    call_command("createsuperuser", interactive=False, stdout=StringIO())

    root = User.objects.get(email__iexact="root@example.com")
    assert root.is_superuser
    assert root.is_staff
    assert root.check_password("a-long-admin-password-7")


def test_manage_py_createsuperuser_noinput_works_in_a_fresh_process(tmp_path):
    """The real command line, against a fresh SQLite file, as an operator would run it."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "quickbot.settings",
        "LOCAL_RUN": "1",
        "SQLITE_PATH": str(tmp_path / "fresh.sqlite3"),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "DJANGO_SUPERUSER_EMAIL": "ops@example.com",
        "DJANGO_SUPERUSER_PASSWORD": "a-long-admin-password-7",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput"], cwd=PROJECT_DIR, env=env, check=True, capture_output=True
    )

    result = subprocess.run(
        [*manage, "createsuperuser", "--noinput"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert "Superuser created successfully." in result.stdout


def test_seed_demo_creates_the_demo_account_and_prints_how_to_log_in(settings):
    out = StringIO()

    call_command("seed_demo", stdout=out)

    demo = User.objects.get(email="demo@quickbot.local")
    assert demo.check_password(settings.QUICKBOT_DEMO_PASSWORD)
    assert "http://127.0.0.1:8000/account/login/" in out.getvalue()
    assert settings.QUICKBOT_DEMO_PASSWORD in out.getvalue()


def test_seed_demo_is_idempotent_and_restores_the_password(settings):
    call_command("seed_demo", stdout=StringIO())
    demo = User.objects.get(email="demo@quickbot.local")
    demo.set_password("changed-by-someone-1")
    demo.is_active = False
    demo.save()

    call_command("seed_demo", stdout=StringIO())

    assert User.objects.filter(email__iexact="demo@quickbot.local").count() == 1
    demo.refresh_from_db()
    assert demo.is_active
    assert demo.check_password(settings.QUICKBOT_DEMO_PASSWORD)


def test_seed_demo_prints_the_url_it_is_told(settings):
    out = StringIO()

    call_command("seed_demo", "--url", "http://127.0.0.1:8012/", stdout=out)

    assert "http://127.0.0.1:8012/account/login/" in out.getvalue()
