"""Does the leak report's response time tell whether a reported value matched a token?

Interleaved pairs over HTTP under gunicorn (the production settings, one sync worker, a
fresh SQLite file, the report queued as a task, emails kept in memory): one report holds the
value of an active token (a fresh one per pair, since a match deletes it), the other a
well-formed value that matches nothing. Prints the medians, their difference and how often
the match was the slower of a pair (about half the time when nothing leaks).

    .venv/bin/python bench/leak_report_timing.py [--pairs 200] [--gap-ms 20] [--root DIR]

`--root` serves another checkout (e.g. `git archive HEAD | tar -x -C /tmp/before`) with this
script's set-up, for a before/after comparison. Not a test: timings on a shared machine are
noisy; the unit test is tests/apitokens/api/test_credentials_revoke_timing.py.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def environment(root: Path, database: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "LOCAL_RUN"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="quickbot.settings",
        PYTHONPATH=str(root),
        DEBUG="0",
        SECRET_KEY="leak-report-timing-bench-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        SQLITE_PATH=database,
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        QUICKBOT_CREDENTIAL_REPORT_LIMIT="100000000",
        LOG_LEVEL="ERROR",
    )
    return env


SEED = """
import json, sys
from accounts.models import User
from apitokens import services
user = User.objects.create_user("owner@example.com", "a-long-password-for-bench-1")
values = [services.api_token_create(user=user, name=f"T{i}")[1] for i in range(int(sys.argv[1]))]
print(json.dumps(values))
"""

GENERATE = "import json, sys; from apitokens import tokens; " + (
    "print(json.dumps([tokens.generate_token() for _ in range(int(sys.argv[1]))]))"
)


COUNT_REVOKED = (
    "from apitokens.models import APIToken; "
    "print(APIToken.objects.filter(revoked_at__isnull=False).count())"
)


def python(root: Path, env: dict[str, str], code: str, *args: str) -> str:
    setup = "import django; django.setup()\n" + code
    return subprocess.run(
        [sys.executable, "-c", setup, *args],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(port: int, value: str) -> float:
    body = json.dumps({"credentials": [value]})
    headers = {"Content-Type": "application/json", "User-Agent": "bench"}
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", "/api/v1/credentials/revoke", body, headers)
    response = connection.getresponse()
    response.read()
    elapsed = time.perf_counter() - start
    connection.close()
    assert response.status == 202, response.status
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=20.0, help="pause between requests")
    parser.add_argument("--root", type=Path, default=HERE, help="the checkout to serve")
    args = parser.parse_args()
    root = args.root.resolve()
    with tempfile.TemporaryDirectory() as folder:
        env = environment(root, str(Path(folder) / "bench.sqlite3"))
        manage = [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"]
        subprocess.run(manage, cwd=root, env=env, check=True)
        matches = json.loads(python(root, env, SEED, str(args.pairs)))
        misses = json.loads(python(root, env, GENERATE, str(args.pairs)))
        port = free_port()
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "-c",
                "python:quickbot.gunicorn_conf",
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{port}",
                "quickbot.wsgi",
            ],
            cwd=root,
            env=env,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            for _ in range(30):  # warm-up: imports, connections, caches
                post(port, misses[0])
            timings: dict[str, list[float]] = {"match": [], "miss": []}
            for index in range(args.pairs):
                # Alternate which goes first so warm-up and drift hit both sides alike.
                order = ("match", "miss") if index % 2 else ("miss", "match")
                for side in order:
                    value = matches[index] if side == "match" else misses[index]
                    timings[side].append(post(port, value))
                    time.sleep(args.gap_ms / 1000)
        finally:
            server.terminate()
            server.wait(timeout=30)
        revoked = python(root, env, COUNT_REVOKED).strip()
    match, miss = timings["match"], timings["miss"]
    slower = sum(m > n for m, n in zip(match, miss, strict=True))
    med_match, med_miss = statistics.median(match) * 1000, statistics.median(miss) * 1000
    print(f"{root}: {args.pairs} interleaved pairs over HTTP (gunicorn, 1 sync worker, SQLite)")
    print(
        f"match {med_match:6.2f} ms   miss {med_miss:6.2f} ms   "
        f"difference {med_match - med_miss:+6.2f} ms   "
        f"match slower in {slower}/{args.pairs} pairs"
    )
    print(f"tokens deleted by the reports: {revoked} of {args.pairs}")


if __name__ == "__main__":
    main()
