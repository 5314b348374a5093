"""Two-factor authentication (accounts/two_factor.py and its views)."""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus

import pyotp
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import sudo
from accounts.models import RecoveryCode, TwoFactor
from accounts.two_factor import (
    qr_code_svg,
    recovery_codes_left,
    second_factor_verify,
    two_factor_disable,
    two_factor_enable,
    two_factor_enabled,
    two_factor_setup_begin,
)
from tests.accounts.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("accounts:login")
CODE_URL = reverse("accounts:login_two_factor")
SETUP_URL = reverse("accounts:two_factor_setup")
SECURITY_URL = reverse("accounts:security")


def code_for(device: TwoFactor, moment=None) -> str:
    return pyotp.TOTP(device.secret).at(moment or timezone.now())


@pytest.fixture
def enabled(user):
    """Two-factor on for `user`; returns (device, recovery codes)."""
    device = two_factor_setup_begin(user=user)
    codes = two_factor_enable(user=user, code=code_for(device))
    device.refresh_from_db()
    return device, codes


class TestService:
    def test_the_first_right_code_turns_it_on_with_ten_recovery_codes(self, user):
        device = two_factor_setup_begin(user=user)
        assert not two_factor_enabled(user)

        codes = two_factor_enable(user=user, code=code_for(device))

        assert two_factor_enabled(user)
        assert len(codes) == 10 and len(set(codes)) == 10
        assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", code) for code in codes)
        stored = set(RecoveryCode.objects.values_list("digest", flat=True))
        assert not stored & set(codes)  # only digests are kept

    def test_a_wrong_code_does_not_turn_it_on(self, user):
        two_factor_setup_begin(user=user)

        assert two_factor_enable(user=user, code="000000") is None
        assert not two_factor_enabled(user)

    def test_a_code_works_once(self, user, enabled):
        device, _codes = enabled
        later = timezone.now() + timedelta(seconds=30)
        code = code_for(device, later)

        assert second_factor_verify(user=user, code=code, now=later) == "totp"
        assert second_factor_verify(user=user, code=code, now=later) is None

    def test_codes_from_a_neighbouring_step_only(self, user, enabled):
        device, _codes = enabled
        later = timezone.now() + timedelta(minutes=5)

        assert second_factor_verify(user=user, code=code_for(device), now=later) is None
        assert second_factor_verify(user=user, code=code_for(device, later), now=later) == "totp"

    def test_each_recovery_code_works_once_in_any_case_or_spacing(self, user, enabled):
        _device, codes = enabled

        assert second_factor_verify(user=user, code=f" {codes[0].upper()} ") == "recovery"
        assert second_factor_verify(user=user, code=codes[0]) is None
        assert recovery_codes_left(user) == 9

    def test_turning_it_off_deletes_the_key_and_the_codes(self, user, enabled):
        _device, codes = enabled

        assert two_factor_disable(user=user)

        assert not TwoFactor.objects.exists() and not RecoveryCode.objects.exists()
        assert second_factor_verify(user=user, code=codes[1]) is None

    def test_the_qr_code_is_an_inline_svg_without_script_or_style(self, user):
        svg = qr_code_svg(two_factor_setup_begin(user=user))

        assert svg.startswith("<svg") and "<script" not in svg and "style" not in svg


class TestLogin:
    def test_a_right_password_asks_for_the_code_before_signing_in(self, client, user, enabled):
        response = client.post(LOGIN_URL, {"username": user.email, "password": DEFAULT_PASSWORD})

        assert response.url == CODE_URL
        assert "_auth_user_id" not in client.session
        assert client.get(reverse("accounts:settings")).status_code == HTTPStatus.FOUND

    def test_the_code_signs_in_and_keeps_next(self, client, user, enabled):
        device, _codes = enabled
        client.post(
            LOGIN_URL,
            {"username": user.email, "password": DEFAULT_PASSWORD, "next": "/account/tokens/"},
        )
        later = timezone.now() + timedelta(seconds=30)

        response = client.post(
            CODE_URL, {"code": code_for(device, later), "next": "/account/tokens/"}
        )

        assert response.url == "/account/tokens/"
        assert client.session["_auth_user_id"] == str(user.pk)
        assert sudo.SESSION_KEY in client.session

    def test_a_recovery_code_signs_in_and_says_how_many_are_left(self, client, user, enabled):
        _device, codes = enabled
        client.post(LOGIN_URL, {"username": user.email, "password": DEFAULT_PASSWORD})

        response = client.post(CODE_URL, {"code": codes[3]}, follow=True)

        assert "You used a recovery code; 9 left." in response.content.decode()

    def test_wrong_codes_are_limited_like_passwords(self, client, user, enabled, settings):
        settings.QUICKBOT_LOGIN_FAILURE_LIMIT = 3
        device, _codes = enabled
        client.post(LOGIN_URL, {"username": user.email, "password": DEFAULT_PASSWORD})

        statuses = [client.post(CODE_URL, {"code": "123456"}).status_code for _ in range(3)]
        right = client.post(CODE_URL, {"code": code_for(device, timezone.now())})

        assert statuses == [HTTPStatus.OK, HTTPStatus.OK, HTTPStatus.TOO_MANY_REQUESTS]
        assert right.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert "_auth_user_id" not in client.session

    def test_the_code_page_needs_a_right_password_first(self, client):
        assert client.get(CODE_URL).url == LOGIN_URL

    def test_an_old_pending_sign_in_expires(self, client, user, enabled, monkeypatch):
        client.post(LOGIN_URL, {"username": user.email, "password": DEFAULT_PASSWORD})
        session = client.session
        session["two_factor_at"] -= 301
        session.save()

        assert client.post(CODE_URL, {"code": "123456"}).url == LOGIN_URL


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
