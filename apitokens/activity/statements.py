"""Multi-row statements for the activity tables: rows split into batches that stay under
the driver's parameter limit, and the VALUES list of one batch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from django.db import connection

BATCH_ROWS = 500


def batches(rows: Sequence[tuple], width: int) -> Iterator[Sequence[tuple]]:
    """`rows` of `width` values each, in batches of at most BATCH_ROWS rows and the
    connection's maximum number of query parameters."""
    limit = connection.features.max_query_params or width * BATCH_ROWS
    size = max(1, min(BATCH_ROWS, limit // width))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def values_placeholders(width: int, count: int) -> str:
    """The placeholders of `count` rows of `width` values: "(%s, %s), (%s, %s)"."""
    one_row = "(" + ", ".join(["%s"] * width) + ")"
    return ", ".join([one_row] * count)
