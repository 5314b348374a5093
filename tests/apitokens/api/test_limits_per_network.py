"""The API's per-address limits (bad credentials, leak reports) count an IPv6 client by its
/64 and an IPv4-mapped address by its IPv4 address (common.clientip.rate_limit_key), in the
process's counters and in Redis."""

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
REVOKE = "/api/v1/credentials/revoke"
PROXY = "10.0.0.1"
NOW = 1_800_000_000.0
# Three addresses of one /64, spelled three ways: a client can pick any of them.
ONE_SLASH_64 = ("2001:db8:1:1::1", "2001:DB8:1:1::2", "2001:db8:1:1:ffff:ffff:ffff:ffff")
SAME_SLASH_64 = "2001:db8:1:1::abcd"
OTHER_SLASH_64 = "2001:db8:1:2::1"


@pytest.fixture(params=["memory", "redis"])
def store(request, settings):
    """The counters without Redis (in the process) and in Redis (db 5 unless REDIS_URL)."""
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
    if request.param == "redis":
        import redis

        url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")
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
    limits.reset_local_counters()
    yield request.param
    if request.param == "redis":
        caches["default"].clear()
    limits.reset_local_counters()


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
