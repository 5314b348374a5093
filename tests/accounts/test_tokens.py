from __future__ import annotations

from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils import timezone

from accounts.tokens import EmailVerificationTokenGenerator

pytestmark = pytest.mark.django_db


def generator_at(moment: datetime) -> EmailVerificationTokenGenerator:
    generator = EmailVerificationTokenGenerator()
    generator._now = mock.Mock(return_value=moment)  # the class's own clock seam
    return generator


def test_a_fresh_link_is_accepted(user):
    user.email_verified_at = None
    generator = EmailVerificationTokenGenerator()

    assert generator.check_token(user, generator.make_token(user))


def test_a_link_works_once_verifying_changes_the_state_it_signs(user):
    user.email_verified_at = None
    token = EmailVerificationTokenGenerator().make_token(user)

    user.email_verified_at = timezone.now()

    assert not EmailVerificationTokenGenerator().check_token(user, token)


def test_a_link_for_another_address_is_refused(user):
    user.email_verified_at = None
    token = EmailVerificationTokenGenerator().make_token(user)

    user.email = "someone-else@example.com"

    assert not EmailVerificationTokenGenerator().check_token(user, token)


def test_a_link_expires_after_quickbot_email_verification_seconds(user, settings):
    settings.QUICKBOT_EMAIL_VERIFICATION_SECONDS = 3600
    user.email_verified_at = None
    start = datetime(2026, 12, 1, 12, 0)
    token = generator_at(start).make_token(user)

    assert generator_at(start + timedelta(seconds=3600)).check_token(user, token)
    assert not generator_at(start + timedelta(seconds=3601)).check_token(user, token)


def test_a_password_reset_token_is_not_a_verification_token(user):
    user.email_verified_at = None

    assert not EmailVerificationTokenGenerator().check_token(
        user, default_token_generator.make_token(user)
    )
