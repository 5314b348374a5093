"""Issue 22, fault 5: until the address is confirmed, the API Tokens page offers what can
be done (send a new confirmation link), not Create Token buttons that lead nowhere."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apitokens import services
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("apitokens:list")
NEW_URL = reverse("apitokens:new")


@pytest.fixture
def unconfirmed_client(client):
    user = UserFactory(email="new@example.com", email_verified_at=None)
    client.force_login(user)
    client.user = user
    return client


def test_an_unconfirmed_account_sees_no_create_token_button(unconfirmed_client):
    content = unconfirmed_client.get(LIST_URL).content.decode()

    assert "Create Token" not in content
    assert f'href="{NEW_URL}"' not in content
    assert content.count('id="send-confirmation-link"') == 1
    assert reverse("accounts:verification_resend") in content


def test_an_unconfirmed_account_with_old_tokens_sees_no_create_token_button(unconfirmed_client):
    services.api_token_create(user=unconfirmed_client.user, name="Old Deploy Script")

    content = unconfirmed_client.get(LIST_URL).content.decode()

    assert "Old Deploy Script" in content
    assert f'href="{NEW_URL}"' not in content


def test_the_refreshed_table_of_an_unconfirmed_account_has_no_create_button(
    unconfirmed_client,
):
    response = unconfirmed_client.get(LIST_URL, headers={"HX-Request": "true"})

    assert f'href="{NEW_URL}"' not in response.content.decode()


def test_a_confirmed_account_keeps_both_create_token_buttons(user_client):
    content = user_client.get(LIST_URL).content.decode()

    assert 'id="create-token-button"' in content
    assert 'id="create-token-button-empty"' in content
    assert 'id="send-confirmation-link"' not in content
