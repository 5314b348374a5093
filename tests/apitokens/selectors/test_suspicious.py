"""Suspicious events for the staff dashboard (apitokens/selectors/suspicious.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apitokens import selectors, services
from tests.apitokens.activity_factories import add_activity

pytestmark = pytest.mark.django_db


NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


CLIENT = services.ClientInfo(ip="203.0.113.7")


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
