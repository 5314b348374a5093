"""The API's views (apitokens/api/views.py): me, the token list, deleting the current token,
activity pages, rotation (`POST /api/v1/tokens/current/rotate`) and the leak-report endpoint's
answers (`POST /api/v1/credentials/revoke`: never says which value matched)."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from datetime import date, timedelta
from http import HTTPStatus

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from apitokens import services, tokens
from apitokens.models import APIToken, SecurityEvent, TokenActivity, TokenPolicy
from tests.apitokens.factories import create_token
from tests.request_ids import comparable

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
def test_answer_is_identical_for_matching_and_non_matching_values(client, user):
    _, raw = create_token(user, "Real")
    matching = report(client, [raw, "not a token", mistyped(raw)])
    other = report(client, [unknown_value(), "not a token", mistyped(raw)])
    assert comparable(matching) == comparable(other)
    assert matching.json()["well_formed"] == 1
    assert "set-cookie" not in {name.lower() for name in matching.headers}


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
    assert set(payload) == {"error", "detail", "docs", "request_id"}
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


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_a_json_400(client):
    body = json.dumps({"credentials": ["x" * 3_000_000]})
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_request"


ME = "/api/v1/me/"


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def assert_error_shape(response, status: int, error: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "detail", "docs", "request_id"}
    assert body["error"] == error
    assert body["docs"] == "/docs/api/#errors"
    return body


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_unknown_api_path_is_json_404(client):
    for url in ("/api/nothing/", "/api/v1/me", "/api/v2/me/"):
        response = client.get(url)
        assert_error_shape(response, HTTPStatus.NOT_FOUND, "not_found")
    response = client.post("/api/v1/nothing/", {"x": "1"})
    assert_error_shape(response, HTTPStatus.NOT_FOUND, "not_found")


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_wrong_method_is_json_405_with_allow(client, token_and_raw):
    _, raw = token_and_raw
    response = client.post(ME, headers=bearer(raw))
    assert_error_shape(response, HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed")
    assert response["Allow"] == "GET, HEAD"


ROTATE = "/api/v1/tokens/current/rotate"


@pytest.fixture
def writer(user):
    return create_token(
        user,
        "Deploy pipeline",
        scopes=("read", "write"),
        expires_at=timezone.now() + timedelta(days=3),
        lifetime_days=30,
    )


def rotate(client, raw, body="", path=ROTATE, **extra):
    """POST as a script does: a JSON body, or none at all."""
    return client.post(path, body, content_type="application/json", headers=bearer(raw), **extra)


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_rotation_answers_201_with_the_new_value_once_and_no_store(client, writer):
    token, raw = writer
    moment = timezone.now()
    response = rotate(client, raw, {"overlap": 600})
    assert response.status_code == HTTPStatus.CREATED
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    new_value = body["value"]
    assert new_value.startswith("qb_") and new_value != raw
    token.refresh_from_db()
    assert body["token"]["identifier"] == token.identifier
    assert body["token"]["id"] == token.public_id
    # The lifetime applies again: 30 days from now instead of the 3 days left.
    assert token.expires_at > moment + timedelta(days=29)
    assert body["previous_value_expires_at"] is not None
    assert token.previous_expires_at <= moment + timedelta(seconds=660)
    # The new value works; so does the old one, during the overlap.
    assert client.get(ME, headers=bearer(new_value)).status_code == HTTPStatus.OK
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.OK


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_default_overlap_is_one_hour(client, writer):
    token, raw = writer
    moment = timezone.now()
    assert rotate(client, raw).status_code == HTTPStatus.CREATED
    token.refresh_from_db()
    assert (
        moment + timedelta(minutes=59)
        < token.previous_expires_at
        < (moment + timedelta(minutes=61))
    )


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_zero_overlap_stops_the_old_value_at_once(client, writer):
    _, raw = writer
    response = rotate(client, raw, {"overlap": 0})
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["previous_value_expires_at"] is None
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_path_with_a_trailing_slash_rotates_too(client, writer):
    _, raw = writer
    response = rotate(client, raw, path=ROTATE + "/")
    assert response.status_code == HTTPStatus.CREATED


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("not json", "expected JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"overlap": -1}', "overlap: expected whole seconds from 0 to 604800"),
        ('{"overlap": 604801}', "overlap"),
        ('{"overlap": 60.5}', "overlap"),
        ('{"overlap": "3600"}', "overlap"),
        ('{"overlap": true}', "overlap"),
        ('{"overlap": null}', "overlap"),
        ('{"overlap": 1e400}', "overlap"),
        ('{"overlap": 60, "extra": 1}', "extra: unknown field"),
    ],
)
def test_bad_bodies_are_400_in_the_error_shape_and_change_nothing(client, writer, body, says):
    token, raw = writer
    response = rotate(client, raw, body)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    payload = response.json()
    assert payload["error"] == "invalid_request"
    assert says in payload["detail"]
    assert APIToken.objects.get(pk=token.pk).digest == token.digest


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_seven_days_is_the_longest_overlap(client, writer):
    _, raw = writer
    assert rotate(client, raw, {"overlap": 7 * 24 * 3600}).status_code == HTTPStatus.CREATED


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_read_only_token_cannot_rotate(client, user):
    _, raw = create_token(user, "Read only job")
    response = rotate(client, raw)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["error"] == "insufficient_scope"


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_other_methods_are_405(client, writer):
    _, raw = writer
    response = client.get(ROTATE, headers=bearer(raw))
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "POST"


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_rotation_records_the_event_and_emails_like_a_regenerate(
    client, writer, user, django_capture_on_commit_callbacks
):
    token, raw = writer
    with django_capture_on_commit_callbacks(execute=True):
        rotate(client, raw, {"overlap": 60}, REMOTE_ADDR="203.0.113.5")
    event = SecurityEvent.objects.get(token=token, kind=SecurityEvent.Kind.REGENERATED)
    assert event.actor_kind == SecurityEvent.Actor.TOKEN
    assert event.ip == "203.0.113.5"
    assert event.detail.startswith(f"Previous value {token.identifier} works until")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert "regenerated" in mail.outbox[0].subject.lower()


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_a_second_rotation_with_the_replaced_value_is_409_and_loses_nothing(client, writer):
    token, first = writer
    winner = rotate(client, first, {"overlap": 600})
    assert winner.status_code == HTTPStatus.CREATED
    second = winner.json()["value"]
    loser = rotate(client, first, {"overlap": 600})
    assert loser.status_code == HTTPStatus.CONFLICT
    body = loser.json()
    assert body["error"] == "conflict"
    assert "already replaced" in body["detail"]
    # No value lost: the winner's value works, the stale one still works in its overlap.
    assert client.get(ME, headers=bearer(second)).status_code == HTTPStatus.OK
    assert client.get(ME, headers=bearer(first)).status_code == HTTPStatus.OK
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.REGENERATED).count() == 1


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_two_rotations_authenticated_before_either_ran_one_wins(client, writer, monkeypatch):
    """Both requests pass authentication with the same current value; the second one's
    service call runs after the first rotation committed."""
    token, raw = writer
    real = services.api_token_regenerate
    inner: list = []
    calls: list = []

    def first_rotation_sneaks_in(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:  # the outer request: let another rotation finish first
            inner.append(rotate(Client(), raw, {"overlap": 600}))
        return real(**kwargs)

    monkeypatch.setattr(services, "api_token_regenerate", first_rotation_sneaks_in)
    outer = rotate(client, raw, {"overlap": 600})
    (winner,) = inner
    assert winner.status_code == HTTPStatus.CREATED
    assert outer.status_code == HTTPStatus.CONFLICT
    assert outer.json()["error"] == "conflict"
    assert "meanwhile" in outer.json()["detail"]
    token.refresh_from_db()
    assert token.identifier == winner.json()["token"]["identifier"]
    assert client.get(ME, headers=bearer(winner.json()["value"])).status_code == HTTPStatus.OK
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.OK


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="real threads need a server database (SQLite's shared in-memory test database "
    "refuses concurrent writers; the interleaved test above covers it)",
)
def test_two_threads_rotating_at_once_one_wins(user):
    _, raw = create_token(user, "Deploy pipeline", scopes=("read", "write"))
    barrier = threading.Barrier(2)
    results: list = []

    def run():
        barrier.wait()
        try:
            results.append(rotate(Client(), raw, {"overlap": 600}))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(response.status_code for response in results)
    assert statuses == [HTTPStatus.CREATED, HTTPStatus.CONFLICT]
    (winner,) = [response for response in results if response.status_code == 201]
    assert Client().get(ME, headers=bearer(winner.json()["value"])).status_code == 200
    assert Client().get(ME, headers=bearer(raw)).status_code == 200
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.REGENERATED).count() == 1


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.multiprocess
def test_the_python_example_in_the_api_reference_rotates_and_replaces_the_file(
    live_server, transactional_db, user, tmp_path, settings
):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
    _, raw = create_token(user, "Deploy pipeline", scopes=("read", "write"))
    page = urllib.request.urlopen(f"{live_server.url}/docs/api/", timeout=10).read().decode()
    blocks = re.findall(r"<pre[^>]*><code>(.*?)</code></pre>", page, re.DOTALL)
    (script,) = [html.unescape(block) for block in blocks if "os.replace" in block]
    token_file = tmp_path / "token"
    token_file.write_text(raw + "\n")
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "QUICKBOT_TOKEN_FILE": str(token_file)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    new_value = token_file.read_text().strip()
    assert new_value != raw and new_value.startswith("qb_")
    assert [path.name for path in tmp_path.iterdir()] == ["token"]  # no temporary left
    assert Client().get(ME, headers=bearer(new_value)).status_code == HTTPStatus.OK
    # The file now holds the new value: the next scheduled run rotates again.
    again = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "QUICKBOT_TOKEN_FILE": str(token_file)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_me_reports_account_token_and_rate_limit(client, user):
    token, raw = create_token(user, "Reporting", scopes=("read", "write"))
    body = client.get("/api/v1/me/", headers=bearer(raw)).json()
    assert body["account"] == {
        "id": user.pk,
        "email": "ada@example.com",
        "display_name": "Ada Lovelace",
        "date_joined": user.date_joined.isoformat().replace("+00:00", "Z"),
    }
    assert body["token"]["id"] == token.public_id
    assert body["token"]["name"] == "Reporting"
    assert body["token"]["identifier"] == token.identifier
    assert body["token"]["scopes"] == ["read", "write"]
    assert body["rate_limit"]["limit"] == 1000
    assert body["rate_limit"]["used"] == 1
    assert body["rate_limit"]["remaining"] == 999
    assert raw not in str(body)


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_token_list_shows_metadata_of_undeleted_tokens_only(client, user, other_user):
    current, raw = create_token(user, "Current")
    expired, _ = create_token(user, "Old", expires_at=timezone.now() - timedelta(days=1))
    deleted, _ = create_token(user, "Deleted")
    services.api_token_revoke(token=deleted, actor=user)
    create_token(other_user, "Someone else's")
    body = client.get("/api/v1/tokens/", headers=bearer(raw)).json()
    listed = {item["id"]: item for item in body["tokens"]}
    assert set(listed) == {current.public_id, expired.public_id}
    assert listed[expired.public_id]["status"] == "expired"
    assert listed[current.public_id]["status"] == "active"
    for item in body["tokens"]:
        assert "digest" not in item
        assert set(item) == {
            "id",
            "name",
            "identifier",
            "scopes",
            "created_at",
            "last_used_at",
            "expires_at",
            "allowed_ips",
            "status",
        }


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_current_token_deletes_itself(client, user):
    token, raw = create_token(user, scopes=("read", "write"))
    response = client.delete("/api/v1/tokens/current/", headers=bearer(raw))
    assert response.status_code == HTTPStatus.NO_CONTENT
    token.refresh_from_db()
    assert token.revoked_reason == APIToken.RevokedBy.SELF
    assert token.revoked_by == user
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.DELETED)
    assert event.actor_kind == SecurityEvent.Actor.TOKEN
    response = client.get("/api/v1/me/", headers=bearer(raw))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "deleted" in response.json()["detail"]


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_read_only_token_cannot_delete_itself(client, user):
    token, raw = create_token(user, scopes=("read",))
    response = client.delete("/api/v1/tokens/current/", headers=bearer(raw))
    assert response.status_code == HTTPStatus.FORBIDDEN
    token.refresh_from_db()
    assert token.revoked_at is None


def _activity(token, count, start, **fields):
    rows = [
        TokenActivity(
            token=token,
            owner=token.owner,
            created_at=start + timedelta(minutes=index),
            method="GET",
            path="/api/v1/me/",
            status=fields.get("status", 200),
        )
        for index in range(count)
    ]
    TokenActivity.objects.bulk_create(rows)


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_activity_is_newest_first_and_cursor_paginated(client, user):
    token, raw = create_token(user)
    start = timezone.now() - timedelta(days=1)
    _activity(token, 7, start)
    seen = []
    url = "/api/v1/activity/?limit=3"
    while url:
        body = client.get(url, headers=bearer(raw)).json()
        seen += [item["created_at"] for item in body["activity"]]
        url = (
            f"/api/v1/activity/?limit=3&cursor={body['next_cursor']}"
            if body["next_cursor"]
            else None
        )
    # 7 seeded rows plus the rows of the paging requests themselves (all newer).
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen))
    assert len(seen) >= 7


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_activity_filters(client, user):
    first, raw = create_token(user, "First")
    second, _ = create_token(user, "Second")
    start = timezone.now() - timedelta(days=10)
    _activity(first, 2, start, status=200)
    _activity(second, 3, start, status=404)
    _activity(second, 1, start + timedelta(days=5), status=500)

    def fetch(query):
        response = client.get(f"/api/v1/activity/?{query}", headers=bearer(raw))
        assert response.status_code == HTTPStatus.OK, response.json()
        return response.json()["activity"]

    assert len(fetch(f"token={second.public_id}")) == 4
    assert {item["status"] for item in fetch("status=404")} == {404}
    since = (start + timedelta(days=4)).strftime("%Y-%m-%d")
    recent = fetch(f"since={since}&token={second.public_id}")
    assert [item["status"] for item in recent] == [500]


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_activity_is_scoped_to_the_account(client, user, other_user):
    _, raw = create_token(user)
    theirs, _ = create_token(other_user)
    _activity(theirs, 3, timezone.now() - timedelta(hours=1))
    assert client.get("/api/v1/activity/", headers=bearer(raw)).json()["activity"] == []
    response = client.get(f"/api/v1/activity/?token={theirs.public_id}", headers=bearer(raw))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "token:" in response.json()["detail"]


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("status=abc", "status:"),
        ("status=99", "status:"),
        ("status=%C2%B2", "status:"),
        ("since=yesterday", "since:"),
        ("since=2026-13-45", "since:"),
        ("since=0001-01-01T00:00:00%2B05:00", "since:"),
        ("limit=0", "limit:"),
        ("limit=1000", "limit:"),
        ("cursor=%%%", "cursor:"),
        ("cursor=MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHw5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "cursor:"),
        ("token=nope", "token:"),
        ("token=%00", "token:"),
        ("token=abc%27%3B--", "token:"),
        ("since=2026-01-01%00", "since:"),
        ("page=2", "page: unknown parameter"),
    ],
)
def test_bad_activity_parameters_are_400_naming_which(client, user, query, named):
    _, raw = create_token(user)
    response = client.get(f"/api/v1/activity/?{query}", headers=bearer(raw))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    body = response.json()
    assert body["error"] == "invalid_request"
    assert named in body["detail"]


def save_policy(**values) -> TokenPolicy:
    current = TokenPolicy.current()
    for field, value in values.items():
        setattr(current, field, value)
    services.token_policy_save(policy=current, actor=None)
    return current


@pytest.mark.django_db
def test_api_rotation_follows_the_policy_too(client, user):
    _, raw = create_token(user, scopes=("read", "write"))
    save_policy(max_lifetime_days=10)
    response = client.post(
        "/api/v1/tokens/current/rotate",
        "",
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    expires = date.fromisoformat(body["token"]["expires_at"][:10])
    assert expires <= timezone.now().date() + timedelta(days=10)


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_token_list_says_which_tokens_are_paused(client, user):
    _current, raw = create_token(user, "Current")
    paused, _ = create_token(user, "Paused")
    paused_and_expired, _ = create_token(user, "Paused then expired")
    for token in (paused, paused_and_expired):
        assert services.api_token_pause(token=token, actor=user)
    APIToken.objects.filter(pk=paused_and_expired.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    body = client.get("/api/v1/tokens/", headers=bearer(raw)).json()

    statuses = {item["name"]: item["status"] for item in body["tokens"]}
    assert statuses == {"Current": "active", "Paused": "paused", "Paused then expired": "expired"}
