"""The request ID: one per request, on every response (`QuickBot-Request-Id`), in every API
error body, activity row and log line of the request, so support can find a request a
customer quotes.

A fresh ID is `req_` and 22 URL-safe characters from `secrets`; behind a trusted proxy
(QUICKBOT_TRUSTED_PROXY_COUNT > 0) the proxy's `X-Request-Id` is kept when it is 1 to 64 of
[A-Za-z0-9._-]. The request being handled is kept in a context variable (set and reset by
`quickbot.middleware.RequestIdMiddleware`) for code that has no request at hand: the API's
error bodies, the log filter.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from contextvars import ContextVar, Token

from django.http import HttpRequest

REQUEST_ID_HEADER = "QuickBot-Request-Id"
# The header a trusted proxy sets (`X-Request-Id`), as WSGI names it.
PROXY_REQUEST_ID_META = "HTTP_X_REQUEST_ID"
REQUEST_ID_MAX_LENGTH = 64
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]+")

_current_request: ContextVar[HttpRequest | None] = ContextVar("quickbot_request", default=None)


def request_id_new() -> str:
    """A fresh, unguessable request ID: `req_` and 22 URL-safe characters (128 bits)."""
    return "req_" + secrets.token_urlsafe(16)


def request_id_valid(value: str) -> bool:
    """Whether `value` may be used as a request ID: 1 to 64 of [A-Za-z0-9._-], so it is
    safe as it is in a header, a JSON string, a log line and a URL."""
    # The length first: a 10 KB header is refused without running the pattern over it.
    return 0 < len(value) <= REQUEST_ID_MAX_LENGTH and _REQUEST_ID.fullmatch(value) is not None


def request_id_from(meta: Mapping[str, str], trusted_proxy_count: int) -> str:
    """The ID of a request with these WSGI `meta`: a trusted proxy's valid `X-Request-Id`
    when `trusted_proxy_count` > 0, else (or when it is missing or invalid) a fresh one. A
    client's own header is never used without a proxy: it could forge another's ID."""
    if trusted_proxy_count > 0:
        sent = meta.get(PROXY_REQUEST_ID_META)
        if sent and request_id_valid(sent):
            return sent
    return request_id_new()


def request_context_set(request: HttpRequest) -> Token:
    """Make `request` the one being handled; give the result to `request_context_reset`."""
    return _current_request.set(request)


def request_context_reset(token: Token) -> None:
    """Forget the request `request_context_set` remembered (the response has been made)."""
    _current_request.reset(token)


def request_current() -> HttpRequest | None:
    """The request being handled in this context, or None (start-up, a background job)."""
    return _current_request.get()


def request_id_current() -> str:
    """The ID of the request being handled, or a fresh one outside a request."""
    request = _current_request.get()
    return request.request_id if request is not None else request_id_new()
