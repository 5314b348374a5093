"""Fixtures the test modules of this folder share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.apitokens.factories import create_token

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


@pytest.fixture
def token(user):
    token, _raw = create_token(user, "Production Website Integration", now=NOW - timedelta(days=60))
    return token
