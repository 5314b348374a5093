"""The services package (apitokens/services/): every action writes its security-log row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apitokens import services
from apitokens.models import SecurityEvent
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db


NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


CLIENT = services.ClientInfo(ip="203.0.113.7")


@pytest.fixture
def token(user):
    token, _raw = create_token(user, "Production Website Integration", now=NOW - timedelta(days=60))
    return token


def test_security_events_are_written_by_each_service(user):
    token, _raw = create_token(user, "Lifecycle")
    services.api_token_rename(token=token, name="Lifecycle renamed", actor=user)
    services.api_token_revoke(token=token, actor=user)
    services.api_token_dead_use_record(token=token, client=CLIENT)
    kinds = list(
        SecurityEvent.objects.filter(token=token).order_by("id").values_list("kind", flat=True)
    )
    assert kinds == ["created", "renamed", "deleted", "deleted_token_used"]
