"""Refuse logins for a while after repeated failures from one IP or for one account.

Counters live in the default cache, so every app server shares them when the cache is
Redis. After QUICKBOT_LOGIN_FAILURE_LIMIT failed logins (counted over a window of
QUICKBOT_LOGIN_LOCKOUT_SECONDS from the first failure), that IP address or that email
address is locked for QUICKBOT_LOGIN_LOCKOUT_SECONDS. An IPv6 client counts by its /64
(`common.clientip.rate_limit_key`, as for every per-address limit). While locked, no
password is checked. A successful login clears the account's counter. If the cache is down,
logins are allowed (the password check still applies) and the error is logged. Sign-ups per
address and reset and verification e-mails per address are counted the same way: every
counter is a `common.fixed_window.FixedWindowCounter`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings

from common.clientip import rate_limit_key
from common.fixed_window import FixedWindowCounter

logger = logging.getLogger(__name__)

KEY_PREFIX = "login-limiter"
_counter = FixedWindowCounter(logger=logger)


@dataclass(frozen=True, slots=True)
class Lockout:
    """An active lock: how many whole seconds remain."""

    retry_after_seconds: int

    @property
    def retry_after_minutes(self) -> int:
        return max(1, math.ceil(self.retry_after_seconds / 60))


def _digest(value: str) -> str:
    # Hash so that any email (spaces, unicode, 254 characters) makes a short, safe cache key.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _keys(*, ip: str | None, email: str) -> list[tuple[str, str]]:
    """(failure counter key, lock key) for the IP and for the account."""
    # Requests without a known address (no REMOTE_ADDR) share one counter.
    subjects = [f"ip:{_digest(rate_limit_key(ip) or 'unknown')}"]
    normalized_email = email.strip().lower()
    if normalized_email:
        subjects.append(f"email:{_digest(normalized_email)}")
    return [
        (f"{KEY_PREFIX}:fail:{subject}", f"{KEY_PREFIX}:lock:{subject}") for subject in subjects
    ]


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def login_lockout_get(*, ip: str | None, email: str, now: float | None = None) -> Lockout | None:
    """Return the active lock for this IP or account (the longer one), or None."""
    now = _now(now)
    lock_keys = [lock_key for _, lock_key in _keys(ip=ip, email=email)]
    with _counter.failing_open("Login limiter: cache unavailable, not checking lockout"):
        remaining = _counter.locked_for(lock_keys, now=now)
        return Lockout(retry_after_seconds=math.ceil(remaining)) if remaining > 0 else None
    return None


def login_failure_record(*, ip: str | None, email: str, now: float | None = None) -> Lockout | None:
    """Count one failed login for the IP and the account; return the lock if one started."""
    now = _now(now)
    limit = settings.QUICKBOT_LOGIN_FAILURE_LIMIT
    lockout_seconds = settings.QUICKBOT_LOGIN_LOCKOUT_SECONDS
    started: Lockout | None = None
    with _counter.failing_open("Login limiter: cache unavailable, failure not counted"):
        for fail_key, lock_key in _keys(ip=ip, email=email):
            if _counter.hit(fail_key, window=lockout_seconds) >= limit:
                _counter.lock(
                    lock_key,
                    until=now + lockout_seconds,
                    seconds=lockout_seconds,
                    count_key=fail_key,
                )
                started = Lockout(retry_after_seconds=lockout_seconds)
        if started is not None:
            logger.warning("Login locked for %s seconds after %s failures", lockout_seconds, limit)
        return started
    return None


def login_success_record(*, email: str) -> None:
    """Forget the account's failures and lock (after a login or a password reset)."""
    keys = [key for pair in _keys(ip="", email=email)[1:] for key in pair]
    with _counter.failing_open("Login limiter: cache unavailable, account counter not cleared"):
        _counter.forget(keys)


RESET_WINDOW_SECONDS = 3600


def password_reset_email_allowed(*, email: str) -> bool:
    """Count one reset email to `email`; False once the hourly allowance is used up.

    The counter is per address (hashed), so one victim cannot be flooded from many IPs.
    If the cache is down, the email is allowed and the error logged.
    """
    normalized = email.strip().lower()
    if not normalized:
        return True
    key = f"{KEY_PREFIX}:reset:{_digest(normalized)}"
    with _counter.failing_open("Password reset limiter: cache unavailable, not counting"):
        sent = _counter.hit(key, window=RESET_WINDOW_SECONDS)
        if sent > settings.QUICKBOT_PASSWORD_RESET_EMAILS_PER_HOUR:
            logger.warning("Password reset email withheld: hourly allowance used for an address")
            return False
    return True


def signup_attempt_record(*, ip: str | None, now: float | None = None) -> Lockout | None:
    """Count one sign-up attempt from `ip`; return the lock once the window's allowance
    (QUICKBOT_SIGNUP_LIMIT per QUICKBOT_SIGNUP_WINDOW_SECONDS) is used up, else None.

    Every attempt counts, valid or not, so the form cannot be used to probe many addresses.
    If the cache is down, the attempt is allowed and the error logged.
    """
    now = _now(now)
    window = settings.QUICKBOT_SIGNUP_WINDOW_SECONDS
    subject = _digest(rate_limit_key(ip) or "unknown")
    count_key, lock_key = f"{KEY_PREFIX}:signup:{subject}", f"{KEY_PREFIX}:signup-lock:{subject}"
    with _counter.failing_open("Sign-up limiter: cache unavailable, not counting"):
        remaining = _counter.locked_for([lock_key], now=now)
        if remaining > 0:
            return Lockout(retry_after_seconds=math.ceil(remaining))
        attempts = _counter.hit(count_key, window=window)
        if attempts > settings.QUICKBOT_SIGNUP_LIMIT:
            _counter.lock(lock_key, until=now + window, seconds=window, count_key=count_key)
            logger.warning("Sign-up paused for an IP after %s attempts", attempts - 1)
            return Lockout(retry_after_seconds=window)
    return None


VERIFICATION_RESEND_PER_HOUR = 3


def verification_email_allowed(*, email: str) -> bool:
    """Count one verification email to `email`; False after VERIFICATION_RESEND_PER_HOUR."""
    key = f"{KEY_PREFIX}:verify:{_digest(email.strip().lower())}"
    with _counter.failing_open("Verification email limiter: cache unavailable, not counting"):
        return _counter.hit(key, window=RESET_WINDOW_SECONDS) <= VERIFICATION_RESEND_PER_HOUR
    return True
