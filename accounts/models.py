"""The QuickBot account: email is the login."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac


class UserManager(BaseUserManager["User"]):
    """Creates users and superusers keyed by a normalised email address."""

    use_in_migrations = True

    def get_by_natural_key(self, email: str) -> User:
        return self.get(email__iexact=email)

    def _create_user(self, email: str, password: str | None, **extra_fields) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).strip(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields) -> User:
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields) -> User:
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        # An operator created it on the server: the address needs no emailed proof.
        extra_fields.setdefault("email_verified_at", timezone.now())
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person with a QuickBot account."""

    email = models.EmailField("email address", max_length=254, unique=True)
    display_name = models.CharField("display name", max_length=80, blank=True)
    is_staff = models.BooleanField(
        "staff status", default=False, help_text="Can log into the admin site."
    )
    is_active = models.BooleanField(
        "active",
        default=True,
        help_text="Unticking this stops all of the account's API tokens at once.",
    )
    date_joined = models.DateTimeField("date joined", default=timezone.now)
    email_verified_at = models.DateTimeField(
        "email verified",
        null=True,
        blank=True,
        help_text="When the owner proved the address (link, reset). Empty: no new API tokens.",
    )
    api_hourly_limit = models.PositiveIntegerField(
        "API hourly request limit",
        null=True,
        blank=True,
        help_text="Overrides QUICKBOT_API_HOURLY_LIMIT for this account. Empty = site default.",
    )

    # Raised by "sign out everywhere else": every session signed with the old value ends.
    sessions_version = models.PositiveIntegerField(default=0, editable=False)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = "user"
        verbose_name_plural = "users"
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).strip()

    def get_session_auth_hash(self) -> str:
        # Version 0 keeps Django's own hash, so existing sessions survive this field's arrival.
        if not self.sessions_version:
            return super().get_session_auth_hash()
        return self._versioned_session_hash(secret=None)

    def get_session_auth_fallback_hash(self):
        if not self.sessions_version:
            yield from super().get_session_auth_fallback_hash()
            return
        for fallback_secret in settings.SECRET_KEY_FALLBACKS:
            yield self._versioned_session_hash(secret=fallback_secret)

    def _versioned_session_hash(self, *, secret: str | None) -> str:
        return salted_hmac(
            "accounts.User.get_session_auth_hash",
            f"{self.password}:{self.sessions_version}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def get_full_name(self) -> str:
        return self.display_name or self.email

    def get_short_name(self) -> str:
        return self.display_name or self.email.split("@")[0]


class TwoFactor(models.Model):
    """The account's TOTP authenticator (RFC 6238). Unconfirmed until a first code is
    entered; then every password sign-in also asks for a code."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="two_factor"
    )
    # Base32 TOTP key. It must be readable to check codes, so it is as secret as a password
    # hash: never shown after set-up, never logged.
    secret = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The last 30-second step a code was accepted for: a code works once.
    last_step = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "two-factor authenticator"

    def __str__(self) -> str:
        return f"Authenticator of {self.user}"

    @property
    def is_enabled(self) -> bool:
        return self.confirmed_at is not None


class RecoveryCode(models.Model):
    """A one-time code that stands in for the authenticator. Only its SHA-256 is kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    digest = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "digest"], name="accounts_recovery_code_unique")
        ]

    def __str__(self) -> str:
        return f"Recovery code of {self.user}"


class AccountEvent(models.Model):
    """One line of the account's security log: sign-ins, failures, password and
    two-factor changes, email confirmation, signing out other sessions, and the address's
    owner taking over an unconfirmed account."""

    class Kind(models.TextChoices):
        SIGNED_IN = "signed_in", "Signed in"
        SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        PASSWORD_RESET = "password_reset", "Password reset by email"
        TWO_FACTOR_ON = "two_factor_on", "Two-factor turned on"
        TWO_FACTOR_OFF = "two_factor_off", "Two-factor turned off"
        RECOVERY_CODES = "recovery_codes", "New recovery codes"
        EMAIL_VERIFIED = "email_verified", "Email address confirmed"
        SIGNED_OUT_OTHERS = "signed_out_others", "Signed out everywhere else"
        ACCOUNT_CLAIMED = "account_claimed", "Email address confirmed, account taken fresh"
        SESSIONS_ENDED_BY_STAFF = "sessions_ended_staff", "All sessions ended by staff"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_events"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    detail = models.CharField(max_length=120, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "account security event"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="accounts_event_user_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.user})"
