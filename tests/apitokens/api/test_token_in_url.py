"""A real token seen in a URL is exposed (proxy and server logs): refused, deleted, owner told."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from apitokens import tokens
from apitokens.api import limits
from apitokens.models import APIToken, SecurityEvent
from tests.apitokens.factories import create_token

ME = "/api/v1/me/"


def _comparable(response):
    return response.status_code, response.content, sorted(response.items())


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
    assert _comparable(real) == _comparable(unknown)


@pytest.mark.django_db
def test_owner_page_shows_the_banner_for_a_token_sent_in_a_url(client, user):
    token, raw = create_token(user, "Cron job")
    client.get(f"{ME}?access_token={raw}")
    client.force_login(user)
    page = client.get("/account/tokens/").content.decode()
    assert "was deleted because it was sent in a URL" in page


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
    limits.reset_local_counters()
    response = client.get(f"{ME}?access_token={raw}", REMOTE_ADDR="192.0.2.9")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    token.refresh_from_db()
    assert token.revoked_at is None
