"""The token owner's alerts (apitokens/selectors/alerts.py): dead tokens used and tokens deleted
because their value was exposed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from apitokens import selectors, services
from tests.apitokens.factories import create_token

URL = "/api/v1/credentials/revoke"


REPORTER = {"REMOTE_ADDR": "198.51.100.23", "HTTP_USER_AGENT": "quickbot-scan/1"}


def report(client, values, **extra):
    return client.post(
        URL,
        json.dumps({"credentials": values}),
        content_type="application/json",
        **REPORTER,
        **extra,
    )


@pytest.mark.django_db
def test_owner_page_shows_the_banner_after_a_report(
    client, user, django_capture_on_commit_callbacks
):
    token, raw = create_token(user, "CI runner")
    with django_capture_on_commit_callbacks(execute=True):  # the report's task runs
        report(client, [raw])
    client.force_login(user)
    page = client.get("/account/tokens/").content.decode()
    assert "was deleted because it was reported as leaked" in page
    assert token.identifier in page
    assert "198.51.100.23" in page


ME = "/api/v1/me/"


@pytest.mark.django_db
def test_owner_page_shows_the_banner_for_a_token_sent_in_a_url(client, user):
    token, raw = create_token(user, "Cron job")
    client.get(f"{ME}?access_token={raw}")
    client.force_login(user)
    page = client.get("/account/tokens/").content.decode()
    assert "was deleted because it was sent in a URL" in page


NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


CLIENT = services.ClientInfo(ip="203.0.113.7")


@pytest.mark.django_db
# --- For the owner ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "phrase"),
    [
        (NOW - timedelta(hours=2), "today"),
        (NOW - timedelta(days=1), "since yesterday"),
        (NOW - timedelta(days=3), "since 17 Nov"),
    ],
)
def test_since_phrase(moment, phrase):
    assert selectors.since_phrase(moment, now=NOW) == phrase


@pytest.mark.django_db
def test_account_alert_sums_a_dead_tokens_uses_per_token(user, other_user, deleted):
    for hours_ago in (20, 19.5, 5):
        services.api_token_dead_use_record(
            token=deleted, client=CLIENT, now=NOW - timedelta(hours=hours_ago)
        )
    services.api_token_dead_use_record(
        token=deleted, client=services.ClientInfo(ip="192.0.2.1"), now=NOW - timedelta(hours=1)
    )
    theirs, _raw = create_token(other_user, "Not yours")
    services.api_token_revoke(token=theirs, actor=other_user)
    services.api_token_dead_use_record(token=theirs, client=CLIENT, now=NOW)
    alerts = selectors.suspicious_events_for_account(user=user, now=NOW)
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.token, alert.state, alert.count) == (deleted, "Deleted", 4)
    assert alert.ips == ["203.0.113.7", "192.0.2.1"]
    assert (alert.first_ip, alert.other_ip_count) == ("203.0.113.7", 1)
    assert alert.since == "since yesterday"


@pytest.mark.django_db
def test_account_alerts_expire_after_a_week(user, deleted):
    services.api_token_dead_use_record(token=deleted, client=CLIENT, now=NOW - timedelta(days=8))
    assert selectors.suspicious_events_for_account(user=user, now=NOW) == []
    assert len(selectors.suspicious_events_for_account(user=user, now=NOW - timedelta(days=2))) == 1


@pytest.mark.django_db
def test_account_alert_for_an_expired_token(user):
    token, _raw = create_token(user, "Nightly export", expires_at=NOW - timedelta(days=1))
    services.api_token_dead_use_record(token=token, client=CLIENT, now=NOW)
    (alert,) = selectors.suspicious_events_for_account(user=user, now=NOW)
    assert alert.state == "Expired"


@pytest.mark.django_db
def test_account_alerts_cost_one_query(user, deleted, django_assert_num_queries):
    for hours_ago in range(5):
        services.api_token_dead_use_record(
            token=deleted, client=CLIENT, now=NOW - timedelta(hours=hours_ago)
        )
    with django_assert_num_queries(1):
        alerts = selectors.suspicious_events_for_account(user=user, now=NOW)
        assert alerts[0].token.name == "CI runner"
