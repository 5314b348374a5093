"""Which Chromium the browser tests drive (tests/browser/conftest.py): QUICKBOT_CHROMIUM, else
Debian's headless shell when installed, else Debian's full browser."""

from __future__ import annotations

import pytest

from tests.browser import conftest


@pytest.fixture
def headless_shell(tmp_path, monkeypatch):
    shell = tmp_path / "chromium-headless-shell"
    monkeypatch.setattr(conftest, "HEADLESS_SHELL", str(shell))
    monkeypatch.delenv("QUICKBOT_CHROMIUM", raising=False)
    return shell


def test_the_headless_shell_is_chosen_when_it_is_installed(headless_shell):
    headless_shell.write_text("#!/bin/sh\n")
    headless_shell.chmod(0o755)

    assert conftest.chromium_candidate() == str(headless_shell)


def test_the_full_browser_is_the_fallback(headless_shell):
    assert conftest.chromium_candidate() == "/usr/bin/chromium"
    headless_shell.write_text("not executable")
    assert conftest.chromium_candidate() == "/usr/bin/chromium"


def test_quickbot_chromium_names_the_browser(headless_shell, monkeypatch):
    headless_shell.write_text("#!/bin/sh\n")
    headless_shell.chmod(0o755)
    monkeypatch.setenv("QUICKBOT_CHROMIUM", "/usr/bin/chromium")

    assert conftest.chromium_candidate() == "/usr/bin/chromium"
