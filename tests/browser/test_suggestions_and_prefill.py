"""#23.3 and #23.6 in a browser: a token page's right-sizing suggestions, and the Create
Token modal filled in from a link (with a value it left out), at 375/768/1024/1280 px."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token
from tests.browser.checks import WIDTHS, layout_problems

pytestmark = pytest.mark.browser

PREFILLED = "/account/tokens/new/?" + urlencode(
    {
        "name": "Nightly Report Export",
        "permissions": "read",
        "expires": "30",
        "allowed_ips": "0.0.0.0/0",
    }
)


@pytest.mark.parametrize("width", WIDTHS)
def test_suggestions_and_the_prefilled_create_modal(
    browser, live_server, user, login, screenshot, width
):
    now = timezone.now()
    token, _ = create_token(
        user, "Billing dashboard sync", scopes=("read", "write"), now=now - timedelta(days=45)
    )
    for ip in ("198.51.100.10", "198.51.100.77", "2001:db8:4:1::20", "2001:db8:4:1::21"):
        add_activity(token, count=3, at=now - timedelta(days=3), ip=ip)
    token.last_used_at = now - timedelta(days=3)
    token.save(update_fields=["last_used_at"])
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 900}
    )
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        login(page, user)
        page.goto(f"/account/tokens/{token.public_id}/")
        card = page.locator("#token-suggestions")
        expect(card).to_contain_text("No write requests in 30 days — make it read-only")
        expect(card).to_contain_text("Every request in 30 days came from these two networks")
        expect(card.get_by_role("button", name="Make read-only")).to_be_visible()
        card.scroll_into_view_if_needed()
        screenshot(page, f"token-suggestions-{width}", full_page=False)
        assert layout_problems(page) == []
        # A pre-filled link opened as the modal, on the same page.
        page.evaluate(
            "url => htmx.ajax('GET', url, {target: '#modal-root', swap: 'innerHTML'})", PREFILLED
        )
        dialog = page.locator("#modal-root [role='dialog']")
        expect(dialog).to_contain_text("These values came from a link")
        expect(dialog).to_contain_text("The IP allowlist was ignored")
        expect(dialog.get_by_label("Token Name")).to_have_value("Nightly Report Export")
        expect(dialog.get_by_label("Read: view data (GET requests)")).to_be_checked()
        expect(dialog.get_by_label("Write: create, change and delete data")).not_to_be_checked()
        screenshot(page, f"token-prefilled-create-{width}", full_page=False)
        assert layout_problems(page) == []
    finally:
        context.close()
