"""The token list's staff actions (apitokens/admin/actions.py): revoke the selected tokens, and
bring their expiry forward to meet the token policy."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apitokens import expiry, services
from apitokens.api.lookup import authenticate_token
from apitokens.models import APIToken, SecurityEvent, TokenPolicy
from tests.apitokens.activity_factories import AUDIT_VIEW_PERMISSIONS, staff_user
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db


TOKEN_LIST = reverse("admin:apitokens_apitoken_changelist")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def _change_url(model: str, pk: int) -> str:
    return reverse(f"admin:apitokens_{model}_change", args=[pk])


# --- The revoke action ------------------------------------------------------------------------


def _revoke_post(client, tokens, **extra):
    data = {"action": "revoke_selected", ACTION_CHECKBOX_NAME: [t.pk for t in tokens], **extra}
    return client.post(TOKEN_LIST, data)


def test_revoke_action_asks_for_confirmation_first(admin_client, user, token):
    response = _revoke_post(admin_client, [token])
    assert response.status_code == HTTPStatus.OK
    assert "Production Website Integration" in response.text
    assert "loses access immediately" in response.text
    assert 'name="post" value="yes"' in response.text
    token.refresh_from_db()
    assert token.revoked_at is None


def test_revoke_action_revokes_through_the_service_and_records_the_staff_member(
    client, user, other_user, token
):
    staff = staff_user(*AUDIT_VIEW_PERMISSIONS, "apitokens.delete_apitoken")
    client.force_login(staff)
    second, raw = create_token(other_user, "Mobile App Backend")
    response = _revoke_post(client, [token, second], post="yes")
    assert response.status_code == HTTPStatus.FOUND
    for revoked in (token, second):
        revoked.refresh_from_db()
        assert revoked.revoked_at is not None
        assert revoked.revoked_by == staff
        assert revoked.revoked_reason == APIToken.RevokedBy.STAFF
        event = SecurityEvent.objects.get(token=revoked, kind=SecurityEvent.Kind.DELETED)
        assert event.actor == staff
        assert event.actor_kind == SecurityEvent.Actor.STAFF
    assert authenticate_token(raw).reason == "revoked"
    messages = [str(message) for message in response.wsgi_request._messages]
    assert any("Deleted (revoked) 2 tokens" in message for message in messages)


def test_revoke_action_leaves_already_deleted_tokens_alone(admin_client, superuser, user, token):
    services.api_token_revoke(token=token, actor=user)
    token.refresh_from_db()
    revoked_at = token.revoked_at
    response = _revoke_post(admin_client, [token])
    assert "already deleted" in response.text
    _revoke_post(admin_client, [token], post="yes")
    token.refresh_from_db()
    assert token.revoked_at == revoked_at
    assert token.revoked_by == user
    assert SecurityEvent.objects.filter(token=token, kind="deleted").count() == 1


def test_revoke_action_is_not_offered_without_the_delete_permission(client, token):
    client.force_login(staff_user(*AUDIT_VIEW_PERMISSIONS))
    response = client.get(TOKEN_LIST)
    assert "revoke_selected" not in response.text
    _revoke_post(client, [token], post="yes")
    token.refresh_from_db()
    assert token.revoked_at is None


def test_revoke_action_from_the_token_page(admin_client, superuser, token):
    url = _change_url("apitoken", token.pk)
    page = admin_client.get(url)
    assert '<option value="revoke_selected">' in page.text
    data = {"CHANGE_FORM-action": "revoke_selected", ACTION_CHECKBOX_NAME: [token.pk]}
    confirmation = admin_client.post(url, data)
    assert confirmation.status_code == HTTPStatus.OK
    assert 'name="CHANGE_FORM-action"' in confirmation.text
    response = admin_client.post(url, {**data, "post": "yes"})
    assert response.status_code == HTTPStatus.FOUND
    token.refresh_from_db()
    assert token.revoked_by == superuser


def save_policy(**values) -> TokenPolicy:
    current = TokenPolicy.current()
    for field, value in values.items():
        setattr(current, field, value)
    services.token_policy_save(policy=current, actor=None)
    return current


def test_expire_action_asks_for_a_date_first(admin_client, mixed_tokens):
    save_policy(max_lifetime_days=30)
    ids = [mixed_tokens["forever"].pk, mixed_tokens["long"].pk, mixed_tokens["gone"].pk]
    page = admin_client.post(TOKEN_LIST, {"action": "expire_selected", ACTION_CHECKBOX_NAME: ids})
    assert page.status_code == HTTPStatus.OK
    assert 'type="date"' in page.text
    assert "never expires" in page.text
    assert "expires more than 30 days from today" in page.text
    assert "1 selected token is deleted or expired" in page.text
    assert APIToken.objects.get(pk=mixed_tokens["forever"].pk).expires_at is None


def test_expire_action_refuses_a_past_date_with_a_message(admin_client, mixed_tokens):
    ids = [mixed_tokens["forever"].pk]
    today = timezone.localdate()
    page = admin_client.post(
        TOKEN_LIST,
        {
            "action": "expire_selected",
            ACTION_CHECKBOX_NAME: ids,
            "post": "yes",
            "expires_on": today.isoformat(),
        },
    )
    assert page.status_code == HTTPStatus.OK
    assert "Choose a date after today" in page.text
    assert APIToken.objects.get(pk=mixed_tokens["forever"].pk).expires_at is None


@pytest.mark.django_db(transaction=True)
def test_expire_action_sets_the_date_logs_and_emails_owners(admin_client, user, other_user):
    now = timezone.now()
    forever, _ = create_token(user, "Forever job")
    long, _ = create_token(user, "Long job", expires_at=now + timedelta(days=200))
    short, _ = create_token(other_user, "Short job", expires_at=now + timedelta(days=2))
    mail.outbox.clear()
    day = timezone.localdate() + timedelta(days=10)
    response = admin_client.post(
        TOKEN_LIST,
        {
            "action": "expire_selected",
            ACTION_CHECKBOX_NAME: [forever.pk, long.pk, short.pk],
            "post": "yes",
            "expires_on": day.isoformat(),
        },
        follow=True,
    )
    assert "2 tokens now expire on" in response.text
    for token in (forever, long):
        token.refresh_from_db()
        assert token.expires_at == expiry.end_of_day(day)
        event = SecurityEvent.objects.get(token=token, kind=SecurityEvent.Kind.EXPIRY_CHANGED)
        assert event.actor_kind == SecurityEvent.Actor.STAFF
        assert "token policy" in event.detail
    short.refresh_from_db()
    assert short.expires_at < expiry.end_of_day(day)  # already earlier: left alone
    assert sorted(message.to[0] for message in mail.outbox) == [user.email, user.email]
    assert all("now expires on" in message.subject for message in mail.outbox)
    assert "token policy" in mail.outbox[0].body


def test_expire_action_needs_the_revoke_permission(client, mixed_tokens):
    viewer = staff_user("apitokens.view_apitoken")
    client.force_login(viewer)
    page = client.get(TOKEN_LIST)
    assert "expire_selected" not in page.text
