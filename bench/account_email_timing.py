"""Does the response time of sign-up or password reset tell whether an address has an account?

Interleaved pairs of requests, one for an address with an account and one without, through
the full Django stack in this process (Django's test client, Argon2 as in production, a
fresh SQLite file, the emails queued as tasks in the database, as in production, and run
between pairs by the task worker's loop). The mail backend sleeps like a slow SMTP server
(--smtp-ms), so an email sent inside the request would show up in the timings.
Prints each form's medians, their difference and how often the existing account was the
slower of a pair (about half the time when nothing leaks).

    .venv/bin/python bench/account_email_timing.py [--pairs 200] [--smtp-ms 5]

`--http` measures what an attacker sees instead: gunicorn with the production settings
(quickbot/gunicorn_conf.py, DEBUG off, one sync worker) on DATABASE_URL (PostgreSQL;
migrated first), requests over HTTP on one kept-alive connection, with --gap-ms between
requests (no task worker runs: the requests only queue their emails):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qb_bench \
        .venv/bin/python bench/account_email_timing.py --http [--pairs 60]

Not a test: timings on a shared machine are noisy; the unit test of where the email is
sent is tests/accounts/test_services.py::TestWhereEmailsAreSent.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def configure(smtp_ms: float, database: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "quickbot.settings",
            "LOCAL_RUN": "1",
            "DATABASE_URL": "",
            "REDIS_URL": "",
            "SQLITE_PATH": database,
            "EMAIL_BACKEND": "bench.account_email_timing.SlowSmtpBackend",
            "QUICKBOT_PASSWORD_RESET_EMAILS_PER_HOUR": "1000000",
            "QUICKBOT_SIGNUP_LIMIT": "1000000",
            "LOG_LEVEL": "ERROR",
            "ALLOWED_HOSTS": "testserver",
        }
    )
    os.environ["BENCH_SMTP_SECONDS"] = str(smtp_ms / 1000)
    import django

    django.setup()


try:
    from django.core.mail.backends.locmem import EmailBackend as _LocmemBackend
except ImportError:  # pragma: no cover - Django always has it
    _LocmemBackend = object  # type: ignore[assignment,misc]


class SlowSmtpBackend(_LocmemBackend):
    """Keeps messages in memory after sleeping like a round trip to an SMTP server."""

    def send_messages(self, messages):
        time.sleep(float(os.environ.get("BENCH_SMTP_SECONDS", "0.005")))
        return super().send_messages(messages)


def timed_post(client, path: str, data: dict) -> float:
    start = time.perf_counter()
    response = client.post(path, data)
    elapsed = time.perf_counter() - start
    assert response.status_code == 302, (path, response.status_code)
    return elapsed


def report(label: str, existing: list[float], unknown: list[float]) -> None:
    slower = sum(e > u for e, u in zip(existing, unknown, strict=True))
    med_e, med_u = statistics.median(existing) * 1000, statistics.median(unknown) * 1000
    print(
        f"{label:<15} existing {med_e:7.2f} ms   unknown {med_u:7.2f} ms   "
        f"difference {med_e - med_u:+6.2f} ms   existing slower in {slower}/{len(existing)} pairs"
    )


HTTP_PORT = 8765
PROJECT_DIR = Path(__file__).resolve().parent.parent


def http_environment(smtp_ms: float) -> dict[str, str]:
    """Production settings (DEBUG off) on plain HTTP at 127.0.0.1, the slow mail backend."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "quickbot.settings",
        "LOCAL_RUN": "0",
        "DEBUG": "0",
        "SECRET_KEY": "bench-account-email-timing-not-a-secret-0123456789abcdef",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "EMAIL_BACKEND": "bench.account_email_timing.SlowSmtpBackend",
        "QUICKBOT_PASSWORD_RESET_EMAILS_PER_HOUR": "1000000",
        "QUICKBOT_SIGNUP_LIMIT": "1000000",
        "BENCH_SMTP_SECONDS": str(smtp_ms / 1000),
        "LOG_LEVEL": "ERROR",
        "GUNICORN_BIND": f"127.0.0.1:{HTTP_PORT}",
        "WEB_CONCURRENCY": "1",
    }


def http_main(args: argparse.Namespace) -> None:
    import requests

    if not os.environ.get("DATABASE_URL"):
        sys.exit("--http needs DATABASE_URL (PostgreSQL), e.g. postgres://postgres@127.0.0.1/qb")
    env = http_environment(args.smtp_ms)
    manage = [sys.executable, str(PROJECT_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "--verbosity", "0"], env=env, check=True)
    # DEBUG off serves hashed static names: the pages need the manifest (staticfiles/, ignored).
    subprocess.run([*manage, "collectstatic", "--noinput", "--verbosity", "0"], env=env, check=True)
    create = (
        "from accounts.models import User\n"
        "User.objects.filter(email__iexact='known@example.com').delete()\n"
        "User.objects.create_user('known@example.com', 'a-long-password-for-bench-1')"
    )
    subprocess.run([*manage, "shell", "-c", create], env=env, check=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:quickbot.gunicorn_conf", "quickbot.wsgi"],
        env=env,
        cwd=PROJECT_DIR,
    )
    base = f"http://127.0.0.1:{HTTP_PORT}"
    try:
        session = requests.Session()
        for _ in range(100):
            try:
                form = session.get(f"{base}/account/password-reset/", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            sys.exit("gunicorn did not start")
        assert form.status_code == 200, form.status_code
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)

        def timed(path: str, data: dict) -> float:
            start = time.perf_counter()
            response = session.post(
                f"{base}{path}",
                {**data, "csrfmiddlewaretoken": csrf},
                allow_redirects=False,
                timeout=30,
            )
            elapsed = time.perf_counter() - start
            assert response.status_code == 302, (path, response.status_code)
            time.sleep(args.gap_ms / 1000)
            return elapsed

        reset: dict[str, list[float]] = {"existing": [], "unknown": []}
        for index in range(args.warmup + args.pairs):
            order = ("existing", "unknown") if index % 2 else ("unknown", "existing")
            for side in order:
                email = "known@example.com" if side == "existing" else f"new{index}@example.com"
                elapsed = timed("/account/password-reset/", {"email": email})
                if index >= args.warmup:
                    reset[side].append(elapsed)
        print(
            f"{args.pairs} interleaved pairs over HTTP (gunicorn, DEBUG off, "
            f"{env['DATABASE_URL'].split('@')[-1]}), mail backend sleeping {args.smtp_ms} ms, "
            f"{args.gap_ms} ms between requests"
        )
        report("password reset", reset["existing"], reset["unknown"])
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--smtp-ms", type=float, default=5.0)
    parser.add_argument("--http", action="store_true", help="gunicorn over HTTP (DATABASE_URL)")
    parser.add_argument("--gap-ms", type=float, default=50.0, help="--http: pause after each")
    parser.add_argument("--warmup", type=int, default=10, help="--http: pairs not counted")
    args = parser.parse_args()
    if args.http:
        http_main(args)
        return
    with tempfile.TemporaryDirectory() as folder:
        configure(args.smtp_ms, str(Path(folder) / "bench.sqlite3"))
        from django.core.management import call_command
        from django.test import Client
        from django_tasks_db.management.commands.db_worker import Worker

        from accounts.models import User

        call_command("migrate", verbosity=0)
        User.objects.create_user("known@example.com", "a-long-password-for-bench-1")
        client = Client()
        password = "quiet-otter-lantern-42"
        reset: dict[str, list[float]] = {"existing": [], "unknown": []}
        signup: dict[str, list[float]] = {"existing": [], "unknown": []}
        for index in range(args.pairs):
            # Alternate which goes first so warm-up and drift hit both sides alike.
            order = ("existing", "unknown") if index % 2 else ("unknown", "existing")
            for side in order:
                email = "known@example.com" if side == "existing" else f"new{index}@example.com"
                reset[side].append(timed_post(client, "/account/password-reset/", {"email": email}))
            for side in order:
                email = "known@example.com" if side == "existing" else f"new{index}@example.com"
                data = {"email": email, "password1": password, "password2": password}
                signup[side].append(timed_post(client, "/account/signup/", data))
            Worker(  # the queued emails, sent as the task worker would, between pairs
                queue_names=["*"],
                interval=0,
                batch=True,
                backend_name="default",
                startup_delay=False,
                max_tasks=None,
                worker_id="bench",
                excluded_queue_names=[],
            ).run()
        print(f"{args.pairs} interleaved pairs, mail backend sleeping {args.smtp_ms} ms per send")
        report("password reset", reset["existing"], reset["unknown"])
        report("sign-up", signup["existing"], signup["unknown"])


if __name__ == "__main__":
    main()
