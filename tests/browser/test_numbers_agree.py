"""Issue #22, fault 2 and part of 10: after every modal action (create → Done, regenerate →
Done, edit, delete) each figure on the API Tokens page agrees with what the API said."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from apitokens.models import APIToken
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.browser

LIST_URL = "/account/tokens/"
NAME = "Nightly billing export"


def dialog(page):
    return page.locator("#modal-root [role='dialog']")


def row_for(page, name):
    return page.locator("#token-table tr.token-row", has_text=name)


def call_api(live_server, value: str) -> int:
    """One API request with the token, as a script would make it: X-RateLimit-Used."""
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/me/", headers={"Authorization": f"Bearer {value}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - test server
        json.loads(response.read())
        return int(response.headers["X-RateLimit-Used"])


def shown_used(page) -> int:
    """The usage line's used count ("Nothing used this hour" is 0)."""
    text = page.locator("section.usage").inner_text()
    if "Nothing used" in text:
        return 0
    return int(re.search(r"([\d,]+) of [\d,]+ requests used", text).group(1).replace(",", ""))


def done_without_copying(page):
    dialog(page).get_by_role("link", name="Done").click()
    dialog(page).get_by_role("link", name="Leave without copying").click()
    dialog(page).wait_for(state="detached")


@pytest.mark.parametrize("width", [375, 768, 1024, 1280])
def test_every_figure_agrees_with_the_api_after_each_modal_action(
    browser, live_server, user, login, screenshot, width
):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 900}
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        other, other_value = create_token(user, "Warehouse stock sync")
        login(page, user)
        page.goto(LIST_URL)
        assert shown_used(page) == 0

        # Create → the first request → "Your token works" → Done.
        page.locator("#create-token-button").click()
        dialog(page).get_by_label("Token Name").fill(NAME)
        dialog(page).get_by_role("button", name="Generate Token").click()
        value = page.locator("#new-token-value").input_value()
        used = call_api(live_server, value)
        dialog(page).get_by_text("Your token works").wait_for()
        done_without_copying(page)
        row = row_for(page, NAME)
        expect(row.locator("td[data-label='Last Used']")).to_have_text("Just now")
        expect(page.locator("section.usage strong").first).to_have_text(str(used))
        expect(row).to_have_class(re.compile(r"\bis-new\b"))
        expect(page.locator(".token-count")).to_contain_text("2 of")
        screenshot(page, f"numbers-after-create-{width}")

        # Requests meanwhile, then Regenerate (1 hour overlap) → a request with the new
        # value → Done: the usage line counts all of them, the row names the overlap.
        call_api(live_server, other_value)
        call_api(live_server, value)
        row.get_by_role("link", name="Regenerate").click()
        dialog(page).get_by_label("After 1 hour").check()
        dialog(page).get_by_role("button", name="Regenerate token").click()
        new_value = page.locator("#new-token-value").input_value()
        used = call_api(live_server, new_value)
        done_without_copying(page)
        expect(page.locator("section.usage strong").first).to_have_text(str(used))
        token = APIToken.objects.get(name=NAME)
        until = token.previous_expires_at.strftime("%H:%M")
        expect(row.locator(".previous-value")).to_contain_text(f"Old value works until {until}")
        screenshot(page, f"numbers-after-regenerate-{width}")

        # Edit → Save: the other token was used meanwhile; its row and the usage line follow.
        used = call_api(live_server, other_value)
        row.get_by_role("link", name="Edit").click()
        dialog(page).get_by_label("Token Name").fill(f"{NAME} (v2)")
        dialog(page).get_by_role("button", name="Save changes").click()
        dialog(page).wait_for(state="detached")
        expect(page.locator("section.usage strong").first).to_have_text(str(used))
        expect(
            row_for(page, "Warehouse stock sync").locator("td[data-label='Last Used']")
        ).to_have_text("Just now")

        # Delete after more requests: the usage line says what the API's headers said.
        for _ in range(3):
            used = call_api(live_server, other_value)
        row_for(page, NAME).get_by_role("link", name="Delete").click()
        dialog(page).get_by_role("button", name="Delete token").click()
        dialog(page).wait_for(state="detached")
        row_for(page, NAME).wait_for(state="detached")
        expect(page.locator("section.usage strong").first).to_have_text(str(used))
        expect(page.locator(".token-count")).to_contain_text("1 of")
        # Last Used is the time the API recorded for the token's latest request.
        other.refresh_from_db()
        last_used = row_for(page, other.name).locator("td[data-label='Last Used'] time")
        assert last_used.get_attribute("datetime") == other.last_used_at.isoformat()
        screenshot(page, f"numbers-after-delete-{width}")
    finally:
        context.close()
