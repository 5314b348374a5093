"""`make bench`: measure the API path against a plain Django view and check its targets.

Runs the default setup (SQLite + local-memory cache) and, when DATABASE_URL and REDIS_URL
are set, PostgreSQL + Redis too; each in a fresh process (settings are read at start-up).
Prints a table of ratios to the plain view and exits 1 when a target (`bench/targets.py`) is
missed.

    .venv/bin/python bench/run.py            # what `make bench` runs
    .venv/bin/python bench/run.py --quick    # fewer rounds, no memory run (a smoke test)
    .venv/bin/python bench/run.py --baseline HEAD~1   # A/B against a revision (bench/ab.py)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script, the checkout's root is not on the path

from bench.targets import FLOORS, TARGETS, above_floor_checks, http_min  # noqa: E402

LABELS = {
    "plain": "plain Django view, no auth",
    "protected": "full pipeline, same trivial view",
    "me": "full pipeline, GET /api/v1/me/",
    "malformed": "malformed header (400)",
    "checksum": "wrong checksum (401)",
    "unknown": "unknown well-formed token (401)",
    "allowlist": "full pipeline, token with a 4-entry IP allowlist",
    "orm_lookup": "full pipeline, plain ORM lookup (QUICKBOT_FAST_TOKEN_LOOKUP=false)",
}
# The IP allowlist check may cost at most this much over the same pipeline without a list.
ALLOWLIST_MAX_OVERHEAD = 1.03


def run_setup(label: str, env: dict, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        "-m",
        "bench.worker",
        "--label",
        label,
        "--rounds",
        str(args.rounds),
        "--per-round",
        str(args.per_round),
        "--http-rounds",
        str(args.http_rounds),
        "--http-seconds",
        str(args.http_seconds),
        "--memory-requests",
        str(args.memory_requests if label == "sqlite+locmem" else 0),
    ]
    if args.profile and label == "sqlite+locmem":
        command += ["--profile", args.profile]
    started = time.monotonic()
    completed = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-3000:] + completed.stderr[-5000:])
        raise SystemExit(f"bench: the {label} run failed")
    for line in completed.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            result = json.loads(line.removeprefix("BENCH-RESULT "))
            result["seconds"] = round(time.monotonic() - started, 1)
            return result
    raise SystemExit(f"bench: the {label} run printed no result")


def _ratio(row: dict, base: float, key: str = "us") -> float:
    """The median of the per-round ratios (the worker pairs each round with the plain
    view's round); the ratio of the medians for results without it."""
    return row["ratio"] if "ratio" in row else row[key] / base


def report(result: dict) -> list[str]:
    """Print one setup's tables; return the targets it missed."""
    label = result["label"]
    targets = TARGETS[label]
    in_process = result["in_process"]
    base = in_process["plain"]["us"]
    print(f"\n## {label}  ({result['seconds']} s)\n")
    print("| path | µs per request | × plain view | queries |")
    print("|---|---:|---:|---:|")
    for name, label_text in LABELS.items():
        row = in_process.get(name)
        if row is None:
            continue
        print(f"| {label_text} | {row['us']:.0f} | {_ratio(row, base):.2f} | {row['queries']:g} |")
    floors = {name: in_process[name] for name in FLOORS if name in in_process}
    for name, row in floors.items():
        print(f"| *floor:* {FLOORS[name]} | {row['us']:.0f} | {_ratio(row, base):.2f} | |")
    write = in_process.get("activity_write")
    if write and write["rows"]:
        print(
            f"\nActivity rows, written in batches after each round (off the request's path): "
            f"{write['us_per_row']:.1f} µs per row ({write['rows']:,} rows)"
        )
    http = result["http"]
    base_rps = http["plain"]["rps"]
    print("\n| over HTTP (gunicorn, 2 workers) | requests/s | × plain view | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    for name in ("plain", "protected", "me", "malformed", "unknown"):
        row = http[name]
        print(
            f"| {LABELS[name]} | {row['rps']:.0f} | {_ratio(row, base_rps, 'rps'):.2f} | "
            f"{row['p50_ms']:.2f} | {row['p99_ms']:.2f} |"
        )
    if "memory" in result:
        memory = result["memory"]
        checkpoints = ", ".join(f"{k}: {v / 1024:.1f} MiB" for k, v in memory["rss_kib"].items())
        print(
            f"\nMemory over {memory['requests']:,} full-pipeline requests: RSS {checkpoints}; "
            f"growth over the second half {memory['growth_kib']} KiB"
        )

    missed = []

    def check(ok: bool, text: str) -> None:
        print(f"- [{'x' if ok else ' '}] {text}")
        if not ok:
            missed.append(f"{label}: {text}")

    print("\nTargets:")
    ratios = {name: _ratio(row, base) for name, row in in_process.items() if "us" in row}
    for name in ("protected", "unknown"):
        target = targets.get("full" if name == "protected" else name)
        if target is not None:
            text = "full pipeline" if name == "protected" else "unknown token"
            check(ratios[name] <= target, f"{text} {ratios[name]:.2f}× ≤ {target}×")
    for ok, text in above_floor_checks(label, ratios):
        check(ok, text)
    for name in ("malformed", "checksum"):
        ratio = _ratio(in_process[name], base)
        check(
            ratio <= targets["refusal"] and in_process[name]["queries"] == 0,
            f"{name} {ratio:.2f}× ≤ {targets['refusal']}× with 0 queries "
            f"({in_process[name]['queries']:g})",
        )
    check(
        in_process["unknown"]["queries"] == 1,
        f"unknown token with 1 query ({in_process['unknown']['queries']:g})",
    )
    check(
        in_process["protected"]["queries"] <= 1.05,
        f"success path {in_process['protected']['queries']:g} queries per request ≤ 1 "
        "(activity INSERT batched)",
    )
    if "allowlist" in in_process:
        overhead = in_process["allowlist"]["vs_protected"]
        check(
            overhead <= ALLOWLIST_MAX_OVERHEAD,
            f"IP allowlist check {overhead:.3f}× the pipeline without it "
            f"≤ {ALLOWLIST_MAX_OVERHEAD}× (same rounds, median of the per-round ratios)",
        )
    if "orm_lookup" in in_process:
        saved = 1 - in_process["orm_lookup"]["fast_vs_orm"]
        # Not a target: the figure that justifies apitokens/api/internals.py (issue 11 asks
        # for at least about 5 % of the full pipeline).
        print(f"- fast token lookup saves {saved:.1%} of the full pipeline with the ORM lookup")
    http_ratio = _ratio(http["protected"], base_rps, "rps")
    least = http_min(label, ratios)
    if least is not None:
        how = "" if "http" in targets else " (1 / (the floor + its most above it))"
        check(http_ratio >= least, f"HTTP {http_ratio:.2f}× ≥ {least:.2f}×{how}")
    errors = sum(row["errors"] for row in http.values())
    check(errors == 0, f"no HTTP errors ({errors})")
    if "memory" in result:
        growth = result["memory"]["growth_kib"]
        check(growth < 2048, f"RSS growth over the second half {growth} KiB < 2 MiB")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, no memory run")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--per-round", type=int, default=400)
    parser.add_argument(
        "--http-rounds", type=int, default=None, help="6; 10 per side with --baseline"
    )
    parser.add_argument("--http-seconds", type=float, default=1.0)
    parser.add_argument("--memory-requests", type=int, default=100_000)
    parser.add_argument("--profile", default="", help="write a pyinstrument profile here")
    parser.add_argument(
        "--sqlite-path",
        default="",
        help="run the SQLite setup on this database (e.g. one filled by generate_dataset) "
        "instead of a fresh temporary one",
    )
    parser.add_argument(
        "--baseline",
        default="",
        help="A/B run: measure this checkout against the given git revision (bench/ab.py)",
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.per_round, args.http_rounds, args.memory_requests = 5, 200, 2, 0
    if args.http_rounds is None:
        args.http_rounds = 10 if args.baseline else 6
    if args.baseline and (args.profile or args.sqlite_path):
        parser.error("--baseline runs without --profile and --sqlite-path")

    started = time.monotonic()
    print("# QuickBot API benchmark")
    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )
    base_env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    base_env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        PYTHONPATH=str(ROOT),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    if args.baseline:
        from bench import ab

        return ab.main(args, base_env)
    missed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="quickbot-bench-") as directory:
        path = args.sqlite_path or str(Path(directory) / "bench.sqlite3")
        env = {**base_env, "SQLITE_PATH": path}
        missed += report(run_setup("sqlite+locmem", env, args))
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        env = {
            **base_env,
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "REDIS_URL": os.environ["REDIS_URL"],
        }
        missed += report(run_setup("postgresql+redis", env, args))
    else:
        print("\n(PostgreSQL + Redis skipped: set DATABASE_URL and REDIS_URL to include it.)")
    print(f"\nTotal {time.monotonic() - started:.0f} s.")
    if missed:
        print("\nMISSED:\n" + "\n".join(f"- {item}" for item in missed))
        return 1
    print("\nAll targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
