"""How owner emails leave: the event emails built after commit and sent by the task worker
(`dispatch`), the commands' reminders and digests at once (`send_now`)."""

from __future__ import annotations

from collections.abc import Callable

from django.core.mail import EmailMultiAlternatives

from common import mail


def dispatch(kind: str, build: Callable[[], EmailMultiAlternatives]) -> None:
    """Build right after the current transaction commits (the message reads the token and
    its owner), send from the task worker (common.mail); never raises."""
    mail.mail_dispatch(kind, build)


def send_now(message: EmailMultiAlternatives, *, kind: str) -> bool:
    """Send one message in this thread (the commands' path); False on any failure."""
    return mail.mail_send_now(message, kind=kind)
