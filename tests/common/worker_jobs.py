"""Tasks for the task worker's tests (tests/common/test_tasks.py), importable by a worker
process: one that fails every time, one that blocks until a file appears."""

from __future__ import annotations

import time
from pathlib import Path

from django.tasks import task


@task
def always_fails() -> None:
    raise RuntimeError("this task always fails")


@task
def wait_for_file(*, folder: str) -> str:
    """Mark "started", wait for "release" (at most a minute), then mark "done"."""
    root = Path(folder)
    (root / "started").touch()
    deadline = time.monotonic() + 60
    while not (root / "release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.05)
    (root / "done").touch()
    return "done"
