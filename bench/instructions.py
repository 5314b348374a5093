"""Instructions per request, counted by valgrind: the A/B that does not depend on the machine.

    .venv/bin/python bench/instructions.py                      # this checkout
    .venv/bin/python bench/instructions.py --baseline 1234059   # and a revision, side by side
    .venv/bin/python bench/instructions.py --baseline 1234059 --baseline c960e37   # several

Wall-clock rounds on a shared VM scatter by ±20–40 %; `valgrind --tool=callgrind` counts the
same instructions for the same code and inputs whatever else the machine does. Each path is
counted after 50 warm-up requests for N = 200 and N = 600 requests in two processes; the
difference over 400 is one request, start-up and set-up excluded. SQLite + local memory
(`bench/settings.py`), activity rows left in the buffer. The baseline is exported with
`git archive` and measured by this checkout's `bench/`, as `make bench BASELINE=` does.
About a minute per path and tree.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.ab import export_tree, resolve

ROOT = Path(__file__).resolve().parents[1]
PATHS = ("plain", "protected", "me")
COUNTS = (200, 600)
WARM_UP = 50


def _environment(tree: Path, state: Path) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL")  # counted on SQLite + local memory
    }
    env.update(
        PYTHONPATH=str(tree),
        DJANGO_SETTINGS_MODULE="bench.settings",
        SQLITE_PATH=str(state.with_suffix(".sqlite3")),
        QUICKBOT_ACTIVITY_BUFFER_SIZE="1000000",  # no write inside the counted requests
        QUICKBOT_ACTIVITY_FLUSH_SECONDS="1000000",
        PYTHONHASHSEED="0",  # string hashing, hence dict probing, the same in every run
    )
    return env


def _child(arguments: list[str], tree: Path, state: Path, valgrind: bool) -> str:
    command = [sys.executable, "-m", "bench.instructions", "--child", str(state), *arguments]
    if valgrind:
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command]
    done = subprocess.run(
        command, cwd=tree, env=_environment(tree, state), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{done.stderr[-3000:]}\nbench: {' '.join(arguments)} failed in {tree}")
    return done.stderr


def count_tree(name: str, tree: Path, state: Path) -> dict[str, int]:
    """Instructions per request of each path in `tree` (`state`: its tokens and database)."""
    _child(["--prepare"], tree, state, valgrind=False)
    counts = {}
    for path in PATHS:
        totals = []
        for requests in COUNTS:
            report = _child([path, str(requests)], tree, state, valgrind=True)
            found = re.search(r"Collected : (\d+)", report)
            if found is None:
                raise SystemExit(f"{report[-2000:]}\nbench: valgrind printed no total")
            totals.append(int(found.group(1)))
        counts[path] = (totals[1] - totals[0]) // (COUNTS[1] - COUNTS[0])
        print(f"  {name} {path}: {counts[path]:,}", flush=True)
    return counts


def child(state: Path, arguments: list[str]) -> None:
    """Inside one tree: `--prepare` (database and tokens), or `<path> <requests>`."""
    import django

    django.setup()
    from bench import worker

    if arguments == ["--prepare"]:
        raw, unknown = worker._setup_data()
        state.write_text(json.dumps({"raw": raw, "unknown": unknown}))
        return
    path, requests = arguments[0], int(arguments[1])
    tokens = json.loads(state.read_text())
    paths = worker._paths(tokens["raw"], tokens["unknown"])
    bench = worker.InProcess(paths)
    environ = bench.environs[path]
    for _ in range(WARM_UP):
        status = bench.call(environ)
    if status != paths[path][2]:
        raise SystemExit(f"bench: {path} answered {status}, expected {paths[path][2]}")
    for _ in range(requests):
        bench.call(environ)
    sys.stdout.flush()
    os._exit(0)  # no interpreter teardown in the count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--baseline", action="append", default=[], help="a git revision to count as well"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments, rest = parser.parse_known_args()
    if arguments.child:
        child(Path(arguments.child), rest)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("bench: valgrind not found (Debian's valgrind package)")
    with tempfile.TemporaryDirectory(prefix="quickbot-instructions-") as directory:
        workdir = Path(directory)
        trees = {}
        for revision in arguments.baseline:
            commit, short = resolve(revision)
            (workdir / short).mkdir()
            trees[short] = export_tree(commit, workdir / short)
        trees["this checkout"] = ROOT
        results = {
            name: count_tree(name, tree, workdir / f"state-{number}.json")
            for number, (name, tree) in enumerate(trees.items())
        }
    print("\n| instructions per request | " + " | ".join(results) + " |")
    print("|---|" + "---:|" * len(results))
    for path in PATHS:
        print(f"| {path} | " + " | ".join(f"{r[path]:,}" for r in results.values()) + " |")
    ratios = {name: r["protected"] / r["plain"] for name, r in results.items()}
    print("| full pipeline × plain | " + " | ".join(f"{v:.3f}" for v in ratios.values()) + " |\n")
    now = ratios.pop("this checkout")
    for name, before in ratios.items():
        print(
            f"This checkout against {name}: {now / before - 1:+.1%} "
            "(full pipeline as a ratio to the plain view)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
