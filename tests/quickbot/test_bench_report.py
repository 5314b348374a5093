"""`make bench` says which targets a run missed (bench/run.py's report), issue 11's included."""

from __future__ import annotations

from bench.run import report


def _result(label: str, *, full: float, floor_db: float) -> dict:
    def row(ratio: float, queries: float = 0) -> dict:
        return {"us": 200 * ratio, "ratio": ratio, "queries": queries}

    http_row = {"rps": 1000.0, "p50_ms": 1.0, "p99_ms": 2.0, "errors": 0}
    return {
        "label": label,
        "seconds": 1,
        "in_process": {
            "plain": row(1.0),
            "protected": row(full, 1),
            "me": row(full, 1),
            "malformed": row(1.05),
            "checksum": row(1.05),
            "unknown": row(1.0 + floor_db + 0.2, 1),
            "floor_db": row(floor_db),
        },
        "http": {name: http_row for name in ("plain", "protected", "me", "malformed", "unknown")},
    }


def test_postgresql_run_checks_the_cost_above_plain_view_and_lookup_floor(capsys):
    missed = report(_result("postgresql+redis", full=4.0, floor_db=1.3))
    assert any("above the plain view plus the lookup floor 1.70×" in text for text in missed)
    assert "[ ] full pipeline above the plain view plus the lookup floor" in capsys.readouterr().out


def test_postgresql_run_within_the_cost_above_the_floor_passes_it(capsys):
    missed = report(_result("postgresql+redis", full=2.7, floor_db=1.3))
    assert not any("lookup floor" in text for text in missed)
    assert "[x] full pipeline above the plain view plus the lookup floor 0.40×" in (
        capsys.readouterr().out
    )


def test_sqlite_run_has_no_floor_target():
    missed = report(_result("sqlite+locmem", full=1.9, floor_db=0.08))
    assert missed == []
