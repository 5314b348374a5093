"""Issue 22, fault 3: an IP address is read as one word, never broken over two lines.

The show-once modal's live line ("First request received from 127.0.0.1 at 11:40:02 UTC.
Your token works.") is one sentence at every width, and no address on any portal or
admin page wraps (`tests/browser/wrapped_addresses.js` finds every IPv4 and IPv6 address
in the page's visible text and counts the lines its characters sit on; test_every_page.py
runs it on every page with `seed_long_addresses`). Screenshots:
artifacts/screenshots/first-request-<width>.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import AccountEvent
from apitokens.models import APIToken, SecurityEvent, TokenActivity, TokenAddress
from tests.browser.checks import WIDTHS

pytestmark = pytest.mark.browser

WRAPPED_ADDRESSES = (Path(__file__).resolve().parent / "wrapped_addresses.js").read_text()
# The longest form an address takes in the portal (no "::" to shorten it).
LONG_IPV6 = "2001:db8:85a3:1234:5678:8a2e:370:7334"

# The lines a paragraph's text sits on: for each, its top and where it starts and ends.
TEXT_LINES = """
element => {
  const range = document.createRange();
  range.selectNodeContents(element);
  const lines = new Map();
  for (const rect of range.getClientRects()) {
    if (!rect.width || !rect.height) continue;
    const top = Math.round(rect.top + rect.height / 2);
    const key = [...lines.keys()].find(known => Math.abs(known - top) <= 4) ?? top;
    const line = lines.get(key) || {top: key, left: rect.left, right: rect.right};
    line.left = Math.min(line.left, rect.left);
    line.right = Math.max(line.right, rect.right);
    lines.set(key, line);
  }
  const box = element.getBoundingClientRect();
  const style = getComputedStyle(element);
  return {
    lines: [...lines.values()].sort((a, b) => a.top - b.top),
    contentLeft: box.left + parseFloat(style.paddingLeft),
    lineHeight: parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5,
  };
}
"""


def create_token_in_modal(page, name: str = "Production Website Integration") -> str:
    page.goto("/account/tokens/")
    page.locator("#create-token-button").click()
    modal = page.locator("#modal-root [role='dialog']")
    modal.get_by_label("Token Name").fill(name)
    modal.get_by_role("button", name="Generate Token").click()
    value = page.locator("#new-token-value")
    value.wait_for()
    return value.input_value()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_first_request_line_reads_as_one_sentence(page, login, user, width, screenshot):
    page.set_viewport_size({"width": width, "height": 900})
    login(page, user)
    value = create_token_in_modal(page)

    # The first request with the new value, from the test's own address (127.0.0.1).
    response = page.request.get("/api/v1/me/", headers={"Authorization": f"Bearer {value}"})
    assert response.ok
    line = page.locator("[data-first-request].is-received")
    expect(line).to_be_visible(timeout=15_000)
    text = " ".join(line.inner_text().split())
    assert text.startswith("First request received from 127.0.0.1 at ")
    assert text.endswith(". Your token works.")
    line.scroll_into_view_if_needed()
    screenshot(page, f"first-request-{width}", full_page=False)

    layout = line.evaluate(TEXT_LINES)
    lines = layout["lines"]
    # Flowing text: every line after the first starts at the paragraph's left edge (in the
    # old flex row each piece was a column, each starting further right).
    for later in lines[1:]:
        assert abs(later["left"] - layout["contentLeft"]) <= 2, (width, lines)
    # The sentence is about 75 characters: two lines in the 600 px modal, three on a phone.
    assert len(lines) <= (2 if width >= 768 else 3), (width, lines)

    address = line.locator("code").bounding_box()
    assert address["height"] < 1.5 * layout["lineHeight"], (width, address, layout)
    assert page.evaluate(WRAPPED_ADDRESSES) == []


def test_a_long_ipv6_first_request_stays_on_one_line_on_a_phone(page, login, user, screenshot):
    page.set_viewport_size({"width": 375, "height": 812})
    login(page, user)
    create_token_in_modal(page)
    token = APIToken.objects.get(owner=user)
    APIToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now(), last_used_ip=LONG_IPV6)
    line = page.locator("[data-first-request].is-received")
    expect(line).to_contain_text(LONG_IPV6, timeout=15_000)
    line.scroll_into_view_if_needed()
    screenshot(page, "first-request-ipv6-375", full_page=False)
    assert page.evaluate(WRAPPED_ADDRESSES) == []
    modal = page.locator("#modal-root .modal").bounding_box()
    address = line.locator("code").bounding_box()
    assert address["x"] + address["width"] <= modal["x"] + modal["width"]


def seed_long_addresses(owner) -> APIToken:
    """Put the long IPv6 address everywhere the portal and admin show an address."""
    token = APIToken.objects.get(owner=owner, name="Mobile App Backend")
    now = timezone.now()
    APIToken.objects.filter(pk=token.pk).update(
        last_used_ip=LONG_IPV6, allowed_ips=f"{LONG_IPV6}\n2001:db8:85a3:1234::/64\n192.0.2.0/24"
    )
    newest = TokenActivity.objects.filter(token=token).order_by("-created_at").first()
    TokenActivity.objects.filter(pk=newest.pk).update(ip=LONG_IPV6)
    TokenAddress.objects.update_or_create(
        token=token, ip=LONG_IPV6, defaults={"first_seen_at": now, "last_seen_at": now}
    )
    AccountEvent.objects.create(user=owner, kind=AccountEvent.Kind.SIGNED_IN, ip=LONG_IPV6)
    event = SecurityEvent.objects.filter(account=owner).order_by("-created_at").first()
    SecurityEvent.objects.filter(pk=event.pk).update(ip=LONG_IPV6)
    return token
