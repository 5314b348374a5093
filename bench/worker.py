"""One benchmark run on one setup (SQLite+locmem or PostgreSQL+Redis); `bench/run.py` starts it.

Prints one line `BENCH-RESULT <json>` at the end. Everything is measured interleaved in
blocks of 20 requests (A B C D A B C D ...), so drift of a shared machine hits every path
alike. With `--serve` it runs rounds on request instead, for the A/B run of `bench/ab.py`.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.layout import LOCATIONS, api_name, module_of, tree_of

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


def _ensure_database(fresh: bool = False) -> None:
    """Create the PostgreSQL database named in DATABASE_URL when it does not exist yet;
    with `fresh`, drop and recreate it (the A/B sides start from equal, empty tables)."""
    from django.db import OperationalError, connection

    if connection.vendor != "postgresql":
        return
    name = connection.ops.quote_name(connection.settings_dict["NAME"])
    if fresh:
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            cursor.execute(f"CREATE DATABASE {name}")
        return
    try:
        connection.ensure_connection()
    except OperationalError:
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")


def _setup_data(fresh: bool = False) -> tuple[str, str]:
    from django.core.management import call_command

    from accounts.models import User
    from apitokens import services, tokens

    _ensure_database(fresh)
    call_command("migrate", verbosity=0, interactive=False)
    user = User.objects.create_user(f"bench-{uuid.uuid4().hex[:12]}@example.com", None)
    _, raw = services.api_token_create(user=user, name=f"Benchmark {uuid.uuid4().hex[:8]}")
    return raw, tokens.generate_token()


# The allowlist case: four entries, the caller's address (127.0.0.1) matching the last one,
# so every entry is tried.
BENCH_ALLOWLIST = "10.0.0.0/8\n192.168.0.0/16\n2001:db8::/32\n127.0.0.1"


def _allowlisted_token() -> str | None:
    """A second token of a bench account with an IP allowlist the bench's address passes,
    or None in a tree without allowlists (an A/B baseline)."""
    from accounts.models import User
    from apitokens import services
    from apitokens.models import APIToken

    if "allowed_ips" not in {field.name for field in APIToken._meta.get_fields()}:
        return None
    user = User.objects.create_user(f"bench-{uuid.uuid4().hex[:12]}@example.com", None)
    _, raw = services.api_token_create(
        user=user, name=f"Benchmark allowlist {uuid.uuid4().hex[:8]}", allowed_ips=BENCH_ALLOWLIST
    )
    return raw


def _floor_calls(unknown: str) -> dict:
    """The bare round trips the API path cannot avoid, timed in the same rounds as the
    paths: the token lookup's statement alone (an unknown digest: one index probe, no row),
    and on Redis a PING. They set the lowest ratio any implementation could reach on this
    machine. A tree without `apitokens.api.internals` (an A/B baseline before the API
    package) has no public way to run the bare statement: its floor is not measured."""
    from django.conf import settings
    from django.db import connection

    from apitokens import tokens

    connection.ensure_connection()
    digest = tokens.token_digest(unknown)
    calls = {}
    try:
        from apitokens.api.internals import lookup_row
    except ImportError:
        pass
    else:
        calls["floor_db"] = lambda: lookup_row(digest)
    cache = settings.CACHES["default"]
    if cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
        import redis

        location = cache["LOCATION"]
        client = redis.Redis.from_url(location if isinstance(location, str) else location[0])
        calls["floor_cache"] = client.ping
    return calls


# Paths measured with settings of their own (in process only): the full pipeline with the
# plain ORM lookup, so the report can say what the fast lookup's private internals buy.
PATH_SETTINGS = {"orm_lookup": {"QUICKBOT_FAST_TOKEN_LOOKUP": False}}
# Requests per path in a row within a round: the paths take turns in blocks this small, so
# a burst from another job on the machine (they last tens of milliseconds here) lands on
# every path of the round alike instead of on whichever path ran then.
BLOCK = 20


def _path_settings(name: str):
    """A context manager applying `name`'s own settings (entered once per block)."""
    from contextlib import nullcontext

    from django.test.utils import override_settings

    overrides = PATH_SETTINGS.get(name)
    return override_settings(**overrides) if overrides else nullcontext()


class InProcess:
    """WSGI calls straight into Django's handler, one round of every path at a time."""

    def __init__(self, paths: dict, floors: dict | None = None) -> None:
        from django.core.wsgi import get_wsgi_application

        self.handler = get_wsgi_application()
        self.paths = paths
        self.environs = {name: _environ(path, auth) for name, (path, auth, _) in paths.items()}
        self.floors = floors or {}
        self.activity_flush = api_name("activity_flush")
        self.rows_written, self.write_ns = 0, 0

    def call(self, environ_base: dict) -> int:
        environ = dict(environ_base)
        environ["wsgi.input"] = io.BytesIO(b"")
        result = {}

        def start_response(status, headers, exc_info=None):
            result["status"] = int(status.split(" ", 1)[0])

        body = self.handler(environ, start_response)
        for _ in body:
            pass
        body.close()
        return result["status"]

    def warm(self) -> None:
        """Warm every path and floor; stop when a path answers an unexpected status."""
        for name, environ in self.environs.items():
            with _path_settings(name):
                for _ in range(200):
                    status = self.call(environ)
            if status != self.paths[name][2]:
                raise SystemExit(f"bench: {name} answered {status}, expected {self.paths[name][2]}")
        # The activity rows a round buffered are written after it, outside every round's
        # timing: left to the flusher thread, the batch would land in whichever round came
        # next (a malformed-header round on PostgreSQL absorbed the previous round's INSERT).
        # The write is off the request's path by design; its cost is reported on its own.
        self.activity_flush()
        for function in self.floors.values():
            for _ in range(200):
                function()

    def round(self, per_round: int) -> dict[str, float]:
        """µs per call of every floor and path over `per_round` calls each. They take turns
        in blocks of BLOCK calls; the buffered activity rows are written after each turn,
        outside the timing, and each turn starts one path further on, so the first block
        after a write (its caches cold) is every path's in turn."""
        calls = [*self.floors.items()]
        calls += [(name, functools.partial(self.call, env)) for name, env in self.environs.items()]
        spent = dict.fromkeys((name for name, _ in calls), 0)
        turns = max(1, per_round // BLOCK)
        for turn in range(turns):
            shift = turn % len(calls)
            for name, function in calls[shift:] + calls[:shift]:
                with _path_settings(name):
                    started = time.perf_counter_ns()
                    for _ in range(BLOCK):
                        function()
                    spent[name] += time.perf_counter_ns() - started
            self._flush_timed()
        return {name: total / (turns * BLOCK) / 1000 for name, total in spent.items()}

    def _flush_timed(self) -> None:
        started = time.perf_counter_ns()
        rows = self.activity_flush()
        if rows:
            self.rows_written += rows
            self.write_ns += time.perf_counter_ns() - started

    def queries(self) -> dict[str, float]:
        """Queries per request of every path."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        queries = {}
        for name, environ in self.environs.items():
            with _path_settings(name), CaptureQueriesContext(connection) as captured:
                for _ in range(10):
                    self.call(environ)
            queries[name] = len(captured.captured_queries) / 10
        return queries


def measure_in_process(paths: dict, rounds: int, per_round: int, floors: dict) -> dict:
    bench = InProcess(paths, floors)
    bench.warm()
    samples: dict[str, list[float]] = {name: [] for name in [*bench.environs, *floors]}
    for _ in range(rounds):
        for name, value in bench.round(per_round).items():
            samples[name].append(value)
    queries = bench.queries()
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
    if "orm_lookup" in samples:
        # What the fast lookup saves: each round's full pipeline against the same round's
        # pipeline with the plain ORM lookup.
        result["orm_lookup"]["fast_vs_orm"] = statistics.median(
            value / base
            for value, base in zip(samples["protected"], samples["orm_lookup"], strict=True)
        )
    if "allowlist" in samples:
        # The allowlist check's cost: each round's pipeline with a list against the same
        # round's pipeline without one.
        result["allowlist"]["vs_protected"] = statistics.median(
            value / base
            for value, base in zip(samples["allowlist"], samples["protected"], strict=True)
        )
    result["activity_write"] = {
        "rows": bench.rows_written,
        "us_per_row": bench.write_ns / max(1, bench.rows_written) / 1000,
    }
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


class HttpServer:
    """gunicorn (2 workers, production hooks) and a closed-loop load generator, one round
    of the given paths at a time."""

    def __init__(self, paths: dict, names: list[str], clients: int) -> None:
        self.names = names
        self.clients = clients
        self.payloads = {name: _request_bytes(paths[name][0], paths[name][1]) for name in names}
        self.context = multiprocessing.get_context("fork")
        self.port = _free_port()
        self.server: subprocess.Popen | None = None

    def start(self) -> None:
        self.server = start_gunicorn(self.port, "--backlog", "2048")
        _wait_for_port(self.port)
        for name in self.names:  # warm both workers on every path
            _run_clients(self.context, self.port, self.payloads[name], 0.5, self.clients)

    def round(self, seconds: float) -> dict[str, tuple[list[float], int]]:
        """Each path loaded for `seconds` in turn: its latencies and failed requests."""
        return {
            name: _run_clients(self.context, self.port, self.payloads[name], seconds, self.clients)
            for name in self.names
        }

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=30)
            self.server = None


def measure_http(paths: dict, names: list[str], rounds: int, seconds: float, clients: int) -> dict:
    server = HttpServer(paths, names, clients)
    try:
        server.start()
        rps: dict[str, list[float]] = {name: [] for name in names}
        latencies: dict[str, list[float]] = {name: [] for name in names}
        errors = dict.fromkeys(names, 0)
        for _ in range(rounds):
            for name, (got, failed) in server.round(seconds).items():
                rps[name].append(len(got) / seconds)
                latencies[name] += got
                errors[name] += failed
    finally:
        server.stop()
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
    parser.add_argument(
        "--serve", action="store_true", help="A/B mode: run rounds on request (see `serve`)"
    )
    args = parser.parse_args()

    import django

    django.setup()
    if args.serve:
        serve(args.http_clients)
        return
    raw, unknown = _setup_data()
    paths = _paths(raw, unknown)
    allowlisted = _allowlisted_token()
    if allowlisted is not None:
        # Measured right after the same pipeline without a list, in every round.
        ordered = {}
        for name, route in paths.items():
            ordered[name] = route
            if name == "protected":
                ordered["allowlist"] = ("/bench/protected/", f"Bearer {allowlisted}", 200)
        paths = ordered
    from django.conf import settings

    if hasattr(settings, "QUICKBOT_FAST_TOKEN_LOOKUP"):
        paths["orm_lookup"] = paths["protected"]
    from django.db import connection

    result = {
        "label": args.label,
        "database": connection.vendor,
        "in_process": measure_in_process(paths, args.rounds, args.per_round, _floor_calls(unknown)),
    }
    if args.profile:
        result["profile"] = _profile(paths, args.profile)
    activity_flush = api_name("activity_flush")
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


# --- A/B mode ------------------------------------------------------------------------------

AB_HTTP_PATHS = ["plain", "protected"]


def serve(http_clients: int) -> None:
    """A/B mode (`bench/ab.py`): set up, warm, then run one round per command read on stdin
    and answer each with one `BENCH-<kind> <json>` line, so that two processes, one per
    tree, can be measured in alternation (a round times the floors too). Commands:
    `round <requests per path>`,
    `queries`, `http-start`, `http-round <seconds>`, `stop` (or end of input). On
    PostgreSQL the database is dropped and recreated first."""
    # Answers go to the original stdout; anything else printed (gunicorn included) to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the cleanup below

    def answer(kind: str, payload: dict) -> None:
        answers.write(f"BENCH-{kind} {json.dumps(payload)}\n")

    from django.db import connection

    raw, unknown = _setup_data(fresh=True)
    paths = _paths(raw, unknown)
    in_process = InProcess(paths, _floor_calls(unknown))
    in_process.warm()
    answer(
        "READY",
        {
            "database": connection.vendor,
            "tree": str(tree_of("apitokens")),
            "harness": str(Path(__file__).resolve().parent),
            "modules": {name: module_of(name) for name in LOCATIONS},
        },
    )
    server = HttpServer(paths, AB_HTTP_PATHS, http_clients)
    try:
        for line in sys.stdin:
            command, *arguments = line.split()
            if command == "round":
                answer("ROUND", in_process.round(int(arguments[0])))
            elif command == "queries":
                answer("QUERIES", in_process.queries())
            elif command == "http-start":
                in_process.activity_flush()
                connection.close()  # gunicorn's workers open their own connections
                server.start()
                answer("OK", {})
            elif command == "http-round":
                seconds = float(arguments[0])
                answer(
                    "ROUND",
                    {
                        name: {"rps": len(got) / seconds, "errors": failed}
                        for name, (got, failed) in server.round(seconds).items()
                    },
                )
            elif command == "stop":
                break
            else:
                raise SystemExit(f"bench: unknown command {command!r}")
    finally:
        server.stop()
        in_process.activity_flush()


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
