"""A paused token through the API (apitokens/api/auth.py): 401 token_paused in the one error
shape, no query added, neither a bad credential nor a counted request, refused with its old
value during an overlap too, and served again once resumed."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apitokens import activity, services
from apitokens.api.errors import REALM
from apitokens.models import APIToken, SecurityEvent, TokenActivity
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

ME = "/api/v1/me/"

pytestmark = pytest.mark.django_db


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def lookup_mode(settings, request):
    settings.QUICKBOT_FAST_TOKEN_LOOKUP = request.param
    return request.param


@pytest.fixture
def paused(user):
    token, raw = create_token(user, "Nightly export", scopes=("read", "write"))
    services.api_token_pause(token=token, actor=user)
    return token, raw


def assert_paused_refusal(response, token: APIToken) -> None:
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "detail", "docs", "request_id"}
    assert body["error"] == "token_paused"
    assert body["docs"] == "/docs/api/#errors"
    page = f"http://127.0.0.1:8000/account/tokens/{token.public_id}/"
    assert body["detail"] == (
        "This token is paused: QuickBot refuses it until it is resumed. Resume it on its "
        f"page in Account settings > API Tokens: {page}"
    )
    assert response["WWW-Authenticate"] == (
        f'{REALM}, error="invalid_token", error_description="{body["detail"]}"'
    )
    assert response["Cache-Control"] == "no-store"
    assert "X-RateLimit-Remaining" not in response


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.parametrize("lookup_mode", [True, False], ids=["fast", "orm"], indirect=True)
def test_a_paused_token_is_refused_with_its_own_error(client, paused, lookup_mode, monkeypatch):
    token, raw = paused
    ran = []
    monkeypatch.setattr("apitokens.api.views.token_summary", lambda token: ran.append(token))

    response = client.get(ME, headers=bearer(raw))

    assert_paused_refusal(response, token)
    assert ran == []  # the view never ran


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.parametrize("lookup_mode", [True, False], ids=["fast", "orm"], indirect=True)
def test_resuming_serves_the_token_again(client, paused, user, lookup_mode):
    token, raw = paused
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.UNAUTHORIZED

    services.api_token_resume(token=token, actor=user)

    response = client.get(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.OK
    assert response.json()["token"]["id"] == token.public_id


@pytest.mark.parametrize("lookup_mode", [True, False], ids=["fast", "orm"], indirect=True)
def test_the_pause_check_adds_no_query(client, settings, paused, lookup_mode):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 50
    settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS = 3600
    token, raw = paused
    try:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(ME, headers=bearer(raw))
    finally:
        activity.activity_flush()
    assert_paused_refusal(response, token)
    assert len(captured.captured_queries) == 1  # the lookup, nothing else


@pytest.mark.usefixtures("_unbuffered_activity")
def test_the_refusal_is_recorded_in_the_token_activity_without_a_last_use(client, paused):
    token, raw = paused

    client.get(ME, headers=bearer(raw), REMOTE_ADDR="203.0.113.7")

    [row] = TokenActivity.objects.filter(token=token)
    assert row.status == HTTPStatus.UNAUTHORIZED
    assert row.ip == "203.0.113.7"
    assert row.flagged is False
    assert APIToken.objects.get(pk=token.pk).last_used_at is None
    # Not a use of a dead token: no security event, no email beyond the pause's own.
    assert not SecurityEvent.objects.filter(
        kind__in=[SecurityEvent.Kind.DELETED_TOKEN_USED, SecurityEvent.Kind.EXPIRED_TOKEN_USED]
    ).exists()


@pytest.mark.usefixtures("_unbuffered_activity")
def test_paused_refusals_do_not_spend_the_address_bad_credential_allowance(
    client, paused, user, settings
):
    # A script left running with a paused token must not get its server's address blocked
    # for the account's other tokens.
    settings.QUICKBOT_BAD_AUTH_LIMIT = 3
    token, raw = paused
    _, other = create_token(user, "Other job")

    statuses = [client.get(ME, headers=bearer(raw)).status_code for _ in range(6)]

    assert statuses == [HTTPStatus.UNAUTHORIZED] * 6
    assert client.get(ME, headers=bearer(other)).status_code == HTTPStatus.OK
    services.api_token_resume(token=token, actor=user)
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.OK


@pytest.mark.usefixtures("_unbuffered_activity")
def test_an_address_over_its_allowance_gets_the_429_any_token_would(client, paused, settings):
    # A blocked address gets 429 for every value, unknown or live: a paused one must not
    # tell it that this value is a real token.
    settings.QUICKBOT_BAD_AUTH_LIMIT = 2
    _token, raw = paused
    for _ in range(3):
        client.get(ME, headers=bearer("qb_" + "A" * 38))

    response = client.get(ME, headers=bearer(raw))

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert response.json()["error"] == "rate_limited"
    assert int(response["Retry-After"]) > 0


@pytest.mark.usefixtures("_unbuffered_activity")
def test_paused_refusals_do_not_spend_the_owner_hourly_requests(client, paused, user, settings):
    settings.QUICKBOT_API_HOURLY_LIMIT = 3
    token, raw = paused
    for _ in range(5):
        assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.UNAUTHORIZED

    services.api_token_resume(token=token, actor=user)

    served = client.get(ME, headers=bearer(raw))
    assert served.status_code == HTTPStatus.OK
    assert served["X-RateLimit-Remaining"] == "2"


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.parametrize("lookup_mode", [True, False], ids=["fast", "orm"], indirect=True)
def test_the_old_value_during_an_overlap_is_refused_as_paused_too(client, user, lookup_mode):
    token, old = create_token(user, "Rotating job")
    token, new = services.api_token_regenerate(token=token, actor=user, overlap=timedelta(hours=1))
    services.api_token_pause(token=token, actor=user)

    for value in (old, new):
        assert_paused_refusal(client.get(ME, headers=bearer(value)), token)
    rows = TokenActivity.objects.filter(token=token).order_by("id")
    assert [row.used_previous_value for row in rows] == [True, False]

    services.api_token_resume(token=token, actor=user)
    assert client.get(ME, headers=bearer(old)).status_code == HTTPStatus.OK


@pytest.mark.usefixtures("_unbuffered_activity")
def test_outside_its_allowlist_a_paused_token_answers_as_any_token_would(client, user):
    token, raw = create_token(user, "Listed job", allowed_ips="203.0.113.7")
    services.api_token_pause(token=token, actor=user)

    outside = client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9")
    inside = client.get(ME, headers=bearer(raw), REMOTE_ADDR="203.0.113.7")

    assert outside.status_code == HTTPStatus.FORBIDDEN
    assert outside.json()["error"] == "ip_not_allowed"
    assert_paused_refusal(inside, token)


@pytest.mark.usefixtures("_unbuffered_activity")
def test_deleted_or_expired_wins_over_paused(client, user):
    deleted, deleted_raw = create_token(user, "Deleted job")
    expired, expired_raw = create_token(
        user, "Expired job", expires_at=timezone.now() + timedelta(days=1)
    )
    services.api_token_pause(token=deleted, actor=user)
    services.api_token_pause(token=expired, actor=user)
    services.api_token_revoke(token=deleted, actor=user)
    APIToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))

    gone = client.get(ME, headers=bearer(deleted_raw)).json()
    over = client.get(ME, headers=bearer(expired_raw)).json()

    assert gone["error"] == over["error"] == "invalid_token"
    assert "deleted" in gone["detail"]
    assert "expired" in over["detail"]


@pytest.mark.usefixtures("_unbuffered_activity")
def test_pausing_applies_from_the_very_next_request(client, user):
    token, raw = create_token(user, "Live job")
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.OK

    services.api_token_pause(token=token, actor=user)

    assert_paused_refusal(client.get(ME, headers=bearer(raw)), token)


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.parametrize("lookup_mode", [True, False], ids=["fast", "orm"], indirect=True)
def test_a_paused_token_with_a_report_only_allowlist_is_refused_from_outside_it_too(
    client, user, lookup_mode
):
    # A report-only list serves an outside address; the pause must still refuse it.
    token, raw = create_token(
        user, "Report only", allowed_ips="203.0.113.0/24", allowlist_report_only=True
    )
    services.api_token_pause(token=token, actor=user)

    outside = client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9")
    inside = client.get(ME, headers=bearer(raw), REMOTE_ADDR="203.0.113.7")

    assert_paused_refusal(outside, token)
    assert_paused_refusal(inside, token)
    marked = TokenActivity.objects.filter(token=token).order_by("id")
    assert [row.outside_allowlist for row in marked] == [True, False]


def test_a_staff_pause_says_only_staff_resume_it(client, user):
    token, raw = create_token(user, "Held by staff")
    services.api_token_pause(token=token, actor=UserFactory(is_staff=True))

    response = client.get(ME, headers=bearer(raw))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    body = response.json()
    assert body["error"] == "token_paused"
    page = f"http://127.0.0.1:8000/account/tokens/{token.public_id}/"
    assert body["detail"] == (
        "This token is paused by QuickBot staff: QuickBot refuses it until staff resume it. "
        f"Contact QuickBot support; its page in Account settings > API Tokens: {page}"
    )
