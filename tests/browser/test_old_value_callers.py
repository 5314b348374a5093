"""Issue #23.2 in Chromium at 375, 768, 1024 and 1280 px: the token's page during a
regenerate's overlap lists who still sends the old value, with "End overlap now" in its card
and nothing overflowing (a full-length IPv6 address, a long client name)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apitokens import services
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token
from tests.browser.checks import WIDTHS, layout_problems

pytestmark = pytest.mark.browser

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def test_token_page_lists_the_old_values_callers(browser, live_server, user, login, screenshot):
    now = timezone.now()
    token, _ = create_token(user, "Nightly billing export", now=now - timedelta(days=2))
    token, _ = services.api_token_regenerate(
        token=token, actor=user, overlap=timedelta(hours=24), now=now - timedelta(hours=3)
    )
    add_activity(token, count=42, at=now - timedelta(hours=2), used_previous_value=True)
    add_activity(
        token,
        count=3,
        at=now - timedelta(minutes=20),
        ip="2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        user_agent=FIREFOX,
        used_previous_value=True,
    )
    add_activity(
        token,
        at=now - timedelta(minutes=5),
        ip="203.0.113.250",
        user_agent="QuickBotBillingSyncServiceWorkerWithAVeryLongName/12.4",
        used_previous_value=True,
    )
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        login(page, user)
        problems = []
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"/account/tokens/{token.public_id}/")
            section = page.locator("#old-value")
            expect(section.locator("h3")).to_have_text("The old value is still in use")
            expect(section.locator("tbody tr")).to_have_count(3)
            expect(section).to_contain_text("Firefox on Linux")
            expect(section).to_contain_text("46 requests sent it")
            button = section.get_by_role("button", name="End overlap now")
            card, box = section.bounding_box(), button.bounding_box()
            assert box["x"] >= card["x"] and box["x"] + box["width"] <= card["x"] + card["width"]
            section.scroll_into_view_if_needed()
            screenshot(page, f"token-page-old-value-{width}", full_page=False)
            problems += [f"{width}px: {problem}" for problem in layout_problems(page)]
        assert problems == []
    finally:
        context.close()
