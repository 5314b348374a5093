"""`make run` serves where it says, and the links in its emails point there too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
    # The task worker beside it builds the emails' links: it gets the same site URL.
    worker = next(line for line in dry_run.splitlines() if "tasks_worker" in line)
    assert 'QUICKBOT_SITE_URL="${QUICKBOT_SITE_URL:-http://127.0.0.1:8123}"' in worker


def test_logging_prints_each_line_once():
    # runserver printed "Watching for file changes" twice: Django's own console handler on
    # the "django" logger and the root's both wrote it.
    script = (
        "import logging, django; django.setup(); "
        "logging.getLogger('django.utils.autoreload').info('probe-line')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "quickbot.settings", "DEBUG": "1"},
    )
    assert result.stderr.count("probe-line") == 1, result.stderr


def test_the_editable_install_prints_no_setuptools_warning(tmp_path):
    # `make run`'s first `pip install -e .` printed a boxed "Please be careful with folders
    # in your working directory" warning: setuptools' import-finder mode, chosen when the
    # packages' folder is not declared.
    script = (
        "import sys; from setuptools import build_meta; "
        "print(build_meta.build_editable(sys.argv[1]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    wheel = result.stdout.strip().splitlines()[-1]
    assert (tmp_path / wheel).is_file()
    assert "Please be careful" not in result.stderr + result.stdout
    assert "meta path finder" not in result.stderr + result.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_screenshots_runs_the_browser_tests_with_screenshots_on():
    dry_run = subprocess.run(
        ["make", "-n", "screenshots"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    pytest_line = next(line for line in dry_run.splitlines() if "-m pytest" in line)
    assert "QUICKBOT_SCREENSHOTS=1" in pytest_line
    assert "tests/browser" in pytest_line
