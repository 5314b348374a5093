"""Edits to a live token that keep its value (apitokens/services/changes.py): its name and its
permissions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apitokens import services, tokens
from apitokens.api.lookup import authenticate_token
from apitokens.models import APIToken, SecurityEvent
from apitokens.services import ClientInfo, TokenNameTaken
from tests.apitokens.factories import create_token


@pytest.mark.django_db
def test_the_rename_service_refuses_a_look_alike(user, existing):
    other, _value = services.api_token_create(user=user, name="Staging Website")

    with pytest.raises(TokenNameTaken):
        services.api_token_rename(token=other, name="Alice Prоduction Website", actor=user)


CLIENT = ClientInfo(ip="203.0.113.7", user_agent="pytest")


# --- Rename --------------------------------------------------------------------------------


def test_rename_records_the_old_name(user):
    token, raw = create_token(user, "Mobile App Backend")
    services.api_token_rename(token=token, name="iOS App Backend", actor=user, client=CLIENT)
    token.refresh_from_db()
    assert token.name == "iOS App Backend"
    assert authenticate_token(raw).ok
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.RENAMED)
    assert "Mobile App Backend" in event.detail


def test_rename_to_the_same_name_records_nothing(user):
    token, _ = create_token(user, "Mobile App Backend")
    services.api_token_rename(token=token, name="Mobile App Backend", actor=user)
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.RENAMED).exists()


def test_rename_to_a_taken_name_raises_and_keeps_the_old_name(user):
    token, _ = create_token(user, "Mobile App Backend")
    create_token(user, "Development Testing")
    with pytest.raises(TokenNameTaken):
        services.api_token_rename(token=token, name="development testing", actor=user)
    assert token.name == "Mobile App Backend"
    token.refresh_from_db()
    assert token.name == "Mobile App Backend"
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.RENAMED).exists()


T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def auth(raw, now):
    return authenticate_token(raw, now=now)


# --- Permissions -----------------------------------------------------------------------------


def update_scopes(token, scopes, actor=None):
    services.api_token_update_scopes(
        token=token, scopes=scopes, actor=actor or token.owner, client=CLIENT, now=T0
    )


@pytest.mark.django_db
def test_update_scopes_changes_permissions_without_changing_the_value(user):
    token, raw = create_token(user, now=T0)
    update_scopes(token, ("write", "read"))
    token.refresh_from_db()
    assert token.scopes == "read write"
    assert token.digest == tokens.token_digest(raw)
    result = auth(raw, T0)
    assert result.ok
    assert result.token.has_scope("write")


@pytest.mark.django_db
def test_update_scopes_records_a_security_event(user):
    token, _ = create_token(user, now=T0)
    update_scopes(token, ("write",))
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.SCOPES_CHANGED)
    assert event.token == token
    assert event.actor == user
    assert event.ip == "203.0.113.7"
    assert "“read”" in event.detail
    assert "“write”" in event.detail


@pytest.mark.django_db
def test_update_scopes_unchanged_records_nothing(user):
    token, _ = create_token(user, now=T0)
    update_scopes(token, ("read",))
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SCOPES_CHANGED).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "scopes",
    [("admin",), ("read", "delete"), ("READ",), ("read ",), ("",), ("<script>",)],
)
def test_update_scopes_with_an_unknown_permission_is_refused(user, scopes):
    token, _ = create_token(user, now=T0)
    with pytest.raises(ValueError, match="Unknown permission"):
        update_scopes(token, scopes)
    token.refresh_from_db()
    assert token.scopes == "read"
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SCOPES_CHANGED).exists()


@pytest.mark.django_db
def test_update_scopes_to_nothing_is_refused(user):
    token, _ = create_token(user, now=T0)
    with pytest.raises(ValueError, match="at least one permission"):
        update_scopes(token, ())


@pytest.mark.django_db
def test_update_scopes_of_a_deleted_token_changes_nothing(user):
    token, _ = create_token(user, now=T0)
    stale = APIToken.objects.get(pk=token.pk)
    services.api_token_revoke(token=token, actor=user, now=T0)
    update_scopes(stale, ("read", "write"))
    token.refresh_from_db()
    assert token.scopes == "read"
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SCOPES_CHANGED).exists()


@pytest.mark.django_db
def test_scopes_validate_returns_canonical_order_without_duplicates():
    assert services.scopes_validate(["write", "read", "write"]) == ("read", "write")
