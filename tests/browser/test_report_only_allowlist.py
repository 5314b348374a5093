"""A report-only IP allowlist in Chromium at 375, 768, 1024 and 1280 px: the token page's
badge, the count of requests it would have refused and Enforce now, and the edit form's
Enforce / Report only choice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apitokens.models import APIToken, SecurityEvent
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token
from tests.browser.checks import WIDTHS, layout_problems
from tests.browser.conftest import save_screenshot

pytestmark = pytest.mark.browser

# How far an element's content reaches past its box (0: it fits).
SIDEWAYS_SCROLL = (
    "selector => (element => element.scrollWidth - element.clientWidth)"
    "(document.querySelector(selector))"
)


def test_token_page_and_edit_form_with_a_report_only_allowlist(logged_in_page, user):
    token, _ = create_token(
        user,
        "Warehouse sync job",
        allowed_ips="203.0.113.0/24\n2001:db8:ffff:ffff::/64",
        allowlist_report_only=True,
    )
    now = timezone.now()
    add_activity(token, count=7, at=now - timedelta(hours=3), outside_allowlist=True)
    add_activity(token, count=3, at=now - timedelta(hours=1), ip="203.0.113.9")
    page = logged_in_page
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"/account/tokens/{token.public_id}/")
        expect(page.locator("#allowlist-report-only")).to_have_text("Report only")
        notice = page.locator("#report-only-notice")
        expect(notice).to_contain_text("In the last 30 days, 7 requests would have been refused.")
        expect(notice.get_by_role("button", name="Enforce now")).to_be_visible()
        problems += [f"token page at {width}px: {p}" for p in layout_problems(page)]
        # The activity filter, with its longest choice, stays inside its card.
        card = page.locator("#token-activity").bounding_box()
        button = page.locator("#token-activity .activity-filter button").bounding_box()
        if button["x"] + button["width"] > card["x"] + card["width"]:
            problems.append(f"token page at {width}px: the Filter button leaves its card")
        # The rows' "Outside" mark does not widen the table past its card.
        if page.evaluate(SIDEWAYS_SCROLL, "#token-activity .table-wrap") > 0:
            problems.append(f"token page at {width}px: the activity table scrolls sideways")
        save_screenshot(page, f"report-only-token-page-{width}")

        page.goto(f"/account/tokens/{token.public_id}/edit/")
        mode = page.get_by_role("group", name="When a request comes from another address")
        expect(mode.get_by_label("Report only (log requests from other addresses")).to_be_checked()
        problems += [f"edit form at {width}px: {p}" for p in layout_problems(page)]
        save_screenshot(page, f"report-only-edit-form-{width}")
    assert problems == []

    # The count links to the filtered activity; Enforce now comes back to the page.
    page.goto(f"/account/tokens/{token.public_id}/")
    page.locator("#would-refuse-count").click()
    expect(page.locator("#activity-status")).to_have_value("outside")
    expect(page.locator("#token-activity tbody tr")).to_have_count(7)
    with page.expect_navigation():
        page.get_by_role("button", name="Enforce now").click()
    expect(page.locator("#report-only-notice")).to_have_count(0)
    expect(page.locator("#messages")).to_contain_text("its IP allowlist is enforced")
    assert APIToken.objects.get(pk=token.pk).allowlist_report_only is False
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.ALLOWLIST_ENFORCED).count() == 1
