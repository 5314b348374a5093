"""Right-sizing suggestions from a token's own use: the rules live here and nowhere else.

For a usable token at least `JUDGE_AFTER_DAYS` days old (so the whole window is its own
history), over the last `JUDGE_AFTER_DAYS` days:

- **delete**: the stale rule (`apitokens.stale.is_stale`) holds; then nothing else is
  suggested (an unused token needs no tightening);
- **read-only**: it has both read and write, made at least one request, and none of them
  used a method that needs write (anything but GET, HEAD, OPTIONS, refused or not);
- **allowlist**: it has no allowlist, made at least one request, every request came from a
  known address, and those addresses make at most `MAX_SUGGESTED_NETWORKS` entries once
  addresses sharing an IPv4 /24 or an IPv6 /64 are grouped as that network.

Counts come from the hourly rollups and the per-address facts; the only raw-row reads are
two `EXISTS` probes on the (token, time) and (token, ip, time) indexes. A dismissed kind
(`TokenSuggestionDismissal`) is not suggested again for that token.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from apitokens import allowlist, stale
from apitokens.models import (
    SCOPE_READ,
    SCOPE_WRITE,
    APIToken,
    TokenActivity,
    TokenAddress,
    TokenSuggestionDismissal,
    TokenUsageHour,
)
from apitokens.models.tokens import SAFE_METHODS
from apitokens.selectors.usage import hour_floor

Kind = TokenSuggestionDismissal.Kind
JUDGE_AFTER_DAYS = 30
# "A handful": more entries than this is not a list a person reads and checks at a glance.
MAX_SUGGESTED_NETWORKS = 4
# Addresses read at most; more than this many in 30 days is not a short list either.
MAX_ADDRESSES_READ = 256
GROUP_PREFIX = {4: 24, 6: 64}


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One suggestion for one token: its kind, what it says, and what applying it sets."""

    kind: str
    title: str
    detail: str
    # The allowlist suggestion's networks, and their stored form (apitokens/allowlist.py).
    networks: tuple[str, ...] = ()
    idle_days: int = 0

    @property
    def allowed_ips(self) -> str:
        return "\n".join(self.networks)


def judge_window_start(now: datetime) -> datetime:
    """The first moment of the window the rules look at."""
    return now - timedelta(days=JUDGE_AFTER_DAYS)


def token_judgeable(token: APIToken, now: datetime) -> bool:
    """Whether a token is old enough (and its activity kept long enough) to judge: usable,
    created at least JUDGE_AFTER_DAYS days ago, and the activity retention covers them."""
    return (
        token.revoked_at is None
        and not token.is_expired(now)
        and token.created_at <= judge_window_start(now)
        and settings.QUICKBOT_ACTIVITY_RETENTION_DAYS >= JUDGE_AFTER_DAYS
    )


def token_requests_since(*, token: APIToken, since: datetime) -> int:
    """Requests with the token from the hour holding `since` on (hourly rollups)."""
    total = TokenUsageHour.objects.filter(
        token=token, hour__gte=hour_floor(since.astimezone(UTC))
    ).aggregate(total=Sum("requests"))["total"]
    return total or 0


def token_write_requests_exist(*, token: APIToken, since: datetime) -> bool:
    """Whether any request with the token since `since` used a method that needs write."""
    return (
        TokenActivity.objects.filter(token=token, created_at__gte=since)
        # Sorted: the same SQL every time, so a partial index on it can be matched.
        .exclude(method__in=sorted(SAFE_METHODS))
        .exists()
    )


def allowlist_from_addresses(addresses: Iterable[str]) -> tuple[str, ...] | None:
    """The allowlist entries covering `addresses`: one address alone stays itself, addresses
    sharing an IPv4 /24 or IPv6 /64 become that network. None when that is more than
    MAX_SUGGESTED_NETWORKS entries, or a list the allowlist rules refuse."""
    groups: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, set] = {}
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return None
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            address = mapped
        network = ipaddress.ip_network(f"{address}/{GROUP_PREFIX[address.version]}", strict=False)
        groups.setdefault(network, set()).add(address)
        if len(groups) > MAX_SUGGESTED_NETWORKS:
            return None
    if not groups:
        return None
    entries = sorted(
        (
            (network.version, network.network_address, network.prefixlen)
            if len(members) > 1
            else (network.version, next(iter(members)), network.max_prefixlen)
        )
        for network, members in groups.items()
    )
    text = "\n".join(
        str(address) if prefix == (32 if version == 4 else 128) else f"{address}/{prefix}"
        for version, address, prefix in entries
    )
    try:
        return tuple(allowlist.allowlist_normalize(text).split())
    except allowlist.AllowlistError:
        return None


def token_recent_allowlist(*, token: APIToken, since: datetime) -> tuple[str, ...] | None:
    """The allowlist covering every address the token was used from since `since`, or
    None: a request without a known address, too many addresses or networks."""
    if TokenActivity.objects.filter(token=token, ip__isnull=True, created_at__gte=since).exists():
        return None
    addresses = list(
        TokenAddress.objects.filter(token=token, last_seen_at__gte=since)
        .order_by("ip")
        .values_list("ip", flat=True)[: MAX_ADDRESSES_READ + 1]
    )
    if len(addresses) > MAX_ADDRESSES_READ:
        return None
    return allowlist_from_addresses(addresses)


def _idle_days(token: APIToken, now: datetime) -> int:
    return (now - (token.last_used_at or token.created_at)).days


def _delete_suggestion(token: APIToken, now: datetime) -> Suggestion:
    days = _idle_days(token, now)
    if token.last_used_at is None:
        title = f"Never used in {days} days — delete it"
        detail = "No request has used this token since it was created."
    else:
        title = f"Not used for {days} days — delete it"
        detail = "Delete tokens you no longer need: an unused token can only leak."
    return Suggestion(kind=Kind.DELETE, title=title, detail=detail, idle_days=days)


def _read_only_suggestion() -> Suggestion:
    return Suggestion(
        kind=Kind.READ_ONLY,
        title=f"No write requests in {JUDGE_AFTER_DAYS} days — make it read-only",
        detail="Every request it made only read data. Without write, a leaked value cannot "
        "change anything.",
    )


_COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}


def _counted(count: int, singular: str, plural: str) -> str:
    return f"{_COUNT_WORDS.get(count, count)} {singular if count == 1 else plural}"


def _allowlist_suggestion(networks: tuple[str, ...]) -> Suggestion:
    ranges = sum("/" in network for network in networks)
    addresses = len(networks) - ranges
    parts = [
        _counted(count, singular, plural)
        for count, singular, plural in (
            (addresses, "address", "addresses"),
            (ranges, "network", "networks"),
        )
        if count
    ]
    where = " and ".join(parts)
    if len(parts) == 1 and len(networks) > 1:
        where = f"these {where}"
    return Suggestion(
        kind=Kind.ALLOWLIST,
        title=f"Every request in {JUDGE_AFTER_DAYS} days came from {where} — allow only "
        f"{'it' if len(networks) == 1 else 'these'}",
        detail="With an IP allowlist, a leaked value is refused from anywhere else.",
        networks=networks,
    )


def token_suggestions(
    *, token: APIToken, now: datetime | None = None, include_dismissed: bool = False
) -> list[Suggestion]:
    """The suggestions for `token` now (the module's rules), dismissed kinds left out
    unless `include_dismissed`."""
    now = now or timezone.now()
    if not token_judgeable(token, now):
        return []
    dismissed = (
        set()
        if include_dismissed
        else set(token.dismissed_suggestions.values_list("kind", flat=True))
    )
    if stale.is_stale(token, now):
        return [] if Kind.DELETE in dismissed else [_delete_suggestion(token, now)]
    since = judge_window_start(now)
    wanted_read_only = Kind.READ_ONLY not in dismissed and all(
        token.has_scope(scope) for scope in (SCOPE_READ, SCOPE_WRITE)
    )
    wanted_allowlist = Kind.ALLOWLIST not in dismissed and not token.allowed_ips
    if not (wanted_read_only or wanted_allowlist):
        return []
    if token_requests_since(token=token, since=since) == 0:
        return []
    suggestions = []
    if wanted_read_only and not token_write_requests_exist(token=token, since=since):
        suggestions.append(_read_only_suggestion())
    if wanted_allowlist:
        networks = token_recent_allowlist(token=token, since=since)
        if networks:
            suggestions.append(_allowlist_suggestion(networks))
    return suggestions


def token_suggestion(
    *, token: APIToken, kind: str, now: datetime | None = None
) -> Suggestion | None:
    """The suggestion of this kind that holds for `token` now (dismissed or not), or None:
    what an apply re-checks, since the traffic may have changed after the page was shown."""
    for suggestion in token_suggestions(token=token, now=now, include_dismissed=True):
        if suggestion.kind == kind:
            return suggestion
    return None


def owner_suggestions(
    *, tokens: Iterable[APIToken], now: datetime | None = None
) -> list[tuple[APIToken, Suggestion]]:
    """(token, suggestion) for each of `tokens` that has one, in the order given."""
    now = now or timezone.now()
    return [
        (token, suggestion)
        for token in tokens
        for suggestion in token_suggestions(token=token, now=now)
    ]
