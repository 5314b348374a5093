"""Edits to a live token that keep its value: its name, permissions, IP allowlist and the
list's mode (enforced or report only). Each is one guarded change with its security-log row."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from accounts.models import User
from apitokens.models import ALL_SCOPES, APIToken, SecurityEvent
from apitokens.services.audit import (
    NO_CLIENT,
    ClientInfo,
    security_actor_kind,
    security_event_record,
)
from apitokens.services.tokens import TokenNameTaken, api_token_name_clash


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
        _live_token_field_change(
            token=token,
            field="name",
            value=name,
            kind=SecurityEvent.Kind.RENAMED,
            detail=f"Renamed from “{old_name}”",
            actor=actor,
            client=client,
            now=now,
        )
    except IntegrityError as error:
        token.name = old_name
        raise TokenNameTaken(name) from error


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
    report_only: bool = False,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> None:
    """Replace a token's IP allowlist (normalised text, "" for any address) and its mode:
    enforced, or `report_only` (requests from other addresses are served and marked). It
    applies from the next request. The row is locked and compared as it is now, so two
    sessions saving at once each log what they changed; unchanged, or deleted meanwhile:
    nothing changes or is logged."""
    report_only = report_only and bool(allowed_ips)  # an empty list has nothing to report
    with transaction.atomic():
        current = (
            APIToken.objects.select_for_update()
            .filter(pk=token.pk, revoked_at__isnull=True)
            .values_list("allowed_ips", "allowlist_report_only")
            .first()
        )
        if current is None:
            return
        old_ips, old_report_only = current
        token.allowed_ips, token.allowlist_report_only = allowed_ips, report_only
        if (old_ips, old_report_only) == (allowed_ips, report_only):
            return
        APIToken.objects.filter(pk=token.pk).update(
            allowed_ips=allowed_ips, allowlist_report_only=report_only
        )
        security_event_record(
            kind=SecurityEvent.Kind.ALLOWLIST_CHANGED,
            account=token.owner,
            actor_kind=security_actor_kind(token=token, actor=actor),
            actor=actor,
            token=token,
            client=client,
            detail=_allowlist_change_text(old_ips, old_report_only, allowed_ips, report_only),
            now=now,
        )


def api_token_allowlist_enforce(
    *,
    token: APIToken,
    actor: User,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> bool:
    """Enforce a token's report-only IP allowlist: from the next request, addresses outside
    it are refused. Returns False when there is nothing to enforce (already enforced, no
    list, or the token deleted meanwhile: a second tab, a double click)."""
    with transaction.atomic():
        updated = (
            APIToken.objects.active()
            .filter(pk=token.pk, allowlist_report_only=True)
            .exclude(allowed_ips="")
            .update(allowlist_report_only=False)
        )
        if not updated:
            return False
        token.refresh_from_db(fields=["allowed_ips", "allowlist_report_only"])
        security_event_record(
            kind=SecurityEvent.Kind.ALLOWLIST_ENFORCED,
            account=token.owner,
            actor_kind=security_actor_kind(token=token, actor=actor),
            actor=actor,
            token=token,
            client=client,
            detail=f"Requests from outside {_allowlist_text(token.allowed_ips)} are refused",
            now=now,
        )
    return True


def _allowlist_text(stored: str, report_only: bool | None = None) -> str:
    """The list as the security log shows it: “a, b”, with its mode when `report_only` is
    given ("report only" or "enforced"); “any address” for an empty list."""
    if not stored:
        return "“any address”"
    mode = {None: "", True: " (report only)", False: " (enforced)"}[report_only]
    return f"“{', '.join(stored.split())}”{mode}"


def _allowlist_change_text(
    old_ips: str, old_report_only: bool, new_ips: str, new_report_only: bool
) -> str:
    """The ALLOWLIST_CHANGED detail: each side's mode is named when either is report only
    (enforced, the default, reads as it always has)."""
    modes = old_report_only or new_report_only
    before = _allowlist_text(old_ips, old_report_only if modes else None)
    after = _allowlist_text(new_ips, new_report_only if modes else None)
    return f"IP allowlist changed from {before} to {after}"


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
            actor_kind=security_actor_kind(token=token, actor=actor),
            actor=actor,
            token=token,
            client=client,
            detail=detail,
            now=now,
        )
