"""The bearer-token middleware (apitokens/api/middleware.py): the token opens API views only, no
session or cookie, the rate-limit and expiry headers, and errors in API views answered as JSON."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client
from django.urls import include, path
from django.utils import timezone

from apitokens.api.decorators import token_required
from apitokens.models import APIToken
from tests.apitokens.factories import create_token

ME = "/api/v1/me/"


@pytest.fixture(autouse=True)
def _unbuffered_activity(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.django_db
def test_rate_limit_headers_on_success(client, user, frozen):
    _, raw = create_token(user)
    response = client.get(ME, headers=bearer(raw))
    reset = int(frozen.now().timestamp()) + 3600
    assert response["X-RateLimit-Limit"] == "1000"
    assert response["X-RateLimit-Remaining"] == "999"
    assert response["X-RateLimit-Used"] == "1"
    assert response["X-RateLimit-Reset"] == str(reset)
    assert response["RateLimit-Policy"] == '"hourly";q=1000;w=3600'
    assert response["RateLimit"] == '"hourly";r=999;t=3600'


REALM = 'Bearer realm="QuickBot API"'


@token_required
def _boom(request):
    raise RuntimeError("kaboom")


@token_required
def _missing(request):
    raise Http404("no such thing")


@token_required
def _forbidden(request):
    raise PermissionDenied


urlpatterns = [
    path("boom/", _boom),
    path("api/v1/missing/", _missing),
    path("api/v1/forbidden/", _forbidden),
    path("", include("quickbot.urls")),
]


handler403 = "quickbot.views.permission_denied"


handler404 = "quickbot.views.page_not_found"


def assert_error_shape(response, status: int, error: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "detail", "docs", "request_id"}
    assert body["error"] == error
    assert body["docs"] == "/docs/api/#errors"
    return body


@pytest.mark.django_db
def test_valid_token_authenticates_as_owner(client, user, token_and_raw):
    token, raw = token_and_raw
    response = client.get(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.OK
    assert response.json()["account"]["email"] == user.email
    assert response.json()["token"]["id"] == token.public_id


@pytest.mark.django_db
def test_session_cookie_alone_never_authenticates_api(user_client):
    response = user_client.get(ME)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == REALM


@pytest.mark.django_db
def test_api_response_sets_no_cookie_and_leaves_session_alone(user_client, token_and_raw):
    _, raw = token_and_raw
    session_key = user_client.session.session_key
    response = user_client.get(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.OK
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
    assert user_client.session.session_key == session_key


@pytest.mark.django_db
def test_bearer_token_does_not_open_portal_pages(client, token_and_raw):
    _, raw = token_and_raw
    response = client.get("/account/", headers=bearer(raw))
    # Anonymous for the portal: redirected to the login page, never served.
    assert response.status_code == HTTPStatus.FOUND
    assert "/login" in response["Location"]
    response = client.get("/admin/", headers=bearer(raw))
    assert response.status_code == HTTPStatus.FOUND
    assert "login" in response["Location"]


@pytest.mark.django_db
def test_bearer_token_cannot_create_tokens_through_portal(client, user, token_and_raw):
    _, raw = token_and_raw
    before = APIToken.objects.count()
    token = APIToken.objects.get()
    client.post("/account/tokens/new/", {"name": "Stolen", "scopes": ["read"]}, headers=bearer(raw))
    client.post(f"/account/tokens/{token.public_id}/delete/", headers=bearer(raw))
    assert APIToken.objects.count() == before
    assert APIToken.objects.active().count() == before


@pytest.mark.django_db
def test_successful_response_carries_expiration_header(client, user):
    expires = timezone.now().replace(microsecond=0) + timedelta(days=30)
    _, raw = create_token(user, expires_at=expires)
    response = client.get(ME, headers=bearer(raw))
    assert response["QuickBot-Token-Expiration"] == f"{expires:%Y-%m-%d %H:%M:%S} UTC"


@pytest.mark.django_db
def test_no_expiration_header_for_token_without_expiry(client, token_and_raw):
    _, raw = token_and_raw
    assert "QuickBot-Token-Expiration" not in client.get(ME, headers=bearer(raw))


@pytest.mark.django_db
@pytest.mark.urls("tests.apitokens.api.test_middleware")
def test_unhandled_error_in_api_view_is_json_500(token_and_raw):
    _, raw = token_and_raw
    client = Client(raise_request_exception=False)
    response = client.get("/boom/", headers=bearer(raw))
    assert_error_shape(response, HTTPStatus.INTERNAL_SERVER_ERROR, "server_error")


@pytest.mark.django_db
@pytest.mark.urls("tests.apitokens.api.test_middleware")
@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/api/v1/missing/", HTTPStatus.NOT_FOUND, "not_found"),
        ("/api/v1/forbidden/", HTTPStatus.FORBIDDEN, "forbidden"),
    ],
)
def test_client_errors_raised_in_api_views_keep_their_status_as_json(
    token_and_raw, path, status, error
):
    _, raw = token_and_raw
    client = Client(raise_request_exception=False)
    response = client.get(path, headers=bearer(raw))
    assert_error_shape(response, status, error)
