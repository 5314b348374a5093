"""A token's per-request activity, its hourly rollup, and the addresses it was used from."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apitokens.models.tokens import SAFE_METHODS, APIToken


class TokenActivity(models.Model):
    """One API request made with a known token (never the token value or header)."""

    # No single-column FK indexes: the composite (token, …) and (owner, …) indexes below
    # lead with these columns and serve the same lookups; every index costs each INSERT.
    token = models.ForeignKey(
        APIToken, on_delete=models.CASCADE, related_name="activity", db_index=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="token_activity",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=512)
    status = models.PositiveSmallIntegerField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    # Set when the request used a deleted or expired token: someone still holds it.
    flagged = models.BooleanField(default=False)
    used_previous_value = models.BooleanField(default=False)
    # Served, but its address is outside the token's report-only allowlist: it would have
    # been refused were the list enforced.
    outside_allowlist = models.BooleanField(default=False, db_default=False)
    # The QuickBot-Request-Id the response carried ("" for rows written before it existed).
    request_id = models.CharField(max_length=64, blank=True, default="", db_default="")

    class Meta:
        verbose_name = "API activity"
        verbose_name_plural = "API activity"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at"], name="apitokens_activity_time_idx"),
            models.Index(fields=["request_id"], name="apitokens_activity_reqid_idx"),
            models.Index(fields=["token", "-created_at"], name="apitokens_activity_token_idx"),
            models.Index(fields=["owner", "-created_at"], name="apitokens_activity_owner_idx"),
            models.Index(fields=["status", "-created_at"], name="apitokens_activity_status_idx"),
            models.Index(fields=["ip", "-created_at"], name="apitokens_activity_ip_idx"),
            # Staff search the activity by exact path (admin); newest first.
            models.Index(fields=["path", "-created_at"], name="apitokens_activity_path_idx"),
            # "Has this token used this IP before?" (suspicious-event rules): one probe.
            models.Index(
                fields=["token", "ip", "created_at"], name="apitokens_activity_tok_ip_idx"
            ),
            # "Did this token make a write request lately?" (the read-only suggestion): only
            # writes are indexed, so a busy read-only caller costs nothing here.
            models.Index(
                fields=["token", "created_at"],
                condition=~models.Q(method__in=sorted(SAFE_METHODS)),
                name="apitokens_activity_write_idx",
            ),
            # Requests a report-only allowlist would have refused (the token page's count and
            # filter): rare rows, so the index stays small.
            models.Index(
                fields=["token", "-created_at"],
                condition=models.Q(outside_allowlist=True),
                name="apitokens_activity_out_tok_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}"


class TokenUsageHour(models.Model):
    """Requests of one token in one UTC hour, by status class: the rollup every chart and
    count reads. Written with the activity rows (apitokens/activity/writer.py), same transaction."""

    token = models.ForeignKey(
        APIToken, on_delete=models.CASCADE, related_name="usage_hours", db_index=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    hour = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    status_2xx = models.PositiveIntegerField(default=0)
    status_401 = models.PositiveIntegerField(default=0)
    status_403 = models.PositiveIntegerField(default=0)
    status_429 = models.PositiveIntegerField(default=0)
    # 4xx other than the refusals 401, 403 and 429.
    status_4xx_other = models.PositiveIntegerField(default=0)
    status_5xx = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "hourly token usage"
        verbose_name_plural = "hourly token usage"
        constraints = [
            models.UniqueConstraint(fields=["token", "hour"], name="apitokens_usage_token_hour"),
        ]
        indexes = [
            models.Index(fields=["hour"], name="apitokens_usage_hour_idx"),
            models.Index(fields=["owner", "hour"], name="apitokens_usage_owner_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.token_id} @ {self.hour:%Y-%m-%d %H}:00: {self.requests}"


class TokenAddress(models.Model):
    """Each address a token was used from, with its first and last request: the facts
    behind "new IP" (one row per token and address, written with the activity rows)."""

    token = models.ForeignKey(
        APIToken, on_delete=models.CASCADE, related_name="addresses", db_index=False
    )
    ip = models.GenericIPAddressField()
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        verbose_name = "token address"
        verbose_name_plural = "token addresses"
        constraints = [
            models.UniqueConstraint(fields=["token", "ip"], name="apitokens_address_token_ip"),
        ]
        indexes = [
            models.Index(fields=["token", "first_seen_at"], name="apitokens_address_first_idx"),
            models.Index(fields=["first_seen_at"], name="apitokens_address_time_idx"),
            models.Index(fields=["last_seen_at"], name="apitokens_address_last_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.token_id} from {self.ip}"
