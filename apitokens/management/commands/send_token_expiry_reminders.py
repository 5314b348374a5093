"""Email owners 7 days and 1 day before a token expires. Idempotent; run hourly from cron."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apitokens.notifications import send_expiry_reminders


class Command(BaseCommand):
    help = (
        "Email token owners 7 days and 1 day before a token expires. Each reminder is sent "
        "once, so running this hourly (cron) is safe; failed mails are retried next run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now",
            help="Pretend the current time is this ISO 8601 datetime (for testing).",
        )

    def handle(self, *args, now: str | None = None, **options) -> None:
        moment = timezone.now()
        if now:
            parsed = parse_datetime(now)
            if parsed is None:
                raise CommandError(f"--now must be an ISO 8601 datetime, got {now!r}.")
            if timezone.is_naive(parsed):
                parsed = timezone.make_aware(parsed)
            moment = parsed
        run = send_expiry_reminders(now=moment)
        self.stdout.write(f"Sent {run.sent} expiry reminder{'s' if run.sent != 1 else ''}.")
        if run.failed:
            raise CommandError(
                f"{run.failed} reminder{'s' if run.failed != 1 else ''} could not be sent; "
                "see the log. They will be retried on the next run."
            )
