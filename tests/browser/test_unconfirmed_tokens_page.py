"""Issue 22, fault 5: an unconfirmed account's API Tokens page has one call to action,
"Send a new link", at every width (no Create Token that reloads with a red banner).
Screenshots: artifacts/screenshots/tokens-unconfirmed-<width>.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.accounts.factories import UserFactory
from tests.browser.checks import WIDTHS

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", WIDTHS)
def test_an_unconfirmed_account_is_offered_only_a_new_link(page, login, width, screenshot):
    unconfirmed = UserFactory(email="new@example.com", email_verified_at=None)
    page.set_viewport_size({"width": width, "height": 900})
    login(page, unconfirmed)
    page.goto("/account/tokens/")
    screenshot(page, f"tokens-unconfirmed-{width}")

    expect(page.get_by_role("link", name="Create Token")).to_have_count(0)
    expect(page.get_by_role("button", name="Create Token")).to_have_count(0)
    notice = page.locator("#verify-email-notice")
    expect(notice).to_contain_text("Confirm your email address to create tokens")
    # One primary action on the page (the header's avatar menu aside): the new link.
    primary = page.locator("main .button:not(.button-secondary):visible")
    expect(primary).to_have_count(1)
    expect(primary).to_have_text("Send a new link")
    expect(page.locator(".message-error")).to_have_count(0)

    primary.click()
    expect(page.get_by_role("status").first).to_contain_text("We sent a new confirmation link")
    expect(page.locator(".message-error")).to_have_count(0)
