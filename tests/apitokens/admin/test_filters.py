"""The audit admin's list filters (apitokens/admin/filters.py): stale tokens, tokens breaking the
policy, and odd values that never fail."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse

from apitokens import services
from apitokens.models import APIToken, TokenPolicy
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

ACTIVITY_LIST = reverse("admin:apitokens_tokenactivity_changelist")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {"token": "x" * 500},
        {"owner": "99999999999999999999999"},
        {"created_at__year": "99999"},
        {"p": "-3"},
        {"o": "99"},
        {"status_class": "401", "flagged__exact": "maybe"},
    ],
)
def test_odd_filter_values_cause_no_server_error(admin_client, mixed_activity, query):
    response = admin_client.get(ACTIVITY_LIST, query)
    assert response.status_code < 500


TOKEN_LIST = reverse("admin:apitokens_apitoken_changelist")


def save_policy(**values) -> TokenPolicy:
    current = TokenPolicy.current()
    for field, value in values.items():
        setattr(current, field, value)
    services.token_policy_save(policy=current, actor=None)
    return current


def breaking_names(admin_client) -> set[str]:
    response = admin_client.get(TOKEN_LIST, {"policy": "breaks"})
    assert response.status_code == HTTPStatus.OK
    return {token.name for token in response.context["cl"].result_list}


@pytest.mark.django_db
def test_breaks_policy_filter_lists_the_tokens_for_staff(admin_client, mixed_tokens):
    save_policy(max_lifetime_days=30)
    assert breaking_names(admin_client) == {"Forever job", "Long job"}
    save_policy(max_lifetime_days=0, expiry_required=True)
    assert breaking_names(admin_client) == {"Forever job"}
    save_policy(expiry_required=False, allowlist_required=True)
    assert breaking_names(admin_client) == {
        "Forever job",
        "Long job",
        "Short job",
        "Open job",
    }
    save_policy(allowlist_required=False)
    assert breaking_names(admin_client) == set()


# --- Admin ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_token_list_filters_stale_tokens(client, user):
    fresh, _ = create_token(user, "Fresh admin")
    old, _ = create_token(user, "Old admin")
    APIToken.objects.filter(pk=old.pk).update(created_at=old.created_at - timedelta(days=30))
    client.force_login(UserFactory(email="root@example.com", is_staff=True, is_superuser=True))
    url = reverse("admin:apitokens_apitoken_changelist")
    page = client.get(url).content.decode()
    assert "?stale=yes" in page
    filtered = client.get(url + "?stale=yes").content.decode()
    assert "Old admin" in filtered
    assert fresh.name not in filtered
