"""The counters in this process's memory (apitokens/api/limits/local.py): windows, give-backs,
expiry and a bounded size."""

from __future__ import annotations

import pytest

from apitokens.api.limits import local as memory
from apitokens.api.limits.local import MemoryCounters


@pytest.fixture(autouse=True)
def _unbuffered_activity(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


def test_memory_counters_open_a_new_window_an_hour_after_the_first_request():
    store = MemoryCounters()
    assert store.hit(7, 1_000, "") == (0, 1_000, 1)
    assert store.hit(7, 4_599, "") == (0, 1_000, 2)
    assert store.hit(7, 4_600, "") == (0, 4_600, 1)
    assert store.usage(7, 4_601) == (4_600, 1)
    assert store.usage(7, 8_200) == (None, 0)


def test_memory_counters_give_back_only_to_the_window_that_counted():
    store = MemoryCounters()
    store.hit(7, 1_000, "")
    store.hit(7, 4_600, "")  # a new window opened meanwhile
    store.give_back(7, 1_000)
    assert store.usage(7, 4_601) == (4_600, 1)
    store.give_back(7, 4_600)
    assert store.usage(7, 4_601) == (4_600, 0)


def test_memory_named_counters_expire_after_their_timeout(monkeypatch):
    clock = {"now": 5_000.0}
    monkeypatch.setattr(memory.time, "time", lambda: clock["now"])
    store = MemoryCounters()
    assert store.add("qb:badauth:198.51.100.1:8", 3, 60) == 3
    assert store.add("qb:badauth:198.51.100.1:8", 2, 60) == 5
    assert store.hit(7, 5_000, "qb:badauth:198.51.100.1:8")[0] == 5
    clock["now"] += 60
    assert store.get_int("qb:badauth:198.51.100.1:8") == 0
    assert store.add("qb:badauth:198.51.100.1:8", 1, 60) == 1


def test_memory_counters_stay_bounded_dropping_ended_windows_first(monkeypatch):
    monkeypatch.setattr(memory, "MAX_KEYS", 4)
    store = MemoryCounters()
    for user_id in range(3):
        store.hit(user_id, 1_000, "")  # these windows end at 4_600
    store.hit(10, 4_000, "")
    for user_id in range(20, 30):
        store.hit(user_id, 4_700, "")
    assert len(store._windows) <= 4
    assert store.usage(10, 4_700) in ((4_000, 1), (None, 0))
    assert store.usage(29, 4_700) == (4_700, 1)  # the newest window is never the one dropped
    for number in range(10):
        store.add(f"name-{number}", 1, 60)
    assert len(store._named) <= 4
    assert store.get_int("name-9") == 1
