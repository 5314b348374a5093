"""Sudo mode in Chromium: the htmx modal resumes opening the create form; without
JavaScript a page does the same."""

from __future__ import annotations

import re

import pytest
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import expect

from accounts import sudo
from apitokens.models import APIToken

pytestmark = pytest.mark.browser

LIST_URL = "/account/tokens/"


def close_sudo_window(page) -> None:
    """Move this browser's sign-in far into the past, as if it were an hour old."""
    cookie = next(c for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=cookie["value"])
    session[sudo.SESSION_KEY] = 1_000_000.0
    session.save()


@pytest.mark.parametrize("viewport", ["page", "phone_page"])
def test_create_asks_for_the_password_in_a_modal_then_opens_the_form(
    transactional_db, request, viewport, user, password, login, screenshot
):
    page = request.getfixturevalue(viewport)
    login(page, user, password)
    close_sudo_window(page)
    page.goto(LIST_URL)

    page.locator("#create-token-button").click()
    modal = page.locator("#modal-root [role='dialog']")
    expect(modal.get_by_role("heading", name="Confirm it's you")).to_be_visible()

    modal.get_by_label("Password").fill("not-my-password")
    modal.get_by_role("button", name="Confirm password").click()
    expect(modal.locator(".field-errors")).to_contain_text("That is not your password")
    # After the swap: Playwright's screenshot leaves style="" on the focused input, which
    # htmx would copy onto its replacement (a CSP report, not a page bug).
    screenshot(page, f"sudo-modal-{viewport}")

    modal.get_by_label("Password").fill(password)
    modal.get_by_role("button", name="Confirm password").click()
    expect(modal.get_by_role("heading", name="Create Token")).to_be_visible()
    modal.get_by_label("Token Name").fill("Production Website Integration")
    modal.get_by_role("button", name="Generate Token").click()
    expect(page.locator("#new-token-value")).to_be_visible()
    assert APIToken.objects.filter(owner=user).count() == 1


def test_without_javascript_the_prompt_is_a_page_that_resumes(
    page_nojs, user, password, login, screenshot
):
    login(page_nojs, user, password)
    close_sudo_window(page_nojs)

    page_nojs.goto("/account/tokens/new/")
    expect(page_nojs.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    screenshot(page_nojs, "sudo-page-nojs")
    page_nojs.get_by_label("Password").fill(password)
    page_nojs.get_by_role("button", name="Confirm password").click()

    expect(page_nojs).to_have_url(re.compile(r"/account/tokens/new/$"))
    expect(page_nojs.get_by_label("Token Name")).to_be_visible()
