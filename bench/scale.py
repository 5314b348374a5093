"""Scale checks on a large dataset (made by `manage.py generate_dataset`); not part of `make bench`.

    SQLITE_PATH=/tmp/scale.sqlite3 .venv/bin/python bench/scale.py
    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/scale.py

Measures, for the busiest account: GET /api/v1/activity/ (first page, filtered, deep cursor
page), GET /api/v1/tokens/, the API Tokens page and a token's page (time and queries); then
the API's latency over HTTP before and while `prune_token_activity` deletes one day of rows.

Issue 16's page timings (the usage rollups):

    bench/scale.py --build [--scale 0.1]   # the dataset: 2,000 users, 10,000 tokens,
                                           # 3 M rows over 90 days + a 1 M-row token (× scale)
    bench/scale.py --pages                 # owner's pages, API Tokens, admin dashboard and
                                           # changelists: median of 3, queries, and the plans
                                           # of the slowest query of the two slowest pages
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")


def timed(client, url: str, headers: dict | None = None, repeat: int = 15) -> tuple[float, int]:
    """Median milliseconds and query count of a GET through the Django test client."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, headers=headers or {})  # warm
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, headers=headers or {})
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as captured:
        client.get(url, headers=headers or {})
    return statistics.median(samples), len(captured.captured_queries)


def main() -> None:
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count
    from django.test import Client

    from apitokens import services
    from apitokens.models import APIToken, TokenActivity
    from bench import worker

    rows = TokenActivity.objects.count()
    print(
        f"# Scale checks on {connection.vendor}: {rows:,} activity rows, "
        f"{APIToken.objects.count():,} tokens"
    )
    busiest = (
        TokenActivity.objects.values("owner_id").annotate(n=Count("id")).order_by("-n").first()
        if rows < 2_000_000
        else None
    )
    if busiest is None:  # on millions of rows, sample the newest rows instead of counting all
        owner_id = TokenActivity.objects.order_by("-created_at").values_list("owner_id", flat=True)[
            :1000
        ]
        owner_id = statistics.mode(list(owner_id))
    else:
        owner_id = busiest["owner_id"]
    from accounts.models import User

    user = User.objects.get(pk=owner_id)
    token, raw = services.api_token_create(user=user, name=f"Scale check {time.time():.0f}")
    some_token = (
        TokenActivity.objects.filter(owner_id=owner_id).order_by("-created_at").first().token
    )
    owner_rows = TokenActivity.objects.filter(owner_id=owner_id).count()
    print(f"\nBusiest account: {owner_rows:,} activity rows, {user.api_tokens.count()} tokens\n")
    client = Client()
    bearer = {"Authorization": f"Bearer {raw}"}
    page = client.get("/api/v1/activity/?limit=100", headers=bearer).json()
    cursor, depth = page["next_cursor"], 1
    while depth < 20:  # walk up to 20 pages deep
        following = client.get(f"/api/v1/activity/?limit=100&cursor={cursor}", headers=bearer)
        if not following.json()["next_cursor"]:
            break
        cursor, depth = following.json()["next_cursor"], depth + 1
    cases = [
        ("GET /api/v1/activity/ (first page, 50)", "/api/v1/activity/", bearer),
        ("GET /api/v1/activity/?limit=100", "/api/v1/activity/?limit=100", bearer),
        (
            "GET /api/v1/activity/?token=…&status=200",
            f"/api/v1/activity/?token={some_token.public_id}&status=200",
            bearer,
        ),
        (
            f"GET /api/v1/activity/ {depth} pages deep",
            f"/api/v1/activity/?cursor={cursor}",
            bearer,
        ),
        ("GET /api/v1/tokens/", "/api/v1/tokens/", bearer),
    ]
    print("| request | ms (median) | queries |")
    print("|---|---:|---:|")
    for label, url, headers in cases:
        ms, queries = timed(client, url, headers)
        print(f"| {label} | {ms:.1f} | {queries} |")
    portal = Client()
    portal.force_login(user)
    for label, url in (
        ("API Tokens page", "/account/tokens/"),
        ("a token's page (activity)", f"/account/tokens/{some_token.public_id}/"),
    ):
        try:
            ms, queries = timed(portal, url)
            print(f"| {label} | {ms:.1f} | {queries} |")
        except AssertionError as error:
            print(f"| {label} | not measured ({error}) | |")

    # --- prune one day of rows while the API serves ------------------------------------
    oldest = TokenActivity.objects.order_by("created_at").values_list("created_at", flat=True)[:1]
    if not oldest:
        return
    from django.utils import timezone

    days_kept = max(1, (timezone.now() - oldest[0]).days - 1)  # deletes about one day
    connection.close()
    paths = {"protected": ("/bench/protected/", f"Bearer {raw}", 200)}
    port = worker._free_port()
    server = worker.start_gunicorn(port)
    import multiprocessing

    context = multiprocessing.get_context("fork")
    try:
        worker._wait_for_port(port)
        payload = worker._request_bytes(*paths["protected"][:2])
        worker._run_clients(context, port, payload, 1.0, 2)
        baseline, _ = worker._run_clients(context, port, payload, 5.0, 2)
        result = {}

        def prune() -> None:
            started = time.monotonic()
            completed = subprocess.run(
                [sys.executable, "manage.py", "prune_token_activity", "--days", str(days_kept)],
                cwd=ROOT,
                env=os.environ.copy(),
                capture_output=True,
                text=True,
                check=False,
            )
            result["seconds"] = time.monotonic() - started
            result["output"] = (completed.stdout + completed.stderr).strip()[-300:]

        pruner = threading.Thread(target=prune)
        pruner.start()
        during, _ = worker._run_clients(context, port, payload, 5.0, 2)
        pruner.join()
    finally:
        server.terminate()
        server.wait(timeout=30)

    def p(values, q):
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000

    print(
        f"\nPrune of the oldest day (--days {days_kept}): {result['output']} "
        f"(wall {result['seconds']:.1f} s)\n"
    )
    print("| API over HTTP | requests/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    print(
        f"| before | {len(baseline) / 5:.0f} | {p(baseline, 0.5):.2f} | {p(baseline, 0.99):.2f} |"
    )
    print(
        f"| while pruning | {len(during) / 5:.0f} | {p(during, 0.5):.2f} | {p(during, 0.99):.2f} |"
    )


def build(scale: float) -> None:
    """Issue 16's dataset, `scale` times its size (tokens and users scale too)."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command(
        "generate_dataset",
        users=max(1, int(2000 * scale)),
        tokens=max(1, int(10_000 * scale)),
        activity=int(3_000_000 * scale),
        days=90,
        events=int(10_000 * scale),
        hot_token_rows=int(1_000_000 * scale),
        hot_token_days=23,
        batch_size=5000,
    )
    # The generator bulk-loads raw rows only: the rollups come from them, as on an
    # installation's first migration.
    since = (datetime.now(UTC) - timedelta(days=92)).isoformat()
    call_command("rebuild_usage_rollups", since=since, batch_hours=24, pause=0)


def _explain(sql: str, params) -> str:
    from django.db import connection

    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS)" if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"{prefix} {sql}", params)
        return "\n".join(" | ".join(str(value) for value in row) for row in cursor.fetchall())


def pages() -> None:
    """Median server time (3 runs) and queries of every page issue 16 names."""
    import django

    django.setup()
    from django.db import connection, reset_queries
    from django.db.models import Sum
    from django.test import Client
    from django.test.utils import override_settings

    from accounts.models import User
    from apitokens import models, selectors
    from apitokens.models import APIToken, TokenActivity

    # Also runs against a revision before the rollups (for the "before" figures).
    if hasattr(models, "TokenUsageHour"):
        hot = (
            models.TokenUsageHour.objects.values("token_id")
            .annotate(total=Sum("requests"))
            .order_by("-total")
            .first()
        )
        token = APIToken.objects.select_related("owner").get(pk=hot["token_id"])
    else:
        token = APIToken.objects.select_related("owner").filter(name="Busy CI bot").first()
        hot = {"total": TokenActivity.objects.filter(token=token).count()}
    rows = TokenActivity.objects.count()
    print(
        f"# Issue 16 pages on {connection.vendor}: {rows:,} activity rows, "
        f"{APIToken.objects.count():,} tokens; busiest token {hot['total']:,} rows\n"
    )
    staff = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        email=f"scale-staff-{time.time():.0f}@example.com", password="scale-bench-password"
    )
    owner = Client()
    owner.force_login(token.owner)
    admin = Client()
    admin.force_login(staff)
    # The row 200 pages (of 25) down, as OFFSET would have reached it: a keyset cursor.
    deep = selectors.token_activity(token=token)[200 * 25 - 1 : 200 * 25].get()
    base = f"/account/tokens/{token.public_id}/"
    if hasattr(selectors, "activity_cursor"):
        older = f"{base}?older={selectors.activity_cursor(deep)}"
    else:
        older = f"{base}?page=201"
    cases = [
        ("owner's token page (busiest token)", owner, base),
        ("same page, ?status=401", owner, base + "?status=401"),
        ("same page, 200 pages older", owner, older),
        ("owner's API Tokens list", owner, "/account/tokens/"),
        ("admin API usage dashboard", admin, "/admin/apitokens/tokenactivity/dashboard/"),
        ("admin activity changelist", admin, "/admin/apitokens/tokenactivity/"),
        ("admin tokens changelist", admin, "/admin/apitokens/apitoken/"),
        ("admin security events changelist", admin, "/admin/apitokens/securityevent/"),
    ]
    results = []
    print("| page | ms (median of 3) | queries | SQL ms |")
    print("|---|---:|---:|---:|")
    for label, client, url in cases:
        ms, queries = timed(client, url, repeat=3)
        with override_settings(DEBUG=True):
            reset_queries()
            client.get(url)
            captured = list(connection.queries)
        results.append((ms, label, captured))
        sql_ms = sum(float(query["time"]) for query in captured) * 1000
        print(f"| {label} | {ms:.1f} | {queries} | {sql_ms:.1f} |")
    results.sort(key=lambda item: item[0], reverse=True)
    for ms, label, captured in results[:2]:
        slowest = max(captured, key=lambda query: float(query["time"]))
        print(f"\n## Slowest query of '{label}' ({ms:.1f} ms; query {slowest['time']} s)\n")
        print(slowest["sql"][:2000])
        try:
            # connection.queries holds the SQL with its parameters interpolated.
            print("\n" + _explain(slowest["sql"], None))
        except Exception as error:  # noqa: BLE001 - a plan is a nicety here
            print(f"(no plan: {error})")


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv):
        print(__doc__)
    elif "--build" in sys.argv:
        scale = float(sys.argv[sys.argv.index("--scale") + 1]) if "--scale" in sys.argv else 1.0
        build(scale)
    elif "--pages" in sys.argv:
        pages()
    else:
        main()
