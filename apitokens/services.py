"""Actions that change API tokens. Each writes its security-log row."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest
from django.http import HttpRequest
from django.utils import dateformat, timezone

from accounts.models import User
from apitokens import expiry, notifications, tokens
from apitokens.models import ALL_SCOPES, SCOPE_READ, APIToken, SecurityEvent, TokenPolicy
from apitokens.policy import policy_forget
from common.background import background_after_response
from common.clientip import client_ip
from common.names import name_skeleton


class TokenNameTaken(Exception):
    """Another active token of the same owner already has this name, or one that looks the
    same (any case, look-alike characters: the TR39 skeleton)."""


def api_token_name_clash(*, owner: User, name: str, exclude_pk: int | None = None) -> str | None:
    """The name of an active token of `owner` that reads the same as `name`, or None."""
    skeleton = name_skeleton(name)
    others = APIToken.objects.active().filter(owner=owner)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    names = others.values_list("name", flat=True)
    return next((other for other in names if name_skeleton(other) == skeleton), None)


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where an action came from, for the security log."""

    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> ClientInfo:
        """The client's address (trusted proxies included) and browser of `request`."""
        return cls(
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:256],
        )


NO_CLIENT = ClientInfo()


def security_event_record(
    *,
    kind: str,
    account: User,
    actor_kind: str,
    token: APIToken | None = None,
    actor: User | None = None,
    client: ClientInfo = NO_CLIENT,
    detail: str = "",
    now: datetime | None = None,
) -> SecurityEvent:
    """Append one row to the security log."""
    now = now or timezone.now()
    return SecurityEvent.objects.create(
        kind=kind,
        account=account,
        actor_kind=actor_kind,
        actor=actor,
        token=token,
        token_name=token.name if token else "",
        token_identifier=token.identifier if token else "",
        ip=client.ip,
        user_agent=client.user_agent[:256],
        detail=detail[:255],
        created_at=now,
        last_seen_at=now,
    )


def api_token_create(
    *,
    user: User,
    name: str,
    scopes: tuple[str, ...] = (SCOPE_READ,),
    expires_at: datetime | None = None,
    lifetime_days: int | None = None,
    allowed_ips: str = "",
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> tuple[APIToken, str]:
    """Create a token and return it with its plaintext value, which is never stored.

    `allowed_ips` is a normalised allowlist (`allowlist.allowlist_normalize`), "" for any
    address.

    Raises TokenNameTaken when an active token of `user` already has that name.
    """
    now = now or timezone.now()
    if api_token_name_clash(owner=user, name=name) is not None:
        raise TokenNameTaken(name)
    raw = tokens.generate_token()
    try:
        with transaction.atomic():
            token = APIToken.objects.create(
                owner=user,
                name=name,
                digest=tokens.token_digest(raw),
                identifier=tokens.token_identifier(raw),
                scopes=" ".join(scopes),
                created_at=now,
                expires_at=expires_at,
                lifetime_days=lifetime_days,
                allowed_ips=allowed_ips,
            )
            security_event_record(
                kind=SecurityEvent.Kind.CREATED,
                account=user,
                actor_kind=SecurityEvent.Actor.USER,
                actor=user,
                token=token,
                client=client,
                now=now,
            )
    except IntegrityError as error:
        if APIToken.objects.active().filter(owner=user, name__iexact=name).exists():
            raise TokenNameTaken(name) from error
        raise
    notifications.notify_token_created(token=token, client=client, now=now)
    return token, raw


# The security-log detail of a token QuickBot deleted because its value was exposed.
EXPOSED_DETAILS: dict[str, str] = {
    APIToken.RevokedBy.LEAKED: "Reported as leaked",
    APIToken.RevokedBy.URL: "Sent in a URL",
}


def api_token_revoke(
    *,
    token: APIToken,
    actor: User | None,
    reason: str = APIToken.RevokedBy.OWNER,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> bool:
    """Delete (revoke) a token; it stops authenticating on the next request.

    Returns False when it was already deleted (double submit, second tab): nothing changes.
    """
    now = now or timezone.now()
    with transaction.atomic():
        updated = APIToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=actor, revoked_reason=reason
        )
        if not updated:
            return False
        token.revoked_at, token.revoked_by, token.revoked_reason = now, actor, reason
        actor_kind = {
            APIToken.RevokedBy.OWNER: SecurityEvent.Actor.USER,
            APIToken.RevokedBy.STAFF: SecurityEvent.Actor.STAFF,
            APIToken.RevokedBy.SELF: SecurityEvent.Actor.TOKEN,
            APIToken.RevokedBy.LEAKED: SecurityEvent.Actor.SYSTEM,
            APIToken.RevokedBy.URL: SecurityEvent.Actor.SYSTEM,
            APIToken.RevokedBy.CLAIMED: SecurityEvent.Actor.SYSTEM,
        }[reason]
        security_event_record(
            kind=SecurityEvent.Kind.DELETED,
            account=token.owner,
            actor_kind=actor_kind,
            actor=actor,
            token=token,
            client=client,
            detail=EXPOSED_DETAILS.get(reason, ""),
            now=now,
        )
    notifications.notify_token_deleted(token=token, client=client, now=now, reason=reason)
    return True


def api_token_rename(
    *,
    token: APIToken,
    name: str,
    actor: User,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> None:
    """Rename an active token. Raises TokenNameTaken on a clash."""
    old_name = token.name
    if old_name == name:
        return
    if api_token_name_clash(owner=token.owner, name=name, exclude_pk=token.pk) is not None:
        raise TokenNameTaken(name)
    try:
        with transaction.atomic():
            APIToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(name=name)
            token.name = name
            security_event_record(
                kind=SecurityEvent.Kind.RENAMED,
                account=token.owner,
                actor_kind=SecurityEvent.Actor.USER,
                actor=actor,
                token=token,
                client=client,
                detail=f"Renamed from “{old_name}”",
                now=now,
            )
    except IntegrityError as error:
        token.name = old_name
        raise TokenNameTaken(name) from error


# --- Lifecycle: rotation and permissions ------------------------------------------------


class TokenNotRegenerable(Exception):
    """The token cannot get a new value: it is deleted, expired, or changed meanwhile.

    `str(error)` is a message for the user.
    """


class TokenChangedMeanwhile(TokenNotRegenerable):
    """Another regenerate (or a delete) changed the token after the caller read it."""


def _actor_kind(token: APIToken, actor: User) -> str:
    return SecurityEvent.Actor.USER if actor.pk == token.owner_id else SecurityEvent.Actor.STAFF


def api_token_regenerate(
    *,
    token: APIToken,
    actor: User,
    overlap: timedelta,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
    expected_digest: str | None = None,
    actor_kind: str | None = None,
) -> tuple[APIToken, str]:
    """Give a token a new value (same name and permissions) and return it with that value.

    The new expiry applies the same lifetime choice again from now (see
    `expiry.regenerated_expiry`: a preset repeats, a custom date keeps its length, no
    expiration stays none, all within the token policy in force: TokenPolicy). The replaced
    value keeps authenticating until now + `overlap`; a zero overlap stops it at once.
    Only one previous value is kept: after two regenerates in a row, the value replaced
    by the second follows the second's overlap, and the value from two generations ago
    stops at once, whatever overlap it was given.

    Raises TokenNotRegenerable for a deleted or expired token, or one that was deleted
    or regenerated concurrently (a concurrent delete always wins; TokenChangedMeanwhile).
    With `expected_digest` (a rotation through the API, by the value it presented), a
    token whose current value is no longer that one is TokenChangedMeanwhile: of two
    rotations with the same value, one wins. `actor_kind` overrides who the security log
    says acted (the token itself, for the API).
    """
    now = now or timezone.now()
    if overlap < timedelta(0):
        raise ValueError("The overlap cannot be negative.")
    policy = TokenPolicy.current()
    raw = tokens.generate_token()
    with transaction.atomic():
        current = (
            APIToken.objects.select_for_update(of=("self",))
            .select_related("owner")
            .filter(pk=token.pk)
            .first()
        )
        if current is None or current.revoked_at is not None:
            raise TokenChangedMeanwhile("This token has been deleted.")
        if expected_digest is not None and current.digest != expected_digest:
            raise TokenChangedMeanwhile(
                "This token was regenerated by another request meanwhile; nothing was changed."
            )
        if current.is_expired(now):
            raise TokenNotRegenerable(
                "This token has expired and cannot be regenerated. Delete it and create a new one."
            )
        keep_previous = overlap > timedelta(0)
        # A value stopped at once is still remembered (its overlap already over), so a later
        # use of it is reported like a deleted token's, not answered as unknown.
        changes = {
            "digest": tokens.token_digest(raw),
            "identifier": tokens.token_identifier(raw),
            "previous_digest": current.digest,
            "previous_identifier": current.identifier,
            "previous_expires_at": now + overlap,
            "expires_at": expiry.regenerated_expiry(
                expires_at=current.expires_at,
                lifetime_days=current.lifetime_days,
                issued_at=current.regenerated_at or current.created_at,
                now=now,
                max_lifetime_days=policy.max_lifetime_days,
                expiry_required=policy.expiry_required,
            ),
            "regenerated_at": now,
            "reminders_sent": "",
        }
        # Guarded on the value we read: a delete or another regenerate in between wins.
        updated = APIToken.objects.filter(
            pk=current.pk, revoked_at__isnull=True, digest=current.digest
        ).update(**changes)
        if not updated:
            raise TokenChangedMeanwhile(
                "This token was changed or deleted meanwhile. Reload the page and try again."
            )
        for field, value in changes.items():
            setattr(token, field, value)
        if keep_previous:
            until = timezone.localtime(changes["previous_expires_at"])
            detail = (
                f"Previous value {current.identifier} works until "
                f"{dateformat.format(until, 'j M Y, H:i T')}"
            )
        else:
            detail = f"Previous value {current.identifier} stopped at once"
        security_event_record(
            kind=SecurityEvent.Kind.REGENERATED,
            account=current.owner,
            actor_kind=actor_kind or _actor_kind(current, actor),
            actor=actor,
            token=token,
            client=client,
            detail=detail,
            now=now,
        )
    notifications.notify_token_regenerated(
        token=token,
        client=client,
        now=now,
        previous_identifier=current.identifier,
        previous_expires_at=changes["previous_expires_at"] if keep_previous else None,
    )
    return token, raw


def scopes_validate(scopes: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Return the permissions in canonical order, or raise ValueError naming the problem."""
    unknown = [scope for scope in scopes if scope not in ALL_SCOPES]
    if unknown:
        raise ValueError(
            f"Unknown permission “{unknown[0][:20]}”. Choose from: {', '.join(ALL_SCOPES)}."
        )
    if not scopes:
        raise ValueError("Choose at least one permission.")
    return tuple(scope for scope in ALL_SCOPES if scope in scopes)


def api_token_update_scopes(
    *,
    token: APIToken,
    scopes: tuple[str, ...],
    actor: User,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> None:
    """Change a token's permissions without changing its value.

    Raises ValueError for an empty set or an unknown permission. Unchanged permissions,
    or a token deleted meanwhile (the delete wins), change nothing and log nothing.
    """
    canonical = scopes_validate(scopes)
    new_value = " ".join(canonical)
    old_value = " ".join(token.scope_list)
    if new_value == old_value:
        return
    _live_token_field_change(
        token=token,
        field="scopes",
        value=new_value,
        kind=SecurityEvent.Kind.SCOPES_CHANGED,
        detail=f"Permissions changed from “{old_value or 'none'}” to “{new_value}”",
        actor=actor,
        client=client,
        now=now,
    )


def api_token_update_allowed_ips(
    *,
    token: APIToken,
    allowed_ips: str,
    actor: User,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> None:
    """Replace a token's IP allowlist (normalised text, "" for any address); it applies
    from the next request. Unchanged, or deleted meanwhile: nothing changes or is logged."""
    old_value = token.allowed_ips
    if allowed_ips == old_value:
        return
    _live_token_field_change(
        token=token,
        field="allowed_ips",
        value=allowed_ips,
        kind=SecurityEvent.Kind.ALLOWLIST_CHANGED,
        detail=(
            f"IP allowlist changed from “{_allowlist_text(old_value)}” to "
            f"“{_allowlist_text(allowed_ips)}”"
        ),
        actor=actor,
        client=client,
        now=now,
    )


def _allowlist_text(stored: str) -> str:
    return ", ".join(stored.split()) or "any address"


def _live_token_field_change(
    *,
    token: APIToken,
    field: str,
    value: str,
    kind: str,
    detail: str,
    actor: User,
    client: ClientInfo,
    now: datetime | None,
) -> None:
    """Set one field of a token that is not deleted and log `kind` with `detail`, in one
    transaction; a token deleted meanwhile changes nothing and logs nothing (the delete wins)."""
    with transaction.atomic():
        updated = APIToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            **{field: value}
        )
        if not updated:
            return
        setattr(token, field, value)
        security_event_record(
            kind=kind,
            account=token.owner,
            actor_kind=_actor_kind(token, actor),
            actor=actor,
            token=token,
            client=client,
            detail=detail,
            now=now,
        )


# --- Staff token policy -------------------------------------------------------------------


def token_policy_save(*, policy: TokenPolicy, actor: User, now: datetime | None = None) -> None:
    """Save the site's token policy (the one row) as changed by a staff member. It applies to
    tokens created and regenerated from now on; existing tokens keep their expiry."""
    policy.pk = TokenPolicy.SINGLETON_ID
    policy.updated_at = now or timezone.now()
    policy.updated_by = actor
    policy.save()
    policy_forget()


def api_token_expire_by_policy(
    *,
    token: APIToken,
    expires_at: datetime,
    actor: User,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> bool:
    """Bring an active token's expiry forward to `expires_at` (staff, to meet the policy),
    logging it and emailing the owner. A token that already expires by then, or is deleted
    or expired, is left alone: returns False."""
    now = now or timezone.now()
    previous = token.expires_at
    with transaction.atomic():
        updated = (
            APIToken.objects.usable(now)
            .filter(pk=token.pk)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=expires_at))
            .update(expires_at=expires_at, reminders_sent="")
        )
        if not updated:
            return False
        token.expires_at, token.reminders_sent = expires_at, ""
        when = dateformat.format(timezone.localtime(expires_at), "j M Y, H:i T")
        before = (
            dateformat.format(timezone.localtime(previous), "j M Y, H:i T") if previous else "never"
        )
        security_event_record(
            kind=SecurityEvent.Kind.EXPIRY_CHANGED,
            account=token.owner,
            actor_kind=SecurityEvent.Actor.STAFF,
            actor=actor,
            token=token,
            client=client,
            detail=f"Expiry brought forward by staff to meet the token policy: {when} "
            f"(before: {before})",
            now=now,
        )
    notifications.notify_token_expiry_changed(
        token=token, client=client, now=now, previous_expires_at=previous
    )
    return True


# --- Security log: uses of dead tokens ------------------------------------------------------

logger = logging.getLogger(__name__)
DEAD_USE_EVENT_WINDOW = timedelta(hours=1)


def api_token_dead_use_record(
    *,
    token: APIToken,
    client: ClientInfo,
    now: datetime | None = None,
    used_previous_value: bool = False,
) -> None:
    """Log that someone presented a deleted or expired token (or a replaced value after
    its overlap): at most one SecurityEvent per token per hour, whose `count` and
    `last_seen_at` grow with each further use inside that hour.

    Runs on the API request path, so it is one indexed UPDATE in the common case and an
    INSERT (plus the owner's email, rate-limited by the notifications module) once an hour.
    Two simultaneous first uses may both insert; the log then holds two rows for that hour.
    """
    now = now or timezone.now()
    if token.revoked_at is not None:
        kind = SecurityEvent.Kind.DELETED_TOKEN_USED
        detail = ""
    else:
        kind = SecurityEvent.Kind.EXPIRED_TOKEN_USED
        detail = ""
        if used_previous_value or not token.is_expired(now):
            detail = "A value replaced by Regenerate was used after its overlap ended."
    bumped = SecurityEvent.objects.filter(
        token=token, kind=kind, created_at__gt=now - DEAD_USE_EVENT_WINDOW, created_at__lte=now
    ).update(count=F("count") + 1, last_seen_at=Greatest(F("last_seen_at"), Value(now)))
    if bumped:
        return
    security_event_record(
        kind=kind,
        account=token.owner,
        actor_kind=SecurityEvent.Actor.TOKEN,
        token=token,
        client=client,
        detail=detail,
        now=now,
    )
    try:
        notifications.notify_dead_token_used(
            token=token, client=client, now=now, used_previous_value=used_previous_value
        )
    except Exception:  # the API answer must not depend on email
        logger.exception("Could not notify the owner of dead token %s", token.pk)


def unknown_tokens_record(
    *, ip: str | None, window_start: datetime, count: int, now: datetime
) -> None:
    """Log `count` requests from `ip` with well-formed tokens that match no token: one
    SecurityEvent per address per bad-credential window, its `count` growing."""
    bumped = SecurityEvent.objects.filter(
        kind=SecurityEvent.Kind.UNKNOWN_TOKENS,
        account__isnull=True,
        ip=ip,
        created_at__gte=window_start,
    ).update(count=F("count") + count, last_seen_at=Greatest(F("last_seen_at"), Value(now)))
    if bumped:
        return
    SecurityEvent.objects.create(
        kind=SecurityEvent.Kind.UNKNOWN_TOKENS,
        account=None,
        actor_kind=SecurityEvent.Actor.CLIENT,
        ip=ip,
        count=count,
        detail="Well-formed tokens that match no QuickBot token",
        created_at=now,
        last_seen_at=now,
    )


# --- Exposed tokens: leak reports and tokens sent in a URL --------------------------------

MAX_REPORTED_CREDENTIALS = 1000


@dataclass(frozen=True, slots=True)
class LeakReport:
    """One report to the revocation endpoint as the request took it: how many values it
    held, how many were well-formed (all the reporter is told) and their digests (never
    the values), who sent it and when."""

    submitted: int
    well_formed: int
    digests: tuple[str, ...]
    client: ClientInfo
    received_at: datetime


def exposed_tokens_revoke(
    *, values: Iterable[str], reason: str, client: ClientInfo, now: datetime | None = None
) -> int:
    """Delete every active token whose value, or previous value still in its overlap, is
    among `values` (well-formed token values), with `reason` (leaked, or sent in a URL).

    One lookup query whatever matches; each match goes through `api_token_revoke`
    (security log, owner's email). Returns how many tokens were deleted.
    """
    digests = {tokens.token_digest(value) for value in values}
    return _exposed_digests_revoke(digests=digests, reason=reason, client=client, now=now)


def _exposed_digests_revoke(
    *, digests: Iterable[str], reason: str, client: ClientInfo, now: datetime | None = None
) -> int:
    now = now or timezone.now()
    digests = sorted(set(digests))
    if not digests:
        return 0
    # A replaced value past its overlap no longer works: whoever holds it cannot have the
    # token deleted (no denial of service by old values).
    matches = list(
        APIToken.objects.active()
        .filter(Q(digest__in=digests) | Q(previous_digest__in=digests, previous_expires_at__gt=now))
        .select_related("owner")
        .order_by("pk")
    )
    return sum(
        api_token_revoke(token=token, actor=None, reason=reason, client=client, now=now)
        for token in matches
    )


def leaked_credentials_report(
    *, values: list[str], client: ClientInfo, now: datetime | None = None
) -> LeakReport:
    """Take a report of leaked credentials: check and hash its values here, and leave the
    lookup, the deletions, the security-log rows and the owners' emails to the background
    thread once the response is sent (`leak_report_process`), so the answer takes the same
    time whether or not a value matched."""
    well_formed = {value for value in values if tokens.is_well_formed(value)}
    report = LeakReport(
        submitted=len(values),
        well_formed=len(well_formed),
        digests=tuple(sorted(tokens.token_digest(value) for value in well_formed)),
        client=client,
        received_at=now or timezone.now(),
    )
    background_after_response(
        functools.partial(leak_report_process, report=report), kind="leak_report"
    )
    return report


def leak_report_process(*, report: LeakReport) -> int:
    """Delete the active tokens among a report's digests (see `exposed_tokens_revoke`) and
    log the report for staff with its counts; returns how many tokens were deleted."""
    # One transaction, so a report commits once whether or not it deleted anything.
    with transaction.atomic():
        revoked = _exposed_digests_revoke(
            digests=report.digests,
            reason=APIToken.RevokedBy.LEAKED,
            client=report.client,
            now=report.received_at,
        )
        _leak_report_record(report=report, revoked=revoked)
    return revoked


def _leak_report_record(*, report: LeakReport, revoked: int) -> None:
    client, now = report.client, report.received_at
    SecurityEvent.objects.create(
        kind=SecurityEvent.Kind.LEAK_REPORT,
        account=None,
        actor_kind=SecurityEvent.Actor.CLIENT,
        ip=client.ip,
        user_agent=client.user_agent[:256],
        count=report.submitted,
        detail=f"{report.submitted} submitted, {report.well_formed} well-formed, {revoked} revoked",
        created_at=now,
        last_seen_at=now,
    )
