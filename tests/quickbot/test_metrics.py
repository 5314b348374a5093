"""/metrics (quickbot/metrics.py): only for QUICKBOT_METRICS_ALLOWED_IPS (a 404 for anyone else,
a proxy header trusted only behind a trusted proxy), each metric moving when its event happens,
and several processes' values summed in multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from prometheus_client.parser import text_string_to_metric_families

from apitokens.activity.buffer import activity_flush
from apitokens.api import limits
from common.mail import mail_send_now
from quickbot.metrics import metrics_allowlist
from tests.apitokens.factories import create_token
from tests.common.worker_jobs import always_fails

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}


@pytest.fixture(autouse=True)
def _fresh_allowlist():
    metrics_allowlist.cache_clear()
    yield
    metrics_allowlist.cache_clear()


def scrape(client, **meta) -> dict[tuple, float]:
    response = client.get("/metrics", **(meta or LOOPBACK))
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- Who may read them -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_loopback_reads_the_metrics_by_default(client, address):
    assert "quickbot_api_requests" in client.get("/metrics", REMOTE_ADDR=address).text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "address", ["203.0.113.5", "2001:db8::1", "::ffff:198.51.100.7", "127.0.0.2", "10.0.0.1"]
)
def test_any_other_address_gets_the_sites_404(client, address):
    response = client.get("/metrics", REMOTE_ADDR=address)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "quickbot_" not in response.text
    # No other method tells the page exists either.
    assert client.post("/metrics", REMOTE_ADDR=address).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.django_db
def test_a_configured_ipv6_range_may_read(client, settings):
    settings.QUICKBOT_METRICS_ALLOWED_IPS = "2001:db8:5::/48, 192.0.2.10"
    assert client.get("/metrics", REMOTE_ADDR="2001:db8:5::9").status_code == HTTPStatus.OK
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.10").status_code == HTTPStatus.OK
    assert client.get("/metrics", REMOTE_ADDR="::ffff:192.0.2.10").status_code == HTTPStatus.OK
    assert client.get("/metrics", REMOTE_ADDR="2001:db8:6::1").status_code == HTTPStatus.NOT_FOUND
    assert client.get("/metrics", **LOOPBACK).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.django_db
def test_a_forwarded_header_is_not_trusted_without_a_trusted_proxy(client, settings):
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 0
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == HTTPStatus.NOT_FOUND


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_forwarded_client_decides(client, settings):
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1
    settings.QUICKBOT_METRICS_ALLOWED_IPS = "192.0.2.10"
    allowed = client.get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.10")
    # The proxy itself is no longer the client: its own address reads nothing.
    proxy = client.get("/metrics", REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="203.0.113.5")
    spoofed = client.get(
        "/metrics", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.10, 203.0.113.5"
    )
    assert allowed.status_code == HTTPStatus.OK
    assert proxy.status_code == spoofed.status_code == HTTPStatus.NOT_FOUND


@pytest.mark.django_db
@pytest.mark.parametrize("setting", ["", "   ", "0.0.0.0/0", "not an address", "::/0", "\x00"])
def test_an_empty_or_unusable_setting_closes_the_page(client, settings, setting):
    settings.QUICKBOT_METRICS_ALLOWED_IPS = setting
    assert client.get("/metrics", **LOOPBACK).status_code == HTTPStatus.NOT_FOUND


# --- Each metric moves when its event happens ----------------------------------------------


def bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.mark.django_db
def test_api_outcomes_and_authentication_time_are_counted(client, user, settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
    _, raw = create_token(user)
    before = scrape(client)
    client.get("/api/v1/me/", **bearer(raw))
    client.get("/api/v1/me/", **bearer(raw))
    client.get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer qb_" + "x" * 38)
    client.get("/api/v1/me/")
    client.get(f"/api/v1/me/?token={raw}")
    after = scrape(client)

    def moved(outcome):
        name = "quickbot_api_requests_total"
        return value(after, name, outcome=outcome) - value(before, name, outcome=outcome)

    assert moved("ok") == 2
    assert moved("missing_token") == 1
    assert moved("token_in_url") == 1
    assert moved("bad_checksum") + moved("malformed_header") == 1
    counted = value(after, "quickbot_api_auth_seconds_count")
    assert counted - value(before, "quickbot_api_auth_seconds_count") == 4


@pytest.mark.django_db
def test_the_hourly_limit_and_dead_tokens_are_counted_by_reason(client, user, settings):
    from apitokens import services

    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
    settings.QUICKBOT_API_HOURLY_LIMIT = 1
    limits.reset()
    _, raw = create_token(user)
    deleted, deleted_raw = create_token(user)
    services.api_token_revoke(token=deleted, actor=user)
    before = scrape(client)
    client.get("/api/v1/me/", **bearer(raw))
    client.get("/api/v1/me/", **bearer(raw))
    client.get("/api/v1/me/", **bearer(deleted_raw))
    after = scrape(client)
    name = "quickbot_api_requests_total"
    assert value(after, name, outcome="limited") - value(before, name, outcome="limited") == 1
    assert value(after, name, outcome="revoked") - value(before, name, outcome="revoked") == 1


@pytest.mark.django_db
def test_buffer_depth_and_write_lag_follow_the_activity_buffer(client, user, settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 1000
    settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS = 1000
    _, raw = create_token(user)
    client.get("/api/v1/me/", **bearer(raw))
    client.get("/api/v1/me/", **bearer(raw))
    waiting = scrape(client)
    assert value(waiting, "quickbot_activity_buffer_rows") == 2

    assert activity_flush() == 2
    written = scrape(client)
    assert value(written, "quickbot_activity_buffer_rows") == 0
    lag = "quickbot_activity_write_lag_seconds_count"
    assert value(written, lag) - value(waiting, lag) == 1


@pytest.mark.django_db
def test_a_counter_store_outage_counts_each_fail_open(client, user, settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
    _, raw = create_token(user)
    before = scrape(client)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    assert client.get("/api/v1/me/", **bearer(raw)).status_code == HTTPStatus.OK
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    after = scrape(client)
    name = "quickbot_counter_store_fail_opens_total"
    assert value(after, name) > value(before, name)


@pytest.mark.django_db
def test_the_task_queue_depth_is_read_from_the_task_table(client, durable_tasks):
    before = value(scrape(client), "quickbot_task_queue_depth", queue="default")
    always_fails.enqueue()
    always_fails.enqueue()
    assert value(scrape(client), "quickbot_task_queue_depth", queue="default") == before + 2
    durable_tasks()  # both fail and wait for their retry: still queued
    after = scrape(client)
    assert value(after, "quickbot_task_queue_depth", queue="default") == before + 2
    failures = value(after, "quickbot_task_failures_total", task="always_fails", outcome="retried")
    assert failures >= 2


@pytest.mark.django_db
def test_emails_are_counted_sent_or_failed(client, settings):
    before = scrape(client)
    message = EmailMultiAlternatives(subject="Hello", body="Hi", to=["ada@example.com"])
    assert mail_send_now(message, kind="metrics_test")
    settings.MAILERS = {
        "default": {"BACKEND": "tests.apitokens.notifications.backends.ExplodingBackend"}
    }
    assert not mail_send_now(message, kind="metrics_test")
    after = scrape(client)
    for outcome in ("sent", "failed"):
        name, labels = "quickbot_emails_total", {"kind": "metrics_test", "outcome": outcome}
        assert value(after, name, **labels) - value(before, name, **labels) == 1
    assert len(mail.outbox) == 1


# --- Several processes ---------------------------------------------------------------------

COUNT_IN_A_PROCESS = """
import django; django.setup()
from common import metrics
metrics.api_tally.count("ok", 0.001)
metrics.api_tally.count("ok", 0.002)
metrics.emails.labels(kind="multiprocess", outcome="sent").inc()
"""

SCRAPE = """
import django; django.setup()
from quickbot.metrics import metrics_text
print(metrics_text().decode())
"""


@pytest.mark.multiprocess
def test_multiprocess_mode_sums_every_process(tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "quickbot.test_settings",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "SQLITE_PATH": str(tmp_path / "empty.sqlite3"),  # no task table: the depth is left out
        "DATABASE_URL": "",
        "PYTHONPATH": str(ROOT),
    }

    def run(code: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run(COUNT_IN_A_PROCESS)  # published at exit
    run(COUNT_IN_A_PROCESS)
    assert len(list(folder.glob("*.db"))) >= 2  # one file per process and kind
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(run(SCRAPE))
        for sample in family.samples
    }
    assert value(samples, "quickbot_api_requests_total", outcome="ok") == 4
    assert value(samples, "quickbot_api_auth_seconds_count") == 4
    assert value(samples, "quickbot_emails_total", kind="multiprocess", outcome="sent") == 2
