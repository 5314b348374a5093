from __future__ import annotations

import time
from http import HTTPStatus
from unittest import mock

import pytest

from accounts.login_limiter import (
    login_failure_record,
    login_lockout_get,
    login_success_record,
)

NOW = 1_800_000_000.0
IP = "203.0.113.7"
EMAIL = "ada@example.com"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.QUICKBOT_LOGIN_FAILURE_LIMIT = 3
    settings.QUICKBOT_LOGIN_LOCKOUT_SECONDS = 600


def fail(times: int, *, ip: str = IP, email: str = EMAIL, now: float = NOW):
    result = None
    for _ in range(times):
        result = login_failure_record(ip=ip, email=email, now=now)
    return result


def test_failures_below_the_limit_do_not_lock():
    assert fail(2) is None
    assert login_lockout_get(ip=IP, email=EMAIL, now=NOW) is None


def test_reaching_the_limit_locks_for_the_lockout_period():
    lockout = fail(3)

    assert lockout is not None
    assert lockout.retry_after_seconds == 600
    assert login_lockout_get(ip=IP, email=EMAIL, now=NOW + 1).retry_after_seconds == 599
    assert login_lockout_get(ip=IP, email=EMAIL, now=NOW + 1).retry_after_minutes == 10


def test_lock_ends_after_the_lockout_period():
    fail(3)

    assert login_lockout_get(ip=IP, email=EMAIL, now=NOW + 599) is not None
    assert login_lockout_get(ip=IP, email=EMAIL, now=NOW + 600) is None


def test_ip_lock_applies_to_every_account_from_that_ip():
    for number in range(3):
        login_failure_record(ip=IP, email=f"guess{number}@example.com", now=NOW)

    assert login_lockout_get(ip=IP, email="someone-else@example.com", now=NOW) is not None
    assert login_lockout_get(ip="198.51.100.1", email="someone-else@example.com", now=NOW) is None


def test_account_lock_applies_from_every_ip():
    for number in range(3):
        login_failure_record(ip=f"198.51.100.{number}", email=EMAIL, now=NOW)

    assert login_lockout_get(ip="192.0.2.99", email=EMAIL, now=NOW) is not None


def test_account_key_ignores_case_and_surrounding_spaces():
    fail(2, email="Ada@Example.com")
    fail(1, email="  ADA@EXAMPLE.COM ", ip="198.51.100.9")

    assert login_lockout_get(ip="192.0.2.1", email=EMAIL, now=NOW) is not None


def test_success_clears_the_account_counter_and_lock_but_not_the_ip_lock():
    fail(3)

    login_success_record(email=EMAIL)

    assert login_lockout_get(ip="192.0.2.1", email=EMAIL, now=NOW) is None
    assert login_lockout_get(ip=IP, email=EMAIL, now=NOW) is not None


def test_success_resets_the_failure_count():
    fail(2, ip="198.51.100.1")
    login_success_record(email=EMAIL)

    assert fail(2, ip="198.51.100.2") is None
    assert login_lockout_get(ip="192.0.2.1", email=EMAIL, now=NOW) is None


def test_a_cache_outage_allows_logins_instead_of_failing():
    broken = mock.Mock(side_effect=ConnectionError("redis is down"))
    with (
        mock.patch("accounts.login_limiter.cache.get_many", broken),
        mock.patch("accounts.login_limiter.cache.add", broken),
        mock.patch("accounts.login_limiter.cache.delete_many", broken),
    ):
        assert login_lockout_get(ip=IP, email=EMAIL, now=NOW) is None
        assert login_failure_record(ip=IP, email=EMAIL, now=NOW) is None
        login_success_record(email=EMAIL)


def test_login_behind_a_proxy_locks_the_forwarded_address_not_the_proxy(client, db, settings):
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.1"

    def attempt(forwarded_for: str, email: str):
        return client.post(
            "/account/login/",
            {"username": email, "password": "wrong-pass-1"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=forwarded_for,
        )

    for number in range(3):
        attempt("203.0.113.9", f"guess{number}@example.com")

    assert login_lockout_get(ip="203.0.113.9", email="", now=time.time()) is not None
    assert login_lockout_get(ip=proxy, email="", now=time.time()) is None
    assert attempt("203.0.113.9", "other@example.com").status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert attempt("198.51.100.4", "other@example.com").status_code == HTTPStatus.OK
