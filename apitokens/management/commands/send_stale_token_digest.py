"""Email owners the tokens they don't use (weekly at most per owner). Idempotent; run daily
or weekly from cron."""

from __future__ import annotations

from apitokens.management.commands._mailing import MailingCommand
from apitokens.notifications import send_stale_digests


class Command(MailingCommand):
    help = (
        "Email each owner the list of their stale API tokens (unused for "
        "QUICKBOT_STALE_TOKEN_DAYS, or never used a week after creation), at most once a "
        "week per owner, so running it more often (cron) is safe; failed mails are retried "
        "next run."
    )
    noun = "stale-token digest"
    send = staticmethod(send_stale_digests)
