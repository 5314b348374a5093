"""Password reset pages (accounts/views/password_reset.py): the emailed link end to end, its limits,
and a reset that takes over an unconfirmed account or keeps a confirmed one's set-up."""

from __future__ import annotations

import re
from http import HTTPStatus

import pyotp
import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.http import urlsafe_base64_encode

from accounts.models import AccountEvent, TwoFactor
from accounts.two_factor import (
    two_factor_enable,
    two_factor_setup_begin,
)
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.apitokens.factories import create_token

SITE = re.escape(settings.QUICKBOT_SITE_URL.rstrip("/"))


OWNER_PASSWORD = "owner-chose-this-42"


ME = "/api/v1/me/"


def reset_path(message) -> str:
    return re.search(SITE + r"(/account/password-reset/\S+/)", message.body).group(1)


def set_password(client: Client, path: str, password: str = OWNER_PASSWORD):
    return client.post(path, {"new_password1": password, "new_password2": password})


def api_me(raw: str):
    return Client().get(ME, headers={"Authorization": f"Bearer {raw}"})


@pytest.mark.django_db(transaction=True)
class TestConfirmedAccountsKeepWhatTheySetUp:
    def test_a_password_reset_of_a_confirmed_account_keeps_two_factor_and_tokens(self):
        account = UserFactory(email="ada@example.com")
        device = two_factor_setup_begin(user=account)
        two_factor_enable(user=account, code=pyotp.TOTP(device.secret).now())
        _, value = create_token(account)
        client = Client()
        mail.outbox.clear()
        client.post(reverse("accounts:password_reset"), {"email": account.email})
        set_password(client, client.get(reset_path(mail.outbox[0])).url)

        assert TwoFactor.objects.filter(user=account, confirmed_at__isnull=False).exists()
        assert api_me(value).status_code == HTTPStatus.OK
        assert not account.account_events.filter(kind=AccountEvent.Kind.ACCOUNT_CLAIMED).exists()


STRONG = "quiet-otter-lantern-42"


LOGIN_URL = reverse("accounts:login")


# Where signing in lands (settings.LOGIN_REDIRECT_URL): API Tokens, what people come for.
LANDING_URL = reverse("apitokens:list")


RESET_URL = reverse("accounts:password_reset")


LINK_PATTERN = SITE + r"(/\S+)"


@pytest.mark.django_db
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


@pytest.mark.django_db
@pytest.mark.parametrize(
    "uid_text", ["99999999999999999999999999", "-1", "abc", "1\x00", "", "1e5"]
)
def test_odd_reset_link_ids_show_the_expired_page(client, uid_text):
    uidb64 = urlsafe_base64_encode(uid_text.encode()) or "AA"
    url = reverse("accounts:password_reset_confirm", kwargs={"uidb64": uidb64, "token": "x-y"})

    response = client.get(url)

    assert response.status_code == HTTPStatus.OK
    assert "This link no longer works" in response.content.decode()


@pytest.mark.django_db
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


@pytest.mark.django_db
@pytest.mark.django_db(transaction=True)
def test_password_reset_limit_is_per_address(client, user, other_user):
    for _ in range(4):
        client.post(RESET_URL, {"email": user.email})
    client.post(RESET_URL, {"email": other_user.email})

    assert [message.to for message in mail.outbox].count([other_user.email]) == 1


@pytest.mark.django_db(transaction=True)
def test_a_password_reset_also_verifies_the_address(client):
    user = UserFactory(email="ada@example.com", email_verified_at=None)
    client.post(reverse("accounts:password_reset"), {"email": user.email})
    path = re.search(SITE + r"(/account/password-reset/\S+/)", mail.outbox[0].body).group(1)
    set_password_url = client.get(path).url

    client.post(set_password_url, {"new_password1": STRONG, "new_password2": STRONG})

    user.refresh_from_db()
    assert user.email_verified
