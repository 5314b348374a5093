"""The hourly rollups and address facts agree exactly with the raw activity rows: after
random traffic (buffered, inline and through the API), after a prune and after a rebuild;
and the pages' figures, read from them, equal counts over the raw rows."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apitokens import activity, selectors, services
from apitokens.activity.rows import ActivityRow
from apitokens.models import TokenActivity, TokenAddress, TokenUsageHour
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
STATUSES = (200, 201, 204, 301, 400, 401, 403, 404, 405, 429, 500, 503)
IPS = ("203.0.113.7", "198.51.100.9", "2001:db8::1", None)


def _row(token, moment, status, ip):
    return ActivityRow(
        token.pk, token.owner_id, moment, "GET", ME, status, ip, "curl/8", 3, False, False
    )


def _random_traffic(tokens, *, now, rng, count=400, days=40):
    """Rows at random times over `days` days, written in random batches, one at a time
    (the inline path) or many (the flusher's), some exactly on hour boundaries."""
    rows = []
    for _ in range(count):
        moment = now - timedelta(seconds=rng.randrange(days * 86400))
        if rng.random() < 0.1:
            moment = moment.replace(minute=0, second=0, microsecond=0)
        rows.append(_row(rng.choice(tokens), moment, rng.choice(STATUSES), rng.choice(IPS)))
    while rows:
        size = 1 if rng.random() < 0.3 else rng.randrange(2, 60)
        batch, rows = rows[:size], rows[size:]
        activity.write_rows(batch)


def _raw_hours():
    """(token, UTC hour) -> counters, computed from the raw rows in Python."""
    hours = defaultdict(lambda: [0] * 7)
    for token_id, created_at, status in TokenActivity.objects.values_list(
        "token_id", "created_at", "status"
    ):
        counts = hours[(token_id, activity.hour_of(created_at))]
        counts[0] += 1
        if 200 <= status < 300:
            counts[1] += 1
        elif status in (401, 403, 429):
            counts[{401: 2, 403: 3, 429: 4}[status]] += 1
        elif 400 <= status < 500:
            counts[5] += 1
        elif 500 <= status < 600:
            counts[6] += 1
    return dict(hours)


def _rollup_hours():
    return {
        (row[0], row[1].astimezone(UTC)): list(row[2:])
        for row in TokenUsageHour.objects.values_list(
            "token_id",
            "hour",
            "requests",
            "status_2xx",
            "status_401",
            "status_403",
            "status_429",
            "status_4xx_other",
            "status_5xx",
        )
    }


def _raw_addresses():
    seen = {}
    for token_id, ip, created_at in TokenActivity.objects.exclude(ip__isnull=True).values_list(
        "token_id", "ip", "created_at"
    ):
        first, last = seen.get((token_id, ip), (created_at, created_at))
        seen[(token_id, ip)] = (min(first, created_at), max(last, created_at))
    return seen


def _rollup_addresses():
    return {
        (token_id, ip): (first, last)
        for token_id, ip, first, last in TokenAddress.objects.values_list(
            "token_id", "ip", "first_seen_at", "last_seen_at"
        )
    }


def assert_rollups_agree():
    assert _rollup_hours() == _raw_hours()
    assert _rollup_addresses() == _raw_addresses()


@pytest.fixture
def tokens():
    owners = [UserFactory(), UserFactory(), UserFactory()]
    return [create_token(owner)[0] for owner in owners for _ in range(2)]


def test_rollups_agree_with_raw_rows_after_random_traffic(tokens):
    _random_traffic(tokens, now=timezone.now(), rng=random.Random(16))
    assert TokenActivity.objects.count() == 400
    assert_rollups_agree()


def test_rollups_agree_after_traffic_through_the_api_inline_and_buffered(
    client, settings, user, monkeypatch
):
    token, raw = create_token(user)
    revoked, revoked_raw = create_token(user)
    services.api_token_revoke(token=revoked, actor=user)
    rng = random.Random(12)
    start = timezone.now() - timedelta(hours=5)
    for buffer_size in (0, 50):
        settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = buffer_size
        settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS = 3600
        for index in range(40):
            moment = start + timedelta(minutes=7 * index + buffer_size)
            monkeypatch.setattr("apitokens.api.auth.clock", lambda m=moment: m)
            value = revoked_raw if rng.random() < 0.2 else raw
            path = ME if rng.random() < 0.8 else "/api/v1/nothing-here/"
            client.get(
                path,
                headers={"Authorization": f"Bearer {value}"},
                REMOTE_ADDR=rng.choice(("203.0.113.7", "198.51.100.9")),
            )
        activity.activity_flush()
    statuses = Counter(TokenActivity.objects.values_list("status", flat=True))
    assert TokenActivity.objects.count() == 80
    assert statuses[401] and statuses[200] and statuses[404]
    assert_rollups_agree()


def test_page_figures_equal_counts_over_raw_rows(tokens):
    now = timezone.now()
    _random_traffic(tokens, now=now, rng=random.Random(7), count=300)
    token = tokens[0]
    raw = TokenActivity.objects.filter(token=token)
    daily = selectors.activity_per_day(token=token, days=30, now=now)
    first_day = timezone.make_aware(datetime.combine(daily[0][0], datetime.min.time()))
    assert sum(count for _day, count in daily) == raw.filter(created_at__gte=first_day).count()
    assert selectors.token_request_total(token=token) == raw.count()
    for status_class, (_label, condition) in selectors.STATUS_CLASSES.items():
        expected = raw.filter(condition).count()
        assert selectors.token_request_total(token=token, status_class=status_class) == expected
    week = selectors.hour_window(hours=168, now=now)
    in_week = TokenActivity.objects.filter(created_at__gte=week)
    hourly = selectors.activity_per_hour(hours=168, now=now)
    assert sum(count for _hour, count in hourly) == in_week.count()
    assert selectors.status_counts(since=week) == {
        status: in_week.filter(status=status).count() for status in (401, 403, 429)
    }
    accounts = selectors.top_accounts(since=week)
    assert sum(row["requests"] for row in accounts) == in_week.count()  # 3 accounts < 10
    by_owner = Counter(in_week.values_list("owner_id", flat=True))
    assert {row["owner_id"]: row["requests"] for row in accounts} == dict(by_owner)
    tops = selectors.top_tokens(since=week)
    assert sum(row["requests"] for row in tops) == in_week.count()


def test_keyset_pages_walk_every_row_once_for_each_filter(tokens):
    now = timezone.now()
    _random_traffic(tokens[:1], now=now, rng=random.Random(3), count=200, days=5)
    token = tokens[0]
    for status_class in (None, *selectors.STATUS_CLASSES):
        expected = list(
            selectors.token_activity(token=token, status_class=status_class).values_list(
                "pk", flat=True
            )
        )
        seen, cursor = [], None
        while True:
            page = selectors.token_activity_page(
                token=token, status_class=status_class, older_than=cursor, size=7
            )
            seen += [row.pk for row in page.rows]
            if page.older is None:
                break
            assert len(page.rows) == 7
            cursor = page.older
        assert seen == expected, status_class


def test_prune_keeps_rollups_in_agreement(tokens, settings):
    settings.QUICKBOT_ACTIVITY_RETENTION_DAYS = 20
    _random_traffic(tokens, now=timezone.now(), rng=random.Random(5))
    out = StringIO()
    call_command("prune_token_activity", "--pause", "0", "--batch-size", "50", stdout=out)
    assert "hourly rollups" in out.getvalue()
    cutoff = activity.hour_of(timezone.now() - timedelta(days=20))
    assert not TokenUsageHour.objects.filter(hour__lt=cutoff).exists()
    assert _rollup_hours() == _raw_hours()
    # Addresses still in use keep their first use from before the retention (not "new").
    raw_addresses = _raw_addresses()
    for key, (first, last) in _rollup_addresses().items():
        assert last == raw_addresses[key][1]
        if first >= cutoff:
            assert first == raw_addresses[key][0]
    assert set(_rollup_addresses()) == set(raw_addresses)


def test_rebuild_recomputes_lost_or_wrong_rollups_idempotently(tokens):
    now = timezone.now()
    _random_traffic(tokens, now=now, rng=random.Random(9), days=10)
    expected = _rollup_hours()
    TokenUsageHour.objects.filter(hour__gte=now - timedelta(days=3)).delete()
    TokenUsageHour.objects.update(requests=999)
    TokenAddress.objects.all().delete()
    since = (now - timedelta(days=11)).date().isoformat()
    for _ in range(2):
        out = StringIO()
        call_command(
            "rebuild_usage_rollups",
            "--since",
            since,
            "--batch-hours",
            "7",
            "--pause",
            "0",
            stdout=out,
        )
        assert "Rebuilt" in out.getvalue()
        assert _rollup_hours() == expected
        assert_rollups_agree()


def test_rebuild_of_a_range_leaves_other_hours_alone(tokens):
    now = timezone.now()
    _random_traffic(tokens, now=now, rng=random.Random(2), days=10)
    TokenUsageHour.objects.update(requests=F_REQUESTS_MARK)
    start = activity.hour_of(now - timedelta(days=2))
    call_command(
        "rebuild_usage_rollups",
        "--since",
        start.isoformat(),
        "--until",
        (start + timedelta(hours=5)).isoformat(),
        stdout=StringIO(),
    )
    rebuilt = TokenUsageHour.objects.filter(hour__gte=start, hour__lte=start + timedelta(hours=5))
    assert not rebuilt.filter(requests=F_REQUESTS_MARK).exists()
    assert TokenUsageHour.objects.exclude(pk__in=rebuilt).filter(requests=F_REQUESTS_MARK).exists()


F_REQUESTS_MARK = 123_456


@pytest.mark.parametrize(
    "args",
    [
        ["--since", "yesterday"],
        ["--until", "2026-13-01"],
        ["--since", "2026-11-02", "--until", "2026-11-01"],
        ["--batch-hours", "0"],
    ],
)
def test_rebuild_refuses_bad_arguments_clearly(args):
    with pytest.raises(CommandError):
        call_command("rebuild_usage_rollups", *args, stdout=StringIO())


def test_new_ip_is_marked_on_the_first_request_from_it_only(user, user_client):
    token, _raw = create_token(user)
    now = timezone.now()
    activity.write_rows([_row(token, now - timedelta(days=20), 200, "198.51.100.10")])
    activity.write_rows(
        [
            _row(token, now - timedelta(hours=3, minutes=index), 200, "203.0.113.99")
            for index in range(5)
        ]
    )
    response = user_client.get(f"/account/tokens/{token.public_id}/")
    assert response.text.count(">New IP</span>") == 1
    assert response.text.count('class="is-new-ip"') == 1


def test_dashboard_totals_chart_and_top_lists_count_the_same_requests(tokens, admin_client):
    now = timezone.now()
    _random_traffic(tokens, now=now, rng=random.Random(11), count=300, days=9)
    response = admin_client.get("/admin/apitokens/tokenactivity/dashboard/")
    context = response.context
    week = TokenActivity.objects.filter(created_at__gte=context["week_start"])
    assert context["requests_week"] == week.count()
    assert sum(row["requests"] for row in context["top_accounts"]) == week.count()
    assert sum(row["requests"] for row in context["top_tokens"]) == week.count()
    assert sum(point.value for point in context["chart"].markers) == week.count()
    assert context["unauthorized_week"] == week.filter(status=401).count()
    day = TokenActivity.objects.filter(created_at__gte=selectors.hour_window(hours=24, now=now))
    assert context["requests_day"] == day.count()
    assert context["rate_limited_day"] == day.filter(status=429).count()


def test_a_filter_without_matches_reads_no_activity_rows(tokens):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    now = timezone.now()
    activity.write_rows(
        [_row(tokens[0], now - timedelta(hours=hour), 200, None) for hour in range(50)]
    )
    with CaptureQueriesContext(connection) as captured:
        page = selectors.token_activity_page(token=tokens[0], status_class="5xx")
    assert page.rows == [] and page.older is None
    assert not any("apitokens_tokenactivity" in query["sql"] for query in captured)
