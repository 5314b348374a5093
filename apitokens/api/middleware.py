"""Bearer-token authentication for API views (and only for them).

Like `django.contrib.auth`'s middleware, this is request/response plumbing around one call:
`auth.authenticate_bearer(request)` before a view marked by `@token_required` (or, when a
token is sent, `@token_optional`), then the rate-limit, permission and expiry headers and
the usage record after it. Before that, every request under /api/ (any path, any method,
known or not) passes `auth.refuse_credentials_in_url`, so a token in its URL is refused and
deleted. Portal pages never see a bearer token: for them this middleware does nothing, so
the session-based `request.user` stays as AuthenticationMiddleware made it. The session is
never read or written here and no API response sets a cookie.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import lru_cache

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse

from apitokens.api import errors, usage
from apitokens.api.auth import ApiCall, authenticate_bearer, refuse_credentials_in_url
from apitokens.models import ALL_SCOPES
from common.metrics import api_tally

logger = logging.getLogger(__name__)

# Attribute `@token_required` / `@token_optional` set on a view function.
VIEW_MARKER = "token_required"
TOKEN_REQUIRED = True
TOKEN_OPTIONAL = "optional"

_CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)
# `path_info[:5].lower()` of an API request; "/api" alone and other letter cases count, so no
# redirect or HTML 404 answers a URL carrying a token before it is refused.
_API_ROOTS = frozenset({"/api/", "/api"})


class ApiTokenMiddleware:
    """Authenticates API views by bearer token; see the module docstring."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        if request.path_info[:5].lower() in _API_ROOTS:
            refusal = refuse_credentials_in_url(request)
            if refusal is not None:
                api_tally.count("token_in_url")
                return refusal
        response = self.get_response(request)
        call: ApiCall | None = request.__dict__.get("api_call")
        if call is not None:
            _add_headers(response, call)
            usage.request_record(request, response, call, started)
            api_tally.count(call.outcome, call.auth_seconds)
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        marker = getattr(view_func, VIEW_MARKER, None)
        if marker is None:
            return None
        if marker == TOKEN_OPTIONAL and "HTTP_AUTHORIZATION" not in request.META:
            return None
        started = time.perf_counter()
        call = authenticate_bearer(request)
        call.auth_seconds = time.perf_counter() - started
        request.api_call = call
        # API views never accept the session, whatever AuthenticationMiddleware prepared.
        if call.ok:
            request.user, request.auth = call.token.owner, call.token
        else:
            request.user, request.auth = AnonymousUser(), None
        return call.refusal

    def process_exception(self, request: HttpRequest, exception: Exception):
        if "api_call" not in request.__dict__ and not request.path.startswith("/api/"):
            return None
        if isinstance(exception, _CLIENT_ERRORS):
            # Django's handlers give these their own status (JSON under /api/), not a 500.
            return None
        logger.error("Unhandled error in API view %s", request.path, exc_info=exception)
        return errors.server_error()


def _add_headers(response: HttpResponse, call: ApiCall) -> None:
    headers = response.headers
    if call.rate is not None:
        for name, value in call.rate.headers(call.now.timestamp()).items():
            headers[name] = value
    token = call.token
    if token is None:
        return
    if call.ok:
        headers["QuickBot-Token-Permissions"] = permissions_header(token.scopes)
        if call.accepted_permissions:
            headers["QuickBot-Accepted-Permissions"] = ", ".join(call.accepted_permissions)
        if token.expires_at is not None:
            headers["QuickBot-Token-Expiration"] = errors.format_moment(token.expires_at)
    headers["Cache-Control"] = "no-store"


@lru_cache(maxsize=16)
def permissions_header(scopes: str) -> str:
    """A token's permissions as its header says them: known ones, in a stable order."""
    granted = scopes.split()
    return ", ".join(scope for scope in ALL_SCOPES if scope in granted)
