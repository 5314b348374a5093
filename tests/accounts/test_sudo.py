"""Sudo mode (accounts/sudo.py) on the token actions that mint or widen credentials."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pyotp
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import sudo
from accounts.models import TwoFactor
from accounts.two_factor import (
    two_factor_enabled,
)
from apitokens import services
from apitokens.models import APIToken
from tests.accounts.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


NEW_URL = reverse("apitokens:new")


CREATE_DATA = {"name": "Production Website", "expiry": "30", "scopes": ["read", "write"]}


HTMX = {"HX-Request": "true"}


@pytest.fixture
def stale_client(user_client, monkeypatch):
    """Signed in long ago: the sudo window has closed."""
    session = user_client.session
    session[sudo.SESSION_KEY] = 1_000_000.0
    session.save()
    return user_client


def test_signing_in_opens_the_sudo_window(client, user):
    client.post(reverse("accounts:login"), {"username": user.email, "password": DEFAULT_PASSWORD})

    assert client.get(NEW_URL).context["form"] is not None


def test_the_window_lasts_quickbot_sudo_seconds(user_client, settings, monkeypatch):
    granted = user_client.session[sudo.SESSION_KEY]
    settings.QUICKBOT_SUDO_SECONDS = 60

    monkeypatch.setattr(sudo, "_now", lambda: granted + 60)
    assert b"Confirm it's you" not in user_client.get(NEW_URL).content
    monkeypatch.setattr(sudo, "_now", lambda: granted + 61)
    assert b"Confirm it's you" in user_client.get(NEW_URL).content


def test_opening_the_create_form_asks_for_the_password_first(stale_client):
    response = stale_client.get(NEW_URL)

    content = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "Confirm it's you" in content
    assert 'name="sudo_password"' in content
    assert f'action="{NEW_URL}"' in content
    assert 'name="sudo_resume" value="GET"' in content


def test_the_right_password_resumes_opening_the_form(stale_client):
    response = stale_client.post(
        NEW_URL, {"sudo_password": DEFAULT_PASSWORD, "sudo_resume": "GET"}, headers=HTMX
    )

    assert response.status_code == HTTPStatus.OK
    assert response["HX-Location"] == (
        '{"path": "/account/tokens/new/", "target": "#modal-root", "swap": "innerHTML"}'
    )
    follow = stale_client.get(NEW_URL, headers=HTMX)
    assert "Create Token" in follow.content.decode()
    assert not APIToken.objects.exists()


def test_a_create_outside_the_window_is_held_and_resumed_with_its_data(stale_client, user):
    held = stale_client.post(NEW_URL, CREATE_DATA, headers=HTMX)

    assert not APIToken.objects.exists()
    content = held.content.decode()
    assert "data-modal" in content
    assert 'name="name" value="Production Website"' in content
    assert content.count('name="scopes"') == 2
    assert "sudo_resume" not in content

    resumed = stale_client.post(
        NEW_URL, {**CREATE_DATA, "sudo_password": DEFAULT_PASSWORD}, headers=HTMX
    )

    token = APIToken.objects.get()
    assert token.name == "Production Website"
    assert token.scope_list == ["read", "write"]
    assert "Token created" in resumed.content.decode()


def test_a_wrong_password_is_refused_and_counted(stale_client, user, settings):
    settings.QUICKBOT_LOGIN_FAILURE_LIMIT = 2
    data = {**CREATE_DATA, "sudo_password": "not-my-password"}

    first = stale_client.post(NEW_URL, data)
    locked = stale_client.post(NEW_URL, data)
    after = stale_client.post(NEW_URL, {**CREATE_DATA, "sudo_password": DEFAULT_PASSWORD})

    assert "That is not your password" in first.content.decode()
    assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert after.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert not APIToken.objects.exists()


def test_the_no_javascript_prompt_is_a_page_that_redirects_back(stale_client):
    response = stale_client.get(NEW_URL)
    resumed = stale_client.post(NEW_URL, {"sudo_password": DEFAULT_PASSWORD, "sudo_resume": "GET"})

    assert "<html" in response.content.decode()
    assert resumed.status_code == HTTPStatus.SEE_OTHER
    assert resumed.url == NEW_URL


@pytest.mark.parametrize("action", ["regenerate", "edit"])
def test_regenerate_and_edit_need_sudo_too(stale_client, user, action):
    token, _value = services.api_token_create(user=user, name="Nightly Backup")
    url = reverse(f"apitokens:{action}", args=[token.public_id])
    data = (
        {"overlap": "0"} if action == "regenerate" else {"name": "Renamed Job", "scopes": ["write"]}
    )

    response = stale_client.post(url, data)

    assert 'name="sudo_password"' in response.content.decode()
    token.refresh_from_db()
    assert token.regenerated_at is None
    assert token.name == "Nightly Backup"
    assert token.scope_list == ["read"]


def test_deleting_a_token_needs_no_sudo(stale_client, user):
    token, _value = services.api_token_create(user=user, name="Nightly Backup")

    stale_client.post(reverse("apitokens:delete", args=[token.public_id]))

    token.refresh_from_db()
    assert token.is_revoked


def test_the_prompt_never_echoes_the_password(stale_client):
    response = stale_client.post(NEW_URL, {**CREATE_DATA, "sudo_password": "wrong-secret-42"})

    assert "wrong-secret-42" not in response.content.decode()


def code_for(device: TwoFactor, moment=None) -> str:
    return pyotp.TOTP(device.secret).at(moment or timezone.now())


def test_with_two_factor_on_an_authenticator_code_also_opens_sudo(user_client, user, enabled):
    device, codes = enabled
    session = user_client.session
    session[sudo.SESSION_KEY] = 1_000_000.0
    session.save()
    later = timezone.now() + timedelta(seconds=30)

    with_recovery = user_client.post(
        reverse("accounts:two_factor_off"), {"sudo_password": codes[0]}
    )
    assert 'name="sudo_password"' in with_recovery.content.decode()  # recovery codes: no

    user_client.post(reverse("accounts:two_factor_off"), {"sudo_password": code_for(device, later)})
    assert not two_factor_enabled(user)
