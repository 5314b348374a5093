"""Pause and Resume on a token's page (apitokens/views/changes.py): POST with CSRF, owner only,
Resume behind sudo, twice is harmless, with and without htmx; the list and the page say
"Paused"."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from accounts import sudo
from apitokens import services
from apitokens.models import APIToken, SecurityEvent
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def pause_url(token: APIToken) -> str:
    return reverse("apitokens:pause", args=[token.public_id])


def resume_url(token: APIToken) -> str:
    return reverse("apitokens:resume", args=[token.public_id])


def stored(token: APIToken) -> APIToken:
    return APIToken.objects.get(pk=token.pk)


@pytest.fixture
def stale_client(user_client):
    """Signed in long ago: the sudo window has closed."""
    session = user_client.session
    session[sudo.SESSION_KEY] = 1_000_000.0
    session.save()
    return user_client


def test_pause_without_javascript_goes_back_to_the_token_page_with_a_message(
    user_client, user, token
):
    response = user_client.post(pause_url(token), follow=True)

    assert response.redirect_chain == [
        (reverse("apitokens:detail", args=[token.public_id]), HTTPStatus.FOUND)
    ]
    content = response.content.decode()
    assert "paused. Applications using it get “401 token_paused”" in content
    assert 'id="paused-badge"' in content
    assert 'id="paused-notice"' in content
    assert f'id="resume-{token.public_id}"' in content
    assert f'id="pause-{token.public_id}"' not in content
    assert stored(token).paused_by == user


def test_htmx_pause_loads_the_token_page_which_shows_the_message(user_client, token):
    response = user_client.post(pause_url(token), headers=HTMX)

    assert response.status_code == HTTPStatus.OK
    page = reverse("apitokens:detail", args=[token.public_id])
    assert response["HX-Redirect"] == page
    assert stored(token).is_paused
    assert "paused. Applications using it" in user_client.get(page).content.decode()


def test_resume_without_javascript_restores_the_token(user_client, token):
    user_client.post(pause_url(token))

    response = user_client.post(resume_url(token), follow=True)

    content = response.content.decode()
    assert "resumed. It works again." in content
    assert 'id="paused-badge"' not in content
    assert f'id="pause-{token.public_id}"' in content
    assert not stored(token).is_paused


def _page_after(client, url: str, headers: dict) -> str:
    """The token page the browser lands on after the POST, with its message."""
    response = client.post(url, headers=headers)
    landing = response["HX-Redirect"] if headers else response.url
    return client.get(landing).content.decode()


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_double_submit_changes_once_and_says_so(user_client, token, headers):
    _page_after(user_client, pause_url(token), headers)
    again = _page_after(user_client, pause_url(token), headers)
    _page_after(user_client, resume_url(token), headers)
    resumed_again = _page_after(user_client, resume_url(token), headers)

    assert "was already paused" in again
    assert "was not paused" in resumed_again
    kinds = list(SecurityEvent.objects.filter(token=token).values_list("kind", flat=True))
    assert kinds.count(SecurityEvent.Kind.PAUSED) == 1
    assert kinds.count(SecurityEvent.Kind.RESUMED) == 1


@pytest.mark.parametrize("url", [pause_url, resume_url])
def test_another_users_token_is_a_404_and_unchanged(user_client, other_user, url):
    theirs, _raw = create_token(other_user, "Their job")
    if url is resume_url:
        services.api_token_pause(token=theirs, actor=other_user)

    response = user_client.post(url(theirs))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert stored(theirs).is_paused is (url is resume_url)


@pytest.mark.parametrize("url", [pause_url, resume_url])
def test_get_is_not_allowed(user_client, token, url):
    assert user_client.get(url(token)).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert not stored(token).is_paused


def test_signed_out_is_sent_to_login(client, token):
    response = client.post(pause_url(token))
    assert response.status_code == HTTPStatus.FOUND
    assert reverse("accounts:login") in response.url
    assert not stored(token).is_paused


@pytest.mark.parametrize("url", [pause_url, resume_url])
def test_without_csrf_token_nothing_changes(user, token, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    if url is resume_url:
        services.api_token_pause(token=token, actor=user)

    response = client.post(url(token))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert stored(token).is_paused is (url is resume_url)


def test_pausing_needs_no_sudo(stale_client, token):
    stale_client.post(pause_url(token))
    assert stored(token).is_paused


def test_resuming_needs_sudo_and_resumes_after_the_password(stale_client, user, token):
    services.api_token_pause(token=token, actor=user)

    held = stale_client.post(resume_url(token), headers=HTMX)

    assert 'name="sudo_password"' in held.content.decode()
    assert stored(token).is_paused
    stale_client.post(resume_url(token), {"sudo_password": DEFAULT_PASSWORD}, headers=HTMX)
    assert not stored(token).is_paused


@pytest.mark.parametrize("url", [pause_url, resume_url])
def test_a_deleted_token_says_it_is_gone(user_client, user, token, url):
    services.api_token_revoke(token=token, actor=user)

    response = user_client.post(url(token), follow=True)

    assert "was already deleted" in response.content.decode()
    assert not stored(token).is_paused


def test_a_token_deleted_during_the_pause_says_it_is_gone(user_client, user, token, monkeypatch):
    real_pause = services.api_token_pause

    def deleted_first(**kwargs):
        services.api_token_revoke(token=APIToken.objects.get(pk=token.pk), actor=user)
        return real_pause(**kwargs)

    monkeypatch.setattr("apitokens.views.changes.api_token_pause", deleted_first)

    response = user_client.post(pause_url(token), follow=True)

    assert "was already deleted" in response.content.decode()


def test_huge_or_odd_public_ids_are_404s(user_client):
    for public_id in ("x" * 32, "Ünïcode", "a%00b"):
        response = user_client.post(f"/account/tokens/{public_id}/pause/")
        assert response.status_code == HTTPStatus.NOT_FOUND


def test_the_list_shows_a_paused_badge_for_the_paused_token_only(user_client, user, token):
    create_token(user, "Still running")
    services.api_token_pause(token=token, actor=user)

    content = user_client.get(reverse("apitokens:list")).content.decode()

    assert content.count(">Paused</span>") == 1
    row = content[content.index(f'id="token-{token.public_id}"') :]
    assert row.index(">Paused</span>") < row.index("</tr>")


def test_the_page_says_staff_paused_it(user_client, token):
    services.api_token_pause(token=token, actor=UserFactory(is_staff=True))

    content = user_client.get(reverse("apitokens:detail", args=[token.public_id])).content
    assert "by QuickBot staff" in content.decode()


def test_a_deleted_token_page_offers_neither_button(user_client, user, token):
    services.api_token_revoke(token=token, actor=user)

    content = user_client.get(reverse("apitokens:detail", args=[token.public_id])).content
    assert b"pause-" not in content and b"resume-" not in content


def test_the_owner_is_told_only_staff_resume_a_staff_pause(user_client, token):
    services.api_token_pause(token=token, actor=UserFactory(is_staff=True))

    page = user_client.get(reverse("apitokens:detail", args=[token.public_id])).content.decode()
    assert f'id="resume-{token.public_id}"' not in page
    assert "until staff resume it: contact QuickBot support" in page

    response = user_client.post(resume_url(token), follow=True)
    assert "only staff can resume it" in response.content.decode()
    assert stored(token).paused_at is not None
