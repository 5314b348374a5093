"""A token page's right-sizing suggestions (apitokens/views/suggestions.py and the delete
confirmation): shown, applied in one click, re-checked at apply time, dismissed for good."""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import sudo
from apitokens.models import SecurityEvent, TokenSuggestionDismissal
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db
Kind = TokenSuggestionDismissal.Kind
HTMX = {"HX-Request": "true"}


def make(user, *, age_days=40, scopes=("read", "write"), **kwargs):
    now = timezone.now()
    token, _ = create_token(user, now=now - timedelta(days=age_days), scopes=scopes, **kwargs)
    return token


def use(token, *, days_ago=2.0, **kwargs):
    at = timezone.now() - timedelta(days=days_ago)
    rows = add_activity(token, at=at, **kwargs)
    token.last_used_at = max(row.created_at for row in rows)
    token.save(update_fields=["last_used_at"])


def page_url(token):
    return reverse("apitokens:detail", args=[token.public_id])


def apply_url(token, kind):
    return reverse("apitokens:suggestion_apply", args=[token.public_id, kind])


def dismiss_url(token, kind):
    return reverse("apitokens:suggestion_dismiss", args=[token.public_id, kind])


def shown(response) -> str:
    return response.content.decode()


@pytest.fixture
def judged(user):
    """A read-write token 40 days old that only read, from two addresses of one /24."""
    token = make(user, name="Nightly report export")
    use(token, count=3, ip="198.51.100.10")
    use(token, count=2, ip="198.51.100.77")
    return token


def test_the_token_page_shows_the_suggestions_with_their_buttons(user_client, judged):
    page = shown(user_client.get(page_url(judged)))
    assert "No write requests in 30 days — make it read-only" in page
    assert "Every request in 30 days came from one network — allow only it" in page
    assert '<code class="allowlist-entry">198.51.100.0/24</code>' in page
    assert f'action="{apply_url(judged, "read_only")}"' in page
    assert 'name="allowed_ips" value="198.51.100.0/24"' in page
    edit_url = reverse("apitokens:edit", args=[judged.public_id])
    assert f"{edit_url}?allowed_ips=198.51.100.0/24" in page


def test_a_young_token_shows_no_suggestions(user_client, user):
    token = make(user, age_days=10)
    use(token)
    assert 'id="token-suggestions"' not in shown(user_client.get(page_url(token)))


def test_make_read_only_in_one_click_logs_it_like_an_edit(user_client, judged):
    response = user_client.post(apply_url(judged, "read_only"), follow=True)
    judged.refresh_from_db()
    assert judged.scope_list == ["read"]
    event = SecurityEvent.objects.get(token=judged, kind=SecurityEvent.Kind.SCOPES_CHANGED)
    assert "“read write” to “read”" in event.detail
    assert "Token ‘Nightly report export’ is now read-only." in shown(response)
    # Applied: the page no longer offers it.
    assert "make it read-only" not in shown(response)


def test_a_write_request_after_the_page_was_shown_refuses_read_only(user_client, judged):
    user_client.get(page_url(judged))
    use(judged, days_ago=0.001, method="POST", path="/api/v1/tokens/current/rotate")
    response = user_client.post(apply_url(judged, "read_only"), follow=True)
    judged.refresh_from_db()
    assert judged.scope_list == ["read", "write"]
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SCOPES_CHANGED).exists()
    assert "A request that needs write was made with ‘Nightly report export’" in shown(response)


def test_allow_only_these_sets_the_list_shown(user_client, judged):
    user_client.post(apply_url(judged, "allowlist"), {"allowed_ips": "198.51.100.0/24"})
    judged.refresh_from_db()
    assert judged.allowed_ips == "198.51.100.0/24"
    assert SecurityEvent.objects.filter(
        token=judged, kind=SecurityEvent.Kind.ALLOWLIST_CHANGED
    ).exists()


def test_a_new_address_after_the_page_was_shown_refuses_the_allowlist(user_client, judged):
    use(judged, days_ago=0.001, ip="203.0.113.5")
    response = user_client.post(
        apply_url(judged, "allowlist"), {"allowed_ips": "198.51.100.0/24"}, follow=True
    )
    judged.refresh_from_db()
    assert judged.allowed_ips == ""
    assert "was used from other addresses since this suggestion was shown" in shown(response)


@pytest.mark.parametrize(
    "posted", ["0.0.0.0/0", "198.51.0.0/16", "", "198.51.100.0/24,203.0.113.9", "x\x00y"]
)
def test_only_the_suggested_list_can_be_applied(user_client, judged, posted):
    response = user_client.post(apply_url(judged, "allowlist"), {"allowed_ips": posted})
    assert response.status_code == HTTPStatus.FOUND
    judged.refresh_from_db()
    assert judged.allowed_ips == ""


def test_a_double_submit_changes_and_logs_once(user_client, judged):
    user_client.post(apply_url(judged, "read_only"))
    second = user_client.post(apply_url(judged, "read_only"), follow=True)
    assert "Token ‘Nightly report export’ is already read-only." in shown(second)
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SCOPES_CHANGED).count() == 1


def test_dismiss_stays_dismissed_after_reload(user_client, judged):
    first = user_client.post(dismiss_url(judged, "read_only"))
    again = user_client.post(dismiss_url(judged, "read_only"))  # double click
    assert first.status_code == again.status_code == HTTPStatus.FOUND
    assert TokenSuggestionDismissal.objects.filter(token=judged).count() == 1
    page = shown(user_client.get(page_url(judged)))
    assert "make it read-only" not in page
    assert "allow only it" in page
    judged.refresh_from_db()
    assert judged.scope_list == ["read", "write"]


def test_another_users_token_is_a_404(judged, other_user):
    client = Client()
    client.force_login(other_user)
    for url in (apply_url(judged, "read_only"), dismiss_url(judged, "read_only")):
        assert client.post(url).status_code == HTTPStatus.NOT_FOUND
    assert not TokenSuggestionDismissal.objects.exists()
    judged.refresh_from_db()
    assert judged.scope_list == ["read", "write"]


@pytest.mark.parametrize("kind", ["delete", "bogus", "read_only\x00", "<b>x"])
def test_unknown_kinds_and_delete_are_not_applied_here(user_client, judged, kind):
    assert user_client.post(apply_url(judged, kind)).status_code == HTTPStatus.NOT_FOUND


def test_dismissing_an_unknown_kind_is_a_404(user_client, judged):
    assert user_client.post(dismiss_url(judged, "bogus")).status_code == HTTPStatus.NOT_FOUND
    assert not TokenSuggestionDismissal.objects.exists()


def test_missing_csrf_is_refused(user, judged):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(apply_url(judged, "read_only")).status_code == HTTPStatus.FORBIDDEN
    assert client.post(dismiss_url(judged, "read_only")).status_code == HTTPStatus.FORBIDDEN
    judged.refresh_from_db()
    assert judged.scope_list == ["read", "write"]
    assert not TokenSuggestionDismissal.objects.exists()


def test_get_never_applies(user_client, judged):
    for url in (apply_url(judged, "read_only"), dismiss_url(judged, "read_only")):
        assert user_client.get(url).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_apply_needs_sudo(user_client, judged):
    session = user_client.session
    session[sudo.SESSION_KEY] = 1_000_000.0
    session.save()
    response = user_client.post(apply_url(judged, "read_only"))
    assert 'name="sudo_password"' in shown(response)
    judged.refresh_from_db()
    assert judged.scope_list == ["read", "write"]


def test_signed_out_apply_goes_to_login(client, judged):
    response = client.post(apply_url(judged, "read_only"))
    assert response.status_code == HTTPStatus.FOUND
    assert reverse("accounts:login") in response.url


def test_a_deleted_token_is_not_changed(user_client, judged, user):
    user_client.post(reverse("apitokens:delete", args=[judged.public_id]))
    response = user_client.post(apply_url(judged, "read_only"), follow=True)
    assert "was already deleted" in shown(response)
    judged.refresh_from_db()
    assert judged.scope_list == ["read", "write"]


# --- Delete through the existing confirmation ---------------------------------------------


@pytest.fixture
def unused(user):
    token = make(user, age_days=100, name="Old import script")
    use(token, days_ago=70)
    return token


def test_the_delete_suggestion_opens_the_confirmation(user_client, unused):
    page = shown(user_client.get(page_url(unused)))
    assert "Not used for 70 days — delete it" in page
    delete_url = reverse("apitokens:delete", args=[unused.public_id])
    assert f'href="{delete_url}?suggestion=delete"' in page
    modal = shown(user_client.get(f"{delete_url}?suggestion=delete", headers=HTMX))
    assert 'name="suggestion" value="delete"' in modal
    user_client.post(delete_url, {"suggestion": "delete"})
    unused.refresh_from_db()
    assert unused.is_revoked


def test_a_token_used_since_the_delete_suggestion_is_not_deleted(user_client, unused):
    use(unused, days_ago=0.001)
    delete_url = reverse("apitokens:delete", args=[unused.public_id])
    response = user_client.post(delete_url, {"suggestion": "delete"}, follow=True)
    unused.refresh_from_db()
    assert not unused.is_revoked
    assert "‘Old import script’ was used since the suggestion to delete it was shown" in shown(
        response
    )
    # The plain confirmation still deletes it.
    user_client.post(delete_url)
    unused.refresh_from_db()
    assert unused.is_revoked


# --- "Edit first": the allowlist edit pre-filled ------------------------------------------


def test_edit_first_prefills_the_allowlist(user_client, judged):
    edit_url = reverse("apitokens:edit", args=[judged.public_id])
    form = shown(user_client.get(f"{edit_url}?allowed_ips=198.51.100.0/24,203.0.113.7"))
    assert "198.51.100.0/24\n203.0.113.7</textarea>" in form
    judged.refresh_from_db()
    assert judged.allowed_ips == ""


@pytest.mark.parametrize("bad", ["0.0.0.0/0", "::/0", "<script>", "1.2.3.4\x00", "9" * 5000])
def test_edit_ignores_an_unusable_allowlist_in_the_url(user_client, judged, bad):
    edit_url = reverse("apitokens:edit", args=[judged.public_id])
    response = user_client.get(edit_url, {"allowed_ips": bad})
    assert response.status_code == HTTPStatus.OK
    assert "<script>" not in shown(response)
    assert re.search(r'name="allowed_ips"[^>]*>\s*</textarea>', shown(response))
