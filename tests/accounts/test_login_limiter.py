from __future__ import annotations

import time
from http import HTTPStatus
from unittest import mock

import pytest

from accounts.login_limiter import (
    login_failure_record,
    login_lockout_get,
    login_success_record,
    signup_attempt_record,
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
        mock.patch("common.fixed_window.cache.get_many", broken),
        mock.patch("common.fixed_window.cache.add", broken),
        mock.patch("common.fixed_window.cache.delete_many", broken),
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


# --- An IPv6 client counts by its /64 (common.clientip.rate_limit_key) -----------------------

# Three spellings of three addresses of one /64: a client can pick any of them.
ONE_SLASH_64 = ("2001:db8:1:1::1", "2001:DB8:1:1::2", "2001:db8:1:1:ffff:ffff:ffff:ffff")
OTHER_SLASH_64 = "2001:db8:1:2::1"


def test_failed_sign_ins_from_one_slash_64_share_one_allowance():
    for number, ip in enumerate(ONE_SLASH_64):
        login_failure_record(ip=ip, email=f"guess{number}@example.com", now=NOW)

    for ip in (*ONE_SLASH_64, "2001:db8:1:1::abcd", "2001:db8:1:1::1%eth0"):
        assert login_lockout_get(ip=ip, email="someone-else@example.com", now=NOW) is not None


def test_failed_sign_ins_from_another_slash_64_do_not_count():
    for number, ip in enumerate(ONE_SLASH_64[:2]):
        login_failure_record(ip=ip, email=f"guess{number}@example.com", now=NOW)
    login_failure_record(ip=OTHER_SLASH_64, email="guess9@example.com", now=NOW)

    assert login_lockout_get(ip=ONE_SLASH_64[0], email="x@example.com", now=NOW) is None
    assert login_lockout_get(ip=OTHER_SLASH_64, email="x@example.com", now=NOW) is None


def test_failed_sign_ins_from_an_ipv4_mapped_address_count_for_its_ipv4_address():
    login_failure_record(ip="203.0.113.7", email="a@example.com", now=NOW)
    login_failure_record(ip="::ffff:203.0.113.7", email="b@example.com", now=NOW)
    login_failure_record(ip="::FFFF:cb00:7107", email="c@example.com", now=NOW)

    assert login_lockout_get(ip="203.0.113.7", email="x@example.com", now=NOW) is not None
    assert login_lockout_get(ip="203.0.113.8", email="x@example.com", now=NOW) is None


def test_sign_ups_from_one_slash_64_share_one_allowance(settings):
    settings.QUICKBOT_SIGNUP_LIMIT = 2
    outcomes = [signup_attempt_record(ip=ip, now=NOW) for ip in ONE_SLASH_64]

    assert outcomes[:2] == [None, None]
    assert outcomes[2] is not None
    assert signup_attempt_record(ip="2001:db8:1:1::9", now=NOW + 1) is not None
    assert signup_attempt_record(ip=OTHER_SLASH_64, now=NOW + 1) is None


def test_sign_ups_from_an_ipv4_mapped_address_count_for_its_ipv4_address(settings):
    settings.QUICKBOT_SIGNUP_LIMIT = 1
    assert signup_attempt_record(ip="203.0.113.7", now=NOW) is None
    assert signup_attempt_record(ip="::ffff:203.0.113.7", now=NOW) is not None
    assert signup_attempt_record(ip="203.0.113.8", now=NOW) is None


def test_sign_in_behind_a_proxy_locks_the_whole_slash_64(client, db, settings):
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1

    def attempt(forwarded_for: str, email: str):
        return client.post(
            "/account/login/",
            {"username": email, "password": "wrong-pass-1"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=forwarded_for,
        )

    for number, ip in enumerate(ONE_SLASH_64):
        attempt(ip, f"guess{number}@example.com")

    assert attempt("2001:db8:1:1::77", "other@example.com").status_code == (
        HTTPStatus.TOO_MANY_REQUESTS
    )
    assert attempt(OTHER_SLASH_64, "other@example.com").status_code == HTTPStatus.OK


def test_sign_up_behind_a_proxy_is_paused_for_the_whole_slash_64(client, db, settings):
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1
    settings.QUICKBOT_SIGNUP_LIMIT = 2

    def attempt(forwarded_for: str):
        return client.post(
            "/account/signup/",
            {"email": "x"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=forwarded_for,
        )

    statuses = [attempt(ip).status_code for ip in ONE_SLASH_64]

    assert statuses[2] == HTTPStatus.TOO_MANY_REQUESTS
    assert attempt(OTHER_SLASH_64).status_code != HTTPStatus.TOO_MANY_REQUESTS
