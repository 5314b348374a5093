"""The usage record of one API request (apitokens/api/usage.py): its activity row, for known tokens
only, on unknown paths and wrong methods too."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from apitokens.models import APIToken, TokenActivity
from tests.apitokens.factories import create_token

ME = "/api/v1/me/"


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def _inline(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


@pytest.mark.usefixtures("_inline")
@pytest.mark.django_db
def test_valid_token_on_an_unknown_api_path_is_an_activity_row(client, user):
    token, raw = create_token(user)
    response = client.get("/api/v1/nothing-here/", headers=bearer(raw))
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["error"] == "not_found"
    row = TokenActivity.objects.get()
    assert (row.token_id, row.status, row.path) == (token.pk, 404, "/api/v1/nothing-here/")
    assert response["X-RateLimit-Used"] == "1"  # counted like any other request


@pytest.mark.usefixtures("_inline")
@pytest.mark.django_db
def test_unknown_api_path_without_a_token_stays_a_plain_404(client):
    response = client.get("/api/v1/nothing-here/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["error"] == "not_found"
    assert not TokenActivity.objects.exists()


@pytest.mark.usefixtures("_inline")
@pytest.mark.django_db
def test_valid_token_with_a_wrong_method_is_an_activity_row(client, user):
    token, raw = create_token(user)
    response = client.post(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    row = TokenActivity.objects.get()
    assert (row.token_id, row.status, row.method) == (token.pk, 405, "POST")


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_activity_row_has_the_right_fields_and_no_secrets(client, user):
    token, raw = create_token(user)
    before = timezone.now()
    client.get(
        f"{ME}?verbose=1",
        headers={**bearer(raw), "User-Agent": "x" * 400},
        REMOTE_ADDR="203.0.113.7",
    )
    row = TokenActivity.objects.get()
    assert row.token == token
    assert row.owner == user
    assert row.created_at >= before
    assert (row.method, row.path, row.status) == ("GET", ME, HTTPStatus.OK)
    assert row.ip == "203.0.113.7"
    assert row.user_agent == "x" * 256
    assert row.duration_ms >= 0
    assert not row.flagged
    assert not row.used_previous_value
    stored = " ".join(str(value) for value in TokenActivity.objects.values_list().get())
    assert raw not in stored
    assert token.digest not in stored


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_every_request_with_a_known_token_is_recorded(client, user):
    _, raw = create_token(user, scopes=("read",))
    client.get(ME, headers=bearer(raw))
    client.delete("/api/v1/tokens/current/", headers=bearer(raw))  # 403: no write scope
    client.get("/api/v1/activity/?status=x", headers=bearer(raw))  # 400
    statuses = sorted(TokenActivity.objects.values_list("status", flat=True))
    assert statuses == [200, 400, 403]


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_unknown_and_malformed_tokens_record_nothing(client):
    client.get(ME, headers={"Authorization": "Bearer nope"})
    client.get(ME, headers=bearer("qb_" + "a" * 38))
    assert not TokenActivity.objects.exists()


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_previous_value_during_overlap_is_recorded_as_such(client, user):
    token, old_raw = create_token(user)
    # Simulate a regenerate whose old value keeps working for an hour.
    from apitokens import tokens

    new_raw = tokens.generate_token()
    APIToken.objects.filter(pk=token.pk).update(
        previous_digest=token.digest,
        previous_expires_at=timezone.now() + timedelta(hours=1),
        digest=tokens.token_digest(new_raw),
    )
    assert client.get(ME, headers=bearer(old_raw)).status_code == HTTPStatus.OK
    assert client.get(ME, headers=bearer(new_raw)).status_code == HTTPStatus.OK
    flags = list(TokenActivity.objects.order_by("id").values_list("used_previous_value", flat=True))
    assert flags == [True, False]
