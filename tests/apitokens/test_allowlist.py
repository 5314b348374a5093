"""IP allowlists per token: parsing (apitokens/allowlist.py), the forms, the pages, and the
API's check (403 ip_not_allowed before the view, recorded and counted, no extra query)."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from apitokens import allowlist, selectors
from apitokens.forms import TokenCreateForm, TokenEditForm
from apitokens.models import APIToken, SecurityEvent, TokenActivity
from tests.apitokens.factories import create_token

ME = "/api/v1/me/"
HTMX = {"HX-Request": "true"}


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture(autouse=True)
def _unbuffered_activity(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


# --- Parsing --------------------------------------------------------------------------------


def test_entries_are_normalised_deduplicated_and_kept_in_order():
    typed = " 203.0.113.7, 2001:DB8:0:0::/48\n198.51.100.0/24 ; 203.0.113.7/32  10.0.0.1 "
    assert allowlist.allowlist_normalize(typed) == (
        "203.0.113.7\n2001:db8::/48\n198.51.100.0/24\n10.0.0.1"
    )


def test_empty_list_is_stored_empty_and_allows_any_address():
    assert allowlist.allowlist_normalize("  \n ") == ""
    assert allowlist.address_allowed("", "203.0.113.7")
    assert allowlist.address_allowed("", None)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("10.0.0.300", "is not an IPv4 or IPv6 address or CIDR range"),
        ("example.com", "is not an IPv4 or IPv6 address or CIDR range"),
        ("10.0.0.5/24", "did you mean 10.0.0.0/24?"),
        ("2001:db8::1/32", "did you mean 2001:db8::/32?"),
        ("0.0.0.0/0", "allows every address"),
        ("::/0", "allows every address"),
        ("fe80::1%eth0", "zone index"),
    ],
)
def test_bad_entries_are_refused_with_a_message_naming_them(typed, message):
    with pytest.raises(allowlist.AllowlistError) as caught:
        allowlist.allowlist_normalize(f"203.0.113.7 {typed}")
    assert len(caught.value.messages) == 1
    assert message in caught.value.messages[0]


def test_every_bad_entry_is_named_at_once():
    with pytest.raises(allowlist.AllowlistError) as caught:
        allowlist.allowlist_normalize("nope 10.0.0.1 also-nope")
    assert len(caught.value.messages) == 2


def test_at_most_twenty_entries():
    twenty = " ".join(f"10.0.0.{n}" for n in range(1, 21))
    assert len(allowlist.allowlist_normalize(twenty).split()) == 20
    with pytest.raises(allowlist.AllowlistError) as caught:
        allowlist.allowlist_normalize(twenty + " 10.0.0.21")
    assert "At most 20" in caught.value.messages[0]


def test_cidr_boundaries_ipv4():
    stored = allowlist.allowlist_normalize("198.51.100.0/24")
    assert allowlist.address_allowed(stored, "198.51.100.0")
    assert allowlist.address_allowed(stored, "198.51.100.255")
    assert not allowlist.address_allowed(stored, "198.51.101.0")
    assert not allowlist.address_allowed(stored, "198.51.99.255")


def test_ipv6_ranges_and_addresses():
    stored = allowlist.allowlist_normalize("2001:db8:abcd::/48 2001:db8::7")
    assert allowlist.address_allowed(stored, "2001:db8:abcd:ffff::1")
    assert allowlist.address_allowed(stored, "2001:db8::7")
    assert not allowlist.address_allowed(stored, "2001:db8:abce::1")
    assert not allowlist.address_allowed(stored, "2001:db8::8")
    assert not allowlist.address_allowed(stored, "203.0.113.7")  # another family


def test_ipv4_mapped_addresses_match_their_ipv4_entry():
    stored = allowlist.allowlist_normalize("203.0.113.0/24")
    assert allowlist.address_allowed(stored, "::ffff:203.0.113.9")
    assert allowlist.allowlist_normalize("::ffff:203.0.113.9") == "203.0.113.9"


def test_unknown_or_unreadable_client_address_is_refused():
    stored = allowlist.allowlist_normalize("203.0.113.7")
    assert not allowlist.address_allowed(stored, None)
    assert not allowlist.address_allowed(stored, "not an ip")


# --- Forms ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_form_normalises_the_allowlist(user):
    form = TokenCreateForm(
        {
            "name": "Office backup job",
            "expiry": "30",
            "scopes": ["read"],
            "allowed_ips": "203.0.113.7, 2001:DB8::/32",
        },
        user=user,
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["allowed_ips"] == "203.0.113.7\n2001:db8::/32"


@pytest.mark.django_db
def test_create_form_shows_each_bad_entry(user):
    form = TokenCreateForm(
        {
            "name": "Office backup job",
            "expiry": "30",
            "scopes": ["read"],
            "allowed_ips": "203.0.113.300\n10.1.1.1/8",
        },
        user=user,
    )
    assert not form.is_valid()
    errors = form.errors.as_data()["allowed_ips"]
    assert [error.code for error in errors] == ["invalid_ip", "invalid_ip"]
    text = " ".join(form.errors["allowed_ips"])
    assert "“203.0.113.300” is not an IPv4 or IPv6 address" in text
    assert "did you mean 10.0.0.0/8?" in text


@pytest.mark.django_db
def test_forms_hint_at_the_current_address(user):
    form = TokenCreateForm(user=user, current_ip="198.51.100.23")
    assert "You are connecting from 198.51.100.23." in form.fields["allowed_ips"].help_text
    form = TokenEditForm(user=user, instance_pk=1, current_ip="2001:db8::5")
    assert "You are connecting from 2001:db8::5." in form.fields["allowed_ips"].help_text


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


@pytest.mark.django_db
def test_edit_changes_the_allowlist_and_logs_it(user_client, user):
    token, _ = create_token(user, "Office backup job")
    url = reverse("apitokens:edit", args=[token.public_id])
    page = user_client.get(url)
    assert "IP allowlist" in page.content.decode()
    response = user_client.post(
        url, {"name": token.name, "scopes": ["read"], "allowed_ips": "203.0.113.0/24"}
    )
    assert response.status_code == HTTPStatus.FOUND
    token.refresh_from_db()
    assert token.allowed_ips == "203.0.113.0/24"
    event = SecurityEvent.objects.get(token=token, kind=SecurityEvent.Kind.ALLOWLIST_CHANGED)
    assert "any address" in event.detail and "203.0.113.0/24" in event.detail
    # Cleared again: any address.
    user_client.post(url, {"name": token.name, "scopes": ["read"], "allowed_ips": ""})
    token.refresh_from_db()
    assert token.allowed_ips == ""


@pytest.mark.django_db
def test_edit_page_without_js_shows_errors(user_client, user):
    token, _ = create_token(user, "Office backup job")
    url = reverse("apitokens:edit", args=[token.public_id])
    response = user_client.post(
        url, {"name": token.name, "scopes": ["read"], "allowed_ips": "10.0.0.1/33"}
    )
    assert response.status_code == HTTPStatus.OK
    assert "is not an IPv4 or IPv6 address" in response.content.decode()
    token.refresh_from_db()
    assert token.allowed_ips == ""


@pytest.mark.django_db
def test_token_page_shows_the_list(user_client, user):
    token, _ = create_token(user, "Office backup job", allowed_ips="203.0.113.7\n2001:db8::/32")
    page = user_client.get(reverse("apitokens:detail", args=[token.public_id])).content.decode()
    assert '<code class="allowlist-entry">203.0.113.7</code>' in page
    assert "2001:db8::/32" in page
    other, _ = create_token(user, "Nightly export job")
    page = user_client.get(reverse("apitokens:detail", args=[other.public_id])).content.decode()
    assert "Any address" in page


# --- The API check --------------------------------------------------------------------------


@pytest.mark.django_db
def test_request_from_an_allowed_address_is_served(client, user):
    _, raw = create_token(user, allowed_ips="203.0.113.0/24")
    response = client.get(ME, headers=bearer(raw), REMOTE_ADDR="203.0.113.200")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["token"]["allowed_ips"] == ["203.0.113.0/24"]


@pytest.mark.django_db
def test_request_from_outside_is_403_naming_the_address_and_the_view_never_runs(
    client, user, monkeypatch
):
    token, raw = create_token(user, allowed_ips="203.0.113.0/24")
    monkeypatch.setattr("apitokens.api.views.token_summary", lambda *a: pytest.fail("the view ran"))
    response = client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9")
    assert response.status_code == HTTPStatus.FORBIDDEN
    body = response.json()
    assert body["error"] == "ip_not_allowed"
    assert "198.51.100.9" in body["detail"]
    assert set(body) == {"error", "detail", "docs"}
    assert response["Cache-Control"] == "no-store"
    # The account's rate-limit state is not shown to an outside address.
    assert "X-RateLimit-Remaining" not in response
    # Recorded as the token's activity; not a use of the token (last used unchanged).
    row = TokenActivity.objects.get(token=token)
    assert (row.status, row.ip, row.flagged) == (403, "198.51.100.9", False)
    token.refresh_from_db()
    assert token.last_used_at is None


@pytest.mark.django_db
def test_ipv6_client(client, user):
    _, raw = create_token(user, allowed_ips="2001:db8:1::/48")
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR="2001:db8:1::9").status_code == 200
    response = client.get(ME, headers=bearer(raw), REMOTE_ADDR="2001:db8:2::9")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "2001:db8:2::9" in response.json()["detail"]


@pytest.mark.django_db
def test_cidr_boundary_through_the_api(client, user):
    _, raw = create_token(user, allowed_ips="192.0.2.64/26")
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR="192.0.2.64").status_code == 200
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR="192.0.2.127").status_code == 200
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR="192.0.2.128").status_code == 403
    assert client.get(ME, headers=bearer(raw), REMOTE_ADDR="192.0.2.63").status_code == 403


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_forwarded_address_is_checked(client, user, settings):
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1
    _, raw = create_token(user, allowed_ips="203.0.113.7")
    proxy = "10.0.0.2"
    allowed = client.get(
        ME,
        headers={**bearer(raw), "X-Forwarded-For": "203.0.113.7"},
        REMOTE_ADDR=proxy,
    )
    assert allowed.status_code == HTTPStatus.OK
    # A spoofed entry to the left of what the proxy saw does not help.
    refused = client.get(
        ME,
        headers={**bearer(raw), "X-Forwarded-For": "203.0.113.7, 198.51.100.9"},
        REMOTE_ADDR=proxy,
    )
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert "198.51.100.9" in refused.json()["detail"]
    # The proxy's own address is not the client's.
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 0
    assert (
        client.get(
            ME, headers={**bearer(raw), "X-Forwarded-For": "203.0.113.7"}, REMOTE_ADDR=proxy
        ).status_code
        == HTTPStatus.FORBIDDEN
    )


@pytest.mark.django_db
def test_the_check_costs_no_query(client, user, django_assert_num_queries, monkeypatch):
    moment = timezone.now()
    monkeypatch.setattr("apitokens.api.auth.clock", lambda: moment)
    _, plain = create_token(user, "Plain token job")
    _, listed = create_token(user, "Listed token job", allowed_ips="127.0.0.1\n10.0.0.0/8")
    # First uses write last_used_at; the next ones are lookup + activity write only (the
    # rows and, in the same transaction, their two rollup upserts: 3 statements inline).
    client.get(ME, headers=bearer(plain))
    client.get(ME, headers=bearer(listed))
    with django_assert_num_queries(4):
        assert client.get(ME, headers=bearer(plain)).status_code == 200
    with django_assert_num_queries(4):
        assert client.get(ME, headers=bearer(listed)).status_code == 200
    with django_assert_num_queries(4):  # refused: lookup + activity write
        assert client.get(ME, headers=bearer(listed), REMOTE_ADDR="192.0.2.1").status_code == 403


@pytest.mark.django_db
def test_refusals_count_towards_the_address_bad_credential_limit(client, user, settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 3
    _, raw = create_token(user, allowed_ips="203.0.113.7")
    statuses = [
        client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9").status_code
        for _ in range(5)
    ]
    assert statuses[:3] == [403, 403, 403]
    assert statuses[-1] == HTTPStatus.TOO_MANY_REQUESTS


@pytest.mark.django_db
def test_refusals_are_counted_for_the_dashboard_and_filterable(client, user, admin_client):
    token, raw = create_token(user, allowed_ips="203.0.113.7")
    client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9")
    client.get(ME, headers=bearer(raw), REMOTE_ADDR="203.0.113.7")
    counts = selectors.status_counts(since=timezone.now() - timedelta(hours=1))
    assert counts[403] == 1
    assert list(selectors.token_activity(token=token, status_class="403").values_list("ip"))
    dashboard = admin_client.get(reverse("admin:apitokens_dashboard")).content.decode()
    assert "403 forbidden" in dashboard
    assert "?status_class=403" in dashboard


@pytest.mark.django_db
def test_admin_token_page_shows_the_list(admin_client, user):
    token, _ = create_token(user, allowed_ips="203.0.113.7\n2001:db8::/32")
    page = admin_client.get(
        reverse("admin:apitokens_apitoken_change", args=[token.pk])
    ).content.decode()
    assert "IP allowlist" in page
    assert "2001:db8::/32" in page


@pytest.mark.django_db
def test_refusals_do_not_spend_the_owner_hourly_requests(client, user, settings):
    # Someone holding the token outside its allowlist could otherwise use up the owner's
    # hourly limit and lock out the owner's own scripts.
    settings.QUICKBOT_API_HOURLY_LIMIT = 3
    settings.QUICKBOT_BAD_AUTH_LIMIT = 100
    _, raw = create_token(user, allowed_ips="203.0.113.7")
    for _ in range(5):
        refused = client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9")
        assert refused.status_code == HTTPStatus.FORBIDDEN
    served = client.get(ME, headers=bearer(raw), REMOTE_ADDR="203.0.113.7")
    assert served.status_code == HTTPStatus.OK
    assert served["X-RateLimit-Remaining"] == "2"
