"""Signing in and out (accounts/views/signin.py): the login form, `next`, the login limiter, the
two-factor step, logout, and the security log rows a sign-in writes."""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus

import pyotp
import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import sudo
from accounts.models import AccountEvent, TwoFactor
from accounts.two_factor import (
    two_factor_enable,
    two_factor_setup_begin,
)
from tests.accounts.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


LOGIN_URL = reverse("accounts:login")


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


CODE_URL = reverse("accounts:login_two_factor")


def code_for(device: TwoFactor, moment=None) -> str:
    return pyotp.TOTP(device.secret).at(moment or timezone.now())


class TestTwoFactorStep:
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


STRONG = "quiet-otter-lantern-42"


GENERIC_LOGIN_ERROR = "Incorrect email or password."


# Where signing in lands (settings.LOGIN_REDIRECT_URL): API Tokens, what people come for.
LANDING_URL = reverse("apitokens:list")


SECURITY_URL = reverse("accounts:security")


LOGOUT_URL = reverse("accounts:logout")


RESET_URL = reverse("accounts:password_reset")


# Emailed links start with QUICKBOT_SITE_URL, never the request's host.
SITE = re.escape(settings.QUICKBOT_SITE_URL.rstrip("/"))


LINK_PATTERN = SITE + r"(/\S+)"


def is_logged_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def messages_text(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


class TestLogin:
    def test_page_shows_the_form(self, client):
        response = client.get(LOGIN_URL)

        assert response.status_code == HTTPStatus.OK
        assert b'type="email"' in response.content
        assert b"Forgot your password?" in response.content

    def test_correct_login_lands_on_api_tokens(self, client, user):
        response = client.post(LOGIN_URL, {"username": user.email, "password": DEFAULT_PASSWORD})

        assert response.status_code == HTTPStatus.FOUND
        assert response.url == LANDING_URL
        assert is_logged_in(client)

    def test_email_is_case_insensitive(self, client, user):
        client.post(LOGIN_URL, {"username": "  ADA@Example.COM ", "password": DEFAULT_PASSWORD})

        assert is_logged_in(client)

    def test_unknown_account_and_wrong_password_get_the_same_answer(self, client, user):
        unknown = client.post(
            LOGIN_URL, {"username": "nobody@example.com", "password": DEFAULT_PASSWORD}
        )
        wrong = client.post(LOGIN_URL, {"username": user.email, "password": "wrong-pass-1"})

        assert unknown.status_code == wrong.status_code == HTTPStatus.OK
        assert GENERIC_LOGIN_ERROR in unknown.content.decode()
        assert GENERIC_LOGIN_ERROR in wrong.content.decode()
        assert list(unknown.context["form"].non_field_errors()) == list(
            wrong.context["form"].non_field_errors()
        )
        assert not is_logged_in(client)

    def test_inactive_account_gets_the_generic_message(self, client, user):
        user.is_active = False
        user.save()

        response = client.post(LOGIN_URL, {"username": user.email, "password": DEFAULT_PASSWORD})

        assert GENERIC_LOGIN_ERROR in response.content.decode()
        assert not is_logged_in(client)

    def test_next_on_this_site_is_followed(self, client, user):
        response = client.post(
            f"{LOGIN_URL}?next={SECURITY_URL}",
            {"username": user.email, "password": DEFAULT_PASSWORD, "next": SECURITY_URL},
        )

        assert response.url == SECURITY_URL

    def test_next_is_kept_in_the_form(self, client):
        response = client.get(LOGIN_URL, {"next": SECURITY_URL})

        assert f'name="next" value="{SECURITY_URL}"' in response.content.decode()

    @pytest.mark.parametrize(
        "next_url",
        [
            "https://evil.example/phish",
            "//evil.example/phish",
            "http:evil.example",
            "https://testserver.evil.example/",
            "javascript:alert(1)",
            "\\\\evil.example",
        ],
    )
    def test_next_pointing_to_another_host_is_ignored(self, client, user, next_url):
        response = client.post(
            LOGIN_URL,
            {"username": user.email, "password": DEFAULT_PASSWORD, "next": next_url},
        )

        assert response.status_code == HTTPStatus.FOUND
        assert response.url == LANDING_URL

    def test_next_to_another_host_is_not_echoed_into_the_form(self, client):
        response = client.get(LOGIN_URL, {"next": "https://evil.example/"})

        assert b"evil.example" not in response.content

    def test_logged_in_user_is_sent_on(self, user_client):
        assert user_client.get(LOGIN_URL).url == LANDING_URL
        assert user_client.get(LOGIN_URL, {"next": SECURITY_URL}).url == SECURITY_URL


class TestLoginLimiter:
    @pytest.fixture(autouse=True)
    def _limits(self, settings):
        settings.QUICKBOT_LOGIN_FAILURE_LIMIT = 3
        settings.QUICKBOT_LOGIN_LOCKOUT_SECONDS = 900

    def fail(self, client, email, times, ip="203.0.113.5"):
        for _ in range(times):
            response = client.post(
                LOGIN_URL, {"username": email, "password": "wrong-pass-1"}, REMOTE_ADDR=ip
            )
        return response

    def test_repeated_failures_for_an_account_lock_it_even_with_the_right_password(
        self, client, user
    ):
        last = self.fail(client, user.email, 3)
        assert last.status_code == HTTPStatus.TOO_MANY_REQUESTS

        response = client.post(
            LOGIN_URL,
            {"username": user.email, "password": DEFAULT_PASSWORD},
            REMOTE_ADDR="198.51.100.20",
        )

        assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert response["Retry-After"] == "900"
        assert "Too many failed log-in attempts" in response.content.decode()
        assert "15 minutes" in response.content.decode()
        assert not is_logged_in(client)

    def test_repeated_failures_from_one_ip_lock_that_ip_for_every_account(self, client, user):
        for number in range(3):
            self.fail(client, f"guess{number}@example.com", 1, ip="203.0.113.9")

        blocked = client.post(
            LOGIN_URL,
            {"username": user.email, "password": DEFAULT_PASSWORD},
            REMOTE_ADDR="203.0.113.9",
        )
        assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS

        allowed = client.post(
            LOGIN_URL,
            {"username": user.email, "password": DEFAULT_PASSWORD},
            REMOTE_ADDR="203.0.113.10",
        )
        assert allowed.status_code == HTTPStatus.FOUND

    def test_lockout_does_not_reveal_whether_the_account_exists(self, client, user):
        known = self.fail(client, user.email, 3, ip="203.0.113.1")
        unknown = self.fail(client, "nobody@example.com", 3, ip="203.0.113.2")

        assert known.status_code == unknown.status_code == HTTPStatus.TOO_MANY_REQUESTS

    def test_a_successful_login_resets_the_account_counter(self, client, user):
        self.fail(client, user.email, 2, ip="203.0.113.1")
        client.post(
            LOGIN_URL, {"username": user.email, "password": DEFAULT_PASSWORD}, REMOTE_ADDR="1.1.1.1"
        )
        client.logout()

        response = self.fail(client, user.email, 2, ip="203.0.113.2")

        assert response.status_code == HTTPStatus.OK

    @pytest.mark.django_db(transaction=True)
    def test_a_password_reset_clears_the_account_lock(self, client, user):
        self.fail(client, user.email, 3)
        new_password = reset_password_through_email(client, user.email, STRONG)

        response = client.post(
            LOGIN_URL, {"username": user.email, "password": new_password}, REMOTE_ADDR="1.1.1.1"
        )

        assert response.status_code == HTTPStatus.FOUND


class TestLogout:
    def test_post_logs_out_and_lands_on_login_with_a_message(self, user_client):
        response = user_client.post(LOGOUT_URL, follow=True)

        assert response.redirect_chain == [(LOGIN_URL, HTTPStatus.FOUND)]
        assert not is_logged_in(user_client)
        assert "You have been logged out." in messages_text(response)

    def test_get_does_not_log_out_and_answers_405_with_a_log_out_button(self, user_client):
        response = user_client.get(LOGOUT_URL)

        assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
        assert response["Allow"] == "POST"
        assert is_logged_in(user_client)
        content = response.content.decode()
        assert "Log out of QuickBot?" in content
        assert f'<form method="post" action="{LOGOUT_URL}">' in content

    def test_get_when_logged_out_offers_to_log_in(self, client):
        response = client.get(LOGOUT_URL)

        assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
        assert "You are logged out" in response.content.decode()


def reset_password_through_email(client: Client, email: str, new_password: str) -> str:
    """Ask for a reset link, follow it from the email and set `new_password`."""
    mail.outbox.clear()
    client.post(RESET_URL, {"email": email})
    assert len(mail.outbox) == 1
    link = re.search(LINK_PATTERN, mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"]
    set_password_url = form_page.redirect_chain[-1][0]
    client.post(set_password_url, {"new_password1": new_password, "new_password2": new_password})
    return new_password


@pytest.mark.parametrize("url", ["/account/login/", "/account/signup/"])
def test_public_account_pages_answer_head(client, url):
    # HEAD (link checkers, `curl -I`) was refused with 405.
    assert client.head(url).status_code == HTTPStatus.OK
