"""Two-factor authentication (accounts/two_factor.py): the authenticator code, recovery codes, and
no set-up on an unconfirmed address."""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus

import pyotp
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import sudo
from accounts.models import RecoveryCode, TwoFactor
from accounts.two_factor import (
    EmailNotConfirmed,
    qr_code_svg,
    recovery_codes_issue,
    recovery_codes_left,
    second_factor_verify,
    two_factor_disable,
    two_factor_enable,
    two_factor_enabled,
    two_factor_setup_begin,
)
from tests.accounts.factories import UserFactory

SETUP_URL = reverse("accounts:two_factor_setup")


SECURITY_URL = reverse("accounts:security")


@pytest.mark.django_db(transaction=True)
class TestTwoFactorNeedsAConfirmedAddress:
    def test_the_services_refuse(self):
        account = UserFactory(email_verified_at=None)
        TwoFactor.objects.create(user=account, secret=pyotp.random_base32())

        with pytest.raises(EmailNotConfirmed):
            two_factor_setup_begin(user=account)
        with pytest.raises(EmailNotConfirmed):
            two_factor_enable(user=account, code="000000")
        with pytest.raises(EmailNotConfirmed):
            recovery_codes_issue(user=account)

    def test_the_pages_refuse_before_asking_for_the_password(self):
        account = UserFactory(email_verified_at=None)
        client = Client()
        client.force_login(account)
        session = client.session
        session[sudo.SESSION_KEY] = 1_000_000.0  # sudo expired: the prompt would come first
        session.save()

        setup = client.get(SETUP_URL)
        codes = client.post(reverse("accounts:recovery_codes_regenerate"))
        page = client.get(SECURITY_URL).content.decode()

        assert setup.url == codes.url == SECURITY_URL
        assert not TwoFactor.objects.filter(user=account).exists()
        assert 'id="two-factor-needs-email"' in page
        assert SETUP_URL not in page

    def test_a_confirmed_account_still_sets_it_up(self):
        client = Client()
        client.force_login(UserFactory())

        assert client.get(SETUP_URL).status_code == HTTPStatus.OK


def code_for(device: TwoFactor, moment=None) -> str:
    return pyotp.TOTP(device.secret).at(moment or timezone.now())


@pytest.mark.django_db
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
