"""Counts of API usage from the hourly rollups (apitokens/selectors/usage.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from apitokens import selectors
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db


NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


# --- Counts ------------------------------------------------------------------------------


def test_activity_per_hour_fills_every_hour_and_counts_into_the_right_one(token):
    add_activity(token, count=3, at=NOW - timedelta(minutes=20))  # 15:10 .. 15:12
    add_activity(token, count=2, at=NOW.replace(hour=9, minute=0))
    add_activity(token, count=5, at=NOW - timedelta(days=8))  # outside 7 days
    hourly = selectors.activity_per_hour(hours=168, now=NOW)
    assert len(hourly) == 168
    assert hourly[-1] == (NOW.replace(minute=0), 3)
    assert hourly[0][0] == NOW.replace(minute=0) - timedelta(hours=167)
    assert dict(hourly)[NOW.replace(hour=9, minute=0)] == 2
    assert sum(count for _hour, count in hourly) == 5


def test_activity_per_day_covers_30_days_ending_today(token, other_user):
    other, _raw = create_token(other_user, "Elsewhere")
    add_activity(token, count=4, at=NOW - timedelta(hours=1))
    add_activity(token, count=2, at=NOW - timedelta(days=29, hours=10))
    add_activity(token, count=9, at=NOW - timedelta(days=31))
    add_activity(other, count=7, at=NOW - timedelta(hours=1))
    daily = selectors.activity_per_day(token=token, days=30, now=NOW)
    assert len(daily) == 30
    assert daily[-1] == (date(2026, 11, 20), 4)
    assert daily[0] == (date(2026, 10, 22), 2)
    assert sum(count for _day, count in daily) == 6


def test_status_counts_and_top_lists(token, deleted, other_user):
    busy, _raw = create_token(other_user, "Busy", now=NOW - timedelta(days=10))
    add_activity(token, count=3, at=NOW - timedelta(hours=2), status=429)
    add_activity(deleted, count=2, at=NOW - timedelta(hours=2), status=401, flagged=True)
    add_activity(busy, count=10, at=NOW - timedelta(hours=5))
    add_activity(busy, count=50, at=NOW - timedelta(days=9))  # before the window
    since = NOW - timedelta(days=7)
    assert selectors.status_counts(since=since) == {401: 2, 403: 0, 429: 3}
    assert selectors.status_counts(since=NOW - timedelta(hours=1)) == {401: 0, 403: 0, 429: 0}
    accounts = selectors.top_accounts(since=since)
    assert [(row["owner__email"], row["requests"]) for row in accounts] == [
        ("grace@example.com", 10),
        ("ada@example.com", 5),
    ]
    tops = selectors.top_tokens(since=since, limit=2)
    assert [(row["token"].name, row["requests"]) for row in tops] == [("Busy", 10), (token.name, 3)]
