"""The staff tools in the browser: the token lookup (with its answer) and a user's "Delete
all tokens and end all sessions" confirmation fit every width, under the strict CSP.

Screenshots: artifacts/screenshots/staff-lookup-<width>.png, staff-end-access-<width>.png.
"""

from __future__ import annotations

import pytest

from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token
from tests.browser.checks import WIDTHS, layout_problems

pytestmark = pytest.mark.browser

LONG_EMAIL = "a.very.long.mailbox.name.for.the.integration.team@subdomain.example.com"


@pytest.fixture
def owner_value(db):
    owner = UserFactory(email=LONG_EMAIL, display_name="Integration Team")
    token, value = create_token(owner, "Production Website Integration for the Warehouse")
    create_token(owner, "Mobile App Backend")
    return owner, token, value


def test_lookup_and_end_access_pages_fit_every_width(page, login, screenshot, owner_value):
    owner, token, value = owner_value
    staff = UserFactory(email="staff-tools@example.com", is_staff=True, is_superuser=True)
    login(page, staff)
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/admin/apitokens/apitoken/lookup/")
        page.get_by_label("Token value").fill(f"  {value}  ")
        with page.expect_navigation():
            page.get_by_role("button", name="Find the token").click()
        assert "Production Website Integration for the Warehouse" in page.inner_text(
            "#lookup-result"
        )
        assert page.get_by_label("Token value").input_value() == ""
        screenshot(page, f"staff-lookup-{width}")
        problems += [f"lookup at {width}px: {problem}" for problem in layout_problems(page)]

        page.goto(f"/admin/accounts/user/{owner.pk}/end-access/")
        assert "Mobile App Backend" in page.inner_text("#content-main")
        screenshot(page, f"staff-end-access-{width}")
        problems += [f"end access at {width}px: {problem}" for problem in layout_problems(page)]
    assert problems == []
