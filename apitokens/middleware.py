"""Bearer-token authentication for API views (and only for them).

`ApiTokenMiddleware.process_view` runs for views marked by `@token_required`: it checks the
Authorization header's format before any database access, looks the token up in one
query, applies the per-IP bad-credential limit and the per-account hourly limit, and sets
`request.user` / `request.auth`. After the view it adds the rate-limit headers and records
usage. Portal pages never see a bearer token: for them this middleware does nothing, so the
session-based `request.user` stays as AuthenticationMiddleware made it. The session is never
read or written here and no API response sets a cookie.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from http import HTTPStatus

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from apitokens import activity, ratelimit, tokens
from apitokens.models import APIToken, AuthResult

logger = logging.getLogger(__name__)

REALM = 'Bearer realm="QuickBot API"'
DOCS_ERRORS = "/docs/api/#errors"
# Attribute set on a view function by `@token_required`.
VIEW_MARKER = "token_required"


def clock() -> datetime:
    """The one time seam of the API path (tests replace it)."""
    return timezone.now()


@lru_cache(maxsize=512)
def _error_body(error: str, detail: str) -> bytes:
    return json.dumps({"error": error, "detail": detail, "docs": DOCS_ERRORS}).encode()


def api_error(
    status: int,
    error: str,
    detail: str,
    *,
    challenge: str | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    """A JSON error in the API's one shape: {"error", "detail", "docs"}."""
    response = HttpResponse(
        _error_body(error, detail), status=status, content_type="application/json"
    )
    if challenge is not None:
        response["WWW-Authenticate"] = challenge
    if headers:
        for name, value in headers.items():
            response[name] = value
    response["Cache-Control"] = "no-store"
    # Expected refusals are not logged line by line by django.request: a client spraying
    # bad tokens must not flood the logs (activity rows and the per-IP limit cover them).
    # Server errors (5xx) are still logged.
    if status < 500:
        response._has_been_logged = True
    return response


def bearer_challenge(error: str, description: str, scope: str | None = None) -> str:
    """RFC 6750 WWW-Authenticate value. `description` is ours, never client input."""
    challenge = f'{REALM}, error="{error}", error_description="{description}"'
    if scope is not None:
        challenge += f', scope="{scope}"'
    return challenge


def _invalid_token(description: str) -> HttpResponse:
    return api_error(
        HTTPStatus.UNAUTHORIZED,
        "invalid_token",
        description,
        challenge=bearer_challenge("invalid_token", description),
    )


def _too_many_bad_credentials(retry_after: int) -> HttpResponse:
    return api_error(
        HTTPStatus.TOO_MANY_REQUESTS,
        "rate_limited",
        "Too many requests with invalid credentials from your address. "
        f"Try again in {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )


def _format_moment(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def dead_token_description(result: AuthResult) -> str:
    """Why a known token was refused, in words the troubleshooting guide uses."""
    token = result.token
    if result.reason == "revoked":
        return "This token has been deleted. Create a new token in Account settings > API Tokens."
    if result.reason == "inactive":
        return "The account that owns this token is deactivated."
    if result.used_previous_value:
        return (
            "This token value was replaced when the token was regenerated and stopped "
            f"working on {_format_moment(token.previous_expires_at or token.regenerated_at)}. "
            "Use the new value."
        )
    return f"This token expired on {_format_moment(token.expires_at)}."


_QUERY_STRING_CREDENTIALS = ("access_token", "token")


def _credentials_in_query_string(request: HttpRequest) -> bool:
    if not request.META.get("QUERY_STRING"):
        return False
    query = request.GET
    if "access_token" in query:
        return True
    # `token=` is also the activity filter (a public id); only a token-shaped value counts.
    return any(value.startswith(tokens.PREFIX) for value in query.getlist("token"))


class ApiCall:
    """Per-request API state, kept on `request.api_call` for the response phase."""

    __slots__ = ("token", "ok", "flagged", "used_previous_value", "rate", "ip", "now")

    def __init__(self, now: datetime, ip: str | None) -> None:
        self.token: APIToken | None = None
        self.ok = False
        self.flagged = False
        self.used_previous_value = False
        self.rate: ratelimit.RateLimitState | None = None
        self.ip = ip
        self.now = now


_CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)


class ApiTokenMiddleware:
    """Authenticates `@token_required` views by bearer token; see the module docstring."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        call: ApiCall | None = request.__dict__.get("api_call")
        if call is not None:
            self._finish(request, response, call, started)
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if not getattr(view_func, VIEW_MARKER, False):
            return None
        return authenticate_api_request(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if "api_call" not in request.__dict__ and not request.path.startswith("/api/"):
            return None
        if isinstance(exception, _CLIENT_ERRORS):
            # Http404, PermissionDenied, a bad or oversized request: Django's handlers give
            # them their own status (JSON under /api/, see quickbot.views), not a 500.
            return None
        logger.error("Unhandled error in API view %s", request.path, exc_info=exception)
        return api_error(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            "server_error",
            "Something went wrong on our side. Try again; if it persists, contact support.",
        )

    def _finish(
        self, request: HttpRequest, response: HttpResponse, call: ApiCall, started: float
    ) -> None:
        token = call.token
        if call.rate is not None:
            _set_own_headers(response, call.rate.header_items(call.now.timestamp()))
        if token is None:
            return
        if call.ok and token.expires_at is not None:
            _set_own_headers(
                response,
                (
                    ("QuickBot-Token-Expiration", _format_moment(token.expires_at)),
                    _NO_STORE,
                ),
            )
        else:
            _set_own_headers(response, (_NO_STORE,))
        try:
            activity.activity_record(
                token_id=token.pk,
                owner_id=token.owner_id,
                method=request.method or "",
                path=request.path,
                status=response.status_code,
                ip=call.ip,
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                duration_ms=int((time.perf_counter() - started) * 1000),
                flagged=call.flagged,
                used_previous_value=call.used_previous_value,
                now=call.now,
            )
            if call.ok:
                activity.last_used_touch(token=token, ip=call.ip, now=call.now)
        except DatabaseError:
            logger.exception("Could not record API usage for token %s", token.public_id)


_NO_STORE = ("Cache-Control", "no-store")


def _set_own_headers(response: HttpResponse, items) -> None:
    """Set headers this module built (ASCII names and values, no line breaks) straight in
    the response's header store: `HttpResponse.__setitem__` re-encodes and re-checks both
    for every header, which cost more than the rest of `_finish` (profile in
    docs/performance.md). Falls back to it should Django's ResponseHeaders change."""
    store = getattr(response.headers, "_store", None)
    if type(store) is not dict:
        for name, value in items:
            response[name] = value
        return
    for name, value in items:
        store[name.lower()] = (name, value)


@lru_cache(maxsize=1)
def _token_queryset():
    """One queryset object for every lookup: `authenticate` only needs its database alias,
    and building a QuerySet per request costs more than hashing the token."""
    return APIToken.objects.all()


def authenticate_api_request(request: HttpRequest) -> HttpResponse | None:
    """Authenticate an API request; None when the view may run, else the error response."""
    now = clock()
    ip = ratelimit.client_ip(request)
    call = ApiCall(now, ip)
    request.api_call = call
    # API views never accept the session: whatever AuthenticationMiddleware prepared is
    # replaced before anything could evaluate it.
    request.user = AnonymousUser()
    request.auth = None

    if _credentials_in_query_string(request):
        return api_error(
            HTTPStatus.BAD_REQUEST,
            "invalid_request",
            "Tokens are never accepted in the URL. Send 'Authorization: Bearer <token>'.",
            challenge=bearer_challenge(
                "invalid_request", "Send the token in the Authorization header."
            ),
        )

    parsed = tokens.parse_authorization(request.META.get("HTTP_AUTHORIZATION"))
    verdict = parsed.verdict
    if verdict == tokens.HeaderVerdict.ABSENT:
        return api_error(
            HTTPStatus.UNAUTHORIZED,
            "missing_token",
            "This endpoint needs an API token: send 'Authorization: Bearer <token>'.",
            challenge=REALM,
        )
    epoch = now.timestamp()
    if verdict != tokens.HeaderVerdict.BEARER:
        retry_after = ratelimit.bad_auth_hit(ip, epoch)
        if retry_after is not None:
            return _too_many_bad_credentials(retry_after)
        if verdict == tokens.HeaderVerdict.MALFORMED:
            return api_error(
                HTTPStatus.BAD_REQUEST,
                "invalid_request",
                parsed.problem,
                challenge=bearer_challenge("invalid_request", parsed.problem),
            )
        if verdict == tokens.HeaderVerdict.OTHER_SCHEME:
            return api_error(
                HTTPStatus.UNAUTHORIZED, "unsupported_scheme", parsed.problem, challenge=REALM
            )
        return _invalid_token(parsed.problem)

    # An address over its bad-credential allowance is refused whatever it presents; for
    # a valid token that is decided together with the hourly count (one cache read), for
    # any other by the failure count below. Either way the answer reveals nothing.
    digest = tokens.token_digest(parsed.token)
    owner_id = ratelimit.owner_hint(digest)
    pending = None
    if owner_id is not None:  # count while the lookup runs (see ratelimit.PendingHit)
        pending = ratelimit.rate_limit_begin(user_id=owner_id, now=epoch, ip=ip)
    try:
        return _authenticate_digest(request, call, digest, pending, now, epoch, ip)
    finally:
        if pending is not None and pending.open:  # refused or failed: give the count back
            pending.cancel()


def _authenticate_digest(
    request: HttpRequest,
    call: ApiCall,
    digest: str,
    pending: ratelimit.PendingHit | None,
    now: datetime,
    epoch: float,
    ip: str | None,
) -> HttpResponse | None:
    try:
        result = _token_queryset().authenticate_digest(digest, now=now)
    except DatabaseError:
        logger.exception("Token lookup failed: database unavailable")
        return api_error(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "service_unavailable",
            "QuickBot cannot check tokens right now. Try again in a minute.",
            headers={"Retry-After": "30"},
        )

    if not result.ok:
        ratelimit.forget_owner(digest)
        retry_after = ratelimit.bad_auth_hit(ip, epoch)
        if result.token is None:
            if retry_after is not None:
                return _too_many_bad_credentials(retry_after)
            return _invalid_token(
                "This token is unknown: it is not a QuickBot token of any account. "
                "Check that you copied the right value."
            )
        token = result.token
        call.token = token
        call.used_previous_value = result.used_previous_value
        call.flagged = result.reason in ("revoked", "expired")
        if call.flagged:
            _report_dead_token_use(request, token, ip, now, result.used_previous_value)
        if retry_after is not None:
            return _too_many_bad_credentials(retry_after)
        return _invalid_token(dead_token_description(result))

    token = result.token
    call.token = token
    call.ok = True
    call.used_previous_value = result.used_previous_value
    request.user = token.owner
    request.auth = token

    limit = ratelimit.hourly_limit_for(token.owner)
    try:
        if pending is not None and pending.user_id == token.owner_id:
            state = pending.finish(limit)
        else:
            state = ratelimit.rate_limit_hit(
                user_id=token.owner_id, limit=limit, now=epoch, ip=ip, digest=digest
            )
    except ratelimit.RateLimitUnavailable:
        if settings.QUICKBOT_RATELIMIT_FAIL_CLOSED:
            return api_error(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "service_unavailable",
                "QuickBot cannot check your hourly request limit right now. Try again in a minute.",
                headers={"Retry-After": "60"},
            )
        return None
    if state.blocked_for is not None:
        request.user, request.auth, call.ok = AnonymousUser(), None, False
        return _too_many_bad_credentials(state.blocked_for)
    call.rate = state
    if not state.allowed:
        seconds = state.seconds_to_reset(epoch)
        return api_error(
            HTTPStatus.TOO_MANY_REQUESTS,
            "rate_limited",
            f"You used your hourly request limit of {state.limit} requests. "
            f"It resets in {seconds} seconds.",
            headers={"Retry-After": str(seconds)},
        )
    return None


def _report_dead_token_use(
    request: HttpRequest, token: APIToken, ip: str | None, now: datetime, used_previous: bool
) -> None:
    """Tell the audit service that someone still uses a deleted or expired token (it keeps
    one security-log row per token per hour and rate-limits the owner's emails)."""
    from apitokens import services

    client = services.ClientInfo(ip=ip, user_agent=request.META.get("HTTP_USER_AGENT", "")[:256])
    try:
        services.api_token_dead_use_record(
            token=token, client=client, now=now, used_previous_value=used_previous
        )
    except Exception:
        # The refusal matters more than its bookkeeping: never turn a 401 into a 500.
        logger.exception("Could not record use of dead token %s", token.public_id)
