"""Account settings > Webhooks fits every width with a long URL, a failing endpoint and its
deliveries. Screenshots: artifacts/screenshots/webhooks-<width>.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apitokens.models import WebhookDelivery
from tests.apitokens.webhooks.conftest import make_endpoint
from tests.browser.checks import WIDTHS, check_layout

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", WIDTHS)
def test_the_webhooks_page_fits_every_width(page, login, user, width, screenshot):
    endpoint = make_endpoint(
        owner=user,
        url="https://hooks.example-company-with-a-long-name.com/quickbot/webhooks/"
        "receiver-endpoint-for-token-events?team=platform-security",
        event_types=("token.created", "token.deleted", "token.reported_leaked"),
        description="Security alerts",
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        message_id="msg_browser",
        event_type="token.reported_leaked",
        body="{}",
        status=WebhookDelivery.Status.RETRYING,
        attempts=3,
        status_code=503,
        response_ms=1234,
        error="Answered 503.",
    )
    page.set_viewport_size({"width": width, "height": 900})
    login(page, user)
    page.goto("/account/webhooks/")
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    expect(page.locator("#webhook-deliveries")).to_contain_text("HTTP 503")
    screenshot(page, f"webhooks-{width}")
    assert check_layout(page, "webhooks", width) == []
