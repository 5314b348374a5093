"""Tokens at every side of the stale rule's edges (60 days unused, 7 days never used), for
the rule, its selector and the digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.apitokens.factories import create_token

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
STALE = {"old_use", "never_week"}


def make(user, name, *, created_days_ago, used_days_ago=None, **kwargs):
    token, _ = create_token(user, name, now=NOW - timedelta(days=created_days_ago), **kwargs)
    if used_days_ago is not None:
        token.last_used_at = NOW - timedelta(days=used_days_ago)
        token.save(update_fields=["last_used_at"])
    return token


@pytest.fixture
def stale_rule_tokens(user):
    return {
        "fresh": make(user, "Fresh", created_days_ago=100, used_days_ago=1),
        "old_use": make(user, "Old use", created_days_ago=100, used_days_ago=60),
        "almost": make(user, "Almost", created_days_ago=100, used_days_ago=59),
        "never_new": make(user, "Never new", created_days_ago=6),
        "never_week": make(user, "Never week", created_days_ago=7),
        "expired": make(user, "Expired", created_days_ago=100, expires_at=NOW - timedelta(days=1)),
    }
