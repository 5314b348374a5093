"""Fixtures the test modules of this folder share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apitokens import services
from tests.apitokens.factories import create_token
from tests.apitokens.stale_tokens import stale_rule_tokens  # noqa: F401 (a shared fixture)

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


@pytest.fixture
def deleted(user):
    token, _raw = create_token(user, "CI runner", now=NOW - timedelta(days=60))
    services.api_token_revoke(token=token, actor=user, now=NOW - timedelta(days=3))
    return token


EXISTING = "Alice Production Website"


@pytest.fixture
def existing(user):
    token, _value = services.api_token_create(user=user, name=EXISTING)
    services.api_token_create(user=user, name="Copy Aces")
    return token


@pytest.fixture
def _unbuffered_activity(settings):
    """Write each request's activity row at once (no buffer): the tests that ask for it read
    the rows right after the request."""
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
