"""Signed, expiring, one-use links for email verification (Django's reset-token scheme)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator

from accounts.models import User


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """An HMAC of the account's id, address and verification state with a timestamp:
    verifying (or changing the address) invalidates every link sent before."""

    key_salt = "accounts.tokens.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        verified = "" if user.email_verified_at is None else user.email_verified_at.isoformat()
        return f"{user.pk}{user.email.lower()}{verified}{timestamp}"

    def check_token(self, user: User | None, token: str | None) -> bool:
        if not super().check_token(user, token):
            return False
        # The parent allows PASSWORD_RESET_TIMEOUT; a verification link has its own lifetime.
        timestamp = int(token.split("-")[0], 36)
        age = self._num_seconds(self._now()) - timestamp
        return age <= settings.QUICKBOT_EMAIL_VERIFICATION_SECONDS


email_verification_token_generator = EmailVerificationTokenGenerator()
