"""Write an audit log (the token security log, the accounts' log or the API activity) for a
time range as JSON Lines or CSV, to stdout or a file, for cron. The same columns and
formats as the admin's export links (`common.audit_export`)."""

from __future__ import annotations

from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apitokens.audit_export import EXPORTS
from common.audit_export import ExportFormat, export_chunks


def moment_parse(value: str, *, option: str) -> datetime:
    """An ISO 8601 date or date-time (naive: the site's time zone) from the command line."""
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime.combine(day, time.min)
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(
            f"{option} must be a date (2026-11-01) or a date and time "
            f"(2026-11-01T08:00, 2026-11-01T08:00:00+00:00); got {value!r}."
        )
    if timezone.is_naive(moment):
        try:
            moment = timezone.make_aware(moment)
        except (ValueError, OverflowError) as error:
            raise CommandError(f"{option} is out of range: {value!r}.") from error
    return moment


class Command(BaseCommand):
    help = (
        "Export the token security log (--kind security), the accounts' security log "
        "(account) or the API activity (activity) from --since (inclusive) to --until "
        "(exclusive, default now), oldest first, as JSON Lines or CSV."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--since", required=True, help="Start, inclusive: 2026-11-01 or 2026-11-01T08:00."
        )
        parser.add_argument("--until", help="End, exclusive (default: now).")
        parser.add_argument(
            "--format",
            dest="format_name",
            choices=[choice.value for choice in ExportFormat],
            default=ExportFormat.JSONL.value,
            help="jsonl (default) or csv.",
        )
        parser.add_argument(
            "--kind", choices=sorted(EXPORTS), default="security", help="Default: security."
        )
        parser.add_argument("--output", help="Write to this file instead of stdout.")

    def handle(self, *args, since, until, format_name, kind, output, **options) -> None:
        start = moment_parse(since, option="--since")
        end = moment_parse(until, option="--until") if until else timezone.now()
        if start >= end:
            raise CommandError("--since must be before --until.")
        export = EXPORTS[kind]
        chunks = export_chunks(
            export, export.between(since=start, until=end), ExportFormat(format_name)
        )
        if not output:
            for chunk in chunks:
                self.stdout.write(chunk, ending="")
            return
        try:
            with open(output, "w", encoding="utf-8", newline="") as file:
                for chunk in chunks:
                    file.write(chunk)
        except OSError as error:
            raise CommandError(f"Could not write {output}: {error.strerror}.") from error
        self.stderr.write(f"Wrote the {kind} export to {output}.")
