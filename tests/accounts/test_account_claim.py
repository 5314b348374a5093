"""An unconfirmed account is only a claim on its address: whoever reads the address's mail
takes it fresh through the emailed link (issue #20, H1)."""

from __future__ import annotations

import re
from http import HTTPStatus

import pyotp
import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import sudo
from accounts.models import AccountEvent, RecoveryCode, TwoFactor, User
from accounts.services import account_claim
from accounts.two_factor import (
    EmailNotConfirmed,
    recovery_codes_issue,
    two_factor_enable,
    two_factor_setup_begin,
)
from apitokens.models import SCOPE_READ, SCOPE_WRITE, APIToken, SecurityEvent
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db(transaction=True)

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


def test_the_owner_email_says_what_the_link_does():
    sign_up(Client(), "owner@example.com", ATTACKER_PASSWORD)
    mail.outbox.clear()

    sign_up(Client(), "owner@example.com", "owner-first-try-77")

    body = mail.outbox[0].body
    assert "someone else\ndid with your address" in body
    assert "ignore this email" not in body
    assert DEFAULT_PASSWORD not in body
