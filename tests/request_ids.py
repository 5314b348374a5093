"""Comparing responses that differ only by their request's ID (`QuickBot-Request-Id` and the
error body's "request_id"), which is new on every request."""

from __future__ import annotations

import json

from common.request_id import REQUEST_ID_HEADER


def body_without_request_id(response) -> object:
    """The response's JSON without its "request_id" (its bytes when it is not JSON)."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return response.content
    if isinstance(body, dict):
        body.pop("request_id", None)
    return body


def headers_without_request_id(response) -> list[tuple[str, str]]:
    return sorted((name, value) for name, value in response.items() if name != REQUEST_ID_HEADER)


def comparable(response) -> tuple:
    """Status, body and headers, but the request's ID."""
    return (
        response.status_code,
        body_without_request_id(response),
        headers_without_request_id(response),
    )
