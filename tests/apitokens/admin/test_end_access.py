"""The user page's "Delete all tokens and end all sessions" (accounts/admin.py, carried out
by accounts.services.account_access_end_by_staff and apitokens' signal receiver): a
confirmation page, then in one transaction every active token deleted (a security-log row
each), every session ended, one account-log line and ONE email to the owner."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.admin.models import LogEntry
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import AccountEvent, User
from accounts.services import account_access_end_by_staff
from accounts.sudo import SESSION_KEY as SUDO_SESSION_KEY
from apitokens import services
from apitokens.models import APIToken, SecurityEvent
from tests.accounts.factories import UserFactory
from tests.apitokens.activity_factories import staff_user
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db


def end_access_url(user_or_id) -> str:
    pk = getattr(user_or_id, "pk", user_or_id)
    return reverse("admin:accounts_user_end_access", args=[pk])


@pytest.fixture
def superuser():
    return UserFactory(email="root@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(superuser):
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def owner_tokens(user):
    first, _ = create_token(user, "Production Website Integration")
    second, _ = create_token(user, "Mobile App Backend")
    gone, _ = create_token(user, "Old job")
    services.api_token_revoke(token=gone, actor=user)
    return first, second, gone


@pytest.fixture
def owner_client(user):
    client = Client()
    client.force_login(user)
    assert client.get(reverse("accounts:security")).status_code == HTTPStatus.OK
    return client


def confirm(client, user, **data):
    user.refresh_from_db()
    return client.post(
        end_access_url(user), {"sessions_version": user.sessions_version, **data}, follow=True
    )


def test_get_shows_what_goes_and_changes_nothing(admin_client, user, owner_tokens):
    response = admin_client.get(end_access_url(user))
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert "Delete all tokens and end all sessions?" in page
    assert "Production Website Integration" in page and "Mobile App Backend" in page
    assert "Old job" not in page  # already deleted
    assert 'name="csrfmiddlewaretoken"' in page
    assert APIToken.objects.filter(owner=user).active().count() == 2
    assert not AccountEvent.objects.filter(user=user).exists()
    assert "no-store" in response["Cache-Control"]


def test_confirming_deletes_every_token_ends_sessions_and_emails_once(
    admin_client, superuser, user, owner_tokens, owner_client, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    session = owner_client.session
    session[SUDO_SESSION_KEY] = 1.0
    session.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(admin_client, user)
    assert "Ended every session of ada@example.com and deleted 2 API tokens" in response.text
    assert not APIToken.objects.filter(owner=user).active().exists()
    deletions = SecurityEvent.objects.filter(
        account=user, kind=SecurityEvent.Kind.DELETED, actor=superuser
    )
    assert deletions.count() == 2
    assert {event.actor_kind for event in deletions} == {SecurityEvent.Actor.STAFF}
    assert set(
        APIToken.objects.filter(pk__in=[t.pk for t in owner_tokens[:2]]).values_list(
            "revoked_reason", flat=True
        )
    ) == {APIToken.RevokedBy.STAFF}
    # The owner's session (and its sudo state) is gone: the next request is signed out.
    answer = owner_client.get(reverse("accounts:security"))
    assert answer.status_code == HTTPStatus.FOUND
    assert reverse("accounts:login") in answer["Location"]
    event = AccountEvent.objects.get(user=user)
    assert event.kind == AccountEvent.Kind.SESSIONS_ENDED_BY_STAFF
    assert event.detail == "By QuickBot staff; 2 API tokens deleted"
    assert event.ip is None  # the owner's log never shows the staff member's address
    assert [message.to for message in mail.outbox] == [[user.email]]
    assert "signed your account out everywhere" in mail.outbox[0].subject
    assert "your 2 API tokens were deleted" in mail.outbox[0].body
    assert LogEntry.objects.filter(object_id=str(user.pk), user=superuser).exists()


def test_an_account_without_tokens_still_has_its_sessions_ended(
    admin_client, user, owner_client, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(admin_client, user)
    assert "deleted 0 API tokens" in response.text
    assert owner_client.get(reverse("accounts:security")).status_code == HTTPStatus.FOUND
    assert len(mail.outbox) == 1
    assert "API token" not in mail.outbox[0].body


def test_a_double_submit_acts_once(
    admin_client, user, owner_tokens, django_capture_on_commit_callbacks
):
    user.refresh_from_db()
    data = {"sessions_version": user.sessions_version}
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(end_access_url(user), data)
        second = admin_client.post(end_access_url(user), data, follow=True)
    assert "Nothing to do" in second.text
    assert AccountEvent.objects.filter(user=user).count() == 1
    assert len(mail.outbox) == 1
    user.refresh_from_db()
    assert user.sessions_version == data["sessions_version"] + 1


@pytest.mark.parametrize("version", ["", "abc", "\x00", "-1", "99999999999999999999"])
def test_a_garbled_confirmation_shows_the_page_again_and_changes_nothing(
    admin_client, user, owner_tokens, version
):
    response = admin_client.post(end_access_url(user), {"sessions_version": version})
    assert response.status_code == HTTPStatus.OK
    assert "The confirmation was not understood" in response.text
    assert APIToken.objects.filter(owner=user).active().count() == 2
    assert not AccountEvent.objects.filter(user=user).exists()


def test_the_confirmation_needs_csrf(superuser, user, owner_tokens):
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    response = client.post(end_access_url(user), {"sessions_version": 0})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert APIToken.objects.filter(owner=user).active().count() == 2


def test_non_staff_and_staff_without_the_change_permission_are_refused(
    client, user, other_user, owner_tokens
):
    confirmation = {"sessions_version": 0}
    client.force_login(other_user)
    assert client.post(end_access_url(user), confirmation).status_code == HTTPStatus.FOUND
    client.force_login(staff_user("accounts.view_user", email="viewer@example.com"))
    assert client.get(end_access_url(user)).status_code == HTTPStatus.FORBIDDEN
    assert client.post(end_access_url(user), confirmation).status_code == HTTPStatus.FORBIDDEN
    assert APIToken.objects.filter(owner=user).active().count() == 2


@pytest.mark.parametrize("object_id", ["999999", "abc", "99999999999999999999", "1%00"])
def test_an_unknown_or_garbage_id_is_404(admin_client, object_id):
    url = reverse("admin:accounts_user_change", args=[1]).replace("/1/", f"/{object_id}/")
    response = admin_client.get(url.replace("/change/", "/end-access/"))
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_staff_cannot_end_their_own_access_here(admin_client, superuser):
    superuser.refresh_from_db()
    response = admin_client.post(
        end_access_url(superuser), {"sessions_version": superuser.sessions_version}, follow=True
    )
    assert "You cannot end your own sessions here" in response.text
    superuser.refresh_from_db()
    assert superuser.sessions_version == 0
    assert admin_client.get(reverse("admin:index")).status_code == HTTPStatus.OK


def test_the_user_page_links_to_the_action_but_not_on_ones_own_page(admin_client, superuser, user):
    page = admin_client.get(reverse("admin:accounts_user_change", args=[user.pk])).text
    assert end_access_url(user) in page
    own = admin_client.get(reverse("admin:accounts_user_change", args=[superuser.pk])).text
    assert end_access_url(superuser) not in own


def test_a_failure_midway_changes_nothing(superuser, user, owner_tokens, monkeypatch):
    """One transaction: a token that cannot be deleted leaves every token and session."""
    calls = []

    def failing_revoke(**kwargs):
        calls.append(kwargs["token"].pk)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real_revoke(**kwargs)

    real_revoke = services.staff.api_token_revoke
    monkeypatch.setattr(services.staff, "api_token_revoke", failing_revoke)
    user.refresh_from_db()
    with pytest.raises(RuntimeError):
        account_access_end_by_staff(
            user=user, actor=superuser, expected_sessions_version=user.sessions_version
        )
    assert len(calls) == 2
    assert APIToken.objects.filter(owner=user).active().count() == 2
    assert User.objects.get(pk=user.pk).sessions_version == 0
    assert not SecurityEvent.objects.filter(actor=superuser).exists()
    assert not AccountEvent.objects.filter(user=user).exists()


def test_the_owner_page_revoke_still_emails_per_token(
    user, owner_tokens, django_capture_on_commit_callbacks
):
    """Only the bulk action suppresses the per-token email."""
    token, _ = create_token(user, "Single job")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.api_token_revoke(token=token, actor=user)
    assert len(mail.outbox) == 1
