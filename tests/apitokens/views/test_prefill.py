"""Pre-filled "Create Token" links (apitokens/forms/prefill.py through token_new): the form
filled in, bad values left out with a note, nothing created without the owner's click."""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus
from urllib.parse import quote, urlencode

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apitokens.forms import TokenCreateForm
from apitokens.forms.prefill import create_prefill
from apitokens.models import APIToken
from tests.accounts.factories import DEFAULT_PASSWORD
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db
NEW_URL = reverse("apitokens:new")
HTMX = {"HX-Request": "true"}
NOTE = "These values came from a link: check them before you create the token."


def link(**values) -> str:
    return f"{NEW_URL}?{urlencode(values, doseq=True)}"


def page(client, url, **kwargs) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == HTTPStatus.OK
    return response.content.decode()


def name_value(html: str) -> str:
    """The name field's value ("" when it has none)."""
    [field] = re.findall(r'<input type="text" name="name"[^>]*>', html)
    match = re.search(r' value="([^"]*)"', field)
    return match.group(1) if match else ""


def test_a_link_fills_in_the_page_and_the_modal_and_creates_nothing(user_client):
    url = link(
        name="Nightly Report Export",
        permissions="read",
        expires="30",
        allowed_ips="198.51.100.0/24, 203.0.113.7",
    )
    for html in (page(user_client, url), page(user_client, url, headers=HTMX)):
        assert NOTE in html
        assert name_value(html) == "Nightly Report Export"
        assert re.search(r'<option value="30" selected>', html)
        assert re.search(r'value="read"[^>]*checked', html)
        assert not re.search(r'value="write"[^>]*checked', html)
        assert "198.51.100.0/24\n203.0.113.7</textarea>" in html
    assert not APIToken.objects.exists()


def test_the_form_posts_without_the_query_and_creates_on_the_owners_click(user_client):
    html = page(user_client, link(name="Nightly Report Export", permissions="read,write"))
    assert f'action="{NEW_URL}"' in html
    response = user_client.post(
        NEW_URL, {"name": "Nightly Report Export", "expiry": "30", "scopes": ["read", "write"]}
    )
    assert response.status_code == HTTPStatus.OK
    token = APIToken.objects.get()
    assert token.scope_list == ["read", "write"]


def test_without_link_values_there_is_no_note(user_client):
    assert NOTE not in page(user_client, NEW_URL)
    assert NOTE not in page(user_client, f"{NEW_URL}?name=&next=/elsewhere/")


@pytest.mark.parametrize(
    ("values", "note"),
    [
        ({"name": "x" * 10_000}, "The name was ignored: it is 10000 characters long"),
        ({"name": "<script>alert(1)</script>"}, "The name was ignored: it contains HTML"),
        ({"name": "Nightly\x00Backup"}, "The name was ignored: The name contains an invisible"),
        (
            {"name": "Nightly Вackup Job"},
            "The name was ignored: “В” (U+0412 CYRILLIC CAPITAL LETTER VE) is Cyrillic",
        ),
        ({"name": "Nightly\u200bBackup"}, "The name was ignored: The name contains an invisible"),
        ({"name": "Token 1"}, "The name was ignored: “Token 1” does not say what the token is for"),
        (
            {"permissions": "read,admin"},
            "The permissions were ignored: “admin” is not a permission",
        ),
        ({"expires": "forever"}, "The expiry “forever” was ignored"),
        ({"expires": "2001-01-01"}, "The expiry “2001-01-01” was ignored"),
        ({"allowed_ips": "0.0.0.0/0"}, "The IP allowlist was ignored: “0.0.0.0/0” allows every"),
        ({"allowed_ips": "::/0"}, "The IP allowlist was ignored: “::/0” allows every"),
        ({"allowed_ips": "10.0.0.1/33"}, "“10.0.0.1/33” is not an IPv4 or IPv6 address"),
        ({"allowed_ips": "1.2.3.4 " * 400}, "The IP allowlist was ignored: it is far longer"),
    ],
)
def test_a_bad_value_is_ignored_with_a_note_naming_it(user_client, values, note):
    html = page(user_client, link(**values))
    assert NOTE in html
    assert note in html
    assert "<script>" not in html and "\x00" not in html
    assert name_value(html) == ""  # nothing from the link in the name field


def test_other_values_survive_a_bad_one(user_client):
    html = page(user_client, link(name="Nightly Backup Job", permissions="root", expires="7d"))
    assert name_value(html) == "Nightly Backup Job"
    assert "The permissions were ignored" in html
    assert re.search(r'<option value="7" selected>', html)


def test_a_custom_date_in_range_selects_custom(user_client):
    day = (timezone.localdate() + timedelta(days=20)).isoformat()
    html = page(user_client, link(expires=day))
    assert re.search(r'<option value="custom" selected>', html)
    assert f'value="{day}"' in html


def test_a_name_already_taken_is_ignored(user_client, user):
    create_token(user, "Nightly Backup Job")
    html = page(user_client, link(name="nightly backup job"))
    assert "you already have a token named “Nightly Backup Job”" in html


def test_another_owner_having_the_name_does_not_matter(user_client, other_user):
    create_token(other_user, "Nightly Backup Job")
    assert name_value(page(user_client, link(name="Nightly Backup Job"))) == "Nightly Backup Job"


def test_a_signed_out_visitor_logs_in_and_comes_back_to_the_filled_form(client, user):
    url = link(name="Nightly Report Export", permissions="read", expires="30")
    response = client.get(url)
    assert response.status_code == HTTPStatus.FOUND
    login_url = reverse("accounts:login")
    assert response.url == f"{login_url}?next={quote(url, safe='/')}"
    signed_in = client.post(
        response.url, {"username": user.email, "password": DEFAULT_PASSWORD}, follow=True
    )
    html = signed_in.content.decode()
    assert signed_in.redirect_chain[-1][0] == url
    assert NOTE in html and name_value(html) == "Nightly Report Export"


def test_a_signed_out_htmx_request_keeps_the_page_it_came_from(client):
    url = link(name="Nightly Report Export")
    response = client.get(url, headers={**HTMX, "HX-Current-URL": "http://testserver" + url})
    assert quote(url, safe="/") in response["HX-Redirect"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.sampled_from(["name", "permissions", "expires", "allowed_ips"]),
        st.text(max_size=300),
        max_size=4,
    )
)
def test_any_link_values_either_fill_in_cleanly_or_are_noted(user, values):
    from django.http import QueryDict

    query = QueryDict(mutable=True)
    query.update(values)
    form = TokenCreateForm(user=user)
    prefill = create_prefill(query, form)
    # A permissions value made of separators only says nothing.
    given_values = {
        name
        for name, value in values.items()
        if value and (name != "permissions" or re.sub(r"[\s,+]+", "", value))
    }
    filled = {
        {"scopes": "permissions", "expiry": "expires", "custom_expiry_date": "expires"}.get(
            key, key
        )
        for key in prefill.initial
    }
    assert filled <= given_values
    # Every value given is either used or named in a note.
    assert len(filled) + len(prefill.ignored) >= len(given_values)
    assert all(note.isprintable() for note in prefill.ignored)
