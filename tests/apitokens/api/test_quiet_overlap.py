"""An overlap "until its traffic stops": the old value works until 24 hours pass without a
request using it, 7 days at most, decided by the lookup from the row (no cron, no extra
query on the API path)."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apitokens import expiry, services
from apitokens.activity import previous_value_touch
from apitokens.models import APIToken
from tests.apitokens.factories import create_token

ME = "/api/v1/me/"
SEVEN_DAYS = expiry.QUIET_OVERLAP_MAX

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_inline")]


@pytest.fixture
def _inline(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
    settings.QUICKBOT_LAST_USED_INTERVAL_SECONDS = 60


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


def quiet_regenerate(user, frozen):
    token, old_raw = create_token(user)
    token, new_raw = services.api_token_regenerate(
        token=token, actor=user, overlap=SEVEN_DAYS, until_quiet=True, now=frozen.now()
    )
    return token, old_raw, new_raw


def test_quiet_regenerate_starts_a_quiet_day_with_a_seven_day_hard_end(user, frozen):
    start = frozen.now()
    token, _old, _new = quiet_regenerate(user, frozen)
    token.refresh_from_db()
    assert token.overlap_until_quiet
    assert token.previous_expires_at == start + timedelta(hours=24)
    assert token.previous_hard_end == start + SEVEN_DAYS


def test_quiet_overlap_needs_the_seven_day_hard_end(user):
    token, _ = create_token(user)
    with pytest.raises(ValueError):
        services.api_token_regenerate(
            token=token, actor=user, overlap=timedelta(days=30), until_quiet=True
        )


def test_old_value_used_at_23h59_stays_and_at_24h01_after_its_last_use_is_refused(
    client, user, frozen
):
    token, old_raw, new_raw = quiet_regenerate(user, frozen)
    frozen(hours=5)
    assert client.get(ME, headers=bearer(old_raw)).status_code == HTTPStatus.OK
    frozen(seconds=30)  # a second use within the minute writes nothing
    assert client.get(ME, headers=bearer(old_raw)).status_code == HTTPStatus.OK
    last_use = frozen.now()
    frozen(hours=23, minutes=59)
    assert client.get(ME, headers=bearer(old_raw)).status_code == HTTPStatus.OK
    last_use = frozen.now()
    # Only the new value is used from here on: it does not keep the old one alive.
    frozen(hours=12)
    assert client.get(ME, headers=bearer(new_raw)).status_code == HTTPStatus.OK
    frozen(seconds=int((last_use + timedelta(hours=24, minutes=1) - frozen.now()).total_seconds()))
    response = client.get(ME, headers=bearer(old_raw))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "stopped working" in response.json()["detail"]
    assert client.get(ME, headers=bearer(new_raw)).status_code == HTTPStatus.OK


def test_an_unused_old_value_stops_a_quiet_day_after_the_regenerate(client, user, frozen):
    _token, old_raw, _new = quiet_regenerate(user, frozen)
    frozen(hours=23, minutes=59)
    assert client.get(ME, headers=bearer(old_raw)).status_code == HTTPStatus.OK
    frozen(hours=24, minutes=2)
    assert client.get(ME, headers=bearer(old_raw)).status_code == HTTPStatus.UNAUTHORIZED


def test_an_old_value_in_steady_use_stops_after_seven_days(client, user, frozen):
    start = frozen.now()
    token, old_raw, _new = quiet_regenerate(user, frozen)
    while frozen.now() < start + SEVEN_DAYS - timedelta(hours=12):
        frozen(hours=12)
        assert client.get(ME, headers=bearer(old_raw)).status_code == HTTPStatus.OK
    token.refresh_from_db()
    assert token.previous_expires_at == start + SEVEN_DAYS  # capped, not a day later
    frozen(seconds=int((start + SEVEN_DAYS - frozen.now()).total_seconds()) - 1)
    assert client.get(ME, headers=bearer(old_raw)).status_code == HTTPStatus.OK
    frozen(seconds=2)
    assert client.get(ME, headers=bearer(old_raw)).status_code == HTTPStatus.UNAUTHORIZED


def test_old_value_use_costs_no_query_within_the_minute(client, user, frozen):
    _token, old_raw, new_raw = quiet_regenerate(user, frozen)
    client.get(ME, headers=bearer(old_raw))
    client.get(ME, headers=bearer(new_raw))
    frozen(seconds=10)
    with CaptureQueriesContext(connection) as with_new:
        client.get(ME, headers=bearer(new_raw))
    with CaptureQueriesContext(connection) as with_old:
        client.get(ME, headers=bearer(old_raw))
    assert len(with_old) == len(with_new)
    assert not any(query["sql"].startswith("UPDATE") for query in with_old.captured_queries)


def test_an_ended_or_replaced_overlap_is_never_reopened_by_a_late_request(user, frozen):
    token, _old, _new = quiet_regenerate(user, frozen)
    read_by_request = APIToken.objects.get(pk=token.pk)  # the lookup's row, before the end
    services.api_token_overlap_end(token=token, actor=user, now=frozen.now())
    frozen(minutes=5)
    assert not previous_value_touch(token=read_by_request, now=frozen.now())
    token.refresh_from_db()
    assert token.previous_expires_at <= frozen.now()

    token2, _old2, _new2 = quiet_regenerate(user, frozen)
    stale_row = APIToken.objects.get(pk=token2.pk)
    services.api_token_regenerate(token=token2, actor=user, overlap=timedelta(hours=1))
    frozen(minutes=5)
    assert not previous_value_touch(token=stale_row, now=frozen.now())


def test_regenerating_again_during_a_quiet_overlap_follows_the_new_choice(client, user, frozen):
    token, first_raw, second_raw = quiet_regenerate(user, frozen)
    APIToken.objects.filter(pk=token.pk).update(overlap_warning_sent_at=frozen.now())
    frozen(hours=1)
    token, third_raw = services.api_token_regenerate(
        token=token, actor=user, overlap=timedelta(hours=1), now=frozen.now()
    )
    token.refresh_from_db()
    assert not token.overlap_until_quiet
    assert token.overlap_warning_sent_at is None
    assert client.get(ME, headers=bearer(first_raw)).status_code == HTTPStatus.UNAUTHORIZED
    assert client.get(ME, headers=bearer(second_raw)).status_code == HTTPStatus.OK
    frozen(hours=1, seconds=1)  # the fixed hour is not moved on by use
    assert client.get(ME, headers=bearer(second_raw)).status_code == HTTPStatus.UNAUTHORIZED
    assert client.get(ME, headers=bearer(third_raw)).status_code == HTTPStatus.OK
