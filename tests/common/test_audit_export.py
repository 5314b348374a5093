"""The audit export format (common/audit_export.py): formula cells neutralised, times in
UTC, the filename's time range, the range a changelist's date filters ask for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.audit_export import ACCOUNT_EVENTS
from common.audit_export import (
    ExportFormat,
    csv_cell,
    export_filename,
    requested_time_range,
)

NOW = datetime(2026, 11, 20, 15, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil.example")', '\'=HYPERLINK("http://evil.example")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Token created", "Token created"),
        ("a=b", "a=b"),
        (None, ""),
        (True, "true"),
        (False, "false"),
        (429, "429"),
        (datetime(2026, 11, 20, 15, 30, tzinfo=UTC), "2026-11-20T15:30:00Z"),
    ],
)
def test_csv_cells(value, cell):
    assert csv_cell(value) == cell


@given(st.text())
def test_no_csv_cell_starts_like_a_formula(text):
    assert not csv_cell(text).startswith(("=", "+", "-", "@", "\t", "\r"))


def test_the_filename_carries_the_time_range():
    since = datetime(2026, 11, 1, tzinfo=UTC)
    assert (
        export_filename(ACCOUNT_EVENTS, ExportFormat.CSV, since=since, until=NOW)
        == "quickbot-account-log-20261101T000000Z-to-20261120T153005Z.csv"
    )
    assert (
        export_filename(ACCOUNT_EVENTS, ExportFormat.JSONL, since=None, until=NOW)
        == "quickbot-account-log-start-to-20261120T153005Z.jsonl"
    )


@pytest.mark.parametrize(
    ("params", "since", "until"),
    [
        ({}, None, NOW),
        (
            {"created_at__gte": "2026-11-19 00:00:00+00:00", "created_at__lt": "2026-11-20"},
            datetime(2026, 11, 19, tzinfo=UTC),
            datetime(2026, 11, 20, tzinfo=UTC),
        ),
        ({"created_at__lt": "2030-01-01"}, None, NOW),  # never past now
        (
            {"created_at__year": "2026", "created_at__month": "10"},
            datetime(2026, 10, 1, tzinfo=UTC),
            datetime(2026, 11, 1, tzinfo=UTC),
        ),
        (
            {"created_at__year": "2025", "created_at__month": "12", "created_at__day": "31"},
            datetime(2025, 12, 31, tzinfo=UTC),
            datetime(2026, 1, 1, tzinfo=UTC),
        ),
        ({"created_at__year": "9999"}, None, NOW),
        ({"created_at__year": "99999999999999999999"}, None, NOW),
        ({"created_at__year": "2026", "created_at__month": "13"}, None, NOW),
        ({"created_at__gte": "0001-01-01", "created_at__lt": "garbage\x00"}, None, NOW),
        ({"created_at__gte": "2026-02-30"}, None, NOW),
    ],
)
def test_the_range_a_changelist_asks_for(params, since, until):
    assert requested_time_range(params, field="created_at", now=NOW) == (since, until)
