"""Issue #22 in Chromium at 375, 768, 1024 and 1280 px: the API Reference's "What counts
against the hourly limit" list, the sudo prompt's wrong-password error for an account
without two-factor, and the token-name hint on the demo account."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import expect

from accounts import sudo
from apitokens import demo
from tests.browser.checks import WIDTHS, axe_violations, describe_violations, layout_problems
from tests.browser.conftest import SCREENSHOT_DIR, save_screenshot, screenshots_wanted

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def close_sudo_window(page) -> None:
    """Move this browser's sign-in far into the past, as if it were an hour old."""
    cookie = next(c for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=cookie["value"])
    session[sudo.SESSION_KEY] = 1_000_000.0
    session.save()


@pytest.mark.parametrize("width", WIDTHS)
def test_what_counts_against_the_hourly_limit_reads_as_a_list(page, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/docs/api/#rate-limits")
    statements = page.locator("#rate-limits li[data-counts]")

    expect(statements).to_have_count(5)
    assert statements.nth(0).inner_text().startswith("Counts:")
    expect(statements.nth(1)).to_contain_text("Does not count: 403 ip_not_allowed")
    allowlist = page.locator("#ip-allowlist [data-counts='no']")
    expect(allowlist).to_have_text("but not against your hourly limit")
    assert layout_problems(page) == []
    violations = axe_violations(page, context="#rate-limits")
    assert describe_violations(f"rate limits at {width}px", violations) == []
    if screenshots_wanted():
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOT_DIR / f"rate-limit-counts-{width}.png"
        page.locator("#rate-limits").screenshot(path=shot)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_demo_account_sees_its_own_wording(page, width, user, password, login):
    demo.demo_data_seed(user=user)
    page.set_viewport_size({"width": width, "height": 900})
    login(page, user, password)
    close_sudo_window(page)
    page.goto("/account/tokens/")

    page.locator("#create-token-button").click()
    modal = page.locator("#modal-root [role='dialog']")
    modal.get_by_label("Password").fill("not-my-password")
    modal.get_by_role("button", name="Confirm password").click()
    expect(modal.locator(".field-errors")).to_have_text(
        "That is not your password. Please try again."
    )
    assert layout_problems(page) == []
    save_screenshot(page, f"sudo-no-two-factor-{width}", full_page=False)

    modal.get_by_label("Password").fill(password)
    modal.get_by_role("button", name="Confirm password").click()
    name = modal.get_by_label("Token Name")
    name.fill("Token 1")
    modal.get_by_role("button", name="Generate Token").click()
    expect(modal.locator(".field-errors")).to_contain_text("does not say what the token is for")
    hints = modal.locator(".help-text, .field-errors").all_inner_texts()
    for sample in ("Mobile App Backend", "Development Testing", "Production Website Integration"):
        assert not any(f"“{sample}”" in hint for hint in hints), (sample, hints)
    assert layout_problems(page) == []
    save_screenshot(page, f"token-name-hint-{width}", full_page=False)
