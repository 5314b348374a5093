"""docs/architecture.md stays true: it names every package on disk, and every package or
module it names exists.

A package is a directory with an `__init__.py` directly under the repository's root, or a
directory holding Python modules directly inside an app (a namespace package such as
`apitokens/api/` counts). The page names a package as `` `path/` `` and a module as
`` `path.py` ``.
"""

from __future__ import annotations

import re
from pathlib import Path

from quickbot import process_state
from tests.test_layering import FORBIDDEN_IMPORTS

ROOT = Path(__file__).resolve().parents[1]
MAP = ROOT / "docs" / "architecture.md"
# Top-level packages whose sub-packages are not apps' (the tests mirror the code).
NOT_APPS = frozenset({"tests"})
NAMED_PACKAGE = re.compile(r"`([A-Za-z_][\w/]*/)`")
NAMED_MODULE = re.compile(r"`([A-Za-z_][\w/]*\.py)`")


def _visible_directories(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_dir() and not path.name.startswith((".", "__")) and "." not in path.name
    )


def packages_on_disk(root: Path = ROOT) -> list[str]:
    """Top-level packages and the packages directly inside each app, as `path/`."""
    top = [path for path in _visible_directories(root) if (path / "__init__.py").exists()]
    found = [f"{path.name}/" for path in top]
    for app in top:
        if app.name in NOT_APPS:
            continue
        found += [
            f"{app.name}/{path.name}/"
            for path in _visible_directories(app)
            if any(path.glob("*.py"))
        ]
    return sorted(found)


def named_paths(text: str) -> tuple[set[str], set[str]]:
    """The packages and the modules the page names."""
    return set(NAMED_PACKAGE.findall(text)), set(NAMED_MODULE.findall(text))


def test_every_package_on_disk_is_named_in_the_map():
    packages, _ = named_paths(MAP.read_text())
    assert [name for name in packages_on_disk() if name not in packages] == []


def test_every_package_and_module_the_map_names_exists():
    packages, modules = named_paths(MAP.read_text())
    missing = [name for name in sorted(packages) if not any((ROOT / name).glob("*.py"))]
    missing += [name for name in sorted(modules) if not (ROOT / name).is_file()]
    assert missing == []


def test_the_map_states_the_layering_the_layering_test_enforces():
    # Lowest first: the package forbidden the most imports.
    order = sorted(FORBIDDEN_IMPORTS, key=lambda name: -len(FORBIDDEN_IMPORTS[name]))
    order.append(FORBIDDEN_IMPORTS[order[-1]][-1])
    assert f"**{' < '.join(order)}**" in MAP.read_text()


def test_the_map_names_every_state_object_the_tests_reset():
    text = MAP.read_text()
    # What quickbot.process_state imports to reset, besides Django's cache.
    objects = ("activity_buffer", "limits", "policy_memo", "api_tally")
    assert all(hasattr(process_state, name) for name in objects)
    assert [name for name in objects if f"`{name}" not in text] == []


def test_a_new_package_is_found(tmp_path):
    for folder in ("common", "newapp", "newapp/api", "newapp/static", "tests/newapp"):
        (tmp_path / folder).mkdir(parents=True)
    for module in ("common/__init__.py", "newapp/__init__.py", "newapp/api/views.py"):
        (tmp_path / module).write_text("")
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "newapp" / "__init__.py").write_text("")
    (tmp_path / "newapp" / "static" / "app.js").write_text("")

    assert packages_on_disk(tmp_path) == ["common/", "newapp/", "newapp/api/", "tests/"]
