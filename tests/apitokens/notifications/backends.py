"""Mail backends the notification tests name in MAILERS: a server that is down, and one that
answers only when the test opens its gate."""

from __future__ import annotations

import threading

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class ExplodingBackend(BaseEmailBackend):
    """An SMTP server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("SMTP server unreachable")


class GatedBackend(LocmemBackend):
    """An SMTP server that answers only when the test opens the gate."""

    gate = threading.Event()
    threads: list[str] = []

    def send_messages(self, email_messages):
        type(self).threads.append(threading.current_thread().name)
        assert type(self).gate.wait(timeout=10)
        return super().send_messages(email_messages)
