"""An API token: its value's digest, owner, permissions, allowlist, expiry, regenerate overlap
and pause; and the owner's dismissed right-sizing suggestions."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from apitokens import expiry, tokens

SCOPE_READ = "read"
SCOPE_WRITE = "write"
ALL_SCOPES = (SCOPE_READ, SCOPE_WRITE)
# Methods that need `read`; any other needs `write` (the API's check and the suggestions').
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
    # Paused: refused with its own error until resumed; nothing else about it changes.
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Report only: requests from outside the allowlist are served and recorded as "would have
    # been refused" (TokenActivity.outside_allowlist) until the owner enforces the list.
    allowlist_report_only = models.BooleanField("IP allowlist in report-only mode", default=False)
    # Regenerate overlap "until its traffic stops": the old value lasts until 24 hours pass
    # without a request using it, previous_expires_at (7 days at most) being the hard end.
    overlap_until_quiet = models.BooleanField(default=False)
    # The "old value still in use, overlap ends in an hour" e-mail went out for this overlap.
    overlap_warning_sent_at = models.DateTimeField(null=True, blank=True)

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

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    @property
    def paused_by_staff(self) -> bool:
        """Paused by someone other than its owner (only staff can): only staff resume it.
        Read from the row itself (no join), so the API's refusal can say so for free."""
        return self.is_paused and self.paused_by_id not in (None, self.owner_id)

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    @property
    def previous_hard_end(self) -> datetime | None:
        """The latest moment the replaced value can work: its overlap's end, or for one
        "until its traffic stops", 7 days after the regenerate (`previous_expires_at` is then
        the sooner quiet end, moved on as the old value is used)."""
        if self.overlap_until_quiet and self.regenerated_at is not None:
            return self.regenerated_at + expiry.QUIET_OVERLAP_MAX
        return self.previous_expires_at

    def status(self, now: datetime | None = None) -> str:
        if self.revoked_at is not None:
            return "deleted"
        if self.is_expired(now):
            return "expired"
        return "active"


class TokenSuggestionDismissal(models.Model):
    """A right-sizing suggestion the owner dismissed for one token: it stays dismissed."""

    class Kind(models.TextChoices):
        READ_ONLY = "read_only", "Make it read-only"
        ALLOWLIST = "allowlist", "Allow only the addresses it is used from"
        DELETE = "delete", "Delete the unused token"

    token = models.ForeignKey(
        APIToken, on_delete=models.CASCADE, related_name="dismissed_suggestions"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    dismissed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "dismissed suggestion"
        constraints = [
            models.UniqueConstraint(fields=["token", "kind"], name="apitokens_dismissal_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.token_id}: {self.kind}"
