"""The pages a newcomer sees after `make run` fit the screen, with the demo data loaded."""

import pytest

from apitokens.demo import demo_data_seed

pytestmark = pytest.mark.browser

OVERFLOWING_TABLES = """
() => [...document.querySelectorAll('.token-table, .table')]
  .filter(table => table.offsetParent !== null)
  .filter(table => table.scrollWidth > table.parentElement.clientWidth + 1)
  .map(table => table.className)
"""


@pytest.mark.parametrize("width", [1280, 1000, 800])
def test_api_tokens_page_with_demo_data_fits_without_sideways_scrolling(
    page, login, user, width, screenshot
):
    demo_data_seed(user=user)
    page.set_viewport_size({"width": width, "height": 900})
    login(page, user)
    page.goto("/account/tokens/")
    assert (
        page.get_by_role("button", name="Delete").first.is_visible()
        or page.get_by_role("link", name="Delete").first.is_visible()
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.evaluate(OVERFLOWING_TABLES) == []
    delete = page.locator(".token-table td.actions").first.bounding_box()
    assert delete["x"] + delete["width"] <= width
    screenshot(page, f"layout-tokens-demo-{width}")
