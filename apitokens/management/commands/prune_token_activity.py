"""Delete API activity older than the retention period, in small batches, with its hourly
rollups and address facts, so the counts keep agreeing with the rows."""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apitokens.activity.rollups import hour_of
from apitokens.models import SecurityEvent, TokenActivity, TokenAddress, TokenUsageHour

# Beyond this, `now - days` leaves the calendar (OverflowError).
MAX_RETENTION_DAYS = 36_500


class Command(BaseCommand):
    help = (
        "Delete API activity rows older than QUICKBOT_ACTIVITY_RETENTION_DAYS, a batch at a "
        "time, so it can run from cron while the API serves."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Keep this many days (default: QUICKBOT_ACTIVITY_RETENTION_DAYS).",
        )
        parser.add_argument(
            "--batch-size", type=int, default=5000, help="Rows per DELETE (default 5000)."
        )
        parser.add_argument(
            "--pause",
            type=float,
            default=0.05,
            help="Seconds to wait between batches, so writers get the lock (default 0.05).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )

    def handle(self, *args, days, batch_size, pause, dry_run, **options) -> None:
        days = settings.QUICKBOT_ACTIVITY_RETENTION_DAYS if days is None else days
        if days < 1:
            raise CommandError("--days must be at least 1.")
        if days > MAX_RETENTION_DAYS:
            raise CommandError(f"--days must be at most {MAX_RETENTION_DAYS} (100 years).")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        # A whole UTC hour: raw rows and their hourly rollup go together.
        cutoff = hour_of(timezone.now() - timedelta(days=days))
        querysets = {
            "activity rows": TokenActivity.objects.filter(created_at__lt=cutoff).order_by(
                "created_at"
            ),
            "hourly rollups": TokenUsageHour.objects.filter(hour__lt=cutoff).order_by("hour"),
            # Addresses last seen before the cutoff; the first-seen time of the others stays
            # (an address first used before the retention is not new).
            "address facts": TokenAddress.objects.filter(last_seen_at__lt=cutoff).order_by(
                "last_seen_at"
            ),
            # The security log has the same retention; the app never deletes it otherwise.
            "security events": SecurityEvent.objects.filter(last_seen_at__lt=cutoff).order_by("pk"),
        }
        if dry_run:
            for label, old in querysets.items():
                self.stdout.write(f"{old.count()} {label} are older than {days} days.")
            return
        for label, old in querysets.items():
            started = time.monotonic()
            deleted = self._delete_in_batches(old, batch_size=batch_size, pause=pause)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Deleted {deleted} {label} older than {days} days "
                    f"in {time.monotonic() - started:.1f} s."
                )
            )

    @staticmethod
    def _delete_in_batches(old, *, batch_size: int, pause: float) -> int:
        deleted = 0
        model = old.model
        while True:
            # Oldest first through the time index; each batch is its own short
            # transaction (autocommit), so API writes interleave between batches.
            batch = list(old.values_list("pk", flat=True)[:batch_size])
            if not batch:
                return deleted
            count, _ = model.objects.filter(pk__in=batch).delete()
            deleted += count
            if len(batch) < batch_size:
                return deleted
            if pause:
                time.sleep(pause)
