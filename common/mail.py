"""Email from QuickBot: sent after the current transaction commits, on the process's
background thread (`common.background`), and third-party text made safe to show in it.

Both the account emails (verification, password reset) and the token notifications go
out this way, so a request's response time never depends on whether an email was sent
(which would tell who has an account). The message is built and sent on the mail thread
from plain values captured in the request; `QUICKBOT_EMAIL_ASYNC` off (tests) sends in the
calling thread after commit. A failure to build or send is logged and swallowed.

Text that someone other than the recipient chose (a User-Agent, a token or display name, a
reporter's field) goes through `mail_text` before it reaches a template: no mail client
turns it into a link, and it cannot add lines.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Callable

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string

from common.background import THREAD_NAME_PREFIX, worker

logger = logging.getLogger(__name__)

MAIL_THREAD_PREFIX = THREAD_NAME_PREFIX

# Longest third-party text an email shows (a User-Agent is kept to 256 in the log).
MAIL_TEXT_MAX_LENGTH = 160
# Dots IDNA reads as a dot in a domain name (ideographic and full-width full stops).
_DOT_LOOKALIKES = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
# A URL scheme ("https://", "mailto:", ...), wherever it starts.
_SCHEME = re.compile(
    r"(?i)\b([a-z][a-z0-9+.-]*):(?=//)|\b(mailto|tel|sms|callto|javascript|data|file|ftp):"
)
# A dot between a letter or digit and a letter: "evil.example", "www.x", not "5.0" or an IPv4.
_DOMAIN_DOT = re.compile(r"(?<=[^\W_])\.(?=[^\W\d_])")
_SPACES = re.compile(r"\s+")


def mail_text(value: object, *, max_length: int = MAIL_TEXT_MAX_LENGTH) -> str:
    """Text someone else chose, as an email may show it: one line without control or
    invisible characters, URLs and domain names broken so that no mail client links them
    (`https://evil.example/x` becomes `https[:]//evil[.]example/x`), at most `max_length`
    characters (cut with "…")."""
    text = unicodedata.normalize("NFKC", str(value)).translate(_DOT_LOOKALIKES)
    # Cc and Cf (bidi overrides, zero-width characters) could hide or reorder a link.
    text = "".join(
        " " if char.isspace() else char
        for char in text
        if char.isspace() or unicodedata.category(char) not in {"Cc", "Cf", "Co", "Cs", "Cn"}
    )
    text = _SPACES.sub(" ", text).strip()
    text = _SCHEME.sub(lambda match: f"{match.group(1) or match.group(2)}[:]", text)
    text = _DOMAIN_DOT.sub("[.]", text)
    if len(text) > max_length:
        text = text[: max_length - 1].rstrip() + "…"
    return text


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
        worker.submit(job, kind=f"{kind} email")

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
    """Block until every email (and background job) queued so far in this process has been
    attempted, including the emails those jobs queued."""
    worker.wait_for_idle(timeout=timeout)
