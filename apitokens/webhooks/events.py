"""Webhook events: their JSON payloads, which security-log kinds they follow, and queuing
one delivery per subscribed endpoint.

Every token event is emitted by the security-log writers in `apitokens/services/audit.py`
(keyed by `SecurityEvent.Kind`, so a new producer is covered without touching this module),
except the two no security-log row stands for: `token.expiring` (the expiry reminders) and
`token.used_from_new_address` (the activity rollups). Audit streaming sends every
SecurityEvent and AccountEvent to the staff endpoints that subscribe to it.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import AccountEvent, User
from apitokens.models import APIToken, SecurityEvent, WebhookDelivery, WebhookEndpoint
from apitokens.webhooks.delivery import webhook_deliveries_enqueue
from apitokens.webhooks.signing import webhook_message_id_new

# The security-log kinds that are also token webhook events.
KIND_EVENT_TYPES: dict[str, str] = {
    SecurityEvent.Kind.CREATED: "token.created",
    SecurityEvent.Kind.REGENERATED: "token.regenerated",
    SecurityEvent.Kind.PAUSED: "token.paused",
    SecurityEvent.Kind.RESUMED: "token.resumed",
    SecurityEvent.Kind.DELETED: "token.deleted",
}
# Why a deletion is also `token.reported_leaked`: its value was exposed.
LEAKED_REASONS = frozenset({APIToken.RevokedBy.LEAKED, APIToken.RevokedBy.URL})


def iso(moment: datetime | None) -> str | None:
    """A moment as JSON carries it: ISO 8601 in UTC with a Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def token_data(token: APIToken) -> dict:
    """What every token event says about the token (never its value or digest)."""
    return {
        "id": token.public_id,
        "name": token.name,
        "identifier": token.identifier,
        "permissions": token.scope_list,
        "expires_at": iso(token.expires_at),
    }


def account_data(user: User | None) -> dict | None:
    return {"email": user.email} if user is not None else None


def event_payload(*, event_type: str, data: dict, now: datetime) -> str:
    """The body of a delivery: `{"type", "timestamp", "data"}`, compact JSON."""
    return json.dumps(
        {"type": event_type, "timestamp": iso(now), "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )


class SubscriptionMemo:
    """The event types that some enabled endpoint subscribes to, read at most every
    MEMO_SECONDS: every security-log row and every activity batch ask, and with no
    endpoint subscribed they cost no query and no savepoint."""

    MEMO_SECONDS = 10.0

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._memo: tuple[float, frozenset[str]] | None = None  # (read at, event types)

    def get(self) -> frozenset[str]:
        memo = self._memo
        now = time.monotonic()
        if memo is None or now - memo[0] > self.MEMO_SECONDS:
            rows = WebhookEndpoint.objects.filter(enabled=True).values_list(
                "event_types", flat=True
            )
            subscribed = frozenset(kind for row in rows for kind in row.split())
            with self._mutex:
                self._memo = memo = (now, subscribed)
        return memo[1]

    def reset(self) -> None:
        """Drop the memo (an endpoint changed in this process; between tests)."""
        with self._mutex:
            self._memo = None


subscription_memo = SubscriptionMemo()


def subscribed(event_type: str) -> bool:
    """Whether some enabled endpoint may want `event_type` (memoized, see SubscriptionMemo)."""
    return event_type in subscription_memo.get()


def new_address_subscribed() -> bool:
    return subscribed("token.used_from_new_address")


def subscribed_endpoints(*, event_type: str, account: User | None) -> list[WebhookEndpoint]:
    """The enabled endpoints that receive `event_type` for `account`: the account's own
    (token events only) and staff endpoints."""
    audience = Q(owner__isnull=True)
    if account is not None and event_type.startswith("token."):
        audience |= Q(owner=account)
    candidates = WebhookEndpoint.objects.filter(
        audience, enabled=True, event_types__contains=event_type
    )
    return [endpoint for endpoint in candidates if endpoint.subscribes_to(event_type)]


def webhook_event_emit(
    *, event_type: str, account: User | None, data: dict, now: datetime | None = None
) -> list[WebhookDelivery]:
    """Queue `event_type` for every endpoint that subscribes to it: one delivery row each,
    sent by the task queue once the current transaction commits."""
    if not subscribed(event_type):
        return []
    endpoints = subscribed_endpoints(event_type=event_type, account=account)
    if not endpoints:
        return []
    now = now or timezone.now()
    body = event_payload(event_type=event_type, data=data, now=now)
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            message_id=webhook_message_id_new(),
            event_type=event_type,
            body=body,
            created_at=now,
            next_attempt_at=now,
        )
        for endpoint in endpoints
    )
    ids = [delivery.pk for delivery in deliveries if delivery.pk is not None]
    if len(ids) != len(deliveries):  # a backend that returns no ids from bulk_create
        ids = list(
            WebhookDelivery.objects.filter(
                message_id__in=[delivery.message_id for delivery in deliveries]
            ).values_list("pk", flat=True)
        )
    transaction.on_commit(functools.partial(webhook_deliveries_enqueue, delivery_ids=ids))
    return deliveries


# --- From the security logs ------------------------------------------------------------------


def security_event_data(event: SecurityEvent) -> dict:
    """A SecurityEvent as the audit stream sends it."""
    return {
        "id": event.pk,
        "kind": event.kind,
        "description": event.get_kind_display(),
        "account": account_data(event.account),
        "actor_kind": event.actor_kind,
        "actor": account_data(event.actor),
        "token": {"name": event.token_name, "identifier": event.token_identifier}
        if event.token_identifier
        else None,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "count": event.count,
        "detail": event.detail,
        "created_at": iso(event.created_at),
    }


def security_event_webhooks_emit(*, event: SecurityEvent) -> None:
    """The webhook events a new security-log row stands for: its token event, if any, and
    the audit stream. No query while no endpoint subscribes to any of them; else in a
    savepoint, so a failure here never takes the log row with it."""
    event_type = KIND_EVENT_TYPES.get(event.kind)
    wanted = {"audit.security_event", "token.reported_leaked"}
    if event_type is not None:
        wanted.add(event_type)
    if not wanted & subscription_memo.get():
        return
    with transaction.atomic():
        _security_event_emit(event=event, event_type=event_type)


def _security_event_emit(*, event: SecurityEvent, event_type: str | None) -> None:
    if event_type is not None and event.token is not None:
        data = {
            "token": token_data(event.token),
            "account": account_data(event.account),
            "actor_kind": event.actor_kind,
            "ip": event.ip,
            "detail": event.detail,
        }
        if event.kind == SecurityEvent.Kind.DELETED:
            data["reason"] = event.token.revoked_reason
        webhook_event_emit(
            event_type=event_type, account=event.account, data=data, now=event.created_at
        )
        if (
            event.kind == SecurityEvent.Kind.DELETED
            and event.token.revoked_reason in LEAKED_REASONS
        ):
            webhook_event_emit(
                event_type="token.reported_leaked",
                account=event.account,
                data=data,
                now=event.created_at,
            )
    webhook_event_emit(
        event_type="audit.security_event",
        account=event.account,
        data=security_event_data(event),
        now=event.created_at,
    )


def account_event_webhooks_emit(*, event: AccountEvent) -> None:
    """Stream a new account security-log row to the staff endpoints that want it."""
    if not subscribed("audit.account_event"):
        return
    data = {
        "id": event.pk,
        "kind": event.kind,
        "description": event.get_kind_display(),
        "account": account_data(event.user),
        "ip": event.ip,
        "user_agent": event.user_agent,
        "detail": event.detail,
        "created_at": iso(event.created_at),
    }
    with transaction.atomic():
        webhook_event_emit(
            event_type="audit.account_event", account=event.user, data=data, now=event.created_at
        )


# --- Events no security-log row stands for ---------------------------------------------------


def token_expiring_emit(*, token: APIToken, reminder: str, now: datetime) -> None:
    """`token.expiring`: the 7-day ("7d") or 1-day ("1d") reminder went out for `token`."""
    webhook_event_emit(
        event_type="token.expiring",
        account=token.owner,
        data={
            "token": token_data(token),
            "account": account_data(token.owner),
            "reminder": reminder,
        },
        now=now,
    )


def token_new_addresses_emit(*, pairs: list[tuple[int, str, datetime]]) -> None:
    """`token.used_from_new_address` for each (token id, address, first request) pair whose
    address the token was never used from before."""
    if not pairs:
        return
    tokens = APIToken.objects.select_related("owner").in_bulk({pair[0] for pair in pairs})
    for token_id, ip, first_seen in pairs:
        token = tokens.get(token_id)
        if token is None:
            continue
        webhook_event_emit(
            event_type="token.used_from_new_address",
            account=token.owner,
            data={
                "token": token_data(token),
                "account": account_data(token.owner),
                "ip": ip,
                "first_seen_at": iso(first_seen),
            },
            now=first_seen,
        )
