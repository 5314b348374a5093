"""What the layout and accessibility tests look for on a page, shared by their test files.

`layout_problems(page)` lists sideways page overflow and text squeezed into a column
narrower than about 8 characters per line; `axe_violations(page)` runs the vendored
axe-core (static/vendor/axe.min.js) and returns its violations.
"""

from __future__ import annotations

from pathlib import Path

from tests.browser.conftest import save_screenshot

HERE = Path(__file__).resolve().parent
WIDTHS = (375, 768, 1024, 1280)
MIN_CHARACTERS_PER_LINE = 8
AXE_URL = "/static/vendor/axe.min.js"
AXE_FILE = Path(__file__).resolve().parents[2] / "static" / "vendor" / "axe.min.js"
# WCAG 2.1 A/AA everywhere; the portal's own pages also pass axe's best practices.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_TAGS = [*WCAG_TAGS, "best-practice"]

# Every text node of 8 characters or more that wraps, in a block narrower than 8 average
# characters (0.55 em each): a squeezed column, like the admin index's one-letter-per-line
# description. Clipped, visually hidden text and SVG labels are skipped.
SQUEEZED_TEXT = (HERE / "squeezed_text.js").read_text()

PAGE_OVERFLOW = (HERE / "page_overflow.js").read_text()


def layout_problems(page) -> list[str]:
    """What is wrong with the current page's layout, as readable lines (empty: none)."""
    return page.evaluate(PAGE_OVERFLOW) + page.evaluate(SQUEEZED_TEXT, MIN_CHARACTERS_PER_LINE)


def check_layout(page, name: str, width: int) -> list[str]:
    """Screenshot the page as artifacts/screenshots/layout-<name>-<width>.png, list problems."""
    page.wait_for_load_state("load")
    save_screenshot(page, f"layout-{name}-{width}")
    return [f"{name} at {width}px: {problem}" for problem in layout_problems(page)]


def axe_violations(page, *, context: str = "document", tags=AXE_TAGS) -> list[dict]:
    """Run axe-core (by default WCAG 2.1 A/AA and best practices) on the page; its violations.

    The script is loaded by URL from the portal's own static files, which the strict CSP
    (script-src 'self') allows; an inline <script> with the file's text would be refused.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=AXE_URL)
    result = page.evaluate(
        "([context, tags]) => axe.run("
        "context === 'document' ? document : document.querySelector(context),"
        " {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        [context, list(tags)],
    )
    return result["violations"]


def describe_violations(name: str, violations: list[dict]) -> list[str]:
    """One readable line per violation and node: page, impact, rule and the element."""
    lines = []
    for violation in violations:
        for node in violation["nodes"][:3]:
            lines.append(
                f"{name}: [{violation['impact']}] {violation['id']} ({violation['help']}) "
                f"at {' '.join(map(str, node['target']))}"
            )
    return lines
