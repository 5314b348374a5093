"""A token's life (apitokens/services/tokens.py): create within the cap, revoke, regenerate with an
overlap, each with its security-log row."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apitokens import expiry, services, tokens
from apitokens.api.lookup import authenticate_token
from apitokens.models import APIToken, SecurityEvent, TokenPolicy
from apitokens.services import ClientInfo, TokenLimitReached, TokenNameTaken, TokenNotRegenerable
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

# Every letter Cyrillic, each a look-alike of the Latin one: one script, so only the
# skeleton tells it from "Copy Aces".
CYRILLIC_COPY = "\u0421\u043e\u0440\u0443 \u0410\u0441\u0435\u0455"


@pytest.mark.django_db
def test_the_create_service_refuses_a_look_alike_too(user, existing):
    with pytest.raises(TokenNameTaken):
        services.api_token_create(user=user, name=CYRILLIC_COPY)


def save_policy(**values) -> TokenPolicy:
    current = TokenPolicy.current()
    for field, value in values.items():
        setattr(current, field, value)
    services.token_policy_save(policy=current, actor=None)
    return current


@pytest.mark.django_db
def test_regeneration_applies_the_maximum_in_force(user):
    token, _ = create_token(user, expires_at=timezone.now() + timedelta(days=90), lifetime_days=90)
    save_policy(max_lifetime_days=14)
    moment = timezone.now()
    token, _ = services.api_token_regenerate(
        token=token, actor=user, overlap=timedelta(0), now=moment
    )
    assert token.expires_at == moment + timedelta(days=14)


@pytest.mark.django_db
def test_regenerating_a_token_that_never_expires_when_expiry_is_required(user):
    token, _ = create_token(user)
    save_policy(expiry_required=True)
    moment = timezone.now()
    token, _ = services.api_token_regenerate(
        token=token, actor=user, overlap=timedelta(0), now=moment
    )
    assert token.expires_at == moment + timedelta(days=90)


NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


CLIENT = ClientInfo(ip="203.0.113.7", user_agent="pytest")


# --- Create -------------------------------------------------------------------------------


def test_create_refuses_past_the_active_token_cap(user, settings):
    settings.QUICKBOT_MAX_TOKENS_PER_USER = 1
    create_token(user, "Mobile App Backend")
    with pytest.raises(TokenLimitReached) as refused:
        services.api_token_create(user=user, name="Development Testing")
    assert refused.value.limit == 1
    assert user.api_tokens.count() == 1
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.CREATED).count() == 1


def test_a_deleted_token_frees_its_place_under_the_cap(user, settings):
    settings.QUICKBOT_MAX_TOKENS_PER_USER = 1
    token, _ = create_token(user, "Mobile App Backend")
    services.api_token_revoke(token=token, actor=user)
    services.api_token_create(user=user, name="Development Testing")
    assert user.api_tokens.active().count() == 1


def test_create_stores_only_digest_and_identifier(user):
    token, raw = services.api_token_create(
        user=user, name="Mobile App Backend", client=CLIENT, now=NOW
    )
    assert tokens.is_well_formed(raw)
    stored = APIToken.objects.get(pk=token.pk)
    assert stored.digest == tokens.token_digest(raw)
    assert stored.identifier == tokens.token_identifier(raw)
    row = APIToken.objects.values().get(pk=token.pk)
    assert all(raw not in str(value) for value in row.values())
    assert stored.created_at == NOW
    assert stored.last_used_at is None
    assert len(stored.public_id) == 16 and stored.public_id != str(stored.pk)


def test_create_applies_scopes_and_expiry(user):
    token, _ = services.api_token_create(
        user=user,
        name="Mobile App Backend",
        scopes=("read", "write"),
        expires_at=NOW + timedelta(days=30),
        lifetime_days=30,
        now=NOW,
    )
    token.refresh_from_db()
    assert token.scope_list == ["read", "write"]
    assert token.expires_at == NOW + timedelta(days=30)
    assert token.lifetime_days == 30


def test_create_records_a_security_event(user):
    token, _ = services.api_token_create(
        user=user, name="Mobile App Backend", client=CLIENT, now=NOW
    )
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.CREATED)
    assert event.token == token
    assert event.account == user
    assert event.actor == user
    assert event.ip == "203.0.113.7"
    assert event.token_identifier == token.identifier


def test_create_with_a_taken_name_raises_and_creates_nothing(user):
    create_token(user, "Mobile App Backend")
    with pytest.raises(TokenNameTaken):
        services.api_token_create(user=user, name="MOBILE app backend")
    assert user.api_tokens.count() == 1
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.CREATED).count() == 1


def test_create_reuses_the_name_of_a_deleted_token(user):
    old, _ = create_token(user, "Mobile App Backend")
    services.api_token_revoke(token=old, actor=user)
    new, _ = services.api_token_create(user=user, name="Mobile App Backend")
    assert new.pk != old.pk


def test_two_users_may_use_the_same_name(user, other_user):
    create_token(user, "Mobile App Backend")
    create_token(other_user, "Mobile App Backend")
    assert APIToken.objects.filter(name="Mobile App Backend").count() == 2


# --- Revoke (delete) ------------------------------------------------------------------------


def test_revoke_keeps_the_row_for_audit(user):
    token, _ = create_token(user, "Mobile App Backend")
    assert services.api_token_revoke(token=token, actor=user, client=CLIENT, now=NOW) is True
    token.refresh_from_db()
    assert token.revoked_at == NOW
    assert token.revoked_by == user
    assert token.revoked_reason == APIToken.RevokedBy.OWNER
    assert token not in APIToken.objects.active()
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.DELETED)
    assert (event.token, event.actor, event.ip) == (token, user, "203.0.113.7")


def test_revoke_twice_changes_nothing_the_second_time(user):
    token, _ = create_token(user, "Mobile App Backend")
    assert services.api_token_revoke(token=token, actor=user, now=NOW) is True
    stale = APIToken.objects.get(pk=token.pk)
    stale.revoked_at = None  # a second tab still holding the old state
    assert services.api_token_revoke(token=stale, actor=user, now=NOW + timedelta(1)) is False
    token.refresh_from_db()
    assert token.revoked_at == NOW
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.DELETED).count() == 1


def test_revoking_one_token_leaves_the_others_working(user):
    first, first_raw = create_token(user, "Mobile App Backend")
    _, second_raw = create_token(user, "Development Testing")
    services.api_token_revoke(token=first, actor=user)
    assert authenticate_token(second_raw).ok
    assert not authenticate_token(first_raw).ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="real threads need a server database (SQLite's shared in-memory test database "
    "refuses concurrent writers)",
)
def test_two_creates_at_once_on_the_last_place_make_one_token(settings):
    settings.QUICKBOT_MAX_TOKENS_PER_USER = 1
    user = UserFactory()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(name):
        barrier.wait()
        try:
            services.api_token_create(user=user, name=name)
            outcomes.append("created")
        except TokenLimitReached:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("Mobile App", "Website")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "refused"]
    assert user.api_tokens.active().count() == 1


T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def regenerate(token, *, overlap=timedelta(hours=1), now=T0, actor=None):
    return services.api_token_regenerate(
        token=token, actor=actor or token.owner, overlap=overlap, client=CLIENT, now=now
    )


def auth(raw, now):
    return authenticate_token(raw, now=now)


@pytest.mark.django_db
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


@pytest.mark.django_db
def test_regenerate_never_stores_the_plaintext(user):
    token, _ = create_token(user, now=T0)
    _, new_raw = regenerate(token)
    token.refresh_from_db()
    stored = {field.attname: getattr(token, field.attname) for field in APIToken._meta.fields}
    assert new_raw not in [str(value) for value in stored.values()]


@pytest.mark.django_db
def test_regenerate_applies_the_same_preset_lifetime_from_now(user):
    token, _ = create_token(user, expires_at=T0 + timedelta(days=30), lifetime_days=30, now=T0)
    later = T0 + timedelta(days=25)
    regenerate(token, now=later)
    token.refresh_from_db()
    assert token.expires_at == later + timedelta(days=30)
    assert token.lifetime_days == 30


@pytest.mark.django_db
def test_regenerate_of_a_custom_date_token_keeps_its_length(user):
    token, _ = create_token(user, expires_at=T0 + timedelta(days=45), now=T0)
    later = T0 + timedelta(days=10)
    regenerate(token, now=later)
    token.refresh_from_db()
    assert token.expires_at == later + timedelta(days=45)
    assert token.lifetime_days is None


@pytest.mark.django_db
def test_regenerate_of_a_token_without_expiry_stays_without_expiry(user):
    token, _ = create_token(user, now=T0)
    regenerate(token)
    token.refresh_from_db()
    assert token.expires_at is None


@pytest.mark.django_db
def test_regenerate_applies_a_site_maximum_set_since_creation(user, settings):
    token, _ = create_token(user, now=T0)
    settings.QUICKBOT_TOKEN_MAX_LIFETIME_DAYS = 30
    regenerate(token)
    token.refresh_from_db()
    assert token.expires_at == T0 + timedelta(days=30)


@pytest.mark.django_db
def test_regenerate_resets_the_expiry_reminders(user):
    token, _ = create_token(user, expires_at=T0 + timedelta(days=7), lifetime_days=7, now=T0)
    APIToken.objects.filter(pk=token.pk).update(reminders_sent="7d")
    token.refresh_from_db()
    regenerate(token, now=T0 + timedelta(days=1))
    token.refresh_from_db()
    assert token.reminders_sent == ""


@pytest.mark.django_db
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


@pytest.mark.django_db
def test_regenerate_by_staff_is_recorded_as_staff(user):
    staff = UserFactory(is_staff=True)
    token, _ = create_token(user, now=T0)
    regenerate(token, actor=staff)
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.REGENERATED)
    assert (event.actor, event.actor_kind) == (staff, SecurityEvent.Actor.STAFF)


@pytest.mark.django_db
def test_regenerate_of_a_deleted_token_is_refused_and_changes_nothing(user):
    token, raw = create_token(user, now=T0)
    services.api_token_revoke(token=token, actor=user, now=T0)
    with pytest.raises(TokenNotRegenerable, match="deleted"):
        regenerate(token, now=T0 + timedelta(minutes=1))
    token.refresh_from_db()
    assert token.digest == tokens.token_digest(raw)
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.REGENERATED).exists()


@pytest.mark.django_db
def test_regenerate_with_a_stale_instance_of_a_deleted_token_is_refused(user):
    """The view loaded the token, then another tab deleted it: the delete wins."""
    token, _ = create_token(user, now=T0)
    stale = APIToken.objects.get(pk=token.pk)
    services.api_token_revoke(token=token, actor=user, now=T0)
    with pytest.raises(TokenNotRegenerable):
        regenerate(stale)
    assert APIToken.objects.get(pk=token.pk).revoked_at == T0


@pytest.mark.django_db
def test_regenerate_of_an_expired_token_is_refused(user):
    token, raw = create_token(user, expires_at=T0, lifetime_days=7, now=T0 - timedelta(days=7))
    with pytest.raises(TokenNotRegenerable, match="expired"):
        regenerate(token, now=T0)
    token.refresh_from_db()
    assert token.digest == tokens.token_digest(raw)


@pytest.mark.django_db
def test_regenerate_one_second_before_expiry_is_allowed(user):
    token, _ = create_token(user, expires_at=T0, lifetime_days=7, now=T0 - timedelta(days=7))
    regenerate(token, now=T0 - timedelta(seconds=1))
    token.refresh_from_db()
    assert token.expires_at == T0 - timedelta(seconds=1) + timedelta(days=7)


@pytest.mark.django_db
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


@pytest.mark.django_db
def test_regenerate_with_a_stale_instance_applies_to_the_current_row(user):
    token, _ = create_token(user, now=T0)
    stale = APIToken.objects.get(pk=token.pk)
    regenerate(token)
    # The stale copy still has the original digest; the row is re-read under lock.
    _, raw = regenerate(stale, now=T0 + timedelta(seconds=1))
    assert auth(raw, T0 + timedelta(seconds=2)).ok


@pytest.mark.django_db
def test_negative_overlap_is_refused(user):
    token, _ = create_token(user, now=T0)
    with pytest.raises(ValueError):
        regenerate(token, overlap=timedelta(seconds=-1))


@pytest.mark.django_db
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


@pytest.mark.django_db
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


@pytest.mark.django_db
def test_deleting_during_the_overlap_stops_both_values(user):
    token, old_raw = create_token(user, now=T0)
    _, new_raw = regenerate(token, overlap=timedelta(days=7), now=T0)
    services.api_token_revoke(token=token, actor=user, now=T0 + timedelta(minutes=1))
    assert auth(old_raw, T0 + timedelta(minutes=2)).reason == "revoked"
    assert auth(new_raw, T0 + timedelta(minutes=2)).reason == "revoked"


@pytest.mark.django_db
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


@pytest.mark.django_db
def test_two_regenerates_in_a_row_with_zero_overlap_leave_only_the_newest(user):
    token, first_raw = create_token(user, now=T0)
    _, second_raw = regenerate(token, overlap=timedelta(days=1), now=T0)
    _, third_raw = regenerate(token, overlap=timedelta(0), now=T0 + timedelta(seconds=1))
    moment = T0 + timedelta(seconds=2)
    assert auth(first_raw, moment).reason == "unknown"
    assert auth(second_raw, moment).reason == "expired"  # stopped at once, still known
    assert auth(third_raw, moment).ok


@pytest.mark.django_db
def test_regenerate_security_log_says_until_when_in_words(user):
    # The owner's security log showed "works until 2026-05-02T13:00:00+00:00" (raw ISO,
    # with microseconds on real clocks) instead of a date a person reads.
    token, _raw = create_token(user, "Deploy bot", now=T0)
    old_identifier = token.identifier

    regenerate(token, overlap=timedelta(hours=1), now=T0 + timedelta(days=1, microseconds=433997))

    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.REGENERATED)
    assert event.detail == f"Previous value {old_identifier} works until 2 May 2026, 13:00 UTC"
