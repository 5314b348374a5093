"""`make bench BASELINE=<git rev>`: this checkout's API pipeline against another revision's,
measured in one run on one machine.

A is the revision, exported with `git archive` into a temporary directory (the repository
and the working tree are not touched); B is this checkout as it is on disk. Both run this
checkout's `bench/` (copied into A's tree in place of its own) in their own process, with
their tree first on `sys.path` and the same virtualenv, on equal fresh databases. Rounds
alternate A, B, A, B, …; each side's full pipeline is divided by its own plain view in the
same round, and B/A is the ratio of the two, per round; the verdict is its median.

It exits 1 when the current checkout regresses beyond the rounds' noise
(`targets.ab_regressed`), when it misses a target stated against the round-trip floor (the
floors are timed in the same rounds), or when an HTTP request failed: a gate on either setup.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.targets import AB_REGRESSION_MAX, ab_regressed, above_floor_checks

ROOT = Path(__file__).resolve().parents[1]
SIDES = ("A", "B")
ROLES = {"A": "baseline", "B": "current"}
PATHS = {
    "plain": "plain Django view, no auth",
    "protected": "full pipeline, same trivial view",
    "me": "full pipeline, GET /api/v1/me/",
    "malformed": "malformed header (400)",
    "checksum": "wrong checksum (401)",
    "unknown": "unknown well-formed token (401)",
}


def resolve(revision: str) -> tuple[str, str]:
    """The full and the short commit id of `revision`; exits when git does not know it."""
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        raise SystemExit(f"bench: git knows no commit {revision!r}")
    commit = found.stdout.strip()
    short = subprocess.run(
        ["git", "rev-parse", "--short", commit], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return commit, short


def export_tree(commit: str, directory: Path) -> Path:
    """The commit's files in `directory`/baseline, with this checkout's bench/ in place of
    its own, so that both sides are measured by the same harness."""
    tree = directory / "baseline"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True
    )
    if archive.returncode != 0:
        raise SystemExit(f"bench: git archive {commit} failed: {archive.stderr.decode()[-500:]}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    shutil.rmtree(tree / "bench", ignore_errors=True)
    shutil.copytree(ROOT / "bench", tree / "bench", ignore=shutil.ignore_patterns("__pycache__"))
    return tree


class Side:
    """One tree's `bench.worker --serve` process: one round per request."""

    def __init__(self, name: str, tree: Path, env: dict, log: Path) -> None:
        self.name, self.tree, self.log_path = name, tree, log
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.worker", "--label", name, "--serve"],
            cwd=tree,
            env={**env, "PYTHONPATH": str(tree)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )

    def read(self, kind: str) -> dict:
        for line in self.process.stdout:
            if line.startswith(f"BENCH-{kind} "):
                return json.loads(line.removeprefix(f"BENCH-{kind} "))
        self.process.wait(timeout=30)
        self.log.flush()
        tail = self.log_path.read_text()[-4000:]
        raise SystemExit(f"{tail}\nbench: side {self.name} ({self.tree}) stopped")

    def ask(self, command: str, kind: str = "ROUND") -> dict:
        try:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        except OSError:
            pass  # it stopped: read() reports why
        return self.read(kind)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write("stop\n")
                self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.terminate()  # the worker stops its gunicorn on SIGTERM
                self.process.wait(timeout=30)
        self.log.close()


def _database_url(url: str, suffix: str) -> str:
    """DATABASE_URL with `suffix` appended to the database name."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}{suffix}"))


def measure(label: str, trees: dict[str, Path], envs: dict[str, dict], args, logs: Path) -> dict:
    """Both sides of one setup, alternating round by round; the raw rounds."""
    sides = {
        name: Side(name, trees[name], envs[name], logs / f"{label}-{name}.log") for name in SIDES
    }
    try:
        ready = {name: side.read("READY") for name, side in sides.items()}
        for name, side in sides.items():
            if Path(ready[name]["tree"]) != trees[name] or Path(ready[name]["harness"]) != (
                trees[name] / "bench"
            ):
                raise SystemExit(
                    f"bench: side {name} imported apitokens from {ready[name]['tree']} and the "
                    f"harness from {ready[name]['harness']}, not from {side.tree}"
                )
        in_process = {name: [] for name in SIDES}
        for _ in range(args.rounds):
            for name, side in sides.items():
                in_process[name].append(side.ask(f"round {args.per_round}"))
        queries = {name: side.ask("queries", "QUERIES") for name, side in sides.items()}
        for side in sides.values():
            side.ask("http-start", "OK")
        http = {name: [] for name in SIDES}
        for _ in range(args.http_rounds):
            for name, side in sides.items():
                http[name].append(side.ask(f"http-round {args.http_seconds}"))
    finally:
        for side in sides.values():
            side.close()
    return {"ready": ready, "in_process": in_process, "queries": queries, "http": http}


def _median_and_quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    low, middle, high = statistics.quantiles(values, n=4, method="inclusive")
    return statistics.median(values), low, high


def _percent(ratio: float) -> str:
    return f"{(ratio - 1) * 100:+.1f}%"


def report(
    label: str, rounds: dict, sides: dict[str, str], short: str, seconds: float
) -> tuple[str, list[str]]:
    """Print one setup's tables; return its verdict line and what failed (a regression
    beyond noise, a target above the floor missed, failed HTTP requests)."""
    in_process, http = rounds["in_process"], rounds["http"]
    n, n_http = len(in_process["A"]), len(http["A"])
    print(f"\n## {label}  ({seconds:.0f} s)\n")
    for name in SIDES:
        modules = ", ".join(sorted(set(rounds["ready"][name]["modules"].values())))
        print(f"- {name} = {sides[name]}: {modules}")

    def full(side: str, index: int) -> float:
        row = in_process[side][index]
        return row["protected"] / row["plain"]

    print(f"\nFull pipeline in process, per round ({n} rounds, A then B in each):\n")
    print("| round | A µs | A plain µs | A × plain | B µs | B plain µs | B × plain | B/A |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    per_round = []
    for index in range(n):
        a, b = in_process["A"][index], in_process["B"][index]
        per_round.append(full("B", index) / full("A", index))
        print(
            f"| {index + 1} | {a['protected']:.0f} | {a['plain']:.0f} | {full('A', index):.2f} | "
            f"{b['protected']:.0f} | {b['plain']:.0f} | {full('B', index):.2f} | "
            f"{per_round[-1]:.3f} |"
        )
    a_median = statistics.median(full("A", index) for index in range(n))
    b_median = statistics.median(full("B", index) for index in range(n))
    median, low, high = _median_and_quartiles(per_round)
    print(f"| median | | | {a_median:.2f} | | | {b_median:.2f} | **{median:.3f}** |")

    print("\nEvery path in process, medians of the per-round figures:\n")
    print(
        "| path | A µs | B µs | A × plain | B × plain | B/A (× plain) | B/A (µs) | queries A, B |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for path, text in PATHS.items():

        def column(side: str, path: str = path) -> list[float]:
            return [row[path] for row in in_process[side]]

        a_times, b_times = column("A"), column("B")
        a_ratio = [t / row["plain"] for t, row in zip(a_times, in_process["A"], strict=True)]
        b_ratio = [t / row["plain"] for t, row in zip(b_times, in_process["B"], strict=True)]
        print(
            f"| {text} | {statistics.median(a_times):.0f} | {statistics.median(b_times):.0f} | "
            f"{statistics.median(a_ratio):.2f} | {statistics.median(b_ratio):.2f} | "
            f"{statistics.median(b / a for a, b in zip(a_ratio, b_ratio, strict=True)):.3f} | "
            f"{statistics.median(b / a for a, b in zip(a_times, b_times, strict=True)):.3f} | "
            f"{rounds['queries']['A'][path]:g}, {rounds['queries']['B'][path]:g} |"
        )

    print(f"\nFull pipeline over HTTP (gunicorn, 2 workers each), per round ({n_http} rounds):\n")
    print(
        "| round | A plain req/s | A full req/s | A × plain "
        "| B plain req/s | B full req/s | B × plain | B/A |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    http_ratios = {name: [] for name in SIDES}
    http_per_round = []
    for index in range(n_http):
        cells = []
        for name in SIDES:
            row = http[name][index]
            http_ratios[name].append(row["protected"]["rps"] / row["plain"]["rps"])
            cells.append(
                f"{row['plain']['rps']:.0f} | {row['protected']['rps']:.0f} | "
                f"{http_ratios[name][-1]:.2f}"
            )
        http_per_round.append(http_ratios["B"][-1] / http_ratios["A"][-1])
        print(f"| {index + 1} | {' | '.join(cells)} | {http_per_round[-1]:.3f} |")
    http_median, http_low, http_high = _median_and_quartiles(http_per_round)
    print(
        f"| median | | | {statistics.median(http_ratios['A']):.2f} | | | "
        f"{statistics.median(http_ratios['B']):.2f} | **{http_median:.3f}** |"
    )
    errors = sum(row[path]["errors"] for name in SIDES for row in http[name] for path in row)
    failed = []
    if errors:
        failed.append(f"{label}: {errors} HTTP requests failed")
    if ab_regressed(median, low):
        failed.append(
            f"{label}: the full pipeline costs {_percent(median)} against {short}, more than "
            f"{_percent(AB_REGRESSION_MAX)}, and so does the middle half of the rounds"
        )
    # The current checkout's targets above the round-trip floor, from the same rounds.
    current = in_process["B"]
    ratios = {
        key: statistics.median(row[key] / row["plain"] for row in current) for key in current[0]
    }
    checks = above_floor_checks(label, ratios)
    if checks:
        print("\nThe current checkout's targets above the round-trip floor (round medians):")
    for ok, text in checks:
        print(f"- [{'x' if ok else ' '}] {text}")
        if not ok:
            failed.append(f"{label}: {text}")

    # In process B/A is a ratio of times (above 1: B costs more); over HTTP of throughputs.
    def noise(low: float, high: float) -> str:
        return ", within round-to-round noise" if low <= 1 <= high else ""

    verdict = (
        f"{label}: the current checkout costs {_percent(median)} against {short} "
        f"(full pipeline in process, median of {n} rounds; middle half of the rounds "
        f"{_percent(low)} to {_percent(high)}{noise(low, high)}); over HTTP its throughput "
        f"{_percent(http_median)} (median of {n_http} rounds; middle half "
        f"{_percent(http_low)} to {_percent(http_high)}{noise(http_low, http_high)})"
    )
    print(f"\n**Verdict: {verdict}.**")
    return verdict, failed


def main(args: argparse.Namespace, base_env: dict) -> int:
    commit, short = resolve(args.baseline)
    started = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still remove the tree
    named = args.baseline if commit.startswith(args.baseline) else f"{args.baseline} ({short})"
    sides = {
        "A": f"{named}, exported to a temporary tree",
        "B": f"{ROOT} as on disk",
    }
    print(
        f"\nA/B: A = {named}, B = this checkout as on disk; "
        f"{args.rounds} rounds in process × {args.per_round} requests per path and side, "
        f"{args.http_rounds} rounds over HTTP × {args.http_seconds:g} s per path and side, "
        "alternating A, B, A, B, …"
    )
    verdicts, failed = [], []
    with tempfile.TemporaryDirectory(prefix="quickbot-bench-ab-") as directory:
        directory = Path(directory)
        trees = {"A": export_tree(commit, directory), "B": ROOT}
        setups = {
            "sqlite+locmem": {
                name: {**base_env, "SQLITE_PATH": str(directory / f"{name}.sqlite3")}
                for name in SIDES
            }
        }
        if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
            setups["postgresql+redis"] = {
                name: {
                    **base_env,
                    # Each side its own database, recreated empty, and its own cache keys.
                    "DATABASE_URL": _database_url(os.environ["DATABASE_URL"], f"_ab_{ROLES[name]}"),
                    "REDIS_URL": os.environ["REDIS_URL"],
                    "CACHE_KEY_PREFIX": f"quickbot-bench-ab-{ROLES[name]}",
                }
                for name in SIDES
            }
        for label, envs in setups.items():
            setup_started = time.monotonic()
            rounds = measure(label, trees, envs, args, directory)
            verdict, setup_failed = report(
                label, rounds, sides, short, time.monotonic() - setup_started
            )
            verdicts.append(verdict)
            failed += setup_failed
    if "postgresql+redis" not in setups:
        print("\n(PostgreSQL + Redis skipped: set DATABASE_URL and REDIS_URL to include it.)")
    print(f"\nTotal {time.monotonic() - started:.0f} s.\n")
    for verdict in verdicts:
        print(f"- {verdict}")
    if failed:
        print("\nFAILED:\n" + "\n".join(f"- {item}" for item in failed))
        return 1
    return 0
