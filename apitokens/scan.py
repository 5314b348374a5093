#!/usr/bin/env python3
"""Find QuickBot API tokens in files before they leak: `python -m apitokens.scan PATH...`.

Pure Python (the standard library and `apitokens.tokens`), no Django setup: it runs in a
pre-commit hook or CI job of any repository. A candidate is `qb_` followed by 38 base62
characters; it is reported only when its checksum matches (`tokens.is_well_formed`), so
look-alikes and placeholders stay quiet. Output is `file:line:column: identifier`, never the
value. Exit status: 0 nothing found, 1 tokens found, 2 usage or reporting error, 3 a path
could not be read (missing, no permission) and nothing was found in the others; each such
path is named on stderr and the rest is still scanned.

`--revoke --url URL` also posts the tokens found to QuickBot's public revocation endpoint
(`POST /api/v1/credentials/revoke`), which deletes them and tells their owners.
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    # Run as a file (the pre-commit hook): sys.path[0] is apitokens/, whose selectors.py
    # would shadow the standard library's; the project root makes `apitokens` importable.
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
from collections.abc import Iterable, Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from apitokens import tokens  # noqa: E402

_CANDIDATE = re.compile(rb"qb_[0-9A-Za-z]{38}")
_PREFIX = tokens.PREFIX.encode("ascii")
# Git stores a file's content as NUL-free text unless it is binary: the same test git uses.
_BINARY_SNIFF_BYTES = 8192
SKIPPED_DIRECTORIES = frozenset({".git", ".hg", ".svn"})
REVOKE_PATH = "/api/v1/credentials/revoke"
REVOKE_BATCH = 1000
STDIN_NAME = "<stdin>"

# Exit statuses (documented in --help and the README).
EXIT_CLEAN = 0
EXIT_FOUND = 1
EXIT_ERROR = 2  # a usage error (argparse's own status) or a failed --revoke
EXIT_UNREADABLE = 3


@dataclass(frozen=True, slots=True)
class Finding:
    """A real QuickBot token at `line`:`column` (1-based, column in characters) of `path`."""

    path: str
    line: int
    column: int
    value: str

    @property
    def identifier(self) -> str:
        return tokens.token_identifier(self.value)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: QuickBot API token {self.identifier}"


def is_binary(data: bytes) -> bool:
    """True for content git would call binary (a NUL byte near the start)."""
    return b"\0" in data[:_BINARY_SNIFF_BYTES]


def scan_bytes(data: bytes, path: str) -> list[Finding]:
    """The real tokens in `data` (a file's content); nothing for binary content."""
    if _PREFIX not in data or is_binary(data):
        return []
    findings = []
    for match in _CANDIDATE.finditer(data):
        value = match.group().decode("ascii")
        if not tokens.is_well_formed(value):
            continue
        start = match.start()
        line_start = data.rfind(b"\n", 0, start) + 1
        line = data.count(b"\n", 0, start) + 1
        column = len(data[line_start:start].decode("utf-8", "replace")) + 1
        findings.append(Finding(path=path, line=line, column=column, value=value))
    return findings


def iter_files(paths: Iterable[str], *, errors: list[str] | None = None) -> Iterator[str]:
    """Every regular file under `paths` (files as given), sorted, skipping VCS folders and
    symbolic links inside folders (no loops, no file reported twice). A folder that cannot
    be listed goes to `errors`; a named path that does not exist is yielded, and fails to
    open like any unreadable file."""

    def unlisted(error: OSError) -> None:
        if errors is not None:
            errors.append(_cannot_read(error.filename, error))

    for path in paths:
        if os.path.isdir(path):
            # A folder named on the command line is scanned even through a symbolic link.
            for root, directories, files in os.walk(path, onerror=unlisted):
                directories[:] = sorted(d for d in directories if d not in SKIPPED_DIRECTORIES)
                for name in sorted(files):
                    full = os.path.join(root, name)
                    if not os.path.islink(full):
                        yield full
        else:
            yield path


def scan_paths(paths: Iterable[str], *, errors: list[str] | None = None) -> list[Finding]:
    """The real tokens in every file under `paths`; unreadable files and folders go to
    `errors`."""
    findings: list[Finding] = []
    for path in iter_files(paths, errors=errors):
        try:
            with open(path, "rb") as handle:
                data = handle.read(_BINARY_SNIFF_BYTES)
                if is_binary(data):
                    continue  # a large binary file is never read past its first block
                data += handle.read()
        except OSError as error:
            if errors is not None:
                errors.append(_cannot_read(path, error))
            continue
        findings.extend(scan_bytes(data, path))
    return findings


def _cannot_read(path: str, error: OSError) -> str:
    return f"{path}: cannot read ({error.strerror or error})"


def revoke_url(url: str) -> str:
    """The revocation endpoint for `url`: a QuickBot address, or the endpoint itself."""
    url = url.rstrip("/")
    return url if url.endswith(REVOKE_PATH) else url + REVOKE_PATH


def report_leaks(values: list[str], url: str, *, timeout: float = 30) -> int:
    """Post `values` to the revocation endpoint in batches; return how many the server
    counted as well-formed. Raises OSError (urllib's errors included) or ValueError."""
    # Imported here: urllib.request (http.client, email, ssl) doubles a plain scan's start-up.
    import urllib.request

    endpoint = revoke_url(url)
    if not endpoint.startswith(("https://", "http://")):
        raise ValueError("--url must start with https:// or http://")
    accepted = 0
    for start in range(0, len(values), REVOKE_BATCH):
        body = json.dumps({"credentials": values[start : start + REVOKE_BATCH]}).encode()
        request = urllib.request.Request(
            endpoint,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "quickbot-scan"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            accepted += int(json.load(response).get("well_formed", 0))
    return accepted


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quickbot-scan",
        description="Find QuickBot API tokens in files (checksum checked offline). Prints "
        "file:line:column and the token's identifier, never its value; exits 1 when it "
        "finds any.",
        epilog="exit status: 0 nothing found; 1 tokens found (even if a path could not be read); "
        "2 usage error, or --revoke failed; 3 a path could not be read (missing, no "
        "permission: each is named on stderr, the others are still scanned) and no token "
        "was found.",
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or folders to scan; - reads stdin"
    )
    parser.add_argument(
        "--revoke",
        action="store_true",
        help="report the tokens found to QuickBot, which deletes them and tells their owners",
    )
    parser.add_argument(
        "--url", help="the QuickBot address for --revoke, e.g. https://quickbot.example.com"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (`quickbot-scan`); returns the exit status."""
    parser = _parser()
    options = parser.parse_args(argv)
    if options.revoke and not options.url:
        parser.error("--revoke needs --url")
    if not options.paths:
        # pre-commit passes no file when nothing staged matches: nothing to scan.
        return 0
    errors: list[str] = []
    findings: list[Finding] = []
    files = [path for path in options.paths if path != "-"]
    if "-" in options.paths:
        findings.extend(scan_bytes(sys.stdin.buffer.read(), STDIN_NAME))
    findings.extend(scan_paths(files, errors=errors))
    for message in errors:
        print(f"quickbot-scan: {message}", file=sys.stderr)
    for finding in findings:
        print(finding)
    if errors:
        print(
            f"quickbot-scan: {len(errors)} path{'s' if len(errors) != 1 else ''} could not be "
            "read; the rest was scanned.",
            file=sys.stderr,
        )
    if not findings:
        return EXIT_UNREADABLE if errors else EXIT_CLEAN
    distinct = sorted({finding.value for finding in findings})
    print(
        f"quickbot-scan: {len(findings)} QuickBot API token{'s' if len(findings) != 1 else ''} "
        "found. Remove them, then delete or regenerate the tokens in Account settings > "
        "API Tokens (or run with --revoke --url <QuickBot address>).",
        file=sys.stderr,
    )
    if options.revoke:
        try:
            accepted = report_leaks(distinct, options.url)
        except (OSError, ValueError) as error:
            print(f"quickbot-scan: could not report the tokens: {error}", file=sys.stderr)
            return EXIT_ERROR
        print(
            f"quickbot-scan: reported {len(distinct)} token{'s' if len(distinct) != 1 else ''}"
            f" to {revoke_url(options.url)} ({accepted} accepted); active ones are deleted "
            "and their owners told.",
            file=sys.stderr,
        )
    return EXIT_FOUND


if __name__ == "__main__":
    sys.exit(main())
