"""API tokens, their per-request activity, and their security log."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from apitokens import tokens

SCOPE_READ = "read"
SCOPE_WRITE = "write"
ALL_SCOPES = (SCOPE_READ, SCOPE_WRITE)

AuthFailure = Literal["malformed", "unknown", "revoked", "expired", "inactive"]


@dataclass(frozen=True, slots=True)
class AuthResult:
    """Outcome of `APIToken.objects.authenticate`: a token, or the reason there is none.

    `token` is set for "revoked" and "expired" too, so callers can record who still
    holds a dead token; `ok` is True only for a usable token of an active user.
    """

    token: APIToken | None
    reason: AuthFailure | None = None
    used_previous_value: bool = False

    @property
    def ok(self) -> bool:
        return self.reason is None


class APITokenQuerySet(models.QuerySet["APIToken"]):
    def active(self) -> APITokenQuerySet:
        """Tokens not deleted (expired ones included: they stay listed until deleted)."""
        return self.filter(revoked_at__isnull=True)

    def revoked(self) -> APITokenQuerySet:
        return self.filter(revoked_at__isnull=False)

    def usable(self, now: datetime | None = None) -> APITokenQuerySet:
        """Tokens that authenticate right now."""
        now = now or timezone.now()
        return self.active().filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))

    def authenticate(self, raw: str, now: datetime | None = None) -> AuthResult:
        """Look a presented token value up by digest in one indexed query; never raises
        for bad input. A previous value still inside its rotation overlap counts.

        The hot path of every API request: one raw SQL query joining the owner (the ORM's
        query building costs ten times the query itself), rows turned into model
        instances with the backend's own converters.
        """
        if not tokens.is_well_formed(raw):
            return AuthResult(None, "malformed")
        return self.authenticate_well_formed(raw, now)

    def authenticate_well_formed(self, raw: str, now: datetime | None = None) -> AuthResult:
        """`authenticate` for a value already known to be well-formed (checksum included),
        e.g. by `tokens.parse_authorization`'s BEARER verdict: the API path checks it once."""
        return self.authenticate_digest(tokens.token_digest(raw), now)

    def authenticate_digest(self, digest: str, now: datetime | None = None) -> AuthResult:
        """`authenticate_well_formed` for the digest of a well-formed value (the API path
        needs the digest before the lookup, see `ratelimit.rate_limit_begin`)."""
        token = _token_with_owner_by_digest(self.db, digest)
        if token is None:
            return AuthResult(None, "unknown")
        now = now or timezone.now()
        used_previous = not hmac.compare_digest(token.digest, digest)
        if used_previous and (
            token.previous_expires_at is None or token.previous_expires_at <= now
        ):
            return AuthResult(token, "expired", used_previous_value=True)
        if token.revoked_at is not None:
            return AuthResult(token, "revoked", used_previous)
        if token.expires_at is not None and token.expires_at <= now:
            return AuthResult(token, "expired", used_previous)
        if not token.owner.is_active:
            return AuthResult(token, "inactive", used_previous)
        return AuthResult(token, None, used_previous)


_LOOKUP_PLANS: dict[str, tuple] = {}


def _lookup_plan(alias: str) -> tuple:
    """SQL, column-to-field mapping and converters of the token+owner lookup, built once
    per database."""
    plan = _LOOKUP_PLANS.get(alias)
    if plan is not None:
        return plan

    connection = connections[alias]
    quote = connection.ops.quote_name
    owner_model = APIToken._meta.get_field("owner").related_model
    token_table, owner_table = quote(APIToken._meta.db_table), quote(owner_model._meta.db_table)
    tail = (
        f" FROM {token_table} t "
        f"INNER JOIN {owner_table} u ON u.{quote(owner_model._meta.pk.column)} = "
        f"t.{quote(APIToken._meta.get_field('owner').column)} "
        f"WHERE t.{quote('digest')} = %s OR t.{quote('previous_digest')} = %s LIMIT 1"
    )
    # `t.*, u.*` keeps the statement short: the SQLite backend rewrites each statement's
    # placeholders with a regex, which costs more than the query on a long column list.
    # The tables' column order (which migrations decide) is read once and mapped to fields.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT t.* FROM {token_table} t WHERE 1 = 0")
        token_columns = [column[0] for column in cursor.description]
        cursor.execute(f"SELECT u.* FROM {owner_table} u WHERE 1 = 0")
        owner_columns = [column[0] for column in cursor.description]
    token_fields = _fields_in_order(APIToken, token_columns)
    owner_fields = _fields_in_order(owner_model, owner_columns)
    if token_fields is not None and owner_fields is not None:
        sql = f"SELECT t.*, u.*{tail}"
    else:
        token_fields = list(APIToken._meta.concrete_fields)
        owner_fields = list(owner_model._meta.concrete_fields)
        columns = [f"t.{quote(field.column)}" for field in token_fields]
        columns += [f"u.{quote(field.column)}" for field in owner_fields]
        sql = f"SELECT {', '.join(columns)}{tail}"
    # Backend converters pass NULL through (a field's own from_db_value may not): a NULL
    # column with only backend converters is left as it is, without a call.
    converters = []
    for index, field in enumerate([*token_fields, *owner_fields]):
        expression = field.cached_col
        backend = [
            _quick_converter(connection, function)
            for function in connection.ops.get_db_converters(expression)
        ]
        own = field.get_db_converters(connection)
        if backend or own:
            converters.append((index, expression, backend + own, not own))
    # SQLite: the statement in the driver's own placeholder style, run on the driver's
    # connection (Django's cursor wrapper rewrites placeholders with a regex per execute).
    # Each column is selected as `+column` (SQLite's no-op unary plus): an expression has no
    # declared type, so the driver skips its per-column converter lookup on every execute
    # (it upper-cases each declared type and looks it up: ~10 us for these 30 columns, more
    # than the query) and the converters below do the typing, as they do on other databases.
    native_sql = None
    if connection.vendor == "sqlite":
        columns = [f"+t.{quote(field.column)}" for field in token_fields]
        columns += [f"+u.{quote(field.column)}" for field in owner_fields]
        native_sql = f"SELECT {', '.join(columns)}{tail}".replace("%s", "?")
    plan = (
        sql,
        native_sql,
        converters,
        len(token_fields),
        tuple(field.attname for field in token_fields),
        tuple(field.attname for field in owner_fields),
        owner_model,
    )
    _LOOKUP_PLANS[alias] = plan
    return plan


def _quick_converter(connection, function):
    """On SQLite with USE_TZ, datetime columns arrive as naive datetimes (driver converter)
    or as the ISO text Django stores (the lookup's `+column`): make them aware directly
    (what `convert_datetimefield_value` ends up doing, through a settings lookup, a regex
    parse and two helper calls per column); anything else takes the backend's converter."""
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


def _fields_in_order(model: type[models.Model], columns: list[str]) -> list | None:
    """The model's concrete fields in the table's column order; None if they differ."""
    by_column = {field.column: field for field in model._meta.concrete_fields}
    if sorted(columns) != sorted(by_column):
        return None
    return [by_column[column] for column in columns]


def _token_with_owner_by_digest(alias: str, digest: str) -> APIToken | None:
    sql, native_sql, converters, split, token_attnames, owner_attnames, owner_model = _lookup_plan(
        alias
    )
    connection = connections[alias]
    if connection.queries_logged or connection.execute_wrappers or connection.needs_rollback:
        # Observed (tests, DEBUG, query counting) or inside a broken atomic block: take
        # Django's cursor wrapper, which logs, runs execute_wrappers and refuses properly.
        with connection.cursor() as cursor:
            cursor.execute(sql, (digest, digest))
            row = cursor.fetchone()
    else:
        row = _fetch_fast(connection, sql, (digest, digest), native_sql)
    if row is None:
        return None
    values = list(row)
    for index, expression, functions, none_passes in converters:
        value = values[index]
        if value is None and none_passes:
            continue
        for function in functions:
            value = function(value, expression, connection)
        values[index] = value
    token = _instance(APIToken, alias, token_attnames, values[:split])
    owner = _instance(owner_model, alias, owner_attnames, values[split:])
    _owner_field().set_cached_value(token, owner)
    return token


@lru_cache(maxsize=1)
def _owner_field():
    return APIToken._meta.get_field("owner")


def _fetch_fast(connection, sql: str, params: tuple, native_sql: str | None) -> tuple | None:
    """The query through the backend's own cursor, with Django's connection management and
    error translation but without its wrapper layers (~10 us a request).

    Instead of CONN_HEALTH_CHECKS' extra `SELECT 1` round trip before the first query of a
    request, the query itself is the check: a connection the server dropped is reopened and
    the query retried once (safe: a read, outside any transaction).
    """
    for attempt in (1, 2):
        if connection.connection is None:  # ensure_connection's own test, without its
            connection.ensure_connection()  # async-safety wrapper on every call
        try:
            try:
                row = _execute(connection, sql, params, native_sql)
            except Exception:
                # Django's error translation, entered only when there is an error to
                # translate (the context manager costs a microsecond on every query).
                with connection.wrap_database_errors:
                    raise
        except (OperationalError, InterfaceError):
            if attempt == 2 or connection.in_atomic_block:
                raise
            connection.close()
            continue
        connection.health_check_done = True
        return row
    return None  # unreachable


def _execute(connection, sql: str, params: tuple, native_sql: str | None) -> tuple | None:
    if native_sql is not None:  # SQLite: the driver's connection, its placeholder style
        return connection.connection.execute(native_sql, params).fetchone()
    cursor = _prepared_cursor(connection)
    if cursor is not None:
        try:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchone()
        finally:
            cursor.close()
    cursor = connection.create_cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchone()
    finally:
        cursor.close()


def _prepared_cursor(connection):
    """On PostgreSQL (psycopg 3), a server-side-binding cursor, so the lookup can be a
    prepared statement: Django's client-side binding makes PostgreSQL parse and plan the
    join on every request (~70 us of a ~150 us lookup). None elsewhere, or when
    QUICKBOT_PREPARED_TOKEN_LOOKUP is off (e.g. behind PgBouncer < 1.21 in transaction mode).
    """
    if connection.vendor != "postgresql" or not settings.QUICKBOT_PREPARED_TOKEN_LOOKUP:
        return None
    try:
        import psycopg
        from django.db.backends.postgresql import base as postgresql
    except ImportError:
        return None
    if not getattr(postgresql, "is_psycopg3", False):
        return None
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django turns psycopg's preparation off (None), which also ignores prepare=True.
        # A threshold never reached keeps every other query unprepared, as Django wants.
        raw.prepare_threshold = 2**31 - 1
    cursor = psycopg.Cursor(raw)
    loader = connection.connection.adapters.get_loader(
        postgresql.TIMESTAMPTZ_OID, postgresql.Format.TEXT
    )
    if connection.timezone != loader.timezone:  # as Django's create_cursor does
        postgresql.register_tzloader(connection.timezone, cursor)
    return cursor


def _instance(
    model: type[models.Model], alias: str, attnames: tuple[str, ...], values: list
) -> models.Model:
    """What `Model.from_db` returns, without running `__init__` field by field (a third of
    the lookup's cost). Neither model has fields that hook into pre_init/post_init."""
    instance = model.__new__(model)
    instance.__dict__.update(zip(attnames, values, strict=True))
    state = instance._state = models.base.ModelState()
    state.adding = False
    state.db = alias
    return instance


class APIToken(models.Model):
    """A personal API token. Only the SHA-256 digest of its value is stored."""

    class RevokedBy(models.TextChoices):
        OWNER = "owner", "the owner"
        STAFF = "staff", "staff"
        SELF = "self", "the token itself (API)"

    public_id = models.CharField(
        max_length=16, unique=True, default=tokens.new_public_id, editable=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    identifier = models.CharField(max_length=16, editable=False)
    scopes = models.CharField(
        max_length=32, default=SCOPE_READ, help_text="Space-separated permissions: read, write."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_used_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    # Expiry: None means "No expiration". lifetime_days remembers the choice so a
    # regenerate can apply the same lifetime again (None with expires_at = custom date).
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lifetime_days = models.PositiveIntegerField(null=True, blank=True)
    # Rotation: the value before the last regenerate keeps working until previous_expires_at.
    previous_digest = models.CharField(
        max_length=64, unique=True, null=True, blank=True, editable=False
    )
    previous_identifier = models.CharField(max_length=16, blank=True, editable=False)
    previous_expires_at = models.DateTimeField(null=True, blank=True)
    regenerated_at = models.DateTimeField(null=True, blank=True)
    # Expiry reminders already sent ("7d", "1d"), so the cron job is idempotent.
    reminders_sent = models.CharField(max_length=16, blank=True, default="")
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_reason = models.CharField(max_length=8, choices=RevokedBy.choices, blank=True)

    objects = APITokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"
        verbose_name_plural = "API tokens"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                "owner",
                Lower("name"),
                condition=Q(revoked_at__isnull=True),
                name="apitokens_active_name_unique_per_owner",
            ),
        ]
        indexes = [
            models.Index(
                fields=["owner", "revoked_at", "-created_at"], name="apitokens_owner_list_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.identifier})"

    @property
    def scope_list(self) -> list[str]:
        return [scope for scope in self.scopes.split() if scope in ALL_SCOPES]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes.split()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def status(self, now: datetime | None = None) -> str:
        if self.revoked_at is not None:
            return "deleted"
        if self.is_expired(now):
            return "expired"
        return "active"


class TokenActivity(models.Model):
    """One API request made with a known token (never the token value or header)."""

    # No single-column FK indexes: the composite (token, …) and (owner, …) indexes below
    # lead with these columns and serve the same lookups; every index costs each INSERT.
    token = models.ForeignKey(
        APIToken, on_delete=models.CASCADE, related_name="activity", db_index=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="token_activity",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=512)
    status = models.PositiveSmallIntegerField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    # Set when the request used a deleted or expired token: someone still holds it.
    flagged = models.BooleanField(default=False)
    used_previous_value = models.BooleanField(default=False)

    class Meta:
        verbose_name = "API activity"
        verbose_name_plural = "API activity"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at"], name="apitokens_activity_time_idx"),
            models.Index(fields=["token", "-created_at"], name="apitokens_activity_token_idx"),
            models.Index(fields=["owner", "-created_at"], name="apitokens_activity_owner_idx"),
            models.Index(fields=["status", "-created_at"], name="apitokens_activity_status_idx"),
            models.Index(fields=["ip", "-created_at"], name="apitokens_activity_ip_idx"),
            # Staff search the activity by exact path (admin); newest first.
            models.Index(fields=["path", "-created_at"], name="apitokens_activity_path_idx"),
            # "Has this token used this IP before?" (suspicious-event rules): one probe.
            models.Index(
                fields=["token", "ip", "created_at"], name="apitokens_activity_tok_ip_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}"


class SecurityEvent(models.Model):
    """A token lifecycle event. Written by services, never edited or deleted by the app."""

    class Kind(models.TextChoices):
        CREATED = "created", "Token created"
        RENAMED = "renamed", "Token renamed"
        REGENERATED = "regenerated", "Token regenerated"
        SCOPES_CHANGED = "scopes_changed", "Permissions changed"
        DELETED = "deleted", "Token deleted"
        DELETED_TOKEN_USED = "deleted_token_used", "Deleted token used"
        EXPIRED_TOKEN_USED = "expired_token_used", "Expired token used"

    class Actor(models.TextChoices):
        USER = "user", "the account owner"
        STAFF = "staff", "staff"
        TOKEN = "token", "the token itself"
        SYSTEM = "system", "QuickBot"

    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    token = models.ForeignKey(
        APIToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="security_events"
    )
    token_name = models.CharField(max_length=100, blank=True)
    token_identifier = models.CharField(max_length=16, blank=True)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="security_events"
    )
    actor_kind = models.CharField(max_length=8, choices=Actor.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    count = models.PositiveIntegerField(default=1)
    detail = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="apitokens_event_account_idx"),
            models.Index(fields=["token", "-created_at"], name="apitokens_event_token_idx"),
            models.Index(fields=["kind", "-created_at"], name="apitokens_event_kind_idx"),
            models.Index(fields=["created_at"], name="apitokens_event_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.token_name or self.token_identifier}"
