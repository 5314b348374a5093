from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from apitokens import services
from apitokens.models import APIToken, SecurityEvent, TokenActivity
from tests.apitokens.factories import create_token


@pytest.fixture(autouse=True)
def _unbuffered_activity(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


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


@pytest.mark.django_db
def test_activity_is_scoped_to_the_account(client, user, other_user):
    _, raw = create_token(user)
    theirs, _ = create_token(other_user)
    _activity(theirs, 3, timezone.now() - timedelta(hours=1))
    assert client.get("/api/v1/activity/", headers=bearer(raw)).json()["activity"] == []
    response = client.get(f"/api/v1/activity/?token={theirs.public_id}", headers=bearer(raw))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "token:" in response.json()["detail"]


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
