"""Sign-up limiter, the verification link and its resend (accounts/views/signup.py)."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

STRONG = "quiet-otter-lantern-42"
SITE = re.escape(settings.QUICKBOT_SITE_URL.rstrip("/"))
SIGNUP_URL = reverse("accounts:signup")
RESEND_URL = reverse("accounts:verification_resend")


def signup(client: Client, email: str = "new@example.com", **extra):
    data = {"email": email, "display_name": "", "password1": STRONG, "password2": STRONG}
    return client.post(SIGNUP_URL, data, **extra)


def emailed_path(message) -> str:
    return re.search(SITE + r"(/account/verify-email/\S+/)", message.body).group(1)


NEW = "amber-kettle-harbour-77"


def claim(client: Client, path: str, password: str = NEW):
    return client.post(path, {"new_password1": password, "new_password2": password})


def test_sign_up_verify_through_the_emailed_link_then_log_in(client):
    signup(client)
    path = emailed_path(mail.outbox[0])

    page = client.get(path)
    response = client.post(path, {"new_password1": NEW, "new_password2": NEW}, follow=True)

    assert page.status_code == HTTPStatus.OK
    assert "Confirm and set password" in page.content.decode()
    assert response.redirect_chain == [(reverse("accounts:login"), HTTPStatus.FOUND)]
    assert "new@example.com is confirmed" in response.content.decode()
    assert User.objects.get(email="new@example.com").email_verified
    logged_in = client.post(
        reverse("accounts:login"), {"username": "new@example.com", "password": NEW}
    )
    assert logged_in.url == reverse("apitokens:list")  # what people come for


def test_opening_the_link_confirms_nothing_until_the_password_is_set(client):
    signup(client)
    path = emailed_path(mail.outbox[0])

    client.get(path)
    client.get(path)
    weak = client.post(path, {"new_password1": "short", "new_password2": "short"})

    assert weak.status_code == HTTPStatus.OK
    assert not User.objects.get(email="new@example.com").email_verified


def test_the_link_works_once(client):
    signup(client)
    path = emailed_path(mail.outbox[0])
    claim(client, path)

    again = Client().get(path)
    again_post = claim(Client(), path, password="another-quiet-pass-31")

    assert again.status_code == HTTPStatus.BAD_REQUEST
    assert "This link no longer works" in again.content.decode()
    assert again_post.status_code == HTTPStatus.BAD_REQUEST
    assert Client().login(username="new@example.com", password=NEW)


@pytest.mark.parametrize(
    "path",
    [
        "/account/verify-email/zzz/bad-token/",
        "/account/verify-email/MQ/1-abc/",
        "/account/verify-email/%00/x/",
        "/account/verify-email/OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5/x-y/",
    ],
)
def test_a_bad_link_is_a_clear_page_not_an_error(client, path):
    response = client.get(path)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "This link no longer works" in response.content.decode()


def test_a_signed_in_unverified_account_can_resend_the_link(client):
    user = UserFactory(email_verified_at=None)
    client.force_login(user)

    response = client.post(RESEND_URL, {"next": "/account/tokens/"})

    assert response.url == "/account/tokens/"
    (message,) = mail.outbox
    assert message.to == [user.email]
    assert claim(client, emailed_path(message)).status_code == HTTPStatus.FOUND
    user.refresh_from_db()
    assert user.email_verified
    # Confirming ended every session of the account, this one included.
    assert "_auth_user_id" not in client.session


def test_resend_is_limited_and_says_so(client):
    user = UserFactory(email_verified_at=None)
    client.force_login(user)

    responses = [client.post(RESEND_URL, follow=True) for _ in range(4)]

    assert len(mail.outbox) == 3
    assert "already sent several links" in responses[-1].content.decode()


def test_resend_needs_a_post_and_a_session(client):
    assert client.post(RESEND_URL).status_code == HTTPStatus.FOUND  # to the login page
    client.force_login(UserFactory(email_verified_at=None))
    assert client.get(RESEND_URL).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert mail.outbox == []


def test_a_verified_account_gets_no_new_link(client):
    client.force_login(UserFactory())

    response = client.post(RESEND_URL, follow=True)

    assert mail.outbox == []
    assert "already confirmed" in response.content.decode()


def test_a_password_reset_also_verifies_the_address(client):
    user = UserFactory(email="ada@example.com", email_verified_at=None)
    client.post(reverse("accounts:password_reset"), {"email": user.email})
    path = re.search(SITE + r"(/account/password-reset/\S+/)", mail.outbox[0].body).group(1)
    set_password_url = client.get(path).url

    client.post(set_password_url, {"new_password1": STRONG, "new_password2": STRONG})

    user.refresh_from_db()
    assert user.email_verified


class TestSignupLimiter:
    def test_sign_up_is_paused_per_ip_after_the_limit(self, client, settings):
        settings.QUICKBOT_SIGNUP_LIMIT = 2
        for index in range(2):
            signup(client, f"n{index}@example.com", REMOTE_ADDR="198.51.100.7")

        response = signup(client, "third@example.com", REMOTE_ADDR="198.51.100.7")

        assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert int(response["Retry-After"]) == settings.QUICKBOT_SIGNUP_WINDOW_SECONDS
        assert "signing up is paused" in response.content.decode()
        assert not User.objects.filter(email="third@example.com").exists()

    def test_invalid_attempts_count_too(self, client, settings):
        settings.QUICKBOT_SIGNUP_LIMIT = 2
        for _ in range(2):
            client.post(SIGNUP_URL, {"email": "x"}, REMOTE_ADDR="198.51.100.7")

        response = signup(client, REMOTE_ADDR="198.51.100.7")

        assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS

    def test_another_ip_is_not_paused(self, client, settings):
        settings.QUICKBOT_SIGNUP_LIMIT = 1
        signup(client, "a@example.com", REMOTE_ADDR="198.51.100.7")
        signup(client, "b@example.com", REMOTE_ADDR="198.51.100.7")

        response = signup(client, "c@example.com", REMOTE_ADDR="203.0.113.9")

        assert response.status_code == HTTPStatus.FOUND
        assert User.objects.filter(email="c@example.com").exists()


def test_createsuperuser_accounts_count_as_verified():
    root = User.objects.create_superuser("root@example.com", DEFAULT_PASSWORD)

    assert root.email_verified
