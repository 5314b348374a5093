"""`make run` serves where it says, and the links in its emails point there too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_on_another_port_puts_that_port_in_email_links():
    # `make run PORT=8001` served on 8001 but token emails linked to 127.0.0.1:8000
    # (QUICKBOT_SITE_URL's default).
    dry_run = subprocess.run(
        ["make", "-n", "run", "PORT=8123"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    runserver = next(line for line in dry_run.splitlines() if "runserver" in line)
    assert "QUICKBOT_SITE_URL" in runserver
    assert "http://127.0.0.1:8123" in runserver
