"""Tokens whose value was exposed: leak reports to the revocation endpoint, and tokens
sent in a URL. Every match is deleted through `api_token_revoke`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.tasks import task
from django.utils import timezone

from apitokens import tokens
from apitokens.models import APIToken, SecurityEvent
from apitokens.services.audit import ClientInfo, security_event_record
from apitokens.services.tokens import api_token_revoke
from common.tasks import task_enqueue

MAX_REPORTED_CREDENTIALS = 1000


@dataclass(frozen=True, slots=True)
class LeakReport:
    """One report to the revocation endpoint as the request took it: how many values it
    held, how many were well-formed (all the reporter is told) and their digests (never
    the values), who sent it and when."""

    submitted: int
    well_formed: int
    digests: tuple[str, ...]
    client: ClientInfo
    received_at: datetime

    def as_json(self) -> dict:
        """The report as the task stores it (plain JSON values)."""
        return {
            "submitted": self.submitted,
            "well_formed": self.well_formed,
            "digests": list(self.digests),
            "ip": self.client.ip,
            "user_agent": self.client.user_agent,
            "received_at": self.received_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict) -> LeakReport:
        return cls(
            submitted=data["submitted"],
            well_formed=data["well_formed"],
            digests=tuple(data["digests"]),
            client=ClientInfo(ip=data["ip"], user_agent=data["user_agent"]),
            received_at=datetime.fromisoformat(data["received_at"]),
        )


def exposed_tokens_revoke(
    *, values: Iterable[str], reason: str, client: ClientInfo, now: datetime | None = None
) -> int:
    """Delete every active token whose value, or previous value still in its overlap, is
    among `values` (well-formed token values), with `reason` (leaked, or sent in a URL).

    One lookup query whatever matches; each match goes through `api_token_revoke`
    (security log, owner's email). Returns how many tokens were deleted.
    """
    digests = {tokens.token_digest(value) for value in values}
    return _exposed_digests_revoke(digests=digests, reason=reason, client=client, now=now)


def _exposed_digests_revoke(
    *, digests: Iterable[str], reason: str, client: ClientInfo, now: datetime | None = None
) -> int:
    now = now or timezone.now()
    digests = sorted(set(digests))
    if not digests:
        return 0
    # A replaced value past its overlap no longer works: whoever holds it cannot have the
    # token deleted (no denial of service by old values).
    matches = list(
        APIToken.objects.active()
        .filter(Q(digest__in=digests) | Q(previous_digest__in=digests, previous_expires_at__gt=now))
        .select_related("owner")
        .order_by("pk")
    )
    return sum(
        api_token_revoke(token=token, actor=None, reason=reason, client=client, now=now)
        for token in matches
    )


def leaked_credentials_report(
    *, values: list[str], client: ClientInfo, now: datetime | None = None
) -> LeakReport:
    """Take a report of leaked credentials: check and hash its values here, and leave the
    lookup, the deletions, the security-log rows and the owners' emails to the task worker
    (`leak_report_process_task`), so the answer takes the same time whether or not a value
    matched."""
    well_formed = {value for value in values if tokens.is_well_formed(value)}
    report = LeakReport(
        submitted=len(values),
        well_formed=len(well_formed),
        digests=tuple(sorted(tokens.token_digest(value) for value in well_formed)),
        client=client,
        received_at=now or timezone.now(),
    )
    task_enqueue(leak_report_process_task, report=report.as_json())
    return report


@task
def leak_report_process_task(*, report: dict) -> int:
    """The task: `leak_report_process` for a report queued by `leaked_credentials_report`
    (run again after a crash, it deletes nothing twice)."""
    return leak_report_process(report=LeakReport.from_json(report))


def leak_report_process(*, report: LeakReport) -> int:
    """Delete the active tokens among a report's digests (see `exposed_tokens_revoke`) and
    log the report for staff with its counts; returns how many tokens were deleted."""
    # One transaction, so a report commits once whether or not it deleted anything.
    with transaction.atomic():
        revoked = _exposed_digests_revoke(
            digests=report.digests,
            reason=APIToken.RevokedBy.LEAKED,
            client=report.client,
            now=report.received_at,
        )
        _leak_report_record(report=report, revoked=revoked)
    return revoked


def _leak_report_record(*, report: LeakReport, revoked: int) -> None:
    client, now = report.client, report.received_at
    security_event_record(
        kind=SecurityEvent.Kind.LEAK_REPORT,
        account=None,
        actor_kind=SecurityEvent.Actor.CLIENT,
        client=client,
        count=report.submitted,
        detail=f"{report.submitted} submitted, {report.well_formed} well-formed, {revoked} revoked",
        now=now,
    )
