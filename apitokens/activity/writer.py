"""Writing activity rows to the database now: a multi-row INSERT (on PostgreSQL a COPY),
with their hourly rollups and address facts in the same transaction (`write_rows`).

Why not the ORM's bulk_create: a hand-built INSERT is cheaper to prepare, and COPY skips
parsing and planning one with thousands of parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, transaction

from apitokens.activity.rollups import rollups_add
from apitokens.activity.rows import ACTIVITY_COLUMNS
from apitokens.activity.statements import batches, values_placeholders
from apitokens.models import TokenActivity

_CREATED_AT = ACTIVITY_COLUMNS.index("created_at")
_IP = ACTIVITY_COLUMNS.index("ip")


def write_rows(rows: Sequence[tuple]) -> None:
    """Write activity rows (`ActivityRow`s or tuples in `ACTIVITY_COLUMNS` order) now,
    with their rollups (`rollups_add`) in the same transaction, so the counts always agree
    with the rows: a multi-row INSERT per batch of up to 500 rows; on PostgreSQL a COPY."""
    # savepoint=False: no SAVEPOINT round trips; outside a transaction it is one.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            _copy(rows)
        else:
            _insert(rows)
        rollups_add(rows)


def _insert(rows: Sequence[tuple]) -> None:
    operations = connection.ops
    table, columns = _quoted_target()
    with connection.cursor() as cursor:
        for batch in batches(rows, len(ACTIVITY_COLUMNS)):
            params = []
            for row in batch:
                values = list(row)
                values[_CREATED_AT] = operations.adapt_datetimefield_value(values[_CREATED_AT])
                values[_IP] = operations.adapt_ipaddressfield_value(values[_IP])
                params.extend(values)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "
                f"VALUES {values_placeholders(len(ACTIVITY_COLUMNS), len(batch))}",
                params,
            )


def _copy(rows: Sequence[tuple]) -> None:
    """PostgreSQL: the rows through COPY ... FROM STDIN. All rows or none, like the INSERT."""
    table, columns = _quoted_target()
    # Django's cursor wrapper hands `copy` to psycopg (its debug wrapper logs it too).
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _quoted_target() -> tuple[str, str]:
    """The activity table and its `ACTIVITY_COLUMNS`, quoted for this connection's SQL."""
    quote = connection.ops.quote_name
    meta = TokenActivity._meta
    columns = ", ".join(quote(meta.get_field(name).column) for name in ACTIVITY_COLUMNS)
    return quote(meta.db_table), columns
