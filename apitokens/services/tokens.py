"""A token's life: create (within the per-account cap), revoke and regenerate its value.
Each writes its security-log row and emails the owner."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import dateformat, timezone

from accounts.models import User
from apitokens import expiry, notifications, tokens
from apitokens.models import SCOPE_READ, APIToken, SecurityEvent, TokenPolicy
from apitokens.services.audit import (
    NO_CLIENT,
    ClientInfo,
    security_actor_kind,
    security_event_record,
)
from common.names import name_skeleton


class TokenNameTaken(Exception):
    """Another active token of the same owner already has this name, or one that looks the
    same (any case, look-alike characters: the TR39 skeleton)."""


class TokenLimitReached(Exception):
    """The owner already has `limit` active tokens (QUICKBOT_MAX_TOKENS_PER_USER)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def api_token_name_clash(*, owner: User, name: str, exclude_pk: int | None = None) -> str | None:
    """The name of an active token of `owner` that reads the same as `name`, or None."""
    skeleton = name_skeleton(name)
    others = APIToken.objects.active().filter(owner=owner)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    names = others.values_list("name", flat=True)
    return next((other for other in names if name_skeleton(other) == skeleton), None)


# The created event's detail for a token whose allowlist starts in report-only mode.
REPORT_ONLY_DETAIL = "IP allowlist in report-only mode: requests from other addresses are served"


def api_token_limit() -> int:
    """How many active tokens one account may hold."""
    return settings.QUICKBOT_MAX_TOKENS_PER_USER


def api_token_create(
    *,
    user: User,
    name: str,
    scopes: tuple[str, ...] = (SCOPE_READ,),
    expires_at: datetime | None = None,
    lifetime_days: int | None = None,
    allowed_ips: str = "",
    allowlist_report_only: bool = False,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> tuple[APIToken, str]:
    """Create a token and return it with its plaintext value, which is never stored.

    `allowed_ips` is a normalised allowlist (`allowlist.allowlist_normalize`), "" for any
    address; `allowlist_report_only` serves requests from other addresses and marks them
    instead of refusing them (ignored for an empty list).

    Raises TokenLimitReached when `user` already has `api_token_limit()` active tokens, and
    TokenNameTaken when an active token of `user` already has that name.
    """
    now = now or timezone.now()
    raw = tokens.generate_token()
    try:
        with transaction.atomic():
            # One create at a time per account, so two quick submits cannot both pass the cap.
            User.objects.select_for_update().filter(pk=user.pk).exists()
            limit = api_token_limit()
            if APIToken.objects.active().filter(owner=user).count() >= limit:
                raise TokenLimitReached(limit)
            if api_token_name_clash(owner=user, name=name) is not None:
                raise TokenNameTaken(name)
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
                allowlist_report_only=allowlist_report_only and bool(allowed_ips),
            )
            security_event_record(
                kind=SecurityEvent.Kind.CREATED,
                account=user,
                actor_kind=SecurityEvent.Actor.USER,
                actor=user,
                token=token,
                client=client,
                detail=REPORT_ONLY_DETAIL if token.allowlist_report_only else "",
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

# Who the security log says deleted a token, by the reason it was deleted.
_REVOKE_ACTOR_KINDS: dict[str, str] = {
    APIToken.RevokedBy.OWNER: SecurityEvent.Actor.USER,
    APIToken.RevokedBy.STAFF: SecurityEvent.Actor.STAFF,
    APIToken.RevokedBy.SELF: SecurityEvent.Actor.TOKEN,
    APIToken.RevokedBy.LEAKED: SecurityEvent.Actor.SYSTEM,
    APIToken.RevokedBy.URL: SecurityEvent.Actor.SYSTEM,
    APIToken.RevokedBy.CLAIMED: SecurityEvent.Actor.SYSTEM,
}


def api_token_revoke(
    *,
    token: APIToken,
    actor: User | None,
    reason: str = APIToken.RevokedBy.OWNER,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
    notify: bool = True,
) -> bool:
    """Delete (revoke) a token; it stops authenticating on the next request.

    Returns False when it was already deleted (double submit, second tab): nothing changes.
    `notify=False` leaves the owner's email to the caller (one email for a bulk action).
    """
    now = now or timezone.now()
    with transaction.atomic():
        updated = APIToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=actor, revoked_reason=reason
        )
        if not updated:
            return False
        token.revoked_at, token.revoked_by, token.revoked_reason = now, actor, reason
        security_event_record(
            kind=SecurityEvent.Kind.DELETED,
            account=token.owner,
            actor_kind=_REVOKE_ACTOR_KINDS[reason],
            actor=actor,
            token=token,
            client=client,
            detail=EXPOSED_DETAILS.get(reason, ""),
            now=now,
        )
    if notify:
        notifications.notify_token_deleted(token=token, client=client, now=now, reason=reason)
    return True


class TokenNotRegenerable(Exception):
    """The token cannot get a new value: it is deleted, expired, or changed meanwhile.

    `str(error)` is a message for the user.
    """


class TokenChangedMeanwhile(TokenNotRegenerable):
    """Another regenerate (or a delete) changed the token after the caller read it."""


def api_token_regenerate(
    *,
    token: APIToken,
    actor: User,
    overlap: timedelta,
    until_quiet: bool = False,
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

    With `until_quiet` ("Until its traffic stops", `overlap` must then be the 7-day hard
    end, `expiry.QUIET_OVERLAP_MAX`) the replaced value works until 24 hours pass without a
    request using it: `previous_expires_at` starts a quiet day ahead and each use of the
    old value moves it on (`activity.previous_value_touch`), never past the hard end.

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
    if until_quiet and overlap != expiry.QUIET_OVERLAP_MAX:
        raise ValueError("An overlap until its traffic stops ends after 7 days at the latest.")
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
            "previous_expires_at": now + (expiry.QUIET_PERIOD if until_quiet else overlap),
            "overlap_until_quiet": until_quiet,
            "overlap_warning_sent_at": None,
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
        if until_quiet:
            until = timezone.localtime(now + overlap)
            detail = (
                f"Previous value {current.identifier} works until 24 hours pass without a "
                f"request using it, {dateformat.format(until, 'j M Y, H:i T')} at the latest"
            )
        elif keep_previous:
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
            actor_kind=actor_kind or security_actor_kind(token=current, actor=actor),
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
        previous_expires_at=(now + overlap) if keep_previous else None,
        until_quiet=until_quiet,
    )
    return token, raw


def api_token_overlap_end(
    *,
    token: APIToken,
    actor: User,
    previous_identifier: str | None = None,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> bool:
    """End a regenerate's overlap now: the replaced value is refused from the next request,
    as a deleted token is (the lookup reads the row on every request; nothing caches it).

    The value stays remembered, so a later use of it is reported like a dead token's, not
    answered as unknown. With `previous_identifier` (the old value the owner saw), only that
    value's overlap ends. Returns False when no such overlap was running (double submit,
    ended by its own clock, another regenerate meanwhile): nothing changes.
    """
    now = now or timezone.now()
    running = APIToken.objects.filter(
        pk=token.pk,
        revoked_at__isnull=True,
        previous_digest__isnull=False,
        previous_expires_at__gt=now,
    )
    if previous_identifier is not None:
        running = running.filter(previous_identifier=previous_identifier)
    with transaction.atomic():
        updated = running.update(previous_expires_at=now, overlap_until_quiet=False)
        if not updated:
            return False
        token.previous_expires_at, token.overlap_until_quiet = now, False
        security_event_record(
            kind=SecurityEvent.Kind.OVERLAP_ENDED,
            account=token.owner,
            actor_kind=security_actor_kind(token=token, actor=actor),
            actor=actor,
            token=token,
            client=client,
            detail=f"Previous value {token.previous_identifier} stopped at once",
            now=now,
        )
    notifications.notify_overlap_ended(token=token, client=client, now=now)
    return True
