"""The QuickBot API (v1): JSON only, bearer token only (see `apitokens.api.middleware`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.csrf import csrf_exempt

from apitokens import selectors, services
from apitokens.api import errors, limits
from apitokens.api.decorators import token_optional, token_required
from apitokens.api.errors import api_error
from apitokens.api.jsonbody import InvalidJsonBody, parse_json_body
from apitokens.api.openapi import openapi_spec
from apitokens.models import SCOPE_WRITE, APIToken, SecurityEvent
from common.clientip import client_ip
from common.request_id import request_id_valid

ACTIVITY_PAGE_DEFAULT = 50
_PUBLIC_ID = re.compile(r"[0-9A-Za-z]{1,32}")
ACTIVITY_PAGE_MAX = 100


def allow_methods(*methods: str) -> Callable:
    """Like `require_http_methods`, but answers 405 in the API's JSON shape with `Allow`."""
    allowed = frozenset(methods)
    allow_header = ", ".join(sorted(allowed))

    def decorate(view_func: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view_func)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in allowed:
                return api_error(
                    HTTPStatus.METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    f"{request.method} is not allowed here. Allowed: {allow_header}.",
                    headers={"Allow": allow_header},
                )
            return view_func(request, *args, **kwargs)

        return wrapper

    return decorate


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def token_summary(token: APIToken) -> dict:
    """A token's metadata as the API shows it: never its value or digest."""
    return {
        "id": token.public_id,
        "name": token.name,
        "identifier": token.identifier,
        "scopes": token.scope_list,
        "created_at": _iso(token.created_at),
        "last_used_at": _iso(token.last_used_at),
        "expires_at": _iso(token.expires_at),
        "allowed_ips": token.allowed_ip_list,
    }


def _rate_limit_body(state: limits.RateLimitState | None, user) -> dict:
    state = state or limits.usage_for(user)
    return {
        "limit": state.limit,
        "used": min(state.used, state.limit),
        "remaining": state.remaining,
        "reset": state.reset_at,
    }


@allow_methods("GET", "HEAD")
@token_required
def me(request: HttpRequest) -> JsonResponse:
    """The calling account, the calling token and the hourly limit."""
    user, token = request.user, request.auth
    return JsonResponse(
        {
            "account": {
                "id": user.pk,
                "email": user.email,
                "display_name": user.display_name,
                "date_joined": _iso(user.date_joined),
            },
            "token": token_summary(token),
            "rate_limit": _rate_limit_body(request.api_call.rate, user),
        }
    )


def _listed_status(token: APIToken, now) -> str:
    """ "active", "paused" (it answers 401 token_paused until resumed) or "expired"."""
    status = token.status(now)
    return "paused" if status == "active" and token.is_paused else status


@allow_methods("GET", "HEAD")
@token_required
def token_list(request: HttpRequest) -> JsonResponse:
    """The account's tokens that are not deleted (expired ones included), newest first."""
    tokens = request.user.api_tokens.active().order_by("-created_at", "-id")
    return JsonResponse(
        {
            "tokens": [
                {**token_summary(token), "status": _listed_status(token, request.api_call.now)}
                for token in tokens
            ]
        }
    )


@allow_methods("DELETE")
@token_required
def token_current(request: HttpRequest) -> HttpResponse:
    """The calling token deletes itself: for a script that knows its token leaked."""
    token = request.auth
    services.api_token_revoke(
        token=token,
        actor=token.owner,
        reason=APIToken.RevokedBy.SELF,
        client=services.ClientInfo.from_request(request, ip=request.api_call.ip),
        now=request.api_call.now,
    )
    return HttpResponse(status=HTTPStatus.NO_CONTENT)


class _BadParameters(Exception):
    pass


ROTATION_OVERLAP_DEFAULT = 3600
ROTATION_OVERLAP_MAX = 7 * 24 * 3600


def _rotation_overlap(request: HttpRequest) -> timedelta:
    """The body of a rotation: nothing, or a JSON object with `overlap` in seconds."""
    if not request.body.strip():
        return timedelta(seconds=ROTATION_OVERLAP_DEFAULT)
    try:
        body = parse_json_body(request)
    except InvalidJsonBody as error:
        raise _BadParameters(
            f'Invalid body: expected JSON such as {{"overlap": 3600}}, or no body. {error}'
        ) from None
    if not isinstance(body, dict):
        raise _BadParameters('Invalid body: expected a JSON object such as {"overlap": 3600}.')
    unknown = sorted(key for key in body if key != "overlap")
    if unknown:
        raise _BadParameters(
            f"Invalid body: {', '.join(unknown)[:100]}: unknown field; use overlap."
        )
    overlap = body.get("overlap", ROTATION_OVERLAP_DEFAULT)
    if (
        not isinstance(overlap, int)
        or isinstance(overlap, bool)
        or not 0 <= overlap <= ROTATION_OVERLAP_MAX
    ):
        raise _BadParameters(
            f"Invalid body: overlap: expected whole seconds from 0 to {ROTATION_OVERLAP_MAX} "
            "(7 days)."
        )
    return timedelta(seconds=overlap)


@allow_methods("POST")
@token_required(scopes=[SCOPE_WRITE])
def token_rotate(request: HttpRequest) -> HttpResponse:
    """The calling token gets a new value, shown once; the value it was called with keeps
    working for `overlap` seconds. Of two rotations with the same value, one wins (409)."""
    call = request.api_call
    if call.used_previous_value:
        return errors.rotation_conflict(
            "This value was already replaced by a rotation; nothing was changed. Use the new "
            "value (it keeps working until this one stops)."
        )
    try:
        overlap = _rotation_overlap(request)
    except _BadParameters as error:
        return api_error(HTTPStatus.BAD_REQUEST, "invalid_request", str(error))
    token = request.auth
    try:
        token, value = services.api_token_regenerate(
            token=token,
            actor=token.owner,
            overlap=overlap,
            client=services.ClientInfo.from_request(request, ip=call.ip),
            now=call.now,
            expected_digest=token.digest,
            actor_kind=SecurityEvent.Actor.TOKEN,
        )
    except services.TokenNotRegenerable:
        return errors.rotation_conflict(
            "This token was rotated or deleted by another request meanwhile; this request "
            "changed nothing. Use the value the other rotation returned."
        )
    previous_until = call.now + overlap if overlap else None
    response = JsonResponse(
        {
            "value": value,
            "token": token_summary(token),
            "previous_value_expires_at": _iso(previous_until),
        },
        status=HTTPStatus.CREATED,
    )
    response["Cache-Control"] = "no-store"
    return response


def _parse_since(value: str) -> datetime:
    moment = None
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            if day is not None:
                moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if moment is not None:
            moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise _BadParameters(
            "since: expected an ISO 8601 date or date-time, e.g. 2026-01-31 or 2026-01-31T12:00:00Z"
        )
    return moment


def _activity_filters(
    request: HttpRequest,
) -> tuple[dict, int, selectors.ActivityPosition | None]:
    """Validate the activity query; every problem is collected, then raised at once."""
    query = request.GET
    problems: list[str] = []
    filters: dict = {}
    known = {"token", "status", "since", "request_id", "limit", "cursor"}
    unknown = sorted(set(query) - known)
    if unknown:
        problems.append(
            f"{', '.join(unknown)[:100]}: unknown parameter; use token, status, since, "
            "request_id, limit or cursor"
        )
    if "token" in query:
        public_id = query["token"]
        token = None
        if _PUBLIC_ID.fullmatch(public_id):  # anything else cannot exist: no query for it
            token = request.user.api_tokens.filter(public_id=public_id).only("pk").first()
        if token is None:
            problems.append("token: no token of your account has this id")
        else:
            filters["token"] = token
    if "status" in query:
        text = query["status"]
        if not (text.isascii() and text.isdigit() and 100 <= int(text) <= 599):
            problems.append("status: expected an HTTP status code between 100 and 599")
        else:
            filters["status"] = int(text)
    if "request_id" in query:
        if not request_id_valid(query["request_id"]):  # never queried: a NUL breaks PostgreSQL
            problems.append(
                "request_id: expected a QuickBot-Request-Id (up to 64 letters, digits, ., - or _)"
            )
        else:
            filters["request_id"] = query["request_id"]
    if "since" in query:
        try:
            filters["since"] = _parse_since(query["since"])
        except _BadParameters as error:
            problems.append(str(error))
    limit = ACTIVITY_PAGE_DEFAULT
    if "limit" in query:
        text = query["limit"]
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= ACTIVITY_PAGE_MAX):
            problems.append(f"limit: expected a whole number from 1 to {ACTIVITY_PAGE_MAX}")
        else:
            limit = int(text)
    cursor = None
    if "cursor" in query:
        cursor = selectors.parse_activity_cursor(query["cursor"])
        if cursor is None:
            problems.append("cursor: not a cursor this API returned; start without it")
    if problems:
        raise _BadParameters("Invalid parameters: " + "; ".join(problems) + ".")
    return filters, limit, cursor


@allow_methods("GET", "HEAD")
@token_required
def activity_list(request: HttpRequest) -> JsonResponse:
    """The account's API activity, newest first, keyset-paginated by an opaque cursor."""
    try:
        filters, limit, cursor = _activity_filters(request)
    except _BadParameters as error:
        return api_error(HTTPStatus.BAD_REQUEST, "invalid_request", str(error))
    page = selectors.activity_page(owner=request.user, older_than=cursor, size=limit, **filters)
    return JsonResponse(
        {
            "activity": [
                {
                    "id": row.pk,
                    "token": {
                        "id": row.token.public_id,
                        "name": row.token.name,
                        "identifier": row.token.identifier,
                    },
                    "created_at": _iso(row.created_at),
                    "method": row.method,
                    "path": row.path,
                    "status": row.status,
                    "ip": row.ip,
                    "user_agent": row.user_agent,
                    "duration_ms": row.duration_ms,
                    "flagged": row.flagged,
                    "used_previous_value": row.used_previous_value,
                    "outside_allowlist": row.outside_allowlist,
                    "request_id": row.request_id or None,
                }
                for row in page.rows
            ],
            "next_cursor": page.older,
        }
    )


_REPORT_SHAPE = 'Send a JSON object: {"credentials": ["qb_…", …]}'


def _reported_values(request: HttpRequest) -> list[str]:
    """The list of strings a revocation report holds; ValueError names what is wrong."""
    try:
        data = parse_json_body(request)
    except InvalidJsonBody as error:
        raise ValueError(f"{error} {_REPORT_SHAPE}.") from error
    if not isinstance(data, dict) or set(data) != {"credentials"}:
        raise ValueError(f"Expected exactly one field, credentials. {_REPORT_SHAPE}.")
    values = data["credentials"]
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise ValueError(f"credentials must be a list of strings. {_REPORT_SHAPE}.")
    if not 1 <= len(values) <= services.MAX_REPORTED_CREDENTIALS:
        raise ValueError(
            f"credentials must hold from 1 to {services.MAX_REPORTED_CREDENTIALS:,} values; "
            "split a longer list into several requests."
        )
    return values


@csrf_exempt
@allow_methods("POST")
def credentials_revoke(request: HttpRequest) -> HttpResponse:
    """Anyone reports leaked QuickBot tokens; the active ones are deleted and their owners
    told. The answer is the same whatever matched: only how many values were well-formed."""
    ip = client_ip(request)
    retry_after = limits.credential_report_hit(ip)
    if retry_after is not None:
        return errors.too_many_reports(retry_after)
    try:
        values = _reported_values(request)
    except ValueError as error:
        return errors.bad_report(str(error))
    report = services.leaked_credentials_report(
        values=values, client=services.ClientInfo.from_request(request)
    )
    response = JsonResponse(
        {
            "well_formed": report.well_formed,
            "detail": "Thank you. Every well-formed value that belongs to an active QuickBot "
            "token is revoked and its owner told. This answer never says which.",
        },
        status=HTTPStatus.ACCEPTED,
    )
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@allow_methods("GET", "HEAD")
def openapi_document(request: HttpRequest) -> JsonResponse:
    """The OpenAPI 3.1 description of this API (public: it holds no account data)."""
    return JsonResponse(openapi_spec())


@token_optional
def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any other /api/ path: JSON 404, never the HTML page (recorded as the token's
    activity when the request sends a valid one)."""
    detail = "There is no API endpoint at this address. See /docs/api/ for the endpoints."
    if not request.path.endswith("/"):
        detail += " API paths end with a slash."
    return api_error(HTTPStatus.NOT_FOUND, "not_found", detail)
