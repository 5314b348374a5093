"""The API's public names in either module layout, so one harness measures any revision.

The API path moved from flat modules (`apitokens.middleware`, …) into the `apitokens.api`
package. The benchmark asks here for a name and gets it from whichever module the tree
on `sys.path` has: the new location first, then the old one.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib.machinery import PathFinder
from pathlib import Path

# name: (new module, old module)
LOCATIONS = {
    "ApiTokenMiddleware": ("apitokens.api.middleware", "apitokens.middleware"),
    "activity_flush": ("apitokens.activity", "apitokens.api.usage"),
    "token_required": ("apitokens.api.decorators", "apitokens.decorators"),
}


def module_exists(dotted: str) -> bool:
    """Whether the tree on `sys.path` has this module, found without importing anything
    (settings use it before the app registry is ready)."""
    first, *rest = dotted.split(".")
    spec = importlib.util.find_spec(first)
    for part in rest:
        if spec is None or not spec.submodule_search_locations:
            return False
        spec = PathFinder.find_spec(part, list(spec.submodule_search_locations))
    return spec is not None


def module_of(name: str) -> str:
    """The module that defines `name` in the tree being measured."""
    for module in LOCATIONS[name]:
        if module_exists(module):
            return module
    raise ImportError(f"bench: none of {', '.join(LOCATIONS[name])} exists for {name}")


def dotted_path(name: str) -> str:
    """`module.name` for settings such as MIDDLEWARE."""
    return f"{module_of(name)}.{name}"


def api_name(name: str):
    """Import `name` from its new module, or from the old one when the tree predates the move."""
    for module in LOCATIONS[name]:
        try:
            value = getattr(importlib.import_module(module), name, None)
        except ModuleNotFoundError as error:
            # Only "this layout has no such module" falls through; a broken import inside
            # an existing module is an error worth seeing.
            if error.name is None or not f"{module}.".startswith(f"{error.name}."):
                raise
            continue
        if value is not None:
            return value
    raise ImportError(f"bench: {name} is in none of {', '.join(LOCATIONS[name])}")


def tree_of(module: str) -> Path:
    """The directory holding the top-level package of `module` (which tree is measured)."""
    spec = importlib.util.find_spec(module.split(".")[0])
    return Path(next(iter(spec.submodule_search_locations))).parent
