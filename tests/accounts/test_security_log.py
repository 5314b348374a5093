"""The account's security log and "sign out everywhere else" (Security page, admin)."""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus

import pyotp
import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountEvent
from accounts.services import email_verification_send
from accounts.two_factor import two_factor_enable, two_factor_setup_begin
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("accounts:login")
SECURITY_URL = reverse("accounts:security")
AGENT = "Mozilla/5.0 (X11; Linux) TestBrowser/1.0"
KIND = AccountEvent.Kind


def kinds(user) -> list[tuple[str, str]]:
    return [(event.kind, event.detail) for event in user.account_events.order_by("id")]


def sign_in(client: Client, user, password: str = DEFAULT_PASSWORD):
    return client.post(
        LOGIN_URL,
        {"username": user.email, "password": password},
        REMOTE_ADDR="203.0.113.5",
        HTTP_USER_AGENT=AGENT,
    )


def test_a_sign_in_is_logged_with_ip_and_browser(client, user):
    sign_in(client, user)

    event = user.account_events.get()
    assert (event.kind, event.detail) == (KIND.SIGNED_IN, "Password")
    assert event.ip == "203.0.113.5"
    assert event.user_agent == AGENT


def test_a_wrong_password_is_logged_for_the_account_only(client, user):
    sign_in(client, user, password="wrong-password-1")
    client.post(LOGIN_URL, {"username": "nobody@example.com", "password": "x" * 12})

    assert kinds(user) == [(KIND.SIGN_IN_FAILED, "Wrong password")]
    assert AccountEvent.objects.count() == 1


def test_sign_ins_with_two_factor_say_which_factor(client, user):
    device = two_factor_setup_begin(user=user)
    codes = two_factor_enable(user=user, code=pyotp.TOTP(device.secret).now())
    later = timezone.now() + timedelta(seconds=30)

    sign_in(client, user)
    client.post(reverse("accounts:login_two_factor"), {"code": "000000"})
    client.post(reverse("accounts:login_two_factor"), {"code": pyotp.TOTP(device.secret).at(later)})
    other = Client()
    sign_in(other, user)
    other.post(reverse("accounts:login_two_factor"), {"code": codes[0]})

    assert kinds(user) == [
        (KIND.SIGN_IN_FAILED, "Right password, wrong two-factor code"),
        (KIND.SIGNED_IN, "Password and authenticator code"),
        (KIND.SIGNED_IN, "Password and recovery code"),
    ]


def test_password_and_two_factor_changes_are_logged(user_client, user):
    new = "quiet-otter-lantern-42"
    user_client.post(
        SECURITY_URL,
        {"old_password": DEFAULT_PASSWORD, "new_password1": new, "new_password2": new},
    )
    user_client.get(reverse("accounts:two_factor_setup"))
    device = user.two_factor
    user_client.post(
        reverse("accounts:two_factor_setup"), {"code": pyotp.TOTP(device.secret).now()}
    )
    user_client.post(reverse("accounts:recovery_codes_regenerate"))
    user_client.post(reverse("accounts:two_factor_off"))

    assert [kind for kind, _detail in kinds(user)] == [
        KIND.PASSWORD_CHANGED,
        KIND.TWO_FACTOR_ON,
        KIND.RECOVERY_CODES,
        KIND.TWO_FACTOR_OFF,
    ]


@pytest.mark.django_db(transaction=True)
def test_a_password_reset_and_an_email_confirmation_are_logged(client):
    site = re.escape(settings.QUICKBOT_SITE_URL.rstrip("/"))
    user = UserFactory(email="ada@example.com")
    client.post(reverse("accounts:password_reset"), {"email": user.email})
    path = re.search(site + r"(/account/password-reset/\S+/)", mail.outbox[0].body).group(1)
    new = "quiet-otter-lantern-42"
    client.post(client.get(path).url, {"new_password1": new, "new_password2": new})
    fresh = UserFactory(email="fresh@example.com", email_verified_at=None)
    email_verification_send(user=fresh)
    link = re.search(site + r"(/account/verify-email/\S+/)", mail.outbox[-1].body).group(1)
    Client().post(link, {"new_password1": new, "new_password2": new})
    Client().post(link, {"new_password1": new, "new_password2": new})  # used: nothing logged

    assert kinds(user) == [(KIND.PASSWORD_RESET, "")]
    assert kinds(fresh) == [
        (KIND.ACCOUNT_CLAIMED, "Password set from the emailed link; all sessions ended")
    ]


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


def test_sessions_from_before_the_feature_stay_valid(client, user):
    """Version 0 keeps Django's own session hash: deploying this signs nobody out."""
    client.force_login(user)
    user.refresh_from_db()

    assert user.sessions_version == 0
    assert client.get(SECURITY_URL).status_code == HTTPStatus.OK


def test_the_security_page_shows_the_owners_events_only(user_client, user, other_user):
    sign_in(Client(), user)
    sign_in(Client(), other_user, password="wrong-password-1")
    other_user.account_events.update(ip="198.51.100.99")

    content = user_client.get(SECURITY_URL).content.decode()

    assert "Security log" in content
    assert "203.0.113.5" in content and "TestBrowser/1.0" in content
    assert "198.51.100.99" not in content


def test_staff_see_the_events_in_the_admin_read_only(client, user):
    staff = UserFactory(is_staff=True, is_superuser=True)
    sign_in(Client(), user)
    client.force_login(staff)

    changelist = client.get(reverse("admin:accounts_accountevent_changelist"))
    event = user.account_events.get()
    detail = client.get(reverse("admin:accounts_accountevent_change", args=[event.pk]))

    assert changelist.status_code == HTTPStatus.OK
    assert user.email in changelist.content.decode()
    assert detail.status_code == HTTPStatus.OK
    assert 'name="_save"' not in detail.content.decode()
    add = client.get(reverse("admin:accounts_accountevent_add"))
    assert add.status_code == HTTPStatus.FORBIDDEN
