"""Generate a large, realistic dataset for scale tests: users, tokens, activity, security log."""

from __future__ import annotations

import hashlib
import random
import secrets
import time
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from apitokens import tokens
from apitokens.activity.rows import ActivityRow
from apitokens.activity.writer import write_rows
from apitokens.models import APIToken, SecurityEvent

TOKEN_NAMES = (
    "Production Website Integration",
    "Development Testing",
    "Mobile App Backend",
    "Nightly export",
    "CI pipeline",
    "Data warehouse sync",
    "Slack notifier",
    "Billing reconciliation",
)
PATHS = ("/api/v1/me/", "/api/v1/tokens/", "/api/v1/activity/")
USER_AGENTS = (
    "python-requests/2.32.3",
    "curl/8.5.0",
    "Go-http-client/1.1",
    "node-fetch/3.3",
    "QuickBot-CLI/1.4",
)
# (status, weight): mostly successes, some limits and client errors.
STATUSES = ((200, 90), (400, 2), (403, 2), (404, 3), (429, 3))


class Command(BaseCommand):
    help = (
        "Generate a large dataset (defaults: 1,000 users, 3,000 tokens, 100,000 activity rows, "
        "10,000 security events) with bulk inserts in batches. For the full issue-5 scale use "
        "--users 100000 --tokens 300000 --activity 5000000."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--users", type=int, default=1000)
        parser.add_argument("--tokens", type=int, default=3000)
        parser.add_argument("--activity", type=int, default=100_000)
        parser.add_argument("--events", type=int, default=10_000)
        parser.add_argument("--days", type=int, default=90, help="Spread activity over N days.")
        parser.add_argument(
            "--hot-token-rows",
            type=int,
            default=0,
            help="Also give one token this many rows (a busy CI bot; issue 16: 1000000).",
        )
        parser.add_argument(
            "--hot-token-days", type=int, default=23, help="…spread over the last N days (23)."
        )
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--prefix",
            default="",
            help="Email prefix, so several datasets can coexist (default: a random one).",
        )

    def handle(self, *args, **options) -> None:
        for name in (
            "users",
            "tokens",
            "activity",
            "events",
            "batch_size",
            "days",
            "hot_token_rows",
            "hot_token_days",
        ):
            if options[name] < (1 if name in ("batch_size", "days", "hot_token_days") else 0):
                raise CommandError(f"--{name.replace('_', '-')} is too small.")
        if options["tokens"] and not options["users"]:
            raise CommandError("Tokens need users: pass --users.")
        prefix = options["prefix"] or f"ds{secrets.token_hex(3)}"
        # Deterministic per (seed, prefix): two datasets in one database never share values.
        self.random = random.Random(f"{options['seed']}-{prefix}")
        self.batch = options["batch_size"]
        self.now = timezone.now()
        started = time.monotonic()
        user_ids = self._users(options["users"], prefix)
        token_rows = self._tokens(options["tokens"], user_ids)
        self._activity(options["activity"], token_rows, options["days"])
        self._hot_token(options["hot_token_rows"], token_rows, options["hot_token_days"])
        self._events(options["events"], token_rows)
        self.stdout.write(
            self.style.SUCCESS(f"Dataset '{prefix}' done in {time.monotonic() - started:.1f} s.")
        )

    def _step(self, label: str, count: int, started: float) -> None:
        seconds = time.monotonic() - started
        rate = count / seconds if seconds else 0
        self.stdout.write(f"{label}: {count:,} in {seconds:.1f} s ({rate:,.0f}/s)")

    def _users(self, count: int, prefix: str) -> list[int]:
        started = time.monotonic()
        password = make_password("quickbot-dataset-password")  # hashed once, shared
        for offset in range(0, count, self.batch):
            size = min(self.batch, count - offset)
            with transaction.atomic():
                User.objects.bulk_create(
                    User(
                        email=f"{prefix}-user{offset + index}@dataset.example",
                        display_name=f"Dataset User {offset + index}",
                        password=password,
                        date_joined=self.now - timedelta(days=self.random.randrange(1, 900)),
                        api_hourly_limit=5000 if self.random.random() < 0.01 else None,
                    )
                    for index in range(size)
                )
        ids = list(
            User.objects.filter(email__startswith=f"{prefix}-user").values_list("pk", flat=True)
        )
        self._step("users", len(ids), started)
        return ids

    def _tokens(self, count: int, user_ids: list[int]) -> list[tuple[int, int, bool]]:
        """Create tokens; returns (token id, owner id, dead) for the activity rows."""
        started = time.monotonic()
        created: list[tuple[int, int, bool]] = []
        rng = self.random
        for offset in range(0, count, self.batch):
            size = min(self.batch, count - offset)
            batch = []
            for index in range(size):
                owner = user_ids[(offset + index) % len(user_ids)]
                # A seeded (not secret) generator: test data only, and ten times faster.
                body = tokens.PREFIX + "".join(rng.choices(tokens.BASE62_ALPHABET, k=32))
                raw = body + tokens.checksum(body)
                created_at = self.now - timedelta(days=rng.randrange(1, 400))
                revoked_at = None
                if rng.random() < 0.1:
                    revoked_at = created_at + timedelta(days=rng.randrange(1, 30))
                lifetime = rng.choice((7, 30, 60, 90, 90, None))
                batch.append(
                    APIToken(
                        public_id="".join(rng.choices(tokens.BASE62_ALPHABET, k=16)),
                        owner_id=owner,
                        name=f"{rng.choice(TOKEN_NAMES)} {offset + index}",
                        digest=hashlib.sha256(raw.encode()).hexdigest(),
                        identifier=tokens.token_identifier(raw),
                        scopes="read write" if rng.random() < 0.3 else "read",
                        created_at=created_at,
                        expires_at=created_at + timedelta(days=lifetime) if lifetime else None,
                        lifetime_days=lifetime,
                        last_used_at=(
                            self.now - timedelta(minutes=rng.randrange(1, 60 * 24 * 30))
                            if rng.random() < 0.7
                            else None
                        ),
                        revoked_at=revoked_at,
                        revoked_reason=APIToken.RevokedBy.OWNER if revoked_at else "",
                    )
                )
            with transaction.atomic():
                APIToken.objects.bulk_create(batch)
            digests = [token.digest for token in batch]
            for token_id, owner_id, revoked_at in APIToken.objects.filter(
                digest__in=digests
            ).values_list("pk", "owner_id", "revoked_at"):
                created.append((token_id, owner_id, revoked_at is not None))
        self._step("tokens", len(created), started)
        return created

    def _activity(self, count: int, token_rows: list[tuple[int, int, bool]], days: int) -> None:
        if not count or not token_rows:
            return
        started = time.monotonic()
        rng = self.random
        statuses = [status for status, weight in STATUSES for _ in range(weight)]
        ips = [f"203.0.113.{n}" for n in range(1, 255)] + [f"198.51.100.{n}" for n in range(1, 60)]
        # A few hot tokens get most of the traffic, as in real life.
        hot = token_rows[: max(1, len(token_rows) // 50)]
        span = days * 86400
        oldest = self.now - timedelta(seconds=span)
        step = span / count
        written = 0
        if connection.vendor == "sqlite" and not connection.in_atomic_block:
            with connection.cursor() as cursor:  # a bulk load: durability per batch not needed
                cursor.execute("PRAGMA synchronous=OFF")
                cursor.execute("PRAGMA cache_size=-262144")
        for offset in range(0, count, self.batch):
            size = min(self.batch, count - offset)
            rows = []
            for index in range(offset, offset + size):
                token_id, owner_id, dead = rng.choice(hot if rng.random() < 0.6 else token_rows)
                rows.append(
                    ActivityRow(
                        token_id,
                        owner_id,
                        # In time order, as requests arrive.
                        oldest + timedelta(seconds=index * step + rng.random() * step),
                        "DELETE" if rng.random() < 0.01 else "GET",
                        rng.choice(PATHS),
                        401 if dead else rng.choice(statuses),
                        rng.choice(ips),
                        rng.choice(USER_AGENTS),
                        rng.randrange(1, 40),
                        dead,
                        False,
                    )
                )
            with transaction.atomic():
                write_rows(rows)
            written += size
        self._step("activity rows", written, started)

    def _hot_token(self, count: int, token_rows: list[tuple[int, int, bool]], days: int) -> None:
        """One live token with `count` rows in time order over the last `days` days."""
        live = [row for row in token_rows if not row[2]]
        if not count or not live:
            return
        started = time.monotonic()
        rng = self.random
        token_id, owner_id, _dead = live[0]
        APIToken.objects.filter(pk=token_id).update(
            revoked_at=None, expires_at=None, name="Busy CI bot"
        )
        statuses = [status for status, weight in STATUSES for _ in range(weight)]
        ips = ("192.0.2.10", "192.0.2.11", "192.0.2.12")
        span = days * 86400
        oldest = self.now - timedelta(seconds=span)
        step = span / count
        for offset in range(0, count, self.batch):
            rows = [
                ActivityRow(
                    token_id,
                    owner_id,
                    oldest + timedelta(seconds=index * step + rng.random() * step),
                    "GET",
                    PATHS[index % len(PATHS)],
                    rng.choice(statuses),
                    ips[index % 97 == 0],
                    "QuickBot-CLI/1.4",
                    rng.randrange(1, 40),
                    False,
                    False,
                )
                for index in range(offset, min(count, offset + self.batch))
            ]
            with transaction.atomic():
                write_rows(rows)
        public_id = APIToken.objects.get(pk=token_id).public_id
        self._step(f"hot token {public_id} rows", count, started)

    def _events(self, count: int, token_rows: list[tuple[int, int, bool]]) -> None:
        if not count or not token_rows:
            return
        started = time.monotonic()
        rng = self.random
        kinds = [kind for kind, _ in SecurityEvent.Kind.choices]
        for offset in range(0, count, self.batch):
            size = min(self.batch, count - offset)
            events = []
            for _ in range(size):
                token_id, owner_id, _dead = rng.choice(token_rows)
                moment = self.now - timedelta(seconds=rng.randrange(400 * 86400))
                events.append(
                    SecurityEvent(
                        created_at=moment,
                        last_seen_at=moment,
                        kind=rng.choice(kinds),
                        token_id=token_id,
                        token_name="Dataset token",
                        account_id=owner_id,
                        actor_kind=SecurityEvent.Actor.USER,
                        actor_id=owner_id,
                        ip=rng.choice(("203.0.113.5", "198.51.100.20", None)),
                        user_agent=rng.choice(USER_AGENTS),
                    )
                )
            with transaction.atomic():
                SecurityEvent.objects.bulk_create(events)
        self._step("security events", count, started)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
