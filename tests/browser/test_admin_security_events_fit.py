"""Issue 22, faults 8 and 9 in the browser: the admin's security events list shows its
Detail column inside the window at 1280 px, the activity list marks only flagged requests,
and the owner's pages name browsers ("Firefox on Linux") with the raw header on hover.

Screenshots: artifacts/screenshots/fault9-*.png and fault8-*.png.
"""

from __future__ import annotations

import pytest

from apitokens import services
from apitokens.demo import demo_data_seed
from apitokens.models import APIToken, SecurityEvent, TokenActivity
from tests.accounts.factories import UserFactory
from tests.browser.checks import WIDTHS

pytestmark = pytest.mark.browser

LONG_IPV6 = "2001:db8:85a3:1234:5678:8a2e:370:7334"
FIREFOX_ON_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

# Where each visible cell of a column sits, and whether the scroll box hides any of it.
HIDDEN_CELLS = """
selector => {
  const problems = [];
  for (const cell of document.querySelectorAll(selector)) {
    const box = cell.getBoundingClientRect();
    let clip = {left: 0, right: document.documentElement.clientWidth};
    for (let node = cell.parentElement; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.overflowX !== 'visible') {
        const rect = node.getBoundingClientRect();
        clip = {left: Math.max(clip.left, rect.left), right: Math.min(clip.right, rect.right)};
      }
    }
    if (box.left < clip.left - 1 || box.right > clip.right + 1) {
      problems.push(`${cell.className}: ${Math.round(box.left)}-${Math.round(box.right)} `
        + `outside ${Math.round(clip.left)}-${Math.round(clip.right)}`);
    }
  }
  return problems;
}
"""


@pytest.fixture
def owner(db):
    owner = UserFactory(email="fault9-owner@example.com", display_name="Demo User")
    demo_data_seed(user=owner)
    token = APIToken.objects.get(owner=owner, name="Mobile App Backend")
    services.api_token_update_allowed_ips(
        token=token,
        allowed_ips="203.0.113.7",
        actor=owner,
        client=services.ClientInfo(ip="198.51.100.5", user_agent=FIREFOX_ON_LINUX),
    )
    # A full-length IPv6 address never wraps, so it is the widest cell the list can get.
    services.api_token_update_scopes(
        token=token,
        scopes=("read", "write"),
        actor=owner,
        client=services.ClientInfo(ip=LONG_IPV6, user_agent=FIREFOX_ON_LINUX),
    )
    return owner


@pytest.fixture
def staff(db):
    return UserFactory(email="fault9-root@example.com", is_staff=True, is_superuser=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_security_events_list_shows_detail_inside_the_window(
    page, login, screenshot, owner, staff, width
):
    page.set_viewport_size({"width": width, "height": 900})
    login(page, staff)
    page.goto("/admin/apitokens/securityevent/")
    screenshot(page, f"fault9-admin-events-{width}", full_page=False)
    header = page.locator("#result_list th.column-detail_display")
    assert header.inner_text().strip().lower() == "detail"
    detail = page.locator("#result_list td.field-detail_display", has_text="203.0.113.7")
    assert detail.inner_text() == "From “any address” to “203.0.113.7”"
    if width == 1280:
        # Every Detail cell, and its header, in view without scrolling sideways.
        problems = page.evaluate(
            HIDDEN_CELLS, "#result_list th.column-detail_display, #result_list td"
        )
        assert problems == []


def test_activity_list_marks_only_flagged_requests(page, login, screenshot, owner, staff):
    login(page, staff)
    page.goto("/admin/apitokens/tokenactivity/")
    screenshot(page, "fault9-admin-activity-1280", full_page=False)
    flagged_cells = page.locator("#result_list td.field-flagged_badge")
    assert flagged_cells.count() > 0
    badges = page.locator("#result_list td.field-flagged_badge .audit-badge-warning")
    shown = TokenActivity.objects.order_by("-created_at", "-id")[:100]
    assert badges.count() == sum(1 for row in shown if row.flagged)
    # No yes/no icons: a normal request's cell is empty.
    assert page.locator("#result_list td.field-flagged_badge img").count() == 0
    assert flagged_cells.first.inner_text().strip() in ("", "Flagged")
    assert page.evaluate(HIDDEN_CELLS, "#result_list th, #result_list td") == []

    page.goto("/admin/apitokens/tokenactivity/?flagged__exact=1")
    screenshot(page, "fault9-admin-activity-flagged-1280", full_page=False)
    badge = page.locator("#result_list td.field-flagged_badge .audit-badge-warning").first
    assert badge.inner_text() == "Flagged"
    assert badge.get_attribute("title") == "Made with a deleted or expired token"


def test_token_list_says_the_deleted_tokens_requests_were_refused(
    page, login, screenshot, owner, staff
):
    login(page, staff)
    page.goto("/admin/apitokens/apitoken/")
    screenshot(page, "fault9-admin-tokens-1280", full_page=False)
    row = page.locator("#result_list tr", has_text="CI runner")
    assert "(refused: token deleted)" in row.locator("td.field-requests_24h").inner_text()
    headers = page.locator("#result_list thead").text_content()  # the CSS upper-cases them
    assert "Created Date" in headers and "Last Used" in headers


def test_owner_pages_name_the_browser_with_the_header_on_hover(page, login, screenshot, owner):
    token = APIToken.objects.get(owner=owner, name="Mobile App Backend")
    login(page, owner)
    page.goto("/account/security/")
    page.locator("#security-log").scroll_into_view_if_needed()
    screenshot(page, "fault8-security-page-1280", full_page=False)
    agents = page.locator("#security-log td[data-label='Browser'] .user-agent")
    assert agents.count() > 0
    assert agents.first.inner_text() == "Headless Chrome on Linux"
    assert "HeadlessChrome" in agents.first.get_attribute("title")

    page.goto(f"/account/tokens/{token.public_id}/")
    event = page.locator("#security-log tr", has_text="IP allowlist changed")
    assert "From “any address” to “203.0.113.7”" in event.inner_text()
    assert SecurityEvent.objects.filter(token=token, kind="allowlist_changed").exists()
    agent = page.locator("#token-activity td.activity-agent .user-agent").first
    assert agent.get_attribute("title")
    page.locator("#token-activity").scroll_into_view_if_needed()
    screenshot(page, "fault8-token-activity-1280", full_page=False)
    page.locator("#security-log").scroll_into_view_if_needed()
    screenshot(page, "fault8-token-security-log-1280", full_page=False)
