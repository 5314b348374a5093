"""The live server the browser tests use: with an in-memory SQLite database its threads share
the test's connection, so it must handle requests one at a time (tests/live_server.py)."""

from __future__ import annotations

import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.servers.basehttp import WSGIRequestHandler
from django.db import connection

from tests.live_server import SharedConnectionWSGIServer, one_at_a_time


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


def test_one_at_a_time_leaves_static_files_free():
    lock = threading.Lock()
    seen: list[bool] = []

    def app(environ, start_response):
        seen.append(lock.locked())
        return [b"css"]

    wrapped = one_at_a_time(app, lock, free_prefix="/static/")

    assert wrapped({"PATH_INFO": "/static/css/app.css"}, None) == [b"css"]
    assert wrapped({"PATH_INFO": "/account/static/"}, None) == [b"css"]
    assert seen == [False, True]


def overlapping_requests(connections_override: dict) -> int:
    """How many of eight simultaneous requests to a slow app were inside it at once."""
    lock, inside, most = threading.Lock(), [0], [0]

    def slow_app(environ, start_response):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.05)
        with lock:
            inside[0] -= 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = SharedConnectionWSGIServer(
        ("127.0.0.1", 0), WSGIRequestHandler, connections_override=connections_override
    )
    server.set_app(slow_app)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            bodies = list(pool.map(lambda _: fetch(url), range(8)))
    finally:
        server.shutdown()
        server.server_close()
    assert bodies == [b"ok"] * 8
    return most[0]


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - test server
        return response.read()


def test_requests_that_share_the_connection_run_one_at_a_time():
    """The CI fault this prevents: the show-once modal's poll and a script's API call at the
    same moment on one SQLite connection; the poll found no signed-in user and sent the page
    to the login form. An alias no code uses stands in for the shared connection."""
    assert overlapping_requests({"shared-in-test": object()}) == 1


def test_requests_overlap_only_on_a_database_server():
    """Without a shared connection: one at a time on SQLite (its in-memory test database
    locks whole tables), at once on PostgreSQL (a connection per thread)."""
    most = overlapping_requests({})
    assert (most == 1) == (connection.vendor == "sqlite"), most


@pytest.mark.django_db(transaction=True)
def test_the_live_server_is_the_one_at_a_time_server(live_server):
    assert isinstance(live_server.thread.httpd, SharedConnectionWSGIServer)
