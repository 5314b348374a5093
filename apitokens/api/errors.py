"""The API's one error shape, `{"error", "detail", "docs", "request_id"}`, and its RFC 6750
challenges."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from http import HTTPStatus

from django.http import HttpResponse
from django.urls import reverse

from apitokens.api import internals
from common import mail
from common.request_id import request_id_current

REALM = 'Bearer realm="QuickBot API"'
DOCS_ERRORS = "/docs/api/#errors"


@lru_cache(maxsize=512)
def _error_body_start(error: str, detail: str) -> bytes:
    # Everything but the request's ID and the closing brace: the same for every request.
    body = json.dumps({"error": error, "detail": detail, "docs": DOCS_ERRORS}).encode()
    return body[:-1] + b', "request_id": "'


def _error_body(error: str, detail: str, request_id: str) -> bytes:
    # A request ID is [A-Za-z0-9._-] only (common.request_id): nothing in it needs escaping.
    return _error_body_start(error, detail) + request_id.encode() + b'"}'


def api_error(
    status: int,
    error: str,
    detail: str,
    *,
    challenge: str | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    """A JSON error in the API's one shape: {"error", "detail", "docs", "request_id"} (the
    ID of the request being handled, as its QuickBot-Request-Id header), never cached."""
    response = HttpResponse(
        _error_body(error, detail, request_id_current()),
        status=status,
        content_type="application/json",
    )
    if challenge is not None:
        response["WWW-Authenticate"] = challenge
    if headers:
        for name, value in headers.items():
            response[name] = value
    response["Cache-Control"] = "no-store"
    if status < 500:
        # A client spraying bad tokens must not flood the logs; activity rows, the
        # security log and the per-IP limit record refusals. Server errors still log.
        internals.mark_response_logged(response)
    return response


def bearer_challenge(error: str, description: str, scope: str | None = None) -> str:
    """RFC 6750 WWW-Authenticate value. `description` is ours, never client input."""
    challenge = f'{REALM}, error="{error}", error_description="{description}"'
    if scope is not None:
        challenge += f', scope="{scope}"'
    return challenge


def format_moment(moment: datetime) -> str:
    """A moment as the API's messages and headers write it: `2026-12-01 08:06:00 UTC`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def invalid_token(description: str) -> HttpResponse:
    return api_error(
        HTTPStatus.UNAUTHORIZED,
        "invalid_token",
        description,
        challenge=bearer_challenge("invalid_token", description),
    )


def token_paused(public_id: str, *, by_staff: bool = False) -> HttpResponse:
    """401: a known token its owner (or staff) paused; the detail says where to resume it,
    or, when staff paused it, that only staff can."""
    page = mail.site_url(reverse("apitokens:detail", args=[public_id]))
    if by_staff:
        description = (
            "This token is paused by QuickBot staff: QuickBot refuses it until staff resume "
            f"it. Contact QuickBot support; its page in Account settings > API Tokens: {page}"
        )
    else:
        description = (
            "This token is paused: QuickBot refuses it until it is resumed. Resume it on its "
            f"page in Account settings > API Tokens: {page}"
        )
    return api_error(
        HTTPStatus.UNAUTHORIZED,
        "token_paused",
        description,
        challenge=bearer_challenge("invalid_token", description),
    )


def missing_token() -> HttpResponse:
    return api_error(
        HTTPStatus.UNAUTHORIZED,
        "missing_token",
        "This endpoint needs an API token: send 'Authorization: Bearer <token>'.",
        challenge=REALM,
    )


def bad_header(problem: str) -> HttpResponse:
    return api_error(
        HTTPStatus.BAD_REQUEST,
        "invalid_request",
        problem,
        challenge=bearer_challenge("invalid_request", problem),
    )


def unsupported_scheme(problem: str) -> HttpResponse:
    return api_error(HTTPStatus.UNAUTHORIZED, "unsupported_scheme", problem, challenge=REALM)


def token_in_url() -> HttpResponse:
    return api_error(
        HTTPStatus.BAD_REQUEST,
        "invalid_request",
        "Tokens are never accepted in the URL. Send 'Authorization: Bearer <token>'.",
        challenge=bearer_challenge(
            "invalid_request", "Send the token in the Authorization header."
        ),
    )


def ip_not_allowed(ip: str | None) -> HttpResponse:
    """403: the token is good but the request comes from outside its IP allowlist."""
    return api_error(
        HTTPStatus.FORBIDDEN,
        "ip_not_allowed",
        f"This token cannot be used from {ip or 'an unknown address'}: the address is not in "
        "the token's IP allowlist. Add it in Account settings > API Tokens, or call from an "
        "allowed address.",
    )


def rotation_conflict(detail: str) -> HttpResponse:
    """409: the token changed (another rotation, a delete) while this rotation ran."""
    return api_error(HTTPStatus.CONFLICT, "conflict", detail)


def too_many_bad_credentials(retry_after: int) -> HttpResponse:
    return api_error(
        HTTPStatus.TOO_MANY_REQUESTS,
        "rate_limited",
        "Too many requests with invalid credentials from your address. "
        f"Try again in {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )


def too_many_reports(retry_after: int) -> HttpResponse:
    return api_error(
        HTTPStatus.TOO_MANY_REQUESTS,
        "rate_limited",
        f"Too many credential reports from your address. Try again in {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )


def bad_report(problem: str) -> HttpResponse:
    return api_error(HTTPStatus.BAD_REQUEST, "invalid_request", problem)


def hourly_limit_used(limit: int, seconds: int) -> HttpResponse:
    return api_error(
        HTTPStatus.TOO_MANY_REQUESTS,
        "rate_limited",
        f"You used your hourly request limit of {limit} requests. It resets in {seconds} seconds.",
        headers={"Retry-After": str(seconds)},
    )


def lookup_unavailable() -> HttpResponse:
    return api_error(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "service_unavailable",
        "QuickBot cannot check tokens right now. Try again in a minute.",
        headers={"Retry-After": "30"},
    )


def limit_unavailable() -> HttpResponse:
    return api_error(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "service_unavailable",
        "QuickBot cannot check your hourly request limit right now. Try again in a minute.",
        headers={"Retry-After": "60"},
    )


def server_error() -> HttpResponse:
    return api_error(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "server_error",
        "Something went wrong on our side. Try again; if it persists, contact support.",
    )
