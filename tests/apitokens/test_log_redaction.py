"""No log line the project writes, and no stored activity path, carries a full token value
(issue #20, L6): `apitokens/log_redaction.py` on the handlers of settings.LOGGING, and
`tokens.redact_tokens` for the stored path. Tested at the handlers, where lines are written."""

from __future__ import annotations

import http.client
import io
import logging
import threading
import time
from collections.abc import Iterator

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
from django.utils import timezone

from apitokens import activity, tokens
from apitokens.log_redaction import TokenRedactingFilter
from apitokens.models import TokenActivity
from tests.apitokens.factories import create_token


def percent_encoded(value: str) -> str:
    return "".join(f"%{ord(character):02X}" for character in value)


def _captured(handler_name: str) -> Iterator[io.StringIO]:
    handler = logging.getHandlerByName(handler_name)
    assert handler is not None, f"settings.LOGGING has no {handler_name!r} handler"
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the root's handler (every Django logger but runserver's) writes."""
    yield from _captured("console")


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """What the development server's request log writes."""
    yield from _captured("django.server")


def test_every_handler_of_the_root_and_django_loggers_redacts():
    loggers = [logging.getLogger()] + [
        logger
        for name, logger in logging.Logger.manager.loggerDict.items()
        if name.split(".")[0] == "django" and isinstance(logger, logging.Logger)
    ]
    handlers = {
        handler
        for logger in loggers
        for handler in logger.handlers
        if not type(handler).__module__.startswith("_pytest")  # caplog's own
    }
    assert {handler.name for handler in handlers} >= {"console", "django.server"}
    for handler in handlers:
        assert any(isinstance(f, TokenRedactingFilter) for f in handler.filters), handler.name


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/{raw}",
        "/{raw}/",
        "/account/tokens/{raw}/",
        "/account/tokens/{raw}/delete/",
        "/static/{raw}.js",
        "/{encoded}",
    ],
)
def test_not_found_line_shows_the_identifier_never_the_value(client, user, console, url):
    _, raw = create_token(user)
    client.force_login(user)
    response = client.get(url.format(raw=raw, encoded=percent_encoded(raw)))
    assert response.status_code == 404
    text = console.getvalue()
    assert "Not Found" in text
    assert raw not in text
    assert tokens.token_identifier(raw) in text


@pytest.mark.django_db
def test_a_crash_with_the_token_in_its_message_and_traceback_is_redacted(console):
    raw = tokens.generate_token()
    try:
        raise KeyError(f"lookup failed for {raw}")
    except KeyError:
        logging.getLogger("apitokens.example").exception("Unhandled error in API view /%s", raw)
    text = console.getvalue()
    assert "Traceback" in text and "KeyError" in text
    assert raw not in text
    assert text.count(tokens.token_identifier(raw)) == 2


def test_a_value_split_by_arguments_is_redacted_once_formatted(console):
    raw = tokens.generate_token()
    logging.getLogger("apitokens.example").warning("%s%s", raw[:20], raw[20:])
    assert raw not in console.getvalue()


def test_dict_arguments_and_percent_signs_survive(console):
    raw = tokens.generate_token()
    logging.getLogger("apitokens.example").warning("%(uri)s 100%%", {"uri": f"/x?t={raw}"})
    text = console.getvalue()
    assert raw not in text
    assert "100%" in text


def test_a_broken_record_does_not_raise_in_the_filter():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s", ("only one",), None)
    assert TokenRedactingFilter().filter(record) is True


def test_lines_without_a_token_are_left_as_they_are(console):
    logger = logging.getLogger("apitokens.example")
    logger.warning("Not Found: %s", "/account/tokens/AbCd1234/")
    assert "Not Found: /account/tokens/AbCd1234/" in console.getvalue()


@pytest.fixture
def development_server() -> Iterator[int]:
    """Django's development server (runserver's WSGIServer and request handler) on a free
    port, in a thread."""
    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/{raw}", "/account/login/?next=/account/tokens/{raw}/"])
def test_development_server_request_line_is_redacted(development_server, server_log, path):
    raw = tokens.generate_token()
    connection = http.client.HTTPConnection("127.0.0.1", development_server, timeout=10)
    try:
        connection.request("GET", path.format(raw=raw))
        connection.getresponse().read()
    finally:
        connection.close()
    # The server writes its line after the response has gone out.
    deadline = time.monotonic() + 10
    while "GET /" not in server_log.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    text = server_log.getvalue()
    assert "GET /" in text
    assert raw not in text
    assert tokens.token_identifier(raw) in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/{raw}/", "/api/v1/x/{encoded}/", "/api/v1/{head}\x00{tail}/"]
)
def test_a_stored_activity_path_never_holds_the_value(user, settings, path):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
    token, raw = create_token(user)
    activity.activity_record(
        token_id=token.pk,
        owner_id=user.pk,
        method="GET",
        path=path.format(raw=raw, encoded=percent_encoded(raw), head=raw[:20], tail=raw[20:]),
        status=404,
        ip="192.0.2.1",
        user_agent="curl",
        duration_ms=1,
        now=timezone.now(),
    )
    stored = TokenActivity.objects.get(token=token).path
    assert raw not in stored
    assert tokens.token_identifier(raw) in stored
