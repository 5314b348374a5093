"""Regressions found by hostile testing (QA pass): each test failed before its fix.

Screenshots go to artifacts/screenshots/qa-*.png for review.
"""

from __future__ import annotations

import pytest

from apitokens import demo
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.browser


def _page_width(page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


@pytest.mark.parametrize("path", ["/admin/", "/admin/apitokens/tokenactivity/dashboard/"])
def test_admin_audit_screens_fit_a_phone_without_sideways_scrolling(
    phone_page, login, screenshot, db, path
):
    # The "API usage" box on the admin index did not wrap its description (admin's
    # dashboard.css sets nowrap), squeezing the link to one letter per line and widening
    # the page to 627 px; the dashboard's 360 px grid columns and wide tables made it 582 px.
    owner = UserFactory(email="qa-demo-owner@example.com")
    demo.demo_data_seed(user=owner)
    staff = UserFactory(email="qa-root@example.com", is_staff=True, is_superuser=True)
    login(phone_page, staff)
    phone_page.goto(path)
    name = "index" if path == "/admin/" else "dashboard"
    screenshot(phone_page, f"qa-admin-{name}-phone")
    scroll_width, viewport_width = _page_width(phone_page)
    assert scroll_width <= viewport_width <= 375
    link = phone_page.get_by_role("link", name="API usage dashboard")
    if path == "/admin/":
        box = link.bounding_box()
        assert box is not None and box["height"] < 40  # one or two lines, not a letter column
        description = phone_page.get_by_text("Requests per hour, top accounts")
        assert description.bounding_box()["width"] > viewport_width / 2


def test_admin_pages_load_without_console_errors(page, login, db):
    # Every admin page logged "Failed to load resource: 404" for /favicon.ico: the admin
    # templates did not link the portal's favicon.
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    staff = UserFactory(email="qa-favicon-root@example.com", is_staff=True, is_superuser=True)
    login(page, staff)
    for path in ["/admin/", "/admin/apitokens/apitoken/", "/admin/accounts/user/"]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
    assert errors == []


def test_admin_token_page_tables_scroll_inside_themselves_on_a_phone(
    phone_page, login, screenshot, db
):
    # The token change page's recent-activity table was cut off at 375 px: its last columns
    # (status, IP) could not be reached. It now scrolls inside its own box.
    owner = UserFactory(email="qa-inline-owner@example.com")
    demo.demo_data_seed(user=owner)
    staff = UserFactory(email="qa-inline-root@example.com", is_staff=True, is_superuser=True)
    token = owner.api_tokens.filter(revoked_at__isnull=True).first()
    login(phone_page, staff)
    phone_page.goto(f"/admin/apitokens/apitoken/{token.pk}/change/")
    box = phone_page.locator(".audit-inline-scroll").first
    box.scroll_into_view_if_needed()
    screenshot(phone_page, "qa-admin-token-inline-phone", full_page=False)
    scroll_width, viewport_width = _page_width(phone_page)
    assert scroll_width <= viewport_width <= 375
    inner, outer, right = box.evaluate(
        "b => [b.scrollWidth, b.clientWidth, b.getBoundingClientRect().right]"
    )
    assert right <= viewport_width  # the box itself stays on screen
    assert inner > outer  # six columns are wider than a phone...
    box.evaluate("b => { b.scrollLeft = b.scrollWidth; }")
    assert box.evaluate("b => b.scrollLeft") >= inner - outer - 1  # ...and all are reachable
