"""Issue 22, fault 10: no Content Security Policy report in the first create flow or a
password (sudo) prompt.

The reports came from htmx's settling: for an element with the same id before and after a
swap, htmx copies the old element's `class`, `style`, `width` and `height` attributes onto
the new one with setAttribute, and a `style` attribute set that way is inline style the
CSP (`style-src 'self'`) refuses. Browsers, password managers and autofill put `style` on
form fields (the password field of every prompt), so each swap of a form reported once.
`base.html` settles only class, width and height. The tests give the fields a style the
way such tools do (through the CSSOM, which the CSP allows) and listen for reports.
"""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import expect

from accounts import sudo
from apitokens.models import APIToken

pytestmark = pytest.mark.browser

LIST_URL = "/account/tokens/"
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  const what = event.blockedURI || "inline";
  window.__cspViolations.push(`${event.violatedDirective} ${what} ${where}`);
});
"""
# What a password manager or autofill does to a field: an inline style through the CSSOM.
STYLE_LIKE_AUTOFILL = "el => { el.style.backgroundImage = 'none'; el.style.paddingRight = '2rem'; }"


def watch(page) -> list[str]:
    console: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return console


def reports(page, console: list[str]) -> list[str]:
    return page.evaluate("window.__cspViolations") + console


def close_sudo_window(page) -> None:
    cookie = next(c for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=cookie["value"])
    session[sudo.SESSION_KEY] = 1_000_000.0
    session.save()


@pytest.mark.parametrize("viewport", ["page", "phone_page"])
def test_the_first_create_flow_reports_nothing(request, live_server, viewport, user, login):
    page = request.getfixturevalue(viewport)
    console = watch(page)
    login(page, user)
    page.goto(LIST_URL)

    page.locator("#create-token-button").click()
    modal = page.locator("#modal-root [role='dialog']")
    name = modal.get_by_label("Token Name")
    name.evaluate(STYLE_LIKE_AUTOFILL)
    name.fill("Token 1")
    modal.get_by_role("button", name="Generate Token").click()
    expect(modal.locator("#id_name_error")).to_be_visible()
    modal.get_by_label("Token Name").evaluate(STYLE_LIKE_AUTOFILL)
    modal.get_by_label("Token Name").fill("Production Website Integration")
    modal.get_by_role("button", name="Generate Token").click()
    expect(page.locator("#new-token-value")).to_be_visible()
    page.locator("#token-table tr.token-row").first.wait_for()
    page.get_by_role("link", name="Done").click()
    page.get_by_role("link", name="Leave without copying").click()
    expect(page.locator("#modal-root [role='dialog']")).to_have_count(0)

    assert reports(page, console) == []


def test_a_password_prompt_reports_nothing(transactional_db, page, user, password, login):
    console = watch(page)
    login(page, user, password)
    close_sudo_window(page)
    page.goto(LIST_URL)

    page.locator("#create-token-button").click()
    modal = page.locator("#modal-root [role='dialog']")
    expect(modal.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    modal.get_by_label("Password").evaluate(STYLE_LIKE_AUTOFILL)
    modal.get_by_label("Password").fill("not-my-password")
    modal.get_by_role("button", name="Confirm password").click()
    expect(modal.locator(".field-errors")).to_contain_text("That is not your password")
    modal.get_by_label("Password").evaluate(STYLE_LIKE_AUTOFILL)
    modal.get_by_label("Password").fill(password)
    modal.get_by_role("button", name="Confirm password").click()
    expect(modal.get_by_role("heading", name="Create Token")).to_be_visible()
    modal.get_by_label("Token Name").fill("Production Website Integration")
    modal.get_by_role("button", name="Generate Token").click()
    expect(page.locator("#new-token-value")).to_be_visible()
    assert APIToken.objects.filter(owner=user).count() == 1

    assert reports(page, console) == []
