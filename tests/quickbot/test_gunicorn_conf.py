"""The production gunicorn config (quickbot/gunicorn_conf.py) lets an oversized
Authorization header reach Django, so the API answers it with its own JSON error, and no log
line it writes (its error and access logs, Django's lines in the workers) holds a token."""

from __future__ import annotations

import contextlib
import datetime
import http.client
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest

from apitokens import tokens

PROJECT_DIR = Path(__file__).resolve().parents[2]
ME = "/api/v1/me/"

pytestmark = pytest.mark.multiprocess


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, headers: dict[str, str], path: str = ME) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


@contextlib.contextmanager
def running_gunicorn(folder: Path, *arguments: str, output=None) -> Iterator[int]:
    """gunicorn with the production config and one worker, on SQLite in `folder`; yields
    its port. `output`: a file for its stdout and stderr (default: the test's own)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="quickbot.settings",
        LOCAL_RUN="1",
        SQLITE_PATH=str(folder / "db.sqlite3"),
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
            *arguments,
            "quickbot.wsgi:application",
        ],
        cwd=PROJECT_DIR,
        env=env,
        stdout=output,
        stderr=output,
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


@pytest.fixture(scope="module")
def gunicorn_port(tmp_path_factory) -> Iterator[int]:
    """One gunicorn worker started with the production config, on SQLite in a temp dir."""
    with running_gunicorn(tmp_path_factory.mktemp("gunicorn"), "--log-level", "warning") as port:
        yield port


def test_an_8_kb_authorization_header_gets_the_api_json_400(gunicorn_port):
    status, content_type, body = get(gunicorn_port, {"Authorization": "Bearer " + "a" * 8192})

    assert status == HTTPStatus.BAD_REQUEST
    assert content_type.startswith("application/json")
    assert json.loads(body)["error"] == "invalid_request"


def test_a_header_past_the_16_kb_bound_is_still_refused_by_gunicorn(gunicorn_port):
    status, content_type, _body = get(gunicorn_port, {"Authorization": "Bearer " + "a" * 17000})

    assert status in {HTTPStatus.BAD_REQUEST, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE}
    assert not content_type.startswith("application/json")


# --- No token in gunicorn's logs ------------------------------------------------------------


def test_the_config_installs_the_redacting_logger():
    from gunicorn.config import Config

    from quickbot import gunicorn_conf

    config = Config()
    config.set("logger_class", gunicorn_conf.logger_class)
    assert config.logger_class is gunicorn_conf.RedactingLogger


def _redacting_logger(**settings):
    from gunicorn.config import Config

    from quickbot.gunicorn_conf import RedactingLogger

    config = Config()
    for name, value in settings.items():
        config.set(name, value)
    logger = RedactingLogger(config)
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    for log in (logger.error_log, logger.access_log):
        log.addHandler(handler)
    return logger, written, handler


def test_error_log_lines_are_redacted_in_every_handler():
    raw = tokens.generate_token()
    logger, written, handler = _redacting_logger()
    try:
        try:
            raise ValueError(raw)
        except ValueError:
            logger.exception("Error handling request %s", f"/{raw}")
        logger.warning(f"Invalid request from ip=192.0.2.1: Invalid HTTP method: 'GET /{raw}'")
    finally:
        logger.error_log.removeHandler(handler)
        logger.access_log.removeHandler(handler)
    text = written.getvalue()
    assert raw not in text
    assert text.count(tokens.token_identifier(raw)) == 3


def test_access_log_lines_are_redacted():
    raw = tokens.generate_token()
    logger, written, handler = _redacting_logger(accesslog="-")
    request = types.SimpleNamespace(headers=[], uri=f"/x?access_token={raw}", method="GET")
    response = types.SimpleNamespace(status="400 Bad Request", headers=[], sent=0)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/api/v1/{raw}/?access_token={raw}",
        "PATH_INFO": f"/api/v1/{raw}/",
        "QUERY_STRING": f"access_token={raw}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.1",
    }
    try:
        logger.access(response, request, environ, datetime.timedelta(seconds=0.01))
    finally:
        logger.error_log.removeHandler(handler)
        logger.access_log.removeHandler(handler)
    text = written.getvalue()
    assert "GET /api/v1/" in text
    assert raw not in text


def test_a_real_worker_writes_no_token_in_any_log(tmp_path):
    raw = tokens.generate_token()
    output = tmp_path / "gunicorn.log"
    access = tmp_path / "access.log"
    with (
        output.open("w") as sink,
        running_gunicorn(
            tmp_path, "--log-level", "info", "--access-logfile", str(access), output=sink
        ) as port,
    ):
        for path in (
            f"/{raw}",
            f"/account/tokens/{raw}/",
            f"/account/login/?next=/account/tokens/{raw}/",
            f"/api/v1/me/?access_token={raw}",
            f"/api/v1/me/?x=%71%62%5F{raw[3:]}",
        ):
            get(port, {}, path)
    logs = output.read_text() + access.read_text()
    assert "Not Found" in logs  # Django's lines reach this output
    assert "GET /account/login/" in logs  # and so do the access log's
    assert raw not in logs
    assert tokens.token_identifier(raw) in logs


def test_a_dead_worker_leaves_the_live_gauges(tmp_path, monkeypatch):
    """gunicorn's child_exit hook: in multiprocess mode the dead worker's live gauge files
    (activity buffer depth) are removed; its counters stay, so totals never go back."""
    from types import SimpleNamespace

    from quickbot import gunicorn_conf

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    (tmp_path / "gauge_livesum_4343.db").write_bytes(b"")
    (tmp_path / "counter_4242.db").write_bytes(b"")

    gunicorn_conf.child_exit(None, SimpleNamespace(pid=4242))

    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "counter_4242.db",
        "gauge_livesum_4343.db",
    ]
