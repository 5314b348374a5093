"""The API Tokens page and the Create Token form (apitokens/views/listing.py): the list, the value
shown once, limits, and notices."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apitokens import services, tokens
from apitokens.api.lookup import authenticate_token
from apitokens.models import APIToken, TokenPolicy
from tests.apitokens.factories import create_token

HTMX = {"HX-Request": "true"}


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_create_page_hint_and_list_saved(user_client, user):
    page = user_client.get("/account/tokens/new/", REMOTE_ADDR="198.51.100.23")
    assert "You are connecting from 198.51.100.23." in page.content.decode()
    response = user_client.post(
        "/account/tokens/new/",
        {
            "name": "Office backup job",
            "expiry": "30",
            "scopes": ["read"],
            "allowed_ips": "198.51.100.23 198.51.100.0/24",
        },
        headers=HTMX,
    )
    assert response.status_code == HTTPStatus.OK
    token = APIToken.objects.get(owner=user)
    assert token.allowed_ips == "198.51.100.23\n198.51.100.0/24"


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_create_modal_rerenders_with_the_message(user_client, user):
    response = user_client.post(
        "/account/tokens/new/",
        {"name": "Office backup job", "expiry": "30", "scopes": ["read"], "allowed_ips": "x.y"},
        headers=HTMX,
    )
    assert response.status_code == HTTPStatus.OK
    assert "is not an IPv4 or IPv6 address" in response.content.decode()
    assert not APIToken.objects.filter(owner=user).exists()


def detail_url(token) -> str:
    return reverse("apitokens:detail", args=[token.public_id])


@pytest.mark.django_db
def test_api_tokens_page_shows_the_banner_above_the_list(user, user_client, token):
    services.api_token_revoke(token=token, actor=user)
    services.api_token_dead_use_record(token=token, client=services.ClientInfo(ip="203.0.113.7"))
    response = user_client.get(reverse("apitokens:list"))
    assert response.status_code == HTTPStatus.OK
    html = response.text
    assert "Deleted token ‘Production Website Integration’ was used 1 time" in html
    assert html.index("security-alert") < html.index('id="token-table"')
    assert detail_url(token) in html


def save_policy(**values) -> TokenPolicy:
    current = TokenPolicy.current()
    for field, value in values.items():
        setattr(current, field, value)
    services.token_policy_save(policy=current, actor=None)
    return current


@pytest.mark.django_db
def test_create_page_shows_the_policy_note(user_client):
    save_policy(allowlist_required=True, expiry_required=True)
    page = user_client.get("/account/tokens/new/").content.decode()
    assert "Your site's token policy:" in page
    assert "new tokens need an IP allowlist" in page
    assert 'value="none"' not in page


# --- The owner's page ------------------------------------------------------------------


@pytest.mark.django_db
def test_token_page_marks_stale_tokens_with_a_delete_button(user_client, user):
    recent, _ = create_token(user, "Recent")
    unused, _ = create_token(user, "Forgotten")
    APIToken.objects.filter(pk=unused.pk).update(
        created_at=unused.created_at - timedelta(days=200),
        last_used_at=unused.created_at - timedelta(days=90),
    )
    page = user_client.get(reverse("apitokens:list")).content.decode()
    assert 'id="stale-notice"' in page
    assert "One token has not been used for 60 days" in page
    row = page.split(f'id="token-{unused.public_id}"')[1].split("</tr>")[0]
    assert f'id="token-{unused.public_id}" class="token-row is-stale"' in page
    assert ">Unused</span>" in row
    delete_url = reverse("apitokens:delete", args=[unused.public_id])
    assert f'hx-get="{delete_url}"' in row
    assert 'aria-label="Delete unused token Forgotten"' in row
    recent_row = page.split(f'id="token-{recent.public_id}"')[1].split("</tr>")[0]
    assert "Unused" not in recent_row


@pytest.mark.django_db
def test_token_page_without_stale_tokens_shows_no_notice(user_client, user):
    create_token(user, "Brand new")
    page = user_client.get(reverse("apitokens:list")).content.decode()
    assert "stale-notice" not in page and ">Unused</span>" not in page


LIST_URL = "/account/tokens/"


NEW_URL = "/account/tokens/new/"


VALUE_PATTERN = re.compile(r"qb_[0-9A-Za-z]{38}")


def create_payload(**overrides):
    data = {"name": "Production Website Integration", "expiry": "90", "scopes": ["read"]}
    data.update(overrides)
    return data


def url(name, token):
    return reverse(f"apitokens:{name}", args=[token.public_id])


def assert_not_cacheable(response):
    assert "no-store" in response["Cache-Control"]


def shown_value(response) -> str:
    match = VALUE_PATTERN.search(response.content.decode())
    assert match, "no token value in the response"
    return match.group(0)


def test_token_names_link_to_their_page(user_client, user):
    token, _ = create_token(user, "Production Website Integration")
    content = user_client.get(LIST_URL).content.decode()
    assert f'href="{url("detail", token)}"' in content


def test_list_is_get_only(user_client):
    assert user_client.post(LIST_URL).status_code == HTTPStatus.METHOD_NOT_ALLOWED


# --- The list ---------------------------------------------------------------------------


def test_empty_state_offers_create_button(user_client):
    response = user_client.get(LIST_URL)
    assert response.status_code == HTTPStatus.OK
    content = response.content.decode()
    assert "No API tokens yet" in content
    assert content.count(f'href="{NEW_URL}"') == 2  # page header and empty state
    assert "<table" not in content


def test_list_shows_columns_newest_first_without_values(user_client, user):
    now = timezone.now()
    older, older_raw = create_token(user, "Development Testing", now=now - timedelta(days=2))
    newer, newer_raw = create_token(user, "Mobile App Backend", now=now - timedelta(hours=1))
    response = user_client.get(LIST_URL)
    content = response.content.decode()
    for header in ["Token Name", "Token", "Created Date", "Last Used", "Permissions", "Expires"]:
        assert f">{header}</th>" in content
    assert content.index("Mobile App Backend") < content.index("Development Testing")
    assert newer.identifier in content and older.identifier in content
    assert older_raw not in content and newer_raw not in content
    assert not VALUE_PATTERN.search(content)
    assert older.created_at.isoformat() in content  # exact time in <time datetime>
    assert_not_cacheable(response)


def test_list_shows_last_used_never_or_relative(user_client, user):
    now = timezone.now()
    token, _ = create_token(user, "Production Website Integration")
    content = user_client.get(LIST_URL).content.decode()
    assert "Never" in content
    APIToken.objects.filter(pk=token.pk).update(last_used_at=now - timedelta(hours=3, minutes=5))
    content = user_client.get(LIST_URL).content.decode().replace("\xa0", " ")
    assert "3 hours ago" in content


def test_list_shows_permissions_and_expiry_states(user_client, user):
    now = timezone.now()
    create_token(user, "Soon expiring integration", expires_at=now + timedelta(days=3, hours=1))
    create_token(user, "Later expiring integration", expires_at=now + timedelta(days=12, hours=1))
    create_token(user, "Never expiring integration", scopes=("read", "write"))
    expired, _ = create_token(
        user, "Expired integration", expires_at=now - timedelta(days=1), now=now - timedelta(days=8)
    )
    content = user_client.get(LIST_URL).content.decode()
    assert "Expires in 3 days" in content
    assert "Expires in 12 days" in content
    assert content.count("Expiring soon") == 1
    assert "No expiration" in content
    assert "Expired on " in content
    assert ">Read</span>" in content and ">Write</span>" in content
    row = content[content.index(f'id="token-{expired.public_id}"') :]
    row = row[: row.index("</tr>")]
    assert "is-expired" in row
    assert url("delete", expired) in row
    assert url("regenerate", expired) not in row


def test_list_hides_deleted_and_other_users_tokens(user_client, user, other_user):
    gone, _ = create_token(user, "Retired integration")
    services.api_token_revoke(token=gone, actor=user)
    create_token(other_user, "Grace production server")
    content = user_client.get(LIST_URL).content.decode()
    assert "Retired integration" not in content
    assert "Grace production server" not in content
    assert "No API tokens yet" in content


def test_list_shows_hourly_request_limit(user_client, user, settings):
    settings.QUICKBOT_API_HOURLY_LIMIT = 1234
    content = user_client.get(LIST_URL).content.decode()
    assert "Hourly request limit" in content
    assert "1234" in content


def test_list_renders_when_usage_cannot_be_read(user_client, monkeypatch):
    def broken(user):
        raise ConnectionError("cache down")

    monkeypatch.setattr("apitokens.views.listing.usage_for", broken)
    response = user_client.get(LIST_URL)
    assert response.status_code == HTTPStatus.OK
    assert "Hourly request limit" not in response.content.decode()


def test_htmx_table_refresh_returns_only_the_table(user_client, user):
    create_token(user, "Production Website Integration")
    response = user_client.get(LIST_URL, headers={**HTMX, "HX-Target": "token-table"})
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="token-table"')
    assert "<html" not in content
    assert "Production Website Integration" in content
    assert_not_cacheable(response)


def test_names_are_escaped_everywhere(user_client, user):
    name = "<img src=x onerror=alert(1)> \"quoted\" 'deploy'"
    token, _ = create_token(user, name)
    for path in [LIST_URL, url("delete", token), url("edit", token), url("regenerate", token)]:
        content = user_client.get(path).content.decode()
        assert "<img src=x" not in content
        assert "&lt;img src=x onerror=alert(1)&gt;" in content
    response = user_client.post(url("delete", token), follow=True)
    assert "<img src=x" not in response.content.decode()


def test_at_limit_the_page_says_so(user_client, user, settings):
    settings.QUICKBOT_MAX_TOKENS_PER_USER = 1
    create_token(user, "Production Website Integration")
    assert "the most an account can have" in user_client.get(LIST_URL).content.decode()


# --- Create -----------------------------------------------------------------------------


def test_new_page_without_javascript_has_the_form(user_client):
    response = user_client.get(NEW_URL)
    content = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "<html" in content
    assert "Generate Token" in content
    assert 'name="csrfmiddlewaretoken"' in content
    assert "hx-post" not in content  # a plain form on the plain page
    assert "“Production Website Integration”" in content  # help text with examples
    assert "“Token 1”" in content


def test_htmx_get_returns_an_accessible_modal(user_client):
    response = user_client.get(NEW_URL, headers=HTMX)
    content = response.content.decode()
    assert "<html" not in content
    assert 'role="dialog"' in content
    assert 'aria-modal="true"' in content
    assert 'aria-labelledby="create-token-title"' in content
    assert 'id="create-token-title"' in content
    assert f'hx-post="{NEW_URL}"' in content


def test_get_new_creates_nothing(user_client):
    user_client.get(NEW_URL)
    user_client.get(NEW_URL, headers=HTMX)
    assert APIToken.objects.count() == 0


def test_htmx_create_shows_value_once_and_refreshes_list(user_client, user):
    response = user_client.post(
        NEW_URL, create_payload(scopes=["read", "write"], expiry="30"), headers=HTMX
    )
    assert response.status_code == HTTPStatus.OK
    assert_not_cacheable(response)
    assert json.loads(response["HX-Trigger"]) == {"tokensChanged": {}}
    value = shown_value(response)
    token = user.api_tokens.get()
    assert token.digest == tokens.token_digest(value)
    assert token.name == "Production Website Integration"
    assert token.scopes == "read write"
    assert token.lifetime_days == 30
    content = response.content.decode()
    assert "data-show-once" in content
    assert "will not be shown again" in content
    assert "data-copy" in content and ">Done<" in content
    # The list behind the modal: new row, never the value.
    listing = user_client.get(LIST_URL, headers={**HTMX, "HX-Target": "token-table"})
    assert token.identifier in listing.content.decode()
    assert value not in listing.content.decode()
    assert value not in user_client.get(LIST_URL).content.decode()


def test_create_without_javascript_renders_value_on_a_full_page(user_client, user):
    response = user_client.post(NEW_URL, create_payload())
    assert response.status_code == HTTPStatus.OK  # no redirect carrying the value
    assert_not_cacheable(response)
    content = response.content.decode()
    assert "<html" in content
    value = shown_value(response)
    assert authenticate_token(value).ok
    assert f'href="{LIST_URL}"' in content  # Done


def test_value_is_not_kept_in_session_or_logs(user_client, caplog):
    caplog.set_level(logging.DEBUG)
    response = user_client.post(NEW_URL, create_payload(), headers=HTMX)
    value = shown_value(response)
    assert value not in caplog.text
    session = user_client.session
    assert all(value not in str(stored) for _, stored in session.items())


def test_invalid_name_error_is_shown_in_the_modal(user_client):
    response = user_client.post(NEW_URL, create_payload(name="Token 1"), headers=HTMX)
    assert response.status_code == HTTPStatus.OK
    content = response.content.decode()
    assert 'role="dialog"' in content
    assert "where it will be used" in content
    assert 'aria-invalid="true"' in content
    assert "HX-Trigger" not in response
    assert APIToken.objects.count() == 0


@pytest.mark.parametrize(
    "name",
    ["", "     ", "x" * 10_000, "API Key", "test", "new token 2"],
    ids=["empty", "spaces", "10000-chars", "api-key", "test", "new-token-2"],
)
def test_bad_names_create_nothing(user_client, name):
    response = user_client.post(NEW_URL, create_payload(name=name), headers=HTMX)
    assert response.status_code == HTTPStatus.OK
    assert "field-errors" in response.content.decode()
    assert APIToken.objects.count() == 0


@pytest.mark.parametrize(
    "name",
    [
        "<b>Bold</b> deploy bot",
        'Ada\'s "quoted" laptop',
        "Déploiement 🚀 prod",
        "خادم الإنتاج",
    ],
)
def test_unusual_names_are_stored_as_typed(user_client, user, name):
    response = user_client.post(NEW_URL, create_payload(name=name), headers=HTMX)
    assert response.status_code == HTTPStatus.OK
    assert user.api_tokens.get().name == name


def test_double_submit_with_same_name_makes_one_token_and_an_error(user_client, user):
    first = user_client.post(NEW_URL, create_payload(), headers=HTMX)
    second = user_client.post(NEW_URL, create_payload(name="production website integration"))
    assert VALUE_PATTERN.search(first.content.decode())
    assert not VALUE_PATTERN.search(second.content.decode())
    assert "You already have a token named" in second.content.decode()
    assert user.api_tokens.count() == 1


def test_name_clash_at_the_database_is_a_form_error(user_client, user, monkeypatch):
    """Two requests passing validation together: the unique constraint decides."""
    create_token(user, "Production Website Integration")
    monkeypatch.setattr(
        "apitokens.forms.fields._TokenNameUniqueMixin.clean_name",
        lambda form: form.cleaned_data["name"],
    )
    response = user_client.post(NEW_URL, create_payload(), headers=HTMX)
    assert response.status_code == HTTPStatus.OK
    assert "You already have a token named" in response.content.decode()
    assert user.api_tokens.count() == 1


def test_two_quick_creates_with_distinct_names_make_two_tokens(user_client, user):
    user_client.post(NEW_URL, create_payload(name="Mobile App Backend"), headers=HTMX)
    user_client.post(NEW_URL, create_payload(name="Development Testing"), headers=HTMX)
    assert sorted(user.api_tokens.values_list("name", flat=True)) == [
        "Development Testing",
        "Mobile App Backend",
    ]


def test_token_limit_is_enforced(user_client, user, settings):
    settings.QUICKBOT_MAX_TOKENS_PER_USER = 2
    create_token(user, "First integration")
    create_token(user, "Second integration")
    response = user_client.post(NEW_URL, create_payload(), headers=HTMX)
    assert "limit of 2 active tokens" in response.content.decode()
    assert user.api_tokens.count() == 2


def test_token_limit_reached_at_the_service_is_the_forms_message(
    user_client, user, settings, monkeypatch
):
    """Two creates passing the form's hint together: the service decides under its lock."""
    settings.QUICKBOT_MAX_TOKENS_PER_USER = 1
    create_token(user, "First integration")
    monkeypatch.setattr("apitokens.forms.tokens.api_token_limit", lambda: 2)
    response = user_client.post(NEW_URL, create_payload(), headers=HTMX)
    assert response.status_code == HTTPStatus.OK
    assert "limit of 1 active tokens" in response.content.decode()
    assert not VALUE_PATTERN.search(response.content.decode())
    assert user.api_tokens.count() == 1


def test_unknown_permission_posted_by_hand_creates_nothing(user_client):
    response = user_client.post(NEW_URL, create_payload(scopes=["read", "admin"]), headers=HTMX)
    assert "is not a permission" in response.content.decode()
    assert APIToken.objects.count() == 0


def test_custom_expiry_in_the_past_is_refused(user_client):
    response = user_client.post(
        NEW_URL, create_payload(expiry="custom", custom_expiry_date="2001-01-01"), headers=HTMX
    )
    assert "in the past" in response.content.decode()
    assert APIToken.objects.count() == 0


def test_no_expiration_option_disappears_with_a_site_maximum(user_client, settings):
    assert "No expiration" in user_client.get(NEW_URL).content.decode()
    settings.QUICKBOT_TOKEN_MAX_LIFETIME_DAYS = 30
    content = user_client.get(NEW_URL).content.decode()
    assert 'value="none"' not in content
    assert 'value="90"' not in content
    response = user_client.post(NEW_URL, create_payload(expiry="none"), headers=HTMX)
    assert APIToken.objects.count() == 0
    assert "field-errors" in response.content.decode()


def test_create_without_csrf_token_is_forbidden(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(NEW_URL, create_payload())
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert APIToken.objects.count() == 0


def test_no_inline_script_or_event_handler_attributes(user_client, user):
    token, _ = create_token(user, "Mobile App Backend")
    pages = [
        user_client.get(LIST_URL),
        user_client.get(NEW_URL),
        user_client.get(NEW_URL, headers=HTMX),
        user_client.post(NEW_URL, create_payload(), headers=HTMX),
        user_client.post(NEW_URL, create_payload(name="Development Testing")),
        user_client.get(url("delete", token)),
        user_client.get(url("regenerate", token), headers=HTMX),
        user_client.get(url("edit", token)),
    ]
    for response in pages:
        content = response.content.decode()
        assert not re.search(r"<script(?![^>]*\ssrc=)", content)
        assert not re.search(r"\son[a-z]+\s*=", content, re.IGNORECASE)


def test_pages_answer_head_like_get(user_client, user):
    # HEAD (link checkers, `curl -I`, monitors) was refused with 405 on every page.
    from tests.apitokens.factories import create_token

    token, _raw = create_token(user, "Head request target")
    for url in [
        "/account/tokens/",
        "/account/tokens/new/",
        f"/account/tokens/{token.public_id}/",
        f"/account/tokens/{token.public_id}/edit/",
        f"/account/tokens/{token.public_id}/delete/",
        f"/account/tokens/{token.public_id}/regenerate/",
    ]:
        response = user_client.head(url)
        assert response.status_code == 200, url
        assert response.content == b"", url
    token.refresh_from_db()
    assert not token.is_revoked


# --- The show-once modal's curl line and live first-request line (issue 12) -------------


def test_created_modal_offers_a_curl_line_with_the_value_never_cached(user_client):
    response = user_client.post(NEW_URL, create_payload(), headers={"HX-Request": "true"})
    value = shown_value(response)
    content = response.content.decode()
    assert f"curl -H &quot;Authorization: Bearer {value}&quot; http://testserver/api/v1/me/" in (
        content
    )
    assert value not in response.get("HX-Trigger", "")
    assert_not_cacheable(response)


# --- The list after Done, and the usage bar (issue 12) ----------------------------------


def test_done_on_the_no_javascript_page_comes_back_with_the_new_row_highlighted(user_client, user):
    response = user_client.post(NEW_URL, create_payload())
    token = APIToken.objects.get(owner=user)
    assert f'href="{LIST_URL}?created={token.public_id}"' in response.content.decode()
    content = user_client.get(f"{LIST_URL}?created={token.public_id}").content.decode()
    assert f'id="token-{token.public_id}" class="token-row is-new' in content


@pytest.mark.parametrize(
    ("used", "level"), [(0, ""), (799, ""), (800, "near"), (1000, "over"), (1001, "over")]
)
def test_usage_bar_level_changes_at_80_percent_and_at_the_limit(used, level):
    from apitokens.views import UsageSummary

    usage = UsageSummary(limit=1000, used=used, remaining=max(0, 1000 - used), reset_at=None)
    assert usage.level == level


def test_usage_bar_is_marked_over_the_limit(user_client, monkeypatch):
    from apitokens.views import UsageSummary

    monkeypatch.setattr(
        "apitokens.views.listing.rate_limit_usage",
        lambda user: UsageSummary(limit=1000, used=1001, remaining=0, reset_at=None),
    )
    content = user_client.get(LIST_URL).content.decode()
    assert '<section class="usage is-over"' in content
