"""Rebuild the hourly usage rollups (and address facts) from the raw activity rows."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apitokens.activity import rollups

# One transaction per this many hours: short enough that the writer waits little.
DEFAULT_BATCH_HOURS = 6


def _moment(text: str, option: str) -> datetime:
    """A date (midnight, site time zone) or an ISO date-time (naive = site time zone)."""
    try:
        moment = parse_datetime(text)
        if moment is None and (day := parse_date(text)) is not None:
            moment = datetime.combine(day, datetime.min.time())
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(f"{option} must be a date (2026-11-01) or a date-time, not {text!r}.")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


class Command(BaseCommand):
    help = (
        "Recompute the hourly usage rollups from the raw activity rows for a time range "
        "(whole UTC hours), a batch of hours per transaction. Idempotent and safe while the "
        "API serves: run it once after the migration that adds the rollups, and after any "
        "repair of the activity table."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--since",
            help="Start (date or date-time; default: the retention period ago).",
        )
        parser.add_argument("--until", help="End, exclusive (default: now, this hour included).")
        parser.add_argument(
            "--batch-hours",
            type=int,
            default=DEFAULT_BATCH_HOURS,
            help=f"Hours per transaction (default {DEFAULT_BATCH_HOURS}).",
        )
        parser.add_argument(
            "--pause", type=float, default=0.05, help="Seconds between batches (default 0.05)."
        )

    def handle(self, *args, since, until, batch_hours, pause, **options) -> None:
        if batch_hours < 1:
            raise CommandError("--batch-hours must be at least 1.")
        now = timezone.now()
        start = (
            _moment(since, "--since")
            if since
            else now - timedelta(days=settings.QUICKBOT_ACTIVITY_RETENTION_DAYS)
        )
        end = _moment(until, "--until") if until else now
        start = rollups.hour_of(start)
        # The hour holding `end` is included, so the current hour is rebuilt too.
        end = rollups.hour_of(end) + timedelta(hours=1)
        if start >= end:
            raise CommandError("--since must be before --until.")
        started = time.monotonic()
        read = written = batches = 0
        cursor = start
        while cursor < end:
            stop = min(cursor + timedelta(hours=batch_hours), end)
            rows, hours = rollups.rollups_rebuild(start=cursor, end=stop)
            read, written, batches = read + rows, written + hours, batches + 1
            cursor = stop
            if pause and cursor < end:
                time.sleep(pause)
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt {written} hourly rollups from {read} activity rows "
                f"({start:%Y-%m-%d %H}:00 to {end:%Y-%m-%d %H}:00 UTC, {batches} batches) "
                f"in {time.monotonic() - started:.1f} s."
            )
        )
