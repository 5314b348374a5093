"""An account whose email is not confirmed cannot mint tokens (apitokens/views/)."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse

from apitokens import services
from apitokens.models import APIToken
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("apitokens:list")
NEW_URL = reverse("apitokens:new")
CREATE_DATA = {"name": "Production Website", "expiry": "30", "scopes": ["read"]}


@pytest.fixture
def unverified_client(client):
    user = UserFactory(email="new@example.com", email_verified_at=None)
    client.force_login(user)
    client.user = user
    return client


def test_the_list_says_to_confirm_and_offers_to_resend(unverified_client):
    content = unverified_client.get(LIST_URL).content.decode()

    assert "Confirm your email address to create tokens" in content
    assert reverse("accounts:verification_resend") in content


def test_a_verified_account_sees_no_notice(user_client):
    assert "Confirm your email address" not in user_client.get(LIST_URL).content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_create_is_refused_with_a_message(unverified_client, method):
    response = getattr(unverified_client, method)(NEW_URL, CREATE_DATA, follow=True)

    assert response.redirect_chain == [(LIST_URL, HTTPStatus.FOUND)]
    assert "Confirm your email address before creating" in response.content.decode()
    assert not APIToken.objects.exists()


def test_an_htmx_create_sends_the_page_to_the_list(unverified_client):
    response = unverified_client.post(NEW_URL, CREATE_DATA, headers={"HX-Request": "true"})

    assert response["HX-Redirect"] == LIST_URL
    assert not APIToken.objects.exists()


def test_regenerate_is_refused(unverified_client):
    token, _value = services.api_token_create(user=unverified_client.user, name="Old Script")
    url = reverse("apitokens:regenerate", args=[token.public_id])

    response = unverified_client.post(url, {"overlap": "0"})

    assert response.url == LIST_URL
    token.refresh_from_db()
    assert token.regenerated_at is None
