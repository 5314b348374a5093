"""A token's page shows each request's ID and finds one by it (#24.1), at every width."""

from __future__ import annotations

import pytest
from django.test import Client
from playwright.sync_api import expect

from common.request_id import REQUEST_ID_HEADER
from tests.apitokens.factories import create_token
from tests.browser.checks import WIDTHS, check_layout

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", WIDTHS)
def test_the_token_page_finds_a_request_by_its_id(page, login, user, width):
    token, raw = create_token(user, "Support case")
    api = Client()
    ids = [
        api.get(path, headers={"Authorization": f"Bearer {raw}"})[REQUEST_ID_HEADER]
        for path in ("/api/v1/me/", "/api/v1/tokens/", "/api/v1/me/?verbose=1")
    ]
    page.set_viewport_size({"width": width, "height": 900})
    login(page, user)
    page.goto(f"/account/tokens/{token.public_id}/")
    rows = page.locator("#token-activity tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first.locator(".request-id")).to_have_text(ids[2])

    search = page.get_by_label("Request ID")
    search.fill(ids[1])
    search.press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".request-id")).to_have_text(ids[1])
    expect(rows.first).to_contain_text("/api/v1/tokens/")
    assert f"request_id={ids[1]}" in page.url  # htmx pushed the search: a link to share
    assert check_layout(page, "token-request-id-search", width) == []
