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
