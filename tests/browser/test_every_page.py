"""Every page at every width, visited once: it fits, no address wraps, and axe finds nothing.

One sweep per width (375, 768, 1024, 1280) over the public pages, every page a signed-in
owner reaches (with the demo data and a full-length IPv6 address everywhere an address is
shown) and the admin, running on each page what used to be three sweeps of their own:

- layout (`checks.layout_problems`): no sideways scrolling, no text squeezed into a column;
- addresses (`wrapped_addresses.js`, issue 22 fault 3): no IP address broken over two lines
  or cut off;
- accessibility at 375 and 1280 px (`checks.axe_violations`): the portal's pages (and the
  no-JavaScript "Token created" page) with no violation of any impact, the admin (Django's
  own markup) with no critical or serious WCAG 2.1 A/AA one.

Screenshots: artifacts/screenshots/layout-<page>-<width>.png.
"""

from __future__ import annotations

import pytest

from apitokens.demo import demo_data_seed
from tests.accounts.factories import UserFactory
from tests.browser.checks import (
    AXE_TAGS,
    WCAG_TAGS,
    WIDTHS,
    axe_violations,
    check_layout,
    describe_violations,
)
from tests.browser.test_addresses_one_line import WRAPPED_ADDRESSES, seed_long_addresses
from tests.browser.test_layout import PUBLIC_PAGES, admin_pages, portal_pages

pytestmark = pytest.mark.browser

# axe takes about half a second a page: the narrowest and the widest layout.
AXE_WIDTHS = (375, 1280)
SERIOUS = {"critical", "serious"}


def visit(page, pages, width, *, addresses=True, axe_tags=None, serious_only=False) -> list[str]:
    """Each page's problems: layout, wrapped addresses, and (at AXE_WIDTHS) axe's findings."""
    problems = []
    for name, path in pages:
        response = page.goto(path)
        status = response.status if response else None
        assert response is not None and response.ok, f"{path} answered {status}"
        problems += check_layout(page, name, width)
        if addresses:
            problems += [
                f"{name} at {width}px: {line}" for line in page.evaluate(WRAPPED_ADDRESSES)
            ]
        if axe_tags is not None and width in AXE_WIDTHS:
            found = axe_violations(page, tags=axe_tags)
            if serious_only:
                found = [violation for violation in found if violation["impact"] in SERIOUS]
            problems += describe_violations(name, found)
    return problems


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_keeps_addresses_whole_and_passes_axe(page, login, width, db):
    owner = UserFactory(email="every-page-owner@example.com", display_name="Ada Lovelace")
    demo_data_seed(user=owner)
    token = seed_long_addresses(owner)
    staff = UserFactory(email="every-page-root@example.com", is_staff=True, is_superuser=True)
    page.set_viewport_size({"width": width, "height": 900})

    problems = visit(page, PUBLIC_PAGES, width, addresses=False, axe_tags=AXE_TAGS)
    login(page, owner)
    problems += visit(page, portal_pages(owner), width, axe_tags=AXE_TAGS)
    if width in AXE_WIDTHS:
        # The no-JavaScript "Token created" page (the form posted as a whole page).
        page.goto("/account/tokens/new/")
        page.get_by_label("Token Name").fill("Accessibility check")
        page.get_by_role("button", name="Generate Token").click()
        page.locator("#new-token-value").wait_for()
        problems += describe_violations("token-created-page", axe_violations(page))

    page.context.clear_cookies()
    login(page, staff)
    problems += visit(page, admin_pages(token), width, axe_tags=WCAG_TAGS, serious_only=True)
    problems += visit(
        page, [("admin-account-events", "/admin/accounts/accountevent/")], width, axe_tags=None
    )
    assert problems == [], "\n".join(problems)
