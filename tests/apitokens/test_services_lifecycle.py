from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apitokens import expiry, services, tokens
from apitokens.api.lookup import authenticate_token
from apitokens.models import APIToken, SecurityEvent
from apitokens.services import ClientInfo, TokenNotRegenerable
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CLIENT = ClientInfo(ip="203.0.113.7", user_agent="pytest")


def regenerate(token, *, overlap=timedelta(hours=1), now=T0, actor=None):
    return services.api_token_regenerate(
        token=token, actor=actor or token.owner, overlap=overlap, client=CLIENT, now=now
    )


def auth(raw, now):
    return authenticate_token(raw, now=now)


# --- Regenerate ----------------------------------------------------------------------------


def test_regenerate_issues_a_new_value_for_the_same_token(user):
    token, old_raw = create_token(user, "Deploy bot", scopes=("read", "write"), now=T0)
    old_identifier = token.identifier

    same, new_raw = regenerate(token, now=T0 + timedelta(days=1))

    assert same.pk == token.pk
    assert new_raw != old_raw
    assert tokens.is_well_formed(new_raw)
    token.refresh_from_db()
    assert token.name == "Deploy bot"
    assert token.scopes == "read write"
    assert token.digest == tokens.token_digest(new_raw)
    assert token.identifier == tokens.token_identifier(new_raw)
    assert token.previous_identifier == old_identifier
    assert token.regenerated_at == T0 + timedelta(days=1)
    assert APIToken.objects.count() == 1


def test_regenerate_never_stores_the_plaintext(user):
    token, _ = create_token(user, now=T0)
    _, new_raw = regenerate(token)
    token.refresh_from_db()
    stored = {field.attname: getattr(token, field.attname) for field in APIToken._meta.fields}
    assert new_raw not in [str(value) for value in stored.values()]


def test_regenerate_applies_the_same_preset_lifetime_from_now(user):
    token, _ = create_token(user, expires_at=T0 + timedelta(days=30), lifetime_days=30, now=T0)
    later = T0 + timedelta(days=25)
    regenerate(token, now=later)
    token.refresh_from_db()
    assert token.expires_at == later + timedelta(days=30)
    assert token.lifetime_days == 30


def test_regenerate_of_a_custom_date_token_keeps_its_length(user):
    token, _ = create_token(user, expires_at=T0 + timedelta(days=45), now=T0)
    later = T0 + timedelta(days=10)
    regenerate(token, now=later)
    token.refresh_from_db()
    assert token.expires_at == later + timedelta(days=45)
    assert token.lifetime_days is None


def test_regenerate_of_a_token_without_expiry_stays_without_expiry(user):
    token, _ = create_token(user, now=T0)
    regenerate(token)
    token.refresh_from_db()
    assert token.expires_at is None


def test_regenerate_applies_a_site_maximum_set_since_creation(user, settings):
    token, _ = create_token(user, now=T0)
    settings.QUICKBOT_TOKEN_MAX_LIFETIME_DAYS = 30
    regenerate(token)
    token.refresh_from_db()
    assert token.expires_at == T0 + timedelta(days=30)


def test_regenerate_resets_the_expiry_reminders(user):
    token, _ = create_token(user, expires_at=T0 + timedelta(days=7), lifetime_days=7, now=T0)
    APIToken.objects.filter(pk=token.pk).update(reminders_sent="7d")
    token.refresh_from_db()
    regenerate(token, now=T0 + timedelta(days=1))
    token.refresh_from_db()
    assert token.reminders_sent == ""


def test_regenerate_records_a_security_event(user):
    token, _ = create_token(user, now=T0)
    old_identifier = token.identifier
    regenerate(token, now=T0 + timedelta(minutes=5))
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.REGENERATED)
    assert event.token == token
    assert event.account == user
    assert event.actor == user
    assert event.actor_kind == SecurityEvent.Actor.USER
    assert event.ip == "203.0.113.7"
    assert event.user_agent == "pytest"
    assert event.created_at == T0 + timedelta(minutes=5)
    assert event.token_identifier == token.identifier
    assert old_identifier in event.detail


def test_regenerate_by_staff_is_recorded_as_staff(user):
    staff = UserFactory(is_staff=True)
    token, _ = create_token(user, now=T0)
    regenerate(token, actor=staff)
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.REGENERATED)
    assert (event.actor, event.actor_kind) == (staff, SecurityEvent.Actor.STAFF)


def test_regenerate_of_a_deleted_token_is_refused_and_changes_nothing(user):
    token, raw = create_token(user, now=T0)
    services.api_token_revoke(token=token, actor=user, now=T0)
    with pytest.raises(TokenNotRegenerable, match="deleted"):
        regenerate(token, now=T0 + timedelta(minutes=1))
    token.refresh_from_db()
    assert token.digest == tokens.token_digest(raw)
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.REGENERATED).exists()


def test_regenerate_with_a_stale_instance_of_a_deleted_token_is_refused(user):
    """The view loaded the token, then another tab deleted it: the delete wins."""
    token, _ = create_token(user, now=T0)
    stale = APIToken.objects.get(pk=token.pk)
    services.api_token_revoke(token=token, actor=user, now=T0)
    with pytest.raises(TokenNotRegenerable):
        regenerate(stale)
    assert APIToken.objects.get(pk=token.pk).revoked_at == T0


def test_regenerate_of_an_expired_token_is_refused(user):
    token, raw = create_token(user, expires_at=T0, lifetime_days=7, now=T0 - timedelta(days=7))
    with pytest.raises(TokenNotRegenerable, match="expired"):
        regenerate(token, now=T0)
    token.refresh_from_db()
    assert token.digest == tokens.token_digest(raw)


def test_regenerate_one_second_before_expiry_is_allowed(user):
    token, _ = create_token(user, expires_at=T0, lifetime_days=7, now=T0 - timedelta(days=7))
    regenerate(token, now=T0 - timedelta(seconds=1))
    token.refresh_from_db()
    assert token.expires_at == T0 - timedelta(seconds=1) + timedelta(days=7)


def test_a_delete_landing_between_read_and_write_wins(user, monkeypatch):
    """The guarded UPDATE sees the delete that happened after the row was read."""
    token, raw = create_token(user, now=T0)
    real_regenerated_expiry = expiry.regenerated_expiry

    def delete_meanwhile(**kwargs):
        APIToken.objects.filter(pk=token.pk).update(revoked_at=T0)
        return real_regenerated_expiry(**kwargs)

    monkeypatch.setattr(expiry, "regenerated_expiry", delete_meanwhile)
    with pytest.raises(TokenNotRegenerable, match="changed or deleted meanwhile"):
        regenerate(token)
    # The simulated delete shared the service's transaction, so it rolled back with it;
    # what matters is that the new value was never written.
    row = APIToken.objects.get(pk=token.pk)
    assert row.digest == tokens.token_digest(raw)
    assert row.previous_digest is None
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.REGENERATED).exists()


def test_regenerate_with_a_stale_instance_applies_to_the_current_row(user):
    token, _ = create_token(user, now=T0)
    stale = APIToken.objects.get(pk=token.pk)
    regenerate(token)
    # The stale copy still has the original digest; the row is re-read under lock.
    _, raw = regenerate(stale, now=T0 + timedelta(seconds=1))
    assert auth(raw, T0 + timedelta(seconds=2)).ok


def test_negative_overlap_is_refused(user):
    token, _ = create_token(user, now=T0)
    with pytest.raises(ValueError):
        regenerate(token, overlap=timedelta(seconds=-1))


# --- Overlap -------------------------------------------------------------------------------


def test_old_value_works_during_the_overlap_and_stops_after(user):
    token, old_raw = create_token(user, now=T0)
    _, new_raw = regenerate(token, overlap=timedelta(hours=1), now=T0)

    during = auth(old_raw, T0 + timedelta(minutes=59, seconds=59))
    assert during.ok
    assert during.token.pk == token.pk
    assert during.used_previous_value is True

    new = auth(new_raw, T0 + timedelta(minutes=30))
    assert new.ok
    assert new.used_previous_value is False

    at_end = auth(old_raw, T0 + timedelta(hours=1))
    assert at_end.reason == "expired"
    assert at_end.used_previous_value is True
    assert auth(new_raw, T0 + timedelta(hours=1)).ok


def test_zero_overlap_stops_the_old_value_at_once_and_remembers_it(user):
    token, old_raw = create_token(user, now=T0)
    old_identifier = token.identifier
    _, new_raw = regenerate(token, overlap=timedelta(0), now=T0)
    token.refresh_from_db()
    assert token.previous_expires_at == T0
    assert token.previous_identifier == old_identifier
    # Refused as a replaced value (reported like a dead token's use), not as unknown.
    old = auth(old_raw, T0)
    assert old.reason == "expired"
    assert old.used_previous_value is True
    assert auth(new_raw, T0).ok


def test_deleting_during_the_overlap_stops_both_values(user):
    token, old_raw = create_token(user, now=T0)
    _, new_raw = regenerate(token, overlap=timedelta(days=7), now=T0)
    services.api_token_revoke(token=token, actor=user, now=T0 + timedelta(minutes=1))
    assert auth(old_raw, T0 + timedelta(minutes=2)).reason == "revoked"
    assert auth(new_raw, T0 + timedelta(minutes=2)).reason == "revoked"


def test_two_regenerates_in_a_row(user):
    """The value replaced by the second regenerate follows the second's overlap; the
    original value (two generations ago) stops at once, though its overlap had not ended."""
    token, first_raw = create_token(user, now=T0)
    _, second_raw = regenerate(token, overlap=timedelta(days=7), now=T0)
    _, third_raw = regenerate(token, overlap=timedelta(hours=1), now=T0 + timedelta(minutes=5))

    soon = T0 + timedelta(minutes=10)
    assert auth(first_raw, soon).reason == "unknown"
    assert auth(second_raw, soon).ok
    assert auth(second_raw, soon).used_previous_value is True
    assert auth(third_raw, soon).ok

    after = T0 + timedelta(minutes=5, hours=1)
    assert auth(second_raw, after).reason == "expired"
    assert auth(third_raw, after).ok


def test_two_regenerates_in_a_row_with_zero_overlap_leave_only_the_newest(user):
    token, first_raw = create_token(user, now=T0)
    _, second_raw = regenerate(token, overlap=timedelta(days=1), now=T0)
    _, third_raw = regenerate(token, overlap=timedelta(0), now=T0 + timedelta(seconds=1))
    moment = T0 + timedelta(seconds=2)
    assert auth(first_raw, moment).reason == "unknown"
    assert auth(second_raw, moment).reason == "expired"  # stopped at once, still known
    assert auth(third_raw, moment).ok


# --- Expiry at the exact second --------------------------------------------------------------


def test_token_expires_exactly_at_its_expiry_second(user):
    expires_at = T0 + timedelta(days=30)
    _, raw = create_token(user, expires_at=expires_at, lifetime_days=30, now=T0)
    assert auth(raw, expires_at - timedelta(seconds=1)).ok
    result = auth(raw, expires_at)
    assert result.reason == "expired"
    assert result.token is not None


# --- Permissions -----------------------------------------------------------------------------


def update_scopes(token, scopes, actor=None):
    services.api_token_update_scopes(
        token=token, scopes=scopes, actor=actor or token.owner, client=CLIENT, now=T0
    )


def test_update_scopes_changes_permissions_without_changing_the_value(user):
    token, raw = create_token(user, now=T0)
    update_scopes(token, ("write", "read"))
    token.refresh_from_db()
    assert token.scopes == "read write"
    assert token.digest == tokens.token_digest(raw)
    result = auth(raw, T0)
    assert result.ok
    assert result.token.has_scope("write")


def test_update_scopes_records_a_security_event(user):
    token, _ = create_token(user, now=T0)
    update_scopes(token, ("write",))
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.SCOPES_CHANGED)
    assert event.token == token
    assert event.actor == user
    assert event.ip == "203.0.113.7"
    assert "“read”" in event.detail
    assert "“write”" in event.detail


def test_update_scopes_unchanged_records_nothing(user):
    token, _ = create_token(user, now=T0)
    update_scopes(token, ("read",))
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SCOPES_CHANGED).exists()


@pytest.mark.parametrize(
    "scopes",
    [("admin",), ("read", "delete"), ("READ",), ("read ",), ("",), ("<script>",)],
)
def test_update_scopes_with_an_unknown_permission_is_refused(user, scopes):
    token, _ = create_token(user, now=T0)
    with pytest.raises(ValueError, match="Unknown permission"):
        update_scopes(token, scopes)
    token.refresh_from_db()
    assert token.scopes == "read"
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SCOPES_CHANGED).exists()


def test_update_scopes_to_nothing_is_refused(user):
    token, _ = create_token(user, now=T0)
    with pytest.raises(ValueError, match="at least one permission"):
        update_scopes(token, ())


def test_update_scopes_of_a_deleted_token_changes_nothing(user):
    token, _ = create_token(user, now=T0)
    stale = APIToken.objects.get(pk=token.pk)
    services.api_token_revoke(token=token, actor=user, now=T0)
    update_scopes(stale, ("read", "write"))
    token.refresh_from_db()
    assert token.scopes == "read"
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SCOPES_CHANGED).exists()


def test_scopes_validate_returns_canonical_order_without_duplicates():
    assert services.scopes_validate(["write", "read", "write"]) == ("read", "write")


def test_regenerate_security_log_says_until_when_in_words(user):
    # The owner's security log showed "works until 2026-05-02T13:00:00+00:00" (raw ISO,
    # with microseconds on real clocks) instead of a date a person reads.
    token, _raw = create_token(user, "Deploy bot", now=T0)
    old_identifier = token.identifier

    regenerate(token, overlap=timedelta(hours=1), now=T0 + timedelta(days=1, microseconds=433997))

    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.REGENERATED)
    assert event.detail == f"Previous value {old_identifier} works until 2 May 2026, 13:00 UTC"
