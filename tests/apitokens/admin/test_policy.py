"""The token policy admin (apitokens/admin/policy.py): one row, edited with the change permission,
pointing staff to the tokens that break it."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse

from apitokens.models import TokenPolicy
from tests.apitokens.activity_factories import staff_user
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db


POLICY_URL = reverse("admin:apitokens_tokenpolicy_change", args=[1])


# --- Admin: one row, change permission ------------------------------------------------------


def test_staff_with_change_permission_edit_the_one_row(client):
    editor = staff_user("apitokens.view_tokenpolicy", "apitokens.change_tokenpolicy")
    client.force_login(editor)
    changelist = client.get(reverse("admin:apitokens_tokenpolicy_changelist"))
    assert changelist.status_code == HTTPStatus.FOUND
    assert changelist["Location"] == POLICY_URL
    page = client.get(POLICY_URL)
    assert page.status_code == HTTPStatus.OK
    assert "Save and add another" not in page.text
    assert "Delete" not in page.text
    response = client.post(
        POLICY_URL,
        {
            "max_lifetime_days": "30",
            "expiry_required": "on",
            "allowlist_required": "on",
            "stale_token_days": "21",
        },
    )
    assert response.status_code == HTTPStatus.FOUND
    saved = TokenPolicy.objects.get()
    assert (saved.max_lifetime_days, saved.expiry_required, saved.allowlist_required) == (
        30,
        True,
        True,
    )
    assert saved.stale_token_days == 21
    assert saved.updated_by == editor
    assert client.get(reverse("admin:apitokens_tokenpolicy_add")).status_code == 403


def test_staff_without_change_permission_only_see_it(client):
    viewer = staff_user("apitokens.view_tokenpolicy")
    client.force_login(viewer)
    page = client.get(POLICY_URL)
    assert page.status_code == HTTPStatus.OK
    client.post(POLICY_URL, {"max_lifetime_days": "1", "stale_token_days": "1"})
    assert not TokenPolicy.objects.exists()
    nobody = staff_user(email="nobody@example.com")
    client.force_login(nobody)
    assert client.get(POLICY_URL).status_code == HTTPStatus.FORBIDDEN


def test_saving_points_staff_to_tokens_that_break_the_policy(admin_client, user):
    create_token(user, "Forever job")  # no expiry
    response = admin_client.post(
        POLICY_URL,
        {"max_lifetime_days": "0", "expiry_required": "on", "stale_token_days": "60"},
        follow=True,
    )
    assert "1 existing token breaks it" in response.text
    assert "?policy=breaks" in response.text
