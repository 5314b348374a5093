"""The per-address limits (apitokens/api/limits/per_address.py): bad credentials counted in batches
per process, leak reports, and an IPv6 client counted by its /64 (an IPv4-mapped address by its
IPv4 address)."""

from __future__ import annotations

import json
import os
import uuid
from http import HTTPStatus

import pytest
from django.core.cache import caches

from apitokens import tokens
from apitokens.api import limits
from tests.apitokens.factories import create_token

ME = "/api/v1/me/"


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_bad_credentials_are_limited_per_ip(client, user, settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 3
    _, raw = create_token(user)
    for _ in range(3):
        response = client.get(ME, headers=bearer(tokens.generate_token()))
        assert response.status_code == HTTPStatus.UNAUTHORIZED
    response = client.get(ME, headers={"Authorization": "Bearer qb_short"})
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(response["Retry-After"]) > 0
    # A blocked address is refused before the lookup, even with a valid token...
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.TOO_MANY_REQUESTS
    # ...while other addresses are not affected.
    response = client.get(ME, headers=bearer(raw), REMOTE_ADDR="192.0.2.9")
    assert response.status_code == HTTPStatus.OK


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_bad_auth_uses_forwarded_ip_only_behind_trusted_proxy(client, settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 1
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1
    headers = {"Authorization": "Bearer nope"}
    client.get(ME, headers=headers, HTTP_X_FORWARDED_FOR="198.51.100.1")
    blocked = client.get(ME, headers=headers, HTTP_X_FORWARDED_FOR="198.51.100.1")
    fresh = client.get(ME, headers=headers, HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert fresh.status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.usefixtures("_unbuffered_activity")
def test_occasional_failures_stay_in_the_process(settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 100
    now = 2_000_000.0
    for _ in range(5):
        assert limits.bad_auth_hit("198.51.100.7", now) is None
    assert limits.bad_auth_count("198.51.100.7", now) == 0  # no round trip spent yet


@pytest.mark.usefixtures("_unbuffered_activity")
def test_failures_are_counted_exactly_near_the_limit(settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 40
    now = 2_000_000.0
    answers = [limits.bad_auth_hit("198.51.100.8", now) for _ in range(45)]
    assert answers[:40] == [None] * 40
    assert all(answer is not None for answer in answers[40:])


@pytest.mark.usefixtures("_unbuffered_activity")
def test_other_processes_failures_count_too(settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 10
    now = 2_000_000.0
    limits.counters().add("qb:badauth:198.51.100.9:3333", 10, 600)  # another worker's failures
    assert limits.bad_auth_hit("198.51.100.9", now) is not None


REVOKE = "/api/v1/credentials/revoke"


PROXY = "10.0.0.1"


NOW = 1_800_000_000.0


# Three addresses of one /64, spelled three ways: a client can pick any of them.
ONE_SLASH_64 = ("2001:db8:1:1::1", "2001:DB8:1:1::2", "2001:db8:1:1:ffff:ffff:ffff:ffff")


SAME_SLASH_64 = "2001:db8:1:1::abcd"


OTHER_SLASH_64 = "2001:db8:1:2::1"


@pytest.fixture(params=["memory", "redis"])
def store(request, settings):
    """The counters without Redis (in the process) and in Redis (REDIS_URL, else
    QUICKBOT_TEST_REDIS_URL, else db 5)."""
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
    if request.param == "redis":
        import redis

        url = os.environ.get("REDIS_URL") or os.environ.get(
            "QUICKBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/5"
        )
        try:
            redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
        except redis.exceptions.RedisError:
            pytest.skip(f"no Redis answers at {url}")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": f"per-network-{uuid.uuid4().hex}",
            }
        }
    limits.reset()
    yield request.param
    if request.param == "redis":
        caches["default"].clear()
    limits.reset()


def behind_proxy(ip: str) -> dict[str, str]:
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": ip}


def report(client, ip: str):
    body = json.dumps({"credentials": ["x"]})
    return client.post(REVOKE, body, content_type="application/json", **behind_proxy(ip))


# --- Leak reports (limits.credential_report_hit) ---------------------------------------------


@pytest.mark.django_db
def test_leak_reports_from_one_slash_64_share_one_allowance(client, settings, store):
    settings.QUICKBOT_CREDENTIAL_REPORT_LIMIT = 2
    statuses = [report(client, ip).status_code for ip in ONE_SLASH_64]

    assert statuses == [HTTPStatus.ACCEPTED, HTTPStatus.ACCEPTED, HTTPStatus.TOO_MANY_REQUESTS]
    assert report(client, SAME_SLASH_64).status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert report(client, OTHER_SLASH_64).status_code == HTTPStatus.ACCEPTED


def test_leak_reports_from_an_ipv4_mapped_address_count_for_its_ipv4_address(settings, store):
    settings.QUICKBOT_CREDENTIAL_REPORT_LIMIT = 2
    assert limits.credential_report_hit("203.0.113.7", NOW) is None
    assert limits.credential_report_hit("::ffff:203.0.113.7", NOW) is None
    assert limits.credential_report_hit("::FFFF:cb00:7107", NOW) is not None
    assert limits.credential_report_hit("203.0.113.8", NOW) is None


# --- Bad credentials (limits.bad_auth_hit and the hourly path's check) -----------------------


@pytest.mark.django_db
def test_bad_credentials_from_one_slash_64_share_one_allowance(client, user, settings, store):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 3
    _, raw = create_token(user)
    for ip in ONE_SLASH_64:
        response = client.get(
            ME, headers={"Authorization": f"Bearer {tokens.generate_token()}"}, **behind_proxy(ip)
        )
        assert response.status_code == HTTPStatus.UNAUTHORIZED

    bad = client.get(ME, headers={"Authorization": "Bearer nope"}, **behind_proxy(SAME_SLASH_64))
    # The /64 is blocked before the lookup, even with a valid token...
    good = client.get(ME, headers={"Authorization": f"Bearer {raw}"}, **behind_proxy(SAME_SLASH_64))
    # ...while another /64 is not.
    other = client.get(
        ME, headers={"Authorization": f"Bearer {raw}"}, **behind_proxy(OTHER_SLASH_64)
    )

    assert bad.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert good.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert other.status_code == HTTPStatus.OK


def test_bad_credentials_are_counted_and_read_per_slash_64(settings, store):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 2
    outcomes = [limits.bad_auth_hit(ip, NOW) for ip in ONE_SLASH_64]

    assert outcomes[:2] == [None, None]
    assert outcomes[2] is not None
    assert limits.bad_auth_count(SAME_SLASH_64, NOW) == 3
    assert limits.bad_auth_count(OTHER_SLASH_64, NOW) == 0


def test_bad_credentials_from_an_ipv4_mapped_address_count_for_its_ipv4_address(settings, store):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 1
    assert limits.bad_auth_hit("203.0.113.7", NOW) is None
    assert limits.bad_auth_hit("::ffff:203.0.113.7", NOW) is not None
    assert limits.bad_auth_count("::ffff:cb00:7107", NOW) == 2
    assert limits.bad_auth_count("203.0.113.8", NOW) == 0


def test_the_hourly_count_refuses_a_slash_64_over_its_bad_credential_allowance(settings, store):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 2
    for ip in ONE_SLASH_64:
        limits.bad_auth_hit(ip, NOW)

    blocked = limits.rate_limit_hit(user_id=1, limit=100, now=NOW, ip=SAME_SLASH_64)
    served = limits.rate_limit_hit(user_id=1, limit=100, now=NOW, ip=OTHER_SLASH_64)

    assert blocked.blocked_for is not None
    assert served.blocked_for is None
