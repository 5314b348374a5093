"""The staff "Find a token by its value" page (apitokens/admin/lookup.py): which token a
pasted value is, current or previous, and whose; malformed values told apart; the value
never stored, logged, cached or shown again; each lookup in the security log."""

from __future__ import annotations

import logging
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from apitokens import services, tokens
from apitokens.models import SecurityEvent
from tests.apitokens.activity_factories import staff_user
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

LOOKUP = reverse("admin:apitokens_apitoken_lookup")


@pytest.fixture
def staff():
    return staff_user("apitokens.view_apitoken", email="support@example.com")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def look_up(client, value):
    return client.post(LOOKUP, {"value": value})


def test_a_current_value_names_the_token_and_its_owner_with_links(staff_client, user):
    token, value = create_token(user, "Production Website Integration")
    response = look_up(staff_client, value)
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert "Token found" in page
    assert "Production Website Integration" in page
    assert token.identifier in page
    assert reverse("admin:apitokens_apitoken_change", args=[token.pk]) in page
    assert reverse("admin:accounts_user_change", args=[user.pk]) in page
    assert user.email in page


def test_a_previous_value_in_its_overlap_is_found_and_said_to_be_previous(staff_client, user):
    token, old_value = create_token(user, "Rotating job")
    services.api_token_regenerate(token=token, actor=user, overlap=timedelta(hours=1))
    page = look_up(staff_client, old_value).content.decode()
    assert "The previous value of a token" in page
    assert "Rotating job" in page
    assert "Replaced by Regenerate" in page


def test_a_deleted_tokens_value_is_still_found_and_shown_deleted(staff_client, user):
    token, value = create_token(user, "Old job")
    services.api_token_revoke(token=token, actor=user)
    page = look_up(staff_client, value).content.decode()
    assert "Old job" in page
    assert "audit-badge-deleted" in page


def test_an_unknown_well_formed_value_is_no_match(staff_client, user):
    create_token(user, "Some job")
    page = look_up(staff_client, tokens.generate_token()).content.decode()
    assert "No token has this value." in page
    assert "Some job" not in page


def test_whitespace_around_the_value_is_stripped(staff_client, user):
    _token, value = create_token(user, "Pasted job")
    page = look_up(staff_client, f"  \t{value}\r\n ").content.decode()
    assert "Pasted job" in page


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Paste a full token value."),
        ("   ", "Paste a full token value."),
        ("xx_" + "a" * 38, "This is not a QuickBot token"),
        ("qb_short", "This is not a QuickBot token"),
        ("qb_" + "a" * 37 + "\x00", "This is not a QuickBot token"),
        ("\x00" * 10, "This is not a QuickBot token"),
        ("qb_" + "a" * 10_240, "This is not a QuickBot token"),
        ("<script>alert(1)</script>", "This is not a QuickBot token"),
        # A Cyrillic "а" where a Latin "a" belongs: looks right, is not a token.
        ("qb_" + "\u0430" * 38, "This is not a QuickBot token"),
    ],
)
def test_malformed_values_get_a_clear_message_and_no_lookup(staff_client, value, message):
    response = look_up(staff_client, value)
    assert response.status_code == HTTPStatus.OK
    assert message in response.content.decode()
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.LOOKED_UP).exists()


def test_a_mistyped_value_is_told_its_checksum_does_not_match(staff_client):
    value = tokens.generate_token()
    mistyped = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
    page = look_up(staff_client, mistyped).content.decode()
    assert "its checksum does not match" in page


def test_each_lookup_is_a_security_event_by_staff_and_a_miss_has_no_token(
    staff_client, staff, user
):
    token, value = create_token(user, "Audited job")
    look_up(staff_client, value)
    look_up(staff_client, tokens.generate_token())
    hit, miss = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.LOOKED_UP).order_by("pk")
    assert (hit.token, hit.account, hit.actor, hit.actor_kind) == (
        token,
        user,
        staff,
        SecurityEvent.Actor.STAFF,
    )
    assert (miss.token, miss.account, miss.actor, miss.token_identifier) == (
        None,
        None,
        staff,
        "",
    )
    assert miss.detail == "No token has this value"


def test_the_value_is_never_stored_shown_again_or_logged(staff_client, user, caplog):
    _token, value = create_token(user, "Secret job")
    unknown = tokens.generate_token()
    caplog.set_level(logging.DEBUG)
    for pasted in (value, unknown, value[:-1]):
        with connection.execute_wrapper(_refuse_statements_with(pasted)):
            response = look_up(staff_client, pasted)
        assert pasted not in response.content.decode()
        assert pasted not in response.get("Location", "")
    assert value not in caplog.text and unknown not in caplog.text
    for event in SecurityEvent.objects.values():
        assert not any(value in str(cell) or unknown in str(cell) for cell in event.values())


def _refuse_statements_with(value):
    """A database wrapper failing any statement that carries `value` (only its digest may)."""

    def wrapper(execute, sql, params, many, context):
        assert value not in sql
        assert not any(value in str(param) for param in params or ())
        return execute(sql, params, many, context)

    return wrapper


def test_the_answer_is_never_cached(staff_client, user):
    _token, value = create_token(user, "Cached job")
    for response in (staff_client.get(LOOKUP), look_up(staff_client, value)):
        assert "no-store" in response["Cache-Control"]
        assert "private" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]


def test_the_lookup_needs_csrf(staff, user):
    _token, value = create_token(user, "Guarded job")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    response = client.post(LOOKUP, {"value": value})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.LOOKED_UP).exists()


def test_non_staff_and_staff_without_the_view_permission_are_refused(client, user):
    _token, value = create_token(user, "Private job")
    client.force_login(user)
    assert look_up(client, value).status_code == HTTPStatus.FOUND
    client.force_login(staff_user(email="nobody@example.com"))
    assert look_up(client, value).status_code == HTTPStatus.FORBIDDEN
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.LOOKED_UP).exists()


def test_the_token_list_and_the_admin_index_link_to_the_lookup(staff_client):
    changelist = staff_client.get(reverse("admin:apitokens_apitoken_changelist"))
    assert LOOKUP in changelist.content.decode()
    assert LOOKUP in staff_client.get(reverse("admin:index")).content.decode()


def test_other_methods_are_refused(staff_client):
    assert staff_client.put(LOOKUP).status_code == HTTPStatus.METHOD_NOT_ALLOWED
