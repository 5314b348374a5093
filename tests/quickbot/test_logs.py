"""Log lines (quickbot/logs.py, settings.LOGGING): the request's context on every line, one
access line per request, LOG_FORMAT=json one JSON object per line, the plain format as it
was, and no token value in either."""

from __future__ import annotations

import copy
import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from apitokens import tokens
from common.request_id import REQUEST_ID_HEADER
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

PROJECT_DIR = Path(__file__).resolve().parents[2]
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def logging_settings(log_format: str | None, **variables: str) -> dict:
    """settings.LOGGING as quickbot/settings.py builds it under LOG_FORMAT=`log_format`."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LOCAL_RUN": "1", **variables}
    if log_format is not None:
        env["LOG_FORMAT"] = log_format
    done = subprocess.run(
        [sys.executable, "-c", "import json, quickbot.settings as s; print(json.dumps(s.LOGGING))"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


class Lines:
    """A root handler built as settings.LOGGING builds "console": its filters and formatter."""

    def __init__(self, config: dict) -> None:
        config = copy.deepcopy(config)
        configurator = logging.config.DictConfigurator(config)
        spec = config["handlers"]["console"]
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(
            configurator.configure_formatter(config["formatters"][spec["formatter"]])
        )
        for name in spec["filters"]:
            self.handler.addFilter(configurator.configure_filter(config["filters"][name]))

    def __enter__(self) -> Lines:
        logging.getLogger().addHandler(self.handler)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger().removeHandler(self.handler)

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.lines()]


@pytest.fixture(scope="module")
def json_config() -> dict:
    return logging_settings("json")


def test_plain_is_the_default_and_its_format_is_unchanged():
    config = logging_settings(None)
    assert config["handlers"]["console"]["formatter"] == "plain"
    assert config["formatters"]["plain"]["format"] == PLAIN_FORMAT
    assert config["handlers"]["django.server"]["formatter"] == "django.server"
    assert django_settings.LOGGING["handlers"]["console"]["formatter"] == "plain"


def test_a_line_outside_a_request_is_written_exactly_as_before():
    before = io.StringIO()
    old_handler = logging.StreamHandler(before)
    old_handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    logger = logging.getLogger("quickbot.test")
    logger.addHandler(old_handler)
    try:
        with Lines(django_settings.LOGGING) as captured:
            logger.warning("disk %s full", "/var")
    finally:
        logger.removeHandler(old_handler)
    assert captured.lines() == before.getvalue().splitlines()
    assert captured.lines()[0].endswith(" WARNING quickbot.test disk /var full")


def test_plain_access_line_ends_with_the_request_id(client):
    with Lines(django_settings.LOGGING) as captured:
        response = client.get("/account/login/")
    (line,) = [line for line in captured.lines() if " quickbot.access " in line]
    assert line.endswith(
        f" INFO quickbot.access GET /account/login/ 200 {line.split()[-2]} "
        f"request_id={response[REQUEST_ID_HEADER]}"
    )
    assert line.split()[-2].endswith("ms")


def test_the_plain_access_line_shows_a_token_in_the_path_as_its_identifier(client, user):
    _token, raw = create_token(user)
    with Lines(django_settings.LOGGING) as captured:
        client.get(f"/api/v1/{raw}/")
    text = "\n".join(captured.lines())
    assert raw not in text
    assert f"GET /api/v1/{tokens.token_identifier(raw)}/ 400" in text


@pytest.mark.parametrize("log_format", ["JSON", "xml"])
def test_log_format_is_plain_or_json(log_format):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LOCAL_RUN": "1"}
    done = subprocess.run(
        [sys.executable, "-c", "import quickbot.settings as s; print(s.LOG_FORMAT)"],
        cwd=PROJECT_DIR,
        env={**env, "LOG_FORMAT": log_format},
        capture_output=True,
        text=True,
    )
    if log_format == "JSON":
        assert done.stdout.strip() == "json"
    else:
        assert done.returncode != 0
        assert "LOG_FORMAT must be plain or json" in done.stderr


def test_json_access_line_has_every_field_and_the_responses_id(json_config, client, user):
    token, raw = create_token(user)
    with Lines(json_config) as captured:
        response = client.get("/api/v1/me/", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == HTTPStatus.OK
    (access,) = [record for record in captured.records() if record["logger"] == "quickbot.access"]
    assert list(access) == [
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "user_id",
        "method",
        "path",
        "status",
        "duration_ms",
    ]
    assert access["request_id"] == response[REQUEST_ID_HEADER]
    assert access["level"] == "INFO"
    assert access["user_id"] == user.pk
    assert access["method"] == "GET"
    assert access["path"] == "/api/v1/me/"
    assert access["status"] == 200
    assert isinstance(access["duration_ms"], int)
    assert access["time"].endswith("+00:00")
    assert access["message"] == f"GET /api/v1/me/ 200 {access['duration_ms']}ms"


def test_json_lines_redact_a_token_in_the_path(json_config, client, user):
    _token, raw = create_token(user)
    with Lines(json_config) as captured:
        response = client.get(f"/api/v1/me/?access_token={raw}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    with Lines(json_config) as captured_path:
        client.get(f"/no-such-page/{raw}/")
    text = "\n".join(captured.lines() + captured_path.lines())
    assert raw not in text
    paths = [record["path"] for record in captured_path.records()]
    assert f"/no-such-page/{tokens.token_identifier(raw)}/" in paths


def test_json_lines_of_a_page_name_the_signed_in_user(json_config, user_client, user):
    with Lines(json_config) as captured:
        response = user_client.get(reverse("apitokens:list"))
    assert response.status_code == HTTPStatus.OK
    (access,) = [record for record in captured.records() if record["logger"] == "quickbot.access"]
    assert access["user_id"] == user.pk
    assert access["request_id"] == response[REQUEST_ID_HEADER]


def test_the_log_never_loads_a_user_the_request_did_not(
    json_config, user_client, django_assert_num_queries
):
    # The health check reads neither session nor user: naming the user would cost two queries.
    with Lines(json_config) as captured, django_assert_num_queries(1):
        response = user_client.get("/healthz")
    assert response.status_code == HTTPStatus.OK
    (access,) = [record for record in captured.records() if record["logger"] == "quickbot.access"]
    assert access["user_id"] is None


def test_every_line_of_a_request_carries_its_id(json_config, user):
    _token, raw = create_token(user)
    client = Client(raise_request_exception=False)
    with (
        Lines(json_config) as captured,
        mock.patch(
            "apitokens.api.middleware.authenticate_bearer",
            side_effect=RuntimeError(f"boom with {raw}"),
        ),
    ):
        response = client.get("/api/v1/me/", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    records = captured.records()
    assert {record["logger"] for record in records} == {"django.request", "quickbot.access"}
    assert {record["request_id"] for record in records} == {response[REQUEST_ID_HEADER]}
    (error,) = [record for record in records if record["logger"] == "django.request"]
    assert error["level"] == "ERROR"
    assert error["method"] == "GET"
    assert error["path"] == "/api/v1/me/"
    assert error["status"] == 500
    # The traceback, with the token shown as its identifier only.
    assert "Traceback (most recent call last)" in error["exc_info"]
    assert "RuntimeError: boom with " + tokens.token_identifier(raw) in error["exc_info"]
    assert raw not in "\n".join(captured.lines())


def test_a_json_line_outside_a_request_has_empty_request_fields(json_config):
    with Lines(json_config) as captured:
        logging.getLogger("quickbot.test").info('line\nbreak "quoted" ünïcode')
    (line,) = captured.lines()
    record = json.loads(line)
    assert record["message"] == 'line\nbreak "quoted" ünïcode'
    assert record["request_id"] is record["user_id"] is record["path"] is None
    assert set(record) == {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "user_id",
        "method",
        "path",
        "status",
        "duration_ms",
    }


def test_json_lines_leave_out_what_django_attaches(json_config, client, user):
    # django.request's warning for a 404 carries the request object (its text quotes the URL).
    _token, raw = create_token(user)
    with Lines(json_config) as captured:
        client.get(f"/no-such-page/?q={raw}")
    (warning,) = [record for record in captured.records() if record["logger"] == "django.request"]
    assert "request" not in warning
    assert warning["status"] == 404
    assert raw not in "\n".join(captured.lines())


def test_the_access_line_is_skipped_below_info(client):
    access = logging.getLogger("quickbot.access")
    access.setLevel(logging.WARNING)
    try:
        with Lines(django_settings.LOGGING) as captured:
            client.get("/account/login/")
    finally:
        access.setLevel(logging.NOTSET)
    assert not [line for line in captured.lines() if " quickbot.access " in line]


def test_log_access_off_leaves_the_access_line_out():
    assert logging_settings(None)["loggers"]["quickbot.access"]["level"] == "INFO"
    assert logging_settings(None, LOG_ACCESS="0")["loggers"]["quickbot.access"]["level"] == (
        "WARNING"
    )
