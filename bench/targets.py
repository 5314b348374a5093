"""What `make bench` holds the API path to, on each setup, and the round-trip floor the
PostgreSQL + Redis targets are stated against.

On SQLite + local memory the targets are multiples of the plain view (issues 5 and 11). On
PostgreSQL + Redis most of a request's cost is round trips whose price is the machine's, not
the code's (on the 2-core VM a loopback round trip wakes a halted vCPU), so the targets there
say how much the pipeline may cost *above the floor measured in the same run*: the plain view
plus the lookup statement alone plus one Redis `PING`. `bench/run.py` checks a run against
them; `bench/ab.py` checks the current checkout's side of an A/B run.
"""

from __future__ import annotations

# Per setup, as multiples of the plain view: the full pipeline's and an unknown token's
# most in process, a refusal's most, and the full pipeline's least throughput over HTTP
# (on PostgreSQL + Redis: `http_min`, from the floor).
TARGETS = {
    "sqlite+locmem": {"full": 2.0, "refusal": 1.2, "unknown": 1.5, "http": 0.7},
    "postgresql+redis": {"refusal": 1.2},
}
# Per setup: the most a path may cost above the round-trip floor, as a multiple of the
# plain view (path name: most).
ABOVE_FLOOR_MAX = {"postgresql+redis": {"protected": 1.2, "unknown": 0.3}}
# The bare round trips measured in the same rounds as the paths (bench.worker._floor_calls).
FLOORS = {
    "floor_db": "the lookup statement alone, through the driver",
    "floor_cache": "one Redis PING",
}
ABOVE_FLOOR_NAMES = {"protected": "full pipeline", "unknown": "unknown token"}
# An A/B run fails when the current checkout's full pipeline in process costs more than this
# against the baseline, and the middle half of the rounds agrees (all of it above 1).
AB_REGRESSION_MAX = 1.05


def floor(ratios: dict[str, float]) -> float | None:
    """The floor as a multiple of the plain view: 1 + the lookup alone + one Redis round
    trip (0 without Redis); None when the lookup alone was not measured."""
    if "floor_db" not in ratios:
        return None
    return 1 + ratios["floor_db"] + ratios.get("floor_cache", 0.0)


def above_floor_checks(label: str, ratios: dict[str, float]) -> list[tuple[bool, str]]:
    """(met, text) for each of the setup's targets above the floor; `ratios` holds each
    path's and floor's multiple of the plain view (medians of the per-round ratios)."""
    most = ABOVE_FLOOR_MAX.get(label, {})
    if not most:
        return []
    base = floor(ratios)
    if base is None or "floor_cache" not in ratios:
        return [(False, "round-trip floor measured (the lookup alone and a Redis PING)")]
    checks = []
    for path, limit in most.items():
        above = ratios[path] - base
        checks.append(
            (
                above <= limit,
                f"{ABOVE_FLOOR_NAMES[path]} {ratios[path]:.2f}× is {above:.2f}× above the "
                f"floor of {base:.2f}× (plain {1:.2f} + lookup {ratios['floor_db']:.2f} + "
                f"Redis PING {ratios['floor_cache']:.2f}) ≤ {limit}×",
            )
        )
    return checks


def http_min(label: str, ratios: dict[str, float]) -> float | None:
    """The full pipeline's least throughput over HTTP, as a multiple of the plain view's:
    the setup's own target, or, stated against the floor, what the in-process target allows
    (a request costing at most the floor plus its most above it); None when neither."""
    if "http" in TARGETS[label]:
        return TARGETS[label]["http"]
    most = ABOVE_FLOOR_MAX.get(label, {}).get("protected")
    base = floor(ratios)
    if most is None or base is None or "floor_cache" not in ratios:
        return None
    return 1 / (base + most)


def ab_regressed(median: float, low: float) -> bool:
    """Whether an A/B run's B/A (median and lower quartile of the per-round ratios) is a
    regression beyond the rounds' noise."""
    return median > AB_REGRESSION_MAX and low > 1
