"""Every audit page of the admin at once (tokens, activity, security log, dashboard: the
`apitokens.admin` package): who may see them, that none can add, change or delete audit rows,
bounded queries, and no search term that fails with a server error."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from apitokens.models import APIToken, SecurityEvent, TokenActivity
from tests.apitokens.activity_factories import AUDIT_VIEW_PERMISSIONS, add_activity, staff_user

pytestmark = pytest.mark.django_db


TOKEN_LIST = reverse("admin:apitokens_apitoken_changelist")


ACTIVITY_LIST = reverse("admin:apitokens_tokenactivity_changelist")


EVENT_LIST = reverse("admin:apitokens_securityevent_changelist")


DASHBOARD = reverse("admin:apitokens_dashboard")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def _change_url(model: str, pk: int) -> str:
    return reverse(f"admin:apitokens_{model}_change", args=[pk])


def _audit_pages(token: APIToken) -> list[str]:
    activity = add_activity(token, at=timezone.now() - timedelta(minutes=5))[0]
    event = SecurityEvent.objects.filter(token=token).first()
    return [
        TOKEN_LIST,
        _change_url("apitoken", token.pk),
        ACTIVITY_LIST,
        _change_url("tokenactivity", activity.pk),
        EVENT_LIST,
        _change_url("securityevent", event.pk),
        DASHBOARD,
    ]


# --- Permissions ------------------------------------------------------------------------------


def test_anonymous_is_sent_to_the_admin_login_on_every_audit_page(client, token):
    for url in _audit_pages(token):
        response = client.get(url)
        assert response.status_code == HTTPStatus.FOUND, url
        assert response["Location"].startswith(reverse("admin:login")), url


def test_normal_user_is_sent_to_the_admin_login_on_every_audit_page(user_client, token):
    for url in _audit_pages(token):
        response = user_client.get(url)
        assert response.status_code == HTTPStatus.FOUND, url
        assert response["Location"].startswith(reverse("admin:login")), url


def test_staff_without_permissions_is_refused_every_audit_page(client, token):
    client.force_login(staff_user())
    for url in _audit_pages(token):
        assert client.get(url).status_code == HTTPStatus.FORBIDDEN, url


def test_staff_with_view_permissions_sees_every_audit_page(client, token):
    client.force_login(staff_user(*AUDIT_VIEW_PERMISSIONS))
    for url in _audit_pages(token):
        assert client.get(url).status_code == HTTPStatus.OK, url


def test_superuser_sees_every_audit_page(admin_client, token):
    for url in _audit_pages(token):
        assert admin_client.get(url).status_code == HTTPStatus.OK, url


def test_nobody_can_add_tokens_activity_or_events_in_admin(admin_client):
    for model in ("apitoken", "tokenactivity", "securityevent"):
        response = admin_client.get(reverse(f"admin:apitokens_{model}_add"))
        assert response.status_code == HTTPStatus.FORBIDDEN, model


def test_activity_and_events_cannot_be_changed_or_deleted_in_admin(admin_client, token):
    activity = add_activity(token, at=timezone.now())[0]
    event = SecurityEvent.objects.get(token=token)
    for model, pk in (("tokenactivity", activity.pk), ("securityevent", event.pk)):
        delete_url = reverse(f"admin:apitokens_{model}_delete", args=[pk])
        assert admin_client.post(delete_url, {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN
        response = admin_client.post(_change_url(model, pk), {"status": "500", "kind": "renamed"})
        assert response.status_code == HTTPStatus.FORBIDDEN
    assert TokenActivity.objects.get(pk=activity.pk).status == 200
    assert SecurityEvent.objects.get(pk=event.pk).kind == SecurityEvent.Kind.CREATED


@pytest.mark.parametrize(
    ("url", "max_queries"),
    [(TOKEN_LIST, 6), (ACTIVITY_LIST, 7), (EVENT_LIST, 6), (DASHBOARD, 14)],
)
def test_admin_pages_run_a_bounded_number_of_queries(
    admin_client, many_rows, django_assert_max_num_queries, url, max_queries
):
    with django_assert_max_num_queries(max_queries):
        response = admin_client.get(url)
    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize("url", [TOKEN_LIST, ACTIVITY_LIST, EVENT_LIST])
@pytest.mark.parametrize(
    "term",
    [
        "grace@",
        "1.2.3",
        "::1",
        "203.0.113.7",
        "'; DROP TABLE x; --",
        "%",
        "_",
        "qb_",
        "/",
        "ü" * 300,
        "a\x00b",
    ],
)
def test_no_search_term_causes_a_server_error(admin_client, mixed_activity, url, term):
    assert admin_client.get(url, {"q": term}).status_code == HTTPStatus.OK
