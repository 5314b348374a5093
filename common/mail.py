"""Email from QuickBot: sent by the task worker (`common.tasks`), never in the request that
caused it, and third-party text made safe to show in it.

Both the account emails (verification, password reset: their own tasks in
`accounts.services`, which build the message in the worker) and the token notifications
(`mail_dispatch`: built after commit, sent by the `mail_send` task) go out this way, so a
request's response time never depends on whether an email was sent (which would tell who
has an account). A send the mail server refuses raises in the task, which runs again later.

Text that someone other than the recipient chose (a User-Agent, a token or display name, a
reporter's field) goes through `mail_text` before it reaches a template: no mail client
turns it into a link, and it cannot add lines.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.tasks import task
from django.template.loader import render_to_string

from common import metrics
from common.tasks import task_enqueue

logger = logging.getLogger(__name__)

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


def mail_dispatch(kind: str, build: Callable[[], EmailMultiAlternatives]) -> None:
    """Build the message right after the current transaction commits (it may read model
    instances) and queue it for the task worker (`mail_send`); never raises."""

    def after_commit() -> None:
        try:
            message = build()
        except Exception:
            logger.exception("Could not build the %s email", kind)
            return
        html = next(
            (content for content, mimetype in message.alternatives if mimetype == "text/html"),
            "",
        )
        task_enqueue(
            mail_send,
            kind=kind,
            to=list(message.to),
            subject=str(message.subject),
            body=str(message.body),
            html=str(html),
        )

    transaction.on_commit(after_commit, robust=True)


@task
def mail_send(*, kind: str, to: list[str], subject: str, body: str, html: str = "") -> None:
    """The task that sends one message; a refused send raises, so the task runs again."""
    message = EmailMultiAlternatives(subject=subject, body=body, to=to)
    if html:
        message.attach_alternative(html, "text/html")
    mail_send_or_raise(message, kind=kind)


def mail_send_or_raise(message: EmailMultiAlternatives, *, kind: str) -> None:
    """Send one message in this thread, counted as sent or failed; a failure is logged and
    raised again (a task's path: the exception makes the task run again)."""
    try:
        message.send(fail_silently=False)
    except Exception:
        metrics.emails.labels(kind=kind, outcome="failed").inc()
        logger.exception("Could not send the %s email", kind)
        raise
    metrics.emails.labels(kind=kind, outcome="sent").inc()


def mail_send_now(message: EmailMultiAlternatives, *, kind: str) -> bool:
    """Send one message in this thread; False on any failure, logged (the commands' path)."""
    try:
        mail_send_or_raise(message, kind=kind)
    except Exception:
        return False
    return True
