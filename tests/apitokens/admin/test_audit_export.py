"""Audit exports from the admin changelists (common.admin.AuditExportMixin on the token
security log, the API activity and the accounts' log): the changelist's filters and
search, CSV and JSON Lines, streamed with flat memory, formula cells neutralised, the
time range in the filename, refused input never a 500, each export recorded."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountEvent
from accounts.services import account_event_record
from apitokens import services
from apitokens.models import SecurityEvent, TokenActivity
from tests.apitokens.activity_factories import AUDIT_VIEW_PERMISSIONS, add_activity, staff_user
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

SECURITY_CSV = reverse("admin:apitokens_securityevent_export", args=["csv"])
SECURITY_JSONL = reverse("admin:apitokens_securityevent_export", args=["jsonl"])
ACTIVITY_CSV = reverse("admin:apitokens_tokenactivity_export", args=["csv"])
ACTIVITY_JSONL = reverse("admin:apitokens_tokenactivity_export", args=["jsonl"])
ACCOUNT_CSV = reverse("admin:accounts_accountevent_export", args=["csv"])
EXPORTS = (SECURITY_CSV, SECURITY_JSONL, ACTIVITY_CSV, ACTIVITY_JSONL, ACCOUNT_CSV)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def body(response) -> str:
    assert response.status_code == HTTPStatus.OK, response
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body(response))))


def jsonl_rows(response) -> list[dict]:
    return [json.loads(line) for line in body(response).splitlines()]


@pytest.fixture
def events(user, other_user):
    first, _ = create_token(user, "Production Website Integration")
    second, _ = create_token(other_user, "Mobile App Backend")
    services.security_event_record(
        kind=SecurityEvent.Kind.DELETED_TOKEN_USED,
        account=user,
        actor_kind=SecurityEvent.Actor.TOKEN,
        token=first,
        client=services.ClientInfo(ip="203.0.113.7"),
    )
    return first, second


def test_security_log_export_honours_the_filter_and_the_search(admin_client, user, events):
    changelist = admin_client.get(
        reverse("admin:apitokens_securityevent_changelist"), {"q": "ada@", "kind__exact": "created"}
    )
    shown = [str(event.pk) for event in changelist.context["cl"].result_list]
    rows = csv_rows(admin_client.get(SECURITY_CSV, {"q": "ada@", "kind__exact": "created"}))
    assert [row["id"] for row in rows] == shown
    assert len(rows) == 1
    assert rows[0]["account_email"] == user.email
    assert rows[0]["token_name"] == "Production Website Integration"
    assert rows[0]["token_identifier"] == events[0].identifier
    assert rows[0]["kind"] == "created"
    everything = csv_rows(admin_client.get(SECURITY_CSV))
    assert len(everything) == 3
    assert [row["time"] for row in everything] == sorted(row["time"] for row in everything)


def test_an_ip_search_and_a_token_filter_are_honoured_in_json_lines(admin_client, events):
    by_ip = jsonl_rows(admin_client.get(SECURITY_JSONL, {"q": "203.0.113.7"}))
    assert [row["kind"] for row in by_ip] == ["deleted_token_used"]
    assert by_ip[0]["ip"] == "203.0.113.7"
    by_token = jsonl_rows(admin_client.get(SECURITY_JSONL, {"token": events[1].public_id}))
    assert [row["token_name"] for row in by_token] == ["Mobile App Backend"]


def test_activity_export_honours_filters_and_search_and_carries_request_ids(
    admin_client, user, other_user
):
    now = timezone.now()
    first, _ = create_token(user, "Production Website Integration")
    second, _ = create_token(other_user, "Mobile App Backend")
    add_activity(first, count=3, at=now - timedelta(hours=2), ip="198.51.100.1")
    add_activity(first, count=2, at=now - timedelta(hours=1), status=401, flagged=True)
    add_activity(second, count=1, at=now - timedelta(minutes=30), status=429, ip="203.0.113.7")
    TokenActivity.objects.filter(status=429).update(request_id="req-4f2a")
    rows = jsonl_rows(admin_client.get(ACTIVITY_JSONL, {"status_class": "401"}))
    assert len(rows) == 2
    assert {row["status"] for row in rows} == {401}
    assert all(row["flagged"] is True for row in rows)
    rows = jsonl_rows(admin_client.get(ACTIVITY_JSONL, {"q": "203.0.113.7"}))
    assert [(row["request_id"], row["owner_email"]) for row in rows] == [
        ("req-4f2a", other_user.email)
    ]
    assert rows[0]["token_identifier"] == second.identifier
    rows = csv_rows(admin_client.get(ACTIVITY_CSV, {"owner": str(user.pk), "q": "Production"}))
    assert len(rows) == 5
    assert set(rows[0]) >= {"request_id", "token_identifier", "path", "status", "ip"}
    assert rows[0]["flagged"] == "false"


def test_no_export_holds_a_token_value_or_digest(admin_client, user):
    token, value = create_token(user, "Secret job")
    add_activity(token, count=1, at=timezone.now() - timedelta(minutes=1))
    for url in (SECURITY_CSV, SECURITY_JSONL, ACTIVITY_CSV, ACTIVITY_JSONL):
        text = body(admin_client.get(url))
        assert token.identifier in text
        assert value not in text and token.digest not in text


def test_account_log_export_honours_the_filter_and_the_search(admin_client, user, other_user):
    account_event_record(user=user, kind=AccountEvent.Kind.SIGNED_IN)
    account_event_record(user=user, kind=AccountEvent.Kind.PASSWORD_CHANGED)
    account_event_record(user=other_user, kind=AccountEvent.Kind.SIGNED_IN)
    rows = csv_rows(admin_client.get(ACCOUNT_CSV, {"kind__exact": "signed_in", "q": "grace"}))
    assert [(row["account_email"], row["kind"]) for row in rows] == [
        (other_user.email, "signed_in")
    ]
    assert len(csv_rows(admin_client.get(ACCOUNT_CSV))) == 3


def test_formula_cells_are_neutralised_in_csv(admin_client, user):
    create_token(user, '=HYPERLINK("http://evil.example","x")')
    create_token(user, "@SUM(1+1)*cmd")
    rows = csv_rows(admin_client.get(SECURITY_CSV))
    names = sorted(row["token_name"] for row in rows)
    assert names == ['\'=HYPERLINK("http://evil.example","x")', "'@SUM(1+1)*cmd"]
    # JSON Lines is no spreadsheet: the value stays as it is.
    jsonl = jsonl_rows(admin_client.get(SECURITY_JSONL))
    assert sorted(row["token_name"] for row in jsonl)[0].startswith("=HYPERLINK")


@pytest.mark.parametrize(
    ("url", "parameter"),
    [(SECURITY_CSV, "token"), (SECURITY_CSV, "ip"), (ACTIVITY_JSONL, "owner"), (ACCOUNT_CSV, "ip")],
)
@pytest.mark.parametrize("value", ["\x00", "a\x00b"])
def test_a_nul_filter_is_the_invalid_lookup_redirect(admin_client, events, url, parameter, value):
    response = admin_client.get(url, {parameter: value})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].endswith("/?e=1")
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("url", EXPORTS)
def test_a_nul_search_exports_nothing(admin_client, events, url):
    response = admin_client.get(url, {"q": "ada\x00"})
    assert response.status_code == HTTPStatus.FOUND
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    assert "The search was not understood: nothing was exported." in texts
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (ACTIVITY_CSV, {"owner": "abc"}),
        (ACTIVITY_CSV, {"status_class": "9xx"}),
        (ACTIVITY_CSV, {"created_at__year": "99999999999999999999"}),
        (SECURITY_CSV, {"kind__exact": "no-such-kind"}),
        (SECURITY_CSV, {"created_at__gte": "2026-13-45"}),
        (SECURITY_CSV, {"p": "999"}),
        (ACCOUNT_CSV, {"created_at__year": "2026", "created_at__month": "13"}),
    ],
)
def test_garbage_filters_never_500(admin_client, events, url, params):
    response = admin_client.get(url, params)
    assert response.status_code in (HTTPStatus.OK, HTTPStatus.FOUND)
    if response.status_code == HTTPStatus.OK:
        body(response)


def test_the_page_number_is_no_filter(admin_client, events):
    assert len(csv_rows(admin_client.get(SECURITY_CSV, {"p": "1"}))) == 3


def test_the_filename_carries_the_time_range_and_the_answer_is_never_cached(admin_client, events):
    response = admin_client.get(
        SECURITY_CSV,
        {
            "created_at__gte": "2026-11-01 00:00:00+00:00",
            "created_at__lt": "2026-11-02 00:00:00+00:00",
        },
    )
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "quickbot-security-log-20261101T000000Z-to-20261102T000000Z.csv" in disposition
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    jsonl = admin_client.get(ACTIVITY_JSONL)
    assert "quickbot-api-activity-start-to-" in jsonl["Content-Disposition"]
    assert jsonl["Content-Type"] == "application/jsonl"


def test_each_export_is_recorded_with_its_filters(admin_client, superuser, events):
    body(admin_client.get(SECURITY_CSV, {"kind__exact": "created"}))
    entry = LogEntry.objects.get()
    assert entry.user == superuser
    assert entry.content_type.model == "securityevent"
    assert "Exported as csv; filters: kind__exact=created" in entry.change_message
    assert entry.object_repr.startswith("Export quickbot-security-log-start-to-")


def peak_memory_reading(response) -> tuple[int, int, int]:
    """Peak bytes allocated while the streamed response is read, its size and its lines."""
    assert response.streaming
    chunks = response.streaming_content
    assert iter(chunks) is chunks  # a generator, not a list built up front
    tracemalloc.start()
    try:
        total = lines = 0
        for chunk in chunks:
            total += len(chunk)
            lines += chunk.count(b"\n")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, total, lines


def test_the_export_streams_with_flat_memory(admin_client, user):
    """Four times the rows, the same peak memory while the export is read: rows are
    fetched and written a chunk at a time (a list of every row would grow four times)."""
    token, _ = create_token(user, "Busy integration")
    start = timezone.now() - timedelta(days=2)
    TokenActivity.objects.bulk_create(
        (
            TokenActivity(
                token=token,
                owner=user,
                created_at=start + timedelta(seconds=index),
                method="GET",
                path=f"/api/v1/items/{index}/",
                status=200,
                ip="198.51.100.10",
                user_agent="curl/8.5.0",
                request_id=f"req-{index:012d}",
            )
            for index in range(4_000)
        ),
        batch_size=1000,
    )
    quarter_end = start + timedelta(seconds=1000)
    small_peak, small_total, small_lines = peak_memory_reading(
        admin_client.get(ACTIVITY_CSV, {"created_at__lt": quarter_end.isoformat()})
    )
    peak, total, lines = peak_memory_reading(admin_client.get(ACTIVITY_CSV))
    assert (small_lines, lines) == (1001, 4001)  # the header and every row
    assert total > 3.9 * small_total
    assert peak < 1.3 * small_peak, f"{small_peak} bytes for 1,000 rows, {peak} for 4,000"


def test_non_staff_are_sent_to_log_in_and_staff_without_view_permission_refused(
    client, user, events
):
    client.force_login(user)
    for url in EXPORTS:
        assert client.get(url).status_code == HTTPStatus.FOUND
    client.force_login(staff_user("apitokens.view_apitoken", email="partial@example.com"))
    for url in (SECURITY_CSV, ACTIVITY_JSONL, ACCOUNT_CSV):
        assert client.get(url).status_code == HTTPStatus.FORBIDDEN
    assert not LogEntry.objects.exists()


def test_staff_with_the_view_permission_may_export(client, events):
    client.force_login(staff_user(*AUDIT_VIEW_PERMISSIONS, email="auditor@example.com"))
    assert len(csv_rows(client.get(SECURITY_CSV))) == 3


def test_an_unknown_format_is_404_and_a_post_405(admin_client):
    unknown = reverse("admin:apitokens_securityevent_export", args=["xlsx"])
    assert admin_client.get(unknown).status_code == HTTPStatus.NOT_FOUND
    assert admin_client.post(SECURITY_CSV).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_the_changelists_link_to_their_exports_with_their_filters(admin_client, events):
    page = admin_client.get(
        reverse("admin:apitokens_securityevent_changelist"), {"kind__exact": "created"}
    ).text
    assert f"{SECURITY_CSV}?kind__exact=created" in page
    assert SECURITY_JSONL in page
    assert (
        ACTIVITY_CSV in admin_client.get(reverse("admin:apitokens_tokenactivity_changelist")).text
    )
    assert ACCOUNT_CSV in admin_client.get(reverse("admin:accounts_accountevent_changelist")).text


def test_an_event_of_no_account_exports_empty_cells(admin_client):
    SecurityEvent.objects.create(
        kind=SecurityEvent.Kind.UNKNOWN_TOKENS,
        actor_kind=SecurityEvent.Actor.CLIENT,
        ip="2001:db8::1",
        count=4,
    )
    (row,) = jsonl_rows(admin_client.get(SECURITY_JSONL))
    assert (row["account_email"], row["account_id"], row["count"]) == (None, None, 4)
    (cells,) = csv_rows(admin_client.get(SECURITY_CSV))
    assert cells["account_email"] == ""


def test_a_staff_member_is_recorded_by_email_as_actor(admin_client, superuser, user):
    token, _ = create_token(user, "Revoked by staff")
    services.api_token_revoke(token=token, actor=superuser, reason="staff")
    rows = jsonl_rows(admin_client.get(SECURITY_JSONL, {"kind__exact": "deleted"}))
    assert [(row["actor_kind"], row["actor_email"]) for row in rows] == [("staff", superuser.email)]
