"""`make bench` says which targets a run missed (bench/run.py's report), and an A/B run which
regression it found (bench/ab.py's report). On PostgreSQL + Redis the targets are stated
above the round-trip floor measured in the same run: plain view + lookup + one Redis PING."""

from __future__ import annotations

from bench import ab
from bench.run import report
from bench.targets import ab_regressed


def _result(
    label: str,
    *,
    full: float,
    floor_db: float,
    floor_cache: float | None = None,
    unknown: float | None = None,
    http_full: float = 1000.0,
) -> dict:
    def row(ratio: float, queries: float = 0) -> dict:
        return {"us": 200 * ratio, "ratio": ratio, "queries": queries}

    http_row = {"rps": 1000.0, "p50_ms": 1.0, "p99_ms": 2.0, "errors": 0}
    in_process = {
        "plain": row(1.0),
        "protected": row(full, 1),
        "me": row(full, 1),
        "malformed": row(1.05),
        "checksum": row(1.05),
        "unknown": row(unknown if unknown is not None else 1.0 + floor_db + 0.2, 1),
        "floor_db": row(floor_db),
    }
    if floor_cache is not None:
        in_process["floor_cache"] = row(floor_cache)
    return {
        "label": label,
        "seconds": 1,
        "in_process": in_process,
        "http": {
            name: {**http_row, "rps": http_full if name == "protected" else 1000.0}
            for name in ("plain", "protected", "me", "malformed", "unknown")
        },
    }


def test_postgresql_run_misses_the_full_pipeline_target_above_the_round_trip_floor(capsys):
    # Floor 1 + 0.99 + 0.65 = 2.64; 4.0 is 1.36 above it.
    missed = report(_result("postgresql+redis", full=4.0, floor_db=0.99, floor_cache=0.65))
    assert any("full pipeline 4.00× is 1.36× above the floor of 2.64×" in text for text in missed)
    assert "- [ ] full pipeline 4.00× is 1.36× above the floor" in capsys.readouterr().out


def test_postgresql_run_within_the_floor_targets_meets_them(capsys):
    # The figures this machine gave: 3.69× with a lookup of 0.99× and a PING of 0.65×.
    missed = report(
        _result("postgresql+redis", full=3.69, floor_db=0.99, floor_cache=0.65, unknown=2.62)
    )
    assert missed == []
    out = capsys.readouterr().out
    assert "- [x] full pipeline 3.69× is 1.05× above the floor of 2.64×" in out
    assert "- [x] unknown token 2.62× is -0.02× above the floor of 2.64×" in out


def test_postgresql_run_misses_the_unknown_token_target_above_the_floor():
    missed = report(
        _result("postgresql+redis", full=3.0, floor_db=0.99, floor_cache=0.65, unknown=3.0)
    )
    assert [text for text in missed if "unknown token" in text] == [
        "postgresql+redis: unknown token 3.00× is 0.36× above the floor of 2.64× "
        "(plain 1.00 + lookup 0.99 + Redis PING 0.65) ≤ 0.3×"
    ]


def test_postgresql_run_without_the_redis_floor_cannot_pass():
    missed = report(_result("postgresql+redis", full=2.0, floor_db=0.5))
    assert missed == [
        "postgresql+redis: round-trip floor measured (the lookup alone and a Redis PING)"
    ]


def test_postgresql_run_over_http_is_held_to_what_the_floor_target_allows(capsys):
    # At most 2.64 + 1.2 = 3.84 × the plain view's time: at least 0.26 × its throughput.
    result = _result("postgresql+redis", full=3.69, floor_db=0.99, floor_cache=0.65, unknown=2.62)
    assert (
        report({**result, "http": _result("x", full=1, floor_db=0, http_full=410.0)["http"]}) == []
    )
    assert "- [x] HTTP 0.41× ≥ 0.26× (1 / (the floor + its most above it))" in (
        capsys.readouterr().out
    )
    slow = _result("x", full=1, floor_db=0, http_full=200.0)["http"]
    assert report({**result, "http": slow}) == [
        "postgresql+redis: HTTP 0.20× ≥ 0.26× (1 / (the floor + its most above it))"
    ]


def test_sqlite_run_keeps_its_plain_view_targets_and_has_no_floor_target(capsys):
    assert report(_result("sqlite+locmem", full=1.9, floor_db=0.08)) == []
    assert "above the floor" not in capsys.readouterr().out
    missed = report(_result("sqlite+locmem", full=2.1, floor_db=0.08, http_full=650.0))
    assert missed == [
        "sqlite+locmem: full pipeline 2.10× ≤ 2.0×",
        "sqlite+locmem: HTTP 0.65× ≥ 0.70×",
    ]


def _ab_rounds(*, a_full: float, b_full: float, b_floor_cache: float = 100.0) -> dict:
    """Five A/B rounds; µs per request, the plain view at 200."""

    def row(full: float, floor_cache: float | None) -> dict:
        paths = {"plain": 200.0, "protected": full, "me": full, "malformed": 210.0}
        paths |= {"checksum": 210.0, "unknown": 500.0, "floor_db": 200.0}
        if floor_cache is not None:
            paths["floor_cache"] = floor_cache
        return paths

    http = {"plain": {"rps": 1000.0, "errors": 0}, "protected": {"rps": 500.0, "errors": 0}}
    return {
        "ready": {side: {"modules": {"token_required": "apitokens.api"}} for side in "AB"},
        "in_process": {
            "A": [row(a_full, None) for _ in range(5)],
            "B": [row(b_full, b_floor_cache) for _ in range(5)],
        },
        "queries": {side: dict.fromkeys(ab.PATHS, 1) for side in "AB"},
        "http": {side: [http] * 3 for side in "AB"},
    }


def _ab_report(rounds: dict, label: str = "postgresql+redis") -> list[str]:
    sides = {"A": "69c334b", "B": "this checkout"}
    return ab.report(label, rounds, sides, "69c334b", 1.0)[1]


def test_ab_run_passes_when_the_current_checkout_costs_the_same():
    # Floor 1 + 1.0 + 0.5 = 2.5 × plain; the pipeline at 3.5 × is 1.0 above it.
    assert _ab_report(_ab_rounds(a_full=700.0, b_full=700.0)) == []


def test_ab_run_fails_on_a_regression_beyond_the_rounds_noise():
    failed = _ab_report(_ab_rounds(a_full=650.0, b_full=715.0))
    assert failed == [
        "postgresql+redis: the full pipeline costs +10.0% against 69c334b, more than +5.0%, "
        "and so does the middle half of the rounds"
    ]


def test_ab_run_fails_when_the_current_checkout_misses_a_floor_target():
    # 3.9 × plain is 1.4 above the floor of 2.5 ×, over 1.2: on both sides alike.
    failed = _ab_report(_ab_rounds(a_full=780.0, b_full=780.0))
    assert len(failed) == 1
    assert "full pipeline 3.90× is 1.40× above the floor of 2.50×" in failed[0]


def test_ab_run_on_sqlite_has_no_floor_target():
    assert _ab_report(_ab_rounds(a_full=780.0, b_full=780.0), label="sqlite+locmem") == []


def test_a_regression_is_one_the_middle_half_of_the_rounds_agrees_with():
    assert ab_regressed(1.06, 1.01)
    assert not ab_regressed(1.06, 0.98)  # within the rounds' noise
    assert not ab_regressed(1.04, 1.02)  # within the 5 % allowed
