"""The metrics every layer counts in (common/metrics.py): the API's counts kept in memory and
published by a thread, and the histogram that takes them already sorted into buckets."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter

from common.metrics import AUTH_SECONDS_BUCKETS, BatchHistogram, RequestTally


def _samples(registry: CollectorRegistry) -> dict[tuple, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def _fresh(name: str) -> tuple[CollectorRegistry, Counter, BatchHistogram]:
    registry = CollectorRegistry()
    counter = Counter(f"{name}_requests", "requests", ["outcome"], registry=registry)
    histogram = BatchHistogram(
        f"{name}_seconds", "seconds", buckets=AUTH_SECONDS_BUCKETS, registry=registry
    )
    return registry, counter, histogram


def test_batched_observations_equal_the_same_observations_one_by_one():
    values = [0.0001, 0.0005, 0.0007, 0.003, 0.003, 0.2, 5.0, 1.0]
    one_by_one, _, single = _fresh("single")
    for value in values:
        single.observe(value)
    batched, _, batch = _fresh("single")
    tally = RequestTally(
        counter=Counter("unused", "u", ["outcome"], registry=None), histogram=batch
    )
    for value in values:
        tally.count("ok", value)
    tally.publish()
    tally.reset()
    assert _samples(batched) == _samples(one_by_one)


def test_counts_reach_the_metrics_only_when_published():
    registry, counter, histogram = _fresh("tally")
    tally = RequestTally(counter=counter, histogram=histogram)
    try:
        tally.count("ok", 0.001)
        tally.count("ok", 0.002)
        tally.count("unknown_token", 0.001)
        tally.count("token_in_url")  # refused before any authentication: no time
        tally.publish()
        samples = _samples(registry)
        assert samples[("tally_requests_total", (("outcome", "ok"),))] == 2
        assert samples[("tally_requests_total", (("outcome", "unknown_token"),))] == 1
        assert samples[("tally_requests_total", (("outcome", "token_in_url"),))] == 1
        assert samples[("tally_seconds_count", ())] == 3
        tally.publish()  # nothing new: nothing counted twice
        assert _samples(registry) == samples
    finally:
        tally.reset()


def test_the_publisher_thread_publishes_within_seconds():
    registry, counter, histogram = _fresh("thread")
    tally = RequestTally(counter=counter, histogram=histogram)
    try:
        tally.count("limited", 0.001)
        deadline = time.monotonic() + 10
        key = ("thread_requests_total", (("outcome", "limited"),))
        while _samples(registry).get(key) != 1:
            assert time.monotonic() < deadline, "never published"
            time.sleep(0.05)
    finally:
        tally.reset()


def test_reset_forgets_what_was_not_published():
    registry, counter, histogram = _fresh("reset")
    tally = RequestTally(counter=counter, histogram=histogram)
    tally.count("ok", 0.001)
    tally.reset()
    tally.publish()
    assert ("reset_requests_total", (("outcome", "ok"),)) not in _samples(registry)
