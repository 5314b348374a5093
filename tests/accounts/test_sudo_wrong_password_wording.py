"""A wrong sudo password mentions a code only to an account that has one (issue #22)."""

from __future__ import annotations

import pyotp
import pytest
from django.urls import reverse

from accounts import sudo
from accounts.two_factor import two_factor_enable, two_factor_setup_begin

pytestmark = pytest.mark.django_db

NEW_URL = reverse("apitokens:new")
WRONG = {"sudo_password": "not-my-password"}


@pytest.fixture
def stale_client(user_client):
    """Signed in long ago: the sudo window has closed."""
    session = user_client.session
    session[sudo.SESSION_KEY] = 1_000_000.0
    session.save()
    return user_client


def test_without_two_factor_a_wrong_password_says_nothing_of_codes(stale_client):
    content = stale_client.post(NEW_URL, WRONG).content.decode()

    assert "That is not your password. Please try again." in content
    assert "code" not in content.split('id="id_sudo_password_error"')[1].split("</ul>")[0]


def test_with_two_factor_a_wrong_entry_may_have_been_a_code(stale_client, user):
    device = two_factor_setup_begin(user=user)
    two_factor_enable(user=user, code=pyotp.TOTP(device.secret).now())

    content = stale_client.post(NEW_URL, WRONG).content.decode()

    assert "That is not your password (or a current code). Please try again." in content
