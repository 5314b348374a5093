"""The hourly rollups and per-address facts that every chart and count reads: which
counters a status adds to, the hour a request falls in, adding activity rows to them in
the rows' own transaction (`rollups_add`), and rebuilding them from the raw rows
(`rollups_rebuild`).

Hour rows are keyed (token, UTC hour) and address rows (token, ip); both are written with
one upsert statement per table and batch, whatever the row count.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from django.db import connection, transaction

from apitokens.activity.rows import ACTIVITY_COLUMNS
from apitokens.activity.statements import batches, values_placeholders
from apitokens.models import TokenActivity, TokenAddress, TokenUsageHour
from apitokens.webhooks.events import new_address_subscribed, token_new_addresses_emit

logger = logging.getLogger(__name__)

# The counters of an hour row, in this order after token, owner, hour.
COUNTERS = (
    "requests",
    "status_2xx",
    "status_401",
    "status_403",
    "status_429",
    "status_4xx_other",
    "status_5xx",
)
# What the rollups read of an activity row (all `rollups_rebuild` fetches of the raw rows).
_ROLLUP_COLUMNS = ("token_id", "owner_id", "created_at", "status", "ip")


def status_counter(status: int) -> int | None:
    """Index in `COUNTERS` of the status class `status` adds to (besides `requests`)."""
    if 200 <= status < 300:
        return 1
    if status in (401, 403, 429):
        return {401: 2, 403: 3, 429: 4}[status]
    if 400 <= status < 500:
        return 5
    if 500 <= status < 600:
        return 6
    return None  # 1xx/3xx: counted in `requests` only


def hour_of(moment: datetime) -> datetime:
    """The UTC hour a moment falls in (the rollups' key)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def rollups_add(rows: Sequence[tuple]) -> None:
    """Add activity rows (`ActivityRow`s or tuples in `ACTIVITY_COLUMNS` order) to the
    hourly rollups and the per-address facts."""
    hour_rows, address_rows = _rollup_rows(rows, ACTIVITY_COLUMNS)
    usage_hours_upsert(hour_rows, replace=False)
    new_addresses = new_address_rows(address_rows)
    token_addresses_upsert(address_rows)
    if new_addresses:
        try:
            with transaction.atomic():  # a savepoint: the rows stay should a webhook fail
                token_new_addresses_emit(pairs=new_addresses)
        except Exception:
            logger.exception("Could not queue the token.used_from_new_address webhooks")


def new_address_rows(address_rows: Sequence[tuple]) -> list[tuple]:
    """The (token_id, ip, first_seen_at) of address rows whose token was never used from
    that address: only looked up while some endpoint subscribes to
    `token.used_from_new_address` (one query per batch otherwise)."""
    if not address_rows or not new_address_subscribed():
        return []
    known = set(
        TokenAddress.objects.filter(
            token_id__in={row[0] for row in address_rows}, ip__in={row[1] for row in address_rows}
        ).values_list("token_id", "ip")
    )
    return [
        (token_id, ip, first)
        for token_id, ip, first, _last in address_rows
        if (token_id, ip) not in known
    ]


def _rollup_rows(rows: Sequence[tuple], columns: Sequence[str]) -> tuple[list[tuple], list[tuple]]:
    """The rollup rows of activity rows whose values follow `columns`:
    (token, owner, hour, *counters) and (token, ip, first, last)."""
    token_at, owner_at, created_at, status_at, ip_at = (
        columns.index(name) for name in _ROLLUP_COLUMNS
    )
    hours: dict[tuple[int, datetime], list] = {}
    addresses: dict[tuple[int, str], list] = {}
    for row in rows:
        moment = row[created_at]
        key = (row[token_at], hour_of(moment))
        counts = hours.get(key)
        if counts is None:
            counts = hours[key] = [row[owner_at], 0, 0, 0, 0, 0, 0, 0]
        counts[1] += 1
        index = status_counter(row[status_at])
        if index is not None:
            counts[1 + index] += 1
        if row[ip_at]:
            seen = addresses.get((row[token_at], row[ip_at]))
            if seen is None:
                addresses[(row[token_at], row[ip_at])] = [moment, moment]
            else:
                seen[0], seen[1] = min(seen[0], moment), max(seen[1], moment)
    hour_rows = [
        (token_id, counts[0], hour, *counts[1:]) for (token_id, hour), counts in hours.items()
    ]
    address_rows = [
        (token_id, ip, first, last) for (token_id, ip), (first, last) in addresses.items()
    ]
    return hour_rows, address_rows


def usage_hours_upsert(rows: Sequence[tuple], *, replace: bool) -> None:
    """Upsert (token_id, owner_id, hour, *counters) rows into the hourly rollups: added to
    what is there, or replacing it (`replace`, for a rebuild from the raw rows)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    meta = TokenUsageHour._meta
    names = ("token_id", "owner_id", "hour", *COUNTERS)
    columns = ", ".join(quote(meta.get_field(name).column) for name in names)
    table = quote(meta.db_table)
    token, hour = quote(meta.get_field("token").column), quote(meta.get_field("hour").column)
    updates = ", ".join(
        f"{quote(name)} = EXCLUDED.{quote(name)}"
        if replace
        else f"{quote(name)} = {table}.{quote(name)} + EXCLUDED.{quote(name)}"
        for name in COUNTERS
    )
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for batch in batches(rows, len(names)):
            params = []
            for row in batch:
                params.extend((row[0], row[1], adapt(row[2]), *row[3:]))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "
                f"VALUES {values_placeholders(len(names), len(batch))} "
                f"ON CONFLICT ({token}, {hour}) DO UPDATE SET {updates}",
                params,
            )


def token_addresses_upsert(rows: Sequence[tuple]) -> None:
    """Upsert (token_id, ip, first_seen_at, last_seen_at) rows: the earliest first and the
    latest last request win, so adding the same rows twice changes nothing."""
    if not rows:
        return
    quote = connection.ops.quote_name
    meta = TokenAddress._meta
    names = ("token_id", "ip", "first_seen_at", "last_seen_at")
    columns = ", ".join(quote(meta.get_field(name).column) for name in names)
    table = quote(meta.db_table)
    token, ip, first, last = (quote(meta.get_field(name).column) for name in names)
    least, greatest = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
    adapt = connection.ops.adapt_datetimefield_value
    adapt_ip = connection.ops.adapt_ipaddressfield_value
    with connection.cursor() as cursor:
        for batch in batches(rows, len(names)):
            params = []
            for token_id, address, first_seen, last_seen in batch:
                params.extend((token_id, adapt_ip(address), adapt(first_seen), adapt(last_seen)))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "
                f"VALUES {values_placeholders(len(names), len(batch))} "
                f"ON CONFLICT ({token}, {ip}) DO UPDATE SET "
                f"{first} = {least}({table}.{first}, EXCLUDED.{first}), "
                f"{last} = {greatest}({table}.{last}, EXCLUDED.{last})",
                params,
            )


def rollups_rebuild(*, start: datetime, end: datetime) -> tuple[int, int]:
    """Recompute the hourly rollups of the whole UTC hours in [start, end) from the raw
    activity rows, and merge their address facts; returns (activity rows read, hour rows
    written). One transaction; idempotent; safe while the writer runs: on PostgreSQL the
    rollup tables are locked against other writers (not readers) until it commits, so a
    batch the writer commits meanwhile is either read here or added after."""
    start, end = hour_of(start), hour_of(end)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            quote = connection.ops.quote_name
            with connection.cursor() as cursor:
                cursor.execute(
                    f"LOCK TABLE {quote(TokenUsageHour._meta.db_table)}, "
                    f"{quote(TokenAddress._meta.db_table)} IN SHARE ROW EXCLUSIVE MODE"
                )
        # On SQLite this DELETE takes the database's write lock first, with the same effect.
        TokenUsageHour.objects.filter(hour__gte=start, hour__lt=end).delete()
        rows = list(
            TokenActivity.objects.filter(created_at__gte=start, created_at__lt=end)
            .order_by()
            .values_list(*_ROLLUP_COLUMNS)
            .iterator(chunk_size=5000)
        )
        hour_rows, address_rows = _rollup_rows(rows, _ROLLUP_COLUMNS)
        usage_hours_upsert(hour_rows, replace=True)
        token_addresses_upsert(address_rows)
    return len(rows), len(hour_rows)
