"""One benchmark run on one setup (SQLite+locmem or PostgreSQL+Redis); `bench/run.py` starts it.

Prints one line `BENCH-RESULT <json>` at the end. Everything is measured interleaved
(A B C D A B C D ...), so drift of a shared machine hits every path alike.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _environ(path: str, authorization: str | None) -> dict:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_USER_AGENT": "quickbot-bench/1.0",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    return environ


def _paths(raw: str, unknown: str) -> dict[str, tuple[str, str | None, int]]:
    mistyped = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    return {
        # name: (path, Authorization header, expected status)
        "plain": ("/bench/plain/", None, 200),
        "me": ("/api/v1/me/", f"Bearer {raw}", 200),
        "protected": ("/bench/protected/", f"Bearer {raw}", 200),
        "malformed": ("/bench/protected/", "Bearer qb_!!", 400),
        "checksum": ("/bench/protected/", f"Bearer {mistyped}", 401),
        "unknown": ("/bench/protected/", f"Bearer {unknown}", 401),
    }


def _ensure_database() -> None:
    """Create the PostgreSQL database named in DATABASE_URL when it does not exist yet."""
    from django.db import OperationalError, connection

    if connection.vendor != "postgresql":
        return
    try:
        connection.ensure_connection()
    except OperationalError:
        name = connection.settings_dict["NAME"]
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {connection.ops.quote_name(name)}")


def _setup_data() -> tuple[str, str]:
    from django.core.management import call_command

    from accounts.models import User
    from apitokens import services, tokens

    _ensure_database()
    call_command("migrate", verbosity=0, interactive=False)
    user = User.objects.create_user(f"bench-{uuid.uuid4().hex[:12]}@example.com", None)
    _, raw = services.api_token_create(user=user, name=f"Benchmark {uuid.uuid4().hex[:8]}")
    return raw, tokens.generate_token()


def _floor_calls(unknown: str) -> dict:
    """The bare round trips the API path cannot avoid, timed in the same rounds as the
    paths: the token lookup's own statement through the driver alone (an unknown digest:
    one index probe, no row), and on Redis a PING on the cache's connection pool. They
    set the lowest ratio any implementation could reach on this machine."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache
    from django.db import connection

    from apitokens import models, tokens

    connection.ensure_connection()
    sql, native_sql = models._lookup_plan(connection.alias)[:2]
    params = (tokens.token_digest(unknown),) * 2
    calls = {"floor_db": lambda: models._execute(connection, sql, params, native_sql)}
    store = caches["default"]
    if isinstance(store, RedisCache):
        calls["floor_cache"] = store._cache.get_client(write=True).ping
    return calls


def measure_in_process(paths: dict, rounds: int, per_round: int, floors: dict) -> dict:
    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    handler = get_wsgi_application()
    statuses: dict[str, int] = {}

    def call(environ_base: dict) -> int:
        environ = dict(environ_base)
        environ["wsgi.input"] = io.BytesIO(b"")
        result = {}

        def start_response(status, headers, exc_info=None):
            result["status"] = int(status.split(" ", 1)[0])

        body = handler(environ, start_response)
        for _ in body:
            pass
        body.close()
        return result["status"]

    environs = {name: _environ(path, auth) for name, (path, auth, _) in paths.items()}
    for name, environ in environs.items():  # warm up every path
        for _ in range(200):
            statuses[name] = call(environ)
        if statuses[name] != paths[name][2]:
            raise SystemExit(f"bench: {name} answered {statuses[name]}, expected {paths[name][2]}")

    from apitokens.activity import activity_flush

    # The activity rows a round buffered are written after it, outside every round's
    # timing: left to the flusher thread, the batch would land in whichever round came
    # next (a malformed-header round on PostgreSQL absorbed the previous round's INSERT).
    # The write is off the request's path by design; its cost is reported on its own.
    activity_flush()
    samples: dict[str, list[float]] = {name: [] for name in [*environs, *floors]}
    written, write_ns = 0, 0
    for function in floors.values():
        for _ in range(200):
            function()
    for _ in range(rounds):
        for name, function in floors.items():
            started = time.perf_counter_ns()
            for _ in range(per_round):
                function()
            samples[name].append((time.perf_counter_ns() - started) / per_round / 1000)
        for name, environ in environs.items():
            started = time.perf_counter_ns()
            for _ in range(per_round):
                call(environ)
            samples[name].append((time.perf_counter_ns() - started) / per_round / 1000)
            started = time.perf_counter_ns()
            rows = activity_flush()
            if rows:
                written += rows
                write_ns += time.perf_counter_ns() - started

    queries = {}
    for name, environ in environs.items():
        with CaptureQueriesContext(connection) as captured:
            for _ in range(10):
                call(environ)
        queries[name] = len(captured.captured_queries) / 10
    plain = samples["plain"]
    result = {
        name: {
            "us": statistics.median(values),
            "us_min": min(values),
            # Each round's ratio to the plain view's time in the same round, then the
            # median: a load burst from another process on the machine hits both.
            "ratio": statistics.median(
                value / base for value, base in zip(values, plain, strict=True)
            ),
            "queries": queries.get(name, 0),
        }
        for name, values in samples.items()
    }
    result["activity_write"] = {"rows": written, "us_per_row": write_ns / max(1, written) / 1000}
    return result


# --- over HTTP ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request_bytes(path: str, authorization: str | None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "User-Agent: quickbot-bench/1.0"]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _client(port: int, payload: bytes, seconds: float, queue) -> None:
    """Closed-loop load: one request at a time on a new connection, as fast as answered."""
    latencies = []
    errors = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(payload)
                chunks = []
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
        except OSError:
            errors += 1
            continue
        latencies.append(time.perf_counter() - started)
        if not chunks or not chunks[0].startswith(b"HTTP/1.1 "):
            errors += 1
    queue.put((latencies, errors))


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("bench: gunicorn did not start")


def start_gunicorn(port: int, *extra: str) -> subprocess.Popen:
    """gunicorn with 2 workers and the production hooks on 127.0.0.1:`port` (not yet ready:
    call `_wait_for_port`)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "quickbot.wsgi:application",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--config",
            str(ROOT / "bench" / "gunicorn_conf.py"),
            "--log-level",
            "warning",
            *extra,
        ],
        cwd=ROOT,
        env=os.environ.copy(),
    )


def measure_http(paths: dict, names: list[str], rounds: int, seconds: float, clients: int) -> dict:
    port = _free_port()
    server = start_gunicorn(port, "--backlog", "2048")
    context = multiprocessing.get_context("fork")
    try:
        _wait_for_port(port)
        payloads = {name: _request_bytes(paths[name][0], paths[name][1]) for name in names}
        for name in names:  # warm both workers on every path
            _run_clients(context, port, payloads[name], 0.5, clients)
        rps: dict[str, list[float]] = {name: [] for name in names}
        latencies: dict[str, list[float]] = {name: [] for name in names}
        errors = dict.fromkeys(names, 0)
        for _ in range(rounds):
            for name in names:
                got, failed = _run_clients(context, port, payloads[name], seconds, clients)
                rps[name].append(len(got) / seconds)
                latencies[name] += got
                errors[name] += failed
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = {}
    for name in names:
        ordered = sorted(latencies[name]) or [0.0]
        result[name] = {
            "rps": statistics.median(rps[name]),
            # Per round, as for the in-process figures.
            "ratio": statistics.median(
                value / base for value, base in zip(rps[name], rps["plain"], strict=True)
            ),
            "p50_ms": ordered[len(ordered) // 2] * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            "errors": errors[name],
        }
    return result


def _run_clients(context, port: int, payload: bytes, seconds: float, clients: int):
    queue = context.Queue()
    workers = [
        context.Process(target=_client, args=(port, payload, seconds, queue))
        for _ in range(clients)
    ]
    for worker in workers:
        worker.start()
    latencies: list[float] = []
    errors = 0
    for _ in workers:
        got, failed = queue.get()
        latencies += got
        errors += failed
    for worker in workers:
        worker.join()
    return latencies, errors


def measure_memory(paths: dict, requests: int) -> dict:
    """RSS of this process (a worker's stand-in) over `requests` full-pipeline requests."""
    from django.core.wsgi import get_wsgi_application

    handler = get_wsgi_application()
    environ_base = _environ(paths["me"][0], paths["me"][1])

    def rss_kib() -> int:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def start_response(status, headers, exc_info=None):
        return None

    checkpoints = {}
    # Bounded caches fill during the first half (SQLite's page cache of each connection,
    # up to 2 MiB each, as the activity table grows): a leak shows as growth in the
    # second half, which is what `growth_kib` measures; every checkpoint is reported.
    warmup = requests // 2
    for index in range(1, requests + 1):
        environ = dict(environ_base)
        environ["wsgi.input"] = io.BytesIO(b"")
        body = handler(environ, start_response)
        body.close()
        if index in (requests // 10, requests // 4, warmup, requests):
            checkpoints[index] = rss_kib()
    return {
        "requests": requests,
        "rss_kib": checkpoints,
        "growth_kib": checkpoints[requests] - checkpoints[warmup],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", required=True)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--per-round", type=int, default=400)
    parser.add_argument("--http-rounds", type=int, default=3)
    parser.add_argument("--http-seconds", type=float, default=2.0)
    parser.add_argument("--http-clients", type=int, default=3)
    parser.add_argument("--memory-requests", type=int, default=0)
    parser.add_argument("--profile", default="")
    args = parser.parse_args()

    import django

    django.setup()
    raw, unknown = _setup_data()
    paths = _paths(raw, unknown)
    from django.db import connection

    result = {
        "label": args.label,
        "database": connection.vendor,
        "in_process": measure_in_process(paths, args.rounds, args.per_round, _floor_calls(unknown)),
    }
    if args.profile:
        result["profile"] = _profile(paths, args.profile)
    from apitokens.activity import activity_flush

    activity_flush()
    connection.close()  # gunicorn workers must not share this process's connection
    result["http"] = measure_http(
        paths,
        ["plain", "protected", "me", "malformed", "unknown"],
        args.http_rounds,
        args.http_seconds,
        args.http_clients,
    )
    if args.memory_requests:
        result["memory"] = measure_memory(paths, args.memory_requests)
        activity_flush()
    print("BENCH-RESULT " + json.dumps(result), flush=True)


def _profile(paths: dict, output: str) -> str:
    """pyinstrument profile of 20,000 full-pipeline requests, written as text."""
    from django.core.wsgi import get_wsgi_application
    from pyinstrument import Profiler

    handler = get_wsgi_application()
    environ_base = _environ(paths["me"][0], paths["me"][1])

    def start_response(status, headers, exc_info=None):
        return None

    profiler = Profiler(interval=0.0001)
    profiler.start()
    for _ in range(20_000):
        environ = dict(environ_base)
        environ["wsgi.input"] = io.BytesIO(b"")
        handler(environ, start_response).close()
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    Path(output).write_text(text)
    return output


if __name__ == "__main__":
    main()
