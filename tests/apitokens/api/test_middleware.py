from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core.exceptions import PermissionDenied
from django.db import OperationalError, connection
from django.http import Http404, JsonResponse
from django.test import Client, RequestFactory
from django.urls import include, path
from django.utils import timezone

from apitokens import services, tokens
from apitokens.api.decorators import token_required
from apitokens.api.middleware import ApiTokenMiddleware
from apitokens.models import APIToken, TokenActivity
from tests.apitokens.factories import create_token

REALM = 'Bearer realm="QuickBot API"'
ME = "/api/v1/me/"


@token_required
def _boom(request):
    raise RuntimeError("kaboom")


@token_required
def _missing(request):
    raise Http404("no such thing")


@token_required
def _forbidden(request):
    raise PermissionDenied


urlpatterns = [
    path("boom/", _boom),
    path("api/v1/missing/", _missing),
    path("api/v1/forbidden/", _forbidden),
    path("", include("quickbot.urls")),
]
handler403 = "quickbot.views.permission_denied"
handler404 = "quickbot.views.page_not_found"


@pytest.fixture(autouse=True)
def _unbuffered_activity(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


@pytest.fixture
def token_and_raw(user):
    return create_token(user, "Nightly export", scopes=("read", "write"))


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def challenge(error: str, description: str) -> str:
    return f'{REALM}, error="{error}", error_description="{description}"'


def assert_error_shape(response, status: int, error: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "detail", "docs"}
    assert body["error"] == error
    assert body["docs"] == "/docs/api/#errors"
    return body


@pytest.mark.django_db
def test_valid_token_authenticates_as_owner(client, user, token_and_raw):
    token, raw = token_and_raw
    response = client.get(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.OK
    assert response.json()["account"]["email"] == user.email
    assert response.json()["token"]["id"] == token.public_id


@pytest.mark.django_db
def test_no_credentials_is_401_with_bare_challenge(client):
    response = client.get(ME)
    assert_error_shape(response, HTTPStatus.UNAUTHORIZED, "missing_token")
    assert response["WWW-Authenticate"] == REALM


@pytest.mark.django_db
def test_session_cookie_alone_never_authenticates_api(user_client):
    response = user_client.get(ME)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == REALM


@pytest.mark.django_db
def test_api_response_sets_no_cookie_and_leaves_session_alone(user_client, token_and_raw):
    _, raw = token_and_raw
    session_key = user_client.session.session_key
    response = user_client.get(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.OK
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
    assert user_client.session.session_key == session_key


@pytest.mark.django_db
def test_bearer_token_does_not_open_portal_pages(client, token_and_raw):
    _, raw = token_and_raw
    response = client.get("/account/", headers=bearer(raw))
    # Anonymous for the portal: redirected to the login page, never served.
    assert response.status_code == HTTPStatus.FOUND
    assert "/login" in response["Location"]
    response = client.get("/admin/", headers=bearer(raw))
    assert response.status_code == HTTPStatus.FOUND
    assert "login" in response["Location"]


@pytest.mark.django_db
def test_bearer_token_cannot_create_tokens_through_portal(client, user, token_and_raw):
    _, raw = token_and_raw
    before = APIToken.objects.count()
    token = APIToken.objects.get()
    client.post("/account/tokens/new/", {"name": "Stolen", "scopes": ["read"]}, headers=bearer(raw))
    client.post(f"/account/tokens/{token.public_id}/delete/", headers=bearer(raw))
    assert APIToken.objects.count() == before
    assert APIToken.objects.active().count() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer   ",
        "Bearer one two",
        "Bearer qb_abc!def",
        "Bearer qb_\x01abc",
        "Bearer qb_é",
        "Bearer " + "a" * 1100,
    ],
)
def test_malformed_header_is_400_invalid_request_without_reflection(client, header):
    response = client.get(ME, headers={"Authorization": header})
    body = assert_error_shape(response, HTTPStatus.BAD_REQUEST, "invalid_request")
    assert response["WWW-Authenticate"].startswith(f'{REALM}, error="invalid_request"')
    presented = header[len("Bearer") :].strip()
    if presented:
        assert presented not in body["detail"]
        assert presented not in response["WWW-Authenticate"]


@pytest.mark.django_db
def test_two_authorization_headers_are_400(client, token_and_raw):
    _, raw = token_and_raw
    # WSGI servers join repeated headers with a comma.
    response = client.get(ME, headers={"Authorization": f"Bearer {raw}, Bearer {raw}"})
    assert_error_shape(response, HTTPStatus.BAD_REQUEST, "invalid_request")


@pytest.mark.django_db
@pytest.mark.parametrize("scheme", ["Basic dXNlcjpwYXNz", "Token abc", "Digest x"])
def test_other_scheme_is_401_naming_the_right_format(client, scheme):
    response = client.get(ME, headers={"Authorization": scheme})
    body = assert_error_shape(response, HTTPStatus.UNAUTHORIZED, "unsupported_scheme")
    assert response["WWW-Authenticate"] == REALM
    assert "Authorization: Bearer <token>" in body["detail"]


@pytest.mark.django_db
def test_scheme_is_case_insensitive_and_whitespace_tolerated(client, token_and_raw):
    _, raw = token_and_raw
    response = client.get(ME, headers={"Authorization": f"  bEaReR \t {raw}  "})
    assert response.status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_wrong_checksum_is_401_with_zero_queries(client, token_and_raw, django_assert_num_queries):
    _, raw = token_and_raw
    mistyped = raw[:10] + ("A" if raw[10] != "A" else "B") + raw[11:]
    with django_assert_num_queries(0):
        response = client.get(ME, headers=bearer(mistyped))
    body = assert_error_shape(response, HTTPStatus.UNAUTHORIZED, "invalid_token")
    assert "mistyped" in body["detail"]
    assert response["WWW-Authenticate"] == challenge("invalid_token", body["detail"])


@pytest.mark.django_db
def test_truncated_token_is_401_incomplete_with_zero_queries(
    client, token_and_raw, django_assert_num_queries
):
    _, raw = token_and_raw
    with django_assert_num_queries(0):
        response = client.get(ME, headers=bearer(raw[:-3]))
    body = assert_error_shape(response, HTTPStatus.UNAUTHORIZED, "invalid_token")
    assert "not a complete QuickBot token" in body["detail"]


@pytest.mark.django_db
def test_unknown_token_is_401_unknown(client):
    response = client.get(ME, headers=bearer(tokens.generate_token()))
    body = assert_error_shape(response, HTTPStatus.UNAUTHORIZED, "invalid_token")
    assert "unknown" in body["detail"]
    assert response["WWW-Authenticate"] == challenge("invalid_token", body["detail"])


@pytest.mark.django_db
def test_deleted_token_is_401_deleted_and_recorded_flagged(client, user, token_and_raw):
    token, raw = token_and_raw
    services.api_token_revoke(token=token, actor=user)
    response = client.get(ME, headers=bearer(raw))
    body = assert_error_shape(response, HTTPStatus.UNAUTHORIZED, "invalid_token")
    assert body["detail"].startswith("This token has been deleted.")
    assert response["WWW-Authenticate"] == challenge("invalid_token", body["detail"])
    row = TokenActivity.objects.get()
    assert row.flagged
    assert row.status == HTTPStatus.UNAUTHORIZED
    assert row.token == token


@pytest.mark.django_db
def test_expired_token_is_401_saying_when(client, user):
    expired_at = timezone.now() - timedelta(days=1)
    token, raw = create_token(user, expires_at=expired_at)
    response = client.get(ME, headers=bearer(raw))
    body = assert_error_shape(response, HTTPStatus.UNAUTHORIZED, "invalid_token")
    assert body["detail"] == f"This token expired on {expired_at:%Y-%m-%d %H:%M:%S} UTC."
    assert TokenActivity.objects.get().flagged


@pytest.mark.django_db
def test_token_expiring_exactly_now_is_refused(client, user, monkeypatch):
    moment = timezone.now() + timedelta(days=1)
    _, raw = create_token(user, expires_at=moment)
    monkeypatch.setattr("apitokens.api.auth.clock", lambda: moment)
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.UNAUTHORIZED
    monkeypatch.setattr("apitokens.api.auth.clock", lambda: moment - timedelta(microseconds=1))
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_dead_token_use_is_reported_to_the_audit_service(client, user, token_and_raw, monkeypatch):
    token, raw = token_and_raw
    services.api_token_revoke(token=token, actor=user)
    calls = []
    monkeypatch.setattr(
        services, "api_token_dead_use_record", lambda **kwargs: calls.append(kwargs)
    )
    client.get(ME, headers={**bearer(raw), "User-Agent": "cron/1.0"})
    assert len(calls) == 1
    assert calls[0]["token"].pk == token.pk
    assert calls[0]["client"].user_agent == "cron/1.0"
    assert calls[0]["used_previous_value"] is False


@pytest.mark.django_db
def test_dead_token_use_lands_in_the_security_log(client, user, token_and_raw):
    from apitokens.models import SecurityEvent

    token, raw = token_and_raw
    services.api_token_revoke(token=token, actor=user)
    client.get(ME, headers=bearer(raw))
    client.get(ME, headers=bearer(raw))
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.DELETED_TOKEN_USED)
    assert event.token == token
    assert event.count == 2


@pytest.mark.django_db
def test_successful_response_carries_expiration_header(client, user):
    expires = timezone.now().replace(microsecond=0) + timedelta(days=30)
    _, raw = create_token(user, expires_at=expires)
    response = client.get(ME, headers=bearer(raw))
    assert response["QuickBot-Token-Expiration"] == f"{expires:%Y-%m-%d %H:%M:%S} UTC"


@pytest.mark.django_db
def test_no_expiration_header_for_token_without_expiry(client, token_and_raw):
    _, raw = token_and_raw
    assert "QuickBot-Token-Expiration" not in client.get(ME, headers=bearer(raw))


@pytest.mark.django_db
def test_revoked_token_is_rejected_on_next_request(client, user_client, token_and_raw):
    token, raw = token_and_raw
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.OK
    # Deleted in the UI (Delete, then confirm): the very next API request is refused.
    response = user_client.post(f"/account/tokens/{token.public_id}/delete/")
    assert response.status_code in (HTTPStatus.OK, HTTPStatus.FOUND)
    response = client.get(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["detail"].startswith("This token has been deleted.")


@pytest.mark.django_db
def test_deactivated_account_stops_all_its_tokens(client, user, token_and_raw):
    _, raw = token_and_raw
    _, second_raw = create_token(user, "Second")
    user.is_active = False
    user.save(update_fields=["is_active"])
    for value in (raw, second_raw):
        response = client.get(ME, headers=bearer(value))
        body = assert_error_shape(response, HTTPStatus.UNAUTHORIZED, "invalid_token")
        assert "deactivated" in body["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["access_token", "token"])
def test_token_in_query_string_is_400_and_not_logged(client, token_and_raw, name, caplog):
    _, raw = token_and_raw
    response = client.get(f"{ME}?{name}={raw}")
    body = assert_error_shape(response, HTTPStatus.BAD_REQUEST, "invalid_request")
    assert "Authorization" in body["detail"]
    assert raw not in caplog.text
    assert raw not in response.content.decode()


@pytest.mark.django_db
def test_database_unreachable_during_lookup_is_503_json(client, token_and_raw):
    _, raw = token_and_raw

    def refuse(execute, sql, params, many, context):
        raise OperationalError("could not connect to server")

    with connection.execute_wrapper(refuse):
        response = client.get(ME, headers=bearer(raw))
    assert_error_shape(response, HTTPStatus.SERVICE_UNAVAILABLE, "service_unavailable")
    assert response["Retry-After"]


@pytest.mark.django_db
def test_unknown_api_path_is_json_404(client):
    for url in ("/api/nothing/", "/api/v1/me", "/api/v2/me/"):
        response = client.get(url)
        assert_error_shape(response, HTTPStatus.NOT_FOUND, "not_found")
    response = client.post("/api/v1/nothing/", {"x": "1"})
    assert_error_shape(response, HTTPStatus.NOT_FOUND, "not_found")


@pytest.mark.django_db
def test_wrong_method_is_json_405_with_allow(client, token_and_raw):
    _, raw = token_and_raw
    response = client.post(ME, headers=bearer(raw))
    assert_error_shape(response, HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed")
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.django_db
@pytest.mark.urls("tests.apitokens.api.test_middleware")
def test_unhandled_error_in_api_view_is_json_500(token_and_raw):
    _, raw = token_and_raw
    client = Client(raise_request_exception=False)
    response = client.get("/boom/", headers=bearer(raw))
    assert_error_shape(response, HTTPStatus.INTERNAL_SERVER_ERROR, "server_error")


@pytest.mark.django_db
def test_stale_instance_bookkeeping_never_resurrects_deleted_token(user):
    """A token deleted while its request is in flight stays deleted."""
    token, raw = create_token(user, scopes=("read",))

    @token_required
    def view_that_races(request):
        services.api_token_revoke(token=APIToken.objects.get(pk=token.pk), actor=user)
        return JsonResponse({})

    def get_response(request):
        return middleware.process_view(request, view_that_races, (), {}) or view_that_races(request)

    middleware = ApiTokenMiddleware(get_response)
    response = middleware(RequestFactory().get(ME, headers=bearer(raw)))
    assert response.status_code == HTTPStatus.OK
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.last_used_at is None
    assert TokenActivity.objects.filter(token=token).count() == 1


_SEED_SCRIPT = """
import django
django.setup()
from accounts.models import User
from apitokens import services
user = User.objects.create_user("two-processes@example.com", "x" * 12)
_, raw = services.api_token_create(user=user, name="Two processes")
print(raw)
"""
_REVOKE_SCRIPT = """
import django
django.setup()
from apitokens import services
from apitokens.models import APIToken
token = APIToken.objects.get(name="Two processes")
services.api_token_revoke(token=token, actor=token.owner)
"""


@pytest.mark.multiprocess
def test_revocation_stops_the_token_in_every_worker_process(tmp_path):
    """Two gunicorn workers serve the token; another process deletes it; no worker
    accepts it afterwards (there is no per-process token cache to outlive a revoke)."""
    import http.client
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="quickbot.settings",
        LOCAL_RUN="1",
        SQLITE_PATH=str(tmp_path / "two.sqlite3"),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        QUICKBOT_ACTIVITY_BUFFER_SIZE="0",
    )
    run = {"cwd": root, "env": env, "capture_output": True, "text": True, "timeout": 120}
    assert (
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], **run).returncode == 0
    )
    seeded = subprocess.run([sys.executable, "-c", _SEED_SCRIPT], **run)
    raw = seeded.stdout.strip().splitlines()[-1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "quickbot.wsgi:application",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=root,
        env=env,
    )

    def call() -> int:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", ME, headers={"Authorization": f"Bearer {raw}"})
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if call() == HTTPStatus.OK:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        assert all(call() == HTTPStatus.OK for _ in range(20))  # both workers warm
        assert subprocess.run([sys.executable, "-c", _REVOKE_SCRIPT], **run).returncode == 0
        assert {call() for _ in range(20)} == {HTTPStatus.UNAUTHORIZED}
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.django_db
@pytest.mark.urls("tests.apitokens.api.test_middleware")
@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/api/v1/missing/", HTTPStatus.NOT_FOUND, "not_found"),
        ("/api/v1/forbidden/", HTTPStatus.FORBIDDEN, "forbidden"),
    ],
)
def test_client_errors_raised_in_api_views_keep_their_status_as_json(
    token_and_raw, path, status, error
):
    _, raw = token_and_raw
    client = Client(raise_request_exception=False)
    response = client.get(path, headers=bearer(raw))
    assert_error_shape(response, status, error)
