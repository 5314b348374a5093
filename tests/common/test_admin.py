"""Admin actions refuse forged `_selected_action` values instead of answering 500."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages

from accounts.models import User
from common.admin import selected_ids_valid
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

FORGED_IDS = ["abc", "\x00", "99999999999999999999999", "1.5", ""]


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("value", FORGED_IDS)
def test_forged_ids_are_not_valid(value):
    assert not selected_ids_valid(User, [value])


def test_real_ids_are_valid(db):
    assert selected_ids_valid(User, ["1", "42"])


@pytest.mark.parametrize(
    ("url", "action"),
    [
        ("/admin/apitokens/apitoken/", "revoke_selected"),
        ("/admin/accounts/user/", "delete_selected"),
        ("/admin/auth/group/", "delete_selected"),
    ],
)
@pytest.mark.parametrize("value", FORGED_IDS[:3])
@pytest.mark.parametrize("confirmed", [False, True])
def test_forged_selection_is_refused_with_a_message(
    admin_client, user, url, action, value, confirmed
):
    token, _raw = create_token(user, "Forged selection target")
    data = {"action": action, ACTION_CHECKBOX_NAME: [str(token.pk), value], "index": "0"}
    if confirmed:
        data["post"] = "yes"
    response = admin_client.post(url, data)
    assert response.status_code == HTTPStatus.FOUND
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    assert any("selection was not understood" in text for text in texts)
    token.refresh_from_db()
    assert not token.is_revoked
    assert User.objects.filter(pk=user.pk).exists()


def test_a_valid_selection_still_reaches_the_action(admin_client, user):
    token, _raw = create_token(user, "Valid selection target")
    response = admin_client.post(
        "/admin/apitokens/apitoken/",
        {"action": "revoke_selected", ACTION_CHECKBOX_NAME: [str(token.pk)], "index": "0"},
    )
    assert response.status_code == HTTPStatus.OK  # the confirmation page
    assert b"Valid selection target" in response.content
