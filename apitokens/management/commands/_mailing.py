"""The shared shape of the commands cron runs to send owners their emails."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime


class MailingCommand(BaseCommand):
    """Run `send(now=…)`, report how many mails went out, fail when any could not be sent
    (they are retried on the next run). `--now` pretends another time, for testing."""

    noun: str  # what one mail is called, e.g. "expiry reminder"
    # The notifications function that sends them, returning `sent` and `failed` counts:
    # set as `send = staticmethod(function)`.
    send: staticmethod

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
        run = self.send(now=moment)
        self.stdout.write(f"Sent {run.sent} {self.noun}{'s' if run.sent != 1 else ''}.")
        if run.failed:
            raise CommandError(
                f"{run.failed} {self.noun}{'s' if run.failed != 1 else ''} could not be sent; "
                "see the log. They will be retried on the next run."
            )
