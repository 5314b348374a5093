"""The development mail backend: Django's console backend, plus each message's links
printed whole.

The console backend prints the message as it would travel, so a long text body is
quoted-printable and a link breaks across lines ("...8f3db=" then "0417cb01/"): copying
the visible line gives a link that no longer works. After each message this backend
prints a "Links in this e-mail:" block, every link of the decoded text body alone on its
own line. `python -m common.console_mail` prints the start-up line `make run` shows.
"""

from __future__ import annotations

import re
import sys

from django.core.mail import EmailMessage
from django.core.mail.backends import console

LINKS_HEADING = "Links in this e-mail:"
STARTUP_LINE = (
    "E-mail is printed in this terminal (nothing is sent): after each message, "
    f'"{LINKS_HEADING}" lists its links whole, one per line.'
)
# A link ends at whitespace or a bracket; a full stop or comma after it ends a sentence.
_LINK = re.compile(r"https?://[^\s<>\"'()\[\]]+")
_TRAILING_PUNCTUATION = ".,;:!?"


def message_links(message: EmailMessage) -> list[str]:
    """Every http(s) link in the message's decoded text/plain parts, in order, once each."""
    links: list[str] = []
    for part in message.message().walk():
        if part.get_content_type() != "text/plain" or part.is_attachment():
            continue
        for match in _LINK.finditer(part.get_content()):
            link = match.group().rstrip(_TRAILING_PUNCTUATION)
            if link not in links:
                links.append(link)
    return links


class EmailBackend(console.EmailBackend):
    """Writes each message to the stream as Django's console backend does, then its links."""

    def write_message(self, message: EmailMessage) -> None:
        super().write_message(message)
        if links := message_links(message):
            self.stream.write("\n".join([LINKS_HEADING, *links, "-" * 79, ""]))


def default_mailer_is_console_mail() -> bool:
    """True when the default mailer prints messages through this backend."""
    from django.core.mail import mailers

    return isinstance(mailers.default, EmailBackend)


if __name__ == "__main__":
    # `make run` calls this before runserver: one line, only when it is true.
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quickbot.settings")
    os.environ.setdefault("LOCAL_RUN", "1")
    django.setup()
    # Imported by its name: this file runs as __main__, whose classes are copies.
    from common.console_mail import default_mailer_is_console_mail as is_console_mail

    if is_console_mail():
        sys.stdout.write(STARTUP_LINE + "\n")
