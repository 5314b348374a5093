from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from apitokens import selectors, services
from apitokens.models import SecurityEvent
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
CLIENT = services.ClientInfo(ip="203.0.113.7")


@pytest.fixture
def token(user):
    token, _raw = create_token(user, "Production Website Integration", now=NOW - timedelta(days=60))
    return token


@pytest.fixture
def deleted(user):
    token, _raw = create_token(user, "CI runner", now=NOW - timedelta(days=60))
    services.api_token_revoke(token=token, actor=user, now=NOW - timedelta(days=3))
    return token


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


# --- Suspicious events ---------------------------------------------------------------------


def test_deleted_token_used_comes_from_the_security_log(deleted):
    services.api_token_dead_use_record(token=deleted, client=CLIENT, now=NOW - timedelta(hours=3))
    services.api_token_dead_use_record(
        token=deleted, client=CLIENT, now=NOW - timedelta(hours=2, minutes=30)
    )
    services.api_token_dead_use_record(token=deleted, client=CLIENT, now=NOW - timedelta(days=8))
    events = selectors.dead_token_uses(since=NOW - timedelta(days=7))
    assert [(event.kind, event.count, event.ip) for event in events] == [
        ("deleted_token_used", 2, "203.0.113.7")
    ]
    assert events[0].token == deleted
    assert events[0].account_email == "ada@example.com"


def test_burst_needs_the_threshold_within_one_clock_hour_from_one_ip(deleted):
    hour = NOW.replace(minute=0) - timedelta(hours=5)
    add_activity(
        deleted, count=10, at=hour, step=timedelta(minutes=5), status=401, ip="203.0.113.7"
    )
    add_activity(
        deleted, count=9, at=hour, step=timedelta(minutes=5), status=401, ip="198.51.100.9"
    )
    # 12 attempts from another IP, but split 6 + 6 over two clock hours
    add_activity(
        deleted,
        count=12,
        at=hour + timedelta(minutes=30),
        step=timedelta(minutes=10),
        status=401,
        ip="192.0.2.1",
    )
    bursts = selectors.bad_token_bursts(now=NOW, threshold=10)
    assert [(event.ip, event.count, event.distinct_tokens) for event in bursts] == [
        ("203.0.113.7", 10, 1)
    ]
    assert bursts[0].first_seen_at == hour
    assert bursts[0].last_seen_at == hour + timedelta(minutes=45)


def test_burst_ignores_successful_requests_and_old_ones(token, deleted):
    add_activity(token, count=20, at=NOW - timedelta(hours=1), step=timedelta(seconds=10))
    add_activity(
        deleted, count=20, at=NOW - timedelta(hours=30), step=timedelta(seconds=10), status=401
    )
    assert selectors.bad_token_bursts(now=NOW) == []
    assert len(selectors.bad_token_bursts(now=NOW - timedelta(hours=20))) == 1


def test_new_ip_for_a_token_with_history(token):
    add_activity(token, count=5, at=NOW - timedelta(days=10), ip="198.51.100.10")
    add_activity(token, count=2, at=NOW - timedelta(hours=2), ip="198.51.100.10")  # known
    add_activity(token, count=3, at=NOW - timedelta(hours=3), ip="203.0.113.99")  # new
    events = selectors.new_ip_uses(now=NOW)
    assert [(event.ip, event.count, event.token) for event in events] == [
        ("203.0.113.99", 3, token)
    ]
    assert events[0].first_seen_at == NOW - timedelta(hours=3)
    assert events[0].account_email == "ada@example.com"


def test_new_ip_ignores_uses_of_dead_tokens(deleted):
    add_activity(deleted, at=NOW - timedelta(days=10), ip="198.51.100.10")
    add_activity(deleted, at=NOW - timedelta(hours=1), ip="203.0.113.7", status=401, flagged=True)
    assert selectors.new_ip_uses(now=NOW) == []


def test_a_brand_new_tokens_first_ip_is_not_suspicious(token):
    add_activity(token, count=3, at=NOW - timedelta(hours=3), ip="198.51.100.10")
    assert selectors.new_ip_uses(now=NOW) == []


def test_new_ip_only_looks_back_24_hours(token):
    add_activity(token, at=NOW - timedelta(days=10), ip="198.51.100.10")
    add_activity(token, at=NOW - timedelta(hours=25), ip="203.0.113.99")
    assert selectors.new_ip_uses(now=NOW) == []
    assert len(selectors.new_ip_uses(now=NOW - timedelta(hours=2))) == 1


def test_suspicious_events_merges_every_rule_newest_first(token, deleted):
    services.api_token_dead_use_record(token=deleted, client=CLIENT, now=NOW - timedelta(hours=6))
    add_activity(
        deleted,
        count=10,
        at=NOW.replace(minute=0) - timedelta(hours=4),
        step=timedelta(minutes=1),
        status=401,
    )
    add_activity(token, at=NOW - timedelta(days=10), ip="198.51.100.10")
    add_activity(token, at=NOW - timedelta(hours=1), ip="203.0.113.99")
    kinds = [event.kind for event in selectors.suspicious_events(now=NOW)]
    assert kinds == ["new_ip", "burst", "deleted_token_used"]
    assert [event.kind for event in selectors.suspicious_events(now=NOW, limit=1)] == ["new_ip"]


# --- For the owner ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "phrase"),
    [
        (NOW - timedelta(hours=2), "today"),
        (NOW - timedelta(days=1), "since yesterday"),
        (NOW - timedelta(days=3), "since 17 Nov"),
    ],
)
def test_since_phrase(moment, phrase):
    assert selectors.since_phrase(moment, now=NOW) == phrase


def test_account_alert_sums_a_dead_tokens_uses_per_token(user, other_user, deleted):
    for hours_ago in (20, 19.5, 5):
        services.api_token_dead_use_record(
            token=deleted, client=CLIENT, now=NOW - timedelta(hours=hours_ago)
        )
    services.api_token_dead_use_record(
        token=deleted, client=services.ClientInfo(ip="192.0.2.1"), now=NOW - timedelta(hours=1)
    )
    theirs, _raw = create_token(other_user, "Not yours")
    services.api_token_revoke(token=theirs, actor=other_user)
    services.api_token_dead_use_record(token=theirs, client=CLIENT, now=NOW)
    alerts = selectors.suspicious_events_for_account(user=user, now=NOW)
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.token, alert.state, alert.count) == (deleted, "Deleted", 4)
    assert alert.ips == ["203.0.113.7", "192.0.2.1"]
    assert (alert.first_ip, alert.other_ip_count) == ("203.0.113.7", 1)
    assert alert.since == "since yesterday"


def test_account_alerts_expire_after_a_week(user, deleted):
    services.api_token_dead_use_record(token=deleted, client=CLIENT, now=NOW - timedelta(days=8))
    assert selectors.suspicious_events_for_account(user=user, now=NOW) == []
    assert len(selectors.suspicious_events_for_account(user=user, now=NOW - timedelta(days=2))) == 1


def test_account_alert_for_an_expired_token(user):
    token, _raw = create_token(user, "Nightly export", expires_at=NOW - timedelta(days=1))
    services.api_token_dead_use_record(token=token, client=CLIENT, now=NOW)
    (alert,) = selectors.suspicious_events_for_account(user=user, now=NOW)
    assert alert.state == "Expired"


def test_account_alerts_cost_one_query(user, deleted, django_assert_num_queries):
    for hours_ago in range(5):
        services.api_token_dead_use_record(
            token=deleted, client=CLIENT, now=NOW - timedelta(hours=hours_ago)
        )
    with django_assert_num_queries(1):
        alerts = selectors.suspicious_events_for_account(user=user, now=NOW)
        assert alerts[0].token.name == "CI runner"


def test_token_new_ips_are_first_seen_within_7_days(token):
    add_activity(token, at=NOW - timedelta(days=20), ip="198.51.100.10")
    add_activity(token, at=NOW - timedelta(hours=1), ip="198.51.100.10")
    add_activity(token, at=NOW - timedelta(days=2), ip="203.0.113.7")
    add_activity(token, at=NOW - timedelta(days=8), ip="192.0.2.1")
    assert selectors.token_new_ips(token=token, now=NOW) == {"203.0.113.7": NOW - timedelta(days=2)}


def test_security_events_are_written_by_each_service(user):
    token, _raw = create_token(user, "Lifecycle")
    services.api_token_rename(token=token, name="Lifecycle renamed", actor=user)
    services.api_token_revoke(token=token, actor=user)
    services.api_token_dead_use_record(token=token, client=CLIENT)
    kinds = list(
        SecurityEvent.objects.filter(token=token).order_by("id").values_list("kind", flat=True)
    )
    assert kinds == ["created", "renamed", "deleted", "deleted_token_used"]


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
