"""QuickBot-Request-Id (quickbot/middleware.py): on every response, pages and API, errors
and 404s; the same ID in an API error's body and its activity row; a trusted proxy's ID
only behind a trusted proxy."""

from __future__ import annotations

import re
from http import HTTPStatus
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.test import Client

from apitokens import services
from apitokens.models import TokenActivity
from common.request_id import REQUEST_ID_HEADER
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

FRESH_ID = re.compile(r"req_[A-Za-z0-9_-]{22}")


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def test_the_middleware_runs_first():
    assert django_settings.MIDDLEWARE[0] == "quickbot.middleware.RequestIdMiddleware"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/account/login/", HTTPStatus.OK),
        ("/account/tokens/", HTTPStatus.FOUND),  # the redirect to sign in
        ("/docs/api/", HTTPStatus.OK),
        ("/healthz", HTTPStatus.OK),
        ("/no-such-page/", HTTPStatus.NOT_FOUND),
        ("/api/v1/me/", HTTPStatus.UNAUTHORIZED),
        ("/api/v1/no-such-endpoint/", HTTPStatus.NOT_FOUND),
        ("/static/css/app.css", HTTPStatus.OK),
    ],
)
def test_every_response_carries_a_fresh_request_id(client, path, status):
    first = client.get(path)
    second = client.get(path)
    assert first.status_code == status
    assert FRESH_ID.fullmatch(first[REQUEST_ID_HEADER])
    assert FRESH_ID.fullmatch(second[REQUEST_ID_HEADER])
    assert first[REQUEST_ID_HEADER] != second[REQUEST_ID_HEADER]


def test_an_api_success_carries_the_id_and_its_activity_row_stores_it(client, user):
    token, raw = create_token(user)
    response = client.get("/api/v1/me/", headers=bearer(raw))
    assert response.status_code == HTTPStatus.OK
    row = TokenActivity.objects.get(token=token)
    assert row.request_id == response[REQUEST_ID_HEADER]
    assert FRESH_ID.fullmatch(row.request_id)


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/v1/me/", {}, HTTPStatus.UNAUTHORIZED),
        ("/api/v1/me/", {"Authorization": "Bearer nonsense"}, HTTPStatus.UNAUTHORIZED),
        ("/api/v1/me/", {"Authorization": "Bearer a b"}, HTTPStatus.BAD_REQUEST),
        ("/api/v1/no-such-endpoint/", {}, HTTPStatus.NOT_FOUND),
        ("/api/v1/activity/?bogus=1", None, HTTPStatus.BAD_REQUEST),
    ],
)
def test_an_api_error_body_carries_the_id_of_its_response(client, user, path, headers, status):
    if headers is None:
        _token, raw = create_token(user)
        headers = bearer(raw)
    response = client.get(path, headers=headers)
    assert response.status_code == status
    body = response.json()
    assert list(body) == ["error", "detail", "docs", "request_id"]
    assert body["request_id"] == response[REQUEST_ID_HEADER]


def test_error_bodies_with_the_same_message_keep_each_requests_id(client):
    ids = {client.get("/api/v1/me/").json()["request_id"] for _ in range(5)}
    assert len(ids) == 5


def test_a_refused_token_is_recorded_with_the_id_of_its_answer(client, user):
    token, raw = create_token(user)
    services.api_token_revoke(token=token, actor=user)
    response = client.get("/api/v1/me/", headers=bearer(raw))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    row = TokenActivity.objects.filter(token=token).latest("id")
    assert row.request_id == response.json()["request_id"] == response[REQUEST_ID_HEADER]


def test_a_server_error_in_the_api_carries_the_id_in_header_and_body(user):
    _token, raw = create_token(user)
    client = Client(raise_request_exception=False)
    with mock.patch(
        "apitokens.api.middleware.authenticate_bearer", side_effect=RuntimeError("boom")
    ):
        response = client.get("/api/v1/me/", headers=bearer(raw))
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response.json()["request_id"] == response[REQUEST_ID_HEADER]
    assert FRESH_ID.fullmatch(response[REQUEST_ID_HEADER])


def test_a_clients_own_request_id_is_ignored_without_a_trusted_proxy(client, settings, user):
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 0
    token, raw = create_token(user)
    headers = {**bearer(raw), "X-Request-Id": "someone-elses-id"}
    response = client.get("/api/v1/me/", headers=headers)
    assert FRESH_ID.fullmatch(response[REQUEST_ID_HEADER])
    assert TokenActivity.objects.get(token=token).request_id == response[REQUEST_ID_HEADER]


def test_a_trusted_proxys_request_id_is_used_everywhere(client, settings, user):
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1
    token, raw = create_token(user)
    proxy_id = "7b0e4c9a-2f41-4d8e-9c1a-5e6f7a8b9c0d"
    response = client.get("/api/v1/me/", headers={**bearer(raw), "X-Request-Id": proxy_id})
    assert response[REQUEST_ID_HEADER] == proxy_id
    assert TokenActivity.objects.get(token=token).request_id == proxy_id
    refused = client.get("/api/v1/me/", headers={"X-Request-Id": proxy_id})
    assert refused.json()["request_id"] == refused[REQUEST_ID_HEADER] == proxy_id
    page = client.get("/account/login/", headers={"X-Request-Id": proxy_id})
    assert page[REQUEST_ID_HEADER] == proxy_id


@pytest.mark.parametrize(
    "sent",
    ["x" * 10_000, "abc\tdef", "a" * 65, "id with spaces", "<b>id</b>", "ид", "a,b"],
)
def test_an_unsafe_id_from_a_trusted_proxy_is_replaced(client, settings, sent):
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1
    response = client.get("/api/v1/me/", headers={"X-Request-Id": sent})
    assert FRESH_ID.fullmatch(response[REQUEST_ID_HEADER])
    assert response.json()["request_id"] == response[REQUEST_ID_HEADER]
    assert sent not in response.content.decode()


def test_a_newline_in_the_proxy_header_never_reaches_the_response(settings):
    # The test client passes raw META, as a WSGI server would hand over a folded header.
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1
    response = Client().get("/api/v1/me/", HTTP_X_REQUEST_ID="abc\r\nSet-Cookie: a=b")
    assert FRESH_ID.fullmatch(response[REQUEST_ID_HEADER])
    assert "Set-Cookie" not in response.headers


def test_a_pages_server_error_shows_the_id_to_quote(user_client):
    client = Client(raise_request_exception=False)
    client.cookies = user_client.cookies
    with mock.patch("apitokens.views.listing.render", side_effect=RuntimeError("boom")):
        response = client.get("/account/tokens/")
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response["Content-Type"].startswith("text/html")
    request_id = response[REQUEST_ID_HEADER]
    assert f"quote this request ID: <code>{request_id}</code>" in response.text
    assert "boom" not in response.text
