"""How owner emails leave (apitokens/notifications/sending.py): on the mail thread in production,
failures logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from common.mail import mail_wait_for_pending
from tests.apitokens.factories import create_token
from tests.apitokens.notifications.backends import GatedBackend

# Real transactions, so on_commit callbacks run when the service commits, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_in_production_sending_happens_in_the_background(user, settings):
    """A slow SMTP server does not hold up the action: the service returns while the
    mail is still being sent, from the mail thread."""
    settings.QUICKBOT_EMAIL_ASYNC = True
    settings.MAILERS = {
        "default": {"BACKEND": "tests.apitokens.notifications.backends.GatedBackend"}
    }
    GatedBackend.gate.clear()
    GatedBackend.threads.clear()
    from django.core import mail

    mail.outbox = []
    try:
        create_token(user, "Background mail", now=T0)
        assert mail.outbox == []
    finally:
        GatedBackend.gate.set()
    mail_wait_for_pending()
    assert [message.subject for message in mail.outbox] == [
        "[QuickBot] API token “Background mail” created"
    ]
    assert GatedBackend.threads[0].startswith("quickbot-mail")


def test_background_mail_failure_is_logged(user, settings, caplog):
    settings.QUICKBOT_EMAIL_ASYNC = True
    settings.MAILERS = {
        "default": {"BACKEND": "tests.apitokens.notifications.backends.ExplodingBackend"}
    }
    with caplog.at_level(logging.ERROR, logger="apitokens.notifications"):
        create_token(user, now=T0)
        mail_wait_for_pending()
    assert "Could not send the created email" in caplog.text
