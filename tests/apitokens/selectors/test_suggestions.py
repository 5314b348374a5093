"""Right-sizing suggestions (apitokens/selectors/suggestions.py): each rule at its edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apitokens import allowlist, stale
from apitokens.models import TokenSuggestionDismissal
from apitokens.selectors import suggestions
from apitokens.selectors.suggestions import allowlist_from_addresses, token_suggestions
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
Kind = TokenSuggestionDismissal.Kind
READ_WRITE = ("read", "write")


def make(user, *, age_days=40, scopes=READ_WRITE, **kwargs):
    token, _ = create_token(user, now=NOW - timedelta(days=age_days), scopes=scopes, **kwargs)
    return token


def use(token, *, days_ago=2, **kwargs):
    """Requests with `token` `days_ago` days before NOW, its last use set as the API does."""
    at = NOW - timedelta(days=days_ago)
    rows = add_activity(token, at=at, **kwargs)
    latest = max(row.created_at for row in rows)
    if token.last_used_at is None or token.last_used_at < latest:
        token.last_used_at = latest
        token.save(update_fields=["last_used_at"])
    return rows


def kinds(token):
    return [suggestion.kind for suggestion in token_suggestions(token=token, now=NOW)]


@pytest.mark.django_db
def test_a_read_write_token_that_only_read_is_offered_read_only_and_its_address(user):
    token = make(user)
    use(token, count=3, ip="198.51.100.10")
    found = token_suggestions(token=token, now=NOW)
    assert [suggestion.kind for suggestion in found] == [Kind.READ_ONLY, Kind.ALLOWLIST]
    assert found[0].title == "No write requests in 30 days — make it read-only"
    assert found[1].networks == ("198.51.100.10",)
    assert found[1].title == "Every request in 30 days came from one address — allow only it"


@pytest.mark.django_db
def test_a_token_younger_than_30_days_is_not_judged(user):
    token = make(user, age_days=29)
    use(token, days_ago=1)
    assert kinds(token) == []
    older = make(user, age_days=30)
    use(older, days_ago=1)
    assert kinds(older) == [Kind.READ_ONLY, Kind.ALLOWLIST]


@pytest.mark.django_db
def test_a_retention_shorter_than_the_window_judges_nothing(user, settings):
    settings.QUICKBOT_ACTIVITY_RETENTION_DAYS = 14
    token = make(user)
    use(token)
    assert kinds(token) == []


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["POST", "DELETE", "PATCH", "PUT"])
def test_one_write_request_in_30_days_keeps_write(user, method):
    token = make(user)
    use(token, count=50)
    use(token, days_ago=29, method=method, status=403)  # refused or not, it needed write
    assert Kind.READ_ONLY not in kinds(token)


@pytest.mark.django_db
def test_a_write_request_before_the_window_does_not_count(user):
    token = make(user, age_days=90)
    use(token, days_ago=31, method="POST")
    use(token, days_ago=3, method="HEAD")
    assert Kind.READ_ONLY in kinds(token)


@pytest.mark.django_db
def test_read_only_needs_both_permissions_and_some_use(user):
    write_only = make(user, scopes=("write",))
    use(write_only)  # its GETs were refused: "read-only" would grant read
    read_only = make(user, scopes=("read",))
    use(read_only)
    unused_lately = make(user, age_days=90)
    use(unused_lately, days_ago=45)
    assert Kind.READ_ONLY not in kinds(write_only)
    assert Kind.READ_ONLY not in kinds(read_only)
    assert kinds(unused_lately) == []


@pytest.mark.django_db
def test_addresses_sharing_a_24_or_a_64_are_grouped_as_that_network(user):
    token = make(user)
    for ip in ("203.0.113.7", "203.0.113.200", "198.51.100.9", "2001:db8:1::5", "2001:db8:1::9"):
        use(token, ip=ip)
    [allowlist_suggestion] = [
        s for s in token_suggestions(token=token, now=NOW) if s.kind == Kind.ALLOWLIST
    ]
    assert allowlist_suggestion.networks == ("198.51.100.9", "203.0.113.0/24", "2001:db8:1::/64")
    assert allowlist_suggestion.title == (
        "Every request in 30 days came from one address and two networks — allow only these"
    )
    assert allowlist_suggestion.allowed_ips == "198.51.100.9\n203.0.113.0/24\n2001:db8:1::/64"


@pytest.mark.django_db
def test_too_many_networks_or_an_unknown_address_suggests_no_allowlist(user):
    scattered = make(user)
    for index in range(suggestions.MAX_SUGGESTED_NETWORKS + 1):
        use(scattered, ip=f"198.51.{index}.1")
    unknown = make(user)
    use(unknown, ip="198.51.100.1")
    use(unknown, ip=None)
    assert Kind.ALLOWLIST not in kinds(scattered)
    assert Kind.ALLOWLIST not in kinds(unknown)


@pytest.mark.django_db
def test_addresses_last_seen_before_the_window_are_not_listed(user):
    token = make(user, age_days=90)
    use(token, days_ago=40, ip="192.0.2.1")
    use(token, days_ago=2, ip="198.51.100.1")
    [found] = [s for s in token_suggestions(token=token, now=NOW) if s.kind == Kind.ALLOWLIST]
    assert found.networks == ("198.51.100.1",)


@pytest.mark.django_db
def test_a_token_with_an_allowlist_gets_no_allowlist_suggestion(user):
    token = make(user, allowed_ips="198.51.100.0/24")
    use(token, ip="198.51.100.10")
    assert kinds(token) == [Kind.READ_ONLY]


@pytest.mark.django_db
def test_a_stale_token_is_offered_delete_only(user):
    unused = make(user, age_days=100)
    use(unused, days_ago=61)
    never = make(user, age_days=31, scopes=("read",))
    [suggestion] = token_suggestions(token=unused, now=NOW)
    assert suggestion.kind == Kind.DELETE
    assert suggestion.title == "Not used for 61 days — delete it"
    assert suggestion.idle_days == 61
    assert [s.title for s in token_suggestions(token=never, now=NOW)] == [
        "Never used in 31 days — delete it"
    ]


@pytest.mark.django_db
def test_stale_rule_off_suggests_no_delete(user, settings):
    settings.QUICKBOT_STALE_TOKEN_DAYS = 0
    token = make(user, age_days=100)
    assert kinds(token) == []


@pytest.mark.django_db
def test_deleted_and_expired_tokens_get_no_suggestions(user):
    expired = make(user, age_days=100, expires_at=NOW - timedelta(days=1))
    use(expired, days_ago=5)
    deleted = make(user, age_days=100)
    use(deleted, days_ago=5)
    deleted.revoked_at = NOW - timedelta(days=1)
    deleted.save(update_fields=["revoked_at"])
    assert kinds(expired) == [] and kinds(deleted) == []


@pytest.mark.django_db
def test_a_dismissed_kind_is_left_out_but_still_checked_for_apply(user):
    token = make(user)
    use(token)
    TokenSuggestionDismissal.objects.create(token=token, kind=Kind.READ_ONLY)
    assert kinds(token) == [Kind.ALLOWLIST]
    applicable = suggestions.token_suggestion(token=token, kind=Kind.READ_ONLY, now=NOW)
    assert applicable is not None and applicable.kind == Kind.READ_ONLY


@pytest.mark.django_db
def test_rules_read_a_fixed_number_of_queries_whatever_the_traffic(user, django_assert_num_queries):
    token = make(user)
    use(token, count=500, step=timedelta(seconds=30))
    stale.stale_after_days()  # the token policy, read at most every 10 s
    # dismissals, rollup total, write probe, unknown-address probe, addresses
    with django_assert_num_queries(5):
        assert kinds(token) == [Kind.READ_ONLY, Kind.ALLOWLIST]


def test_grouping_keeps_lone_addresses_and_maps_ipv4_mapped_addresses():
    assert allowlist_from_addresses(["::ffff:192.0.2.1", "192.0.2.9"]) == ("192.0.2.0/24",)
    assert allowlist_from_addresses(["2001:db8::1"]) == ("2001:db8::1",)
    assert allowlist_from_addresses([]) is None
    assert allowlist_from_addresses(["not an address"]) is None


addresses = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
)


@given(st.lists(addresses, max_size=12))
def test_a_suggested_allowlist_admits_every_address_it_was_built_from(found):
    entries = allowlist_from_addresses(found)
    if entries is None:
        return
    assert len(entries) <= suggestions.MAX_SUGGESTED_NETWORKS
    stored = "\n".join(entries)
    assert allowlist.allowlist_normalize(stored) == stored
    assert all(allowlist.address_allowed(stored, address) for address in found)


@pytest.mark.django_db
def test_the_write_probe_reads_the_partial_index_of_writes(user):
    # Without apitokens_activity_write_idx the probe reads every request of the token in the
    # window (3.2 s at a million GETs on SQLite); with it, only the token's writes.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    token = make(user)
    since = NOW - timedelta(days=30)
    with CaptureQueriesContext(connection) as captured:
        suggestions.token_write_requests_exist(token=token, since=since)
    (query,) = captured.captured_queries
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert "apitokens_activity_write_idx" in plan
        else:
            # An empty table gives PostgreSQL's planner no reason to prefer it: check that the
            # index exists with the probe's condition, over the probe's columns.
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'apitokens_activity_write_idx'"
            )
            (definition,) = cursor.fetchone()
            assert "(token_id, created_at)" in definition
            for method in ("GET", "HEAD", "OPTIONS"):
                assert method in definition.split("WHERE", 1)[1]
