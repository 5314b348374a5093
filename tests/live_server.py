"""The live server's requests one at a time when they share the test's SQLite connection.

With an in-memory SQLite test database, Django hands the test's own connection to every
thread of the live server (there is no other way to see the test's data). Two requests at
once, say the show-once modal's poll and a script's API call, then interleave their queries
and transactions on one connection, and one of them can read a half-written state: a user
that is not there, so a signed-in page answers with the login form. (When the live server
starts before the test database exists, its threads open connections of their own to the
shared in-memory database instead, and collide on its table locks.) So on SQLite the live
server handles one request at a time; PostgreSQL gives each thread a connection of its own
and is left alone.

The application is unchanged: only the test server wraps it, and it finishes each response
(a streamed one included) before the next request starts. Static files, which never touch
the database, are still served at once beside it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def one_at_a_time(app: WSGIApp, lock: threading.Lock, *, free_prefix: str = "") -> WSGIApp:
    """`app`, run to the end of its response under `lock`, except for paths that start with
    `free_prefix` (static files, which never touch the database)."""

    def serialized(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if free_prefix and environ.get("PATH_INFO", "").startswith(free_prefix):
            return app(environ, start_response)
        with lock:
            response = app(environ, start_response)
            try:
                return list(response)
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()

    return serialized


class SharedConnectionWSGIServer(ThreadedWSGIServer):
    """Django's threaded live server that handles one request at a time when its threads
    share the test's database connection, or the test database is SQLite; as before
    otherwise."""

    def set_app(self, application: WSGIApp) -> None:
        if self.connections_override or connection.vendor == "sqlite":
            application = one_at_a_time(
                application, threading.Lock(), free_prefix=settings.STATIC_URL
            )
        super().set_app(application)
