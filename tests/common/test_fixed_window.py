"""The fixed-window counter the sign-in, sign-up and e-mail limits share (common.fixed_window)."""

from __future__ import annotations

import logging
from unittest import mock

import pytest
from django.core.cache import cache

from common.fixed_window import LOCK_GRACE_SECONDS, FixedWindowCounter

logger = logging.getLogger("tests.fixed_window")
NOW = 1_800_000_000.0


@pytest.fixture(autouse=True)
def _local_memory_cache(settings):
    """The class over the local-memory cache, whose clock a test can move (CI's Redis passes
    run the sign-in and sign-up limits on Redis)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "fixed-window-tests",
        }
    }
    yield
    cache.clear()


@pytest.fixture
def counter():
    return FixedWindowCounter(logger=logger)


@pytest.fixture
def clock(monkeypatch):
    """The local-memory cache's clock, which decides when a window's key expires."""
    state = {"now": NOW}
    monkeypatch.setattr("django.core.cache.backends.locmem.time.time", lambda: state["now"])
    return state


def test_events_count_up_within_the_window(counter, clock):
    assert [counter.hit("k", window=60) for _ in range(3)] == [1, 2, 3]


def test_the_window_opens_with_the_first_event_and_ends_after_its_length(counter, clock):
    counter.hit("k", window=60)
    clock["now"] += 59
    assert counter.hit("k", window=60) == 2  # a later event does not extend the window
    clock["now"] += 1
    assert counter.hit("k", window=60) == 1


def test_keys_count_apart(counter, clock):
    counter.hit("a", window=60)
    counter.hit("a", window=60)
    assert counter.hit("b", window=60) == 1


def test_a_counter_that_expires_between_add_and_incr_counts_one(counter, clock):
    with mock.patch.object(cache, "incr", side_effect=ValueError("expired")):
        assert counter.hit("k", window=60) == 1
    assert counter.hit("k", window=60) == 2


def test_a_lock_holds_until_its_end_and_restarts_the_count(counter, clock):
    for _ in range(3):
        counter.hit("count", window=600)
    counter.lock("lock", until=NOW + 600, seconds=600, count_key="count")
    assert counter.locked_for(["lock"], now=NOW + 1) == 599
    assert counter.locked_for(["lock"], now=NOW + 600) <= 0
    assert counter.hit("count", window=600) == 1


def test_a_lock_outlives_its_end_by_the_grace_for_slow_clocks(counter, clock):
    counter.lock("lock", until=NOW + 10, seconds=10, count_key="count")
    clock["now"] += 10 + LOCK_GRACE_SECONDS - 1
    assert cache.get("lock") == NOW + 10  # another server's clock may still be before the end


def test_locked_for_answers_the_longest_of_several_locks(counter, clock):
    counter.lock("short", until=NOW + 60, seconds=60, count_key="c1")
    counter.lock("long", until=NOW + 600, seconds=600, count_key="c2")
    assert counter.locked_for(["short", "long", "absent"], now=NOW) == 600
    assert counter.locked_for(["absent"], now=NOW) == 0
    assert counter.locked_for([], now=NOW) == 0


def test_forget_drops_counters_and_locks(counter, clock):
    counter.hit("count", window=60)
    counter.lock("lock", until=NOW + 60, seconds=60, count_key="other")
    counter.forget(["count", "lock"])
    assert counter.locked_for(["lock"], now=NOW) == 0
    assert counter.hit("count", window=60) == 1


def test_a_cache_outage_is_logged_and_the_caller_goes_on_after_the_block(counter, caplog):
    broken = mock.Mock(side_effect=ConnectionError("redis is down"))

    def allowed() -> bool:
        with counter.failing_open("Limiter: cache unavailable, not counting"):
            return counter.hit("k", window=60) <= 1
        return True

    with mock.patch.object(cache, "add", broken), caplog.at_level(logging.ERROR, logger.name):
        assert allowed() is True
        assert allowed() is True  # never refused while the cache is down
    messages = [r for r in caplog.records if r.name == logger.name]
    assert [r.getMessage() for r in messages] == ["Limiter: cache unavailable, not counting"] * 2
    assert isinstance(messages[0].exc_info[1], ConnectionError)


def test_failing_open_leaves_a_working_cache_alone(counter, caplog):
    with counter.failing_open("never logged"):
        counter.hit("k", window=60)
    assert "never logged" not in caplog.text


def test_failing_open_does_not_swallow_an_interrupt(counter):
    with pytest.raises(KeyboardInterrupt), counter.failing_open("not an outage"):
        raise KeyboardInterrupt
