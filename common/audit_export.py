"""Audit exports: a log table written out as CSV or JSON Lines, a chunk at a time, for
staff (the admin changelists' export links, `AuditExportMixin` in `common.admin`) and for
cron (`manage.py export_audit`). Each app describes its tables (`accounts.audit_export`,
`apitokens.audit_export`); this module only knows columns and formats.

Rows are read with `.values_list(...).iterator(chunk_size=...)` and written as they come,
so memory stays flat at millions of rows. A CSV cell a spreadsheet would run as a formula
(it starts with = + - @, a tab or a carriage return) gets a leading apostrophe (OWASP,
CSV injection). The tables hold no token value, only identifiers.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

# Rows fetched per database round trip, and rows written per chunk of the response.
CHUNK_ROWS = 1000
# What a spreadsheet may read as a formula at the start of a cell (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"

    @property
    def content_type(self) -> str:
        return "text/csv; charset=utf-8" if self is ExportFormat.CSV else "application/jsonl"


@dataclass(frozen=True, slots=True)
class Column:
    """One exported column: its header, the ORM lookup it reads, an optional conversion."""

    name: str
    lookup: str
    convert: Callable[[object], object] | None = None


@dataclass(frozen=True, slots=True)
class AuditExport:
    """One exportable log: its model, a name for files ("security-log"), its columns and
    the time field that orders it and bounds `--since` / `--until`."""

    model: type[Model]
    name: str
    columns: tuple[Column, ...]
    time_field: str = "created_at"

    def between(self, *, since: datetime | None, until: datetime) -> QuerySet:
        """The model's rows from `since` (inclusive; None: the first) to `until` (exclusive)."""
        queryset = self.model._default_manager.filter(**{f"{self.time_field}__lt": until})
        if since is not None:
            queryset = queryset.filter(**{f"{self.time_field}__gte": since})
        return queryset

    def rows(self, queryset: QuerySet, *, chunk_size: int = CHUNK_ROWS) -> Iterator[tuple]:
        """Each row of `queryset`, oldest first, as a tuple of the columns' values, fetched
        `chunk_size` rows at a time."""
        converters = [(index, column.convert) for index, column in enumerate(self.columns)]
        converters = [(index, convert) for index, convert in converters if convert is not None]
        values = (
            queryset.order_by(self.time_field, "pk")
            .values_list(*(column.lookup for column in self.columns))
            .iterator(chunk_size=chunk_size)
        )
        if not converters:
            yield from values
            return
        for row in values:
            cells = list(row)
            for index, convert in converters:
                if cells[index] is not None:
                    cells[index] = convert(cells[index])
            yield tuple(cells)


def csv_cell(value: object) -> str:
    """A value as a CSV cell: "" for None, ISO 8601 times, true/false, and text a
    spreadsheet would run as a formula neutralised with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso_time(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def iso_time(moment: datetime) -> str:
    """A moment in UTC, ISO 8601 ("2026-11-20T15:30:00.123456Z")."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def export_chunks(
    export: AuditExport,
    queryset: QuerySet,
    export_format: ExportFormat,
    *,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[str]:
    """The export of `queryset` as text chunks (a CSV header first), `chunk_rows` rows each."""
    rows = export.rows(queryset, chunk_size=chunk_rows)
    if export_format is ExportFormat.CSV:
        yield _csv_lines([[column.name for column in export.columns]])
        for batch in itertools.batched(rows, chunk_rows):
            yield _csv_lines([csv_cell(value) for value in row] for row in batch)
    else:
        names = [column.name for column in export.columns]
        for batch in itertools.batched(rows, chunk_rows):
            yield "".join(_json_line(names, row) for row in batch)


def _csv_lines(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def _json_line(names: list[str], row: tuple) -> str:
    cells = {
        name: iso_time(value) if isinstance(value, datetime) else value
        for name, value in zip(names, row, strict=True)
    }
    return json.dumps(cells, ensure_ascii=False) + "\n"


def export_filename(
    export: AuditExport, export_format: ExportFormat, *, since: datetime | None, until: datetime
) -> str:
    """ "quickbot-security-log-20261101T000000Z-to-20261120T153000Z.csv" (the time range
    exported; "start" when it has no lower bound)."""
    start = _compact_time(since) if since is not None else "start"
    return f"quickbot-{export.name}-{start}-to-{_compact_time(until)}.{export_format.value}"


def _compact_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def requested_time_range(
    params: Mapping[str, str], *, field: str, now: datetime
) -> tuple[datetime | None, datetime]:
    """The time range a changelist's date filters ask for (`field__gte`, `field__lt`, the
    date hierarchy's year, month and day), ending at `now` at the latest. Values that are
    no date are ignored: the changelist has refused or ignored them already."""
    since: datetime | None = _moment(params.get(f"{field}__gte"))
    until = now
    if (upper := _moment(params.get(f"{field}__lt"))) is not None:
        until = min(until, upper)
    try:
        year = int(params.get(f"{field}__year", ""))
        month = int(params.get(f"{field}__month", "") or 0)
        day = int(params.get(f"{field}__day", "") or 0)
        start = date(year, month or 1, day or 1)
        if day:
            end = start + timedelta(days=1)
        elif month:
            end = date(year + (month == 12), month % 12 + 1, 1)
        else:
            end = date(year + 1, 1, 1)
        first, after = _usable(_local_midnight(start)), _usable(_local_midnight(end))
    except (ValueError, OverflowError):
        return since, until
    if first is not None and after is not None:
        since = max(since, first) if since is not None else first
        until = min(until, after)
    return since, until


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime.combine(day, time.min)
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        try:
            moment = timezone.make_aware(moment)
        except (ValueError, OverflowError):
            return None
    return _usable(moment)


def _usable(moment: datetime | None) -> datetime | None:
    """`moment`, or None if it is too near the calendar's ends to write in UTC."""
    if moment is None or not 1 < moment.year < 9999:
        return None
    try:
        moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))
