"""The token scanner on a fixture tree: real tokens found by position, look-alikes and binary
files ignored, values never printed, exit status, stdin, --revoke."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from apitokens import scan, tokens

ROOT = Path(__file__).resolve().parents[2]


def real():
    return tokens.generate_token()


def wrong_checksum(value):
    broken = value[:-1] + ("A" if value[-1] != "A" else "B")
    assert tokens.has_token_shape(broken) and not tokens.is_well_formed(broken)
    return broken


@pytest.fixture
def tree(tmp_path):
    """A small repository: tokens in text and JSON, look-alikes, a binary file, .git."""
    values = {name: real() for name in ("env", "json", "nested", "binary", "git", "second")}
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "deep").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "config.env").write_text(
        f"# QuickBot\nDEBUG=1\nQUICKBOT_TOKEN={values['env']}\n"
        f"PLACEHOLDER=qb_{'x' * 38}\nMISTYPED={wrong_checksum(real())}\n"
    )
    (tmp_path / "settings.json").write_text(
        json.dumps({"api": {"token": values["json"], "other": "qb_short"}}, indent=2) + "\n"
    )
    (tmp_path / "src" / "deep" / "client.py").write_text(
        f'HEADERS = {{"Authorization": "Bearer {values["nested"]}"}}  # é\n'
        f"NOTE = 'café'; BACKUP = '{values['second']}'\n"
    )
    (tmp_path / "image.png").write_bytes(
        b"\x89PNG\r\n\x1a\n\0\0\0" + values["binary"].encode() + b"\0\xff"
    )
    (tmp_path / ".git" / "COMMIT_EDITMSG").write_text(values["git"])
    return tmp_path, values


def test_finds_real_tokens_with_file_line_and_column(tree):
    root, values = tree
    findings = scan.scan_paths([str(root)])
    found = {
        (Path(item.path).relative_to(root).as_posix(), item.line, item.column, item.value)
        for item in findings
    }
    assert found == {
        ("config.env", 3, 16, values["env"]),
        ("settings.json", 3, 15, values["json"]),
        ("src/deep/client.py", 1, 37, values["nested"]),
        # Columns count characters, not bytes (é is two bytes in UTF-8).
        ("src/deep/client.py", 2, 26, values["second"]),
    }


def test_look_alikes_binary_files_and_git_are_skipped(tree):
    root, values = tree
    reported = {item.value for item in scan.scan_paths([str(root)])}
    assert values["binary"] not in reported
    assert values["git"] not in reported
    assert scan.is_binary((root / "image.png").read_bytes())


def test_output_names_position_and_identifier_never_the_value(tree, capsys):
    root, values = tree
    assert scan.main([str(root)]) == 1
    out, err = capsys.readouterr()
    assert (
        f"{root / 'config.env'}:3:16: QuickBot API token {tokens.token_identifier(values['env'])}"
        in out
    )
    for value in values.values():
        assert value not in out and value not in err
    assert "4 QuickBot API tokens found" in err


def test_clean_files_exit_zero(tmp_path, capsys):
    (tmp_path / "a.txt").write_text(f"qb_{'0' * 38}\n{wrong_checksum(real())}\n")
    assert scan.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""


def test_no_paths_is_a_clean_run():
    assert scan.main([]) == 0


def test_reads_stdin_with_a_dash(monkeypatch, capsys):
    value = real()

    class Stdin:
        buffer = type("Buffer", (), {"read": staticmethod(lambda: f"x\n  {value}\n".encode())})

    monkeypatch.setattr(sys, "stdin", Stdin)
    assert scan.main(["-"]) == 1
    assert (
        f"<stdin>:2:3: QuickBot API token {tokens.token_identifier(value)}"
        in capsys.readouterr().out
    )


def test_unreadable_path_is_reported_and_the_rest_scanned(tmp_path, capsys):
    value = real()
    (tmp_path / "ok.txt").write_text(value)
    assert scan.main([str(tmp_path / "missing.txt"), str(tmp_path / "ok.txt")]) == 1
    out, err = capsys.readouterr()
    assert "missing.txt: cannot read" in err
    assert "ok.txt:1:1:" in out


def test_module_runs_without_django_settings(tmp_path):
    value = real()
    (tmp_path / "leak.txt").write_text(value)
    result = subprocess.run(
        [sys.executable, "-m", "apitokens.scan", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 1, result.stderr
    assert tokens.token_identifier(value) in result.stdout
    assert value not in result.stdout + result.stderr
    assert (
        "django"
        not in subprocess.run(
            [sys.executable, "-c", "import sys, apitokens.scan; print(sorted(sys.modules))"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def test_revoke_requires_url(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        scan.main(["--revoke", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "--revoke needs --url" in capsys.readouterr().err


class _Endpoint(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append((self.path, self.headers["Content-Type"], body))
        answer = json.dumps({"well_formed": len(body["credentials"]), "detail": "ok"}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    _Endpoint.received = []
    server = HTTPServer(("127.0.0.1", 0), _Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Endpoint.received
    server.shutdown()
    server.server_close()


def test_revoke_posts_each_distinct_token_found(tree, endpoint, capsys):
    root, values = tree
    (root / "copy.txt").write_text(values["env"])
    url, received = endpoint
    assert scan.main(["--revoke", "--url", url + "/", str(root)]) == 1
    [(path, content_type, body)] = received
    assert path == "/api/v1/credentials/revoke"
    assert content_type == "application/json"
    assert sorted(body["credentials"]) == sorted(
        values[key] for key in ("env", "json", "nested", "second")
    )
    err = capsys.readouterr().err
    assert f"reported 4 tokens to {url}/api/v1/credentials/revoke (4 accepted)" in err


def test_revoke_batches_by_a_thousand(endpoint, monkeypatch):
    url, received = endpoint
    values = [real() for _ in range(1001)]
    assert scan.report_leaks(values, url) == 1001
    assert [len(body["credentials"]) for _, _, body in received] == [1000, 1]


def test_revoke_failure_exits_2(tmp_path, capsys):
    (tmp_path / "leak.txt").write_text(real())
    assert scan.main(["--revoke", "--url", "http://127.0.0.1:9", str(tmp_path)]) == 2
    assert "could not report the tokens" in capsys.readouterr().err
    assert scan.main(["--revoke", "--url", "ftp://example.invalid", str(tmp_path)]) == 2


def test_revoke_against_the_real_endpoint_deletes_the_token(
    live_server, transactional_db, user, tmp_path
):
    from apitokens.models import APIToken
    from tests.apitokens.factories import create_token

    token, raw = create_token(user, "Committed by mistake")
    (tmp_path / "settings.py").write_text(f"TOKEN = '{raw}'\n")
    assert scan.main(["--revoke", "--url", live_server.url, str(tmp_path)]) == 1
    token.refresh_from_db()
    assert token.revoked_reason == APIToken.RevokedBy.LEAKED


PRE_COMMIT = Path(sys.executable).with_name("pre-commit")


@pytest.fixture
def repo(tmp_path):
    path = tmp_path / "project"
    path.mkdir()
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(tmp_path),
    }
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    return path, env


def run(args, repo_path, env):
    return subprocess.run(args, cwd=repo_path, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.multiprocess
def test_pre_commit_is_installed_with_the_dev_extras():
    assert PRE_COMMIT.exists(), "pip install -e '.[dev]' installs pre-commit"


@pytest.mark.multiprocess
def test_try_repo_refuses_a_staged_token_and_passes_clean_files(repo):
    path, env = repo
    value = tokens.generate_token()
    (path / "settings.py").write_text(f"API_TOKEN = '{value}'\n")
    (path / "README.md").write_text(f"Example: qb_{'x' * 38}\n")
    run(["git", "add", "."], path, env)
    result = run(
        [str(PRE_COMMIT), "try-repo", str(ROOT), "quickbot-scan", "--all-files"], path, env
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"settings.py:1:14: QuickBot API token {tokens.token_identifier(value)}" in result.stdout
    assert value not in result.stdout + result.stderr
    assert "README.md" not in result.stdout

    (path / "settings.py").write_text("import os\nAPI_TOKEN = os.environ['QUICKBOT_TOKEN']\n")
    run(["git", "add", "."], path, env)
    result = run(
        [str(PRE_COMMIT), "try-repo", str(ROOT), "quickbot-scan", "--all-files"], path, env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout


@pytest.mark.multiprocess
def test_installed_hook_blocks_the_commit(repo):
    path, env = repo
    # The hook repository at its current commit (what a user pins as `rev:`).
    revision = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    (path / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {revision}\n    hooks:\n      - id: quickbot-scan\n"
    )
    install = run([str(PRE_COMMIT), "install"], path, env)
    assert install.returncode == 0, install.stdout + install.stderr
    value = tokens.generate_token()
    (path / "deploy.sh").write_text(f"#!/bin/sh\ncurl -H 'Authorization: Bearer {value}' ...\n")
    run(["git", "add", "."], path, env)
    commit = run(["git", "commit", "-q", "-m", "Deploy script"], path, env)
    assert commit.returncode != 0
    output = commit.stdout + commit.stderr
    assert f"deploy.sh:2:32: QuickBot API token {tokens.token_identifier(value)}" in output
    assert value not in output
    assert run(["git", "rev-parse", "--verify", "HEAD"], path, env).returncode != 0  # no commit

    (path / "deploy.sh").write_text('#!/bin/sh\ncurl -H "Authorization: Bearer $QUICKBOT_TOKEN"\n')
    run(["git", "add", "."], path, env)
    commit = run(["git", "commit", "-q", "-m", "Deploy script"], path, env)
    assert commit.returncode == 0, commit.stdout + commit.stderr


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
