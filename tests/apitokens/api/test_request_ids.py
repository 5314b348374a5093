"""Request IDs in the API (#24.1): the activity list shows and filters by them; the OpenAPI
document and the reference describe the header and the error body's field."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client

from apitokens.api.openapi import openapi_spec
from common.request_id import REQUEST_ID_HEADER
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

ACTIVITY = "/api/v1/activity/"


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def test_activity_lists_each_requests_id(user):
    _token, raw = create_token(user, scopes=["read"])
    client = Client()
    first = client.get("/api/v1/me/", headers=bearer(raw))[REQUEST_ID_HEADER]
    listing = client.get(ACTIVITY, headers=bearer(raw)).json()["activity"]
    assert [row["request_id"] for row in listing] == [first]


def test_activity_filters_by_request_id_within_the_account(user, other_user):
    _token, raw = create_token(user, scopes=["read"])
    _theirs, their_raw = create_token(other_user, scopes=["read"])
    client = Client()
    wanted = client.get("/api/v1/me/", headers=bearer(raw))[REQUEST_ID_HEADER]
    client.get("/api/v1/tokens/", headers=bearer(raw))
    theirs = client.get("/api/v1/me/", headers=bearer(their_raw))[REQUEST_ID_HEADER]
    found = client.get(ACTIVITY, {"request_id": wanted}, headers=bearer(raw)).json()
    assert [row["request_id"] for row in found["activity"]] == [wanted]
    assert found["next_cursor"] is None
    other = client.get(ACTIVITY, {"request_id": theirs}, headers=bearer(raw)).json()
    assert other["activity"] == []


@pytest.mark.parametrize("value", ["", "req_\x00", "x" * 65, "req abc", "<b>", "req_аbc"])
def test_activity_refuses_what_is_no_request_id(user, value):
    _token, raw = create_token(user, scopes=["read"])
    response = Client().get(ACTIVITY, {"request_id": value}, headers=bearer(raw))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    body = response.json()
    assert body["error"] == "invalid_request"
    assert "request_id: expected a QuickBot-Request-Id" in body["detail"]
    assert body["request_id"] == response[REQUEST_ID_HEADER]


def test_openapi_documents_the_header_and_the_error_field():
    spec = openapi_spec()
    error = spec["components"]["schemas"]["Error"]
    assert "request_id" in error["required"]
    assert "contact support" in error["properties"]["request_id"]["description"]
    assert "contact support" in spec["components"]["headers"][REQUEST_ID_HEADER]["description"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                assert REQUEST_ID_HEADER in response.get("headers", {}), (path, method, status)
    activity = spec["paths"][ACTIVITY]["get"]
    assert "request_id" in {parameter["name"] for parameter in activity["parameters"]}
    assert "request_id" in spec["components"]["schemas"]["Activity"]["properties"]


def test_the_reference_explains_request_ids(client):
    page = client.get("/docs/api/").text
    assert 'id="request-ids"' in page
    assert "QuickBot-Request-Id" in page
    assert "Quote this ID when you contact support" in page
