"""Fixtures the test modules of this folder share."""

from __future__ import annotations

import pytest

from tests.apitokens.factories import create_token


@pytest.fixture
def token(user):
    token, _raw = create_token(user, "Production Website Integration")
    return token
