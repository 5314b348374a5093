"""The security log of tokens: who changed or used what, when, from where."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apitokens.models.tokens import APIToken


class SecurityEvent(models.Model):
    """A token lifecycle event. Written by services, never edited or deleted by the app."""

    class Kind(models.TextChoices):
        CREATED = "created", "Token created"
        RENAMED = "renamed", "Token renamed"
        REGENERATED = "regenerated", "Token regenerated"
        SCOPES_CHANGED = "scopes_changed", "Permissions changed"
        ALLOWLIST_CHANGED = "allowlist_changed", "IP allowlist changed"
        EXPIRY_CHANGED = "expiry_changed", "Expiry changed"
        DELETED = "deleted", "Token deleted"
        DELETED_TOKEN_USED = "deleted_token_used", "Deleted token used"
        EXPIRED_TOKEN_USED = "expired_token_used", "Expired token used"
        UNKNOWN_TOKENS = "unknown_tokens", "Unknown tokens presented"
        LEAK_REPORT = "leak_report", "Leaked tokens reported"
        PAUSED = "paused", "Token paused"
        RESUMED = "resumed", "Token resumed"
        ALLOWLIST_ENFORCED = "allowlist_enforced", "IP allowlist enforced"
        OVERLAP_ENDED = "overlap_ended", "Old value ended"
        LOOKED_UP = "looked_up", "Token looked up by its value"
        WEBHOOK_ADDED = "webhook_added", "Webhook endpoint added"
        WEBHOOK_DELETED = "webhook_deleted", "Webhook endpoint deleted"
        WEBHOOK_DISABLED = "webhook_disabled", "Webhook endpoint disabled after failures"

    class Actor(models.TextChoices):
        USER = "user", "the account owner"
        STAFF = "staff", "staff"
        TOKEN = "token", "the token itself"
        SYSTEM = "system", "QuickBot"
        CLIENT = "client", "an API client"

    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    token = models.ForeignKey(
        APIToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="security_events"
    )
    token_name = models.CharField(max_length=100, blank=True)
    token_identifier = models.CharField(max_length=16, blank=True)
    # None for events of no account: unknown tokens presented from one address.
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="security_events",
    )
    actor_kind = models.CharField(max_length=8, choices=Actor.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    count = models.PositiveIntegerField(default=1)
    detail = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="apitokens_event_account_idx"),
            models.Index(fields=["token", "-created_at"], name="apitokens_event_token_idx"),
            models.Index(fields=["kind", "-created_at"], name="apitokens_event_kind_idx"),
            models.Index(fields=["created_at"], name="apitokens_event_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.token_name or self.token_identifier}"
