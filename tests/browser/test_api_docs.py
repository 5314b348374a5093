from __future__ import annotations

import pytest

from tests.browser.conftest import save_screenshot

pytestmark = pytest.mark.browser


@pytest.mark.django_db(transaction=True)
def test_api_reference_reads_well_and_its_contents_navigate(page):
    page.goto("/docs/api/")
    assert page.title().startswith("API Reference")
    page.get_by_role("link", name="Troubleshooting").click()
    assert page.url.endswith("#troubleshooting")
    assert page.locator("#troubleshooting").is_visible()
    save_screenshot(page, "api-docs-desktop", full_page=False)
    page.goto("/docs/api/")
    save_screenshot(page, "api-docs-full")


@pytest.mark.django_db(transaction=True)
def test_api_reference_on_a_phone(phone_page):
    phone_page.goto("/docs/api/")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375 + 1  # code blocks scroll inside themselves, the page does not
    save_screenshot(phone_page, "api-docs-phone", full_page=False)
