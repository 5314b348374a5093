"""Issue #22, faults 7 and part of 10: the token page's actions, its two request counts,
its chart at 375 px, a deleted token's wording, the usage line with nothing used, and the
Edit modal's Save at 1280×900."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from apitokens import services
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.browser

LIST_URL = "/account/tokens/"
NAME = "Nightly billing export"


def dialog(page):
    return page.locator("#modal-root [role='dialog']")


def detail_url(token) -> str:
    return f"{LIST_URL}{token.public_id}/"


def open_page(browser, live_server, width: int, height: int = 900):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": height}
    )
    context.set_default_timeout(20_000)
    return context, context.new_page()


@pytest.mark.parametrize("width", [375, 1280])
def test_token_page_offers_edit_and_regenerate(
    browser, live_server, user, login, screenshot, width
):
    token, _ = create_token(user, NAME)
    context, page = open_page(browser, live_server, width)
    try:
        login(page, user)
        page.goto(detail_url(token))
        summary = page.locator("#token-summary")
        edit = summary.get_by_role("link", name=f"Edit {NAME}")
        regenerate = summary.get_by_role("link", name=f"Regenerate {NAME}")
        delete = summary.get_by_role("link", name=f"Delete {NAME}")
        screenshot(page, f"token-page-actions-{width}")
        # The three actions share one line, inside the card.
        boxes = [edit.bounding_box(), regenerate.bounding_box(), delete.bounding_box()]
        assert len({round(box["y"]) for box in boxes}) == 1
        card = summary.bounding_box()
        assert all(box["x"] + box["width"] <= card["x"] + card["width"] for box in boxes)

        edit.click()
        dialog(page).get_by_label("Token Name").fill("Nightly billing export v2")
        dialog(page).get_by_role("button", name="Save changes").click()
        dialog(page).wait_for(state="detached")
        expect(page.locator("#token-heading")).to_contain_text("Nightly billing export v2")
        expect(page.locator(".breadcrumb")).to_contain_text("Nightly billing export v2")
        # The page refreshes itself in place; the action's message stays (it was blanked).
        expect(page.locator("#messages")).to_contain_text(
            "Token ‘Nightly billing export v2’ updated."
        )

        page.locator("#token-summary").get_by_role("link", name="Regenerate").click()
        dialog(page).get_by_label("After 24 hours").check()
        dialog(page).get_by_role("button", name="Regenerate token").click()
        page.locator("#new-token-value").wait_for()
        dialog(page).get_by_role("link", name="Done").click()
        dialog(page).get_by_role("link", name="Leave without copying").click()
        dialog(page).wait_for(state="detached")
        assert page.url.endswith(detail_url(token))
        expect(page.locator("#security-log")).to_contain_text("Token regenerated")
        expect(page.locator("#token-summary")).to_contain_text("works until")
    finally:
        context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_request_counts_say_why_they_differ(browser, live_server, user, login, screenshot, width):
    token, _ = create_token(user, NAME)
    now = timezone.now()
    for days_ago in range(36):
        add_activity(
            token, count=100 + (days_ago % 4) * 15, at=now - timedelta(days=days_ago, hours=1)
        )
    context, page = open_page(browser, live_server, width)
    try:
        login(page, user)
        page.goto(detail_url(token))
        chart_note = page.locator("[aria-labelledby='usage-chart-heading'] .card-header p")
        expect(chart_note).to_contain_text("in the last 30 days")
        recorded = page.locator("#token-activity .pager")
        first_day = timezone.localdate(now - timedelta(days=35, hours=1))
        expect(recorded).to_contain_text(f"recorded since {first_day.day} {first_day:%b}")
        expect(recorded).to_contain_text(f"kept {settings.QUICKBOT_ACTIVITY_RETENTION_DAYS} days")
        recorded.scroll_into_view_if_needed()
        screenshot(page, f"token-page-counts-{width}", full_page=False)

    finally:
        context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_deleted_token_page_never_says_zero_minutes_ago(
    browser, live_server, user, login, screenshot, width
):
    token, _ = create_token(user, NAME)
    services.api_token_revoke(token=token, actor=user)
    services.api_token_dead_use_record(token=token, client=services.ClientInfo(ip="203.0.113.7"))
    context, page = open_page(browser, live_server, width)
    try:
        login(page, user)
        page.goto(detail_url(token))
        facts = page.locator(".token-facts")
        expect(facts).to_contain_text("Refused since: 1 attempt today, the latest just now")
        assert "0 minutes" not in page.locator("main").inner_text()
        summary = page.locator("#token-summary")
        assert (
            summary.get_by_role("link", name=re.compile("^(Edit|Regenerate|Delete) ")).count() == 0
        )
        screenshot(page, f"token-page-deleted-{width}")
    finally:
        context.close()


@pytest.mark.parametrize("width", [375, 768, 1024, 1280])
def test_usage_line_names_no_reset_time_when_nothing_was_used(
    browser, live_server, user, login, screenshot, width
):
    create_token(user, NAME)
    context, page = open_page(browser, live_server, width)
    try:
        login(page, user)
        page.goto(LIST_URL)
        usage = page.locator("section.usage")
        expect(usage).to_contain_text("Nothing used this hour")
        assert "resets at" not in usage.inner_text()
        # Still one line beside its bar at 768 px and wider.
        if width >= 768:
            text = usage.locator("p").bounding_box()
            line = usage.locator("p").evaluate("el => parseFloat(getComputedStyle(el).lineHeight)")
            assert text["height"] < line * 1.5
        screenshot(page, f"usage-nothing-used-{width}", full_page=False)
    finally:
        context.close()


def test_edit_modal_save_is_reachable_at_1280_by_900(browser, live_server, user, login, screenshot):
    token, _ = create_token(user, NAME)
    context, page = open_page(browser, live_server, 1280, 900)
    try:
        login(page, user)
        page.goto(LIST_URL)
        page.locator(f"#edit-{token.public_id}").click()
        # A long allowlist with a mistake on every line: the form grows past the window.
        entries = "\n".join(f"10.0.{index}.5/24" for index in range(12))
        dialog(page).get_by_label("IP allowlist").fill(entries)
        dialog(page).get_by_role("button", name="Save changes").click()
        dialog(page).locator(".field-errors").first.wait_for()
        save = dialog(page).get_by_role("button", name="Save changes")
        modal = dialog(page).bounding_box()
        box = save.bounding_box()
        # Without scrolling anything, Save is on screen, inside the modal, and uncovered.
        assert box["y"] >= modal["y"]
        assert box["y"] + box["height"] <= min(900, modal["y"] + modal["height"]) + 0.5, (
            "Save is below the bottom of the window or of the modal"
        )
        hit = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y)?.textContent.trim()",
            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
        )
        assert hit == "Save changes"
        screenshot(page, "edit-modal-1280x900", full_page=False)
    finally:
        context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_chart_labels_fit_and_do_not_collide(browser, live_server, user, login, screenshot, width):
    token, _ = create_token(user, NAME)
    now = timezone.now()
    for days_ago in range(30):
        add_activity(token, count=100 + (days_ago % 4) * 15, at=now - timedelta(days=days_ago))
    context, page = open_page(browser, live_server, width)
    try:
        login(page, user)
        page.goto(detail_url(token))
        chart = page.locator("svg.chart-bars")
        chart.scroll_into_view_if_needed()
        screenshot(page, f"token-page-chart-{width}", full_page=False)
        svg = chart.bounding_box()
        labels = chart.locator("text.chart-axis-label")
        # Hidden (minor) labels have no box.
        boxes = [labels.nth(index).bounding_box() for index in range(labels.count())]
        boxes = [box for box in boxes if box]
        for box in boxes:
            assert box["x"] >= svg["x"] - 0.5, "an axis label is cut off on the left"
            assert box["x"] + box["width"] <= svg["x"] + svg["width"] + 0.5
        date_boxes = sorted(
            (box for box in boxes if box["y"] > svg["y"] + svg["height"] * 0.8),
            key=lambda box: box["x"],
        )
        assert len(date_boxes) >= 3
        for left, right in zip(date_boxes, date_boxes[1:], strict=False):
            assert left["x"] + left["width"] + 4 <= right["x"], "two date labels collide"
    finally:
        context.close()
