from datetime import timedelta

import pytest
from django.utils import timezone

from tests.apitokens.factories import create_token


@pytest.fixture
def token_and_raw(user):
    return create_token(user, "Nightly export", scopes=("read", "write"))


@pytest.fixture
def frozen(monkeypatch):
    """Pin the API's clock; returns a setter."""
    state = {"now": timezone.now()}
    monkeypatch.setattr("apitokens.api.auth.clock", lambda: state["now"])

    def move(**delta):
        state["now"] += timedelta(**delta)
        return state["now"]

    move.now = lambda: state["now"]
    return move
