"""Sample tokens with a month of activity for the demo account, so every page has data.

Called by `manage.py seed_demo` (and so by `make run`). Idempotent: an account that
already has the sample tokens is left alone. The token values are generated only to
derive a digest and identifier, then dropped: nobody, including this code, can print
or use them. Rows are written directly (no emails go out for sample data), with the
same security-log events the real services would write.
"""

from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from apitokens import activity, tokens
from apitokens.models import SCOPE_READ, SCOPE_WRITE, APIToken, SecurityEvent
from apitokens.services import ClientInfo, security_event_record

# The deleted token that someone keeps using, as the API Tokens page banner shows.
DELETED_TOKEN_NAME = "CI runner"
LEAKED_TOKEN_IP = "203.0.113.7"
DEAD_USES_SINCE_YESTERDAY = 14
NEW_DEVICE_IP = "192.0.2.44"

PATHS = (
    ("GET", "/api/v1/me/", 0.35),
    ("GET", "/api/v1/tokens/", 0.2),
    ("GET", "/api/v1/activity/", 0.35),
    ("POST", "/api/v1/bots/run/", 0.1),
)


@dataclass(frozen=True, slots=True)
class SampleToken:
    name: str
    scopes: tuple[str, ...]
    age_days: int
    lifetime_days: int | None
    requests_per_day: tuple[int, int]
    ips: tuple[str, ...]
    user_agent: str


SAMPLE_TOKENS = (
    SampleToken(
        name="Production Website Integration",
        scopes=(SCOPE_READ, SCOPE_WRITE),
        age_days=64,
        lifetime_days=90,
        requests_per_day=(140, 260),
        ips=("198.51.100.20", "198.51.100.21"),
        user_agent="quickbot-python/2.3 python-requests/2.32",
    ),
    SampleToken(
        name="Mobile App Backend",
        scopes=(SCOPE_READ,),
        age_days=41,
        lifetime_days=None,
        requests_per_day=(30, 90),
        ips=("198.51.100.77",),
        user_agent="okhttp/4.12.0",
    ),
    SampleToken(
        name="Development Testing",
        scopes=(SCOPE_READ,),
        age_days=24,
        lifetime_days=30,
        requests_per_day=(0, 12),
        ips=("127.0.0.1",),
        user_agent="curl/8.5.0",
    ),
    SampleToken(
        name=DELETED_TOKEN_NAME,
        scopes=(SCOPE_READ, SCOPE_WRITE),
        age_days=50,
        lifetime_days=None,
        requests_per_day=(20, 60),
        ips=("192.0.2.10",),
        user_agent="GitHub-Actions quickbot-cli/1.4",
    ),
)
SAMPLE_NAMES = tuple(sample.name for sample in SAMPLE_TOKENS)


def demo_data_seed(*, user: User, now: datetime | None = None, seed: int = 2026) -> int:
    """Give `user` the sample tokens and a month of activity; return how many tokens were
    added (0 when the account already has them)."""
    if user.api_tokens.filter(name__in=SAMPLE_NAMES).exists():
        return 0
    now = now or timezone.now()
    # The sample requests end an hour ago: the hourly limit counts what the API admitted
    # (in the cache), which seeded rows never were, so "0 used this hour" agrees with them.
    quiet_from = now - timedelta(hours=1)
    rng = random.Random(seed)
    with transaction.atomic():
        for sample in SAMPLE_TOKENS:
            token = _sample_token(user=user, sample=sample, now=now)
            deleted_at = (
                now - timedelta(days=3, hours=5) if sample.name == DELETED_TOKEN_NAME else None
            )
            rows = _sample_activity(
                token=token, sample=sample, now=now, rng=rng, until=deleted_at or quiet_from
            )
            if sample.name == "Mobile App Backend":
                # A burst in the half hour before the quiet hour: its first request (the
                # "New IP" row) is on the token page's first page at any time of day.
                rows += _requests(
                    token,
                    quiet_from - timedelta(minutes=30),
                    18,
                    rng,
                    ip=NEW_DEVICE_IP,
                    spread=timedelta(minutes=30),
                )
            if deleted_at is not None:
                _sample_delete(token=token, user=user, at=deleted_at)
                rows += _dead_uses(token=token, now=now, rng=rng)
            rows = [
                row._replace(request_id=_request_id(token, row.created_at, index))
                for index, row in enumerate(rows)
            ]
            activity.write_rows(rows)
            used = [row for row in rows if not row.flagged]
            if used:
                last = max(used, key=lambda row: row.created_at)
                APIToken.objects.filter(pk=token.pk).update(
                    last_used_at=last.created_at, last_used_ip=last.ip
                )
    return len(SAMPLE_TOKENS)


def demo_tokens_summary(*, user: User) -> str:
    """The sample tokens as the API Tokens page shows them: "3 on the API Tokens page and
    1 deleted (CI runner), which someone still uses"."""
    samples = user.api_tokens.filter(name__in=SAMPLE_NAMES)
    # The page lists active tokens only (the same query as its table).
    listed = samples.active().count()
    deleted = sorted(samples.exclude(pk__in=samples.active()).values_list("name", flat=True))
    summary = f"{listed} on the API Tokens page"
    if deleted:
        still_used = ", which someone still uses" if DELETED_TOKEN_NAME in deleted else ""
        summary += f" and {len(deleted)} deleted ({', '.join(deleted)}){still_used}"
    return summary


def _sample_token(*, user: User, sample: SampleToken, now: datetime) -> APIToken:
    created_at = now - timedelta(days=sample.age_days, hours=2)
    raw = tokens.generate_token()  # dropped below: only the digest is kept
    token = APIToken.objects.create(
        owner=user,
        name=sample.name,
        digest=tokens.token_digest(raw),
        identifier=tokens.token_identifier(raw),
        scopes=" ".join(sample.scopes),
        created_at=created_at,
        lifetime_days=sample.lifetime_days,
        expires_at=(
            created_at + timedelta(days=sample.lifetime_days) if sample.lifetime_days else None
        ),
    )
    del raw
    security_event_record(
        kind=SecurityEvent.Kind.CREATED,
        account=user,
        actor_kind=SecurityEvent.Actor.USER,
        actor=user,
        token=token,
        client=ClientInfo(ip="198.51.100.5", user_agent="Mozilla/5.0 (demo browser)"),
        now=created_at,
    )
    return token


def _sample_delete(*, token: APIToken, user: User, at: datetime) -> None:
    APIToken.objects.filter(pk=token.pk).update(
        revoked_at=at, revoked_by=user, revoked_reason=APIToken.RevokedBy.OWNER
    )
    token.revoked_at = at
    security_event_record(
        kind=SecurityEvent.Kind.DELETED,
        account=user,
        actor_kind=SecurityEvent.Actor.USER,
        actor=user,
        token=token,
        client=ClientInfo(ip="198.51.100.5", user_agent="Mozilla/5.0 (demo browser)"),
        now=at,
    )


def _requests(
    token: APIToken,
    start: datetime,
    count: int,
    rng: random.Random,
    *,
    ip: str,
    user_agent: str = "okhttp/4.12.0",
    spread: timedelta = timedelta(hours=6),
) -> list[activity.ActivityRow]:
    rows = []
    for _ in range(count):
        method, path = _pick_path(rng)
        rows.append(
            activity.activity_row(
                token_id=token.pk,
                owner_id=token.owner_id,
                now=start + spread * rng.random(),
                method=method,
                path=path,
                status=200,
                ip=ip,
                user_agent=user_agent,
                duration_ms=rng.randint(8, 60),
            )
        )
    return rows


def _request_id(token: APIToken, moment: datetime, index: int = 0) -> str:
    # Shaped like common.request_id's; derived, not drawn from `rng`: the rest of the demo
    # stays what the seed made it.
    digest = hashlib.sha256(f"{token.public_id} {moment.isoformat()} {index}".encode())
    return "req_" + base64.urlsafe_b64encode(digest.digest()).decode()[:22]


def _pick_path(rng: random.Random) -> tuple[str, str]:
    roll, total = rng.random(), 0.0
    for method, path, weight in PATHS:
        total += weight
        if roll <= total:
            return method, path
    return PATHS[0][0], PATHS[0][1]


def _pick_status(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.93:
        return 200
    if roll < 0.96:
        return 429
    if roll < 0.985:
        return 404
    if roll < 0.997:
        return 400
    return 500


def _sample_activity(
    *,
    token: APIToken,
    sample: SampleToken,
    now: datetime,
    rng: random.Random,
    until: datetime | None,
) -> list[activity.ActivityRow]:
    """About a month of requests: busier on weekdays and in working hours."""
    rows = []
    first_day = max(token.created_at, now - timedelta(days=30))
    end = until or now
    day = first_day.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        low, high = sample.requests_per_day
        count = rng.randint(low, high)
        if day.weekday() >= 5:
            count //= 3
        for _ in range(count):
            hour = min(23, max(0, int(rng.gauss(14, 4))))
            moment = day + timedelta(hours=hour, seconds=rng.randint(0, 3599))
            if not first_day <= moment < end:
                continue
            method, path = _pick_path(rng)
            rows.append(
                activity.activity_row(
                    token_id=token.pk,
                    owner_id=token.owner_id,
                    now=moment,
                    method=method,
                    path=path,
                    status=_pick_status(rng),
                    ip=rng.choice(sample.ips),
                    user_agent=sample.user_agent,
                    duration_ms=rng.randint(6, 180),
                )
            )
        day += timedelta(days=1)
    return rows


def _dead_uses(*, token: APIToken, now: datetime, rng: random.Random) -> list[activity.ActivityRow]:
    """Someone still holds the deleted token: a burst of calls from one address yesterday
    evening and two more today. Logged the way the API middleware would: flagged 401 rows
    and one security event per token per hour, with a count."""
    yesterday = timezone.localtime(now) - timedelta(days=1)
    burst_start = yesterday.replace(hour=21, minute=5, second=0, microsecond=0)
    moments = [burst_start + timedelta(minutes=4 * index) for index in range(12)]
    moments += [now - timedelta(hours=2, minutes=rng.randint(0, 50)) for _ in range(2)]
    rows = []
    events: dict[datetime, SecurityEvent] = {}
    ip, user_agent = LEAKED_TOKEN_IP, "python-requests/2.31"
    for moment in sorted(moments):
        rows.append(
            activity.activity_row(
                token_id=token.pk,
                owner_id=token.owner_id,
                now=moment,
                method="GET",
                path="/api/v1/me/",
                status=401,
                ip=ip,
                user_agent=user_agent,
                duration_ms=rng.randint(2, 9),
                flagged=True,
            )
        )
        hour = moment.replace(minute=0, second=0, microsecond=0)
        event = events.get(hour)
        if event is None:
            events[hour] = security_event_record(
                kind=SecurityEvent.Kind.DELETED_TOKEN_USED,
                account=token.owner,
                actor_kind=SecurityEvent.Actor.TOKEN,
                token=token,
                client=ClientInfo(ip=ip, user_agent=user_agent),
                now=moment,
            )
        else:
            event.count += 1
            event.last_seen_at = moment
            event.save(update_fields=["count", "last_seen_at"])
    return rows
