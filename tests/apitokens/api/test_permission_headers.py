"""Every response to an authenticated token says the token's permissions
(`QuickBot-Token-Permissions`), and a 403 insufficient_scope also says what the endpoint
needs (`QuickBot-Accepted-Permissions`); refusals of bad credentials carry neither."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from apitokens import services
from apitokens.api.middleware import permissions_header
from apitokens.models import APIToken
from tests.apitokens.factories import create_token

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_unbuffered_activity")]

ME = "/api/v1/me/"
TOKENS = "/api/v1/tokens/"
CURRENT = "/api/v1/tokens/current/"
ROTATE = "/api/v1/tokens/current/rotate"

TOKEN_PERMISSIONS = "QuickBot-Token-Permissions"
ACCEPTED_PERMISSIONS = "QuickBot-Accepted-Permissions"


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.parametrize(
    ("scopes", "header", "method", "path"),
    [
        (("read",), "read", "get", ME),
        (("write",), "write", "delete", CURRENT),  # a write-only token succeeds with write
        (("read", "write"), "read, write", "get", ME),
    ],
)
def test_a_success_says_the_token_permissions(client, user, scopes, header, method, path):
    _, raw = create_token(user, scopes=scopes)
    response = getattr(client, method)(path, headers=bearer(raw))
    assert response.status_code in (HTTPStatus.OK, HTTPStatus.NO_CONTENT)
    assert response[TOKEN_PERMISSIONS] == header
    assert ACCEPTED_PERMISSIONS not in response


def test_the_order_is_stable_whatever_order_the_row_holds(client, user):
    token, raw = create_token(user, scopes=("read", "write"))
    APIToken.objects.filter(pk=token.pk).update(scopes="write  read")
    assert client.get(ME, headers=bearer(raw))[TOKEN_PERMISSIONS] == "read, write"
    assert permissions_header("write read bogus") == "read, write"


def test_other_endpoints_say_it_too(client, user):
    _, raw = create_token(user, scopes=("read", "write"))
    for response in (
        client.get(TOKENS, headers=bearer(raw)),
        client.get("/api/v1/activity/", headers=bearer(raw)),
        client.get("/api/v1/no-such-endpoint/", headers=bearer(raw)),
    ):
        assert response[TOKEN_PERMISSIONS] == "read, write"
    rotated = client.post(ROTATE, "", content_type="application/json", headers=bearer(raw))
    assert rotated.status_code == HTTPStatus.CREATED
    assert rotated[TOKEN_PERMISSIONS] == "read, write"


def test_insufficient_scope_says_what_the_endpoint_needs(client, user):
    _, raw = create_token(user, scopes=("read",))

    response = client.delete(CURRENT, headers=bearer(raw))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["error"] == "insufficient_scope"
    assert response[TOKEN_PERMISSIONS] == "read"
    assert response[ACCEPTED_PERMISSIONS] == "write"


def test_a_write_only_token_reading_is_told_read_is_needed(client, user):
    _, raw = create_token(user, scopes=("write",))

    response = client.get(ME, headers=bearer(raw))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response[TOKEN_PERMISSIONS] == "write"
    assert response[ACCEPTED_PERMISSIONS] == "read"


def test_the_hourly_limit_429_of_a_valid_token_says_its_permissions(client, user, settings):
    settings.QUICKBOT_API_HOURLY_LIMIT = 1
    _, raw = create_token(user, scopes=("read",))
    client.get(ME, headers=bearer(raw))

    limited = client.get(ME, headers=bearer(raw))

    assert limited.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert limited[TOKEN_PERMISSIONS] == "read"


def test_refusals_of_bad_or_held_back_tokens_say_nothing_about_permissions(client, user):
    deleted, deleted_raw = create_token(user, "Deleted", scopes=("read", "write"))
    services.api_token_revoke(token=deleted, actor=user)
    paused, paused_raw = create_token(user, "Paused", scopes=("read", "write"))
    services.api_token_pause(token=paused, actor=user)
    _, listed_raw = create_token(user, "Listed", scopes=("read", "write"), allowed_ips="10.0.0.1")
    responses = [
        client.get(ME),
        client.get(ME, headers={"Authorization": "Bearer nope"}),
        client.get(ME, headers=bearer("qb_" + "A" * 38)),
        client.get(ME, headers=bearer(deleted_raw)),
        client.get(ME, headers=bearer(paused_raw)),
        client.get(ME, headers=bearer(listed_raw)),
    ]
    assert [response.status_code for response in responses] == [401, 401, 401, 401, 401, 403]
    for response in responses:
        assert TOKEN_PERMISSIONS not in response
        assert ACCEPTED_PERMISSIONS not in response
