"""Edits to a live token that keep its value: its name, permissions and IP allowlist.
Each is one guarded field change with its security-log row (`_live_token_field_change`)."""

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
            actor_kind=security_actor_kind(token=token, actor=actor),
            actor=actor,
            token=token,
            client=client,
            detail=detail,
            now=now,
        )
