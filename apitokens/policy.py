"""The token policy in force, from a short per-process memo (`policy_memoized`), and the
one rule for which existing tokens break it (`breach_condition`, `breach_reasons`).

Forms and services that issue a value read it fresh (`TokenPolicy.current()`, one query).
Hot readers that ask for every row of a page (the stale rule) read the memo: a change made
by staff applies in the process that saved it at once and in the others within MEMO_SECONDS.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from django.db.models import Q
from django.dispatch import receiver
from django.test.signals import setting_changed

from apitokens import allowlist
from apitokens.models import APIToken, TokenPolicy

MEMO_SECONDS = 10.0


class PolicyMemo:
    """This process's copy of the saved policy row, read at most every MEMO_SECONDS."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._memo: tuple[float, TokenPolicy | None] | None = None  # (read at, row or None)

    def get(self) -> TokenPolicy:
        """The policy in force, at most MEMO_SECONDS old; no query while the memo is fresh.
        Without a saved row the settings' defaults are read each time (they may change)."""
        memo = self._memo
        now = time.monotonic()
        if memo is None or now - memo[0] > MEMO_SECONDS:
            row = TokenPolicy.saved()
            with self._mutex:
                self._memo = memo = (now, row)
        return memo[1] if memo[1] is not None else TokenPolicy.defaults()

    def reset(self) -> None:
        """Drop the memo: the next read queries the saved row."""
        with self._mutex:
            self._memo = None


policy_memo = PolicyMemo()


def policy_memoized() -> TokenPolicy:
    """The policy in force, at most MEMO_SECONDS old (`PolicyMemo.get`)."""
    return policy_memo.get()


def policy_forget() -> None:
    """Drop the memo (after staff save the policy, and between tests)."""
    policy_memo.reset()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs) -> None:
    if setting.startswith("QUICKBOT_"):
        policy_forget()


def breach_condition(policy: TokenPolicy, now: datetime) -> Q:
    """Usable tokens that break `policy`, as a filter on APIToken (matches nothing when
    the policy asks for nothing): an expiry later than the maximum allows from today, no
    expiry where one is required, no IP allowlist where one is required (an allowlist that
    restricts nothing, such as 0.0.0.0/1 with 128.0.0.0/1, counts as none)."""
    breach = Q(pk__in=[])
    if policy.max_lifetime_days:
        latest = now + timedelta(days=policy.max_lifetime_days)
        breach |= Q(expires_at__isnull=True) | Q(expires_at__gt=latest)
    elif policy.expiry_required:
        breach |= Q(expires_at__isnull=True)
    if policy.allowlist_required:
        # A report-only list refuses nothing: only an enforced one meets the policy.
        breach |= (
            Q(allowed_ips="")
            | Q(allowlist_report_only=True)
            | Q(allowed_ips__in=_unrestricted_allowlists())
        )
    return breach


def _unrestricted_allowlists() -> list[str]:
    """The stored allowlists that restrict nothing (saved before such lists were refused):
    one query over the distinct lists holding a range, as single addresses never do."""
    stored = (
        APIToken.objects.filter(allowed_ips__contains="/")
        .order_by()
        .values_list("allowed_ips", flat=True)
        .distinct()
    )
    return [text for text in stored if allowlist.allowlist_unrestricted(text)]


def breach_reasons(token: APIToken, policy: TokenPolicy, now: datetime) -> list[str]:
    """How one token breaks `policy`, in words for staff ([] when it does not)."""
    reasons = []
    if policy.max_lifetime_days:
        if token.expires_at is None:
            reasons.append("never expires")
        elif token.expires_at > now + timedelta(days=policy.max_lifetime_days):
            reasons.append(f"expires more than {policy.max_lifetime_days} days from today")
    elif policy.expiry_required and token.expires_at is None:
        reasons.append("never expires")
    if policy.allowlist_required and not token.allowed_ips:
        reasons.append("has no IP allowlist")
    elif policy.allowlist_required and allowlist.allowlist_unrestricted(token.allowed_ips):
        reasons.append("has an IP allowlist that restricts nothing")
    elif policy.allowlist_required and token.allowlist_report_only:
        reasons.append("has an IP allowlist in report-only mode (it refuses nothing)")
    return reasons
