"""Webhook endpoints (an owner's, for their own tokens' events, or staff's, which may also
stream the whole security log) and the log of their deliveries."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

# The event types a webhook endpoint can subscribe to, as stored in `event_types`.
TOKEN_EVENT_TYPES: dict[str, str] = {
    "token.created": "A token was created",
    "token.regenerated": "A token got a new value",
    "token.paused": "A token was paused",
    "token.resumed": "A token was resumed",
    "token.deleted": "A token was deleted",
    "token.expiring": "A token expires in 7 days or 1 day",
    "token.reported_leaked": "A token was reported as leaked and deleted",
    "token.used_from_new_address": "A token was used from an address it was never used from",
}
# Staff endpoints only: every security-log row as it is written (audit streaming).
AUDIT_EVENT_TYPES: dict[str, str] = {
    "audit.security_event": "Every token security-log event (staff only)",
    "audit.account_event": "Every account security-log event (staff only)",
}
EVENT_TYPES: dict[str, str] = {**TOKEN_EVENT_TYPES, **AUDIT_EVENT_TYPES}


class WebhookEndpoint(models.Model):
    """Where events are POSTed, signed with the endpoint's secret (Standard Webhooks).

    An owner's endpoint receives the events of that owner's tokens; a staff endpoint (no
    owner) receives them for every account, and may subscribe to the audit stream."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        help_text="Empty for a staff endpoint, which receives every account's events.",
    )
    url = models.CharField("URL", max_length=2000)
    description = models.CharField(max_length=100, blank=True)
    # Needed in the clear to sign each delivery; shown once when the endpoint is added.
    secret = models.CharField(max_length=64, editable=False)
    # Space-separated keys of EVENT_TYPES.
    event_types = models.CharField(max_length=400)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Who added it: told by email should a staff endpoint be disabled.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    # The first failed delivery since the last successful one; None while healthy.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = "webhook endpoint"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "enabled"], name="apitokens_webhook_owner_idx")]

    def __str__(self) -> str:
        return self.description or self.url[:80]

    @property
    def event_type_list(self) -> list[str]:
        return [kind for kind in self.event_types.split() if kind in EVENT_TYPES]

    def subscribes_to(self, event_type: str) -> bool:
        return event_type in self.event_types.split()


class WebhookDelivery(models.Model):
    """One event sent to one endpoint: its signed body, and how each attempt went."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    # The `webhook-id` header: the same on every attempt, so a receiver can deduplicate.
    message_id = models.CharField(max_length=40, unique=True)
    event_type = models.CharField(max_length=40)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="apitokens_delivery_ep_idx"),
            models.Index(fields=["status", "next_attempt_at"], name="apitokens_delivery_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.get_status_display()})"
