"""The whole account-security path in Chromium: sign up, confirm through the emailed link,
turn on two-factor with a code computed from the key shown, log out, log in with a code,
log out, log in with a recovery code."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.test_accounts_flow import confirm_with_password, confirmation_path

pytestmark = pytest.mark.browser

EMAIL = "hedy@example.com"
PASSWORD = "frequency-hopping-1942"


def log_in(page, password: str = PASSWORD) -> None:
    page.goto("/account/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()


def log_out(page) -> None:
    page.locator(".account-menu summary").click()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/account/login/$"))


@pytest.mark.parametrize("viewport", ["page", "phone_page"])
def test_sign_up_confirm_two_factor_code_and_recovery_code(
    transactional_db, request, viewport, screenshot
):
    page = request.getfixturevalue(viewport)
    page.goto("/account/signup/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert mail.outbox[-1].to == [EMAIL]

    confirm_with_password(page, confirmation_path(EMAIL), PASSWORD)
    expect(page.get_by_role("status")).to_contain_text("is confirmed")
    log_in(page)
    expect(page).to_have_url(re.compile(r"/account/tokens/$"))

    page.goto("/account/security/")
    page.get_by_role("link", name="Set up two-factor authentication").click()
    expect(page.locator(".qr-code svg")).to_be_visible()
    screenshot(page, f"two-factor-setup-{viewport}")
    secret = page.locator("#two-factor-secret").inner_text().strip()
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code").fill(totp.now())
    page.get_by_role("button", name="Turn on", exact=True).click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    screenshot(page, f"two-factor-recovery-codes-{viewport}")
    page.get_by_role("link", name="I have saved them").click()
    expect(page.locator("#two-factor")).to_contain_text("10 recovery codes left")
    screenshot(page, f"accounts-security-two-factor-{viewport}")

    log_out(page)
    log_in(page)
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    screenshot(page, f"accounts-login-code-{viewport}")
    # The set-up used this step's code: the next step's is the one still unused.
    page.get_by_label("Code").fill(totp.at(timezone.now() + timedelta(seconds=30)))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/account/tokens/$"))

    log_out(page)
    log_in(page)
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/account/tokens/$"))
    expect(page.get_by_role("status")).to_contain_text("You used a recovery code; 9 left.")

    page.goto("/account/security/")
    log = page.locator("#security-log")
    expect(log).to_contain_text("Password and recovery code")
    expect(log).to_contain_text("Password and authenticator code")
    expect(log).to_contain_text("Two-factor turned on")
    expect(log).to_contain_text("Email address confirmed")
    screenshot(page, f"accounts-security-log-{viewport}")
