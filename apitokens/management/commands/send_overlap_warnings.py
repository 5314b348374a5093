"""Email owners an hour before a regenerate's overlap ends, when the old value is still in
use. Idempotent; run every 5 minutes from cron."""

from __future__ import annotations

from apitokens.management.commands._mailing import MailingCommand
from apitokens.notifications import send_overlap_warnings


class Command(MailingCommand):
    help = (
        "Email token owners when a regenerated token's old value stops within the hour and "
        "was used in the last hour, naming the callers. Once per overlap, so running this "
        "every few minutes (cron) is safe; failed mails are retried next run."
    )
    noun = "overlap warning"
    send = staticmethod(send_overlap_warnings)
