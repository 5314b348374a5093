"""The site's token policy, edited by staff."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


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
