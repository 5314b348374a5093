"""API tokens, their per-request activity, and their security log."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from apitokens import tokens

SCOPE_READ = "read"
SCOPE_WRITE = "write"
ALL_SCOPES = (SCOPE_READ, SCOPE_WRITE)


class APITokenQuerySet(models.QuerySet["APIToken"]):
    def active(self) -> APITokenQuerySet:
        """Tokens not deleted (expired ones included: they stay listed until deleted)."""
        return self.filter(revoked_at__isnull=True)

    def revoked(self) -> APITokenQuerySet:
        return self.filter(revoked_at__isnull=False)

    def usable(self, now: datetime | None = None) -> APITokenQuerySet:
        """Tokens that authenticate right now."""
        now = now or timezone.now()
        return self.active().filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class APIToken(models.Model):
    """A personal API token. Only the SHA-256 digest of its value is stored."""

    class RevokedBy(models.TextChoices):
        OWNER = "owner", "the owner"
        STAFF = "staff", "staff"
        SELF = "self", "the token itself (API)"
        LEAKED = "leaked", "reported as leaked"
        URL = "url", "sent in a URL"
        CLAIMED = "claimed", "the address's owner, taking over the account"

    public_id = models.CharField(
        max_length=16, unique=True, default=tokens.new_public_id, editable=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    identifier = models.CharField(max_length=16, editable=False)
    scopes = models.CharField(
        max_length=32, default=SCOPE_READ, help_text="Space-separated permissions: read, write."
    )
    # Normalised networks, one per line (apitokens/allowlist.py); "" allows any address.
    # On the row itself so the API's one lookup brings it along.
    allowed_ips = models.TextField(
        "IP allowlist", blank=True, default="", help_text="Addresses and CIDR ranges, one a line."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_used_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    # Expiry: None means "No expiration". lifetime_days remembers the choice so a
    # regenerate can apply the same lifetime again (None with expires_at = custom date).
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lifetime_days = models.PositiveIntegerField(null=True, blank=True)
    # Rotation: the value before the last regenerate keeps working until previous_expires_at.
    previous_digest = models.CharField(
        max_length=64, unique=True, null=True, blank=True, editable=False
    )
    previous_identifier = models.CharField(max_length=16, blank=True, editable=False)
    previous_expires_at = models.DateTimeField(null=True, blank=True)
    regenerated_at = models.DateTimeField(null=True, blank=True)
    # Expiry reminders already sent ("7d", "1d"), so the cron job is idempotent.
    reminders_sent = models.CharField(max_length=16, blank=True, default="")
    # When this token was last listed in an owner's stale-token digest (one a week at most).
    stale_digest_sent_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_reason = models.CharField(max_length=8, choices=RevokedBy.choices, blank=True)

    objects = APITokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"
        verbose_name_plural = "API tokens"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                "owner",
                Lower("name"),
                condition=Q(revoked_at__isnull=True),
                name="apitokens_active_name_unique_per_owner",
            ),
        ]
        indexes = [
            models.Index(
                fields=["owner", "revoked_at", "-created_at"], name="apitokens_owner_list_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.identifier})"

    @property
    def scope_list(self) -> list[str]:
        return [scope for scope in self.scopes.split() if scope in ALL_SCOPES]

    @property
    def allowed_ip_list(self) -> list[str]:
        """The IP allowlist's entries; [] when any address may use the token."""
        return self.allowed_ips.split()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes.split()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def status(self, now: datetime | None = None) -> str:
        if self.revoked_at is not None:
            return "deleted"
        if self.is_expired(now):
            return "expired"
        return "active"


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

    class Meta:
        verbose_name = "API activity"
        verbose_name_plural = "API activity"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at"], name="apitokens_activity_time_idx"),
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


class TokenPolicy(models.Model):
    """The site's token policy: one row, edited by staff in the admin.

    Without a row the environment's defaults apply (`defaults()`), so a fresh site behaves
    as QUICKBOT_TOKEN_MAX_LIFETIME_DAYS and QUICKBOT_STALE_TOKEN_DAYS say.
    """

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    max_lifetime_days = models.PositiveIntegerField(
        "maximum lifetime (days)",
        default=0,
        help_text="New tokens and regenerated values expire within this many days. 0: no maximum.",
    )
    expiry_required = models.BooleanField(
        "expiry required",
        default=False,
        help_text="“No expiration” is not offered; regenerating a token that never expires "
        "gives it the default lifetime (90 days, or the maximum if shorter).",
    )
    allowlist_required = models.BooleanField(
        "IP allowlist required for new tokens",
        default=False,
        help_text="New tokens must list the addresses or ranges they are used from.",
    )
    stale_token_days = models.PositiveIntegerField(
        "stale after (days)",
        default=60,
        help_text="An active token unused this long is flagged as unused. 0: never.",
    )
    updated_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = "token policy"
        verbose_name_plural = "token policy"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="apitokens_tokenpolicy_singleton"),
        ]

    def __str__(self) -> str:
        return "Token policy"

    @classmethod
    def defaults(cls) -> TokenPolicy:
        """The policy of a site whose staff never saved one (unsaved; from the settings)."""
        max_days = max(0, int(settings.QUICKBOT_TOKEN_MAX_LIFETIME_DAYS))
        return cls(
            id=cls.SINGLETON_ID,
            max_lifetime_days=max_days,
            expiry_required=bool(max_days),
            allowlist_required=False,
            stale_token_days=max(0, int(getattr(settings, "QUICKBOT_STALE_TOKEN_DAYS", 60))),
        )

    @classmethod
    def saved(cls) -> TokenPolicy | None:
        """The row staff saved, or None. Never raises."""
        try:
            return cls.objects.filter(pk=cls.SINGLETON_ID).first()
        except Exception:  # noqa: BLE001 - a missing table (before migrate) means defaults
            return None

    @classmethod
    def current(cls) -> TokenPolicy:
        """The policy in force: the saved row, else `defaults()`. Never raises."""
        return cls.saved() or cls.defaults()

    @property
    def allows_no_expiration(self) -> bool:
        return not (self.max_lifetime_days or self.expiry_required)
