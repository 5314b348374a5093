"""The scanner as a pre-commit hook (.pre-commit-hooks.yaml), run by the real pre-commit in a
temporary git repository. Works offline: the hook is `language: script`, nothing to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from apitokens import tokens

ROOT = Path(__file__).resolve().parents[2]
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")

pytestmark = pytest.mark.multiprocess


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


def test_pre_commit_is_installed_with_the_dev_extras():
    assert PRE_COMMIT.exists(), "pip install -e '.[dev]' installs pre-commit"


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
