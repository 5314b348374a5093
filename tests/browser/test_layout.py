"""Pages that fit their width: the API Tokens page with the demo data, a long button label,
the admin dashboard's tables. The lists of pages here (`PUBLIC_PAGES`, `portal_pages`,
`admin_pages`) are what test_every_page.py visits at every width.
"""

import pytest

from apitokens import demo
from apitokens.demo import demo_data_seed
from apitokens.models import APIToken
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.browser

OVERFLOWING_TABLES = """
() => [...document.querySelectorAll('.token-table, .table')]
  .filter(table => table.offsetParent !== null)
  .filter(table => table.scrollWidth > table.parentElement.clientWidth + 1)
  .map(table => table.className)
"""


def portal_pages(user) -> list[tuple[str, str]]:
    """(name, path) of every page a signed-in user reaches, with the demo data loaded."""
    token = APIToken.objects.get(owner=user, name="Mobile App Backend")
    deleted = APIToken.objects.get(owner=user, name=demo.DELETED_TOKEN_NAME)
    base = f"/account/tokens/{token.public_id}"
    return [
        ("settings", "/account/"),
        ("security", "/account/security/"),
        ("tokens", "/account/tokens/"),
        ("token", f"{base}/"),
        ("token-deleted", f"/account/tokens/{deleted.public_id}/"),
        ("token-new", "/account/tokens/new/"),
        ("token-edit", f"{base}/edit/"),
        ("token-delete", f"{base}/delete/"),
        ("token-regenerate", f"{base}/regenerate/"),
        ("api-reference", "/docs/api/"),
    ]


PUBLIC_PAGES = [
    ("login", "/account/login/"),
    ("signup", "/account/signup/"),
    ("password-reset", "/account/password-reset/"),
    ("api-reference-public", "/docs/api/"),
]


def admin_pages(token: APIToken) -> list[tuple[str, str]]:
    """(name, path) of the admin index, each changelist, a change page and the dashboard."""
    return [
        ("admin-index", "/admin/"),
        ("admin-users", "/admin/accounts/user/"),
        ("admin-groups", "/admin/auth/group/"),
        ("admin-tokens", "/admin/apitokens/apitoken/"),
        ("admin-activity", "/admin/apitokens/tokenactivity/"),
        ("admin-events", "/admin/apitokens/securityevent/"),
        ("admin-token", f"/admin/apitokens/apitoken/{token.pk}/change/"),
        ("admin-user", f"/admin/accounts/user/{token.owner_id}/change/"),
        ("admin-dashboard", "/admin/apitokens/tokenactivity/dashboard/"),
    ]


@pytest.mark.parametrize("width", [1280, 1201, 1024, 901, 800])
def test_api_tokens_page_with_demo_data_fits_without_sideways_scrolling(
    page, login, user, width, screenshot
):
    demo_data_seed(user=user)
    page.set_viewport_size({"width": width, "height": 900})
    login(page, user)
    page.goto("/account/tokens/")
    assert (
        page.get_by_role("button", name="Delete").first.is_visible()
        or page.get_by_role("link", name="Delete").first.is_visible()
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.evaluate(OVERFLOWING_TABLES) == []
    delete = page.locator(".token-table td.actions").first.bounding_box()
    assert delete["x"] + delete["width"] <= width
    screenshot(page, f"layout-tokens-demo-{width}")


def test_a_long_button_label_wraps_inside_its_card_on_a_phone(page, login, user):
    # "Set up two-factor authentication" ran past the Security card's right edge at 375 px
    # (the page itself did not overflow, so the width check above missed it).
    page.set_viewport_size({"width": 375, "height": 800})
    login(page, user)
    page.goto("/account/security/")
    button = page.get_by_role("link", name="Set up two-factor authentication").bounding_box()
    card = page.locator(".card", has_text="Two-factor authentication").bounding_box()
    assert button["x"] + button["width"] <= card["x"] + card["width"] - 8


@pytest.mark.parametrize("width", [320, 375])
def test_the_settings_menu_shows_all_four_links_on_a_phone(page, login, user, width, screenshot):
    # At 375 px "Webhooks" was cut off: the menu scrolled sideways to reach it.
    page.set_viewport_size({"width": width, "height": 800})
    login(page, user)
    page.goto("/account/tokens/")
    menu = page.locator("nav.settings-nav")
    screenshot(page, f"settings-menu-{width}", full_page=False)
    assert menu.get_by_role("link").count() == 4
    assert menu.evaluate("nav => nav.scrollWidth <= nav.clientWidth + 1")
    webhooks = menu.get_by_role("link", name="Webhooks").bounding_box()
    box = menu.bounding_box()
    assert webhooks["x"] + webhooks["width"] <= box["x"] + box["width"] + 1


@pytest.mark.parametrize("width", [1024, 1280])
def test_admin_dashboard_tables_show_every_column(page, login, width, db):
    # At 1280 px the top-tokens table ran past its half of the page and cut its Requests
    # column off, at 1024 the suspicious events lost IP and Count (their boxes scroll, so
    # the page-width check above could not see it).
    owner = UserFactory(email="layout-admin-owner@example.com")
    demo_data_seed(user=owner)
    staff = UserFactory(email="layout-root@example.com", is_staff=True, is_superuser=True)
    page.set_viewport_size({"width": width, "height": 900})
    login(page, staff)
    page.goto("/admin/apitokens/tokenactivity/dashboard/")
    boxes = page.locator(".audit-dashboard .module:has(table)")
    assert boxes.count() == 3
    for index in range(3):
        assert boxes.nth(index).evaluate("box => box.scrollWidth <= box.clientWidth + 1")
