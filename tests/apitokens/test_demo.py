"""The demo's sample tokens and activity (apitokens/demo.py)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from apitokens import demo, selectors, tokens
from apitokens.api.lookup import authenticate_token
from apitokens.management.commands import seed_demo
from apitokens.models import APIToken, SecurityEvent, TokenActivity
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_checkout(settings, monkeypatch):
    """seed_demo runs on local setups (DEBUG on, the SQLite file); the suite also runs on
    PostgreSQL, so the database counts as local here. The refusal tests undo both."""
    settings.DEBUG = True
    monkeypatch.setattr(seed_demo, "database_vendor", lambda: "sqlite")


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_gives_the_demo_account_sample_tokens_and_a_month_of_activity():
    output = _seed()
    user = User.objects.get(email="demo@quickbot.local")
    names = set(user.api_tokens.values_list("name", flat=True))
    assert names == set(demo.SAMPLE_NAMES)
    assert "Added 4 sample API tokens" in output
    activity = TokenActivity.objects.filter(owner=user)
    assert activity.count() > 1000
    oldest = activity.order_by("created_at").first().created_at
    assert (timezone.now() - oldest).days >= 29
    assert user.api_tokens.active().count() == 3
    for token in user.api_tokens.active():
        assert token.last_used_at is not None
        assert SecurityEvent.objects.filter(token=token, kind="created").exists()


def test_the_deleted_sample_token_was_used_after_deletion():
    _seed()
    token = APIToken.objects.get(name=demo.DELETED_TOKEN_NAME)
    assert token.revoked_at is not None
    after = TokenActivity.objects.filter(token=token, created_at__gt=token.revoked_at)
    assert after.count() == demo.DEAD_USES_SINCE_YESTERDAY
    assert all(row.flagged and row.status == 401 for row in after)
    events = SecurityEvent.objects.filter(token=token, kind="deleted_token_used")
    assert sum(event.count for event in events) == demo.DEAD_USES_SINCE_YESTERDAY
    alerts = selectors.suspicious_events_for_account(user=token.owner)
    assert [(alert.token, alert.count, alert.ips) for alert in alerts] == [
        (token, demo.DEAD_USES_SINCE_YESTERDAY, [demo.LEAKED_TOKEN_IP])
    ]
    assert alerts[0].since == "since yesterday"


def test_the_demo_shows_every_suspicious_rule_on_the_dashboard():
    _seed()
    kinds = {event.kind for event in selectors.suspicious_events(limit=50)}
    assert "deleted_token_used" in kinds
    assert "new_ip" in kinds


def test_sample_tokens_are_real_values_kept_only_as_digests(monkeypatch):
    generated = []
    original = tokens.generate_token

    def spy():
        generated.append(original())
        return generated[-1]

    monkeypatch.setattr(tokens, "generate_token", spy)
    output = _seed()
    assert len(generated) == 4
    for value in generated:
        assert value not in output
        # They exist only as digests, and the deleted one no longer works.
        result = authenticate_token(value)
        assert result.token is not None


@pytest.mark.parametrize("hour", [0, 9, 14, 16, 20, 23])
def test_the_new_device_first_request_is_on_the_token_page_first_page_at_any_hour(hour):
    # The burst from a new address used to span six hours: in the afternoon the regular
    # traffic after its first request pushed the "New IP" row off the first page.

    now = timezone.now().replace(hour=hour, minute=5, second=0, microsecond=0)
    user = UserFactory()
    demo.demo_data_seed(user=user, now=now)
    token = APIToken.objects.get(owner=user, name="Mobile App Backend")
    first_page = list(selectors.token_activity(token=token)[:25])
    first_from_new_device = (
        TokenActivity.objects.filter(token=token, ip=demo.NEW_DEVICE_IP).order_by("created_at")
    ).first()
    assert first_from_new_device in first_page


def test_the_demo_requests_end_an_hour_ago_so_the_hourly_usage_agrees():
    # The usage line said "0 of 1,000 used this hour" beside "Last used 2 minutes ago":
    # seeded rows never passed the limiter that counts the hour.
    now = timezone.now()
    user = UserFactory()
    demo.demo_data_seed(user=user, now=now)
    recent = TokenActivity.objects.filter(owner=user, created_at__gt=now - timedelta(hours=1))
    assert not recent.exists()
    newest = user.api_tokens.order_by("-last_used_at").first().last_used_at
    assert now - timedelta(hours=2) < newest <= now - timedelta(hours=1)
