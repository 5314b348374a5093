"""Dependencies flow one way: common < accounts < apitokens < quickbot.

Every .py file of a lower layer is parsed (not imported) and each import it makes,
at module level or inside a function, is checked against the layers above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]

# Each package and the packages it must never import.
FORBIDDEN_IMPORTS: dict[str, tuple[str, ...]] = {
    "common": ("accounts", "apitokens", "quickbot"),
    "accounts": ("apitokens", "quickbot"),
    "apitokens": ("quickbot",),
}
# Known apitokens -> quickbot imports waiting for a fix, as "path: module". Keep it empty.
APITOKENS_TO_QUICKBOT_ALLOWANCES: frozenset[str] = frozenset()


def python_files(package: str) -> list[Path]:
    return sorted((PROJECT_DIR / package).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(PROJECT_DIR).as_posix()


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in the file, wherever it is."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package_parts = path.relative_to(PROJECT_DIR).with_suffix("").parts[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                module = ".".join((*base, node.module) if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def layering_violations(package: str) -> list[str]:
    violations = []
    for path in python_files(package):
        for line, module in imported_modules(path):
            top = module.split(".")[0]
            if top not in FORBIDDEN_IMPORTS[package]:
                continue
            if package == "apitokens" and f"{relative(path)}: {module}" in (
                APITOKENS_TO_QUICKBOT_ALLOWANCES
            ):
                continue
            violations.append(f"{relative(path)}:{line} imports {module}")
    return violations


@pytest.mark.parametrize("package", sorted(FORBIDDEN_IMPORTS))
def test_lower_layers_never_import_higher_ones(package):
    assert layering_violations(package) == []


def test_the_rule_sees_function_level_and_relative_imports(tmp_path, monkeypatch):
    package = tmp_path / "accounts"
    package.mkdir()
    (package / "late.py").write_text(
        "def f():\n    from apitokens import services\n    import quickbot.settings\n"
    )
    (package / "relative.py").write_text("from ..apitokens import demo\n")
    monkeypatch.setattr(f"{__name__}.PROJECT_DIR", tmp_path)

    assert layering_violations("accounts") == [
        "accounts/late.py:2 imports apitokens",
        "accounts/late.py:3 imports quickbot.settings",
        "accounts/relative.py:1 imports apitokens",
    ]
