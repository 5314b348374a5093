"""POST /api/v1/credentials/revoke: anyone reports leaked tokens; never says which matched."""

from __future__ import annotations

import json
from datetime import timedelta
from http import HTTPStatus
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apitokens import services, tokens
from apitokens.models import APIToken, SecurityEvent
from tests.accounts.factories import UserFactory
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


def unknown_value():
    return tokens.generate_token()


def mistyped(value):
    body = value[:-1] + ("A" if value[-1] != "A" else "B")
    assert tokens.has_token_shape(body) and not tokens.is_well_formed(body)
    return body


@pytest.mark.django_db
def test_reported_active_token_is_revoked_as_leaked(
    client, user, django_capture_on_commit_callbacks
):
    token, raw = create_token(user, "CI runner")
    with django_capture_on_commit_callbacks(execute=True):
        response = report(client, [raw])
    assert response.status_code == HTTPStatus.ACCEPTED
    assert response.json()["well_formed"] == 1
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoked_reason == APIToken.RevokedBy.LEAKED
    assert token.get_revoked_reason_display() == "reported as leaked"
    deleted = SecurityEvent.objects.get(token=token, kind=SecurityEvent.Kind.DELETED)
    assert deleted.detail == "Reported as leaked"
    assert deleted.actor_kind == SecurityEvent.Actor.SYSTEM
    assert deleted.ip == "198.51.100.23"
    # The token no longer authenticates.
    me = client.get("/api/v1/me/", headers={"Authorization": f"Bearer {raw}"})
    assert me.status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.django_db
def test_owner_is_emailed_naming_the_token_when_and_from_where(
    client, user, mailoutbox, django_capture_on_commit_callbacks
):
    token, raw = create_token(user, "CI runner")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        report(client, [raw])
    [message] = mailoutbox
    assert message.to == ["ada@example.com"]
    assert message.subject == "[QuickBot] API token “CI runner” deleted: reported as leaked"
    text = message.body
    assert "because its value was reported as leaked" in text
    assert token.identifier in text
    assert "198.51.100.23" in text
    assert "When:" in text
    html = message.alternatives[0].content
    assert token.identifier in html
    assert raw not in text and raw not in html


def _comparable(response):
    return (
        response.status_code,
        response.content,
        sorted((name, value) for name, value in response.items()),
    )


@pytest.mark.django_db
def test_answer_is_identical_for_matching_and_non_matching_values(client, user):
    _, raw = create_token(user, "Real")
    matching = report(client, [raw, "not a token", mistyped(raw)])
    other = report(client, [unknown_value(), "not a token", mistyped(raw)])
    assert _comparable(matching) == _comparable(other)
    assert matching.json()["well_formed"] == 1
    assert "set-cookie" not in {name.lower() for name in matching.headers}


def _token_selects(queries):
    return [
        query["sql"]
        for query in queries
        if query["sql"].lstrip().upper().startswith("SELECT")
        and "apitokens_apitoken" in query["sql"]
    ]


@pytest.mark.django_db
def test_digests_are_looked_up_in_one_query_whatever_matches(client, user):
    _, first = create_token(user, "One")
    _, second = create_token(user, "Two")
    for values in ([first, second, unknown_value()], [unknown_value() for _ in range(50)]):
        with CaptureQueriesContext(connection) as captured:
            response = report(client, values)
        assert response.status_code == HTTPStatus.ACCEPTED
        assert len(_token_selects(captured.captured_queries)) == 1


@pytest.mark.django_db
def test_nothing_is_looked_up_when_no_value_is_well_formed(client):
    with CaptureQueriesContext(connection) as captured:
        response = report(client, ["hello", "qb_short"])
    assert response.json()["well_formed"] == 0
    assert _token_selects(captured.captured_queries) == []


@pytest.mark.django_db
def test_mistyped_and_unknown_values_revoke_nothing(client, user):
    token, raw = create_token(user, "Real")
    response = report(client, [mistyped(raw), unknown_value(), raw[:-1]])
    assert response.json()["well_formed"] == 1
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_well_formed_counts_distinct_values(client, user):
    _, raw = create_token(user, "Real")
    assert report(client, [raw, raw, raw]).json()["well_formed"] == 1


@pytest.mark.django_db
def test_previous_value_in_its_overlap_revokes_the_token(client, user):
    token, old_value = create_token(user, "Rotated")
    services.api_token_regenerate(token=token, actor=user, overlap=timedelta(hours=1))
    report(client, [old_value])
    token.refresh_from_db()
    assert token.revoked_reason == APIToken.RevokedBy.LEAKED


@pytest.mark.django_db
def test_previous_value_past_its_overlap_cannot_revoke_the_token(client, user):
    token, old_value = create_token(user, "Rotated")
    services.api_token_regenerate(token=token, actor=user, overlap=timedelta(0))
    report(client, [old_value])
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_every_report_is_a_security_event_with_its_counts(client, user):
    _, raw = create_token(user, "Real")
    report(client, [raw, unknown_value(), "junk", raw])
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.LEAK_REPORT)
    assert event.account is None
    assert event.count == 4
    assert event.detail == "4 submitted, 2 well-formed, 1 revoked"
    assert event.ip == "198.51.100.23"
    assert event.user_agent == "quickbot-scan/1"


@pytest.mark.django_db
def test_staff_see_reports_with_their_counts(client, user):
    report(client, [unknown_value()])
    client.force_login(UserFactory(email="root@example.com", is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:apitokens_securityevent_changelist")).content.decode()
    assert "Leaked tokens reported" in page
    assert "1 submitted, 1 well-formed, 0 revoked" in page


@pytest.mark.django_db
def test_owner_page_shows_the_banner_after_a_report(client, user):
    token, raw = create_token(user, "CI runner")
    report(client, [raw])
    client.force_login(user)
    page = client.get("/account/tokens/").content.decode()
    assert "was deleted because it was reported as leaked" in page
    assert token.identifier in page
    assert "198.51.100.23" in page


@pytest.mark.django_db
def test_no_csrf_token_or_authentication_needed(user):
    token, raw = create_token(user)
    response = report(Client(enforce_csrf_checks=True), [raw])
    assert response.status_code == HTTPStatus.ACCEPTED


@pytest.mark.django_db
def test_path_with_a_trailing_slash_works_too(client):
    response = client.post(
        URL + "/", json.dumps({"credentials": ["x"]}), content_type="application/json"
    )
    assert response.status_code == HTTPStatus.ACCEPTED


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "exactly one field"),
        ('"qb_x"', "exactly one field"),
        ("{}", "exactly one field"),
        ('{"credentials": [], "extra": 1}', "exactly one field"),
        ('{"credentials": "qb_x"}', "list of strings"),
        ('{"credentials": [1, 2]}', "list of strings"),
        ('{"credentials": [null]}', "list of strings"),
        ('{"credentials": []}', "from 1 to 1,000"),
        (json.dumps({"credentials": ["x"] * 1001}), "from 1 to 1,000"),
        ("\xff\xfe", "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ],
)
@pytest.mark.django_db
def test_malformed_bodies_get_the_api_json_400(client, body, words):
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    payload = response.json()
    assert set(payload) == {"error", "detail", "docs"}
    assert payload["error"] == "invalid_request"
    assert words in payload["detail"]
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.LEAK_REPORT).exists()


@pytest.mark.django_db
def test_a_thousand_values_are_accepted(client):
    response = report(client, [unknown_value() for _ in range(1000)])
    assert response.status_code == HTTPStatus.ACCEPTED
    assert response.json()["well_formed"] == 1000


@pytest.mark.django_db
def test_other_methods_get_json_405(client):
    response = client.get(URL)
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "POST"
    assert response.json()["error"] == "method_not_allowed"


@pytest.mark.django_db
def test_reports_are_limited_per_client_ip(client, settings):
    settings.QUICKBOT_CREDENTIAL_REPORT_LIMIT = 2
    for _ in range(2):
        assert report(client, ["x"]).status_code == HTTPStatus.ACCEPTED
    refused = report(client, ["x"])
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert refused.json()["error"] == "rate_limited"
    assert int(refused["Retry-After"]) > 0
    # Malformed bodies count too; another address is not affected.
    other = client.post(URL, "{}", content_type="application/json", REMOTE_ADDR="198.51.100.99")
    assert other.status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.django_db(transaction=True)
def test_a_report_commits_once_whether_or_not_it_matches(client, user):
    _, raw = create_token(user, "Real")
    counts = []
    for values in ([raw], [unknown_value()]):
        with mock.patch.object(connection, "commit", wraps=connection.commit) as commit:
            assert report(client, values).status_code == HTTPStatus.ACCEPTED
        counts.append(commit.call_count)
    assert counts == [1, 1]


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_a_json_400(client):
    body = json.dumps({"credentials": ["x" * 3_000_000]})
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_request"
