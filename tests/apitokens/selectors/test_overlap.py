"""Who still sends a token's old value (apitokens/selectors/overlap.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apitokens import selectors
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.selectors.conftest import NOW

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
START = NOW - timedelta(hours=6)


def test_callers_are_grouped_by_address_and_readable_client_newest_first(token):
    add_activity(token, count=3, at=START + timedelta(hours=1), used_previous_value=True)
    add_activity(
        token,
        count=2,
        at=START + timedelta(hours=2),
        ip="2001:db8::7",
        user_agent=FIREFOX,
        used_previous_value=True,
    )
    # Same client name from the same address, another version: one caller.
    add_activity(
        token,
        at=START + timedelta(hours=3),
        user_agent="curl/8.9.1",
        used_previous_value=True,
    )
    add_activity(token, count=50, at=START, ip="192.0.2.1")  # the new value: not listed
    add_activity(token, at=START - timedelta(minutes=5), used_previous_value=True)  # before

    use = selectors.previous_value_callers(token=token, since=START)

    assert [(c.ip, c.client, c.count) for c in use.callers] == [
        ("198.51.100.10", "curl", 4),
        ("2001:db8::7", "Firefox on Linux", 2),
    ]
    assert use.callers[0].last_seen_at == START + timedelta(hours=3)
    assert use.callers[0].user_agent == "curl/8.9.1"
    assert use.requests == 6 and use.others == 0 and use.complete


def test_nobody_used_the_old_value(token):
    add_activity(token, count=5, at=START + timedelta(minutes=1))
    use = selectors.previous_value_callers(token=token, since=START)
    assert use.callers == [] and use.requests == 0


def test_hostile_user_agents_come_out_clean(token):
    from django.db import connection

    nul = "\x00" if connection.vendor == "sqlite" else ""  # PostgreSQL stores no NUL at all
    add_activity(
        token,
        at=START + timedelta(minutes=1),
        user_agent="<script>x</script>" + nul + "\x1b[31m" + "A" * 200,  # the column holds 256
        used_previous_value=True,
    )
    caller = selectors.previous_value_callers(token=token, since=START).callers[0]
    assert "\x00" not in caller.user_agent and "\x1b" not in caller.user_agent
    assert len(caller.client) <= 60


def test_more_callers_than_shown_are_summed_up(token):
    for index in range(4):
        add_activity(
            token,
            at=START + timedelta(minutes=index + 1),
            ip=f"203.0.113.{index}",
            used_previous_value=True,
        )
    use = selectors.previous_value_callers(token=token, since=START, shown=3)
    assert len(use.callers) == 3 and use.others == 1 and use.requests == 4
    assert use.callers[0].ip == "203.0.113.3"


def test_a_busy_token_is_read_over_its_newest_rows_only(token):
    add_activity(token, count=3, at=START + timedelta(minutes=1), used_previous_value=True)
    add_activity(token, count=10, at=START + timedelta(hours=1), ip="192.0.2.1")
    add_activity(token, count=2, at=START + timedelta(hours=2), used_previous_value=True)

    with CaptureQueriesContext(connection) as queries:
        use = selectors.previous_value_callers(token=token, since=START, scan_rows=12)

    assert len(queries) == 2
    assert not use.complete
    assert use.counted_since == START + timedelta(hours=1)
    assert use.requests == 2  # the three oldest fell outside the 12 rows read
