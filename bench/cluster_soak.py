"""Two app servers on one PostgreSQL and one Redis Cluster behave as one (issue 25).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qb_soak REDIS_URL=redis://127.0.0.1:7101/0 \\
        REDIS_CLUSTER=1 .venv/bin/python bench/cluster_soak.py [--limit 40] [--accounts 6]

Starts two gunicorn instances (two workers each) on free ports, requests alternating between
them, and checks: each account's hourly limit is admitted exactly across both (accounts whose
counters sit on every master, several clients per account at once); a token deleted through one
server is refused on the next request through the other; after a normal shutdown every request
has its activity row. Exits non-zero on any miss. The database must exist (it is migrated).
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(port: int, raw: str, method: str = "GET", path: str = "/api/v1/me/") -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers={"Authorization": f"Bearer {raw}"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=40, help="hourly limit per account")
    parser.add_argument("--accounts", type=int, default=6)
    parser.add_argument("--clients", type=int, default=3, help="concurrent clients per account")
    parser.add_argument("--deletions", type=int, default=10)
    options = parser.parse_args()
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name):
            sys.exit(f"{name} is not set (see the docstring)")
    if os.environ.get("REDIS_CLUSTER") != "1":
        sys.exit("REDIS_CLUSTER=1 is not set: this soak is for a Redis Cluster")

    prefix = f"soak-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "quickbot.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "CACHE_KEY_PREFIX": prefix,
        "QUICKBOT_API_HOURLY_LIMIT": str(options.limit),
        "WEB_CONCURRENCY": "2",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",  # no console mail
    }
    env.pop("LOCAL_RUN", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    keep = ("SECRET_KEY", "CACHE_KEY_PREFIX", "DEBUG", "EMAIL_BACKEND")
    os.environ.update({key: env[key] for key in keep})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quickbot.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from redis.crc import key_slot

    from accounts.models import User
    from apitokens import services
    from apitokens.api.limits import counters
    from apitokens.models import TokenActivity

    store = counters()
    masters = {}  # master port -> accounts
    while len(masters) < 3 or sum(map(len, masters.values())) < options.accounts:
        user = User.objects.create_user(f"{uuid.uuid4().hex[:10]}@soak.example", None)
        port = store.client.get_node_from_key(store.account_key(user.pk, "start")).port
        if len(masters.get(port, [])) < max(1, options.accounts // 3):
            masters.setdefault(port, []).append(user)
    users = [user for group in masters.values() for user in group]
    tokens = {
        user: services.api_token_create(user=user, name="soak", scopes=("read", "write"))[1]
        for user in users
    }
    print(
        f"{len(users)} accounts on masters {sorted(masters)} "
        f"(slots {sorted(key_slot(store.account_key(u.pk, 'start').encode()) for u in users)})"
    )

    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "quickbot/gunicorn_conf.py", "quickbot.wsgi"],
            cwd=ROOT,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        )
        for port in ports
    ]
    failures: list[str] = []
    sent = Counter()  # token value -> requests that reached a server
    try:
        for port in ports:
            deadline = time.monotonic() + 30
            while True:
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        sys.exit(f"gunicorn on {port} did not start")
                    time.sleep(0.2)

        # 1. The limit, admitted exactly across both servers.
        statuses: dict[User, Counter] = {user: Counter() for user in users}
        lock = threading.Lock()

        def hammer(user, offset: int) -> None:
            for number in range(2 * options.limit // options.clients + 1):
                status = request(ports[(number + offset) % 2], tokens[user])
                with lock:
                    statuses[user][status] += 1
                    sent[tokens[user]] += 1

        threads = [
            threading.Thread(target=hammer, args=(user, offset))
            for user in users
            for offset in range(options.clients)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        total = sum(sent.values())
        print(f"limit phase: {total} requests in {elapsed:.1f} s ({total / elapsed:.0f}/s)")
        for user, seen in statuses.items():
            print(f"  account {user.pk}: {dict(seen)}")
            if seen[200] != options.limit or set(seen) - {200, 429}:
                failures.append(f"account {user.pk}: {dict(seen)}, limit {options.limit}")

        # 2. A token deleted through one server is refused on the next request through the other.
        owner = User.objects.create_user(f"{uuid.uuid4().hex[:10]}@soak.example", None)
        for number in range(options.deletions):
            one, other = ports[number % 2], ports[(number + 1) % 2]
            _, raw = services.api_token_create(
                user=owner, name=f"d{number}", scopes=("read", "write")
            )
            seen = [request(one, raw), request(other, raw)]
            seen.append(request(one, raw, "DELETE", "/api/v1/tokens/current/"))
            seen.append(request(other, raw))
            sent[raw] += 4
            if seen[:2] != [200, 200] or seen[2] >= 300 or seen[3] != 401:
                failures.append(f"deletion {number}: {seen}")
        print(
            f"deletion phase: {options.deletions} tokens deleted, each refused on the other server"
        )
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            server.wait(timeout=60)

    # 3. Nothing lost: every request made with a known token has its activity row.
    from apitokens.models import APIToken

    for raw, count in sent.items():
        from apitokens.tokens import token_digest

        token = APIToken.objects.get(digest=token_digest(raw))
        rows = TokenActivity.objects.filter(token=token).count()
        if rows != count:
            failures.append(f"token {token.public_id}: {count} requests, {rows} activity rows")
    print(f"activity: {sum(sent.values())} requests, checked against their rows")
    for failure in failures:
        print("FAIL", failure)
    print("soak passed" if not failures else f"soak FAILED ({len(failures)})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
