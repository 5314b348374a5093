"""The token scanner on a fixture tree: real tokens found by position, look-alikes and binary
files ignored, values never printed, exit status, stdin, --revoke."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from apitokens import scan, tokens
from common.mail import mail_wait_for_pending

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
    mail_wait_for_pending()  # the server deletes it once its answer has been sent
    token.refresh_from_db()
    assert token.revoked_reason == APIToken.RevokedBy.LEAKED
