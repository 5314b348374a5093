"""Account settings pages (accounts/views/settings.py): Profile, Security (password change, signing
out other sessions, the security log) and two-factor set-up."""

from __future__ import annotations

import re
from http import HTTPStatus

import pyotp
import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import sudo
from accounts.models import AccountEvent, TwoFactor
from accounts.two_factor import (
    recovery_codes_left,
    second_factor_verify,
    two_factor_enabled,
)
from tests.accounts.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


LOGIN_URL = reverse("accounts:login")


SECURITY_URL = reverse("accounts:security")


AGENT = "Mozilla/5.0 (X11; Linux) TestBrowser/1.0"


KIND = AccountEvent.Kind


def sign_in(client: Client, user, password: str = DEFAULT_PASSWORD):
    return client.post(
        LOGIN_URL,
        {"username": user.email, "password": password},
        REMOTE_ADDR="203.0.113.5",
        HTTP_USER_AGENT=AGENT,
    )


def test_sign_out_everywhere_else_ends_other_sessions_only(client, user):
    sign_in(client, user)
    elsewhere = Client()
    sign_in(elsewhere, user)
    assert elsewhere.get(SECURITY_URL).status_code == HTTPStatus.OK

    response = client.post(reverse("accounts:sign_out_others"), follow=True)

    assert "You are signed out everywhere else." in response.content.decode()
    assert client.get(SECURITY_URL).status_code == HTTPStatus.OK
    assert elsewhere.get(SECURITY_URL).url.startswith(LOGIN_URL)
    assert user.account_events.filter(kind=KIND.SIGNED_OUT_OTHERS).count() == 1


def test_the_security_page_shows_the_owners_events_only(user_client, user, other_user):
    sign_in(Client(), user)
    sign_in(Client(), other_user, password="wrong-password-1")
    other_user.account_events.update(ip="198.51.100.99")

    content = user_client.get(SECURITY_URL).content.decode()

    assert "Security log" in content
    assert "203.0.113.5" in content and "TestBrowser/1.0" in content
    assert "198.51.100.99" not in content


SETUP_URL = reverse("accounts:two_factor_setup")


def code_for(device: TwoFactor, moment=None) -> str:
    return pyotp.TOTP(device.secret).at(moment or timezone.now())


class TestSecurityPages:
    def test_setup_shows_a_qr_code_and_the_key_then_recovery_codes_once(self, user_client, user):
        page = user_client.get(SETUP_URL)
        device = TwoFactor.objects.get(user=user)
        content = page.content.decode()
        assert "<svg" in content and device.secret in content

        done = user_client.post(SETUP_URL, {"code": code_for(device)})

        assert "Save these codes now." in done.content.decode()
        assert "no-store" in done["Cache-Control"]
        assert len(re.findall(r"<code>[a-z2-9]{5}-[a-z2-9]{5}</code>", done.content.decode())) == 10
        assert two_factor_enabled(user)
        assert "Turn off" in user_client.get(SECURITY_URL).content.decode()

    def test_a_wrong_setup_code_keeps_the_same_key(self, user_client, user):
        user_client.get(SETUP_URL)
        secret = TwoFactor.objects.get(user=user).secret

        response = user_client.post(SETUP_URL, {"code": "000000"})

        assert "That code is not right" in response.content.decode()
        assert secret in response.content.decode()
        assert not two_factor_enabled(user)

    def test_turning_it_off_needs_sudo(self, user_client, user, enabled):
        session = user_client.session
        session[sudo.SESSION_KEY] = 1_000_000.0
        session.save()

        held = user_client.post(reverse("accounts:two_factor_off"))
        assert 'name="sudo_password"' in held.content.decode()
        assert two_factor_enabled(user)

        user_client.post(reverse("accounts:two_factor_off"), {"sudo_password": DEFAULT_PASSWORD})
        assert not two_factor_enabled(user)

    def test_setup_needs_sudo(self, user_client):
        session = user_client.session
        session[sudo.SESSION_KEY] = 1_000_000.0
        session.save()

        assert 'name="sudo_password"' in user_client.get(SETUP_URL).content.decode()

    def test_new_recovery_codes_replace_the_old_ones(self, user_client, user, enabled):
        _device, old_codes = enabled

        response = user_client.post(reverse("accounts:recovery_codes_regenerate"))

        assert "Your old recovery codes no longer work." in response.content.decode()
        assert "no-store" in response["Cache-Control"]
        assert second_factor_verify(user=user, code=old_codes[0]) is None
        assert recovery_codes_left(user) == 10


STRONG = "quiet-otter-lantern-42"


SIGNUP_URL = reverse("accounts:signup")


SETTINGS_URL = reverse("accounts:settings")


def is_logged_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def signup_data(**overrides) -> dict:
    return {
        "email": "new@example.com",
        "display_name": "New Person",
        "password1": STRONG,
        "password2": STRONG,
        **overrides,
    }


def messages_text(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


class TestProfile:
    def test_requires_login(self, client):
        response = client.get(SETTINGS_URL)

        assert response.status_code == HTTPStatus.FOUND
        assert response.url == f"{LOGIN_URL}?next={SETTINGS_URL}"

    def test_shows_the_account(self, user_client, user):
        response = user_client.get(SETTINGS_URL)

        content = response.content.decode()
        assert response.status_code == HTTPStatus.OK
        assert "Account settings" in content
        assert user.email in content
        assert 'value="Ada Lovelace"' in content
        assert 'aria-current="page">Profile' in content

    def test_changes_the_display_name(self, user_client, user):
        response = user_client.post(SETTINGS_URL, {"display_name": "The Countess"}, follow=True)

        user.refresh_from_db()
        assert user.display_name == "The Countess"
        assert "Your profile has been saved." in messages_text(response)

    def test_over_long_display_name_is_refused_and_not_shown(self, user_client, user):
        response = user_client.post(SETTINGS_URL, {"display_name": "z" * 81})

        assert response.status_code == HTTPStatus.OK
        assert "Ensure this value has at most 80 characters" in response.content.decode()
        user.refresh_from_db()
        assert user.display_name == "Ada Lovelace"
        assert response.context["user"].display_name == "Ada Lovelace"

    def test_html_in_display_name_is_rendered_escaped(self, user_client, user):
        payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
        user_client.post(SETTINGS_URL, {"display_name": payload})

        content = user_client.get(SETTINGS_URL).content.decode()

        user.refresh_from_db()
        assert user.display_name == payload
        assert "<script>alert" not in content
        assert "<img src=x" not in content
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in content

    @pytest.mark.django_db(transaction=True)
    def test_display_name_is_not_in_the_verification_email(self, client):
        # Whoever signs up chooses it; the mail goes to the address's owner.
        client.post(SIGNUP_URL, signup_data(display_name="<b>bold</b>"))

        assert mail.outbox[0].body.startswith("Hello,\n")
        assert "bold" not in mail.outbox[0].body


class TestSecurity:
    def test_requires_login(self, client):
        assert client.get(SECURITY_URL).url == f"{LOGIN_URL}?next={SECURITY_URL}"

    def test_shows_the_password_form(self, user_client):
        response = user_client.get(SECURITY_URL)

        assert response.status_code == HTTPStatus.OK
        assert b'name="old_password"' in response.content
        assert b'aria-current="page">Security' in response.content

    def test_changes_the_password_and_keeps_this_session(self, user_client, user):
        response = user_client.post(
            SECURITY_URL,
            {"old_password": DEFAULT_PASSWORD, "new_password1": STRONG, "new_password2": STRONG},
            follow=True,
        )

        user.refresh_from_db()
        assert user.check_password(STRONG)
        assert is_logged_in(user_client)
        assert any("Your password has been changed." in text for text in messages_text(response))

    def test_other_sessions_are_logged_out_by_a_password_change(self, user, password):
        other_device = Client()
        other_device.post(LOGIN_URL, {"username": user.email, "password": password})
        this_device = Client()
        this_device.force_login(user)

        this_device.post(
            SECURITY_URL,
            {"old_password": password, "new_password1": STRONG, "new_password2": STRONG},
        )

        assert other_device.get(SETTINGS_URL).status_code == HTTPStatus.FOUND

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (
                {"old_password": "wrong", "new_password1": STRONG, "new_password2": STRONG},
                "Your current password is not correct.",
            ),
            (
                {"old_password": DEFAULT_PASSWORD, "new_password1": STRONG, "new_password2": "x"},
                "The two new passwords don&#x27;t match.",
            ),
            (
                {
                    "old_password": DEFAULT_PASSWORD,
                    "new_password1": "1234",
                    "new_password2": "1234",
                },
                "This password is too short.",
            ),
        ],
    )
    def test_bad_input_is_refused_with_a_message(self, user_client, user, data, message):
        response = user_client.post(SECURITY_URL, data)

        assert response.status_code == HTTPStatus.OK
        assert message in response.content.decode()
        user.refresh_from_db()
        assert user.check_password(DEFAULT_PASSWORD)


@pytest.mark.parametrize("url", ["/account/", "/account/security/"])
def test_settings_pages_answer_head(user_client, url):
    assert user_client.head(url).status_code == HTTPStatus.OK
