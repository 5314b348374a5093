from __future__ import annotations

import re
from http import HTTPStatus
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "quiet-otter-lantern-42"
GENERIC_LOGIN_ERROR = "Incorrect email or password."
LOGIN_URL = reverse("accounts:login")
SIGNUP_URL = reverse("accounts:signup")
SIGNUP_DONE_URL = reverse("accounts:signup_done")
SETTINGS_URL = reverse("accounts:settings")
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


class TestSignup:
    def test_page_shows_the_form(self, client):
        response = client.get(SIGNUP_URL)

        assert response.status_code == HTTPStatus.OK
        assert b'name="email"' in response.content
        assert b'name="password1"' in response.content
        assert b"csrfmiddlewaretoken" in response.content

    def test_signup_creates_an_unverified_account_and_asks_to_check_email(self, client):
        response = client.post(SIGNUP_URL, signup_data(), follow=True)

        assert response.redirect_chain == [(SIGNUP_DONE_URL, HTTPStatus.FOUND)]
        assert not is_logged_in(client)
        assert "Check your email" in response.content.decode()
        assert "new@example.com" in response.content.decode()
        account = User.objects.get(email="new@example.com")
        assert account.email_verified_at is None
        assert account.check_password(STRONG)

    @pytest.mark.parametrize("email", ["ADA@EXAMPLE.COM", "ada@example.com", "Ada@Example.Com"])
    def test_a_taken_email_in_any_case_gets_the_same_answer_and_changes_nothing(
        self, client, user, email
    ):
        response = client.post(SIGNUP_URL, signup_data(email=email), follow=True)

        assert response.redirect_chain == [(SIGNUP_DONE_URL, HTTPStatus.FOUND)]
        assert "already exists" not in response.content.decode()
        assert User.objects.count() == 1
        user.refresh_from_db()
        assert user.check_password(DEFAULT_PASSWORD)
        assert not is_logged_in(client)

    def test_new_and_taken_addresses_get_byte_identical_pages(self, client, user):
        new = client.post(SIGNUP_URL, signup_data(email="x@example.com"), follow=True)
        Client().post(SIGNUP_URL, signup_data(email=user.email), follow=True)
        other = Client()
        taken = other.post(SIGNUP_URL, signup_data(email=user.email), follow=True)

        strip = re.compile(rb"(X-CSRFToken\": \"|csrfmiddlewaretoken\" value=\"|nonce=\")[^\"]+")
        new_page = strip.sub(b"", new.content).replace(b"x@example.com", b"EMAIL")
        taken_page = strip.sub(b"", taken.content).replace(user.email.encode(), b"EMAIL")
        assert new_page == taken_page

    def test_a_simultaneous_duplicate_refused_by_the_database_gets_the_same_answer(self, client):
        with mock.patch(
            "accounts.services.User.objects.create_user", side_effect=IntegrityError("dup")
        ):
            response = client.post(SIGNUP_URL, signup_data())

        assert response.status_code == HTTPStatus.FOUND
        assert response.url == SIGNUP_DONE_URL

    def test_weak_password_is_refused_with_the_reason_next_to_the_field(self, client):
        response = client.post(SIGNUP_URL, signup_data(password1="abc123", password2="abc123"))

        content = response.content.decode()
        assert response.status_code == HTTPStatus.OK
        assert 'id="id_password1_error"' in content
        assert "This password is too short" in content
        assert not User.objects.exists()

    def test_mismatching_passwords_are_refused(self, client):
        response = client.post(SIGNUP_URL, signup_data(password2="something-else-42"))

        assert "The two passwords don&#x27;t match" in response.content.decode()
        assert not User.objects.exists()

    def test_bad_email_is_refused(self, client):
        response = client.post(SIGNUP_URL, signup_data(email="not an email"))

        assert 'id="id_email_error"' in response.content.decode()
        assert not User.objects.exists()

    def test_over_long_fields_are_refused(self, client):
        response = client.post(
            SIGNUP_URL, signup_data(email="a" * 300 + "@example.com", display_name="n" * 81)
        )

        content = response.content.decode()
        assert response.status_code == HTTPStatus.OK
        assert "Ensure this value has at most 254 characters" in content
        assert "Ensure this value has at most 80 characters" in content
        assert not User.objects.exists()

    def test_logged_in_user_is_sent_to_api_tokens(self, user_client):
        assert user_client.get(SIGNUP_URL).url == LANDING_URL


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


class TestCsrf:
    @pytest.mark.parametrize(
        ("url", "data"),
        [
            (LOGIN_URL, {"username": "ada@example.com", "password": DEFAULT_PASSWORD}),
            (SIGNUP_URL, signup_data()),
            (LOGOUT_URL, {}),
            (RESET_URL, {"email": "ada@example.com"}),
        ],
    )
    def test_a_form_without_its_csrf_token_gets_a_403_page_that_explains(self, user, url, data):
        client = Client(enforce_csrf_checks=True)

        response = client.post(url, data)

        assert response.status_code == HTTPStatus.FORBIDDEN
        content = response.content.decode()
        assert "This form has expired" in content
        assert "reload the page and try again" in content
        assert not is_logged_in(client)

    def test_logout_without_csrf_token_keeps_the_session(self, user):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)

        response = client.post(LOGOUT_URL)

        assert response.status_code == HTTPStatus.FORBIDDEN
        assert is_logged_in(client)

    def test_profile_change_without_csrf_token_changes_nothing(self, user):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)

        response = client.post(SETTINGS_URL, {"display_name": "Hijacked"})

        assert response.status_code == HTTPStatus.FORBIDDEN
        user.refresh_from_db()
        assert user.display_name == "Ada Lovelace"


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


@pytest.mark.django_db(transaction=True)
class TestPasswordReset:
    def test_reset_link_works_end_to_end(self, client, user):
        response = client.post(RESET_URL, {"email": "ADA@example.com"}, follow=True)

        assert response.redirect_chain[-1][0] == reverse("accounts:password_reset_done")
        assert "Check your email" in response.content.decode()
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["ada@example.com"]
        assert message.subject == "Reset your QuickBot password"
        assert "expires in 3 days" in message.body
        link = re.search(SITE + r"(/account/password-reset/\S+/)", message.body).group(1)

        confirm = client.get(link, follow=True)
        assert confirm.status_code == HTTPStatus.OK
        assert "Choose a new password" in confirm.content.decode()
        set_password_url = confirm.redirect_chain[-1][0]
        assert "set-password" in set_password_url

        done = client.post(
            set_password_url, {"new_password1": STRONG, "new_password2": STRONG}, follow=True
        )
        assert done.redirect_chain[-1][0] == reverse("accounts:password_reset_complete")
        user.refresh_from_db()
        assert user.check_password(STRONG)

        assert client.post(LOGIN_URL, {"username": user.email, "password": STRONG}).url == (
            LANDING_URL
        )

    def test_a_used_link_no_longer_works(self, client, user):
        client.post(RESET_URL, {"email": user.email})
        link = re.search(LINK_PATTERN, mail.outbox[0].body).group(1)
        set_password_url = client.get(link).url
        client.post(set_password_url, {"new_password1": STRONG, "new_password2": STRONG})

        response = Client().get(link)

        assert response.status_code == HTTPStatus.OK
        assert "This link no longer works" in response.content.decode()
        assert response.context["form"] is None

    def test_a_tampered_link_shows_the_expired_page(self, client, user):
        response = client.get(
            reverse(
                "accounts:password_reset_confirm", kwargs={"uidb64": "zzz", "token": "bad-token"}
            )
        )

        assert response.status_code == HTTPStatus.OK
        assert "This link no longer works" in response.content.decode()

    def test_unknown_email_gets_the_same_page_and_no_email(self, client):
        response = client.post(RESET_URL, {"email": "nobody@example.com"}, follow=True)

        assert "Check your email" in response.content.decode()
        assert mail.outbox == []

    def test_weak_new_password_is_refused(self, client, user):
        client.post(RESET_URL, {"email": user.email})
        link = re.search(LINK_PATTERN, mail.outbox[0].body).group(1)
        set_password_url = client.get(link).url

        response = client.post(set_password_url, {"new_password1": "123", "new_password2": "123"})

        assert response.status_code == HTTPStatus.OK
        assert "This password is too short" in response.content.decode()
        user.refresh_from_db()
        assert user.check_password(DEFAULT_PASSWORD)

    def test_bad_email_is_refused(self, client):
        response = client.post(RESET_URL, {"email": "not-an-email"})

        assert response.status_code == HTTPStatus.OK
        assert "Enter a valid email address." in response.content.decode()

    def test_display_name_is_not_in_the_email(self, client):
        # A reset mail goes to the address, whoever chose the account's display name.
        UserFactory(email="amp@example.com", display_name="Tom & Jerry")

        client.post(RESET_URL, {"email": "amp@example.com"})

        assert mail.outbox[0].body.startswith("Hello,\n")
        assert "Jerry" not in mail.outbox[0].body


WEIRD_VALUES = [
    "",
    " ",
    "\x00",
    "a\x00b@example.com",
    "x" * 10_000,
    "💥@example.com",
    "ada@exämple.com",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%s%s%s",
]


@pytest.mark.parametrize("value", WEIRD_VALUES)
def test_no_input_makes_a_form_fail_with_a_server_error(client, user, value):
    anonymous_posts = [
        (LOGIN_URL, {"username": value, "password": value, "next": value}),
        (
            SIGNUP_URL,
            {"email": value, "display_name": value, "password1": value, "password2": value},
        ),
        (RESET_URL, {"email": value}),
    ]
    for url, data in anonymous_posts:
        assert client.post(url, data).status_code < 500, url
    assert client.get(LOGIN_URL, {"next": value}).status_code < 500

    client.force_login(user)
    logged_in_posts = [
        (SETTINGS_URL, {"display_name": value}),
        (SECURITY_URL, {"old_password": value, "new_password1": value, "new_password2": value}),
    ]
    for url, data in logged_in_posts:
        assert client.post(url, data).status_code < 500, url


def test_list_values_in_form_fields_do_not_cause_a_server_error(client):
    response = client.post(LOGIN_URL, {"username": ["a@example.com", "b@example.com"]})

    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    "uid_text", ["99999999999999999999999999", "-1", "abc", "1\x00", "", "1e5"]
)
def test_odd_reset_link_ids_show_the_expired_page(client, uid_text):
    uidb64 = urlsafe_base64_encode(uid_text.encode()) or "AA"
    url = reverse("accounts:password_reset_confirm", kwargs={"uidb64": uidb64, "token": "x-y"})

    response = client.get(url)

    assert response.status_code == HTTPStatus.OK
    assert "This link no longer works" in response.content.decode()


@pytest.mark.parametrize("url", ["/account/login/", "/account/signup/"])
def test_public_account_pages_answer_head(client, url):
    # HEAD (link checkers, `curl -I`) was refused with 405.
    assert client.head(url).status_code == HTTPStatus.OK


@pytest.mark.parametrize("url", ["/account/", "/account/security/"])
def test_settings_pages_answer_head(user_client, url):
    assert user_client.head(url).status_code == HTTPStatus.OK


@pytest.mark.django_db(transaction=True)
def test_password_reset_emails_per_address_are_limited(client, user):
    # Anyone could make QuickBot send an unlimited stream of reset emails to an address
    # (15 requests, 15 emails). The page must stay the same, so nobody learns the limit
    # or whether the account exists.
    responses = [client.post(RESET_URL, {"email": "ADA@example.com"}) for _ in range(6)]

    assert len(mail.outbox) == 3
    assert all(response.status_code == HTTPStatus.FOUND for response in responses)
    assert {response["Location"] for response in responses} == {
        reverse("accounts:password_reset_done")
    }


@pytest.mark.django_db(transaction=True)
def test_password_reset_limit_is_per_address(client, user, other_user):
    for _ in range(4):
        client.post(RESET_URL, {"email": user.email})
    client.post(RESET_URL, {"email": other_user.email})

    assert [message.to for message in mail.outbox].count([other_user.email]) == 1
