"""The audit changelists' machinery (apitokens/admin/changelist.py): digest lookups refused, a count
capped, no page query when nothing matched."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apitokens.admin import CappedCountPaginator

pytestmark = pytest.mark.django_db


TOKEN_LIST = reverse("admin:apitokens_apitoken_changelist")


ACTIVITY_LIST = reverse("admin:apitokens_tokenactivity_changelist")


EVENT_LIST = reverse("admin:apitokens_securityevent_changelist")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.mark.parametrize(
    ("url", "lookup"),
    [
        (TOKEN_LIST, "digest"),
        (TOKEN_LIST, "digest__startswith"),
        (TOKEN_LIST, "previous_digest"),
        (ACTIVITY_LIST, "token__digest"),
        (ACTIVITY_LIST, "token__digest__startswith"),
        (EVENT_LIST, "token__previous_digest"),
    ],
)
def test_lookups_on_a_digest_are_refused(admin_client, token, url, lookup):
    token.refresh_from_db()
    response = admin_client.get(url, {lookup: token.digest[:10]})
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_a_filter_matching_nothing_does_not_walk_the_time_index(admin_client, mixed_activity):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(ACTIVITY_LIST, {"status_class": "5xx", "method": "GET"})
    assert response.context["cl"].result_count == 0
    activity_queries = [q["sql"] for q in queries.captured_queries if "tokenactivity" in q["sql"]]
    assert len(activity_queries) == 1  # the capped count, nothing ordered by time
    assert "ORDER BY" not in activity_queries[0]


def test_activity_paginator_stops_counting_at_the_cap(admin_client, mixed_activity, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "count_cap", 5)
    response = admin_client.get(ACTIVITY_LIST)
    assert response.context["cl"].result_count == 5
    assert "More than 5 results" in response.text
    events = admin_client.get(EVENT_LIST)
    assert events.context["cl"].result_count == 2
    assert "More than" not in events.text
