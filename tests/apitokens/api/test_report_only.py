"""A report-only IP allowlist on the API path (apitokens/api/auth.py, usage.py): a request
from outside the list is served, counted and marked `outside_allowlist` on its activity row;
an enforced list still refuses it; no query is added."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apitokens import activity
from apitokens.models import APIToken, TokenActivity
from tests.apitokens.factories import create_token

ME = "/api/v1/me/"


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


def report_only_token(user, allowed_ips="203.0.113.0/24", **kwargs):
    return create_token(user, allowed_ips=allowed_ips, allowlist_report_only=True, **kwargs)


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_outside_a_report_only_list_the_request_is_served_and_marked(client, user):
    token, raw = report_only_token(user)
    outside = client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9")
    inside = client.get(ME, headers=bearer(raw), REMOTE_ADDR="203.0.113.200")
    assert outside.status_code == inside.status_code == HTTPStatus.OK
    # Served as any request: the rate-limit state is shown, the last use recorded.
    assert "X-RateLimit-Remaining" in outside
    rows = dict(TokenActivity.objects.filter(token=token).values_list("ip", "outside_allowlist"))
    assert rows == {"198.51.100.9": True, "203.0.113.200": False}
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_served_outside_requests_spend_the_owner_hourly_requests(client, user, settings):
    settings.QUICKBOT_API_HOURLY_LIMIT = 3
    _, raw = report_only_token(user)
    statuses = [
        client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9").status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, HTTPStatus.TOO_MANY_REQUESTS]
    # The 429 is recorded as outside the list too: it would have been refused anyway.
    assert TokenActivity.objects.filter(status=429, outside_allowlist=True).count() == 1


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_an_enforced_list_still_refuses_and_marks_nothing(client, user):
    token, raw = create_token(user, allowed_ips="203.0.113.0/24")
    response = client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["error"] == "ip_not_allowed"
    row = TokenActivity.objects.get(token=token)
    assert (row.status, row.outside_allowlist) == (403, False)


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_switching_to_enforce_refuses_from_the_next_request(client, user):
    token, raw = report_only_token(user)
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9").status_code == 200
    APIToken.objects.filter(pk=token.pk).update(allowlist_report_only=False)
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9").status_code == 403


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ip", "outside"),
    [
        ("2001:db8:1::9", False),
        ("2001:db8:2::9", True),
        ("::ffff:203.0.113.7", False),  # IPv4-mapped: matched as its IPv4 address
        ("::ffff:198.51.100.9", True),
        ("203.0.113.7", False),
        ("192.0.2.1", True),
    ],
)
def test_ipv6_and_ipv4_mapped_addresses_are_judged_as_when_enforced(client, user, ip, outside):
    token, raw = report_only_token(user, allowed_ips="2001:db8:1::/48\n203.0.113.7")
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR=ip).status_code == HTTPStatus.OK
    assert TokenActivity.objects.get(token=token).outside_allowlist is outside


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stored", "admitted", "other_family"),
    [("0.0.0.0/0", "198.51.100.9", "2001:db8::1"), ("::/0", "2001:db8::1", "198.51.100.9")],
)
def test_a_stored_list_that_admits_a_whole_family_is_judged_as_when_enforced(
    client, user, stored, admitted, other_family
):
    # Lists saved before such lists were refused at save: the existing per-request rule
    # holds in report-only mode too (the whole family admitted, the other one not).
    token, raw = report_only_token(user, allowed_ips=stored)
    for ip in (admitted, other_family):
        assert client.get(ME, headers=bearer(raw), REMOTE_ADDR=ip).status_code == 200
    marks = dict(TokenActivity.objects.filter(token=token).values_list("ip", "outside_allowlist"))
    assert marks == {admitted: False, other_family: True}
    APIToken.objects.filter(pk=token.pk).update(allowlist_report_only=False)
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR=admitted).status_code == 200
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR=other_family).status_code == 403


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_an_unreadable_client_address_is_outside(client, user):
    token, raw = report_only_token(user)
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR="").status_code == HTTPStatus.OK
    assert TokenActivity.objects.get(token=token).outside_allowlist is True


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_report_only_adds_no_query(client, user, django_assert_num_queries, monkeypatch):
    moment = timezone.now()
    monkeypatch.setattr("apitokens.api.auth.clock", lambda: moment)
    _, raw = report_only_token(user, allowed_ips="127.0.0.1")
    client.get(ME, headers=bearer(raw))  # first use: last_used_at written
    # As an enforced list's check: the lookup, then the activity row and its two rollups.
    with django_assert_num_queries(4):
        assert client.get(ME, headers=bearer(raw), REMOTE_ADDR="192.0.2.1").status_code == 200
    with django_assert_num_queries(4):
        assert client.get(ME, headers=bearer(raw)).status_code == 200


@pytest.mark.django_db
def test_buffered_rows_carry_the_mark_through_the_writer(client, user, settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 50
    settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS = 3600
    token, raw = report_only_token(user)
    client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9")
    client.get(ME, headers=bearer(raw), REMOTE_ADDR="203.0.113.9")
    with CaptureQueriesContext(connection) as captured:
        activity.activity_flush()
    # The one multi-row INSERT (or COPY) names the column.
    assert any("outside_allowlist" in query["sql"] for query in captured.captured_queries)
    marks = dict(TokenActivity.objects.filter(token=token).values_list("ip", "outside_allowlist"))
    assert marks == {"198.51.100.9": True, "203.0.113.9": False}


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_the_activity_endpoint_says_which_requests_were_outside(client, user):
    _, raw = report_only_token(user)
    client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9")
    client.get(ME, headers=bearer(raw), REMOTE_ADDR="203.0.113.9")
    response = client.get("/api/v1/activity/", headers=bearer(raw), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == HTTPStatus.OK
    marks = {row["ip"]: row["outside_allowlist"] for row in response.json()["activity"]}
    assert marks == {"198.51.100.9": True, "203.0.113.9": False}
