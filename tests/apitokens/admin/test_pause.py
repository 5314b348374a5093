"""Staff pause and resume tokens from the admin list (apitokens/admin/actions.py) through the
services, and see which tokens are paused (a column, a filter, the token page)."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from apitokens import services
from apitokens.models import APIToken, SecurityEvent
from tests.accounts.factories import UserFactory
from tests.apitokens.activity_factories import AUDIT_VIEW_PERMISSIONS, staff_user
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

TOKEN_LIST = reverse("admin:apitokens_apitoken_changelist")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def _act(client, action: str, tokens, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [token.pk for token in tokens], **extra}
    return client.post(TOKEN_LIST, data, follow=True)


def _paused(token: APIToken) -> bool:
    return APIToken.objects.get(pk=token.pk).is_paused


def test_pause_action_pauses_through_the_service_as_staff(
    admin_client, superuser, user, other_user, mailoutbox, django_capture_on_commit_callbacks
):
    first, _raw = create_token(user, "First job")
    second, _raw = create_token(other_user, "Second job")
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = _act(admin_client, "pause_selected", [first, second])

    assert "Paused 2 tokens" in response.text
    assert _paused(first) and _paused(second)
    events = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.PAUSED)
    assert {event.actor_kind for event in events} == {SecurityEvent.Actor.STAFF}
    assert {event.actor for event in events} == {superuser}
    assert sorted(message.to[0] for message in mailoutbox) == sorted([user.email, other_user.email])
    assert all("a QuickBot staff member" in message.body for message in mailoutbox)


def test_resume_action_resumes_only_paused_tokens(
    admin_client, user, mailoutbox, django_capture_on_commit_callbacks
):
    paused, _raw = create_token(user, "Paused job")
    running, _raw = create_token(user, "Running job")
    services.api_token_pause(token=paused, actor=user)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = _act(admin_client, "resume_selected", [paused, running])

    assert "Resumed 1 token:" in response.text
    assert not _paused(paused) and not _paused(running)
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.RESUMED).count() == 1
    assert len(mailoutbox) == 1


def test_actions_on_already_paused_or_deleted_tokens_change_nothing(admin_client, user):
    paused, _raw = create_token(user, "Paused job")
    deleted, _raw = create_token(user, "Deleted job")
    services.api_token_pause(token=paused, actor=user)
    services.api_token_revoke(token=deleted, actor=user)

    paused_again = _act(admin_client, "pause_selected", [paused, deleted])
    resumed = _act(admin_client, "resume_selected", [deleted])

    assert "already paused or deleted" in paused_again.text
    assert "none of the selected tokens is paused" in resumed.text
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.PAUSED).count() == 1
    assert not _paused(deleted)


def test_the_actions_need_the_revoke_permission(client, user):
    token, _raw = create_token(user, "Some job")
    client.force_login(staff_user(*AUDIT_VIEW_PERMISSIONS))

    listing = client.get(TOKEN_LIST)
    response = _act(client, "pause_selected", [token])

    assert "pause_selected" not in listing.text
    assert response.status_code == HTTPStatus.OK
    assert not _paused(token)


def test_the_list_has_a_paused_column_and_filter(admin_client, user):
    paused, _raw = create_token(user, "Paused job")
    create_token(user, "Running job")
    services.api_token_pause(token=paused, actor=user)

    everything = admin_client.get(TOKEN_LIST)
    only_paused = admin_client.get(TOKEN_LIST, {"paused": "yes"})
    not_paused = admin_client.get(TOKEN_LIST, {"paused": "no"})
    odd = admin_client.get(TOKEN_LIST, {"paused": "<script>\x00"})

    assert "column-paused" in everything.text
    assert [token.name for token in only_paused.context["cl"].result_list] == ["Paused job"]
    assert [token.name for token in not_paused.context["cl"].result_list] == ["Running job"]
    assert odd.status_code in (HTTPStatus.OK, HTTPStatus.FOUND)


def test_the_token_page_says_who_paused_it_and_when(admin_client, superuser, user):
    token, _raw = create_token(user, "Paused job")
    services.api_token_pause(token=token, actor=superuser)

    page = admin_client.get(reverse("admin:apitokens_apitoken_change", args=[token.pk]))

    assert page.status_code == HTTPStatus.OK
    assert "Paused since" in page.text
    assert superuser.email in page.text


def test_resume_action_on_a_superusers_own_token_another_staff_member_paused(
    admin_client, superuser
):
    token, _raw = create_token(superuser, "The superuser's own job")
    services.api_token_pause(token=token, actor=UserFactory(is_staff=True))

    response = _act(admin_client, "resume_selected", [token])

    assert response.status_code == HTTPStatus.OK
    assert "Resumed 1 token:" in response.text
    assert not _paused(token)
