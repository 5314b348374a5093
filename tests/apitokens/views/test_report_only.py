"""Report-only IP allowlists on the token pages: the mode's choice in the create and edit
forms (apitokens/views/listing.py, changes.py), the token page's badge, count and filter
(detail.py), and "Enforce now" (changes.token_allowlist_enforce)."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import sudo
from apitokens import services
from apitokens.models import APIToken, SecurityEvent, TokenPolicy
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def url(name, token):
    return reverse(f"apitokens:{name}", args=[token.public_id])


def edit_data(token, **overrides):
    data = {"name": token.name, "scopes": ["read"], "allowed_ips": "203.0.113.0/24"}
    data.update(overrides)
    return data


def require_allowlist():
    policy = TokenPolicy.current()
    policy.allowlist_required = True
    services.token_policy_save(policy=policy, actor=None)


def report_only_token(user, name="Warehouse sync job", allowed_ips="203.0.113.0/24"):
    token, _ = create_token(user, name, allowed_ips=allowed_ips, allowlist_report_only=True)
    return token


# --- The forms ------------------------------------------------------------------------------


def test_edit_form_offers_enforce_and_report_only_with_the_current_mode_checked(user_client, user):
    token = report_only_token(user)
    page = user_client.get(url("edit", token)).text
    assert "Enforce: refuse it" in page
    assert "Report only (log requests from other addresses, refuse none)" in page
    assert 'value="report_only" id="id_allowlist_report_only_1" checked>' in page
    assert 'value="enforce" id="id_allowlist_report_only_0">' in page


def test_saving_report_only_stores_the_mode_and_logs_it(user_client, user):
    token, _ = create_token(user, "Office backup job")
    response = user_client.post(
        url("edit", token), edit_data(token, allowlist_report_only="report_only")
    )
    assert response.status_code == HTTPStatus.FOUND
    token.refresh_from_db()
    assert (token.allowed_ips, token.allowlist_report_only) == ("203.0.113.0/24", True)
    event = SecurityEvent.objects.get(token=token, kind=SecurityEvent.Kind.ALLOWLIST_CHANGED)
    assert event.detail == (
        "IP allowlist changed from “any address” to “203.0.113.0/24” (report only)"
    )
    # The mode alone changes: logged with both modes named.
    user_client.post(url("edit", token), edit_data(token, allowlist_report_only="enforce"))
    token.refresh_from_db()
    assert token.allowlist_report_only is False
    latest = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.ALLOWLIST_CHANGED).first()
    assert latest.detail == (
        "IP allowlist changed from “203.0.113.0/24” (report only) to “203.0.113.0/24” (enforced)"
    )


def test_a_form_that_sends_no_mode_enforces(user_client, user):
    token = report_only_token(user)
    user_client.post(url("edit", token), edit_data(token))
    token.refresh_from_db()
    assert token.allowlist_report_only is False


def test_an_unknown_mode_is_a_form_message_not_a_500(user_client, user):
    token = report_only_token(user)
    for value in ("both", "<b>x</b>", "report_only\x00", "ｒｅｐｏｒｔ_only"):
        data = edit_data(token, allowlist_report_only=value)
        response = user_client.post(url("edit", token), data)
        assert response.status_code == HTTPStatus.OK
        assert "Choose Enforce or Report only." in response.text
    token.refresh_from_db()
    assert token.allowlist_report_only is True


def test_report_only_without_a_list_stores_enforce(user_client, user):
    token, _ = create_token(user, "Office backup job")
    user_client.post(
        url("edit", token), edit_data(token, allowed_ips="", allowlist_report_only="report_only")
    )
    token.refresh_from_db()
    assert (token.allowed_ips, token.allowlist_report_only) == ("", False)
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.ALLOWLIST_CHANGED).exists()


@pytest.mark.parametrize("typed", ["0.0.0.0/0", "::/0", "0.0.0.0/1\n128.0.0.0/1"])
def test_a_list_that_admits_everything_is_refused_in_report_only_too(user_client, user, typed):
    token, _ = create_token(user, "Office backup job")
    response = user_client.post(
        url("edit", token), edit_data(token, allowed_ips=typed, allowlist_report_only="report_only")
    )
    assert response.status_code == HTTPStatus.OK
    assert "restrict nothing" in response.text or "allows every address" in response.text
    token.refresh_from_db()
    assert (token.allowed_ips, token.allowlist_report_only) == ("", False)


def test_create_in_report_only_mode(user_client, user):
    data = {
        "name": "Warehouse sync job",
        "expiry": "90",
        "scopes": ["read"],
        "allowed_ips": "2001:db8::/48",
        "allowlist_report_only": "report_only",
    }
    response = user_client.post(reverse("apitokens:new"), data)
    assert response.status_code == HTTPStatus.OK
    token = APIToken.objects.get(name="Warehouse sync job")
    assert (token.allowed_ips, token.allowlist_report_only) == ("2001:db8::/48", True)
    created = SecurityEvent.objects.get(token=token, kind=SecurityEvent.Kind.CREATED)
    assert "report-only" in created.detail


def test_a_policy_requiring_an_allowlist_refuses_report_only_at_create(user_client, user):
    require_allowlist()
    data = {
        "name": "Warehouse sync job",
        "expiry": "90",
        "scopes": ["read"],
        "allowed_ips": "203.0.113.7",
        "allowlist_report_only": "report_only",
    }
    response = user_client.post(reverse("apitokens:new"), data)
    assert response.status_code == HTTPStatus.OK
    assert "requires an enforced IP allowlist" in response.text
    assert "new tokens need an IP allowlist, enforced (not report only)" in response.text
    assert not APIToken.objects.filter(name="Warehouse sync job").exists()
    # Enforced, the same list meets the policy.
    user_client.post(reverse("apitokens:new"), {**data, "allowlist_report_only": "enforce"})
    assert APIToken.objects.get(name="Warehouse sync job").allowlist_report_only is False


def test_a_policy_requiring_an_allowlist_refuses_report_only_at_edit(user_client, user):
    token, _ = create_token(user, "Office backup job", allowed_ips="203.0.113.7")
    require_allowlist()
    response = user_client.post(
        url("edit", token), edit_data(token, allowlist_report_only="report_only"), headers=HTMX
    )
    assert response.status_code == HTTPStatus.OK
    assert 'role="dialog"' in response.text  # the modal again, with the message
    assert "requires an enforced IP allowlist" in response.text
    token.refresh_from_db()
    assert (token.allowed_ips, token.allowlist_report_only) == ("203.0.113.7", False)


def test_switching_modes_from_two_sessions_keeps_the_last_save_and_logs_both(user, password):
    token, _ = create_token(user, "Office backup job", allowed_ips="203.0.113.0/24")
    first, second = Client(), Client()
    for session in (first, second):
        session.force_login(user)
        assert session.get(url("edit", token)).status_code == HTTPStatus.OK
    first.post(url("edit", token), edit_data(token, allowlist_report_only="report_only"))
    second.post(url("edit", token), edit_data(token, allowlist_report_only="enforce"))
    token.refresh_from_db()
    assert token.allowlist_report_only is False
    details = list(
        SecurityEvent.objects.filter(kind=SecurityEvent.Kind.ALLOWLIST_CHANGED)
        .order_by("id")
        .values_list("detail", flat=True)
    )
    assert details == [
        "IP allowlist changed from “203.0.113.0/24” (enforced) to “203.0.113.0/24” (report only)",
        "IP allowlist changed from “203.0.113.0/24” (report only) to “203.0.113.0/24” (enforced)",
    ]


def test_a_stale_copy_of_the_token_is_compared_with_the_row_as_it_is_now(user):
    # Two requests loaded the token before either saved: the second save is judged against
    # the saved row, so "enforce" is not mistaken for "unchanged" and skipped.
    token, _ = create_token(user, "Office backup job", allowed_ips="203.0.113.0/24")
    stale = APIToken.objects.get(pk=token.pk)
    services.api_token_update_allowed_ips(
        token=token, allowed_ips="203.0.113.0/24", report_only=True, actor=user
    )
    services.api_token_update_allowed_ips(
        token=stale, allowed_ips="203.0.113.0/24", report_only=False, actor=user
    )
    token.refresh_from_db()
    assert token.allowlist_report_only is False
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.ALLOWLIST_CHANGED).count() == 2


def test_saving_a_deleted_token_changes_nothing(user):
    token, _ = create_token(user, "Office backup job")
    stale = APIToken.objects.get(pk=token.pk)
    services.api_token_revoke(token=token, actor=user)
    services.api_token_update_allowed_ips(
        token=stale, allowed_ips="203.0.113.7", report_only=True, actor=user
    )
    token.refresh_from_db()
    assert (token.allowed_ips, token.allowlist_report_only) == ("", False)
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.ALLOWLIST_CHANGED).exists()


# --- The token page -------------------------------------------------------------------------


def test_token_page_shows_the_badge_and_what_would_have_been_refused(user_client, user):
    token = report_only_token(user)
    now = timezone.now()
    add_activity(token, count=3, at=now - timedelta(hours=2), outside_allowlist=True)
    add_activity(token, count=2, at=now - timedelta(hours=1), ip="203.0.113.9")
    # Older than the 30 days the count covers.
    add_activity(token, count=4, at=now - timedelta(days=31), outside_allowlist=True)
    other = report_only_token(user, name="Other job")
    add_activity(other, count=5, at=now - timedelta(hours=1), outside_allowlist=True)
    page = user_client.get(url("detail", token)).text
    assert 'id="allowlist-report-only"' in page and ">Report only</span>" in page
    assert "In the last 30 days," in page
    assert ">3 requests</a> would have been refused" in page
    assert f'action="{url("enforce_allowlist", token)}"' in page
    assert '<option value="outside">Would have been refused</option>' in page


def test_the_filter_lists_only_what_would_have_been_refused(user_client, user):
    token = report_only_token(user)
    now = timezone.now()
    add_activity(token, count=2, at=now - timedelta(hours=3), ip="198.51.100.9")
    add_activity(token, count=3, at=now - timedelta(hours=2), outside_allowlist=True)
    add_activity(token, count=1, at=now - timedelta(days=40), outside_allowlist=True)
    response = user_client.get(url("detail", token), {"status": "outside"})
    section = response.text.split('id="token-activity"', 1)[1].split("</section>", 1)[0]
    assert section.count("<tr") == 1 + 3  # the header row and the three rows
    assert section.count('>Outside<span class="visually-hidden"> the allowlist</span>') == 3
    assert "3 requests from outside the allowlist in the last 30 days" in section
    assert '<option value="outside" selected>' in section
    # htmx paging keeps the filter.
    partial = user_client.get(
        url("detail", token), {"status": "outside"}, headers={**HTMX, "HX-Target": "token-activity"}
    )
    assert "<html" not in partial.text and "from outside the allowlist" in partial.text


def test_the_filter_pages_by_cursor(user_client, user, monkeypatch):
    monkeypatch.setattr("apitokens.views.detail.ACTIVITY_PAGE_SIZE", 2)
    token = report_only_token(user)
    now = timezone.now()
    add_activity(token, count=3, at=now - timedelta(hours=2), outside_allowlist=True)
    add_activity(token, count=3, at=now - timedelta(hours=1), ip="203.0.113.9")
    first = user_client.get(url("detail", token), {"status": "outside"})
    older = first.context["activity"].older
    assert older and f"status=outside&amp;older={older}" in first.text
    second = user_client.get(url("detail", token), {"status": "outside", "older": older})
    rows = second.context["activity"].rows
    assert len(rows) == 1 and rows[0].outside_allowlist


@pytest.mark.parametrize("value", ["", "OUTSIDE", "outside\x00", "<script>", "x" * 5000])
def test_odd_filter_values_show_everything(user_client, user, value):
    token = report_only_token(user)
    add_activity(token, count=1, at=timezone.now() - timedelta(hours=1), ip="203.0.113.9")
    response = user_client.get(url("detail", token), {"status": value})
    assert response.status_code == HTTPStatus.OK
    assert len(response.context["activity"].rows) == 1


def test_an_enforced_list_shows_no_badge_count_or_button(user_client, user):
    token, _ = create_token(user, "Office backup job", allowed_ips="203.0.113.0/24")
    page = user_client.get(url("detail", token)).text
    assert 'id="allowlist-report-only"' not in page
    assert 'id="enforce-allowlist"' not in page
    # Past rows can still be listed (the filter stays while the token has a list).
    assert '<option value="outside">' in page
    plain, _ = create_token(user, "Nightly export job")
    assert '<option value="outside">' not in user_client.get(url("detail", plain)).text


def test_a_deleted_token_has_no_enforce_button(user_client, user):
    token = report_only_token(user)
    services.api_token_revoke(token=token, actor=user)
    page = user_client.get(url("detail", token)).text
    assert 'id="enforce-allowlist"' not in page


# --- Enforce now ----------------------------------------------------------------------------


def test_enforce_now_enforces_logs_and_says_so(user_client, user):
    token = report_only_token(user)
    response = user_client.post(url("enforce_allowlist", token), follow=True)
    assert response.redirect_chain[-1][0] == url("detail", token)
    assert "its IP allowlist is enforced" in response.text
    token.refresh_from_db()
    assert token.allowlist_report_only is False
    event = SecurityEvent.objects.get(token=token, kind=SecurityEvent.Kind.ALLOWLIST_ENFORCED)
    assert event.detail == "Requests from outside “203.0.113.0/24” are refused"
    assert event.actor == user and event.actor_kind == SecurityEvent.Actor.USER
    # The token page no longer offers it.
    assert 'id="enforce-allowlist"' not in response.text


def test_enforce_now_answers_htmx_with_the_page_too(user_client, user):
    token = report_only_token(user)
    response = user_client.post(url("enforce_allowlist", token), headers=HTMX)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == url("detail", token)
    assert "no-store" in response["Cache-Control"]


def test_enforce_now_twice_logs_once(user_client, user):
    token = report_only_token(user)
    user_client.post(url("enforce_allowlist", token))
    response = user_client.post(url("enforce_allowlist", token), follow=True)
    assert "has no report-only IP allowlist to enforce" in response.text
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.ALLOWLIST_ENFORCED).count() == 1


def test_enforce_now_on_another_users_token_is_404(user_client, other_user):
    token = report_only_token(other_user)
    assert user_client.post(url("enforce_allowlist", token)).status_code == HTTPStatus.NOT_FOUND
    token.refresh_from_db()
    assert token.allowlist_report_only is True


def test_enforce_now_needs_sudo(user_client, user):
    token = report_only_token(user)
    session = user_client.session
    session[sudo.SESSION_KEY] = 1_000_000.0
    session.save()
    response = user_client.post(url("enforce_allowlist", token))
    assert "Confirm it's you" in response.text
    token.refresh_from_db()
    assert token.allowlist_report_only is True
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.ALLOWLIST_ENFORCED).exists()


def test_enforce_now_without_csrf_is_forbidden(user):
    token = report_only_token(user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(url("enforce_allowlist", token)).status_code == HTTPStatus.FORBIDDEN
    token.refresh_from_db()
    assert token.allowlist_report_only is True


def test_enforce_now_is_post_only(user_client, user):
    token = report_only_token(user)
    response = user_client.get(url("enforce_allowlist", token))
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    token.refresh_from_db()
    assert token.allowlist_report_only is True


def test_enforce_now_on_a_deleted_token_says_so(user_client, user):
    token = report_only_token(user)
    services.api_token_revoke(token=token, actor=user)
    response = user_client.post(url("enforce_allowlist", token), follow=True)
    assert "was already deleted" in response.text
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.ALLOWLIST_ENFORCED).exists()


def test_anonymous_enforce_now_is_sent_to_log_in(client, user):
    token = report_only_token(user)
    response = client.post(url("enforce_allowlist", token))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("accounts:login"))
