"""Send an email after the current transaction commits, on one background thread per process.

Both the account emails (verification, password reset) and the token notifications go
out this way, so a request's response time never depends on whether an email was sent
(which would tell who has an account). The message is built and sent on the mail thread
from plain values captured in the request; `QUICKBOT_EMAIL_ASYNC` off (tests) sends in the
calling thread after commit. A failure to build or send is logged and swallowed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Lock

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

MAIL_THREAD_PREFIX = "quickbot-mail"

_executor: ThreadPoolExecutor | None = None
_executor_lock = Lock()


def site_url(path: str = "") -> str:
    """An absolute link on the portal, always from QUICKBOT_SITE_URL (never a request's Host)."""
    return settings.QUICKBOT_SITE_URL.rstrip("/") + path


def templated_message(
    *, to: str, subject: str, template: str, context: dict
) -> EmailMultiAlternatives:
    """A plain-text message rendered from `template` (subject kept on one line)."""
    body = render_to_string(template, context)
    return EmailMultiAlternatives(subject=" ".join(subject.splitlines()), body=body, to=[to])


def mail_dispatch(
    kind: str, build: Callable[[], EmailMultiAlternatives], *, build_after_commit: bool = False
) -> None:
    """Build and send the message after commit, off the request thread; never raises.

    By default the message is built on the mail thread (from plain values: the account
    emails, whose timing must not depend on the account). `build_after_commit` builds it in
    the committing thread right after commit, for a message that reads model instances
    (the token notifications), and only sends on the mail thread."""

    def build_message() -> EmailMultiAlternatives | None:
        try:
            return build()
        except Exception:
            logger.exception("Could not build the %s email", kind)
            return None

    def build_and_send() -> None:
        if (message := build_message()) is not None:
            mail_send_now(message, kind=kind)

    def after_commit() -> None:
        if not build_after_commit:
            job = build_and_send
        elif (message := build_message()) is not None:
            job = functools.partial(mail_send_now, message, kind=kind)
        else:
            return
        if getattr(settings, "QUICKBOT_EMAIL_ASYNC", True):
            try:
                _get_executor().submit(job)
            except Exception:
                logger.exception("Could not queue the %s email", kind)
        else:
            job()

    transaction.on_commit(after_commit, robust=True)


def mail_send_now(message: EmailMultiAlternatives, *, kind: str) -> bool:
    """Send one message in this thread; log and return False on any failure."""
    try:
        message.send(fail_silently=False)
    except Exception:
        logger.exception("Could not send the %s email", kind)
        return False
    return True


def mail_wait_for_pending(timeout: float = 10) -> None:
    """Block until every email queued so far in this process has been attempted."""
    if _executor is not None:
        _executor.submit(lambda: None).result(timeout=timeout)


def _get_executor() -> ThreadPoolExecutor:
    # One worker: mails go out in order and SMTP never gets a burst of connections.
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=MAIL_THREAD_PREFIX)
        return _executor
