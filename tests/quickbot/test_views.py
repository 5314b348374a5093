"""Site-wide views and headers (quickbot/views.py): the health check, the CSRF failure page, CSP and
framing, and API errors outside the views."""

from __future__ import annotations

from html.parser import HTMLParser
from http import HTTPStatus
from unittest import mock

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import DatabaseError
from django.test import Client
from django.urls import reverse

from tests.accounts.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


STRONG = "quiet-otter-lantern-42"


LOGIN_URL = reverse("accounts:login")


SIGNUP_URL = reverse("accounts:signup")


SETTINGS_URL = reverse("accounts:settings")


LOGOUT_URL = reverse("accounts:logout")


RESET_URL = reverse("accounts:password_reset")


def is_logged_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def signup_data(**overrides) -> dict:
    return {
        "email": "new@example.com",
        "display_name": "New Person",
        "password1": STRONG,
        "password2": STRONG,
        **overrides,
    }


class TestCsrf:
    @pytest.mark.parametrize(
        ("url", "data"),
        [
            (LOGIN_URL, {"username": "ada@example.com", "password": DEFAULT_PASSWORD}),
            (SIGNUP_URL, signup_data()),
            (LOGOUT_URL, {}),
            (RESET_URL, {"email": "ada@example.com"}),
        ],
    )
    def test_a_form_without_its_csrf_token_gets_a_403_page_that_explains(self, user, url, data):
        client = Client(enforce_csrf_checks=True)

        response = client.post(url, data)

        assert response.status_code == HTTPStatus.FORBIDDEN
        content = response.content.decode()
        assert "This form has expired" in content
        assert "reload the page and try again" in content
        assert not is_logged_in(client)

    def test_logout_without_csrf_token_keeps_the_session(self, user):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)

        response = client.post(LOGOUT_URL)

        assert response.status_code == HTTPStatus.FORBIDDEN
        assert is_logged_in(client)

    def test_profile_change_without_csrf_token_changes_nothing(self, user):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)

        response = client.post(SETTINGS_URL, {"display_name": "Hijacked"})

        assert response.status_code == HTTPStatus.FORBIDDEN
        user.refresh_from_db()
        assert user.display_name == "Ada Lovelace"


class TestHealthz:
    def test_answers_200_json_without_a_session_cookie(self, client):
        response = client.get(reverse("healthz"))

        assert response.status_code == HTTPStatus.OK
        assert response["Content-Type"] == "application/json"
        assert response.json()["status"] == "ok"
        assert "Set-Cookie" not in response.headers
        assert not response.cookies

    def test_answers_503_when_the_database_fails(self, client):
        with mock.patch("quickbot.views.connection") as connection:
            connection.cursor.side_effect = DatabaseError("connection refused")
            response = client.get(reverse("healthz"))

        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert response.json()["checks"]["database"] == "unavailable"

    def test_answers_503_when_the_cache_fails(self, client):
        with mock.patch("quickbot.views.cache") as cache:
            cache.set.side_effect = ConnectionError("redis down")
            response = client.get(reverse("healthz"))

        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert response.json()["checks"]["cache"] == "unavailable"


class ScriptAudit(HTMLParser):
    """Collect inline <script> blocks and on*= event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts: list[str] = []
        self.handlers: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        self.handlers += [f"<{tag} {name}=...>" for name in names if name.startswith("on")]
        self._in_inline_script = tag == "script" and "src" not in names

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data):
        if self._in_inline_script and data.strip():
            self.inline_scripts.append(data.strip()[:80])


ANONYMOUS_PAGES = [
    "accounts:login",
    "accounts:signup",
    "accounts:password_reset",
    "accounts:password_reset_done",
    "accounts:logout",
]


ACCOUNT_PAGES = ["accounts:settings", "accounts:security"]


@pytest.mark.parametrize("name", ANONYMOUS_PAGES + ACCOUNT_PAGES)
def test_pages_have_no_inline_script_or_event_handlers(client, user, name):
    if name in ACCOUNT_PAGES:
        client.force_login(user)

    response = client.get(reverse(name))

    audit = ScriptAudit()
    audit.feed(response.content.decode())
    assert audit.inline_scripts == []
    assert audit.handlers == []


def test_pages_send_a_content_security_policy_that_only_allows_own_scripts(client):
    response = client.get(reverse("accounts:login"))

    policy = response["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]


def test_pages_refuse_to_be_framed(client):
    assert client.get(reverse("accounts:login"))["X-Frame-Options"] == "DENY"


def test_pages_send_a_referrer_policy(client):
    assert client.get(reverse("accounts:login"))["Referrer-Policy"] == "same-origin"


def test_missing_csrf_token_shows_a_403_page_that_explains():
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("accounts:login"), {"username": "a@example.com"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    content = response.content.decode()
    assert "This form has expired" in content
    assert "Nothing was changed." in content


class TestApiErrorsOutsideTheViews:
    """Errors Django raises before or around an API view still answer in the API's JSON
    shape: a script parsing {"error", "detail", "docs"} must never get an HTML page."""

    TOO_MANY_PARAMETERS = "&".join(f"p{index}=1" for index in range(1500))

    @staticmethod
    def assert_api_error(response, status: int, error: str) -> None:
        assert response.status_code == status
        assert response["Content-Type"] == "application/json"
        assert set(response.json()) == {"error", "detail", "docs", "request_id"}
        assert response.json()["error"] == error
        assert response["Cache-Control"] == "no-store"
        assert "Set-Cookie" not in response.headers

    @pytest.mark.parametrize("path", ["/api/v1/me/", "/api/v1/activity/"])
    def test_too_many_query_parameters_is_a_json_400(self, user, path):
        from tests.apitokens.factories import create_token

        _token, raw = create_token(user, "Parameter flood")
        client = Client(raise_request_exception=False)
        response = client.get(
            f"{path}?{self.TOO_MANY_PARAMETERS}", headers={"Authorization": f"Bearer {raw}"}
        )
        self.assert_api_error(response, HTTPStatus.BAD_REQUEST, "invalid_request")

    def test_an_exception_before_the_api_view_is_a_json_500(self, user):
        from tests.apitokens.factories import create_token

        _token, raw = create_token(user, "Crash test")
        client = Client(raise_request_exception=False)
        with mock.patch(
            "apitokens.api.middleware.authenticate_bearer", side_effect=RuntimeError("boom")
        ):
            response = client.get("/api/v1/me/", headers={"Authorization": f"Bearer {raw}"})
        self.assert_api_error(response, HTTPStatus.INTERNAL_SERVER_ERROR, "server_error")
        assert b"boom" not in response.content

    def test_portal_pages_keep_their_html_error_pages(self):
        client = Client(raise_request_exception=False)
        response = client.get(f"/account/login/?{self.TOO_MANY_PARAMETERS}")
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert response["Content-Type"].startswith("text/html")


def test_healthz_answers_head_for_monitors_and_load_balancers(client):
    # `require_GET` refused HEAD with 405, so `curl -I /healthz` and HEAD probes failed.
    response = client.head(reverse("healthz"))
    assert response.status_code == HTTPStatus.OK
    assert response.content == b""
