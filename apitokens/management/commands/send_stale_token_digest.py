"""Email owners the tokens they don't use (weekly at most per owner). Idempotent; run daily
or weekly from cron."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apitokens.notifications import send_stale_digests


class Command(BaseCommand):
    help = (
        "Email each owner the list of their stale API tokens (unused for "
        "QUICKBOT_STALE_TOKEN_DAYS, or never used a week after creation), at most once a "
        "week per owner, so running it more often (cron) is safe; failed mails are retried "
        "next run."
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
        run = send_stale_digests(now=moment)
        self.stdout.write(f"Sent {run.sent} stale-token digest{'s' if run.sent != 1 else ''}.")
        if run.failed:
            raise CommandError(
                f"{run.failed} digest{'s' if run.failed != 1 else ''} could not be sent; "
                "see the log. They will be retried on the next run."
            )
