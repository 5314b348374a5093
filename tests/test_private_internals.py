"""Private Django and driver internals are used in one module only,
apitokens/api/internals.py, whose docstring lists each of them (issue 11)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = ROOT / "apitokens" / "api" / "internals.py"
PRIVATE = {
    "_has_been_logged": r"_has_been_logged",
    "response header store": r"headers\._store",
    "LocMemCache storage": r"\._cache\b|_expire_info|\._lock\b",
    "Django RedisCache client": r"_get_connection_pool|\._client\(",
    "psycopg prepare threshold": r"prepare_threshold",
    "instances without __init__": r"\.__new__\(",
    "health check flag": r"health_check_done",
    "driver connection": r"connection\.connection\b",
    "a lazy object's state": r"\._wrapped\b",
}
SOURCES = sorted(
    path
    for folder in ("accounts", "apitokens", "common", "quickbot", "bench")
    for path in (ROOT / folder).rglob("*.py")
    if "migrations" not in path.parts
)


@pytest.mark.parametrize("what", PRIVATE)
def test_private_internals_live_in_one_module(what):
    pattern = re.compile(PRIVATE[what])
    users = [
        str(path.relative_to(ROOT))
        for path in SOURCES
        if path != ALLOWED and pattern.search(path.read_text())
    ]
    assert users == [], f"{what} used outside apitokens/api/internals.py"


def test_internals_docstring_names_every_private_use():
    docstring = ALLOWED.read_text().split('"""')[1]
    for name in (
        "_has_been_logged",
        "connection.connection",
        "prepare_threshold",
        "__new__",
        "set_cached_value",
        "health_check_done",
        "SimpleLazyObject._wrapped",
        "Django 6.1",
    ):
        assert name in docstring, name
