from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from apitokens import expiry

NOW = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
TODAY = date(2026, 3, 10)


@dataclass
class FakeToken:
    expires_at: datetime | None


# --- expiry_from_choice ------------------------------------------------------------------


@pytest.mark.parametrize("days", [7, 30, 60, 90])
def test_preset_choice_expires_that_many_days_from_now_and_remembers_the_lifetime(days):
    assert expiry.expiry_from_choice(str(days), None, NOW, 0) == (
        NOW + timedelta(days=days),
        days,
    )


def test_default_choice_is_90_days():
    assert expiry.DEFAULT_EXPIRY_CHOICE == "90"
    assert expiry.default_expiry_choice(0) == "90"


def test_no_expiration_is_allowed_without_a_site_maximum():
    assert expiry.expiry_from_choice("none", None, NOW, 0) == (None, None)


def test_no_expiration_is_refused_when_the_site_sets_a_maximum():
    with pytest.raises(ValueError, match="must expire within 30 days"):
        expiry.expiry_from_choice("none", None, NOW, 30)


def test_preset_longer_than_the_site_maximum_is_refused():
    with pytest.raises(ValueError, match="at most 30 days"):
        expiry.expiry_from_choice("60", None, NOW, 30)


@pytest.mark.parametrize("choice", ["", "45", "-7", "0", "forever", "90 ", "９０"])
def test_unknown_expiry_choice_is_refused(choice):
    with pytest.raises(ValueError, match="Choose one of the offered expiry options"):
        expiry.expiry_from_choice(choice, None, NOW, 0)


def test_custom_date_expires_at_the_end_of_that_day():
    expires_at, lifetime_days = expiry.expiry_from_choice("custom", date(2026, 4, 1), NOW, 0)
    assert expires_at == datetime(2026, 4, 1, 23, 59, 59, tzinfo=UTC)
    assert lifetime_days is None


def test_custom_date_tomorrow_is_accepted():
    expires_at, _ = expiry.expiry_from_choice("custom", TODAY + timedelta(days=1), NOW, 0)
    assert expires_at == datetime(2026, 3, 11, 23, 59, 59, tzinfo=UTC)


def test_custom_date_in_the_past_is_refused():
    with pytest.raises(ValueError, match="in the past"):
        expiry.expiry_from_choice("custom", TODAY - timedelta(days=1), NOW, 0)


def test_custom_date_today_is_refused():
    with pytest.raises(ValueError, match="cannot expire today"):
        expiry.expiry_from_choice("custom", TODAY, NOW, 0)


def test_custom_date_exactly_one_year_ahead_is_accepted():
    expires_at, _ = expiry.expiry_from_choice("custom", TODAY + timedelta(days=365), NOW, 0)
    assert expires_at.date() == TODAY + timedelta(days=365)


def test_custom_date_beyond_one_year_is_refused():
    with pytest.raises(ValueError, match="at most one year"):
        expiry.expiry_from_choice("custom", TODAY + timedelta(days=366), NOW, 0)


def test_custom_date_beyond_the_site_maximum_is_refused_naming_the_last_allowed_day():
    with pytest.raises(ValueError, match=r"at most 30 days: choose 9 Apr or earlier"):
        expiry.expiry_from_choice("custom", TODAY + timedelta(days=31), NOW, 30)


def test_custom_date_on_the_site_maximum_is_accepted():
    expires_at, _ = expiry.expiry_from_choice("custom", TODAY + timedelta(days=30), NOW, 30)
    assert expires_at.date() == date(2026, 4, 9)


def test_custom_choice_without_a_date_is_refused():
    with pytest.raises(ValueError, match="Enter the date"):
        expiry.expiry_from_choice("custom", None, NOW, 0)


def test_custom_date_uses_the_site_time_zone(settings):
    """At 23:30 UTC it is already the next day in Tokyo: that day counts as today."""
    settings.TIME_ZONE = "Asia/Tokyo"
    late = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="cannot expire today"):
        expiry.expiry_from_choice("custom", date(2026, 3, 11), late, 0)


# --- choices offered -----------------------------------------------------------------------


def test_all_choices_are_offered_without_a_maximum():
    values = [value for value, _ in expiry.available_expiry_choices(0)]
    assert values == ["7", "30", "60", "90", "custom", "none"]


def test_a_maximum_removes_longer_presets_and_no_expiration():
    values = [value for value, _ in expiry.available_expiry_choices(60)]
    assert values == ["7", "30", "60", "custom"]
    assert expiry.default_expiry_choice(60) == "60"


def test_a_tiny_maximum_leaves_only_the_custom_date():
    assert [value for value, _ in expiry.available_expiry_choices(3)] == ["custom"]
    assert expiry.default_expiry_choice(3) == "custom"


# --- describe_expiry -----------------------------------------------------------------------


def test_describe_no_expiration():
    assert expiry.describe_expiry(FakeToken(None), NOW) == ("No expiration", False)


def test_describe_expires_in_days():
    text, soon = expiry.describe_expiry(FakeToken(NOW + timedelta(days=12)), NOW)
    assert (text, soon) == ("Expires in 12 days", False)


def test_describe_expiring_soon_within_seven_days():
    assert expiry.describe_expiry(FakeToken(NOW + timedelta(days=7)), NOW) == (
        "Expires in 7 days",
        True,
    )
    assert expiry.describe_expiry(FakeToken(NOW + timedelta(days=7, seconds=1)), NOW)[1] is False


def test_describe_expires_tomorrow_and_today():
    assert expiry.describe_expiry(FakeToken(NOW + timedelta(days=1)), NOW) == (
        "Expires tomorrow",
        True,
    )
    assert expiry.describe_expiry(FakeToken(NOW + timedelta(hours=2)), NOW) == (
        "Expires today",
        True,
    )


def test_describe_expired_token_gives_the_date():
    token = FakeToken(datetime(2026, 1, 3, 9, 0, tzinfo=UTC))
    assert expiry.describe_expiry(token, NOW) == ("Expired on 3 Jan", False)


def test_describe_expired_in_an_earlier_year_includes_the_year():
    token = FakeToken(datetime(2025, 12, 30, 9, 0, tzinfo=UTC))
    assert expiry.describe_expiry(token, NOW).text == "Expired on 30 Dec 2025"


def test_describe_at_the_exact_second_of_expiry_is_expired():
    assert expiry.describe_expiry(FakeToken(NOW), NOW).text == "Expired on 10 Mar"
    assert expiry.describe_expiry(FakeToken(NOW + timedelta(seconds=1)), NOW).text == (
        "Expires today"
    )


# --- regenerated_expiry ----------------------------------------------------------------------


def test_regenerated_preset_applies_the_same_lifetime_again():
    created = NOW - timedelta(days=20)
    assert expiry.regenerated_expiry(
        expires_at=created + timedelta(days=30),
        lifetime_days=30,
        issued_at=created,
        now=NOW,
        max_lifetime_days=0,
    ) == NOW + timedelta(days=30)


def test_regenerated_custom_date_keeps_its_length():
    issued = NOW - timedelta(days=5)
    assert expiry.regenerated_expiry(
        expires_at=issued + timedelta(days=45, hours=3),
        lifetime_days=None,
        issued_at=issued,
        now=NOW,
        max_lifetime_days=0,
    ) == NOW + timedelta(days=45, hours=3)


def test_regenerated_no_expiration_stays_none():
    assert (
        expiry.regenerated_expiry(
            expires_at=None, lifetime_days=None, issued_at=NOW, now=NOW, max_lifetime_days=0
        )
        is None
    )


def test_regenerated_expiry_respects_a_maximum_set_later():
    kwargs = {"issued_at": NOW - timedelta(days=1), "now": NOW, "max_lifetime_days": 30}
    assert expiry.regenerated_expiry(
        expires_at=None, lifetime_days=None, **kwargs
    ) == NOW + timedelta(days=30)
    assert expiry.regenerated_expiry(
        expires_at=NOW + timedelta(days=89), lifetime_days=90, **kwargs
    ) == NOW + timedelta(days=30)


# --- overlap -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "delta"),
    [
        ("0", timedelta(0)),
        ("1h", timedelta(hours=1)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
    ],
)
def test_overlap_choices(choice, delta):
    assert expiry.overlap_from_choice(choice) == delta


@pytest.mark.parametrize("choice", ["", "2h", "-1", "forever"])
def test_unknown_overlap_choice_is_refused(choice):
    with pytest.raises(ValueError, match="stop working"):
        expiry.overlap_from_choice(choice)


def test_describe_previous_value_during_and_after_overlap():
    assert expiry.describe_previous_value(NOW + timedelta(hours=3), NOW) == (
        "Previous value stops working in 3 h"
    )
    assert expiry.describe_previous_value(NOW + timedelta(minutes=42), NOW) == (
        "Previous value stops working in 42 min"
    )
    assert expiry.describe_previous_value(NOW + timedelta(days=6, hours=1), NOW) == (
        "Previous value stops working in 7 days"
    )
    assert expiry.describe_previous_value(NOW, NOW) is None
    assert expiry.describe_previous_value(None, NOW) is None
