"""Unknown-token traces (apitokens/activity/traces.py): a spray of unknown tokens is one security
event per address and window, inline or through the buffer, behind a proxy too."""

from __future__ import annotations

import pytest

from apitokens import activity, tokens
from apitokens.models import SecurityEvent, TokenActivity

ME = "/api/v1/me/"


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture(autouse=True)
def _inline(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


@pytest.mark.django_db
def test_a_spray_of_unknown_tokens_is_one_event_per_address_with_its_count(client):
    for _ in range(7):
        client.get(ME, headers=bearer(tokens.generate_token()), REMOTE_ADDR="198.51.100.20")
    for _ in range(2):
        client.get(ME, headers=bearer(tokens.generate_token()), REMOTE_ADDR="198.51.100.21")
    events = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.UNKNOWN_TOKENS)
    assert {(event.ip, event.count) for event in events} == {
        ("198.51.100.20", 7),
        ("198.51.100.21", 2),
    }
    assert all(event.account_id is None for event in events)
    assert TokenActivity.objects.count() == 0  # no token: no activity row


@pytest.mark.django_db
def test_a_buffered_spray_is_written_by_the_flusher_as_one_event(client, settings, monkeypatch):
    import os

    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 50
    settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS = 3600
    buffer = activity.activity_buffer
    monkeypatch.setattr(buffer, "_flusher_pid", os.getpid())  # a flusher that never runs
    for _ in range(5):
        client.get(ME, headers=bearer(tokens.generate_token()), REMOTE_ADDR="198.51.100.22")
    assert not SecurityEvent.objects.exists()  # nothing written on the request path
    activity.activity_flush()
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.UNKNOWN_TOKENS)
    assert (event.ip, event.count) == ("198.51.100.22", 5)


@pytest.mark.django_db
def test_a_spray_behind_a_proxy_is_traced_to_the_client(client, settings):
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1
    client.get(
        ME,
        headers=bearer(tokens.generate_token()),
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    assert SecurityEvent.objects.get().ip == "203.0.113.9"
