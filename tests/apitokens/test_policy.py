"""The staff token policy: one row edited in the admin (defaults from the environment), the
create form and regenerations follow it, the stale rule reads it, and tokens that break it
are listed for staff with a bulk action that expires them on a chosen date."""

from __future__ import annotations

from datetime import date, timedelta
from http import HTTPStatus

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apitokens import expiry, policy, services, stale
from apitokens.forms import TokenCreateForm
from apitokens.models import APIToken, SecurityEvent, TokenPolicy
from tests.apitokens.activity_factories import staff_user
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

POLICY_URL = reverse("admin:apitokens_tokenpolicy_change", args=[1])
TOKEN_LIST = reverse("admin:apitokens_apitoken_changelist")


def save_policy(**values) -> TokenPolicy:
    current = TokenPolicy.current()
    for field, value in values.items():
        setattr(current, field, value)
    services.token_policy_save(policy=current, actor=None)
    return current


def create_data(**overrides):
    data = {"name": "Warehouse sync job", "expiry": "90", "scopes": ["read"], "allowed_ips": ""}
    data.update(overrides)
    return data


# --- The singleton and its defaults -------------------------------------------------------


def test_without_a_row_the_environment_defaults_apply(settings):
    settings.QUICKBOT_TOKEN_MAX_LIFETIME_DAYS = 30
    settings.QUICKBOT_STALE_TOKEN_DAYS = 45
    current = TokenPolicy.current()
    assert (current.max_lifetime_days, current.expiry_required) == (30, True)
    assert (current.allowlist_required, current.stale_token_days) == (False, 45)
    assert not TokenPolicy.objects.exists()


def test_the_saved_row_wins_over_the_environment(settings):
    settings.QUICKBOT_TOKEN_MAX_LIFETIME_DAYS = 30
    save_policy(max_lifetime_days=7, allowlist_required=True)
    current = TokenPolicy.current()
    assert (current.max_lifetime_days, current.allowlist_required) == (7, True)
    assert TokenPolicy.objects.get().pk == 1


def test_current_never_raises(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no table yet")

    monkeypatch.setattr(TokenPolicy.objects, "filter", broken)
    assert TokenPolicy.current().max_lifetime_days == 0


def test_stale_rule_reads_the_policy_else_the_setting(settings):
    settings.QUICKBOT_STALE_TOKEN_DAYS = 60
    assert stale.stale_after_days() == 60
    save_policy(stale_token_days=14)
    assert stale.stale_after_days() == 14
    save_policy(stale_token_days=0)
    assert stale.stale_after_days() == 0


def test_the_stale_rule_reads_the_policy_once_per_memo(django_assert_num_queries):
    save_policy(stale_token_days=14)
    policy.policy_forget()
    with django_assert_num_queries(1):
        for _ in range(5):
            stale.stale_after_days()


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


# --- The create form, regenerations --------------------------------------------------------


def test_create_form_offers_only_what_the_policy_allows_and_says_why(user):
    save_policy(max_lifetime_days=30)
    form = TokenCreateForm(user=user)
    values = [value for value, _ in form.fields["expiry"].choices]
    assert values == ["7", "30", "custom"]
    assert "tokens expire within 30 days" in " ".join(form.policy_notes)
    assert not form.allows_no_expiration
    refused = TokenCreateForm(create_data(expiry="90"), user=user)
    assert not refused.is_valid()


def test_expiry_required_without_a_maximum_removes_no_expiration(user):
    save_policy(expiry_required=True)
    form = TokenCreateForm(user=user)
    values = [value for value, _ in form.fields["expiry"].choices]
    assert expiry.EXPIRY_NONE not in values and "90" in values
    assert "every token must expire" in " ".join(form.policy_notes)
    refused = TokenCreateForm(create_data(expiry="none"), user=user)
    assert not refused.is_valid()
    assert "offered expiry options" in refused.errors["expiry"][0]


def test_allowlist_required_for_new_tokens(user):
    save_policy(allowlist_required=True)
    refused = TokenCreateForm(create_data(), user=user)
    assert not refused.is_valid()
    assert refused.errors.as_data()["allowed_ips"][0].code == "required"
    assert "requires an IP allowlist" in refused.errors["allowed_ips"][0]
    assert TokenCreateForm(create_data(allowed_ips="203.0.113.7"), user=user).is_valid()


def test_create_page_shows_the_policy_note(user_client):
    save_policy(allowlist_required=True, expiry_required=True)
    page = user_client.get("/account/tokens/new/").content.decode()
    assert "Your site's token policy:" in page
    assert "new tokens need an IP allowlist" in page
    assert 'value="none"' not in page


def test_without_a_policy_the_form_is_unchanged(user):
    form = TokenCreateForm(user=user)
    assert form.policy_notes == []
    assert expiry.EXPIRY_NONE in [value for value, _ in form.fields["expiry"].choices]


def test_regeneration_applies_the_maximum_in_force(user):
    token, _ = create_token(user, expires_at=timezone.now() + timedelta(days=90), lifetime_days=90)
    save_policy(max_lifetime_days=14)
    moment = timezone.now()
    token, _ = services.api_token_regenerate(
        token=token, actor=user, overlap=timedelta(0), now=moment
    )
    assert token.expires_at == moment + timedelta(days=14)


def test_regenerating_a_token_that_never_expires_when_expiry_is_required(user):
    token, _ = create_token(user)
    save_policy(expiry_required=True)
    moment = timezone.now()
    token, _ = services.api_token_regenerate(
        token=token, actor=user, overlap=timedelta(0), now=moment
    )
    assert token.expires_at == moment + timedelta(days=90)


def test_api_rotation_follows_the_policy_too(client, user):
    _, raw = create_token(user, scopes=("read", "write"))
    save_policy(max_lifetime_days=10)
    response = client.post(
        "/api/v1/tokens/current/rotate",
        "",
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    expires = date.fromisoformat(body["token"]["expires_at"][:10])
    assert expires <= timezone.now().date() + timedelta(days=10)


# --- Tokens that break the policy -----------------------------------------------------------


@pytest.fixture
def mixed_tokens(user, other_user):
    now = timezone.now()
    forever, _ = create_token(user, "Forever job")
    long, _ = create_token(user, "Long job", expires_at=now + timedelta(days=200))
    short, _ = create_token(user, "Short job", expires_at=now + timedelta(days=5))
    open_, _ = create_token(
        other_user, "Open job", expires_at=now + timedelta(days=5), allowed_ips=""
    )
    fenced, _ = create_token(
        other_user, "Fenced job", expires_at=now + timedelta(days=5), allowed_ips="203.0.113.7"
    )
    gone, _ = create_token(user, "Gone job")
    services.api_token_revoke(token=gone, actor=user)
    return {
        "forever": forever,
        "long": long,
        "short": short,
        "open": open_,
        "fenced": fenced,
        "gone": gone,
    }


def breaking_names(admin_client) -> set[str]:
    response = admin_client.get(TOKEN_LIST, {"policy": "breaks"})
    assert response.status_code == HTTPStatus.OK
    return {token.name for token in response.context["cl"].result_list}


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
