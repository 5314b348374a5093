"""Token expiry and rotation-overlap choices: pure date logic, no ORM, no request.

Forms offer `available_expiry_choices()`, turn the user's pick into an expiry with
`expiry_from_choice()`, and pages describe a token's expiry with `describe_expiry()`.
Custom dates are calendar dates in the site time zone; such a token works until the end
of that day (23:59:59) and stops at that second.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import NamedTuple, Protocol

from django.utils import dateformat, timezone

EXPIRY_CUSTOM = "custom"
EXPIRY_NONE = "none"
PRESET_LIFETIME_DAYS = (7, 30, 60, 90)
EXPIRY_CHOICES: tuple[tuple[str, str], ...] = (
    *((str(days), f"{days} days") for days in PRESET_LIFETIME_DAYS),
    (EXPIRY_CUSTOM, "Custom date"),
    (EXPIRY_NONE, "No expiration"),
)
DEFAULT_EXPIRY_CHOICE = "90"
_PRESETS = {str(days): days for days in PRESET_LIFETIME_DAYS}
# A custom date may lie at most this far ahead, whatever the site maximum.
CUSTOM_DATE_MAX_DAYS = 365
EXPIRING_SOON = timedelta(days=7)

# Rotation ("Regenerate"): how long the replaced value keeps working.
OVERLAP_CHOICES: tuple[tuple[str, str], ...] = (
    ("0", "Immediately"),
    ("1h", "After 1 hour"),
    ("24h", "After 24 hours"),
    ("7d", "After 7 days"),
    ("quiet", "Until its traffic stops"),
)
DEFAULT_OVERLAP_CHOICE = "1h"
OVERLAP_UNTIL_QUIET = "quiet"
# "Until its traffic stops": the replaced value ends once it goes this long without a
# request, and at the latest this long after the regenerate (the hard end).
QUIET_PERIOD = timedelta(hours=24)
QUIET_OVERLAP_MAX = timedelta(days=7)
_OVERLAPS = {
    "0": timedelta(0),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    OVERLAP_UNTIL_QUIET: QUIET_OVERLAP_MAX,
}


class ExpiringToken(Protocol):
    expires_at: datetime | None


class ExpiryDescription(NamedTuple):
    """What a page shows for a token's expiry: the text and the "expiring soon" badge flag."""

    text: str
    expiring_soon: bool


def available_expiry_choices(
    max_lifetime_days: int, *, expiry_required: bool = False
) -> tuple[tuple[str, str], ...]:
    """The expiry choices a form offers under a site maximum (0 = no maximum).

    With a maximum, presets longer than it and "No expiration" disappear; when the token
    policy requires an expiry, "No expiration" does too.
    """
    if not max_lifetime_days:
        if expiry_required:
            return tuple(choice for choice in EXPIRY_CHOICES if choice[0] != EXPIRY_NONE)
        return EXPIRY_CHOICES
    return tuple(
        (value, label)
        for value, label in EXPIRY_CHOICES
        if value == EXPIRY_CUSTOM or _PRESETS.get(value, max_lifetime_days + 1) <= max_lifetime_days
    )


def default_expiry_choice(max_lifetime_days: int) -> str:
    """90 days, or the longest preset the site maximum still allows (else "custom")."""
    values = [value for value, _ in available_expiry_choices(max_lifetime_days)]
    if DEFAULT_EXPIRY_CHOICE in values:
        return DEFAULT_EXPIRY_CHOICE
    presets = [value for value in values if value in _PRESETS]
    return presets[-1] if presets else EXPIRY_CUSTOM


def end_of_day(day: date) -> datetime:
    """The last second of `day` in the site time zone, as an aware datetime."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=timezone.get_current_timezone())


def expiry_from_choice(
    choice: str,
    custom_date: date | None,
    now: datetime,
    max_lifetime_days: int,
    *,
    expiry_required: bool = False,
) -> tuple[datetime | None, int | None]:
    """Return (expires_at, lifetime_days) for a form's expiry pick.

    lifetime_days is the preset length (so a regenerate can apply it again), None for a
    custom date or no expiration. Raises ValueError with a message for the user.
    """
    if choice == EXPIRY_NONE:
        if max_lifetime_days:
            raise ValueError(
                f"Tokens on this site must expire within {max_lifetime_days} days. "
                "Choose an expiry."
            )
        if expiry_required:
            raise ValueError("Tokens on this site must expire. Choose an expiry.")
        return None, None
    if choice == EXPIRY_CUSTOM:
        return _custom_expiry(custom_date, now, max_lifetime_days), None
    days = _PRESETS.get(choice)
    if days is not None:
        if max_lifetime_days and days > max_lifetime_days:
            raise ValueError(
                f"Tokens on this site can live at most {max_lifetime_days} days. "
                "Choose a shorter expiry."
            )
        return now + timedelta(days=days), days
    raise ValueError("Choose one of the offered expiry options.")


def _custom_expiry(custom_date: date | None, now: datetime, max_lifetime_days: int) -> datetime:
    if custom_date is None:
        raise ValueError("Enter the date the token should expire.")
    today = timezone.localdate(now)
    if custom_date < today:
        raise ValueError("The expiry date is in the past. Choose a date after today.")
    if custom_date == today:
        raise ValueError("A token cannot expire today. Choose a date after today.")
    if custom_date > today + timedelta(days=CUSTOM_DATE_MAX_DAYS):
        raise ValueError("The expiry date can be at most one year from today.")
    if max_lifetime_days and custom_date > today + timedelta(days=max_lifetime_days):
        latest = _format_day(today + timedelta(days=max_lifetime_days), today)
        raise ValueError(
            f"Tokens on this site can live at most {max_lifetime_days} days: "
            f"choose {latest} or earlier."
        )
    return end_of_day(custom_date)


def regenerated_expiry(
    *,
    expires_at: datetime | None,
    lifetime_days: int | None,
    issued_at: datetime,
    now: datetime,
    max_lifetime_days: int,
    expiry_required: bool = False,
) -> datetime | None:
    """The expiry a regenerated value gets: the same lifetime choice applied again from now.

    A preset (lifetime_days) is applied again; a custom date gets the same length as the
    lifetime it had when its current value was issued (`issued_at`); no expiration stays
    none, unless the token policy now requires an expiry (then the default 90 days).
    Every result is capped by the site maximum in force now (0 = none).
    """
    if lifetime_days:
        new_expiry: datetime | None = now + timedelta(days=lifetime_days)
    elif expires_at is not None:
        new_expiry = now + max(expires_at - issued_at, timedelta(days=1))
    elif expiry_required:
        new_expiry = now + timedelta(days=_PRESETS[DEFAULT_EXPIRY_CHOICE])
    else:
        new_expiry = None
    if max_lifetime_days:
        cap = now + timedelta(days=max_lifetime_days)
        new_expiry = cap if new_expiry is None else min(new_expiry, cap)
    return new_expiry


def overlap_from_choice(choice: str) -> timedelta:
    """The rotation overlap for a Regenerate form pick (for "Until its traffic stops", its
    hard end: 7 days). Raises ValueError for others."""
    try:
        return _OVERLAPS[choice]
    except KeyError:
        raise ValueError("Choose when the current value should stop working.") from None


def quiet_overlap_end(
    *, last_use: datetime, regenerated_at: datetime, slack: timedelta
) -> datetime:
    """When an overlap "until its traffic stops" ends after a use of the old value at
    `last_use`: a quiet day later (plus `slack`, the most the recorded use may lag behind the
    real one), never past its hard end, 7 days after the regenerate."""
    return min(last_use + QUIET_PERIOD + slack, regenerated_at + QUIET_OVERLAP_MAX)


def describe_expiry(token: ExpiringToken, now: datetime | None = None) -> ExpiryDescription:
    """ "Expires in 12 days" / "Expires tomorrow" / "Expires today" / "Expired on 3 Jan" /
    "No expiration", and whether to show the "expiring soon" badge (within 7 days)."""
    now = now or timezone.now()
    expires_at = token.expires_at
    if expires_at is None:
        return ExpiryDescription("No expiration", False)
    today = timezone.localdate(now)
    expiry_day = timezone.localdate(expires_at)
    if expires_at <= now:
        return ExpiryDescription(f"Expired on {_format_day(expiry_day, today)}", False)
    soon = expires_at - now <= EXPIRING_SOON
    days = (expiry_day - today).days
    if days == 0:
        return ExpiryDescription("Expires today", soon)
    if days == 1:
        return ExpiryDescription("Expires tomorrow", soon)
    return ExpiryDescription(f"Expires in {days} days", soon)


def describe_previous_value(
    previous_expires_at: datetime | None, now: datetime | None = None
) -> str | None:
    """ "Previous value stops working in 3 h" while a rotation overlap runs, else None."""
    now = now or timezone.now()
    if previous_expires_at is None or previous_expires_at <= now:
        return None
    return f"Previous value stops working in {format_duration(previous_expires_at - now)}"


def format_duration(delta: timedelta) -> str:
    """A short, rounded-up duration: "45 min", "3 h", "2 days"."""
    minutes = max(1, -(-int(delta.total_seconds()) // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours = -(-minutes // 60)
    if hours < 48:
        return f"{hours} h"
    days = -(-hours // 24)
    return f"{days} days"


def _format_day(day: date, today: date) -> str:
    """ "3 Jan", with the year when it is not the current one."""
    return dateformat.format(day, "j M" if day.year == today.year else "j M Y")
