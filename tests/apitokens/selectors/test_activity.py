"""Reading API activity a page at a time (apitokens/selectors/activity.py): the one keyset cursor,
an account's pages, new addresses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apitokens import selectors
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db


NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


def test_token_new_ips_are_first_seen_within_7_days(token):
    add_activity(token, at=NOW - timedelta(days=20), ip="198.51.100.10")
    add_activity(token, at=NOW - timedelta(hours=1), ip="198.51.100.10")
    add_activity(token, at=NOW - timedelta(days=2), ip="203.0.113.7")
    add_activity(token, at=NOW - timedelta(days=8), ip="192.0.2.1")
    assert selectors.token_new_ips(token=token, now=NOW) == {"203.0.113.7": NOW - timedelta(days=2)}


# --- Activity cursor ---------------------------------------------------------------------


def test_activity_cursor_round_trips_a_row_position(token):
    (row,) = add_activity(token, at=NOW - timedelta(minutes=5))
    position = selectors.parse_activity_cursor(selectors.activity_cursor(row))
    assert position == (row.created_at, row.pk)


@pytest.mark.parametrize(
    "cursor",
    [
        None,
        "",
        "abc",
        "-1_2",
        "1_-2",
        "1e9_1",
        "²_1",
        "1_²",
        f"1_{2**63}",
        "99999999999999999999_1",
        "1_1" + "0" * 40,
        "MjAyNi0wMS0wMVQwMDowMDowMHw5OTk5",  # a legacy cursor without a UTC offset
        "fHw=",
    ],
)
def test_activity_cursors_this_code_did_not_write_are_refused(cursor):
    assert selectors.parse_activity_cursor(cursor) is None


def test_activity_cursor_issued_before_the_one_format_is_still_read():
    """The API's cursors were base64url("<ISO time>|<id>"): a client paging through the
    deploy carries on where it was."""
    legacy = "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHw5OTk5"  # 2026-01-01T00:00:00+00:00|9999
    position = selectors.parse_activity_cursor(legacy)
    assert position == (datetime(2026, 1, 1, tzinfo=UTC), 9999)


def test_activity_page_of_an_account_spans_its_tokens_newest_first(user, token):
    other, _raw = create_token(user, "Second", now=NOW - timedelta(days=60))
    add_activity(token, count=3, at=NOW - timedelta(hours=2))
    add_activity(other, count=3, at=NOW - timedelta(hours=1))
    first = selectors.activity_page(owner=user, size=4)
    assert [row.token.name for row in first.rows] == ["Second"] * 3 + [token.name]
    rest = selectors.activity_page(
        owner=user, older_than=selectors.parse_activity_cursor(first.older), size=4
    )
    assert len(rest.rows) == 2 and rest.older is None


def _plan(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
        else:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql)
        return " ".join(str(row) for row in cursor.fetchall())


@pytest.mark.django_db
def test_requests_outside_a_report_only_allowlist_are_counted_through_their_partial_index(user):
    # The flag is rare: without the partial index the token page's count walks 30 days of
    # the token's rows.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apitokens.selectors.activity import token_outside_allowlist_count

    token, _ = create_token(user, "Report only plan")
    with CaptureQueriesContext(connection) as captured:
        token_outside_allowlist_count(token=token, since=datetime.now(UTC) - timedelta(days=30))
    assert "apitokens_activity_out_tok_idx" in _plan(captured.captured_queries[-1]["sql"])
