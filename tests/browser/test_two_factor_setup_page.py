"""Issue 22, fault 4: the two-factor set-up reads in order, and the recovery codes can be
copied, downloaded as a .txt file and printed (only the codes print).

Screenshots: artifacts/screenshots/two-factor-setup-<width>.png, recovery-codes-<width>.png
and recovery-codes-print.png.
"""

from __future__ import annotations

import pyotp
import pytest
from playwright.sync_api import expect

from accounts.models import RecoveryCode
from tests.browser.checks import WIDTHS, axe_violations, describe_violations

pytestmark = pytest.mark.browser

SETUP_URL = "/account/security/two-factor/"
SENTENCE = "Open an authenticator app"


def open_setup(page) -> None:
    page.goto("/account/security/")
    page.get_by_role("link", name="Set up two-factor authentication").click()
    expect(page.locator(".qr-code svg")).to_be_visible()


def turn_on(page) -> list[str]:
    """Finish the set-up with a code from the key shown; the recovery codes it shows."""
    secret = page.locator("#two-factor-secret").inner_text().strip()
    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on", exact=True).click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    return page.locator(".recovery-codes code").all_inner_texts()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_qr_code_comes_after_its_sentence_not_inside_it(page, login, user, width, screenshot):
    page.set_viewport_size({"width": width, "height": 900})
    login(page, user)
    open_setup(page)
    screenshot(page, f"two-factor-setup-{width}")

    sentence = page.get_by_text(SENTENCE).bounding_box()
    qr = page.locator(".qr-code").bounding_box()
    # The whole sentence ("… or Aegis) and scan this QR code:") ends above the code.
    assert sentence["y"] + sentence["height"] <= qr["y"] + 1, (sentence, qr)

    help_text = page.locator("#id_code_helptext").inner_text()
    assert "recovery code" not in help_text.split(".")[0]
    assert "6-digit code" in help_text
    described_by = page.get_by_label("Code").get_attribute("aria-describedby")
    assert "id_code_helptext" in described_by.split()
    if width in (375, 1280):
        violations = describe_violations("two-factor set-up", axe_violations(page))
        assert violations == [], "\n".join(violations)


@pytest.mark.parametrize("width", [375, 1280])
def test_recovery_codes_can_be_copied_downloaded_and_printed(page, login, user, width, screenshot):
    page.set_viewport_size({"width": width, "height": 900})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    # window.print() would open the print dialog: note the call instead.
    page.add_init_script(
        "window.print = () => { window.__printed = (window.__printed || 0) + 1; };"
    )
    login(page, user)
    open_setup(page)
    codes = turn_on(page)
    assert len(codes) == 10
    screenshot(page, f"recovery-codes-{width}")
    violations = describe_violations("recovery codes", axe_violations(page))
    assert violations == [], "\n".join(violations)

    page.get_by_role("button", name="Copy").click()
    expect(page.locator("[data-recovery-status]")).to_contain_text("copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert [line for line in copied.splitlines() if line in codes] == codes

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download (.txt)").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".txt")
    with open(download.path(), encoding="utf-8") as saved:
        lines = saved.read().splitlines()
    assert [line for line in lines if line in codes] == codes
    assert user.email in lines[0]

    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.__printed") == 1

    # Printed, only the sheet with the codes shows: no header, menu, warning or buttons.
    page.emulate_media(media="print")
    for selector in (
        ".site-header",
        ".settings-nav",
        "#recovery-codes-warning",
        ".recovery-actions",
    ):
        assert (
            page.locator(selector).first.evaluate("el => getComputedStyle(el).visibility")
            == "hidden"
        ), selector
    for code in page.locator(".recovery-codes code").all():
        assert code.evaluate("el => getComputedStyle(el).visibility") == "visible"
    expect(page.locator("[data-recovery-title]")).to_be_visible()
    if width == 1280:
        screenshot(page, "recovery-codes-print")
    # Nothing about the codes left the page: the server still has only their digests.
    assert RecoveryCode.objects.filter(user=user).count() == 10


def test_without_javascript_the_codes_stay_visible_and_selectable(
    page_nojs, login, user, screenshot
):
    page = page_nojs
    login(page, user)
    open_setup(page)
    codes = turn_on(page)
    assert len(codes) == 10
    for name in ("Copy", "Download (.txt)", "Print"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    sheet = page.locator(".recovery-codes")
    assert sheet.evaluate("el => getComputedStyle(el).userSelect") != "none"
    assert all(page.get_by_text(code, exact=True).is_visible() for code in codes)
    screenshot(page, "recovery-codes-nojs")
