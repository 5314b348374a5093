"""Sign-up pages (accounts/views/signup.py): the form, the emailed confirmation link (where the
address's reader sets the password and takes the account, issue #20 H1), sending a new link, and
the sign-up limiter."""

from __future__ import annotations

import re
from http import HTTPStatus
from unittest import mock

import pyotp
import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountEvent, RecoveryCode, TwoFactor, User
from accounts.services import account_claim
from apitokens.models import SCOPE_READ, SCOPE_WRITE, APIToken, SecurityEvent
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.apitokens.factories import create_token

SITE = re.escape(settings.QUICKBOT_SITE_URL.rstrip("/"))


ATTACKER_PASSWORD = "attacker-owns-this-9"


OWNER_PASSWORD = "owner-chose-this-42"


ME = "/api/v1/me/"


SETUP_URL = reverse("accounts:two_factor_setup")


SECURITY_URL = reverse("accounts:security")


SETTINGS_URL = reverse("accounts:settings")


def sign_up(client: Client, email: str, password: str) -> None:
    data = {"email": email, "display_name": "", "password1": password, "password2": password}
    assert client.post(reverse("accounts:signup"), data).status_code == HTTPStatus.FOUND


def log_in(client: Client, email: str, password: str):
    return client.post(reverse("accounts:login"), {"username": email, "password": password})


def verify_path(message) -> str:
    return re.search(SITE + r"(/account/verify-email/\S+/)", message.body).group(1)


def reset_path(message) -> str:
    return re.search(SITE + r"(/account/password-reset/\S+/)", message.body).group(1)


def set_password(client: Client, path: str, password: str = OWNER_PASSWORD):
    return client.post(path, {"new_password1": password, "new_password2": password})


def api_me(raw: str):
    return Client().get(ME, headers={"Authorization": f"Bearer {raw}"})


def signed_in(client: Client) -> bool:
    return client.get(SETTINGS_URL).status_code == HTTPStatus.OK


def claimant_set_up_before_the_rule(account: User) -> tuple[list[str], list[str]]:
    """What a claimant could hold before this rule: an authenticator, recovery codes and
    tokens (written directly; the services now refuse the first two)."""
    device = TwoFactor.objects.create(
        user=account, secret=pyotp.random_base32(), confirmed_at=timezone.now()
    )
    RecoveryCode.objects.create(user=account, digest="0" * 64)
    assert device.is_enabled
    _, read_value = create_token(account, name="Read", scopes=(SCOPE_READ,))
    _, write_value = create_token(account, name="Write", scopes=(SCOPE_READ, SCOPE_WRITE))
    return [read_value, write_value], [device.secret]


@pytest.mark.django_db(transaction=True)
class TestAttackScenario:
    """Issue #20, H1, step by step."""

    def test_the_address_owner_takes_the_account_from_whoever_signed_up_first(self):
        attacker = Client()
        # 1. The attacker signs up with an address that is not theirs and signs in.
        sign_up(attacker, "owner@example.com", ATTACKER_PASSWORD)
        assert log_in(attacker, "owner@example.com", ATTACKER_PASSWORD).status_code == 302
        account = User.objects.get(email="owner@example.com")
        # 2. Two-factor set-up is refused to an unconfirmed account (no sudo prompt first).
        refused = attacker.get(SETUP_URL, follow=True)
        assert refused.redirect_chain == [(SECURITY_URL, HTTPStatus.FOUND)]
        assert "Confirm your email address first" in refused.content.decode()
        assert attacker.post(SETUP_URL, {"code": "123456"}).url == SECURITY_URL
        assert not TwoFactor.objects.filter(user=account).exists()
        # What a claimant could still hold from before the rule.
        token_values, _ = claimant_set_up_before_the_rule(account)
        assert all(api_me(value).status_code == HTTPStatus.OK for value in token_values)

        # 3. The owner signs up later (another letter case); her email has the link.
        owner = Client()
        mail.outbox.clear()
        sign_up(owner, "Owner@Example.COM", "owner-first-try-77")
        (message,) = mail.outbox
        assert message.to == ["owner@example.com"]
        path = verify_path(message)
        page = owner.get(path)
        assert page.status_code == HTTPStatus.OK
        assert 'id="claim-notice"' in page.content.decode()
        # Opening the page changes nothing: the attacker is still signed in.
        assert signed_in(attacker)
        done = set_password(owner, path)
        assert done.url == reverse("accounts:login")

        # 4. Everything the attacker had is gone.
        assert not signed_in(attacker)
        assert all(api_me(value).status_code == HTTPStatus.UNAUTHORIZED for value in token_values)
        assert not TwoFactor.objects.filter(user=account).exists()
        assert not RecoveryCode.objects.filter(user=account).exists()
        assert not APIToken.objects.filter(owner=account).active().exists()
        reasons = APIToken.objects.filter(owner=account).values_list("revoked_reason", flat=True)
        assert set(reasons) == {APIToken.RevokedBy.CLAIMED}
        # Her password signs her in at once, without anyone's authenticator code.
        assert log_in(owner, "owner@example.com", OWNER_PASSWORD).url == reverse("apitokens:list")
        assert log_in(Client(), "owner@example.com", ATTACKER_PASSWORD).status_code == 200
        account.refresh_from_db()
        assert account.email_verified

        claimed = account.account_events.get(kind=AccountEvent.Kind.ACCOUNT_CLAIMED)
        assert claimed.detail == (
            "Password set from the emailed link; all sessions ended, two-factor removed, "
            "2 API tokens deleted"
        )
        assert claimed.ip == "127.0.0.1"
        deleted = SecurityEvent.objects.filter(account=account, kind=SecurityEvent.Kind.DELETED)
        assert deleted.count() == 2
        assert {event.actor_kind for event in deleted} == {SecurityEvent.Actor.SYSTEM}

    def test_a_password_reset_of_an_unconfirmed_account_is_the_same_take_over(self):
        """The finding's step 4: the owner resets her password instead of using the link."""
        attacker = Client()
        sign_up(attacker, "owner@example.com", ATTACKER_PASSWORD)
        log_in(attacker, "owner@example.com", ATTACKER_PASSWORD)
        account = User.objects.get(email="owner@example.com")
        token_values, _ = claimant_set_up_before_the_rule(account)
        owner = Client()
        mail.outbox.clear()

        owner.post(reverse("accounts:password_reset"), {"email": "OWNER@example.com"})
        page = owner.get(owner.get(reset_path(mail.outbox[0])).url)
        assert 'id="claim-notice"' in page.content.decode()
        done = set_password(owner, page.wsgi_request.path)

        assert done.url == reverse("accounts:password_reset_complete")
        assert not signed_in(attacker)
        assert all(api_me(value).status_code == HTTPStatus.UNAUTHORIZED for value in token_values)
        assert not TwoFactor.objects.filter(user=account).exists()
        assert log_in(owner, "owner@example.com", OWNER_PASSWORD).url == reverse("apitokens:list")
        assert [event.kind for event in account.account_events.all()] == [
            AccountEvent.Kind.SIGNED_IN,
            AccountEvent.Kind.ACCOUNT_CLAIMED,
            AccountEvent.Kind.SIGNED_IN,
        ]

    def test_the_attacker_changing_the_password_first_does_not_stop_the_owner(self):
        attacker = Client()
        sign_up(attacker, "owner@example.com", ATTACKER_PASSWORD)
        log_in(attacker, "owner@example.com", ATTACKER_PASSWORD)
        mail.outbox.clear()
        sign_up(Client(), "owner@example.com", "owner-first-try-77")
        path = verify_path(mail.outbox[0])
        changed = "attacker-changed-it-5"
        attacker.post(
            SECURITY_URL,
            {
                "old_password": ATTACKER_PASSWORD,
                "new_password1": changed,
                "new_password2": changed,
            },
        )

        assert set_password(Client(), path).status_code == HTTPStatus.FOUND
        assert not signed_in(attacker)
        assert Client().login(username="owner@example.com", password=OWNER_PASSWORD)


@pytest.mark.django_db(transaction=True)
class TestTheLink:
    def test_the_owner_own_sign_up_link_also_takes_the_account_fresh(self):
        """Whoever reads the mail holds the link, so every confirmation is a take-over."""
        first = Client()
        sign_up(first, "ada@example.com", ATTACKER_PASSWORD)
        log_in(first, "ada@example.com", ATTACKER_PASSWORD)
        path = verify_path(mail.outbox[0])

        set_password(first, path)

        assert not signed_in(first)
        assert Client().login(username="ada@example.com", password=OWNER_PASSWORD)

    def test_two_tabs_only_the_first_submit_counts(self):
        sign_up(Client(), "ada@example.com", ATTACKER_PASSWORD)
        path = verify_path(mail.outbox[0])
        tab_one, tab_two = Client(), Client()
        assert tab_one.get(path).status_code == tab_two.get(path).status_code == HTTPStatus.OK

        first = set_password(tab_one, path)
        second = set_password(tab_two, path, password="second-tab-password-8")

        assert first.status_code == HTTPStatus.FOUND
        assert second.status_code == HTTPStatus.BAD_REQUEST
        assert Client().login(username="ada@example.com", password=OWNER_PASSWORD)
        account = User.objects.get(email="ada@example.com")
        assert account.account_events.filter(kind=AccountEvent.Kind.ACCOUNT_CLAIMED).count() == 1

    def test_the_service_claims_once(self):
        account = UserFactory(email_verified_at=None)

        assert account_claim(user=account, password=OWNER_PASSWORD)
        assert not account_claim(user=User.objects.get(pk=account.pk), password="later-pass-11")

        account.refresh_from_db()
        assert account.check_password(OWNER_PASSWORD)

    def test_the_password_is_posted_with_a_csrf_token(self):
        sign_up(Client(), "ada@example.com", ATTACKER_PASSWORD)
        path = verify_path(mail.outbox[0])

        forged = set_password(Client(enforce_csrf_checks=True), path)

        assert forged.status_code == HTTPStatus.FORBIDDEN
        assert not User.objects.get(email="ada@example.com").email_verified

    def test_a_link_for_a_confirmed_account_does_nothing(self):
        account = UserFactory(email="ada@example.com", email_verified_at=None)
        client = Client()
        client.force_login(account)
        client.post(reverse("accounts:verification_resend"))
        path = verify_path(mail.outbox[0])
        set_password(Client(), path)
        account.refresh_from_db()
        token, value = create_token(account)

        again = set_password(Client(), path, password="another-owner-pass-3")

        assert again.status_code == HTTPStatus.BAD_REQUEST
        assert api_me(value).status_code == HTTPStatus.OK
        assert Client().login(username="ada@example.com", password=OWNER_PASSWORD)


STRONG = "quiet-otter-lantern-42"


SIGNUP_URL = reverse("accounts:signup")


SIGNUP_DONE_URL = reverse("accounts:signup_done")


# Where signing in lands (settings.LOGIN_REDIRECT_URL): API Tokens, what people come for.
LANDING_URL = reverse("apitokens:list")


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


@pytest.mark.django_db
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


RESEND_URL = reverse("accounts:verification_resend")


def signup(client: Client, email: str = "new@example.com", **extra):
    data = {"email": email, "display_name": "", "password1": STRONG, "password2": STRONG}
    return client.post(SIGNUP_URL, data, **extra)


def emailed_path(message) -> str:
    return re.search(SITE + r"(/account/verify-email/\S+/)", message.body).group(1)


NEW = "amber-kettle-harbour-77"


def claim(client: Client, path: str, password: str = NEW):
    return client.post(path, {"new_password1": password, "new_password2": password})


@pytest.mark.django_db(transaction=True)
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


@pytest.mark.django_db(transaction=True)
def test_opening_the_link_confirms_nothing_until_the_password_is_set(client):
    signup(client)
    path = emailed_path(mail.outbox[0])

    client.get(path)
    client.get(path)
    weak = client.post(path, {"new_password1": "short", "new_password2": "short"})

    assert weak.status_code == HTTPStatus.OK
    assert not User.objects.get(email="new@example.com").email_verified


@pytest.mark.django_db(transaction=True)
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


@pytest.mark.django_db(transaction=True)
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


@pytest.mark.django_db(transaction=True)
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


@pytest.mark.django_db(transaction=True)
def test_resend_is_limited_and_says_so(client):
    user = UserFactory(email_verified_at=None)
    client.force_login(user)

    responses = [client.post(RESEND_URL, follow=True) for _ in range(4)]

    assert len(mail.outbox) == 3
    assert "already sent several links" in responses[-1].content.decode()


@pytest.mark.django_db(transaction=True)
def test_resend_needs_a_post_and_a_session(client):
    assert client.post(RESEND_URL).status_code == HTTPStatus.FOUND  # to the login page
    client.force_login(UserFactory(email_verified_at=None))
    assert client.get(RESEND_URL).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_a_verified_account_gets_no_new_link(client):
    client.force_login(UserFactory())

    response = client.post(RESEND_URL, follow=True)

    assert mail.outbox == []
    assert "already confirmed" in response.content.decode()


@pytest.mark.django_db(transaction=True)
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
