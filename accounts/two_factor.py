"""Two-factor authentication: a TOTP authenticator app (pyotp) and ten recovery codes.

Set-up creates an unconfirmed authenticator with a fresh key, shown as a QR code (an SVG
drawn on the server by segno) and as text; the first correct code turns it on and issues
the recovery codes, whose values are shown once and stored as SHA-256 digests. A TOTP code
is accepted for the current 30-second step or the one either side, and each step only once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import pyotp
import segno
from django.db import transaction
from django.utils import timezone

from accounts.models import RecoveryCode, TwoFactor, User

ISSUER = "QuickBot"
RECOVERY_CODE_COUNT = 10
# Unambiguous lower-case letters and digits (no 0/o, 1/l/i), grouped "xxxxx-xxxxx".
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


class EmailNotConfirmed(Exception):
    """Two-factor set-up was asked for an account whose address is not confirmed: until
    then the account is only a claim on the address, and its owner may still take it."""


def _require_confirmed_email(user: User) -> None:
    if not user.email_verified:
        raise EmailNotConfirmed(user.pk)


def _digest(code: str) -> str:
    normalized = "".join(code.split()).replace("-", "").lower()
    return hashlib.sha256(normalized.encode()).hexdigest()


def two_factor_enabled(user: User) -> bool:
    """Whether the account asks for a second factor at sign-in."""
    return TwoFactor.objects.filter(user=user, confirmed_at__isnull=False).exists()


def two_factor_setup_begin(*, user: User, now: datetime | None = None) -> TwoFactor:
    """A pending (unconfirmed) authenticator with a fresh key, replacing any pending one.
    An enabled authenticator is returned unchanged.

    Raises EmailNotConfirmed for an account whose address is not confirmed."""
    _require_confirmed_email(user)
    existing = TwoFactor.objects.filter(user=user).first()
    if existing is not None and existing.is_enabled:
        return existing
    TwoFactor.objects.filter(user=user).delete()
    return TwoFactor.objects.create(
        user=user, secret=pyotp.random_base32(), created_at=now or timezone.now()
    )


def provisioning_uri(device: TwoFactor) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(device.secret).provisioning_uri(name=device.user.email, issuer_name=ISSUER)


def qr_code_svg(device: TwoFactor) -> str:
    """The provisioning URI as an inline SVG QR code (no script, no style: CSP-safe)."""
    return segno.make(provisioning_uri(device), error="m").svg_inline(scale=4, border=2)


def _accept_totp(device: TwoFactor, code: str, now: datetime) -> bool:
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return False
    totp = pyotp.TOTP(device.secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            # Claim the step with a guarded update: a code cannot be used twice, even at once.
            claimed = (
                TwoFactor.objects.filter(pk=device.pk)
                .exclude(last_step__gte=step)
                .update(last_step=step)
            )
            return bool(claimed)
    return False


def recovery_codes_issue(*, user: User) -> list[str]:
    """Replace the account's recovery codes with ten new ones; return their values (shown once).

    Raises EmailNotConfirmed for an account whose address is not confirmed."""
    _require_confirmed_email(user)
    codes = [
        "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user=user, digest=_digest(code)) for code in codes
        )
    return codes


def two_factor_enable(*, user: User, code: str, now: datetime | None = None) -> list[str] | None:
    """Turn on the pending authenticator if `code` is right; return the new recovery codes,
    or None for a wrong code (or no pending set-up).

    Raises EmailNotConfirmed for an account whose address is not confirmed."""
    _require_confirmed_email(user)
    now = now or timezone.now()
    device = TwoFactor.objects.filter(user=user, confirmed_at__isnull=True).first()
    if device is None or not _accept_totp(device, code, now):
        return None
    TwoFactor.objects.filter(pk=device.pk).update(confirmed_at=now)
    return recovery_codes_issue(user=user)


def two_factor_disable(*, user: User) -> bool:
    """Turn two-factor off: the authenticator and the recovery codes are deleted."""
    with transaction.atomic():
        deleted, _ = TwoFactor.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
    return bool(deleted)


def second_factor_verify(*, user: User, code: str, now: datetime | None = None) -> str | None:
    """ "totp" or "recovery" when `code` is a valid authenticator code or an unused recovery
    code of the account (which is then used up), else None."""
    now = now or timezone.now()
    device = TwoFactor.objects.filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        return None
    if _accept_totp(device, code, now):
        return "totp"
    used = RecoveryCode.objects.filter(
        user=user, digest=_digest(code), used_at__isnull=True
    ).update(used_at=now)
    return "recovery" if used else None


def totp_verify(*, user: User, code: str, now: datetime | None = None) -> bool:
    """Whether `code` is a valid authenticator code of the account's enabled authenticator."""
    device = TwoFactor.objects.filter(user=user, confirmed_at__isnull=False).first()
    return device is not None and _accept_totp(device, code, now or timezone.now())


def recovery_codes_left(user: User) -> int:
    """How many unused recovery codes the account has."""
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
