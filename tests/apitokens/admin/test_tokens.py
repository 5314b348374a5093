"""The API token admin (apitokens/admin/tokens.py): the list and its search, each token's page
(recent activity, security log, allowlist), digests never shown, no real deletes."""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from apitokens import services
from apitokens.models import APIToken
from tests.accounts.factories import UserFactory
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

TOKEN_LIST = reverse("admin:apitokens_apitoken_changelist")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def _change_url(model: str, pk: int) -> str:
    return reverse(f"admin:apitokens_{model}_change", args=[pk])


@pytest.mark.django_db
def test_tokens_cannot_be_deleted_for_real_in_admin(admin_client, token):
    response = admin_client.post(
        reverse("admin:apitokens_apitoken_delete", args=[token.pk]), {"post": "yes"}
    )
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert APIToken.objects.filter(pk=token.pk).exists()


@pytest.mark.django_db
# --- The digest stays secret ------------------------------------------------------------------


def test_digest_is_never_shown_on_the_token_pages(admin_client, token):
    token.refresh_from_db()
    for url in (TOKEN_LIST, _change_url("apitoken", token.pk)):
        response = admin_client.get(url)
        assert token.digest not in response.text
        assert "digest" not in response.text.lower()


@pytest.mark.django_db
def test_search_does_not_match_digests(admin_client, token):
    token.refresh_from_db()
    response = admin_client.get(TOKEN_LIST, {"q": token.digest})
    assert "0 API tokens" in response.text


@pytest.mark.django_db
# --- Token changelist -------------------------------------------------------------------------


def test_token_list_shows_owner_identifier_status_and_requests_in_the_last_day(
    admin_client, user, token
):
    now = timezone.now()
    add_activity(token, count=7, at=now - timedelta(hours=3))
    add_activity(token, count=5, at=now - timedelta(hours=30))
    deleted, _raw = create_token(user, "Old CI runner")
    services.api_token_revoke(token=deleted, actor=user)
    response = admin_client.get(TOKEN_LIST)
    assert response.status_code == HTTPStatus.OK
    row = re.search(r"<tr>.*?Production Website Integration.*?</tr>", response.text, re.S).group()
    assert user.email in row
    assert token.identifier in row
    assert "Active" in row
    assert '<td class="field-requests_24h">7</td>' in row
    assert reverse("admin:accounts_user_change", args=[user.pk]) in row
    assert "Deleted" in response.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "active"}, {"Live", "Stale 40 days", "Stale 100 days", "Staff token"}),
        ({"status": "expired"}, {"Expired one"}),
        ({"status": "deleted"}, {"Deleted one"}),
        ({"last_used": "never"}, {"Live", "Expired one", "Deleted one"}),
        ({"last_used": "30"}, {"Stale 40 days", "Stale 100 days"}),
        ({"last_used": "90"}, {"Stale 100 days"}),
        ({"owner__is_staff__exact": "1"}, {"Staff token"}),
        ({"q": "stale"}, {"Stale 40 days", "Stale 100 days"}),
        ({"q": "grace@example.com"}, {"Stale 40 days"}),
    ],
)
def test_token_list_filters_and_search(admin_client, user, other_user, query, expected):
    now = timezone.now()
    create_token(user, "Live")
    create_token(user, "Expired one", expires_at=now - timedelta(days=1))
    deleted, _raw = create_token(user, "Deleted one")
    services.api_token_revoke(token=deleted, actor=user)
    stale, _raw = create_token(other_user, "Stale 40 days")
    older, _raw = create_token(user, "Stale 100 days")
    APIToken.objects.filter(pk=stale.pk).update(last_used_at=now - timedelta(days=40))
    APIToken.objects.filter(pk=older.pk).update(last_used_at=now - timedelta(days=100))
    staff_token, _raw = create_token(UserFactory(is_staff=True), "Staff token")
    APIToken.objects.filter(pk=staff_token.pk).update(last_used_at=now)
    response = admin_client.get(TOKEN_LIST, query)
    assert response.status_code == HTTPStatus.OK
    shown = {token.name for token in response.context["cl"].result_list}
    assert shown == expected


@pytest.mark.django_db
def test_token_search_by_identifier(admin_client, user, token):
    create_token(user, "Another integration")
    response = admin_client.get(TOKEN_LIST, {"q": token.identifier})
    assert [row.pk for row in response.context["cl"].result_list] == [token.pk]


@pytest.mark.django_db
def test_token_page_shows_recent_activity_and_security_log_read_only(admin_client, user, token):
    add_activity(token, count=3, at=timezone.now() - timedelta(hours=1), path="/api/v1/tokens/")
    response = admin_client.get(_change_url("apitoken", token.pk))
    assert response.status_code == HTTPStatus.OK
    assert "/api/v1/tokens/" in response.text
    assert "Token created" in response.text
    assert f"?token={token.public_id}" in response.text
    assert 'name="name"' not in response.text  # no editable form field
    assert 'name="_save"' not in response.text


@pytest.mark.django_db
def test_token_page_runs_a_bounded_number_of_queries(
    admin_client, many_rows, django_assert_max_num_queries
):
    with django_assert_max_num_queries(9):
        response = admin_client.get(_change_url("apitoken", many_rows[0].pk))
    assert response.status_code == HTTPStatus.OK


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_admin_token_page_shows_the_list(admin_client, user):
    token, _ = create_token(user, allowed_ips="203.0.113.7\n2001:db8::/32")
    page = admin_client.get(
        reverse("admin:apitokens_apitoken_change", args=[token.pk])
    ).content.decode()
    assert "IP allowlist" in page
    assert "2001:db8::/32" in page
