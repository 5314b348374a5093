"""Actions on accounts (accounts/services.py): sign-up and verification emails, the security log's
rows, taking over an unconfirmed account, and where emails are built and sent."""

from __future__ import annotations

import re
from http import HTTPStatus

import pyotp
import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from accounts import services
from accounts.models import AccountEvent, User
from accounts.services import email_verification_send
from accounts.tokens import email_verification_token_generator
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory

ATTACKER_PASSWORD = "attacker-owns-this-9"


def sign_up(client: Client, email: str, password: str) -> None:
    data = {"email": email, "display_name": "", "password1": password, "password2": password}
    assert client.post(reverse("accounts:signup"), data).status_code == HTTPStatus.FOUND


@pytest.mark.django_db(transaction=True)
def test_the_owner_email_says_what_the_link_does():
    sign_up(Client(), "owner@example.com", ATTACKER_PASSWORD)
    mail.outbox.clear()

    sign_up(Client(), "owner@example.com", "owner-first-try-77")

    body = mail.outbox[0].body
    assert "someone else\ndid with your address" in body
    assert "ignore this email" not in body
    assert DEFAULT_PASSWORD not in body


SECURITY_URL = reverse("accounts:security")


KIND = AccountEvent.Kind


def kinds(user) -> list[tuple[str, str]]:
    return [(event.kind, event.detail) for event in user.account_events.order_by("id")]


@pytest.mark.django_db
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


@pytest.mark.django_db
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


SITE = settings.QUICKBOT_SITE_URL.rstrip("/")


STRONG = "quiet-otter-lantern-42"


def links(body: str) -> list[str]:
    return re.findall(r"https?://\S+", body)


@pytest.mark.django_db(transaction=True)
class TestAccountSignup:
    def test_a_new_address_gets_an_unverified_account_and_a_verification_link(self):
        user = services.account_signup(email="new@example.com", display_name="", password=STRONG)

        assert user is not None and user.email_verified_at is None
        assert user.check_password(STRONG)
        (message,) = mail.outbox
        assert message.to == ["new@example.com"]
        assert message.subject == "Confirm your email address for QuickBot"
        (link,) = links(message.body)
        assert link.startswith(f"{SITE}/account/verify-email/")
        assert "expires in 3 days" in message.body

    def test_a_taken_address_changes_nothing_and_tells_its_owner(self):
        owner = UserFactory(email="ada@example.com", display_name="Ada")

        created = services.account_signup(
            email="ADA@example.com", display_name="Mallory", password=STRONG
        )

        assert created is None
        assert User.objects.count() == 1
        owner.refresh_from_db()
        assert owner.check_password(DEFAULT_PASSWORD)
        assert owner.display_name == "Ada"
        (message,) = mail.outbox
        assert message.to == ["ada@example.com"]
        assert "tried to sign up" in message.subject
        assert links(message.body) == [f"{SITE}/account/login/", f"{SITE}/account/password-reset/"]

    def test_a_taken_unverified_address_also_gets_a_fresh_verification_link(self):
        UserFactory(email="ada@example.com", email_verified_at=None)

        services.account_signup(email="ada@example.com", display_name="", password=STRONG)

        assert any("/account/verify-email/" in link for link in links(mail.outbox[0].body))

    def test_an_inactive_account_gets_no_email(self):
        UserFactory(email="gone@example.com", is_active=False)

        services.account_signup(email="gone@example.com", display_name="", password=STRONG)

        assert mail.outbox == []

    def test_emails_about_one_address_are_limited_to_three_an_hour(self):
        UserFactory(email="ada@example.com")

        for _ in range(5):
            services.account_signup(email="ada@example.com", display_name="", password=STRONG)

        assert len(mail.outbox) == 3


@pytest.mark.django_db(transaction=True)
def test_email_verify_marks_the_address_once():
    user = UserFactory(email_verified_at=None)

    assert services.email_verify(user=user) is True
    assert services.email_verify(user=user) is False
    user.refresh_from_db()
    assert user.email_verified


@pytest.mark.django_db(transaction=True)
def test_verification_link_opens_for_the_account_it_was_made_for():
    user = services.account_signup(email="new@example.com", display_name="", password=STRONG)
    uidb64, token = re.search(r"verify-email/([^/]+)/([^/]+)/", mail.outbox[0].body).groups()

    assert email_verification_token_generator.check_token(user, token)
    assert not email_verification_token_generator.check_token(UserFactory(), token)


@pytest.mark.django_db(transaction=True)
class TestWhereEmailsAreSent:
    """The request never builds or sends an account email: it queues a task, which the task
    worker runs, so the response time cannot tell whether the account existed."""

    def test_reset_and_sign_up_emails_are_built_and_sent_by_the_task_worker(
        self, client, monkeypatch, durable_tasks
    ):
        UserFactory(email="ada@example.com")
        built: list[str] = []
        build = services.templated_message

        def recording_build(**kwargs):
            built.append(kwargs["template"])
            return build(**kwargs)

        monkeypatch.setattr(services, "templated_message", recording_build)

        client.post("/account/password-reset/", {"email": "ada@example.com"})
        client.post(
            "/account/signup/",
            {"email": "ada@example.com", "password1": STRONG, "password2": STRONG},
        )
        assert (built, mail.outbox) == ([], [])

        assert durable_tasks() == 2

        assert sorted(built) == [
            "accounts/email/password_reset_email.txt",
            "accounts/email/signup_existing.txt",
        ]
        assert len(mail.outbox) == 2

    def test_a_queued_task_holds_no_link(self, client, durable_tasks):
        """The links carry secrets: the worker makes them, the task table never holds one."""
        UserFactory(email="ada@example.com", email_verified_at=None)
        client.post("/account/password-reset/", {"email": "ada@example.com"})
        client.post(
            "/account/signup/",
            {"email": "ada@example.com", "password1": STRONG, "password2": STRONG},
        )
        stored = [str(row.args_kwargs) for row in DBTaskResult.objects.all()]
        assert len(stored) == 2
        assert not [text for text in stored if "http" in text or "/account/" in text]

    @pytest.mark.django_db(transaction=False)
    def test_nothing_is_sent_before_the_request_commits(
        self, client, django_capture_on_commit_callbacks
    ):
        UserFactory(email="ada@example.com")

        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            client.post(
                "/account/signup/",
                {"email": "ada@example.com", "password1": STRONG, "password2": STRONG},
            )

        assert mail.outbox == []
        assert len(callbacks) == 1

    @pytest.mark.parametrize("typed", ["ada@example.com", "ADA@Example.com"])
    def test_a_reset_request_does_the_same_work_for_a_known_and_an_unknown_address(
        self, client, durable_tasks, typed
    ):
        """Issue #20, M5: the lookup, the link and the email all happen in the task worker;
        the request only queues the address (one INSERT, known or not)."""
        UserFactory(email="ada@example.com")
        requests: list[list[str]] = []
        for email in (typed, "nobody@example.com"):
            with CaptureQueriesContext(connection) as queries:
                client.post("/account/password-reset/", {"email": email})
            requests.append([query["sql"] for query in queries])

        known, unknown = requests
        assert len(known) == len(unknown)
        assert not [sql for sql in known + unknown if "accounts_" in sql]
        assert [sql.split()[0] for sql in known if "django_tasks_database" in sql] == ["INSERT"]
        assert mail.outbox == []

        with CaptureQueriesContext(connection) as worker_queries:
            assert durable_tasks() == 2

        assert [query for query in worker_queries if "accounts_user" in query["sql"]]
        (message,) = mail.outbox
        assert message.to == ["ada@example.com"]


@pytest.mark.django_db(transaction=True)
def test_links_use_the_site_url_not_the_request_host(client, settings):
    settings.ALLOWED_HOSTS = ["portal.quickbot.example"]
    settings.QUICKBOT_SITE_URL = "https://portal.quickbot.example"
    UserFactory(email="ada@example.com")

    client.post(
        "/account/password-reset/",
        {"email": "ada@example.com"},
        HTTP_HOST="portal.quickbot.example:8443",
    )

    (link,) = links(mail.outbox[0].body)
    assert link.startswith("https://portal.quickbot.example/account/password-reset/")
    assert ":8443" not in mail.outbox[0].body


@pytest.mark.django_db(transaction=True)
def test_the_verification_email_does_not_greet_with_the_chosen_name(client):
    password = "quiet-otter-lantern-42"
    client.post(
        "/account/signup/",
        {
            "email": "someone@example.com",
            "display_name": "Visit evil.example",
            "password1": password,
            "password2": password,
        },
    )
    [message] = mail.outbox
    assert message.body.startswith("Hello,\n")
    assert "evil" not in message.body
