"""Time the token scanner on a generated tree: 10,000 files, 200 MB (docs/performance.md).

    .venv/bin/python bench/scan_bench.py [--files N] [--megabytes M] [--rounds R] [--keep]

The tree mixes source-like text (most files), JSON, a few real tokens and look-alikes with a
wrong checksum, binary files (skipped) and a .git folder (skipped), in nested folders. Each
round scans the whole tree in a new process (`python -m apitokens.scan`, as a hook or CI job
runs it: interpreter start-up included) after one warm-up round, so the files are in the page
cache (a repository being committed to is); the median round is the figure.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from apitokens import tokens  # noqa: E402

WORDS = [
    "def",
    "return",
    "import",
    "class",
    "self",
    "token",
    "value",
    "config",
    "request",
    "response",
    "import",
    "json",
    "for",
    "while",
    "if",
    "else",
    "elif",
    "try",
    "except",
    "raise",
    "with",
    "open",
    "read",
    "write",
    "api",
    "header",
    "bearer",
    "qb_",
    "quickbot",
    "secret",
    "key",
    "env",
    "path",
    "list",
    "dict",
    "set",
    "tuple",
    "none",
    "true",
    "false",
    "print",
]


def _text_pool(rng: random.Random, size: int) -> str:
    """A block of source-like text, lines of 20 to 100 characters, to slice files from."""
    lines, total = [], 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines) + "\n"


def build_tree(root: Path, *, files: int, megabytes: int, seed: int = 14) -> dict[str, int]:
    """Write the tree under `root`; returns what it holds."""
    rng = random.Random(seed)
    pool = _text_pool(rng, 2 * 1024 * 1024)
    average = megabytes * 1024 * 1024 // files
    counts = {"files": 0, "bytes": 0, "tokens": 0, "look_alikes": 0, "binary": 0}
    for index in range(files):
        folder = root / f"pkg{index % 50:02d}" / f"mod{index % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        size = max(200, int(rng.gauss(average, average / 4)))
        start = rng.randrange(0, len(pool) - size)
        if index % 500 == 0:
            body = os.urandom(size // 2) + b"\0" + tokens.generate_token().encode()
            (folder / f"blob{index}.bin").write_bytes(body)
            counts["binary"] += 1
        else:
            text = pool[start : start + size]
            if index % 1000 == 1:
                text += f"\nAPI_TOKEN = '{tokens.generate_token()}'\n"
                counts["tokens"] += 1
            if index % 100 == 2:
                value = tokens.generate_token()
                text += f"\nEXAMPLE = '{value[:-1]}{'A' if value[-1] != 'A' else 'B'}'\n"
                counts["look_alikes"] += 1
            name = f"file{index}.json" if index % 10 == 3 else f"file{index}.py"
            body = text.encode()
            (folder / name).write_bytes(body)
        counts["files"] += 1
        counts["bytes"] += len(body)
    git = root / ".git" / "objects"
    git.mkdir(parents=True)
    (git / "pack").write_text(f"{tokens.generate_token()}\n" * 100)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the tree in place")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="quickbot-scan-bench-"))
    try:
        started = time.perf_counter()
        counts = build_tree(work, files=options.files, megabytes=options.megabytes)
        built = time.perf_counter() - started
        megabytes = counts["bytes"] / 1024 / 1024
        print(
            f"tree: {counts['files']:,} files, {megabytes:.0f} MB, {counts['tokens']} real "
            f"tokens, {counts['look_alikes']} look-alikes, {counts['binary']} binary files "
            f"(built in {built:.1f} s) in {work}"
        )
        command = [sys.executable, "-m", "apitokens.scan", str(work)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        timings = []
        for round_number in range(options.rounds + 1):
            started = time.perf_counter()
            result = subprocess.run(command, env=env, capture_output=True, text=True)
            elapsed = time.perf_counter() - started
            found = sum(1 for line in result.stdout.splitlines() if "QuickBot API token" in line)
            if result.returncode != 1 or found != counts["tokens"]:
                raise SystemExit(
                    f"unexpected result: exit {result.returncode}, {found} found, "
                    f"{counts['tokens']} planted\n{result.stderr}"
                )
            if round_number:  # the first round warms the page cache
                timings.append(elapsed)
        median = statistics.median(timings)
        print(
            f"scan: median {median:.2f} s over {len(timings)} rounds "
            f"(min {min(timings):.2f}, max {max(timings):.2f}); "
            f"{counts['files'] / median:,.0f} files/s, {megabytes / median:,.0f} MB/s; "
            f"found exactly the {counts['tokens']} planted tokens"
        )
    finally:
        if not options.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
