"""The activity store: what tokens did, as raw rows and the rollups every page reads.

Used by the API (which records each request: `apitokens.api.usage`) and by the pages,
commands and demo that read or load activity.

- `rows`: the activity row and its columns (`ActivityRow`, `ACTIVITY_COLUMNS`).
- `buffer`: the process's buffer and its flusher thread (`activity_buffer`).
- `writer`: writing rows now, INSERT or PostgreSQL COPY (`write_rows`).
- `rollups`: the hourly rollups and address facts (`rollups_add`, `rollups_rebuild`).
- `traces`: unknown-token traces per client address.
- `last_used`: a token's throttled last use (`last_used_touch`), and its old value's, which
  keeps an overlap "until its traffic stops" open (`previous_value_touch`).
- `statements`: batching rows into multi-row statements.
"""

from apitokens.activity.buffer import (
    ActivityBuffer,
    activity_buffer,
    activity_flush,
    activity_pending,
    activity_record,
    gunicorn_worker_exit,
    unknown_token_seen,
)
from apitokens.activity.last_used import last_used_touch, previous_value_touch
from apitokens.activity.rollups import (
    COUNTERS,
    hour_of,
    rollups_add,
    rollups_rebuild,
    status_counter,
    token_addresses_upsert,
    usage_hours_upsert,
)
from apitokens.activity.rows import ACTIVITY_COLUMNS, ActivityRow, activity_row, activity_rows
from apitokens.activity.writer import write_rows

__all__ = [
    "ACTIVITY_COLUMNS",
    "COUNTERS",
    "ActivityBuffer",
    "ActivityRow",
    "activity_buffer",
    "activity_flush",
    "activity_pending",
    "activity_record",
    "activity_row",
    "activity_rows",
    "gunicorn_worker_exit",
    "hour_of",
    "last_used_touch",
    "previous_value_touch",
    "rollups_add",
    "rollups_rebuild",
    "status_counter",
    "token_addresses_upsert",
    "unknown_token_seen",
    "usage_hours_upsert",
    "write_rows",
]
