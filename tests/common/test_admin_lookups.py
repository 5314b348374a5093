"""Admin changelists answer a NUL byte or a value its column cannot hold with Django's
invalid-lookup redirect (`?e=1`) or a page, never a 500 (PostgreSQL refuses both when the
query runs, SQLite does not)."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.db import connection

from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

# Each changelist and the filter parameters tried on it: its list filters, its columns
# (including inet ones), fields it does not have, and a lookup through a relation.
FILTERS = {
    "/admin/apitokens/apitoken/": (
        "token",
        "ip__exact",
        "path",
        "name",
        "last_used_ip",
        "owner__id__exact",
        "created_at__gte",
    ),
    "/admin/apitokens/tokenactivity/": (
        "token",
        "ip__exact",
        "ip",
        "path",
        "name",
        "owner",
        "created_at__year",
    ),
    "/admin/apitokens/securityevent/": (
        "token",
        "ip__exact",
        "ip",
        "path",
        "name",
        "token_name",
    ),
    "/admin/accounts/user/": ("email", "display_name", "id", "date_joined__gte"),
    "/admin/auth/group/": ("name",),
}
FILTER_CASES = [(url, parameter) for url, parameters in FILTERS.items() for parameter in parameters]
NUL_VALUES = ("\x00", "a\x00b", "203.0.113.9\x00")
# Values some columns cannot hold: text for an address, a date or an id, an id out of range.
UNFIT_VALUES = ("notanip", "9" * 30, "-1", "2026-13-45", "::ffff:notanip")


@pytest.fixture
def admin_client(client, user):
    create_token(user, "Listed token")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def assert_invalid_lookup_redirect(response, url):
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == f"{url}?e=1"


@pytest.mark.parametrize(("url", "parameter"), FILTER_CASES)
@pytest.mark.parametrize("value", NUL_VALUES)
def test_nul_byte_in_a_filter_is_the_invalid_lookup_redirect(admin_client, url, parameter, value):
    response = admin_client.get(url, {parameter: value})

    assert_invalid_lookup_redirect(response, url)


@pytest.mark.parametrize("url", FILTERS)
def test_nul_byte_in_the_search_is_refused_with_a_message(admin_client, url):
    response = admin_client.get(url, {"q": "ada\x00"})

    assert response.status_code == HTTPStatus.OK
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    assert any("Null characters are not allowed" in text for text in texts)


@pytest.mark.parametrize(("url", "parameter"), [*FILTER_CASES, *((url, "q") for url in FILTERS)])
@pytest.mark.parametrize("value", UNFIT_VALUES)
def test_value_a_column_cannot_hold_is_not_a_server_error(admin_client, url, parameter, value):
    response = admin_client.get(url, {parameter: value})

    if response.status_code == HTTPStatus.FOUND:
        assert_invalid_lookup_redirect(response, url)
    else:
        assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    ("url", "parameter", "value"),
    [
        ("/admin/apitokens/tokenactivity/", "ip", "notanip"),
        ("/admin/apitokens/securityevent/", "ip__exact", "notanip"),
        ("/admin/apitokens/apitoken/", "last_used_ip", "notanip"),
    ],
)
def test_address_an_inet_column_refuses_is_the_invalid_lookup_redirect_on_postgresql(
    admin_client, url, parameter, value
):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite stores addresses as text and finds no row")
    response = admin_client.get(url, {parameter: value})

    assert_invalid_lookup_redirect(response, url)


def test_a_good_filter_still_filters(admin_client, user):
    response = admin_client.get("/admin/apitokens/apitoken/", {"name": "Listed token"})

    assert response.status_code == HTTPStatus.OK
    assert "Listed token" in response.text
