"""What the API path used to miss (issue 11, item 8): a spray of unknown tokens, requests to
unknown paths or with a wrong method, and a value replaced by "Immediately"."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core import mail

from apitokens import activity, services, tokens
from apitokens.models import SecurityEvent, TokenActivity
from tests.apitokens.factories import create_token

ME = "/api/v1/me/"


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture(autouse=True)
def _inline(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
    settings.QUICKBOT_EMAIL_ASYNC = False


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


@pytest.mark.django_db
def test_valid_token_on_an_unknown_api_path_is_an_activity_row(client, user):
    token, raw = create_token(user)
    response = client.get("/api/v1/nothing-here/", headers=bearer(raw))
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["error"] == "not_found"
    row = TokenActivity.objects.get()
    assert (row.token_id, row.status, row.path) == (token.pk, 404, "/api/v1/nothing-here/")
    assert response["X-RateLimit-Used"] == "1"  # counted like any other request


@pytest.mark.django_db
def test_unknown_api_path_without_a_token_stays_a_plain_404(client):
    response = client.get("/api/v1/nothing-here/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["error"] == "not_found"
    assert not TokenActivity.objects.exists()


@pytest.mark.django_db
def test_valid_token_with_a_wrong_method_is_an_activity_row(client, user):
    token, raw = create_token(user)
    response = client.post(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    row = TokenActivity.objects.get()
    assert (row.token_id, row.status, row.method) == (token.pk, 405, "POST")


@pytest.mark.django_db(transaction=True)  # real commits: the owner's email goes on commit
def test_old_value_after_an_immediate_regenerate_is_reported_like_a_dead_token(client, user):
    token, old_raw = create_token(user)
    services.api_token_regenerate(token=token, actor=user, overlap=timedelta(0))
    mail.outbox.clear()
    response = client.get(ME, headers=bearer(old_raw))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "replaced when the token was regenerated" in response.json()["detail"]
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.EXPIRED_TOKEN_USED)
    assert event.token_id == token.pk
    assert TokenActivity.objects.get().flagged
    assert len(mail.outbox) == 1 and user.email in mail.outbox[0].to
    client.get(ME, headers=bearer(old_raw))
    assert len(mail.outbox) == 1  # at most one email a day
    client.force_login(user)
    page = client.get("/account/tokens/").content.decode()
    assert "Someone still has it" in page  # the dead-token banner of the API Tokens page
    assert f"token ‘{token.name}’ was used 2 times" in page
