from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import get_resolver
from openapi_spec_validator import validate

from apitokens.api.openapi import ERROR_CATALOGUE, openapi_spec


def test_document_is_valid_openapi_3_1():
    spec = openapi_spec()
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_security_scheme_is_bearer():
    spec = openapi_spec()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert spec["security"] == [{"bearer": []}]


def test_every_api_route_is_documented_and_every_documented_path_resolves():
    documented = set(openapi_spec()["paths"])
    assert documented == {
        "/api/v1/me/",
        "/api/v1/tokens/",
        "/api/v1/tokens/current/",
        "/api/v1/activity/",
        "/api/v1/credentials/revoke",
        "/api/v1/tokens/current/rotate",
    }
    for path in documented:
        match = get_resolver().resolve(path)
        assert match.url_name != "not-found", path


def test_error_codes_in_catalogue_are_the_ones_the_api_sends():
    assert {error for _, error, _, _ in ERROR_CATALOGUE} == {
        "invalid_request",
        "missing_token",
        "unsupported_scheme",
        "invalid_token",
        "token_paused",
        "insufficient_scope",
        "ip_not_allowed",
        "conflict",
        "not_found",
        "method_not_allowed",
        "rate_limited",
        "service_unavailable",
        "server_error",
    }


@pytest.mark.django_db
def test_openapi_json_is_served_without_a_token(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json"
    assert response.json()["info"]["title"] == "QuickBot API"


def test_revocation_endpoint_is_documented_without_authentication():
    operation = openapi_spec()["paths"]["/api/v1/credentials/revoke"]["post"]
    assert operation["security"] == []
    schema = openapi_spec()["components"]["schemas"]["CredentialReport"]
    assert schema["properties"]["credentials"]["maxItems"] == 1000
    assert set(operation["responses"]) == {"202", "400", "405", "429"}


def test_permission_headers_are_documented_where_the_api_sends_them():
    spec = openapi_spec()
    headers = spec["components"]["headers"]
    assert {"QuickBot-Token-Permissions", "QuickBot-Accepted-Permissions"} <= set(headers)
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            if "403" not in responses:
                continue
            forbidden = responses["403"]["headers"]
            assert "QuickBot-Accepted-Permissions" in forbidden, path
            assert "QuickBot-Token-Permissions" in forbidden, path
            for status in ("200", "201"):
                if status in responses:
                    assert "QuickBot-Token-Permissions" in responses[status]["headers"], path
                    assert "QuickBot-Accepted-Permissions" not in responses[status]["headers"]


def test_the_paused_error_is_documented_on_the_401():
    operation = openapi_spec()["paths"]["/api/v1/me/"]["get"]
    assert "token_paused" in operation["responses"]["401"]["description"]
