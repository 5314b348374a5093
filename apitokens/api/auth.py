"""Everything the API decides about a request's credentials.

`refuse_credentials_in_url(request)` runs first, for every request under /api/ whatever
its path or method (the middleware calls it before URL resolution): a URL carrying a
token is refused and every real token in it deleted. Then, for a token view,
`authenticate_bearer(request)`, in order: the Authorization header's shape and checksum
(offline, no query); the owner's hourly count started (`limits.hourly_start`, which sends it
ahead on Redis), the token lookup, the token's IP allowlist (a report-only list serves a
request from outside it and marks its activity row) and its pause, then the count admitted or
cancelled; the per-address bad-credential limit for every refusal but a paused token's. A
refused known token is
recorded as a use of a dead token (security log, owner's email); an unknown one leaves a
per-address trace (`usage.unknown_token_seen`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from apitokens import allowlist, services, tokens
from apitokens.api import errors, limits, lookup, usage
from apitokens.models import APIToken
from common.clientip import client_ip

logger = logging.getLogger(__name__)


def clock() -> datetime:
    """The one time seam of the API path (tests replace it)."""
    return timezone.now()


@dataclass(slots=True)
class ApiCall:
    """What `authenticate_bearer` decided, kept on `request.api_call` for the view and for
    the response phase (headers, activity row).

    `refusal` is the response to send instead of running the view; `token` is the token
    presented, when known (a dead one too: its activity row is recorded, `flagged`);
    `outcome` names the answer for the metrics: "ok", "limited" or the refusal's reason;
    `auth_seconds` is how long deciding took.
    """

    now: datetime
    ip: str | None
    refusal: HttpResponse | None = None
    token: APIToken | None = None
    ok: bool = False
    flagged: bool = False
    used_previous_value: bool = False
    # Served from outside the token's report-only allowlist: enforced, it would be refused.
    outside_allowlist: bool = False
    rate: limits.RateLimitState | None = None
    # What the view needs, set by `@token_required` when the token lacks it (the 403's header).
    accepted_permissions: tuple[str, ...] = ()
    outcome: str = "ok"
    auth_seconds: float | None = None  # set by the middleware around authenticate_bearer


def authenticate_bearer(request: HttpRequest) -> ApiCall:
    """Authenticate an API request by its bearer token; never raises for bad input."""
    now = clock()
    call = ApiCall(now=now, ip=client_ip(request))
    parsed = tokens.parse_authorization(request.META.get("HTTP_AUTHORIZATION"))
    verdict = parsed.verdict
    if verdict == tokens.HeaderVerdict.ABSENT:
        call.refusal, call.outcome = errors.missing_token(), "missing_token"
        return call
    if verdict != tokens.HeaderVerdict.BEARER:
        retry_after = limits.bad_auth_hit(call.ip, now.timestamp())
        if retry_after is not None:
            call.refusal = errors.too_many_bad_credentials(retry_after)
            call.outcome = "too_many_bad_credentials"
        elif verdict == tokens.HeaderVerdict.MALFORMED:
            call.refusal, call.outcome = errors.bad_header(parsed.problem), "malformed_header"
        elif verdict == tokens.HeaderVerdict.OTHER_SCHEME:
            call.refusal = errors.unsupported_scheme(parsed.problem)
            call.outcome = "unsupported_scheme"
        else:
            call.refusal, call.outcome = errors.invalid_token(parsed.problem), "bad_checksum"
        return call
    _authenticate_value(request, call, parsed.token)
    return call


def _authenticate_value(request: HttpRequest, call: ApiCall, value: str) -> None:
    epoch = call.now.timestamp()
    digest = tokens.token_digest(value)
    # Leaving the block without admit() or cancel() (the lookup failed) gives back the count
    # hourly_start may have sent ahead of the lookup.
    with limits.hourly_start(digest=digest, ip=call.ip, now=epoch) as pending:
        try:
            result = lookup.authenticate_digest(digest, call.now)
        except DatabaseError:
            logger.exception("Token lookup failed: database unavailable")
            call.refusal, call.outcome = errors.lookup_unavailable(), "lookup_unavailable"
            return
        allowed_ips = result.token.allowed_ips if result.ok else ""
        if allowed_ips and not allowlist.address_allowed(allowed_ips, call.ip):
            if result.token.allowlist_report_only:
                # Report only: served and counted as usual, its activity row marked.
                call.outside_allowlist = True
            else:
                # Refused before the count is admitted: a refused address never spends the
                # owner's hourly requests.
                result = lookup.AuthResult(result.token, "address", result.used_previous_value)
        if result.ok and result.token.paused_at is not None:
            # After the allowlist, so a paused token never answers more than a live one would.
            result = lookup.AuthResult(result.token, "paused", result.used_previous_value)
        if result.ok:
            state = pending.admit(result.token.owner)  # None: the counters did not answer
        else:
            pending.cancel()
    call.token = result.token
    call.used_previous_value = result.used_previous_value
    if result.reason == "address":
        _refuse_address(call, epoch)
        return
    if result.reason == "paused":
        # The owner's own token, held back on purpose: neither a bad credential (an app
        # still running must not get its address blocked for the account's other tokens)
        # nor a counted request; an address already blocked learns no more than a 429.
        retry_after = limits.bad_auth_blocked(call.ip, epoch)
        if retry_after is not None:
            call.refusal = errors.too_many_bad_credentials(retry_after)
        else:
            token = result.token
            call.refusal = errors.token_paused(token.public_id, by_staff=token.paused_by_staff)
        return
    if not result.ok:
        _refuse(request, call, result, epoch)
        return
    if state is None:
        call.ok = True
        if settings.QUICKBOT_RATELIMIT_FAIL_CLOSED:
            call.refusal, call.outcome = errors.limit_unavailable(), "limit_unavailable"
        return
    if state.blocked_for is not None:  # the address used up its bad-credential allowance
        call.refusal = errors.too_many_bad_credentials(state.blocked_for)
        call.outcome = "too_many_bad_credentials"
        return
    call.ok = True
    call.rate = state
    if not state.allowed:
        call.refusal = errors.hourly_limit_used(state.limit, state.seconds_to_reset(epoch))
        call.outcome = "limited"


def _refuse(request: HttpRequest, call: ApiCall, result: lookup.AuthResult, epoch: float) -> None:
    retry_after = limits.bad_auth_hit(call.ip, epoch)
    if result.token is None:
        usage.unknown_token_seen(ip=call.ip, now=call.now)
        if retry_after is not None:
            call.refusal = errors.too_many_bad_credentials(retry_after)
            call.outcome = "too_many_bad_credentials"
        else:
            call.outcome = "unknown_token"
            call.refusal = errors.invalid_token(
                "This token is unknown: it is not a QuickBot token of any account. "
                "Check that you copied the right value."
            )
        return
    call.flagged = result.reason in ("revoked", "expired")
    if call.flagged:
        _report_dead_token_use(request, call)
    if retry_after is not None:
        call.refusal = errors.too_many_bad_credentials(retry_after)
        call.outcome = "too_many_bad_credentials"
    else:
        call.refusal = errors.invalid_token(dead_token_description(result))
        call.outcome = "replaced_value" if result.used_previous_value else str(result.reason)


def _refuse_address(call: ApiCall, epoch: float) -> None:
    """The token is good, the address is not in its allowlist: 403, never the token's
    rate-limit state, no last-use update (`ok` stays False); the activity row records it
    and the address's bad-credential allowance is spent, as for a bad token."""
    retry_after = limits.bad_auth_hit(call.ip, epoch)
    if retry_after is not None:
        call.refusal = errors.too_many_bad_credentials(retry_after)
        call.outcome = "too_many_bad_credentials"
    else:
        call.refusal, call.outcome = errors.ip_not_allowed(call.ip), "address_not_allowed"


def dead_token_description(result: lookup.AuthResult) -> str:
    """Why a known token was refused, in words the troubleshooting guide uses."""
    token = result.token
    if result.reason == "revoked":
        return "This token has been deleted. Create a new token in Account settings > API Tokens."
    if result.reason == "inactive":
        return "The account that owns this token is deactivated."
    if result.used_previous_value:
        stopped = errors.format_moment(token.previous_expires_at or token.regenerated_at)
        return (
            "This token value was replaced when the token was regenerated and stopped "
            f"working on {stopped}. Use the new value."
        )
    return f"This token expired on {errors.format_moment(token.expires_at)}."


def refuse_credentials_in_url(request: HttpRequest) -> HttpResponse | None:
    """The 400 for an API request whose URL carries a credential (`tokens.credentials_in_url`),
    None for a clean URL. A real token in the URL is in proxy and server logs now: it is
    deleted (reason "sent in a URL") and its owner told. The 400 is the same whether or not
    a value matched; it spends the address's bad-credential allowance (over it: 429, no
    lookup)."""
    query_string = request.META.get("QUERY_STRING", "")
    values = tokens.credentials_in_url(request.path_info, query_string)
    if values is None:
        if query_string:
            # Django's limits on the query (DATA_UPLOAD_MAX_NUMBER_FIELDS) hold for every API
            # URL, read by a view or not: TooManyFieldsSent is the handler's JSON 400.
            request.GET  # noqa: B018
        return None
    now = clock()
    ip = client_ip(request)
    retry_after = limits.bad_auth_hit(ip, now.timestamp())
    if retry_after is not None:
        return errors.too_many_bad_credentials(retry_after)
    if values:
        client = services.ClientInfo.from_request(request, ip=ip)
        try:
            services.exposed_tokens_revoke(
                values=values, reason=APIToken.RevokedBy.URL, client=client, now=now
            )
        except Exception:
            # The refusal matters more than its bookkeeping: never turn a 400 into a 500.
            logger.exception("Could not revoke a token sent in a URL")
    return errors.token_in_url()


def _report_dead_token_use(request: HttpRequest, call: ApiCall) -> None:
    """Tell the audit service that someone still uses a deleted or expired token (it keeps
    one security-log row per token per hour and rate-limits the owner's emails)."""
    client = services.ClientInfo.from_request(request, ip=call.ip)
    try:
        services.api_token_dead_use_record(
            token=call.token,
            client=client,
            now=call.now,
            used_previous_value=call.used_previous_value,
        )
    except Exception:
        # The refusal matters more than its bookkeeping: never turn a 401 into a 500.
        logger.exception("Could not record use of dead token %s", call.token.public_id)
