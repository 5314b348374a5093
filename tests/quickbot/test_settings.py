"""The settings (quickbot/settings.py): production hashers and checks, and the cache REDIS_CLUSTER
picks."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from quickbot import test_settings

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("cluster", "backend"),
    [
        ("1", "common.redis_cluster.RedisClusterCache"),
        ("0", "django.core.cache.backends.redis.RedisCache"),
        (None, "django.core.cache.backends.redis.RedisCache"),
    ],
)
def test_redis_cluster_setting_picks_the_cluster_cache(cluster, backend):
    env = {
        "PATH": "/usr/bin:/bin",
        "LOCAL_RUN": "1",
        "REDIS_URL": "redis://127.0.0.1:7101/0",
        **({"REDIS_CLUSTER": cluster} if cluster is not None else {}),
    }
    result = subprocess.run(
        [sys.executable, "-c", "import quickbot.settings as s; print(s.CACHES['default'])"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"'BACKEND': '{backend}'" in result.stdout


# Set by the test run (browser tests set DJANGO_ALLOW_ASYNC_UNSAFE); never set in production.
TEST_ONLY_VARIABLES = {
    "LOCAL_RUN",
    "DEBUG",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_BACKEND",
}


def production_env(**overrides: str) -> dict[str, str]:
    """The process environment an operator would give the portal in production."""
    env = {key: value for key, value in os.environ.items() if key not in TEST_ONLY_VARIABLES}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "quickbot.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "portal.example.com",
            "CSRF_TRUSTED_ORIGINS": "https://portal.example.com",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "smtp.example.com",
            "EMAIL_PORT": "587",
            "EMAIL_USE_TLS": "1",
        }
    )
    env.update(overrides)
    return env


def test_production_password_hashers_start_with_argon2():
    assert test_settings.PRODUCTION_PASSWORD_HASHERS[0] == (
        "django.contrib.auth.hashers.Argon2PasswordHasher"
    )


def test_without_secret_key_and_with_debug_off_the_settings_refuse_to_load():
    result = subprocess.run(
        [sys.executable, "-c", "import quickbot.settings"],
        cwd=PROJECT_DIR,
        env=production_env(SECRET_KEY=""),
        capture_output=True,
        text=True,
    )

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "refuses to start" in result.stderr


def test_check_deploy_reports_no_warnings_with_production_variables():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_DIR,
        env=production_env(),
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
