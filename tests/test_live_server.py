"""The live server the browser tests use: with an in-memory SQLite database its threads share
the test's connection, so it must handle requests one at a time (tests/live_server.py)."""

from __future__ import annotations

import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection

from tests.apitokens.factories import create_token
from tests.live_server import SharedConnectionWSGIServer, one_at_a_time

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_at_a_time_runs_a_streamed_body_to_its_end_under_the_lock():
    lock = threading.Lock()
    seen: list[bool] = []

    class Body:
        closed = False

        def __iter__(self):
            for chunk in (b"a", b"b"):
                seen.append(lock.locked())
                yield chunk

        def close(self):
            Body.closed = True

    app = one_at_a_time(lambda environ, start_response: Body(), lock)

    assert app({}, None) == [b"a", b"b"]
    assert seen == [True, True]
    assert Body.closed
    assert not lock.locked()


def test_signed_in_pages_and_api_calls_at_once_never_lose_the_session(live_server, user, client):
    """The CI fault this prevents: the show-once modal's poll and a script's API call at the
    same moment; the poll found no session and sent the page to the login form."""
    token, value = create_token(user, "Concurrent poll")
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    poll = f"{live_server.url}/account/tokens/{token.public_id}/first-request/"

    def page(_: int) -> tuple[int, str]:
        request = urllib.request.Request(poll, headers={"Cookie": cookie, "HX-Request": "true"})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - test server
            return response.status, response.headers.get("HX-Redirect", "")

    def api(_: int) -> int:
        request = urllib.request.Request(
            f"{live_server.url}/api/v1/me/", headers={"Authorization": f"Bearer {value}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - test server
            return response.status

    with ThreadPoolExecutor(max_workers=8) as pool:
        pages = pool.map(page, range(60))
        calls = pool.map(api, range(60))
        pages, calls = list(pages), list(calls)

    assert set(calls) == {200}
    assert set(pages) == {(200, "")}, "a signed-in poll was sent to the login form"


def test_the_live_server_is_the_one_at_a_time_server(live_server):
    assert isinstance(live_server.thread.httpd, SharedConnectionWSGIServer)
    shared = bool(live_server.thread.connections_override)
    assert shared == (connection.vendor == "sqlite" and connection.is_in_memory_db())
