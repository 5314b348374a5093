"""The production gunicorn config (quickbot/gunicorn_conf.py) lets an oversized
Authorization header reach Django, so the API answers it with its own JSON error."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
ME = "/api/v1/me/"

pytestmark = pytest.mark.multiprocess


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, headers: dict[str, str]) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", ME, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def gunicorn_port(tmp_path_factory) -> Iterator[int]:
    """One gunicorn worker started with the production config, on SQLite in a temp dir."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="quickbot.settings",
        LOCAL_RUN="1",
        SQLITE_PATH=str(tmp_path_factory.mktemp("gunicorn") / "db.sqlite3"),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
    )
    run = {"cwd": PROJECT_DIR, "env": env, "capture_output": True, "timeout": 60}
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], **run)
    assert migrate.returncode == 0, migrate.stderr
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "quickbot/gunicorn_conf.py",
            "--log-level",
            "warning",
            "quickbot.wsgi:application",
        ],
        cwd=PROJECT_DIR,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get(port, {})
                break
            except OSError:
                assert server.poll() is None, "gunicorn exited"
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_an_8_kb_authorization_header_gets_the_api_json_400(gunicorn_port):
    status, content_type, body = get(gunicorn_port, {"Authorization": "Bearer " + "a" * 8192})

    assert status == HTTPStatus.BAD_REQUEST
    assert content_type.startswith("application/json")
    assert json.loads(body)["error"] == "invalid_request"


def test_a_header_past_the_16_kb_bound_is_still_refused_by_gunicorn(gunicorn_port):
    status, content_type, _body = get(gunicorn_port, {"Authorization": "Bearer " + "a" * 17000})

    assert status in {HTTPStatus.BAD_REQUEST, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE}
    assert not content_type.startswith("application/json")
