"""A paused token in Chromium: the list's Paused badge and the token page's badge, notice and
Resume button at 375, 768, 1024 and 1280 px (saved as artifacts/screenshots/paused-*.png),
and Pause then Resume clicked through htmx."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apitokens import services
from apitokens.models import APIToken
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token
from tests.browser.checks import WIDTHS, axe_violations, describe_violations, layout_problems

pytestmark = pytest.mark.browser

LIST_URL = "/account/tokens/"
NAME = "Nightly billing export"


def open_page(browser, live_server, width: int):
    viewport = {"width": width, "height": 900}
    context = browser.new_context(base_url=live_server.url, viewport=viewport)
    context.set_default_timeout(20_000)
    return context, context.new_page()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_paused_token_is_marked_on_the_list_and_its_page(
    browser, live_server, user, login, screenshot, width
):
    token, _ = create_token(user, NAME, scopes=("read", "write"))
    create_token(user, "Mobile App Backend")
    services.api_token_pause(token=token, actor=user)
    context, page = open_page(browser, live_server, width)
    try:
        login(page, user)
        page.goto(LIST_URL)
        row = page.locator(f"#token-{token.public_id}")
        expect(row.locator(".badge", has_text="Paused")).to_be_visible()
        assert page.locator(".token-table .badge", has_text="Paused").count() == 1
        screenshot(page, f"paused-list-{width}")
        assert layout_problems(page) == []

        page.goto(f"{LIST_URL}{token.public_id}/")
        summary = page.locator("#token-summary")
        expect(summary.locator("#paused-badge")).to_have_text("Paused")
        expect(summary.locator("#paused-notice")).to_contain_text("401 token_paused")
        resume = summary.get_by_role("button", name=f"Resume {NAME}")
        expect(resume).to_be_visible()
        screenshot(page, f"paused-token-page-{width}")
        assert layout_problems(page) == []
        # The four actions share one line, inside the card.
        card = summary.bounding_box()
        actions = summary.locator(".token-actions .button")
        boxes = [actions.nth(index).bounding_box() for index in range(actions.count())]
        assert len(boxes) == 4
        assert len({round(box["y"]) for box in boxes}) == 1
        for box in boxes:
            assert box["x"] >= card["x"] and box["x"] + box["width"] <= card["x"] + card["width"]
        if width in (375, 1280):
            assert describe_violations("paused token page", axe_violations(page)) == []
    finally:
        context.close()


def test_pause_and_resume_through_the_page(browser, live_server, user, login):
    token, _ = create_token(user, NAME)
    context, page = open_page(browser, live_server, 1280)
    try:
        login(page, user)
        page.goto(f"{LIST_URL}{token.public_id}/")
        page.get_by_role("button", name=f"Pause {NAME}").click()
        expect(page.locator("#paused-badge")).to_have_text("Paused")
        expect(page.locator("#messages")).to_contain_text("paused")
        expect(page.locator("#security-log")).to_contain_text("Token paused")
        assert APIToken.objects.get(pk=token.pk).is_paused

        page.get_by_role("button", name=f"Resume {NAME}").click()
        expect(page.get_by_role("button", name=f"Pause {NAME}")).to_be_visible()
        expect(page.locator("#messages")).to_contain_text("resumed")
        expect(page.locator("#security-log")).to_contain_text("Token resumed")
        assert not APIToken.objects.get(pk=token.pk).is_paused
    finally:
        context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_a_staff_pause_offers_the_owner_no_resume(
    browser, live_server, user, login, screenshot, width
):
    token, _ = create_token(user, NAME)
    services.api_token_pause(token=token, actor=UserFactory(is_staff=True))
    context, page = open_page(browser, live_server, width)
    try:
        login(page, user)
        page.goto(f"/account/tokens/{token.public_id}/")
        notice = page.locator("#paused-notice")
        expect(notice).to_contain_text("by QuickBot staff")
        expect(notice).to_contain_text("until staff resume it: contact QuickBot support")
        expect(page.get_by_role("button", name=f"Resume {NAME}")).to_have_count(0)
        screenshot(page, f"paused-by-staff-{width}", full_page=False)
        assert layout_problems(page) == []
    finally:
        context.close()
