"""A mail backend the notification tests name in MAILERS: a server that is down."""

from __future__ import annotations

from django.core.mail.backends.base import BaseEmailBackend


class ExplodingBackend(BaseEmailBackend):
    """An SMTP server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("SMTP server unreachable")
