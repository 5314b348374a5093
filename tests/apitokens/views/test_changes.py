"""Changing a token from its modal (apitokens/views/changes.py): edit, regenerate, delete."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apitokens import services
from apitokens.api.lookup import authenticate_token
from apitokens.models import APIToken, SecurityEvent
from tests.apitokens.factories import create_token


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_edit_changes_the_allowlist_and_logs_it(user_client, user):
    token, _ = create_token(user, "Office backup job")
    url = reverse("apitokens:edit", args=[token.public_id])
    page = user_client.get(url)
    assert "IP allowlist" in page.content.decode()
    response = user_client.post(
        url, {"name": token.name, "scopes": ["read"], "allowed_ips": "203.0.113.0/24"}
    )
    assert response.status_code == HTTPStatus.FOUND
    token.refresh_from_db()
    assert token.allowed_ips == "203.0.113.0/24"
    event = SecurityEvent.objects.get(token=token, kind=SecurityEvent.Kind.ALLOWLIST_CHANGED)
    assert "any address" in event.detail and "203.0.113.0/24" in event.detail
    # Cleared again: any address.
    user_client.post(url, {"name": token.name, "scopes": ["read"], "allowed_ips": ""})
    token.refresh_from_db()
    assert token.allowed_ips == ""


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_edit_page_without_js_shows_errors(user_client, user):
    token, _ = create_token(user, "Office backup job")
    url = reverse("apitokens:edit", args=[token.public_id])
    response = user_client.post(
        url, {"name": token.name, "scopes": ["read"], "allowed_ips": "10.0.0.1/33"}
    )
    assert response.status_code == HTTPStatus.OK
    assert "is not an IPv4 or IPv6 address" in response.content.decode()
    token.refresh_from_db()
    assert token.allowed_ips == ""


HTMX = {"HX-Request": "true"}


LIST_URL = "/account/tokens/"


VALUE_PATTERN = re.compile(r"qb_[0-9A-Za-z]{38}")


def url(name, token):
    return reverse(f"apitokens:{name}", args=[token.public_id])


def assert_not_cacheable(response):
    assert "no-store" in response["Cache-Control"]


def shown_value(response) -> str:
    match = VALUE_PATTERN.search(response.content.decode())
    assert match, "no token value in the response"
    return match.group(0)


def test_delete_without_csrf_token_is_forbidden(user):
    token, _ = create_token(user, "Production Website Integration")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(url("delete", token)).status_code == HTTPStatus.FORBIDDEN
    token.refresh_from_db()
    assert token.revoked_at is None


# --- Delete ------------------------------------------------------------------------------


def test_delete_page_names_the_token_and_warns(user_client, user):
    token, _ = create_token(user, "Mobile App Backend")
    response = user_client.get(url("delete", token))
    content = response.content.decode()
    assert "<html" in content
    assert "Mobile App Backend" in content
    assert "loses access immediately" in content
    assert ">Delete token</button>" in content
    token.refresh_from_db()
    assert token.revoked_at is None  # a GET changes nothing


def test_htmx_delete_get_returns_confirmation_modal(user_client, user):
    token, _ = create_token(user, "Mobile App Backend")
    content = user_client.get(url("delete", token), headers=HTMX).content.decode()
    assert 'role="dialog"' in content and 'aria-labelledby="delete-token-title"' in content
    assert f'hx-post="{url("delete", token)}"' in content


def test_delete_without_javascript_redirects_with_message(user_client, user):
    token, raw = create_token(user, "Mobile App Backend")
    response = user_client.post(url("delete", token), follow=True)
    assert response.redirect_chain == [(LIST_URL, HTTPStatus.FOUND)]
    assert "Token ‘Mobile App Backend’ deleted" in response.content.decode()
    assert token.identifier not in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoked_by == user
    assert APIToken.objects.filter(pk=token.pk).exists()  # kept for audit
    assert authenticate_token(raw).reason == "revoked"


def test_htmx_delete_closes_modal_shows_message_and_refreshes(user_client, user):
    token, _ = create_token(user, "Mobile App Backend")
    response = user_client.post(url("delete", token), headers=HTMX)
    assert response.status_code == HTTPStatus.OK
    content = response.content.decode()
    assert 'role="dialog"' not in content
    assert 'id="messages"' in content and 'hx-swap-oob="true"' in content
    assert "Token ‘Mobile App Backend’ deleted" in content
    assert json.loads(response["HX-Trigger"]) == {"tokensChanged": {}}


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_deleting_twice_says_already_deleted(user_client, user, headers):
    token, _ = create_token(user, "Mobile App Backend")
    user_client.post(url("delete", token), headers=headers)
    response = user_client.post(url("delete", token), headers=headers, follow=not headers)
    assert response.status_code == HTTPStatus.OK
    assert "was already deleted" in response.content.decode()
    assert user.security_events.filter(kind="deleted").count() == 1


def test_delete_racing_another_tab_says_already_deleted(user_client, user, monkeypatch):
    token, _ = create_token(user, "Mobile App Backend")
    real_revoke = services.api_token_revoke

    def revoked_meanwhile(**kwargs):
        real_revoke(**kwargs)  # the other tab wins
        return real_revoke(**kwargs)

    monkeypatch.setattr("apitokens.views.changes.api_token_revoke", revoked_meanwhile)
    response = user_client.post(url("delete", token), follow=True)
    assert "was already deleted" in response.content.decode()


# --- Regenerate ------------------------------------------------------------------------------


def test_regenerate_get_offers_overlap_choices(user_client, user):
    token, raw = create_token(user, "Mobile App Backend")
    content = user_client.get(url("regenerate", token), headers=HTMX).content.decode()
    assert 'role="dialog"' in content
    for label in ["Immediately", "After 1 hour", "After 24 hours", "After 7 days"]:
        assert label in content
    token.refresh_from_db()
    assert authenticate_token(raw).ok  # a GET changes nothing
    assert token.regenerated_at is None


def test_regenerate_shows_new_value_once_and_keeps_old_for_overlap(user_client, user):
    token, old_raw = create_token(user, "Mobile App Backend", scopes=("read", "write"))
    response = user_client.post(url("regenerate", token), {"overlap": "1h"}, headers=HTMX)
    assert response.status_code == HTTPStatus.OK
    assert_not_cacheable(response)
    assert json.loads(response["HX-Trigger"]) == {"tokensChanged": {}}
    new_raw = shown_value(response)
    assert new_raw != old_raw
    content = response.content.decode()
    assert "Token regenerated" in content and "data-show-once" in content
    assert "previous value keeps working until" in content
    new = authenticate_token(new_raw)
    old = authenticate_token(old_raw)
    assert new.ok and old.ok and new.token.pk == old.token.pk == token.pk
    assert new.token.scopes == "read write"


def test_regenerate_immediately_stops_old_value(user_client, user):
    token, old_raw = create_token(user, "Mobile App Backend")
    response = user_client.post(url("regenerate", token), {"overlap": "0"})
    assert response.status_code == HTTPStatus.OK
    assert "<html" in response.content.decode()  # the no-JS page
    assert_not_cacheable(response)
    assert "previous value has stopped working" in response.content.decode()
    assert not authenticate_token(old_raw).ok
    assert authenticate_token(shown_value(response)).ok


def test_regenerate_with_unknown_overlap_changes_nothing(user_client, user):
    token, raw = create_token(user, "Mobile App Backend")
    response = user_client.post(url("regenerate", token), {"overlap": "forever"}, headers=HTMX)
    assert "field-errors" in response.content.decode()
    assert not VALUE_PATTERN.search(response.content.decode())
    assert authenticate_token(raw).ok


def test_regenerate_expired_token_is_refused_with_message(user_client, user):
    now = timezone.now()
    token, _ = create_token(
        user, "Mobile App Backend", expires_at=now - timedelta(hours=1), now=now - timedelta(days=9)
    )
    page = user_client.get(url("regenerate", token)).content.decode()
    assert "cannot be regenerated" in page
    response = user_client.post(url("regenerate", token), {"overlap": "0"}, headers=HTMX)
    assert response.status_code == HTTPStatus.OK
    assert "cannot be regenerated" in response.content.decode()
    assert not VALUE_PATTERN.search(response.content.decode())


@pytest.mark.parametrize("name", ["regenerate", "edit"])
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_regenerate_or_edit_of_a_deleted_token_says_it_is_gone(user_client, user, name, headers):
    token, raw = create_token(user, "Mobile App Backend")
    services.api_token_revoke(token=token, actor=user)
    data = {"overlap": "0", "name": "Mobile App Backend", "scopes": ["write"]}
    response = user_client.post(url(name, token), data, headers=headers, follow=not headers)
    assert response.status_code == HTTPStatus.OK
    content = response.content.decode()
    assert "was already deleted" in content
    assert not VALUE_PATTERN.search(content)
    token.refresh_from_db()
    assert token.scopes == "read"
    assert token.regenerated_at is None
    assert authenticate_token(raw).reason == "revoked"


# --- Edit ------------------------------------------------------------------------------


def test_edit_renames_and_changes_permissions_keeping_the_value(user_client, user):
    token, raw = create_token(user, "Mobile App Backend")
    response = user_client.post(
        url("edit", token),
        {"name": "Mobile App Backend (iOS)", "scopes": ["read", "write"]},
        follow=True,
    )
    assert "Token ‘Mobile App Backend (iOS)’ updated" in response.content.decode()
    token.refresh_from_db()
    assert token.name == "Mobile App Backend (iOS)"
    assert token.scopes == "read write"
    assert authenticate_token(raw).ok


def test_htmx_edit_closes_modal_and_refreshes(user_client, user):
    token, _ = create_token(user, "Mobile App Backend")
    form = user_client.get(url("edit", token), headers=HTMX).content.decode()
    assert 'value="Mobile App Backend"' in form and 'aria-labelledby="edit-token-title"' in form
    response = user_client.post(
        url("edit", token), {"name": "Mobile App Backend", "scopes": ["write"]}, headers=HTMX
    )
    assert json.loads(response["HX-Trigger"]) == {"tokensChanged": {}}
    token.refresh_from_db()
    assert token.scopes == "write"


def test_edit_refuses_a_taken_name_and_empty_permissions(user_client, user):
    token, _ = create_token(user, "Mobile App Backend")
    create_token(user, "Development Testing")
    response = user_client.post(
        url("edit", token), {"name": "development testing", "scopes": []}, headers=HTMX
    )
    content = response.content.decode()
    assert "You already have a token named" in content
    assert "Choose at least one permission." in content
    token.refresh_from_db()
    assert token.name == "Mobile App Backend"
    assert token.scopes == "read"
