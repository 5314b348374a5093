"""The scanner and paths it cannot read: a missing or unreadable path is an error with its
own exit status (3), named on stderr, and the other paths are still scanned (issue #20, L7)."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from apitokens import scan, tokens

ROOT = Path(__file__).resolve().parents[2]
# The pre-commit hook runs the file with the machine's python3 (not this venv's).
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")


def test_a_missing_path_exits_3_and_names_it(tmp_path, capsys):
    missing = tmp_path / "typo"
    assert scan.main([str(missing)]) == scan.EXIT_UNREADABLE == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert f"quickbot-scan: {missing}: cannot read (No such file or directory)" in err
    assert "1 path could not be read" in err


def test_the_other_paths_are_still_scanned(tmp_path, capsys):
    (tmp_path / "clean.txt").write_text("nothing here\n")
    value = tokens.generate_token()
    (tmp_path / "leak.txt").write_text(value)
    assert scan.main([str(tmp_path / "gone"), str(tmp_path / "clean.txt")]) == 3
    # A token found wins: 1, and the missing path is still named.
    assert scan.main([str(tmp_path / "gone"), str(tmp_path / "leak.txt")]) == 1
    out, err = capsys.readouterr()
    assert f"{tmp_path / 'leak.txt'}:1:1: QuickBot API token" in out
    assert "gone: cannot read" in err


def test_every_unreadable_path_is_named(tmp_path, capsys):
    names = ["a", "b c", "ünïcode", "-dash"]
    assert scan.main(["--", *(str(tmp_path / name) for name in names)]) == 3
    err = capsys.readouterr().err
    for name in names:
        assert f"{tmp_path / name}: cannot read" in err
    assert "4 paths could not be read" in err


def test_a_file_that_cannot_be_opened_exits_3(tmp_path, monkeypatch, capsys):
    (tmp_path / "secret.env").write_text("x")
    real_open = open

    def refusing_open(path, *args, **kwargs):
        if str(path).endswith("secret.env"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(scan, "open", refusing_open, raising=False)
    assert scan.main([str(tmp_path)]) == 3
    assert "secret.env: cannot read (Permission denied)" in capsys.readouterr().err


def test_a_folder_named_through_a_symbolic_link_is_scanned(tmp_path, capsys):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "leak.txt").write_text(tokens.generate_token())
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    assert scan.main([str(tmp_path / "link")]) == 1
    assert capsys.readouterr().err.count("cannot read") == 0


def test_symbolic_links_inside_folders_stay_skipped_even_when_broken(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert scan.main([str(tmp_path)]) == 0


def test_help_documents_the_exit_statuses(capsys):
    with pytest.raises(SystemExit) as exit_info:
        scan.main(["--help"])
    assert exit_info.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "3 a path could not be read" in help_text
    assert "1 tokens found" in help_text


def _unprivileged() -> dict:
    """Run as nobody when the tests run as root (root reads any file)."""
    return {"user": "nobody"} if os.geteuid() == 0 else {}


@pytest.fixture
def shared_folder():
    # tmp_path is private to the test user; nobody must reach this folder.
    folder = Path(tempfile.mkdtemp(prefix="quickbot-scan-"))
    folder.chmod(0o755)
    shutil.copytree(ROOT / "apitokens", folder / "apitokens", ignore=_only_scanner)
    yield folder
    for path in folder.rglob("*"):
        path.chmod(0o755)  # locked files and folders, so they can be removed
    shutil.rmtree(folder)


def _only_scanner(directory, names):
    return [name for name in names if name not in {"scan.py", "tokens.py", "__init__.py"}]


@pytest.mark.skipif(SYSTEM_PYTHON is None, reason="the hook runs the machine's python3")
def test_the_hook_script_exits_3_on_a_file_without_read_permission(shared_folder):
    """The pre-commit entry point (the file itself, the machine's python3), a real
    permission error: the status and the message reach the caller."""
    for path in shared_folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    secret = shared_folder / "secret.env"
    secret.write_text(tokens.generate_token())
    secret.chmod(0o000)
    clean = shared_folder / "clean.txt"
    clean.write_text("nothing\n")
    clean.chmod(0o644)
    result = subprocess.run(
        [
            SYSTEM_PYTHON,
            str(shared_folder / "apitokens" / "scan.py"),
            str(secret),
            str(clean),
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        **_unprivileged(),
    )
    assert result.returncode == 3, result.stderr
    assert f"{secret}: cannot read (Permission denied)" in result.stderr
    assert result.stdout == ""


@pytest.mark.skipif(SYSTEM_PYTHON is None, reason="the hook runs the machine's python3")
def test_a_folder_that_cannot_be_listed_exits_3(shared_folder):
    tree = shared_folder / "tree"
    (tree / "locked").mkdir(parents=True)
    (tree / "locked" / "leak.txt").write_text(tokens.generate_token())
    (tree / "ok.txt").write_text("fine\n")
    for path in (tree, tree / "ok.txt"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (tree / "locked").chmod(0o000)
    result = subprocess.run(
        [SYSTEM_PYTHON, str(shared_folder / "apitokens" / "scan.py"), str(tree)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        **_unprivileged(),
    )
    assert result.returncode == 3, result.stderr
    assert f"{tree / 'locked'}: cannot read (Permission denied)" in result.stderr


def test_the_module_form_exits_3_on_a_missing_path(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "apitokens.scan", str(tmp_path / "nonexistent")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 3
    assert "nonexistent: cannot read" in result.stderr
