"""Leaked and stale tokens in Chromium: the owner's page after a leak report (the scanner's
--revoke against the live server) and the one-click delete of a stale token.

Screenshots: artifacts/screenshots/leaked-*.png (desktop and phone).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from apitokens import scan
from apitokens.models import APIToken
from tests.apitokens.factories import create_token
from tests.browser.checks import axe_violations, describe_violations, layout_problems

pytestmark = pytest.mark.browser

LIST_URL = "/account/tokens/"


@pytest.fixture
def reported(user, live_server, tmp_path):
    """Three tokens; "CI runner" committed by mistake and reported by the scanner."""
    leaked, raw = create_token(user, "CI runner")
    create_token(user, "Production Website Integration")
    forgotten, _ = create_token(user, "Old reporting script")
    APIToken.objects.filter(pk=forgotten.pk).update(
        created_at=forgotten.created_at - timedelta(days=120),
        last_used_at=forgotten.created_at - timedelta(days=75),
    )
    (tmp_path / "ci.yml").write_text(f"env:\n  QUICKBOT_TOKEN: {raw}\n")
    assert scan.main(["--revoke", "--url", live_server.url, str(tmp_path)]) == 1
    leaked.refresh_from_db()
    assert leaked.revoked_reason == APIToken.RevokedBy.LEAKED
    return leaked, forgotten


def test_owner_sees_the_leak_banner_and_deletes_a_stale_token(
    page, phone_page, login, screenshot, user, reported
):
    leaked, forgotten = reported
    login(page, user)
    page.goto(LIST_URL)
    banner = page.locator(".security-alert", has_text="reported as leaked")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Token ‘CI runner’")
    expect(banner).to_contain_text(leaked.identifier)
    expect(banner).to_contain_text("127.0.0.1")
    # The deleted token left the list; the stale one is marked.
    expect(page.locator("#token-table tr.token-row", has_text="CI runner")).to_have_count(0)
    stale_row = page.locator("#token-table tr.token-row", has_text="Old reporting script")
    expect(stale_row.locator(".badge", has_text="Unused")).to_be_visible()
    expect(page.locator("#stale-notice")).to_contain_text("One token has not been used")
    assert layout_problems(page) == []
    violations = axe_violations(page, context=".security-alerts")
    assert describe_violations("banner", violations) == []
    screenshot(page, "leaked-token-page-desktop")

    # "View details" opens the deleted token's page with the reason in its log.
    banner.get_by_role("link", name="View details").click()
    page.wait_for_url(f"**/account/tokens/{leaked.public_id}/")
    expect(page.get_by_text("Reported as leaked").first).to_be_visible()
    screenshot(page, "leaked-token-detail")

    login(phone_page, user)
    phone_page.goto(LIST_URL)
    expect(phone_page.locator(".security-alert", has_text="reported as leaked")).to_be_visible()
    phone_row = phone_page.locator("#token-table tr.token-row", has_text="Old reporting script")
    expect(phone_row.locator(".badge", has_text="Unused")).to_be_visible()
    assert layout_problems(phone_page) == []
    screenshot(phone_page, "leaked-token-page-phone")

    # One click on the stale row's Delete opens the usual confirmation.
    page.goto(LIST_URL)
    stale_row = page.locator("#token-table tr.token-row", has_text="Old reporting script")
    delete_link = stale_row.get_by_role("link", name="Delete unused token Old reporting script")
    # Not clipped by the table's frame (a longer label once was, at 1280 px).
    assert delete_link.evaluate(
        "el => el.getBoundingClientRect().right"
        " <= el.closest('table').parentElement.getBoundingClientRect().right + 1"
    )
    delete_link.click()
    modal = page.locator("#modal-root [role='dialog']")
    expect(modal).to_contain_text("Old reporting script")
    screenshot(page, "leaked-stale-delete-modal", full_page=False)
    modal.get_by_role("button", name="Delete token").click()
    expect(
        page.locator("#token-table tr.token-row", has_text="Old reporting script")
    ).to_have_count(0)
    expect(page.locator("#stale-notice")).to_have_count(0)
    forgotten.refresh_from_db()
    assert forgotten.revoked_at is not None
