"""IP allowlists and the token policy in Chromium: the create and edit modals, the no-JS
pages, the token page, and the admin's policy page and expire confirmation."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apitokens import services
from apitokens.models import APIToken, TokenPolicy
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.browser

LIST_URL = "/account/tokens/"


def dialog(page):
    return page.locator("#modal-root [role='dialog']")


def test_create_modal_with_allowlist_errors_then_success(logged_in_page, user, screenshot):
    page = logged_in_page
    page.goto(LIST_URL)
    page.locator("#create-token-button").click()
    modal = dialog(page)
    modal.wait_for()
    assert "You are connecting from 127.0.0.1." in modal.inner_text()
    modal.get_by_label("Token Name").fill("Warehouse sync job")
    modal.get_by_label("IP allowlist").fill("203.0.113.300\n10.0.0.5/24")
    modal.get_by_role("button", name="Generate Token").click()
    errors = modal.locator("#id_allowed_ips_error")
    errors.wait_for()
    assert "did you mean 10.0.0.0/24?" in errors.inner_text()
    screenshot(page, "restrictions-create-modal-errors")
    modal.get_by_label("IP allowlist").fill("127.0.0.1\n2001:db8::/32")
    modal.get_by_role("button", name="Generate Token").click()
    dialog(page).get_by_text("Copy your token now").wait_for()
    assert APIToken.objects.get(owner=user).allowed_ips == "127.0.0.1\n2001:db8::/32"


def test_create_modal_on_a_phone_with_a_policy(phone_page, user, login, screenshot):
    services.token_policy_save(
        policy=TokenPolicy(max_lifetime_days=30, allowlist_required=True), actor=None
    )
    page = phone_page
    login(page, user)
    page.goto(LIST_URL)
    page.locator("#create-token-button").click()
    modal = dialog(page)
    modal.wait_for()
    note = modal.locator("#token-policy-note")
    assert "new tokens need an IP allowlist" in note.inner_text()
    assert modal.locator("option[value='none']").count() == 0
    screenshot(page, "restrictions-create-modal-policy-phone")


def test_edit_page_without_javascript_and_the_token_page(page_nojs, user, login, screenshot):
    token, _ = create_token(user, "Office backup job")
    page = page_nojs
    login(page, user)
    page.goto(f"/account/tokens/{token.public_id}/edit/")
    page.get_by_label("IP allowlist").fill("198.51.100.0/24, 2001:db8:1::/48")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url("**/account/tokens/")
    page.goto(f"/account/tokens/{token.public_id}/")
    facts = page.locator(".token-facts").inner_text()
    assert "198.51.100.0/24" in facts and "2001:db8:1::/48" in facts
    screenshot(page, "restrictions-token-page")
    page.set_viewport_size({"width": 375, "height": 812})
    screenshot(page, "restrictions-token-page-phone")


def test_admin_policy_page_and_expire_confirmation(page, login, screenshot, db):
    admin = get_user_model().objects.create_superuser(
        email="boss@example.com", password="a-long-admin-password-1"
    )
    owner = get_user_model().objects.create_user(
        email="owner@example.com", password="a-long-owner-password-1"
    )
    create_token(owner, "Forever job")
    login(page, admin, "a-long-admin-password-1")
    page.goto("/admin/apitokens/tokenpolicy/")
    page.get_by_label("Expiry required").check()
    screenshot(page, "restrictions-admin-policy")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("existing token breaks it").wait_for()
    page.get_by_role("link", name="1 existing token breaks it").click()
    page.locator("input[name='_selected_action']").first.check()
    page.locator("select[name='action']").select_option("expire_selected")
    page.get_by_role("button", name="Run").click()
    page.get_by_text("never expires").wait_for()
    screenshot(page, "restrictions-admin-expire-confirm")
    page.get_by_role("button", name="Yes, expire 1 token on this date").click()
    page.get_by_text("now expire on").wait_for()
    assert APIToken.objects.get(name="Forever job").expires_at is not None
