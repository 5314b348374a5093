"""Account settings > API Tokens in Chromium: with JavaScript, without it, keyboard only."""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from apitokens import services
from apitokens.api.lookup import authenticate_token
from apitokens.models import APIToken
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.browser

LIST_URL = "/account/tokens/"
GOOD_NAME = "Production Website Integration"
VALUE_PATTERN = re.compile(r"qb_[0-9A-Za-z]{38}")


def dialog(page):
    return page.locator("#modal-root [role='dialog']")


def open_create_modal(page):
    page.locator("#create-token-button").click()
    modal = dialog(page)
    modal.wait_for()
    return modal


def row_for(page, name):
    return page.locator("#token-table tr.token-row", has_text=name)


def leave_without_copying(page):
    """Done before copying shows the in-page "Leave without copying?" step; leave."""
    dialog(page).get_by_role("link", name="Done").click()
    dialog(page).get_by_role("link", name="Leave without copying").click()


def test_full_flow_with_javascript(logged_in_page, user):
    page = logged_in_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(LIST_URL)
    assert page.get_by_text("No API tokens yet").is_visible()

    # A meaningless name: the error appears inside the modal, next to the field.
    modal = open_create_modal(page)
    assert modal.get_attribute("aria-modal") == "true"
    modal.get_by_label("Token Name").fill("Token 1")
    modal.get_by_role("button", name="Generate Token").click()
    error = modal.locator("#id_name_error")
    error.wait_for()
    assert "where it will be used" in error.inner_text()
    assert modal.get_by_label("Token Name").evaluate("el => el === document.activeElement")
    assert APIToken.objects.count() == 0

    # A good name: the value is shown once, and the list behind already has the row.
    modal.get_by_label("Token Name").fill(GOOD_NAME)
    modal.get_by_role("button", name="Generate Token").click()
    value_field = page.locator("#new-token-value")
    value_field.wait_for()
    value = value_field.input_value()
    assert VALUE_PATTERN.fullmatch(value)
    assert dialog(page).get_by_text("will not be shown again").is_visible()
    row_for(page, GOOD_NAME).wait_for()
    token = APIToken.objects.get(owner=user)
    assert authenticate_token(value).token == token

    # Escape and the backdrop do not close the show-once modal.
    page.keyboard.press("Escape")
    page.mouse.click(5, 5)
    assert value_field.is_visible()

    copy = dialog(page).get_by_role("button", name="Copy", exact=True)
    copy.click()
    page.wait_for_function(
        "() => document.querySelector('[data-copy]').textContent.trim() === 'Copied'"
    )
    assert page.evaluate("navigator.clipboard.readText()") == value

    dialog(page).get_by_role("link", name="Done").click()
    dialog(page).wait_for(state="detached")
    assert value not in page.content()
    assert row_for(page, GOOD_NAME).locator("code").inner_text() == token.identifier
    page.reload()
    assert value not in page.content()
    page.go_back()
    page.go_forward()
    assert value not in page.content()

    # Delete, with confirmation naming the token.
    row_for(page, GOOD_NAME).get_by_role("link", name="Delete").click()
    modal = dialog(page)
    modal.wait_for()
    assert GOOD_NAME in modal.inner_text()
    assert "loses access immediately" in modal.inner_text()
    modal.get_by_role("button", name="Delete token").click()
    dialog(page).wait_for(state="detached")
    page.get_by_text(f"Token ‘{GOOD_NAME}’ deleted").wait_for()
    row_for(page, GOOD_NAME).wait_for(state="detached")
    page.get_by_text("No API tokens yet").wait_for()
    assert authenticate_token(value).reason == "revoked"


def test_full_flow_without_javascript(page_nojs, user, login, screenshot):
    page = page_nojs
    login(page, user)
    page.goto(LIST_URL)
    page.locator("#create-token-button").click()
    page.wait_for_url("**/account/tokens/new/")

    page.get_by_label("Token Name").fill("API Key")
    page.get_by_role("button", name="Generate Token").click()
    assert "where it will be used" in page.locator("#id_name_error").inner_text()

    page.get_by_label("Token Name").fill(GOOD_NAME)
    page.get_by_role("button", name="Generate Token").click()
    value = page.locator("#new-token-value").input_value()
    assert VALUE_PATTERN.fullmatch(value)
    assert page.url.endswith("/account/tokens/new/")  # rendered, not redirected
    screenshot(page, "tokens-nojs-created-desktop")

    # The curl line is there without JavaScript; the live line needs it and is not shown.
    assert value in page.locator("#new-token-curl").input_value()
    assert page.locator("[data-first-request]").is_hidden()

    page.get_by_role("link", name="Done").click()
    page.wait_for_url(f"**{LIST_URL}?created=*")
    assert value not in page.content()
    assert row_for(page, GOOD_NAME).is_visible()
    assert "is-new" in row_for(page, GOOD_NAME).get_attribute("class")
    # Back to the POST result: the browser kept nothing (no-store), so the value is gone.
    go_back_quietly(page)
    assert value not in settled_content(page)
    page.goto(LIST_URL)

    row_for(page, GOOD_NAME).get_by_role("link", name="Delete").click()
    page.wait_for_url("**/delete/")
    assert "loses access immediately" in page.content()
    screenshot(page, "tokens-nojs-delete-desktop")
    page.get_by_role("button", name="Delete token").click()
    page.wait_for_url(f"**{LIST_URL}")
    assert page.get_by_text(f"Token ‘{GOOD_NAME}’ deleted").is_visible()
    assert row_for(page, GOOD_NAME).count() == 0
    assert authenticate_token(value).reason == "revoked"


def go_back_quietly(page) -> None:
    """History back; Chromium may show its "resubmit the form?" page instead."""
    with contextlib.suppress(PlaywrightError):
        page.go_back()


def settled_content(page) -> str:
    """The page's HTML once a history navigation has finished."""
    for _ in range(20):
        try:
            page.wait_for_load_state()
            return page.content()
        except PlaywrightError:
            page.wait_for_timeout(100)
    return page.content()


def test_leaving_the_show_once_modal_open_and_coming_back(logged_in_page):
    page = logged_in_page
    page.goto(LIST_URL)
    modal = open_create_modal(page)
    modal.get_by_label("Token Name").fill(GOOD_NAME)
    modal.get_by_role("button", name="Generate Token").click()
    value = page.locator("#new-token-value").input_value()
    page.goto("/docs/api/")
    go_back_quietly(page)
    assert value not in settled_content(page)
    assert row_for(page, GOOD_NAME).is_visible()


def test_keyboard_only_modal(logged_in_page):
    page = logged_in_page
    page.goto(LIST_URL)
    page.locator("#create-token-button").focus()
    page.keyboard.press("Enter")
    modal = dialog(page)
    modal.wait_for()
    inside = "el => el.contains(document.activeElement)"
    assert modal.evaluate(inside)
    for _ in range(12):
        page.keyboard.press("Tab")
        assert modal.evaluate(inside)
    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        assert modal.evaluate(inside)
    page.keyboard.press("Escape")
    modal.wait_for(state="detached")
    assert page.evaluate("document.activeElement.id") == "create-token-button"
    assert not page.evaluate("document.body.classList.contains('modal-open')")


def test_backdrop_click_and_cancel_close_the_modal(logged_in_page, user):
    create_token(user, GOOD_NAME)
    page = logged_in_page
    page.goto(LIST_URL)
    open_create_modal(page)
    page.mouse.click(5, 5)
    dialog(page).wait_for(state="detached")

    delete = row_for(page, GOOD_NAME).get_by_role("link", name="Delete")
    delete.click()
    dialog(page).get_by_role("link", name="Cancel").click()
    dialog(page).wait_for(state="detached")
    assert delete.evaluate("el => el === document.activeElement")
    assert APIToken.objects.get().revoked_at is None


def test_done_without_copying_asks_first(logged_in_page):
    page = logged_in_page
    page.goto(LIST_URL)
    modal = open_create_modal(page)
    modal.get_by_label("Token Name").fill(GOOD_NAME)
    modal.get_by_role("button", name="Generate Token").click()
    page.locator("#new-token-value").wait_for()

    # No browser confirm(): an in-page step, focused, with a way back to the value.
    page.on("dialog", lambda question: pytest.fail(f"unexpected {question.type}()"))
    dialog(page).get_by_role("link", name="Done").click()
    check = dialog(page).get_by_role("group", name="Leave without copying?")
    expect(check).to_be_focused()
    assert "cannot show it again" in check.inner_text()
    assert not dialog(page).get_by_role("link", name="Done").is_visible()
    check.get_by_role("button", name="Go back and copy").click()
    expect(page.locator("#new-token-value")).to_be_focused()
    assert check.is_hidden()

    leave_without_copying(page)
    dialog(page).wait_for(state="detached")
    # The list says so and highlights the new row.
    page.get_by_role("status").filter(has_text=f"Token ‘{GOOD_NAME}’ created.").wait_for()
    assert "is-new" in row_for(page, GOOD_NAME).get_attribute("class")


def test_copy_falls_back_to_selecting_the_text(logged_in_page):
    page = logged_in_page
    page.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    page.goto(LIST_URL)
    modal = open_create_modal(page)
    modal.get_by_label("Token Name").fill(GOOD_NAME)
    modal.get_by_role("button", name="Generate Token").click()
    field = page.locator("#new-token-value")
    field.wait_for()
    dialog(page).get_by_role("button", name="Copy", exact=True).click()
    selected = field.evaluate("el => el.value.substring(el.selectionStart, el.selectionEnd)")
    assert selected == field.input_value()
    assert "press Ctrl+C" in dialog(page).locator("[data-copy-status]").first.inner_text()


def test_expiry_choice_shows_custom_date_and_warning(logged_in_page, user):
    page = logged_in_page
    page.goto(LIST_URL)
    modal = open_create_modal(page)
    custom_date = modal.get_by_label("Expiry date")
    warning = modal.get_by_text("No expiration is not recommended")
    assert not custom_date.is_visible() and not warning.is_visible()
    modal.get_by_label("Expiration").select_option("none")
    assert warning.is_visible()
    modal.get_by_label("Expiration").select_option("custom")
    assert custom_date.is_visible() and not warning.is_visible()
    day = timezone.localdate() + timedelta(days=10)
    custom_date.fill(day.isoformat())
    modal.get_by_label("Token Name").fill(GOOD_NAME)
    modal.get_by_label("Write: create, change and delete data").check()
    modal.get_by_role("button", name="Generate Token").click()
    page.locator("#new-token-value").wait_for()
    token = APIToken.objects.get(owner=user)
    assert timezone.localdate(token.expires_at) == day
    assert token.scope_list == ["read", "write"]


def test_regenerate_shows_the_new_value_once(logged_in_page, user):
    token, old_value = create_token(user, GOOD_NAME)
    page = logged_in_page
    page.goto(LIST_URL)
    trigger = row_for(page, GOOD_NAME).get_by_role("link", name="Regenerate")
    trigger.click()
    modal = dialog(page)
    modal.get_by_label("After 24 hours").check()
    modal.get_by_role("button", name="Regenerate token").click()
    field = page.locator("#new-token-value")
    field.wait_for()
    new_value = field.input_value()
    assert new_value != old_value
    assert "previous value keeps working until" in dialog(page).inner_text()
    leave_without_copying(page)
    dialog(page).wait_for(state="detached")
    assert page.evaluate("document.activeElement.id") == f"regenerate-{token.public_id}"
    assert new_value not in page.content()
    assert authenticate_token(new_value).ok
    assert authenticate_token(old_value).ok  # during the overlap


def test_stale_page_after_delete_in_another_tab(logged_in_page, user):
    token, _ = create_token(user, GOOD_NAME)
    page = logged_in_page
    page.goto(LIST_URL)
    services.api_token_revoke(token=token, actor=user)  # the other tab
    row_for(page, GOOD_NAME).get_by_role("link", name="Regenerate").click()
    page.get_by_text(f"Token ‘{GOOD_NAME}’ was already deleted.").wait_for()
    row_for(page, GOOD_NAME).wait_for(state="detached")
    assert dialog(page).count() == 0


def test_failed_request_is_explained(logged_in_page, user):
    create_token(user, GOOD_NAME)
    page = logged_in_page
    page.goto(LIST_URL)
    page.route("**/delete/", lambda route: route.fulfill(status=500, body="boom"))
    row_for(page, GOOD_NAME).get_by_role("link", name="Delete").click()
    page.get_by_role("alert").filter(has_text="Something went wrong").wait_for()


def _seed_list(user):
    now = timezone.now()
    used, _ = create_token(
        user,
        "Production Website Integration",
        scopes=("read", "write"),
        lifetime_days=90,
        expires_at=now + timedelta(days=84),
        now=now - timedelta(days=6),
    )
    APIToken.objects.filter(pk=used.pk).update(last_used_at=now - timedelta(hours=3))
    create_token(
        user,
        "Mobile App Backend",
        expires_at=now + timedelta(days=5),
        lifetime_days=30,
        now=now - timedelta(days=25),
    )
    create_token(user, "Development Testing", now=now - timedelta(days=40))
    create_token(
        user,
        "Nightly billing export",
        expires_at=now - timedelta(days=2),
        lifetime_days=30,
        now=now - timedelta(days=32),
    )


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_screenshots(request, browser, live_server, user, login, screenshot, size):
    page = request.getfixturevalue("page" if size == "desktop" else "phone_page")
    login(page, user)
    page.goto(LIST_URL)
    screenshot(page, f"tokens-empty-{size}")

    _seed_list(user)
    page.goto(LIST_URL)
    screenshot(page, f"tokens-list-{size}")

    modal = open_create_modal(page)
    modal.get_by_label("Token Name").fill("API Key")
    modal.get_by_role("button", name="Generate Token").click()
    modal.locator("#id_name_error").wait_for()
    screenshot(page, f"tokens-create-error-{size}", full_page=False)

    modal.get_by_label("Token Name").fill("Zapier automation")
    modal.get_by_role("button", name="Generate Token").click()
    page.locator("#new-token-value").wait_for()
    screenshot(page, f"tokens-show-once-{size}", full_page=False)
    leave_without_copying(page)
    dialog(page).wait_for(state="detached")

    row_for(page, "Mobile App Backend").get_by_role("link", name="Delete").click()
    dialog(page).wait_for()
    screenshot(page, f"tokens-delete-{size}", full_page=False)
    page.keyboard.press("Escape")
    dialog(page).wait_for(state="detached")

    row_for(page, "Mobile App Backend").get_by_role("link", name="Regenerate").click()
    dialog(page).wait_for()
    screenshot(page, f"tokens-regenerate-{size}", full_page=False)
    page.keyboard.press("Escape")
    dialog(page).wait_for(state="detached")

    row_for(page, "Mobile App Backend").get_by_role("link", name="Edit").click()
    dialog(page).wait_for()
    screenshot(page, f"tokens-edit-{size}", full_page=False)
