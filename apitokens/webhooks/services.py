"""Adding and deleting webhook endpoints, each writing its security-log row."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from apitokens.models import SecurityEvent, WebhookEndpoint
from apitokens.services.audit import NO_CLIENT, ClientInfo, security_event_record
from apitokens.webhooks.addresses import webhook_url_check
from apitokens.webhooks.events import subscription_memo
from apitokens.webhooks.signing import webhook_secret_new

# How many endpoints one account may have (each event is sent to every one of them).
ENDPOINTS_PER_OWNER = 5


class WebhookLimitReached(Exception):
    """The account already has ENDPOINTS_PER_OWNER endpoints."""


def webhook_endpoint_create(
    *,
    owner: User | None,
    url: str,
    event_types: list[str],
    description: str = "",
    actor: User | None = None,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint (an owner's, or a staff one when `owner` is None) with a new signing
    secret; return it with the secret, which is shown once. The URL is checked here too
    (raises UnsafeWebhookURL), whatever form it came from."""
    webhook_url_check(url)
    now = now or timezone.now()
    secret = webhook_secret_new()
    with transaction.atomic():
        if owner is not None:
            # The account's row locked, so two adds at once cannot pass the cap together.
            User.objects.select_for_update().filter(pk=owner.pk).first()
            if owner.webhook_endpoints.count() >= ENDPOINTS_PER_OWNER:
                raise WebhookLimitReached
        endpoint = WebhookEndpoint.objects.create(
            owner=owner,
            url=url,
            description=description,
            secret=secret,
            event_types=" ".join(event_types),
            created_at=now,
            created_by=actor,
        )
        security_event_record(
            kind=SecurityEvent.Kind.WEBHOOK_ADDED,
            account=owner,
            actor_kind=_actor_kind(owner=owner, actor=actor),
            actor=actor,
            client=client,
            detail=url,
            now=now,
        )
    subscription_memo.reset()
    return endpoint, secret


def webhook_endpoint_delete(
    *,
    endpoint: WebhookEndpoint,
    actor: User | None,
    client: ClientInfo = NO_CLIENT,
    now: datetime | None = None,
) -> bool:
    """Delete an endpoint and its delivery log. False when it was already gone (a double
    submit, a second tab)."""
    with transaction.atomic():
        deleted, _ = WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
        if not deleted:
            return False
        security_event_record(
            kind=SecurityEvent.Kind.WEBHOOK_DELETED,
            account=endpoint.owner,
            actor_kind=_actor_kind(owner=endpoint.owner, actor=actor),
            actor=actor,
            client=client,
            detail=endpoint.url,
            now=now,
        )
    subscription_memo.reset()
    return True


def _actor_kind(*, owner: User | None, actor: User | None) -> str:
    if actor is not None and owner is not None and actor.pk == owner.pk:
        return SecurityEvent.Actor.USER
    return SecurityEvent.Actor.STAFF if actor is not None else SecurityEvent.Actor.SYSTEM
