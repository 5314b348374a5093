"""axe-core (static/vendor/axe.min.js, injected by URL as the CSP allows) on every modal
state: no violation of any impact (every page is checked by test_every_page.py). Modal states
are saved as artifacts/screenshots/a11y-<state>-<width>.png.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apitokens import demo
from tests.accounts.factories import UserFactory
from tests.browser.checks import axe_violations, describe_violations
from tests.browser.conftest import save_screenshot

pytestmark = pytest.mark.browser

SERIOUS = {"critical", "serious"}


def dialog(page):
    return page.locator("#modal-root [role='dialog']")


@pytest.fixture
def demo_owner(db):
    owner = UserFactory(email="a11y-owner@example.com", display_name="Ada Lovelace")
    demo.demo_data_seed(user=owner)
    return owner


def check_state(page, name: str, width: int) -> list[str]:
    # caret="initial": hiding the caret makes Playwright inject a <style>, which the CSP
    # refuses (and the CSP check would report) while a text field has focus.
    save_screenshot(page, f"a11y-{name}-{width}", full_page=False, caret="initial")
    return describe_violations(name, axe_violations(page))


@pytest.mark.parametrize("width", [375, 1280])
def test_every_modal_state_has_no_accessibility_violations(page, login, demo_owner, width):
    page.set_viewport_size({"width": width, "height": 860})
    login(page, demo_owner)
    page.goto("/account/tokens/")
    problems = check_state(page, "tokens", width)

    page.locator("#create-token-button").click()
    dialog(page).wait_for()
    problems += check_state(page, "create", width)
    dialog(page).get_by_label("Token Name").fill("API Key")
    dialog(page).get_by_role("button", name="Generate Token").click()
    page.locator("#id_name_error").wait_for()
    problems += check_state(page, "create-error", width)

    dialog(page).get_by_label("Token Name").fill("Zapier automation")
    dialog(page).get_by_role("button", name="Generate Token").click()
    page.locator("#new-token-value").wait_for()
    page.get_by_text("Waiting for the first request").wait_for()
    problems += check_state(page, "show-once", width)
    dialog(page).get_by_role("link", name="Done").click()
    dialog(page).get_by_role("group", name="Leave without copying?").wait_for()
    problems += check_state(page, "leave-check", width)
    dialog(page).get_by_role("link", name="Leave without copying").click()
    dialog(page).wait_for(state="detached")
    problems += check_state(page, "after-done", width)

    for action in ("Edit", "Regenerate", "Delete"):
        page.get_by_role("link", name=f"{action} Mobile App Backend").click()
        dialog(page).wait_for()
        problems += check_state(page, action.lower(), width)
        page.keyboard.press("Escape")
        dialog(page).wait_for(state="detached")
    assert problems == [], "\n".join(problems)


def test_account_menu_has_a_name_on_a_phone(phone_page, login, demo_owner):
    login(phone_page, demo_owner)
    phone_page.goto("/account/tokens/")
    summary = phone_page.locator(".account-menu summary")
    expect(summary).to_have_accessible_name("Ada Lovelace")
    name = phone_page.locator(".account-menu-name").bounding_box()
    assert name["width"] <= 1 and name["height"] <= 1  # clipped: the avatar stands in


def test_api_reference_code_blocks_are_reachable_by_keyboard(page, db):
    page.goto("/docs/api/")
    errors = page.get_by_role("group", name="Errors: example")
    errors.focus()
    expect(errors).to_be_focused()
    for block in page.locator("pre").all():
        assert block.get_attribute("tabindex") == "0"
        assert block.get_attribute("aria-label")
