"""`make run` prints e-mail in its terminal; each message's links are printed whole after it,
and every printed link opens the page it promises (issue #22)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from django.urls import reverse

from common.console_mail import LINKS_HEADING, STARTUP_LINE, EmailBackend, message_links
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-password-42"
BROKEN_LINK_PAGE = "This link no longer works"


@pytest.fixture
def terminal(settings) -> io.StringIO:
    """What the development console would show: the default mailer writes here."""
    stream = io.StringIO()
    settings.MAILERS = {
        "default": {"BACKEND": "common.console_mail.EmailBackend", "OPTIONS": {"stream": stream}}
    }
    return stream


def printed_links(output: str) -> list[list[str]]:
    """The links printed under each "Links in this e-mail:" heading, one list per message."""
    blocks = []
    for block in output.split(LINKS_HEADING + "\n")[1:]:
        lines = block.split("\n")
        blocks.append(lines[: next(i for i, line in enumerate(lines) if line.startswith("---"))])
    return blocks


def open_link(link: str) -> str:
    """GET a printed link as a new browser would; the final page's HTML."""
    site = urlsplit(django_settings.QUICKBOT_SITE_URL)
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc) == (site.scheme, site.netloc), link
    response = Client().get(parts.path, follow=True)
    assert response.status_code == HTTPStatus.OK, link
    return response.content.decode()


def sign_up(client: Client, email: str) -> None:
    data = {"email": email, "display_name": "", "password1": PASSWORD, "password2": PASSWORD}
    assert client.post(reverse("accounts:signup"), data).status_code == HTTPStatus.FOUND


def test_the_sign_up_confirmation_link_printed_opens_the_claim_page(client, terminal):
    sign_up(client, "new@example.com")

    output = terminal.getvalue()
    # The message itself is quoted-printable: its link is not one copyable line.
    assert "=\n" in output
    [links] = printed_links(output)
    [verify_link] = links
    assert "/account/verify-email/" in verify_link
    page = open_link(verify_link)
    assert "Confirm your address" in page
    assert BROKEN_LINK_PAGE not in page


def test_the_someone_tried_to_sign_up_links_printed_open_their_pages(client, terminal):
    UserFactory(email="taken@example.com", email_verified_at=None)

    sign_up(client, "taken@example.com")

    [links] = printed_links(terminal.getvalue())
    login, reset, verify = links
    assert "Log in to QuickBot" in open_link(login)
    assert "Reset your password" in open_link(reset)
    page = open_link(verify)
    assert "Confirm your address" in page
    assert BROKEN_LINK_PAGE not in page


def test_the_password_reset_link_printed_opens_the_new_password_form(client, terminal):
    UserFactory(email="ada@example.com")

    client.post(reverse("accounts:password_reset"), {"email": "ada@example.com"})

    [links] = printed_links(terminal.getvalue())
    [reset_link] = links
    page = open_link(reset_link)
    assert "Choose a new password" in page
    assert BROKEN_LINK_PAGE not in page


def test_each_link_is_printed_once_without_the_sentence_around_it():
    message = EmailMultiAlternatives(
        body=(
            "Open https://portal.example/a/b=c/, then (https://portal.example/x).\n"
            "Again: https://portal.example/a/b=c/. Defanged: https[:]//evil[.]example/\n"
        ),
        to=["ada@example.com"],
    )
    message.attach_alternative('<a href="https://html-only.example/">x</a>', "text/html")

    assert message_links(message) == ["https://portal.example/a/b=c/", "https://portal.example/x"]


def test_a_message_without_links_prints_no_links_block():
    stream = io.StringIO()
    EmailBackend(stream=stream).send_messages([EmailMultiAlternatives(body="Hello", to=["a@b.c"])])

    assert LINKS_HEADING not in stream.getvalue()


def test_the_local_default_backend_prints_links():
    assert django_settings.EMAIL_BACKEND_NAME == "common.console_mail.EmailBackend"


def run_startup_line(**env: str) -> str:
    environ = {key: value for key, value in os.environ.items() if key != "EMAIL_BACKEND"}
    environ.update({"DJANGO_SETTINGS_MODULE": "quickbot.settings", "LOCAL_RUN": "1", **env})
    result = subprocess.run(
        [sys.executable, "-m", "common.console_mail"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_says_that_email_appears_in_the_terminal():
    dry_run = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    announce = next(i for i, line in enumerate(dry_run) if "common.console_mail" in line)
    runserver = next(i for i, line in enumerate(dry_run) if "runserver" in line)
    assert announce < runserver

    assert run_startup_line() == STARTUP_LINE + "\n"
    assert STARTUP_LINE.startswith("E-mail is printed in this terminal")


def test_no_startup_line_when_email_is_really_sent():
    assert run_startup_line(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend") == ""
