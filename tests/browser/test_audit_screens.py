"""Screens of the audit work: the owner's token page and the staff admin screens.

Screenshots go to artifacts/screenshots/audit-*.png for review.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apitokens import demo
from apitokens.models import APIToken
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_user(db):
    user = UserFactory(email="demo-owner@example.com", display_name="Demo User")
    demo.demo_data_seed(user=user)
    return user


def test_token_page_for_the_owner(page, phone_page, login, screenshot, demo_user):
    token = APIToken.objects.get(owner=demo_user, name="Mobile App Backend")
    login(page, demo_user)
    page.goto(f"/account/tokens/{token.public_id}/")
    assert page.get_by_role("heading", name="Mobile App Backend").is_visible()
    assert page.locator("svg.chart").is_visible()
    assert page.get_by_text("New IP addresses in the last 7 days").is_visible()
    assert page.locator("tr.is-new-ip").count() > 0
    screenshot(page, "audit-token-page")

    page.get_by_label("Status").select_option("429")
    page.wait_for_url("**status=429**")
    assert page.locator("#token-activity tbody tr").count() > 0
    assert page.locator("#token-activity tbody tr td .status-code").first.inner_text() == "429"
    screenshot(page, "audit-token-page-filtered", full_page=False)

    login(phone_page, demo_user)
    phone_page.goto(f"/account/tokens/{token.public_id}/")
    screenshot(phone_page, "audit-token-page-phone", full_page=False)
    phone_page.locator("#token-activity").scroll_into_view_if_needed()
    screenshot(phone_page, "audit-token-page-phone-activity", full_page=False)


def test_deleted_token_page_shows_its_use_after_deletion(page, login, screenshot, demo_user):
    token = APIToken.objects.get(owner=demo_user, name=demo.DELETED_TOKEN_NAME)
    login(page, demo_user)
    page.goto(f"/account/tokens/{token.public_id}/")
    assert page.get_by_text("This token was deleted").is_visible()
    assert page.get_by_text("Deleted token used").first.is_visible()
    screenshot(page, "audit-token-page-deleted")


def test_admin_dashboard_and_changelists(page, login, screenshot, demo_user):
    staff = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    login(page, staff)
    page.set_viewport_size({"width": 1600, "height": 900})  # admin changelists are wide
    page.goto("/admin/")
    page.get_by_role("link", name="API usage dashboard").click()
    assert page.get_by_role("heading", name="API usage").is_visible()
    assert page.locator("svg.chart").is_visible()
    assert page.get_by_text("Deleted token used").first.is_visible()
    screenshot(page, "audit-admin-dashboard")

    page.goto("/admin/apitokens/apitoken/")
    assert page.get_by_text("Production Website Integration").is_visible()
    screenshot(page, "audit-admin-tokens")

    page.get_by_role("link", name="Production Website Integration").click()
    screenshot(page, "audit-admin-token-detail")

    page.goto("/admin/apitokens/tokenactivity/")
    screenshot(page, "audit-admin-activity", full_page=False)

    page.goto("/admin/apitokens/securityevent/")
    screenshot(page, "audit-admin-events")


def test_admin_revoke_action_with_confirmation(page, login, screenshot, demo_user):
    staff = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    token = APIToken.objects.get(owner=demo_user, name="Development Testing")
    login(page, staff)
    page.goto("/admin/apitokens/apitoken/")
    page.locator(f'input[name="_selected_action"][value="{token.pk}"]').check()
    page.locator('select[name="action"]').select_option("revoke_selected")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_text("loses access immediately")).to_be_visible()
    screenshot(page, "audit-admin-revoke-confirm")
    page.get_by_role("button", name="Yes, delete 1 token").click()
    expect(page.get_by_text("Deleted (revoked) 1 token")).to_be_visible()
    token.refresh_from_db()
    assert token.revoked_by == staff


def test_delete_from_the_token_page(page, login, screenshot, demo_user):
    token = APIToken.objects.get(owner=demo_user, name="Development Testing")
    login(page, demo_user)
    page.goto(f"/account/tokens/{token.public_id}/")
    page.get_by_role("link", name="Delete Development Testing").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    screenshot(page, "audit-token-page-delete-modal", full_page=False)
    dialog.get_by_role("button", name="Delete").click()
    expect(page.locator("#token-summary").get_by_text("Deleted", exact=True)).to_be_visible()
    expect(page.get_by_text("This token was deleted")).to_be_visible()
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_api_tokens_page_banner_links_to_the_deleted_token(page, login, screenshot, demo_user):
    login(page, demo_user)
    page.goto("/account/tokens/")
    banner = page.locator(".security-alert")
    expect(banner).to_contain_text("Deleted token ‘CI runner’ was used 14 times")
    expect(banner).to_contain_text("203.0.113.7")
    expect(banner).to_contain_text("since yesterday")
    screenshot(page, "audit-token-list-banner", full_page=False)
    banner.get_by_role("link", name="View details").click()
    expect(page.get_by_role("heading", name="CI runner")).to_be_visible()
