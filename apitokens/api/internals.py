"""Every use of Django's or a database driver's private internals in QuickBot: here, and only here.

Checked against Django 6.1, psycopg 3.3 and Python's sqlite3 (3.12/3.13). A Django or driver
upgrade that changes one of them fails `tests/apitokens/api/test_lookup.py`, which runs the
fast lookup against the plain ORM lookup on SQLite and on PostgreSQL; setting
QUICKBOT_FAST_TOKEN_LOOKUP=false switches the API to the ORM lookup without a deploy of code.

What is used, and why:

1. `response._has_been_logged = True` (`mark_response_logged`): `django.utils.log.log_response`
   skips a response carrying it. Expected API refusals (401, 429...) are answered by the
   thousand when a client sprays bad tokens; they must not each write a warning line.
2. The fast token lookup (`fetch_token_with_owner`), the API's one query per request:
   a. the database driver's own connection (`connection.connection`), bypassing Django's
      cursor wrapper and, on SQLite, its per-execute placeholder rewriting; the lookup still
      refuses inside a broken transaction, runs `connection.execute_wrappers` and appears in
      `connection.queries` exactly as Django's cursor would make it;
   b. on SQLite, columns selected as `+column`, so the sqlite3 driver skips its per-column
      declared-type lookup (the converters below type the values, as on other databases);
   c. on PostgreSQL, psycopg 3's `prepare=True` and `Connection.prepare_threshold` (Django
      sets it to None, which also ignores `prepare=True`): the join is parsed and planned
      once per connection instead of on every request;
   d. model instances built with `Model.__new__` and `_state` set as `Model.from_db` does,
      and the owner put in the token's relation cache (`Field.set_cached_value`), without
      running `__init__` field by field;
   e. `connection.health_check_done`: the lookup itself is the connection's health check
      (a dropped connection is reopened and the read retried once), so CONN_HEALTH_CHECKS
      costs no extra `SELECT 1` round trip on the API path.
   The figures behind each choice are in docs/performance.md.
3. `SimpleLazyObject._wrapped` (`loaded_user_id`): the log lines of a request name its user
   only when something already loaded it; asking `request.user` would read the session and
   the user (two queries) on a page that never needed them.
"""

from __future__ import annotations

import functools
import time
from datetime import datetime

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, models
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from apitokens.models import APIToken


def mark_response_logged(response: HttpResponse) -> None:
    """Keep `django.request` from logging this (expected, client-caused) error response."""
    response._has_been_logged = True


def loaded_user_id(request: HttpRequest) -> int | None:
    """The id of the request's user if it is signed in and already loaded (the API's token
    owner, a page's user once asked for); None otherwise, without loading it."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = user._wrapped
        if user is empty:
            return None
    return getattr(user, "pk", None)


class _Plan:
    """The lookup statement of one database, its column-to-field mapping and converters."""

    __slots__ = (
        "sql",
        "native_sql",
        "converters",
        "split",
        "token_names",
        "owner_names",
        "owner_model",
        "owner_field",
    )

    def __init__(self, alias: str) -> None:
        connection = connections[alias]
        quote = connection.ops.quote_name
        owner_field = APIToken._meta.get_field("owner")
        owner_model = owner_field.related_model
        token_fields = list(APIToken._meta.concrete_fields)
        owner_fields = list(owner_model._meta.concrete_fields)
        tail = (
            f" FROM {quote(APIToken._meta.db_table)} t "
            f"INNER JOIN {quote(owner_model._meta.db_table)} u "
            f"ON u.{quote(owner_model._meta.pk.column)} = t.{quote(owner_field.column)} "
            f"WHERE t.{quote('digest')} = %s OR t.{quote('previous_digest')} = %s LIMIT 1"
        )
        columns = [f"t.{quote(field.column)}" for field in token_fields]
        columns += [f"u.{quote(field.column)}" for field in owner_fields]
        self.sql = f"SELECT {', '.join(columns)}{tail}"
        self.native_sql = None
        if connection.vendor == "sqlite":
            plus = ", ".join(f"+{column}" for column in columns)
            self.native_sql = f"SELECT {plus}{tail}".replace("%s", "?")
        # Backend converters pass NULL through (a field's own from_db_value may not).
        self.converters = []
        for index, field in enumerate([*token_fields, *owner_fields]):
            expression = field.cached_col
            backend = [
                _sqlite_aware_datetime(connection, function)
                for function in connection.ops.get_db_converters(expression)
            ]
            own = field.get_db_converters(connection)
            if backend or own:
                self.converters.append((index, expression, backend + own, not own))
        self.split = len(token_fields)
        self.token_names = tuple(field.attname for field in token_fields)
        self.owner_names = tuple(field.attname for field in owner_fields)
        self.owner_model, self.owner_field = owner_model, owner_field


_plans: dict[str, _Plan] = {}


def lookup_statement(alias: str = "default") -> tuple[str, str | None]:
    """The lookup's SQL (Django's placeholder style) and, on SQLite, the driver's own."""
    plan = _plan(alias)
    return plan.sql, plan.native_sql


def _plan(alias: str) -> _Plan:
    plan = _plans.get(alias)
    if plan is None:
        plan = _plans[alias] = _Plan(alias)
    return plan


def _sqlite_aware_datetime(connection, function):
    """SQLite with USE_TZ: datetime columns arrive as the ISO text Django stores (through
    `+column`); make them aware directly, else use the backend's own converter."""
    if connection.vendor != "sqlite" or not settings.USE_TZ:
        return function
    original = getattr(type(connection.ops), "convert_datetimefield_value", None)
    if original is None or getattr(function, "__func__", None) is not original:
        return function

    def aware_datetime(value, expression, connection):
        if value.__class__ is str:
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return function(value, expression, connection)
        if value.__class__ is datetime and value.tzinfo is None:
            return value.replace(tzinfo=connection.timezone)
        return function(value, expression, connection)

    return aware_datetime


def lookup_row(digest: str, alias: str = "default") -> tuple | None:
    """The lookup's statement alone, its row unconverted (the benchmark's floor)."""
    return _fetch(connections[alias], _plan(alias), (digest, digest))


def fetch_token_with_owner(digest: str, alias: str = "default") -> APIToken | None:
    """The token whose current or previous digest is `digest`, its owner loaded, or None."""
    plan = _plan(alias)
    connection = connections[alias]
    row = _fetch(connection, plan, (digest, digest))
    if row is None:
        return None
    values = list(row)
    for index, expression, functions, none_passes in plan.converters:
        value = values[index]
        if value is None and none_passes:
            continue
        for function in functions:
            value = function(value, expression, connection)
        values[index] = value
    token = _instance(APIToken, alias, plan.token_names, values[: plan.split])
    owner = _instance(plan.owner_model, alias, plan.owner_names, values[plan.split :])
    plan.owner_field.set_cached_value(token, owner)
    return token


def _instance(model: type[models.Model], alias: str, names: tuple[str, ...], values: list):
    """What `Model.from_db` returns, without `__init__` (neither model hooks into init)."""
    instance = model.__new__(model)
    instance.__dict__.update(zip(names, values, strict=True))
    state = instance._state = models.base.ModelState()
    state.adding = False
    state.db = alias
    return instance


def _fetch(connection, plan: _Plan, params: tuple) -> tuple | None:
    # The same refusal Django's cursor gives inside a broken atomic block.
    connection.validate_no_broken_transaction()
    for attempt in (1, 2):
        if connection.connection is None:
            connection.ensure_connection()
        try:
            try:
                row = _execute_observed(connection, plan, params)
            except Exception:
                with connection.wrap_database_errors:
                    raise
        except (OperationalError, InterfaceError):
            # A connection the server dropped: reopen and read again, outside transactions.
            if attempt == 2 or connection.in_atomic_block:
                raise
            connection.close()
            continue
        connection.health_check_done = True
        return row
    return None  # unreachable


def _execute_observed(connection, plan: _Plan, params: tuple) -> tuple | None:
    """The driver-level execute, through `execute_wrappers` and into `connection.queries`
    when Django would log it (DEBUG, `CaptureQueriesContext`), as its cursor does."""
    if not connection.execute_wrappers and not connection.queries_logged:
        return _execute(connection, plan, plan.sql, params, False, None)  # nothing observes
    executor = functools.reduce(
        lambda executor, wrapper: functools.partial(wrapper, executor),
        connection.execute_wrappers,
        functools.partial(_execute, connection, plan),
    )
    run = functools.partial(
        executor, plan.sql, params, False, {"connection": connection, "cursor": None}
    )
    if not connection.queries_logged:
        return run()
    started = time.monotonic()
    try:
        return run()
    finally:
        connection.queries_log.append(
            {
                "sql": plan.sql.replace("%s", "'%s'") % params,
                "time": f"{time.monotonic() - started:.3f}",
            }
        )


def _execute(connection, plan: _Plan, sql, params, many, context) -> tuple | None:
    """Run the lookup on the driver's connection (the wrapper protocol's signature)."""
    raw = connection.connection
    if plan.native_sql is not None:  # SQLite: the driver's placeholder style
        return raw.execute(plan.native_sql, params).fetchone()
    cursor = _prepared_cursor(connection)
    prepare = cursor is not None
    if cursor is None:
        cursor = connection.create_cursor()
    try:
        if prepare:
            cursor.execute(plan.sql, params, prepare=True)
        else:
            cursor.execute(plan.sql, params)
        return cursor.fetchone()
    finally:
        cursor.close()


def _prepared_cursor(connection):
    """PostgreSQL with psycopg 3: a server-side-binding cursor that may prepare the lookup;
    None elsewhere or when QUICKBOT_PREPARED_TOKEN_LOOKUP is off (PgBouncer < 1.21)."""
    if connection.vendor != "postgresql" or not settings.QUICKBOT_PREPARED_TOKEN_LOOKUP:
        return None
    import psycopg  # only PostgreSQL installations have the driver
    from django.db.backends.postgresql import base as postgresql

    if not getattr(postgresql, "is_psycopg3", False):
        return None
    raw = connection.connection
    if raw.prepare_threshold is None:
        # A threshold never reached keeps every other query unprepared, as Django wants.
        raw.prepare_threshold = 2**31 - 1
    cursor = psycopg.Cursor(raw)
    loader = raw.adapters.get_loader(postgresql.TIMESTAMPTZ_OID, postgresql.Format.TEXT)
    if connection.timezone != loader.timezone:  # as Django's create_cursor does
        postgresql.register_tzloader(connection.timezone, cursor)
    return cursor
