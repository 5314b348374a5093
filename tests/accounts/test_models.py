"""The account model and its manager (accounts/models.py): email login, `createsuperuser`, display
names, the session version."""

from __future__ import annotations

import os
import subprocess
import sys
from http import HTTPStatus
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import User
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_createsuperuser_noinput_reads_email_and_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Root@Example.COM")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-admin-password-7")

    call_command("createsuperuser", interactive=False, stdout=StringIO())

    root = User.objects.get(email__iexact="root@example.com")
    assert root.is_superuser
    assert root.is_staff
    assert root.check_password("a-long-admin-password-7")


@pytest.mark.django_db
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


@pytest.mark.django_db
def test_custom_user_model_logs_in_with_email():
    assert get_user_model() is User
    assert User.USERNAME_FIELD == "email"
    assert User.REQUIRED_FIELDS == []


@pytest.mark.django_db
def test_create_user_normalizes_the_email_domain_and_hashes_the_password():
    user = User.objects.create_user(" ada@EXAMPLE.com ", "s3cret-password-x")

    assert user.email == "ada@example.com"
    assert user.password != "s3cret-password-x"
    assert user.check_password("s3cret-password-x")
    assert not user.is_staff
    assert not user.is_superuser


@pytest.mark.django_db
def test_create_user_requires_an_email():
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user("", "whatever-password")


@pytest.mark.django_db
def test_create_superuser_sets_staff_and_superuser():
    user = User.objects.create_superuser("root@example.com", "s3cret-password-x")

    assert user.is_staff
    assert user.is_superuser


@pytest.mark.django_db
def test_email_is_unique_regardless_of_case():
    UserFactory(email="ada@example.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("ADA@example.com", "another-password")


@pytest.mark.django_db
def test_natural_key_lookup_ignores_case():
    user = UserFactory(email="ada@example.com")

    assert User.objects.get_by_natural_key("Ada@Example.COM") == user


@pytest.mark.django_db
def test_authenticate_accepts_the_email_in_any_case():
    user = UserFactory(email="ada@example.com")

    assert authenticate(username="ADA@EXAMPLE.COM", password=DEFAULT_PASSWORD) == user


@pytest.mark.django_db
def test_names_fall_back_to_the_email():
    user = UserFactory.build(email="ada@example.com", display_name="")

    assert user.get_full_name() == "ada@example.com"
    assert user.get_short_name() == "ada"
    assert str(user) == "ada@example.com"


@pytest.mark.django_db
def test_names_use_the_display_name_when_set():
    user = UserFactory.build(email="ada@example.com", display_name="Ada Lovelace")

    assert user.get_full_name() == "Ada Lovelace"
    assert user.get_short_name() == "Ada Lovelace"


@pytest.mark.django_db
def test_api_hourly_limit_defaults_to_the_site_setting():
    assert UserFactory().api_hourly_limit is None


SECURITY_URL = reverse("accounts:security")


@pytest.mark.django_db
def test_sessions_from_before_the_feature_stay_valid(client, user):
    """Version 0 keeps Django's own session hash: deploying this signs nobody out."""
    client.force_login(user)
    user.refresh_from_db()

    assert user.sessions_version == 0
    assert client.get(SECURITY_URL).status_code == HTTPStatus.OK


@pytest.mark.django_db(transaction=True)
def test_createsuperuser_accounts_count_as_verified():
    root = User.objects.create_superuser("root@example.com", DEFAULT_PASSWORD)

    assert root.email_verified
