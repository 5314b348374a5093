from __future__ import annotations

import pytest
from django.utils import timezone

from apitokens.activity.buffer import activity_buffer
from apitokens.activity.rows import ActivityRow
from apitokens.models import TokenActivity
from quickbot.process_state import process_state_reset
from tests.apitokens.factories import create_token


@pytest.mark.django_db
def test_reset_forgets_buffered_activity_and_stops_the_flusher(user, settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 100
    settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS = 3600
    token, _ = create_token(user)
    now = timezone.now()
    activity_buffer.unknown_token_seen(ip="192.0.2.1", now=now)
    activity_buffer.add(
        ActivityRow(token.pk, user.pk, now, "GET", "/", 200, None, "", 1, False, False)
    )
    assert activity_buffer.pending() == 1
    flusher = activity_buffer._flusher
    assert flusher is not None and flusher.is_alive()

    process_state_reset()

    assert activity_buffer.pending() == 0
    assert len(activity_buffer._traces) == 0
    assert not flusher.is_alive()
    assert activity_buffer.flush() == 0
    assert not TokenActivity.objects.exists()


@pytest.mark.django_db
def test_stop_writes_what_is_left_and_a_later_row_starts_a_new_flusher(user, settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 100
    settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS = 3600
    token, _ = create_token(user)
    row = ActivityRow(token.pk, user.pk, timezone.now(), "GET", "/", 200, None, "", 1, False, False)
    activity_buffer.add(row)
    first = activity_buffer._flusher

    assert activity_buffer.stop() == 1
    assert not first.is_alive()
    assert TokenActivity.objects.count() == 1

    activity_buffer.add(row)
    assert activity_buffer._flusher is not None and activity_buffer._flusher is not first
    assert activity_buffer._flusher.is_alive()
