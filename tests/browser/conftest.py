"""Playwright (sync API) against pytest-django's live server, using Debian's Chromium.

Fixtures: `browser` (one Chromium per session), `page` (fresh 1280x800 context per test),
`phone_page` (375x812), `page_nojs` (JavaScript off), `login` (sign a user in with the login
form's own requests, `login_over_http`; `login_through_ui` fills the form), `logged_in_page`,
and `screenshot` (writes artifacts/screenshots/<name>.png when `QUICKBOT_SCREENSHOTS=1`, as
`make screenshots` and CI set it).

Pages start at the live server: `page.goto("/account/login/")` works. A Content Security
Policy violation reported by Chromium fails the test at teardown.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests
# make around it (factories, assertions) are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.accounts.factories import DEFAULT_PASSWORD  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
DESKTOP_VIEWPORT = {"width": 1280, "height": 800}
PHONE_VIEWPORT = {"width": 375, "height": 812}
DEFAULT_TIMEOUT_MS = 10_000
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CSP_VIOLATION = re.compile(r"Content Security Policy", re.IGNORECASE)


# Debian's packages of the same Chromium: the headless shell (package chromium-headless-shell)
# is what Playwright itself runs for headless tests; the same Blink renders the pages with
# about 40 % less CPU than the full browser (docs/performance.md). The full browser is the
# fallback, or the choice with QUICKBOT_CHROMIUM=/usr/bin/chromium.
HEADLESS_SHELL = "/usr/bin/chromium-headless-shell"
FULL_CHROMIUM = "/usr/bin/chromium"


def chromium_candidate() -> str:
    """Where Chromium should be: $QUICKBOT_CHROMIUM, else Debian's headless shell when it is
    installed, else Debian's /usr/bin/chromium."""
    chosen = os.environ.get("QUICKBOT_CHROMIUM")
    if chosen:
        return chosen
    if os.path.isfile(HEADLESS_SHELL) and os.access(HEADLESS_SHELL, os.X_OK):
        return HEADLESS_SHELL
    return FULL_CHROMIUM


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None if it is not installed there."""
    candidate = chromium_candidate()
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    return shutil.which(candidate)


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One headless Chromium for the whole session. Skips (fails under CI=true) if missing."""
    executable = chromium_path()
    if executable is None:
        reason = (
            f"Chromium not found at {chromium_candidate()} "
            "(install Debian's chromium package or set QUICKBOT_CHROMIUM)"
        )
        if running_in_ci():
            pytest.fail(f"CI=true but browser tests cannot run: {reason}", pytrace=False)
        pytest.skip(reason)

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _wait_for_requests_in_flight(timeout: float = 10.0) -> None:
    """Let the live server finish requests the closed pages left running (a late htmx call),
    so the test database is not flushed under them ("database table is locked" on SQLite)."""
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread.name.endswith("(process_request_thread)"):
            thread.join(max(0.0, deadline - time.monotonic()))


@pytest.fixture
def _browser_contexts() -> Iterator[list]:
    """The test's browser contexts. After the last page fixture is done, every context is
    closed before waiting for the live server: a context still open (a test with `page` and
    `phone_page`) keeps its connections' threads alive, and the wait would last its timeout."""
    contexts: list = []
    yield contexts
    for context in contexts:
        context.close()
    _wait_for_requests_in_flight()


def _open_page(browser, live_server, contexts: list, **context_options) -> Iterator:
    # Reduced motion: no endless "waiting" pulse for Chromium to composite while a test
    # waits (the animations are decoration; their absence is a supported setting).
    context = browser.new_context(
        base_url=live_server.url, reduced_motion="reduce", **context_options
    )
    contexts.append(context)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    csp_violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            csp_violations.append(message.text)
            if message.type == "error" and CSP_VIOLATION.search(message.text)
            else None
        ),
    )
    try:
        yield page
    finally:
        context.close()
    if csp_violations:
        pytest.fail("Content Security Policy violations:\n  " + "\n  ".join(csp_violations))


@pytest.fixture
def page(browser, live_server, _browser_contexts) -> Iterator:
    """A desktop-sized page (1280x800) in a fresh browser context, at the live server."""
    yield from _open_page(browser, live_server, _browser_contexts, viewport=DESKTOP_VIEWPORT)


@pytest.fixture
def phone_page(browser, live_server, _browser_contexts) -> Iterator:
    """A 375x812 touch page, like a small phone."""
    yield from _open_page(
        browser,
        live_server,
        _browser_contexts,
        viewport=PHONE_VIEWPORT,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )


@pytest.fixture
def page_nojs(browser, live_server, _browser_contexts) -> Iterator:
    """A desktop page with JavaScript disabled: forms must still work."""
    yield from _open_page(
        browser,
        live_server,
        _browser_contexts,
        viewport=DESKTOP_VIEWPORT,
        java_script_enabled=False,
    )


def login_through_ui(page, email: str, password: str = DEFAULT_PASSWORD) -> None:
    """Fill the login form and wait until Account settings (or `next`) has loaded."""
    page.goto("/account/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    if "/account/login/" in page.url:
        errors = page.locator(".form-errors, .field-errors").all_inner_texts()
        raise AssertionError(f"Logging in as {email} failed: {errors or page.url}")


CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def login_over_http(page, email: str, password: str = DEFAULT_PASSWORD) -> None:
    """Sign the page's browser context in with the login form's own GET and POST, sent by
    Playwright's request client, which shares the context's cookies and User-Agent: the same
    view, checks, session and security-log event as filling the form, without rendering the
    form and Account settings (two page loads per test). The page stays where it was; the
    form itself is tested through the UI (test_accounts_flow.py, test_two_factor_flow.py)."""
    form = page.request.get("/account/login/")
    token = CSRF_FIELD.search(form.text())
    assert form.ok and token, f"the login form answered {form.status}"
    answer = page.request.post(
        "/account/login/",
        form={"csrfmiddlewaretoken": token.group(1), "username": email, "password": password},
        max_redirects=0,
    )
    location = answer.headers.get("location", "")
    if answer.status != 302 or "/account/login/" in location:
        raise AssertionError(f"Logging in as {email} failed: {answer.status} {location}")


@pytest.fixture
def login() -> Callable[..., None]:
    """`login(page, user_or_email, password=DEFAULT_PASSWORD)` signs the page's context in
    (`login_over_http`); the page stays where it was, so go to a page next."""

    def _login(page, user_or_email, password: str = DEFAULT_PASSWORD) -> None:
        email = getattr(user_or_email, "email", user_or_email)
        login_over_http(page, email, password)

    return _login


@pytest.fixture
def logged_in_page(page, user, password):
    """The `page` fixture with the `user` fixture (ada@example.com) signed in."""
    login_over_http(page, user.email, password)
    return page


def screenshots_wanted() -> bool:
    """Whether browser tests save screenshots: `QUICKBOT_SCREENSHOTS=1` (`make screenshots`,
    CI). Off by default: encoding a hundred PNGs costs `make test` a tenth of its browser time."""
    return os.environ.get("QUICKBOT_SCREENSHOTS", "").strip().lower() in {"1", "true", "yes"}


def save_screenshot(page, name: str, *, full_page: bool = True, **options) -> Path:
    """Write artifacts/screenshots/<name>.png (when screenshots are wanted); its path."""
    path = SCREENSHOT_DIR / f"{name}.png"
    if screenshots_wanted():
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=full_page, **options)
    return path


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """`screenshot(page, name)` writes artifacts/screenshots/<name>.png."""
    return save_screenshot
