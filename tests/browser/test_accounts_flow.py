from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import User
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.browser

EMAIL = "grace@example.com"
PASSWORD = "quiet-otter-lantern-42"


def confirmation_path(email: str) -> str:
    """The path of the confirmation link last emailed to `email`."""
    message = [message for message in mail.outbox if message.to == [email]][-1]
    return re.search(r"https?://[^/\s]+(/account/verify-email/\S+/)", message.body).group(1)


def confirm_with_password(page, path: str, password: str = PASSWORD) -> None:
    """Open the emailed link and choose the password there (it takes the account fresh)."""
    page.goto(path)
    expect(page.get_by_role("heading", name="Confirm your address")).to_be_visible()
    page.get_by_label("New password", exact=True).fill(password)
    page.get_by_label("Confirm new password").fill(password)
    page.get_by_role("button", name="Confirm and set password").click()


def test_sign_up_confirm_by_email_log_out_log_in_and_change_display_name(page, screenshot):
    page.goto("/account/signup/")
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    screenshot(page, "accounts-signup")

    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Display name").fill("Grace")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    expect(page.locator(".auth-subtitle")).to_contain_text(EMAIL)
    screenshot(page, "accounts-signup-check-email")

    page.goto(confirmation_path(EMAIL))
    expect(page.locator("#claim-notice")).to_be_visible()
    screenshot(page, "accounts-confirm-set-password")
    confirm_with_password(page, confirmation_path(EMAIL))
    expect(page).to_have_url(re.compile(r"/account/login/$"))
    expect(page.get_by_role("status")).to_contain_text(f"{EMAIL} is confirmed")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"/account/tokens/$"))
    expect(page.get_by_role("heading", name="Account settings")).to_be_visible()
    screenshot(page, "accounts-settings-welcome")

    page.locator(".account-menu summary").click()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/account/login/$"))
    expect(page.get_by_role("status")).to_contain_text("You have been logged out.")
    screenshot(page, "accounts-login")

    page.get_by_label("Email").fill("GRACE@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/account/tokens/$"))
    page.get_by_role("link", name="Profile").click()

    page.get_by_label("Display name").fill("Rear Admiral Hopper")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Your profile has been saved.")
    expect(page.locator(".account-menu-name")).to_have_text("Rear Admiral Hopper")
    screenshot(page, "accounts-settings")
    assert User.objects.get(email=EMAIL).display_name == "Rear Admiral Hopper"


def test_login_error_is_shown_on_the_form(page, user, screenshot):
    page.goto("/account/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password", exact=True).fill("not-my-password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_have_text("Incorrect email or password.")
    expect(page.get_by_label("Email")).to_have_value(user.email)
    screenshot(page, "accounts-login-error")


def test_signup_errors_appear_next_to_their_fields(page, user, screenshot):
    page.goto("/account/signup/")
    page.get_by_label("Email").fill("ADA@example.com")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Confirm password").fill("different")
    page.get_by_role("button", name="Create account").click()

    # A taken address is never an error (no enumeration): only the passwords are.
    expect(page.locator("#id_email_error")).to_have_count(0)
    expect(page.locator("#id_password1_error")).to_contain_text("too short")
    expect(page.locator("#id_password2_error")).to_contain_text("don't match")
    expect(page.get_by_label("Password", exact=True)).to_have_attribute("aria-invalid", "true")
    screenshot(page, "accounts-signup-errors")


def test_pages_fit_a_phone(phone_page, user, password, login, screenshot):
    for path, name in [("/account/login/", "login"), ("/account/signup/", "signup")]:
        phone_page.goto(path)
        assert_no_horizontal_scroll(phone_page)
        screenshot(phone_page, f"accounts-{name}-phone")

    login(phone_page, user, password)
    for path, name in [("/account/", "settings"), ("/account/security/", "security")]:
        phone_page.goto(path)
        assert_no_horizontal_scroll(phone_page)
        screenshot(phone_page, f"accounts-{name}-phone")


def test_security_page(logged_in_page, screenshot):
    logged_in_page.goto("/account/security/")
    expect(logged_in_page.get_by_role("heading", name="Change password")).to_be_visible()
    screenshot(logged_in_page, "accounts-security")


def test_forms_work_without_javascript(page_nojs, user, password):
    page_nojs.goto("/account/login/")
    page_nojs.get_by_label("Email").fill(user.email)
    page_nojs.get_by_label("Password", exact=True).fill(password)
    page_nojs.get_by_role("button", name="Log in").click()
    expect(page_nojs).to_have_url(re.compile(r"/account/tokens/$"))
    page_nojs.get_by_role("link", name="Profile").click()

    page_nojs.get_by_label("Display name").fill("No Script Ada")
    page_nojs.get_by_role("button", name="Save changes").click()
    expect(page_nojs.get_by_role("status")).to_contain_text("Your profile has been saved.")


def test_password_reset_by_email(page, user, screenshot):
    page.goto("/account/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    screenshot(page, "accounts-password-reset")
    page.get_by_label("Email").fill("ADA@example.com")
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    screenshot(page, "accounts-password-reset-sent")

    # Emailed links start with QUICKBOT_SITE_URL; the live server runs elsewhere: keep the path.
    body = mail.outbox[-1].body
    link = re.search(r"https?://[^/\s]+(/account/password-reset/\S+/)", body).group(1)
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    assert "set-password" in page.url
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm new password").fill(PASSWORD)
    screenshot(page, "accounts-password-reset-confirm")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("heading", name="Your password has been changed")).to_be_visible()

    page.get_by_role("link", name="Log in", exact=True).last.click()
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/account/tokens/$"))

    page.goto(link)
    expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()
    screenshot(page, "accounts-password-reset-expired")


def test_lockout_page(page, user, settings, screenshot):
    settings.QUICKBOT_LOGIN_FAILURE_LIMIT = 2
    page.goto("/account/login/")
    for _ in range(2):
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password", exact=True).fill("wrong-password-1")
        page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_contain_text("Too many failed log-in attempts")
    screenshot(page, "accounts-login-locked")


def test_logout_link_opened_directly_asks_to_confirm(logged_in_page, screenshot):
    logged_in_page.goto("/account/logout/")
    expect(logged_in_page.get_by_role("heading", name="Log out of QuickBot?")).to_be_visible()
    screenshot(logged_in_page, "accounts-logout-confirm")
    logged_in_page.get_by_role("main").get_by_role("button", name="Log out").click()
    expect(logged_in_page).to_have_url(re.compile(r"/account/login/$"))


def assert_no_horizontal_scroll(page) -> None:
    # Mobile Chromium widens the layout viewport to fit content, so compare with the device.
    overflow = page.evaluate("document.documentElement.scrollWidth") - page.viewport_size["width"]
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px on a phone"


@pytest.mark.parametrize("viewport", ["page", "phone_page"])
def test_an_unconfirmed_account_is_told_on_the_tokens_page_and_can_resend(
    request, viewport, login, screenshot, transactional_db
):
    page = request.getfixturevalue(viewport)
    unconfirmed = UserFactory(email="new@example.com", email_verified_at=None)
    login(page, unconfirmed)

    page.goto("/account/tokens/")
    notice = page.locator("#verify-email-notice")
    expect(notice).to_contain_text("Confirm your email address to create tokens")
    if viewport == "phone_page":
        assert_no_horizontal_scroll(page)
    screenshot(page, f"tokens-unconfirmed-{viewport}")

    notice.get_by_role("button", name="Send a new link").click()
    expect(page.get_by_role("status")).to_contain_text("We sent a new confirmation link")
    confirm_with_password(page, confirmation_path(unconfirmed.email))
    # Confirming ended every session, this one too: log in with the password chosen there.
    expect(page).to_have_url(re.compile(r"/account/login/"))
    page.get_by_label("Email").fill(unconfirmed.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/account/tokens/$"))
    expect(page.locator("#verify-email-notice")).to_have_count(0)
