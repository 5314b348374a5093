"""What the API decides about a request's credentials (apitokens/api/auth.py): the Authorization
header, unknown, deleted and expired tokens, tokens in a URL (refused and deleted), the IP
allowlist, and the database or counters being down."""

from __future__ import annotations

import json
from datetime import timedelta
from http import HTTPStatus
from urllib.parse import quote

import pytest
from django.core import mail
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apitokens import services, tokens
from apitokens.api import errors, limits
from apitokens.models import APIToken, SecurityEvent, TokenActivity
from tests.apitokens.factories import create_token
from tests.request_ids import body_without_request_id, comparable

ME = "/api/v1/me/"


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def _inline(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


@pytest.mark.usefixtures("_inline")
@pytest.mark.django_db(transaction=True)  # real commits: the owner's email goes on commit
def test_old_value_after_an_immediate_regenerate_is_reported_like_a_dead_token(client, user):
    token, old_raw = create_token(user)
    services.api_token_regenerate(token=token, actor=user, overlap=timedelta(0))
    mail.outbox.clear()
    response = client.get(ME, headers=bearer(old_raw))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "replaced when the token was regenerated" in response.json()["detail"]
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.EXPIRED_TOKEN_USED)
    assert event.token_id == token.pk
    assert TokenActivity.objects.get().flagged
    assert len(mail.outbox) == 1 and user.email in mail.outbox[0].to
    client.get(ME, headers=bearer(old_raw))
    assert len(mail.outbox) == 1  # at most one email a day
    client.force_login(user)
    page = client.get("/account/tokens/").content.decode()
    assert "Someone still has it" in page  # the dead-token banner of the API Tokens page
    assert f"token ‘{token.name}’ was used 2 times" in page


@pytest.mark.django_db
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=1200))
def test_any_header_through_the_api_is_never_a_500(client, raw: bytes):
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=raw.decode("latin-1"))
    assert response.status_code in {
        HTTPStatus.BAD_REQUEST,
        HTTPStatus.UNAUTHORIZED,
        HTTPStatus.TOO_MANY_REQUESTS,
    }
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"error", "detail", "docs", "request_id"}


BROKEN_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_cache_down_fails_closed_when_configured(client, user, settings, monkeypatch):
    _, raw = create_token(user)
    settings.QUICKBOT_RATELIMIT_FAIL_CLOSED = True
    settings.CACHES = BROKEN_CACHE
    response = client.get(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["error"] == "service_unavailable"
    assert response["Retry-After"]


REALM = 'Bearer realm="QuickBot API"'


def challenge(error: str, description: str) -> str:
    return f'{REALM}, error="{error}", error_description="{description}"'


def assert_error_shape(response, status: int, error: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "detail", "docs", "request_id"}
    assert body["error"] == error
    assert body["docs"] == "/docs/api/#errors"
    return body


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_no_credentials_is_401_with_bare_challenge(client):
    response = client.get(ME)
    assert_error_shape(response, HTTPStatus.UNAUTHORIZED, "missing_token")
    assert response["WWW-Authenticate"] == REALM


@pytest.mark.usefixtures("_unbuffered_activity")
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


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_two_authorization_headers_are_400(client, token_and_raw):
    _, raw = token_and_raw
    # WSGI servers join repeated headers with a comma.
    response = client.get(ME, headers={"Authorization": f"Bearer {raw}, Bearer {raw}"})
    assert_error_shape(response, HTTPStatus.BAD_REQUEST, "invalid_request")


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
@pytest.mark.parametrize("scheme", ["Basic dXNlcjpwYXNz", "Token abc", "Digest x"])
def test_other_scheme_is_401_naming_the_right_format(client, scheme):
    response = client.get(ME, headers={"Authorization": scheme})
    body = assert_error_shape(response, HTTPStatus.UNAUTHORIZED, "unsupported_scheme")
    assert response["WWW-Authenticate"] == REALM
    assert "Authorization: Bearer <token>" in body["detail"]


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_scheme_is_case_insensitive_and_whitespace_tolerated(client, token_and_raw):
    _, raw = token_and_raw
    response = client.get(ME, headers={"Authorization": f"  bEaReR \t {raw}  "})
    assert response.status_code == HTTPStatus.OK


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_wrong_checksum_is_401_with_zero_queries(client, token_and_raw, django_assert_num_queries):
    _, raw = token_and_raw
    mistyped = raw[:10] + ("A" if raw[10] != "A" else "B") + raw[11:]
    with django_assert_num_queries(0):
        response = client.get(ME, headers=bearer(mistyped))
    body = assert_error_shape(response, HTTPStatus.UNAUTHORIZED, "invalid_token")
    assert "mistyped" in body["detail"]
    assert response["WWW-Authenticate"] == challenge("invalid_token", body["detail"])


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_truncated_token_is_401_incomplete_with_zero_queries(
    client, token_and_raw, django_assert_num_queries
):
    _, raw = token_and_raw
    with django_assert_num_queries(0):
        response = client.get(ME, headers=bearer(raw[:-3]))
    body = assert_error_shape(response, HTTPStatus.UNAUTHORIZED, "invalid_token")
    assert "not a complete QuickBot token" in body["detail"]


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_unknown_token_is_401_unknown(client):
    response = client.get(ME, headers=bearer(tokens.generate_token()))
    body = assert_error_shape(response, HTTPStatus.UNAUTHORIZED, "invalid_token")
    assert "unknown" in body["detail"]
    assert response["WWW-Authenticate"] == challenge("invalid_token", body["detail"])


@pytest.mark.usefixtures("_unbuffered_activity")
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


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_expired_token_is_401_saying_when(client, user):
    expired_at = timezone.now() - timedelta(days=1)
    token, raw = create_token(user, expires_at=expired_at)
    response = client.get(ME, headers=bearer(raw))
    body = assert_error_shape(response, HTTPStatus.UNAUTHORIZED, "invalid_token")
    assert body["detail"] == f"This token expired on {expired_at:%Y-%m-%d %H:%M:%S} UTC."
    assert TokenActivity.objects.get().flagged


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_token_expiring_exactly_now_is_refused(client, user, monkeypatch):
    moment = timezone.now() + timedelta(days=1)
    _, raw = create_token(user, expires_at=moment)
    monkeypatch.setattr("apitokens.api.auth.clock", lambda: moment)
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.UNAUTHORIZED
    monkeypatch.setattr("apitokens.api.auth.clock", lambda: moment - timedelta(microseconds=1))
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.OK


@pytest.mark.usefixtures("_unbuffered_activity")
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


@pytest.mark.usefixtures("_unbuffered_activity")
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


@pytest.mark.usefixtures("_unbuffered_activity")
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


@pytest.mark.usefixtures("_unbuffered_activity")
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


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
@pytest.mark.parametrize("name", ["access_token", "token"])
def test_token_in_query_string_is_400_and_not_logged(client, token_and_raw, name, caplog):
    _, raw = token_and_raw
    response = client.get(f"{ME}?{name}={raw}")
    body = assert_error_shape(response, HTTPStatus.BAD_REQUEST, "invalid_request")
    assert "Authorization" in body["detail"]
    assert raw not in caplog.text
    assert raw not in response.content.decode()


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_database_unreachable_during_lookup_is_503_json(client, token_and_raw):
    _, raw = token_and_raw

    def refuse(execute, sql, params, many, context):
        raise OperationalError("could not connect to server")

    with connection.execute_wrapper(refuse):
        response = client.get(ME, headers=bearer(raw))
    assert_error_shape(response, HTTPStatus.SERVICE_UNAVAILABLE, "service_unavailable")
    assert response["Retry-After"]


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


@pytest.mark.usefixtures("_unbuffered_activity")
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


def percent_encoded(value: str) -> str:
    """Every character written as %XX, as an over-eager client library might."""
    return "".join(f"%{ord(character):02X}" for character in value)


def _bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def assert_refused_as_token_in_url(response) -> None:
    expected = errors.token_in_url()
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert body_without_request_id(response) == body_without_request_id(expected)
    assert response["WWW-Authenticate"] == expected["WWW-Authenticate"]
    assert response["Cache-Control"] == "no-store"


def assert_deleted_as_sent_in_url(token: APIToken) -> None:
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoked_reason == APIToken.RevokedBy.URL


# (method, URL with "{raw}" for the live value); no Authorization header.
URLS_WITHOUT_HEADER = [
    pytest.param("get", "/api/v1/me?access_token={raw}", id="no-trailing-slash"),
    pytest.param("get", "/api/v1/nothing-here/?access_token={raw}", id="unknown-path"),
    pytest.param("get", "/api/nothing?access_token={raw}", id="unknown-path-no-slash"),
    pytest.param("get", "/api/v1/openapi.json?access_token={raw}", id="public-document"),
    pytest.param("post", "/api/v1/credentials/revoke?access_token={raw}", id="post-public"),
    pytest.param("post", "/api/v1/credentials/revoke/?access_token={raw}", id="post-slash"),
    pytest.param("get", "/api?access_token={raw}", id="api-root-no-slash"),
    pytest.param("get", "/api/?access_token={raw}", id="api-root"),
    pytest.param("get", "/API/v1/me/?access_token={raw}", id="path-other-case"),
    pytest.param("get", ME + "?Access_Token={raw}", id="name-other-case"),
    pytest.param("get", ME + "?ACCESS_TOKEN={raw}", id="name-upper-case"),
    pytest.param("get", ME + "?api_key={raw}", id="any-name"),
    pytest.param("get", ME + "?Token={raw}", id="token-other-case"),
    pytest.param("get", ME + "?{raw}", id="in-the-key-alone"),
    pytest.param("get", ME + "?{raw}=1", id="in-the-key"),
    pytest.param("get", ME + "?x=Bearer%20{raw}", id="inside-a-longer-value"),
    pytest.param("get", ME + "?x=abc{raw}def", id="glued-to-other-characters"),
    pytest.param("get", ME + "?limit=5&x=1&x={raw}", id="repeated-parameter"),
    pytest.param("get", ME + "?access_token={encoded}", id="percent-encoded-value"),
    pytest.param("get", ME + "?%61ccess_token={raw}", id="percent-encoded-name"),
    pytest.param("get", ME + "?{encoded}", id="percent-encoded-key"),
    pytest.param("get", "/api/v1/{raw}/", id="in-the-path"),
    pytest.param("get", "/api/v1/tokens/{raw}", id="in-the-path-no-slash"),
    pytest.param("delete", "/api/v1/tokens/current/?access_token={raw}", id="delete"),
    pytest.param("head", ME + "?access_token={raw}", id="head"),
    pytest.param("put", "/api/v1/nothing/?x={raw}", id="put-unknown-path"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url"), URLS_WITHOUT_HEADER)
def test_a_live_token_anywhere_in_an_api_url_is_refused_and_deleted(client, user, method, url):
    token, raw = create_token(user, "Cron job")
    response = getattr(client, method)(url.format(raw=raw, encoded=percent_encoded(raw)))
    if method == "head":
        assert response.status_code == HTTPStatus.BAD_REQUEST
    else:
        assert_refused_as_token_in_url(response)
    assert_deleted_as_sent_in_url(token)
    assert client.get(ME, headers=_bearer(raw)).status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", ["Access_Token={raw}", "access_token={raw}", "x={raw}", "token={raw}"]
)
def test_a_valid_header_does_not_save_a_request_whose_url_carries_a_token(client, user, query):
    _, header_raw = create_token(user, "Header")
    exposed, raw = create_token(user, "Exposed")
    response = client.get(f"{ME}?{query.format(raw=raw)}", headers=_bearer(header_raw))
    assert_refused_as_token_in_url(response)
    assert_deleted_as_sent_in_url(exposed)


@pytest.mark.django_db
def test_rotation_with_its_own_value_in_the_url_deletes_instead_of_rotating(client, user):
    token, raw = create_token(user, "Writer", scopes=["read", "write"])
    response = client.post(
        f"/api/v1/tokens/current/rotate?x={raw}",
        json.dumps({"overlap": 0}),
        content_type="application/json",
        headers=_bearer(raw),
    )
    assert_refused_as_token_in_url(response)
    assert_deleted_as_sent_in_url(token)
    assert APIToken.objects.get(pk=token.pk).digest == token.digest


@pytest.mark.django_db
def test_no_slash_redirect_answers_before_the_refusal(client, user):
    token, raw = create_token(user)
    for url in (f"/api/v1/me?access_token={raw}", f"/api?access_token={raw}"):
        response = client.get(url)
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert "Location" not in response


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/nothing/?access_token={value}",
        "/api/v1/me?x={value}",
        "/api/v1/{value}/",
    ],
)
def test_answer_is_the_same_for_real_and_unknown_tokens_anywhere(client, user, url):
    _, raw = create_token(user)
    real = client.get(url.format(value=raw))
    unknown = client.get(url.format(value=tokens.generate_token()))
    assert real.status_code == unknown.status_code == HTTPStatus.BAD_REQUEST
    assert comparable(real) == comparable(unknown)


@pytest.mark.django_db
def test_post_to_the_public_endpoint_with_a_token_in_the_url_is_refused_before_it_runs(client):
    # The report in the body is not handled (no 202): the URL decides first.
    _, raw = create_token()
    response = client.post(
        f"/api/v1/credentials/revoke?access_token={raw}",
        json.dumps({"credentials": [tokens.generate_token()]}),
        content_type="application/json",
    )
    assert_refused_as_token_in_url(response)


@pytest.mark.django_db
def test_a_token_among_more_parameters_than_django_reads_is_still_found(client, user, settings):
    # request.GET would raise TooManyFieldsSent here; the check reads the raw query string.
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    token, raw = create_token(user)
    query = "&".join(f"p{number}=1" for number in range(50))
    response = client.get(f"/api/nothing/?{query}&access_token={raw}")
    assert_refused_as_token_in_url(response)
    assert_deleted_as_sent_in_url(token)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/me/?limit=5",
        "/api/v1/me/?q=qb_short",
        "/api/v1/me/?x=QB_{upper}",
        "/api/v1/me/?x={truncated}",
    ],
)
def test_urls_without_a_token_are_not_refused(client, user, url):
    token, raw = create_token(user)
    response = client.get(url.format(upper=raw[3:], truncated=raw[:-1]), headers=_bearer(raw))
    assert response.status_code == HTTPStatus.OK
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_activity_filter_by_public_id_still_works_with_repeated_names(client, user):
    token, raw = create_token(user)
    response = client.get(
        f"/api/v1/activity/?token={token.public_id}&limit=5", headers=_bearer(raw)
    )
    assert response.status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_portal_pages_are_not_affected(client, user):
    # Outside /api/ a token-looking value in the query is not the API's business.
    token, _ = create_token(user)
    response = client.get(f"/account/login/?next={quote('/account/tokens/')}")
    assert response.status_code == HTTPStatus.OK
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["access_token", "token"])
def test_active_token_in_the_url_is_refused_and_deleted(
    client, user, name, mailoutbox, django_capture_on_commit_callbacks
):
    token, raw = create_token(user, "Cron job")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"{ME}?{name}={raw}", REMOTE_ADDR="192.0.2.44")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_request"
    token.refresh_from_db()
    assert token.revoked_reason == APIToken.RevokedBy.URL
    assert token.get_revoked_reason_display() == "sent in a URL"
    event = SecurityEvent.objects.get(token=token, kind=SecurityEvent.Kind.DELETED)
    assert event.detail == "Sent in a URL"
    assert event.ip == "192.0.2.44"
    [message] = mailoutbox
    assert message.subject == "[QuickBot] API token “Cron job” deleted: sent in a URL"
    assert token.identifier in message.body and "192.0.2.44" in message.body
    assert raw not in message.body
    # Even with the header, the value no longer works.
    me = client.get(ME, headers={"Authorization": f"Bearer {raw}"})
    assert me.status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.django_db
def test_answer_is_the_same_for_real_and_unknown_tokens_in_the_url(client, user):
    _, raw = create_token(user)
    real = client.get(f"{ME}?access_token={raw}")
    unknown = client.get(f"{ME}?access_token={tokens.generate_token()}")
    assert comparable(real) == comparable(unknown)


@pytest.mark.django_db
def test_mistyped_or_partial_values_in_the_url_delete_nothing_and_cost_no_query(client, user):
    token, raw = create_token(user)
    broken = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    with CaptureQueriesContext(connection) as captured:
        for url in (
            f"{ME}?access_token={broken}",
            f"{ME}?access_token=abc",
            f"{ME}?token={raw[:-2]}",
        ):
            assert client.get(url).status_code == HTTPStatus.BAD_REQUEST
    assert not [q for q in captured.captured_queries if "apitokens_apitoken" in q["sql"]]
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_a_public_id_in_token_param_is_not_a_credential(client, user):
    token, raw = create_token(user)
    response = client.get(
        f"/api/v1/activity/?token={token.public_id}", headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status_code == HTTPStatus.OK
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_database_down_while_revoking_still_answers_400(client, user):
    _, raw = create_token(user)

    def refuse(execute, sql, params, many, context):
        raise OperationalError("could not connect to server")

    with connection.execute_wrapper(refuse):
        response = client.get(f"{ME}?access_token={raw}")
    assert response.status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.django_db
def test_tokens_in_urls_spend_the_bad_credential_allowance(client, user, settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 2
    token, raw = create_token(user)
    for _ in range(3):
        client.get(f"{ME}?access_token=nope", REMOTE_ADDR="192.0.2.9")
    limits.failure_batches.reset()
    response = client.get(f"{ME}?access_token={raw}", REMOTE_ADDR="192.0.2.9")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.usefixtures("_unbuffered_activity")
# --- The API check --------------------------------------------------------------------------


@pytest.mark.django_db
def test_request_from_an_allowed_address_is_served(client, user):
    _, raw = create_token(user, allowed_ips="203.0.113.0/24")
    response = client.get(ME, headers=bearer(raw), REMOTE_ADDR="203.0.113.200")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["token"]["allowed_ips"] == ["203.0.113.0/24"]


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_request_from_outside_is_403_naming_the_address_and_the_view_never_runs(
    client, user, monkeypatch
):
    token, raw = create_token(user, allowed_ips="203.0.113.0/24")
    monkeypatch.setattr("apitokens.api.views.token_summary", lambda *a: pytest.fail("the view ran"))
    response = client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9")
    assert response.status_code == HTTPStatus.FORBIDDEN
    body = response.json()
    assert body["error"] == "ip_not_allowed"
    assert "198.51.100.9" in body["detail"]
    assert set(body) == {"error", "detail", "docs", "request_id"}
    assert response["Cache-Control"] == "no-store"
    # The account's rate-limit state is not shown to an outside address.
    assert "X-RateLimit-Remaining" not in response
    # Recorded as the token's activity; not a use of the token (last used unchanged).
    row = TokenActivity.objects.get(token=token)
    assert (row.status, row.ip, row.flagged) == (403, "198.51.100.9", False)
    token.refresh_from_db()
    assert token.last_used_at is None


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_ipv6_client(client, user):
    _, raw = create_token(user, allowed_ips="2001:db8:1::/48")
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR="2001:db8:1::9").status_code == 200
    response = client.get(ME, headers=bearer(raw), REMOTE_ADDR="2001:db8:2::9")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "2001:db8:2::9" in response.json()["detail"]


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_cidr_boundary_through_the_api(client, user):
    _, raw = create_token(user, allowed_ips="192.0.2.64/26")
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR="192.0.2.64").status_code == 200
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR="192.0.2.127").status_code == 200
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR="192.0.2.128").status_code == 403
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR="192.0.2.63").status_code == 403


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_forwarded_address_is_checked(client, user, settings):
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1
    _, raw = create_token(user, allowed_ips="203.0.113.7")
    proxy = "10.0.0.2"
    allowed = client.get(
        ME,
        headers={**bearer(raw), "X-Forwarded-For": "203.0.113.7"},
        REMOTE_ADDR=proxy,
    )
    assert allowed.status_code == HTTPStatus.OK
    # A spoofed entry to the left of what the proxy saw does not help.
    refused = client.get(
        ME,
        headers={**bearer(raw), "X-Forwarded-For": "203.0.113.7, 198.51.100.9"},
        REMOTE_ADDR=proxy,
    )
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert "198.51.100.9" in refused.json()["detail"]
    # The proxy's own address is not the client's.
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 0
    assert (
        client.get(
            ME, headers={**bearer(raw), "X-Forwarded-For": "203.0.113.7"}, REMOTE_ADDR=proxy
        ).status_code
        == HTTPStatus.FORBIDDEN
    )


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_the_check_costs_no_query(client, user, django_assert_num_queries, monkeypatch):
    moment = timezone.now()
    monkeypatch.setattr("apitokens.api.auth.clock", lambda: moment)
    _, plain = create_token(user, "Plain token job")
    _, listed = create_token(user, "Listed token job", allowed_ips="127.0.0.1\n10.0.0.0/8")
    # First uses write last_used_at; the next ones are lookup + activity write only (the
    # rows and, in the same transaction, their two rollup upserts: 3 statements inline).
    client.get(ME, headers=bearer(plain))
    client.get(ME, headers=bearer(listed))
    with django_assert_num_queries(4):
        assert client.get(ME, headers=bearer(plain)).status_code == 200
    with django_assert_num_queries(4):
        assert client.get(ME, headers=bearer(listed)).status_code == 200
    with django_assert_num_queries(4):  # refused: lookup + activity write
        assert client.get(ME, headers=bearer(listed), REMOTE_ADDR="192.0.2.1").status_code == 403


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_refusals_count_towards_the_address_bad_credential_limit(client, user, settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 3
    _, raw = create_token(user, allowed_ips="203.0.113.7")
    statuses = [
        client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9").status_code
        for _ in range(5)
    ]
    assert statuses[:3] == [403, 403, 403]
    assert statuses[-1] == HTTPStatus.TOO_MANY_REQUESTS


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_refusals_do_not_spend_the_owner_hourly_requests(client, user, settings):
    # Someone holding the token outside its allowlist could otherwise use up the owner's
    # hourly limit and lock out the owner's own scripts.
    settings.QUICKBOT_API_HOURLY_LIMIT = 3
    settings.QUICKBOT_BAD_AUTH_LIMIT = 100
    _, raw = create_token(user, allowed_ips="203.0.113.7")
    for _ in range(5):
        refused = client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9")
        assert refused.status_code == HTTPStatus.FORBIDDEN
    served = client.get(ME, headers=bearer(raw), REMOTE_ADDR="203.0.113.7")
    assert served.status_code == HTTPStatus.OK
    assert served["X-RateLimit-Remaining"] == "2"
