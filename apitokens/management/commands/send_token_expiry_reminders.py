"""Email owners 7 days and 1 day before a token expires. Idempotent; run hourly from cron."""

from __future__ import annotations

from apitokens.management.commands._mailing import MailingCommand
from apitokens.notifications import send_expiry_reminders


class Command(MailingCommand):
    help = (
        "Email token owners 7 days and 1 day before a token expires. Each reminder is sent "
        "once, so running this hourly (cron) is safe; failed mails are retried next run."
    )
    noun = "expiry reminder"
    send = staticmethod(send_expiry_reminders)
