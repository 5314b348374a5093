"""What the token pages share (apitokens/views/base.py): the htmx-aware login check, the owner-
scoped lookup (another user's token is a 404), and the unconfirmed-address notice."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse

from apitokens import services
from apitokens.api.lookup import authenticate_token
from apitokens.models import APIToken
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token


def detail_url(token) -> str:
    return reverse("apitokens:detail", args=[token.public_id])


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["token-activity", "token-summary"])
def test_htmx_refresh_after_the_session_ended_sends_the_page_to_login(client, token, target):
    # The activity filter and the summary refresh got a 302 that htmx followed, swapping
    # the whole login page into the token page.
    url = detail_url(token)
    response = client.get(
        f"{url}?status=4xx",
        headers={
            "HX-Request": "true",
            "HX-Target": target,
            "HX-Current-URL": f"http://testserver{url}",
        },
    )
    assert response.status_code == HTTPStatus.OK
    assert response["HX-Redirect"] == f"{reverse('accounts:login')}?next={url}"
    assert response.content == b""


HTMX = {"HX-Request": "true"}


def create_payload(**overrides):
    data = {"name": "Production Website Integration", "expiry": "90", "scopes": ["read"]}
    data.update(overrides)
    return data


def url(name, token):
    return reverse(f"apitokens:{name}", args=[token.public_id])


# --- Access ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("name", ["list", "new", "delete", "regenerate", "edit"])
def test_anonymous_is_sent_to_log_in_and_nothing_changes(client, user, method, name):
    token, _ = create_token(user, "Production Website Integration")
    path = reverse(f"apitokens:{name}", args=[] if name in {"list", "new"} else [token.public_id])
    response = getattr(client, method)(path, create_payload(name="Anonymous attempt here"))
    if method == "post" and name == "list":
        # The list is GET only; an anonymous POST still never reaches it.
        assert response.status_code in {HTTPStatus.FOUND, HTTPStatus.METHOD_NOT_ALLOWED}
    else:
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"].startswith(reverse("accounts:login"))
    token.refresh_from_db()
    assert token.revoked_at is None
    assert APIToken.objects.count() == 1


@pytest.mark.parametrize("name", ["list", "new", "delete"])
def test_anonymous_htmx_request_sends_the_whole_page_to_log_in(client, user, name):
    token, _ = create_token(user, "Production Website Integration")
    path = reverse(f"apitokens:{name}", args=[] if name in {"list", "new"} else [token.public_id])
    response = client.get(
        path, headers={**HTMX, "HX-Current-URL": "http://testserver/account/tokens/"}
    )
    assert response.status_code == HTTPStatus.OK
    assert response["HX-Redirect"] == f"{reverse('accounts:login')}?next=/account/tokens/"
    assert response.content == b""


@pytest.mark.parametrize("name", ["delete", "regenerate", "edit"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_users_token_is_404_and_unchanged(user_client, other_user, name, method):
    token, raw = create_token(other_user, "Grace production server")
    data = {"overlap": "0", "name": "Stolen name here", "scopes": ["read", "write"]}
    response = getattr(user_client, method)(url(name, token), data)
    assert response.status_code == HTTPStatus.NOT_FOUND
    token.refresh_from_db()
    assert token.revoked_at is None
    assert token.name == "Grace production server"
    assert token.scopes == "read"
    assert authenticate_token(raw).ok


@pytest.mark.parametrize("name", ["delete", "regenerate", "edit"])
def test_unknown_token_id_is_404(user_client, name):
    for public_id in ["AAAAAAAAAAAAAAAA", "nope", "1", "%00", "<script>"]:
        response = user_client.post(f"/account/tokens/{public_id}/{name}/", {"overlap": "0"})
        assert response.status_code == HTTPStatus.NOT_FOUND


LIST_URL = reverse("apitokens:list")


NEW_URL = reverse("apitokens:new")


CREATE_DATA = {"name": "Production Website", "expiry": "30", "scopes": ["read"]}


@pytest.fixture
def unverified_client(client):
    user = UserFactory(email="new@example.com", email_verified_at=None)
    client.force_login(user)
    client.user = user
    return client


@pytest.mark.django_db
def test_the_list_says_to_confirm_and_offers_to_resend(unverified_client):
    content = unverified_client.get(LIST_URL).content.decode()

    assert "Confirm your email address to create tokens" in content
    assert reverse("accounts:verification_resend") in content


@pytest.mark.django_db
def test_a_verified_account_sees_no_notice(user_client):
    assert "Confirm your email address" not in user_client.get(LIST_URL).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_create_is_refused_with_a_message(unverified_client, method):
    response = getattr(unverified_client, method)(NEW_URL, CREATE_DATA, follow=True)

    assert response.redirect_chain == [(LIST_URL, HTTPStatus.FOUND)]
    assert "Confirm your email address before creating" in response.content.decode()
    assert not APIToken.objects.exists()


@pytest.mark.django_db
def test_an_htmx_create_sends_the_page_to_the_list(unverified_client):
    response = unverified_client.post(NEW_URL, CREATE_DATA, headers={"HX-Request": "true"})

    assert response["HX-Redirect"] == LIST_URL
    assert not APIToken.objects.exists()


@pytest.mark.django_db
def test_regenerate_is_refused(unverified_client):
    token, _value = services.api_token_create(user=unverified_client.user, name="Old Script")
    url = reverse("apitokens:regenerate", args=[token.public_id])

    response = unverified_client.post(url, {"overlap": "0"})

    assert response.url == LIST_URL
    token.refresh_from_db()
    assert token.regenerated_at is None
