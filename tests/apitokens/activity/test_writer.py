"""Writing activity rows (apitokens/activity/writer.py)."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from apitokens.models import TokenActivity
from tests.apitokens.factories import create_token

ME = "/api/v1/me/"


@pytest.fixture(autouse=True)
def _unbuffered_activity(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.django_db
def test_control_characters_never_break_the_activity_write(client, user):
    _, raw = create_token(user)
    client.get("/api/v1/me%00/", headers={**bearer(raw), "User-Agent": "evil\x00agent"})
    client.get(ME, headers={**bearer(raw), "User-Agent": "evil\x00agent"})
    row = TokenActivity.objects.get(status=HTTPStatus.OK)
    assert row.user_agent == "evilagent"
