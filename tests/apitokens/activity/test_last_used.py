"""A token's last use (apitokens/activity/last_used.py): written at most once per interval, never
from a stale instance, never on a deleted token."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.http import JsonResponse
from django.test import RequestFactory
from django.utils import timezone

from apitokens import activity, services
from apitokens.api.decorators import token_required
from apitokens.api.middleware import ApiTokenMiddleware
from apitokens.models import APIToken, TokenActivity
from tests.apitokens.factories import create_token

ME = "/api/v1/me/"


@pytest.fixture(autouse=True)
def _unbuffered_activity(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


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
    request = RequestFactory().get(ME, headers=bearer(raw))
    request.request_id = "req_racing"  # as RequestIdMiddleware, first in MIDDLEWARE, sets it
    response = middleware(request)
    assert response.status_code == HTTPStatus.OK
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.last_used_at is None
    assert TokenActivity.objects.filter(token=token).count() == 1


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_per_interval(user, settings):
    settings.QUICKBOT_LAST_USED_INTERVAL_SECONDS = 60
    token, _ = create_token(user)
    start = timezone.now()
    assert activity.last_used_touch(token=token, ip="192.0.2.1", now=start)
    assert not activity.last_used_touch(
        token=token, ip="192.0.2.2", now=start + timedelta(seconds=59)
    )
    assert activity.last_used_touch(token=token, ip="192.0.2.3", now=start + timedelta(seconds=60))
    token.refresh_from_db()
    assert token.last_used_at == start + timedelta(seconds=60)
    assert token.last_used_ip == "192.0.2.3"


@pytest.mark.django_db
def test_last_used_write_from_a_stale_instance_loses_to_a_fresher_one(user):
    token, _ = create_token(user)
    stale = APIToken.objects.get(pk=token.pk)
    start = timezone.now()
    assert activity.last_used_touch(token=token, ip="192.0.2.1", now=start)
    # Another process read the row before that write: its conditional UPDATE matches nothing.
    assert not activity.last_used_touch(token=stale, ip="192.0.2.2", now=start)


@pytest.mark.django_db
def test_last_used_never_resurrects_a_deleted_token(user):
    token, _ = create_token(user)
    stale = APIToken.objects.get(pk=token.pk)
    services.api_token_revoke(token=token, actor=user)
    assert not activity.last_used_touch(token=stale, ip="192.0.2.1", now=timezone.now())
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.last_used_at is None


@pytest.mark.django_db
def test_hot_token_updates_last_used_once_per_interval(
    client, user, monkeypatch, django_assert_num_queries
):
    token, raw = create_token(user)
    moment = timezone.now()
    monkeypatch.setattr("apitokens.api.auth.clock", lambda: moment)
    client.get(ME, headers=bearer(raw))  # first use: lookup + activity + UPDATE
    # lookup + activity write (rows, rollup and address upserts), no UPDATE
    with django_assert_num_queries(4):
        client.get(ME, headers=bearer(raw))
    token.refresh_from_db()
    assert token.last_used_at == moment
    later = moment + timedelta(seconds=61)
    monkeypatch.setattr("apitokens.api.auth.clock", lambda: later)
    client.get(ME, headers=bearer(raw))
    token.refresh_from_db()
    assert token.last_used_at == later
