"""The OpenAPI 3.1 document of the QuickBot API, and the error catalogue the docs page shows."""

from __future__ import annotations

from functools import cache

from common.request_id import REQUEST_ID_HEADER

ERROR_CATALOGUE: tuple[tuple[int, str, str, str], ...] = (
    # (status, error, when, what to do)
    (
        400,
        "invalid_request",
        "Malformed Authorization header (Bearer without a token, extra parts, characters a "
        "token never has, longer than 1 KB, sent twice), a token in the URL (a real one is "
        "also deleted: it is exposed), a bad query parameter or request body (the detail "
        "names it).",
        "Send exactly one header: Authorization: Bearer <token>. Never put the token in the URL.",
    ),
    (
        401,
        "missing_token",
        "No Authorization header (a browser session does not count).",
        "Add the Authorization header.",
    ),
    (
        401,
        "unsupported_scheme",
        "Another scheme than Bearer, e.g. Basic or Token.",
        "Use Authorization: Bearer <token>.",
    ),
    (
        401,
        "invalid_token",
        "The token is mistyped or incomplete (checksum), unknown, deleted, expired, a "
        "replaced value past its overlap, or its account is deactivated; the detail says which.",
        "Copy the complete token again, or create a new one in Account settings > API Tokens.",
    ),
    (
        401,
        "token_paused",
        "The token (or its previous value during a regenerate overlap) is paused by its owner "
        "or QuickBot staff; nothing else about it changed. The detail links the token's page.",
        "Resume it on its page in Account settings > API Tokens.",
    ),
    (
        403,
        "insufficient_scope",
        "The token lacks a permission: reading needs read, changing needs write. The "
        "QuickBot-Accepted-Permissions header names what the endpoint needs.",
        "Edit the token's permissions in Account settings > API Tokens.",
    ),
    (
        403,
        "ip_not_allowed",
        "The token has an IP allowlist and the request comes from another address (the "
        "detail names the address QuickBot saw).",
        "Call from an allowed address, or add this one to the token's IP allowlist in "
        "Account settings > API Tokens.",
    ),
    (404, "not_found", "No endpoint at this path.", "Check the path; API paths end with /."),
    (
        409,
        "conflict",
        "A rotation lost a race: the value it was called with was already replaced by another "
        "rotation (or the token was deleted meanwhile). Nothing was changed.",
        "Use the value the other rotation returned; the replaced value keeps working until "
        "its overlap ends.",
    ),
    (
        405,
        "method_not_allowed",
        "The endpoint does not support this HTTP method.",
        "Use a method from the Allow header.",
    ),
    (
        429,
        "rate_limited",
        "The account used its hourly request limit, or this address sent too many requests "
        "with bad credentials or too many leaked-credential reports.",
        "Wait the number of seconds in Retry-After.",
    ),
    (
        500,
        "server_error",
        "An unexpected error on QuickBot's side (it is logged).",
        "Retry later; if it persists, contact support.",
    ),
    (
        503,
        "service_unavailable",
        "QuickBot cannot check tokens or limits right now.",
        "Retry after the Retry-After seconds.",
    ),
)

_JSON = "application/json"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_response(
    description: str, *, challenge: bool = False, retry: bool = False, permissions: bool = False
) -> dict:
    response: dict = {"description": description, "content": {_JSON: {"schema": _ref("Error")}}}
    headers: dict = {REQUEST_ID_HEADER: _header_ref(REQUEST_ID_HEADER)}
    if permissions:
        headers.update(_PERMISSION_HEADERS)
    if challenge:
        headers["WWW-Authenticate"] = {
            "description": 'RFC 6750 challenge, e.g. Bearer realm="QuickBot API", '
            'error="invalid_token", error_description="…"',
            "schema": {"type": "string"},
        }
    if retry:
        headers["Retry-After"] = {
            "description": "Seconds to wait.",
            "schema": {"type": "integer"},
        }
    response["headers"] = headers
    return response


def _header_ref(name: str) -> dict:
    return {"$ref": f"#/components/headers/{name}"}


_RATE_HEADERS = {
    name: _header_ref(name)
    for name in (
        REQUEST_ID_HEADER,
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Used",
        "X-RateLimit-Reset",
        "RateLimit-Policy",
        "RateLimit",
        "QuickBot-Token-Expiration",
        "QuickBot-Token-Permissions",
    )
}
# A 403: the token's permissions, and (insufficient_scope only) what the endpoint needs.
_PERMISSION_HEADERS = {
    name: {"$ref": f"#/components/headers/{name}"}
    for name in ("QuickBot-Token-Permissions", "QuickBot-Accepted-Permissions")
}


def _authenticated_errors(*, write: bool = False) -> dict:
    responses = {
        "400": _error_response("Malformed request or Authorization header.", challenge=True),
        "401": _error_response(
            "Missing, unknown, deleted, expired or paused (token_paused) token.", challenge=True
        ),
        "403": _error_response(
            f"The token lacks the {'write' if write else 'read'} permission "
            "(insufficient_scope), or the request comes from outside the token's IP "
            "allowlist (ip_not_allowed).",
            challenge=True,
            permissions=True,
        ),
        "405": _error_response("Method not allowed (see the Allow header)."),
        "429": _error_response("Hourly limit used, or too many bad credentials.", retry=True),
        "503": _error_response("Token or limit check unavailable.", retry=True),
    }
    return responses


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


_DATE_TIME = {"type": "string", "format": "date-time"}

_SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error", "detail", "docs", "request_id"],
        "properties": {
            "error": {"type": "string", "examples": ["invalid_token"]},
            "detail": {"type": "string", "examples": ["This token has been deleted."]},
            "docs": {"type": "string", "examples": ["/docs/api/#errors"]},
            "request_id": {
                "type": "string",
                "description": "The request's ID, as its QuickBot-Request-Id header: quote "
                "this ID when you contact support.",
                "examples": ["req_7mGv2sLq0XcZbN4yTe9WfA"],
            },
        },
    },
    "Token": {
        "type": "object",
        "required": ["id", "name", "identifier", "scopes", "created_at"],
        "properties": {
            "id": {"type": "string", "description": "Public id (not the token value)."},
            "name": {"type": "string"},
            "identifier": {"type": "string", "examples": ["qb_AbCd…wXyZ"]},
            "scopes": {"type": "array", "items": {"type": "string", "enum": ["read", "write"]}},
            "created_at": _DATE_TIME,
            "last_used_at": _nullable(_DATE_TIME),
            "expires_at": _nullable(_DATE_TIME),
            "allowed_ips": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The token's IP allowlist (addresses and CIDR ranges); "
                "empty: any address.",
            },
            "status": {
                "type": "string",
                "enum": ["active", "paused", "expired"],
                "description": "paused: it answers 401 token_paused until it is resumed (by "
                "its owner, or by staff when staff paused it).",
            },
        },
    },
    "RateLimit": {
        "type": "object",
        "required": ["limit", "used", "remaining", "reset"],
        "properties": {
            "limit": {"type": "integer"},
            "used": {"type": "integer"},
            "remaining": {"type": "integer"},
            "reset": {"type": "integer", "description": "Epoch seconds when the window ends."},
        },
    },
    "Me": {
        "type": "object",
        "required": ["account", "token", "rate_limit"],
        "properties": {
            "account": {
                "type": "object",
                "required": ["id", "email", "display_name", "date_joined"],
                "properties": {
                    "id": {"type": "integer"},
                    "email": {"type": "string", "format": "email"},
                    "display_name": {"type": "string"},
                    "date_joined": _DATE_TIME,
                },
            },
            "token": _ref("Token"),
            "rate_limit": _ref("RateLimit"),
        },
    },
    "TokenList": {
        "type": "object",
        "required": ["tokens"],
        "properties": {"tokens": {"type": "array", "items": _ref("Token")}},
    },
    "Activity": {
        "type": "object",
        "required": ["id", "token", "created_at", "method", "path", "status"],
        "properties": {
            "id": {"type": "integer"},
            "token": {
                "type": "object",
                "required": ["id", "name", "identifier"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "identifier": {"type": "string"},
                },
            },
            "created_at": _DATE_TIME,
            "method": {"type": "string"},
            "path": {"type": "string"},
            "status": {"type": "integer"},
            "ip": _nullable({"type": "string"}),
            "user_agent": {"type": "string"},
            "duration_ms": {"type": "integer"},
            "flagged": {
                "type": "boolean",
                "description": "The request used a deleted or expired token.",
            },
            "used_previous_value": {"type": "boolean"},
            "outside_allowlist": {
                "type": "boolean",
                "description": "Served from outside the token's report-only IP allowlist: "
                "an enforced list would have refused it.",
            },
            "request_id": _nullable(
                {
                    "type": "string",
                    "description": "The QuickBot-Request-Id of the response (null for requests "
                    "recorded before request IDs).",
                }
            ),
        },
    },
    "CredentialReport": {
        "type": "object",
        "required": ["credentials"],
        "additionalProperties": False,
        "properties": {
            "credentials": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1000,
                "items": {"type": "string", "examples": ["qb_…"]},
                "description": "Token values found where others can read them.",
            }
        },
    },
    "CredentialReportAccepted": {
        "type": "object",
        "required": ["well_formed", "detail"],
        "properties": {
            "well_formed": {
                "type": "integer",
                "description": "How many distinct values had the token shape and a valid "
                "checksum. Never how many matched a token.",
            },
            "detail": {"type": "string"},
        },
    },
    "RotateRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "overlap": {
                "type": "integer",
                "minimum": 0,
                "maximum": 7 * 24 * 3600,
                "default": 3600,
                "description": "Seconds the value this request was made with keeps working "
                "(0 = it stops at once; at most 7 days).",
            }
        },
    },
    "Rotation": {
        "type": "object",
        "required": ["value", "token", "previous_value_expires_at"],
        "properties": {
            "value": {
                "type": "string",
                "pattern": "^qb_[0-9A-Za-z]{38}$",
                "description": "The new token value. Shown once: store it now.",
            },
            "token": _ref("Token"),
            "previous_value_expires_at": {
                **_nullable(_DATE_TIME),
                "description": "When the value this request was made with stops working "
                "(null: it already has).",
            },
        },
    },
    "ActivityPage": {
        "type": "object",
        "required": ["activity", "next_cursor"],
        "properties": {
            "activity": {"type": "array", "items": _ref("Activity")},
            "next_cursor": _nullable({"type": "string"}),
        },
    },
}

_HEADERS = {
    REQUEST_ID_HEADER: (
        "This request's ID, on every response (errors too; their body repeats it as "
        "request_id): quote this ID when you contact support. Up to 64 of [A-Za-z0-9._-].",
        "string",
    ),
    "X-RateLimit-Limit": ("Requests allowed per hour for the account.", "integer"),
    "X-RateLimit-Remaining": ("Requests left in the current window.", "integer"),
    "X-RateLimit-Used": (
        "Requests counted in the current window: those made with a valid token from an "
        "allowed address (see /docs/api/#rate-limits).",
        "integer",
    ),
    "X-RateLimit-Reset": ("Epoch seconds when the window ends.", "integer"),
    "RateLimit-Policy": ('IETF draft policy, e.g. "hourly";q=1000;w=3600.', "string"),
    "RateLimit": ('IETF draft state, e.g. "hourly";r=999;t=3540.', "string"),
    "QuickBot-Token-Expiration": (
        "When the calling token expires, e.g. 2026-03-01 12:00:00 UTC (absent: never).",
        "string",
    ),
    "QuickBot-Token-Permissions": (
        "The calling token's permissions, comma-separated in a stable order: read, write or "
        "read, write (on every response to a valid token; absent on 401 and ip_not_allowed).",
        "string",
    ),
    "QuickBot-Accepted-Permissions": (
        "On 403 insufficient_scope: the permissions the endpoint needs for this method, e.g. "
        "write.",
        "string",
    ),
}


def _ok(description: str, schema: str) -> dict:
    return {
        "description": description,
        "headers": _RATE_HEADERS,
        "content": {_JSON: {"schema": _ref(schema)}},
    }


@cache
def openapi_spec() -> dict:
    """The OpenAPI 3.1 document (built once per process)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "QuickBot API",
            "version": "1.0.0",
            "description": "Authenticate with `Authorization: Bearer <token>`. Every "
            "response carries a QuickBot-Request-Id header (error bodies repeat it as "
            "request_id): quote this ID when you contact support. Full reference: /docs/api/.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/me/": {
                "get": {
                    "operationId": "getMe",
                    "summary": "The calling account, token and hourly limit",
                    "description": "Needs the read permission.",
                    "responses": {
                        "200": _ok("Account and token.", "Me"),
                        **_authenticated_errors(),
                    },
                }
            },
            "/api/v1/tokens/": {
                "get": {
                    "operationId": "listTokens",
                    "summary": "The account's tokens that are not deleted",
                    "description": "Metadata only, never token values. Needs read.",
                    "responses": {
                        "200": _ok("The tokens, newest first.", "TokenList"),
                        **_authenticated_errors(),
                    },
                }
            },
            "/api/v1/tokens/current/": {
                "delete": {
                    "operationId": "deleteCurrentToken",
                    "summary": "The calling token deletes itself",
                    "description": "For a script that knows its token leaked. Needs write.",
                    "responses": {
                        "204": {
                            "description": "Deleted; the token stops working at once.",
                            "headers": {REQUEST_ID_HEADER: _header_ref(REQUEST_ID_HEADER)},
                        },
                        **_authenticated_errors(write=True),
                    },
                }
            },
            "/api/v1/credentials/revoke": {
                "post": {
                    "operationId": "revokeCredentials",
                    "summary": "Report leaked tokens so QuickBot revokes them",
                    "description": "No authentication. Every well-formed value that belongs "
                    "to an active token (or a replaced value still in its overlap) is deleted "
                    "with the reason 'reported as leaked' and its owner emailed. The answer is "
                    "the same whether or not any value matched. Limited per client IP.",
                    "security": [],
                    "requestBody": {
                        "required": True,
                        "content": {_JSON: {"schema": _ref("CredentialReport")}},
                    },
                    "responses": {
                        "202": {
                            "description": "Report accepted.",
                            "headers": {REQUEST_ID_HEADER: _header_ref(REQUEST_ID_HEADER)},
                            "content": {_JSON: {"schema": _ref("CredentialReportAccepted")}},
                        },
                        "400": _error_response("The body is not the documented JSON object."),
                        "405": _error_response("Method not allowed (see the Allow header)."),
                        "429": _error_response("Too many reports from this address.", retry=True),
                    },
                }
            },
            "/api/v1/tokens/current/rotate": {
                "post": {
                    "operationId": "rotateCurrentToken",
                    "summary": "The calling token gets a new value",
                    "description": "Answers the new value once (Cache-Control: no-store). The "
                    "value the request was made with keeps working for `overlap` seconds; "
                    "the token's lifetime applies again from now. Of two rotations made "
                    "with the same value, one wins and the other gets 409. Also answered "
                    "with a trailing slash. Needs write.",
                    "requestBody": {
                        "required": False,
                        "content": {_JSON: {"schema": _ref("RotateRequest")}},
                    },
                    "responses": {
                        "201": {
                            "description": "The new value and the token's metadata.",
                            "headers": _RATE_HEADERS,
                            "content": {_JSON: {"schema": _ref("Rotation")}},
                        },
                        **_authenticated_errors(write=True),
                        "409": _error_response("Rotated or deleted by another request."),
                    },
                }
            },
            "/api/v1/activity/": {
                "get": {
                    "operationId": "listActivity",
                    "summary": "The account's API requests, newest first",
                    "description": "Cursor-paginated: pass next_cursor back as cursor. Needs read.",
                    "parameters": [
                        {
                            "name": "token",
                            "in": "query",
                            "description": "A token's public id.",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "status",
                            "in": "query",
                            "description": "HTTP status code.",
                            "schema": {"type": "integer", "minimum": 100, "maximum": 599},
                        },
                        {
                            "name": "since",
                            "in": "query",
                            "description": "ISO 8601 date or date-time.",
                            "schema": {"type": "string", "format": "date-time"},
                        },
                        {
                            "name": "request_id",
                            "in": "query",
                            "description": "Only the request with this QuickBot-Request-Id.",
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _ok("A page of activity.", "ActivityPage"),
                        **_authenticated_errors(),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A QuickBot API token (qb_…), from Account settings > "
                    "API Tokens.",
                }
            },
            "schemas": _SCHEMAS,
            "headers": {
                name: {"description": text, "schema": {"type": kind}}
                for name, (text, kind) in _HEADERS.items()
            },
        },
    }
