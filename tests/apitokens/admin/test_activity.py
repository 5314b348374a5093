"""The API activity admin (apitokens/admin/activity.py): filters, search, date drill-down, and no
full count at a million rows."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apitokens.models import TokenActivity
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db


ACTIVITY_LIST = reverse("admin:apitokens_tokenactivity_changelist")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def _change_url(model: str, pk: int) -> str:
    return reverse(f"admin:apitokens_{model}_change", args=[pk])


@pytest.mark.parametrize(
    ("query", "expected_count"),
    [
        ({}, 8),
        ({"status_class": "2xx"}, 4),
        ({"status_class": "4xx"}, 3),
        ({"status_class": "401"}, 2),
        ({"status_class": "429"}, 1),
        ({"status_class": "5xx"}, 1),
        ({"method": "POST"}, 1),
        ({"flagged__exact": "1"}, 2),
        ({"q": "198.51.100.1"}, 3),
        ({"q": "203.0.113.7"}, 1),
        ({"q": "/api/v1/activity/"}, 1),
        ({"q": "/api/v1/"}, 0),
        ({"q": "/api/v1/me/"}, 7),
        ({"q": "grace@example.com"}, 3),
        ({"q": "GRACE@example.com"}, 3),
        ({"q": "mobile app"}, 3),
        ({"q": "no such thing"}, 0),
        ({"status_class": "bogus"}, 8),
        ({"method": "BREW"}, 8),
        ({"owner": "not-a-number"}, 8),
    ],
)
def test_activity_filters_and_search(admin_client, mixed_activity, query, expected_count):
    response = admin_client.get(ACTIVITY_LIST, query)
    assert response.status_code == HTTPStatus.OK
    assert response.context["cl"].result_count == expected_count


def test_activity_filters_by_token_and_owner_links(admin_client, mixed_activity, other_user):
    first, second = mixed_activity
    by_token = admin_client.get(ACTIVITY_LIST, {"token": first.public_id})
    assert by_token.context["cl"].result_count == 5
    assert "Production Website Integration" in by_token.text
    by_identifier = admin_client.get(ACTIVITY_LIST, {"q": second.identifier})
    assert by_identifier.context["cl"].result_count == 3
    by_owner = admin_client.get(ACTIVITY_LIST, {"owner": other_user.pk})
    assert by_owner.context["cl"].result_count == 3
    assert reverse("admin:accounts_user_change", args=[other_user.pk]) in by_owner.text
    assert _change_url("apitoken", second.pk) in by_owner.text


def test_activity_date_hierarchy_drills_down_without_errors(admin_client, mixed_activity):
    first, _second = mixed_activity
    old = timezone.now() - timedelta(days=400)
    add_activity(first, at=old)
    top = admin_client.get(ACTIVITY_LIST)
    assert f"created_at__year={old.year}" in top.text
    year = admin_client.get(ACTIVITY_LIST, {"created_at__year": old.year})
    assert f"created_at__month={old.month}" in year.text
    month = admin_client.get(
        ACTIVITY_LIST, {"created_at__year": old.year, "created_at__month": old.month}
    )
    assert f"created_at__day={old.day}" in month.text
    day = admin_client.get(
        ACTIVITY_LIST,
        {"created_at__year": old.year, "created_at__month": old.month, "created_at__day": old.day},
    )
    assert day.context["cl"].result_count == 1


def test_activity_date_hierarchy_with_nonsense_is_not_a_server_error(admin_client, mixed_activity):
    for query in (
        {"created_at__year": "abc"},
        {"created_at__year": "2026", "created_at__month": "13"},
        {"created_at__year": "2026", "created_at__month": "2", "created_at__day": "31"},
    ):
        response = admin_client.get(ACTIVITY_LIST, query)
        assert response.status_code in (HTTPStatus.OK, HTTPStatus.FOUND), query


def test_activity_changelist_never_counts_the_whole_table(admin_client, mixed_activity):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(ACTIVITY_LIST)
    assert response.status_code == HTTPStatus.OK
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts, "the paginator counts (with a cap)"
    assert all("LIMIT" in sql.upper() for sql in counts), counts


@pytest.mark.parametrize(
    "query",
    [
        {"created_at__year": "9999999999"},
        {"created_at__year": "9999"},
        {"created_at__year": "9999", "created_at__month": "12", "created_at__day": "31"},
        {"created_at__year": "2026", "created_at__month": "99999999999999999999"},
    ],
)
def test_out_of_range_date_hierarchy_values_are_refused_without_a_server_error(
    admin_client, mixed_activity, query
):
    # The admin's date drill-down built datetime(9999999999, ...) (OverflowError) or the
    # year after 9999 (ValueError) outside Django's own try, so these URLs were a 500.
    response = admin_client.get(ACTIVITY_LIST, query)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].endswith("?e=1")


# --- Search by request ID ------------------------------------------------------------------


def _with_request_ids(rows, *request_ids: str) -> None:
    for row, request_id in zip(rows, request_ids, strict=False):
        TokenActivity.objects.filter(pk=row.pk).update(request_id=request_id)


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("req_AbCdEfGhIjKlMnOpQrStUv", 1),
        ("  req_AbCdEfGhIjKlMnOpQrStUv  ", 1),
        ("req_abcdefghijklmnopqrstuv", 0),  # exact: another letter case is another ID
        ("req_AbCdEfGhIjKl", 0),  # exact: no prefix match
        ("7b0e4c9a-2f41-4d8e-9c1a-5e6f7a8b9c0d", 2),  # a trusted proxy's ID, twice
        ("req_\x00", 5),  # Django's search form refuses a NUL: the whole list, no error
        ("req_" + "x" * 5000, 0),
    ],
)
def test_staff_find_activity_by_exact_request_id(admin_client, user, term, expected):
    token, _raw = create_token(user, "Traced")
    rows = add_activity(token, count=5, at=timezone.now() - timedelta(hours=1))
    _with_request_ids(
        rows,
        "req_AbCdEfGhIjKlMnOpQrStUv",
        "req_other-request-id-000",
        "7b0e4c9a-2f41-4d8e-9c1a-5e6f7a8b9c0d",
        "7b0e4c9a-2f41-4d8e-9c1a-5e6f7a8b9c0d",
    )
    response = admin_client.get(ACTIVITY_LIST, {"q": term})
    assert response.status_code == HTTPStatus.OK
    assert response.context["cl"].result_count == expected


def test_a_token_name_that_is_no_request_id_is_still_searched_by_name(admin_client, user):
    token, _raw = create_token(user, "nightly-export")
    add_activity(token, count=2, at=timezone.now() - timedelta(hours=1))
    response = admin_client.get(ACTIVITY_LIST, {"q": "nightly-export"})
    assert response.context["cl"].result_count == 2


def test_the_request_id_search_uses_its_index(admin_client, user):
    token, _raw = create_token(user, "Planned")
    _with_request_ids(add_activity(token, at=timezone.now()), "req_AbCdEfGhIjKlMnOpQrStUv")
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(ACTIVITY_LIST, {"q": "req_AbCdEfGhIjKlMnOpQrStUv"})
    # The page's rows and the date bar's first and last day: each through the index.
    listings = [
        query["sql"]
        for query in queries.captured_queries
        if "request_id" in query["sql"] and "ORDER BY" in query["sql"]
    ]
    assert len(listings) == 3
    plan_prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    for listing in listings:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # A few test rows: a table scan costs less than any index; rule it out.
                cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(plan_prefix + listing)
            plan = " ".join(str(row) for row in cursor.fetchall())
        assert "apitokens_activity_reqid_idx" in plan, listing
