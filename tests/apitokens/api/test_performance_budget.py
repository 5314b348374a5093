"""Query budget of the API path (issue 5). Timings live in `make bench`, not here."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apitokens import activity, services, tokens
from apitokens.models import TokenActivity
from tests.apitokens.factories import create_token

ME = "/api/v1/me/"
# Writing activity: the rows (INSERT, or COPY on PostgreSQL), then in the same transaction
# the hourly rollup upsert and the address-facts upsert, so the counts always agree with the
# rows. Buffered (the default), this happens on the flusher thread, off the request path;
# with QUICKBOT_ACTIVITY_BUFFER_SIZE=0 (these tests) it joins the request.
INLINE_WRITE = 3


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def unbuffered(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


@pytest.fixture
def buffered(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 50
    settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS = 3600
    yield
    activity.activity_flush()


@pytest.fixture
def warm_token(client, user):
    """A token used once already, so last_used_at is fresh (no UPDATE due)."""
    token, raw = create_token(user, scopes=("read", "write"))
    client.get(ME, headers=bearer(raw))
    activity.activity_flush()
    return token, raw


@pytest.mark.django_db
def test_success_costs_one_read_and_one_insert(
    client, unbuffered, warm_token, django_assert_num_queries
):
    _, raw = warm_token
    with django_assert_num_queries(1 + INLINE_WRITE) as captured:
        client.get(ME, headers=bearer(raw))
    assert captured.captured_queries[0]["sql"].startswith("SELECT")
    write = captured.captured_queries[1]["sql"]
    # A multi-row INSERT; on PostgreSQL a COPY (apitokens.activity.writer._copy).
    assert write.startswith("COPY" if connection.vendor == "postgresql" else "INSERT")
    assert "apitokens_tokenactivity" in write
    rollups = [query["sql"] for query in captured.captured_queries[2:]]
    assert "apitokens_tokenusagehour" in rollups[0] and "ON CONFLICT" in rollups[0]
    assert "apitokens_tokenaddress" in rollups[1] and "ON CONFLICT" in rollups[1]


@pytest.mark.django_db
def test_success_with_buffered_activity_costs_one_read(
    client, buffered, warm_token, django_assert_num_queries
):
    _, raw = warm_token
    for _ in range(5):
        with django_assert_num_queries(1):
            client.get(ME, headers=bearer(raw))
    assert activity.activity_pending() == 5


@pytest.mark.django_db
def test_buffered_insert_is_one_query_for_many_rows(
    client, buffered, warm_token, django_assert_max_num_queries
):
    _, raw = warm_token
    for _ in range(20):
        client.get(ME, headers=bearer(raw))
    with django_assert_max_num_queries(INLINE_WRITE):
        assert activity.activity_flush() == 20
    assert TokenActivity.objects.count() == 21


@pytest.mark.django_db
def test_last_used_update_only_when_due(
    client, unbuffered, user, monkeypatch, django_assert_num_queries
):
    _, raw = create_token(user)
    moment = timezone.now()
    monkeypatch.setattr("apitokens.api.auth.clock", lambda: moment)
    with django_assert_num_queries(2 + INLINE_WRITE):  # lookup, write, UPDATE last_used (first use)
        client.get(ME, headers=bearer(raw))
    for seconds in (1, 30, 59):
        monkeypatch.setattr(
            "apitokens.api.auth.clock", lambda s=seconds: moment + timedelta(seconds=s)
        )
        with django_assert_num_queries(1 + INLINE_WRITE):
            client.get(ME, headers=bearer(raw))
    monkeypatch.setattr("apitokens.api.auth.clock", lambda: moment + timedelta(seconds=60))
    with django_assert_num_queries(2 + INLINE_WRITE):
        client.get(ME, headers=bearer(raw))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    ["Bearer", "Basic abc", "Bearer qb_short", "Bearer qb_" + "a" * 38, "Bearer " + "x" * 2000],
)
def test_refusals_before_lookup_cost_zero_queries(
    client, unbuffered, header, django_assert_num_queries
):
    with django_assert_num_queries(0):
        client.get(ME, headers={"Authorization": header})


@pytest.mark.django_db
def test_missing_credentials_cost_zero_queries(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        client.get(ME)


@pytest.mark.django_db
def test_unknown_token_costs_one_query(client, buffered, django_assert_num_queries):
    # Its per-address trace is written by the flusher, off the request's path.
    with django_assert_num_queries(1):
        client.get(ME, headers=bearer(tokens.generate_token()))
    assert activity.activity_pending() == 0  # no activity row: the token is no one's


@pytest.mark.django_db
def test_unknown_token_inline_costs_lookup_and_trace(client, unbuffered, django_assert_num_queries):
    # lookup, UPDATE finds no trace, INSERT, and the webhook subscriptions (a new security-log
    # row asks them; read once per 10 s and process, so the next request does not)
    with django_assert_num_queries(4) as first:
        client.get(ME, headers=bearer(tokens.generate_token()))
    assert first.captured_queries[2]["sql"].startswith("INSERT")
    assert "webhookendpoint" in first.captured_queries[3]["sql"]
    with django_assert_num_queries(2):  # lookup, UPDATE of this window's trace
        client.get(ME, headers=bearer(tokens.generate_token()))


@pytest.mark.django_db
def test_deleted_token_costs_lookup_and_activity(
    client, unbuffered, user, monkeypatch, django_assert_num_queries
):
    token, raw = create_token(user)
    services.api_token_revoke(token=token, actor=user)
    monkeypatch.setattr(services, "api_token_dead_use_record", lambda **kwargs: None)
    with django_assert_num_queries(1 + INLINE_WRITE):
        client.get(ME, headers=bearer(raw))


@pytest.mark.django_db
def test_rate_limited_request_costs_lookup_and_activity_only(
    client, unbuffered, settings, warm_token, django_assert_num_queries
):
    settings.QUICKBOT_API_HOURLY_LIMIT = 1
    _, raw = warm_token
    with django_assert_num_queries(1 + INLINE_WRITE):
        assert client.get(ME, headers=bearer(raw)).status_code == 429


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "queries"),
    [
        ("/api/v1/tokens/", 2 + INLINE_WRITE),
        ("/api/v1/activity/", 2 + INLINE_WRITE),
        ("/api/v1/activity/?status=200&since=2026-01-01", 2 + INLINE_WRITE),
    ],
)
def test_endpoints_answer_in_bounded_queries(
    client, unbuffered, warm_token, url, queries, django_assert_num_queries
):
    _, raw = warm_token
    with django_assert_num_queries(queries):
        client.get(url, headers=bearer(raw))


@pytest.mark.django_db
def test_activity_token_filter_adds_one_query(
    client, unbuffered, warm_token, django_assert_num_queries
):
    token, raw = warm_token
    with django_assert_num_queries(3 + INLINE_WRITE):
        client.get(f"/api/v1/activity/?token={token.public_id}", headers=bearer(raw))


@pytest.mark.django_db
def test_activity_page_queries_do_not_grow_with_rows(
    client, unbuffered, warm_token, django_assert_num_queries
):
    token, raw = warm_token
    TokenActivity.objects.bulk_create(
        TokenActivity(token=token, owner=token.owner, method="GET", path=ME, status=200)
        for _ in range(150)
    )
    with django_assert_num_queries(2 + INLINE_WRITE):
        response = client.get("/api/v1/activity/?limit=100", headers=bearer(raw))
    assert len(response.json()["activity"]) == 100


@pytest.mark.django_db
def test_api_reference_page_needs_no_queries_for_anonymous_visitors(
    client, django_assert_num_queries
):
    with django_assert_num_queries(0):
        client.get("/docs/api/")
