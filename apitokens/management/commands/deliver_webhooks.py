"""Send the webhook deliveries that are due: first attempts whose task never ran and
retries, when the task backend cannot schedule them itself. Run each minute from cron."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from apitokens.webhooks.delivery import webhook_deliveries_due_send


class Command(BaseCommand):
    help = (
        "Attempt every webhook delivery that is due (retries with exponential backoff for "
        "24 hours). Safe to run every minute and alongside a task worker: each attempt is "
        "claimed once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--limit", type=int, default=500, help="At most this many deliveries per run."
        )

    def handle(self, *args, limit: int, **options) -> None:
        count = webhook_deliveries_due_send(limit=limit)
        self.stdout.write(f"Attempted {count} webhook deliver{'y' if count == 1 else 'ies'}.")
