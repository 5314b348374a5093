"""A token's page searches its activity by request ID (the QuickBot-Request-Id a response
carried): the owner's own requests only, at any age, and nothing breaks on odd input."""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apitokens.models import TokenActivity
from common.request_id import REQUEST_ID_HEADER
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db


def detail_url(token) -> str:
    return reverse("apitokens:detail", args=[token.public_id])


def rows(response) -> list[str]:
    section = response.text.split('id="token-activity"', 1)[1].split("</section>", 1)[0]
    return re.findall(r"<tr[^>]*>.*?</tr>", section.split("<tbody>", 1)[-1], re.S)


def api_call(raw: str, path: str = "/api/v1/me/") -> str:
    """One API request with `raw`; the request ID its response carried."""
    return Client().get(path, headers={"Authorization": f"Bearer {raw}"})[REQUEST_ID_HEADER]


def test_each_row_shows_its_request_id(user_client, user):
    token, raw = create_token(user, "Shown IDs")
    ids = [api_call(raw) for _ in range(3)]
    page = user_client.get(detail_url(token))
    shown = rows(page)
    assert len(shown) == 3
    for row, request_id in zip(shown, reversed(ids), strict=True):
        assert '<code class="request-id"' in row
        assert request_id in row


def test_the_owner_finds_a_request_by_its_id(user_client, user):
    token, raw = create_token(user, "Searched")
    first, wanted, last = (api_call(raw) for _ in range(3))
    response = user_client.get(detail_url(token), {"request_id": f"  {wanted} "})
    assert response.status_code == HTTPStatus.OK
    (row,) = rows(response)
    assert wanted in row
    assert first not in response.text and last not in response.text
    assert f'value="{wanted}"' in response.text


def test_an_old_request_is_found_beyond_the_latest_hours(user_client, user):
    token, _raw = create_token(user, "Old one")
    now = timezone.now()
    (old,) = add_activity(token, at=now - timedelta(days=20))
    TokenActivity.objects.filter(pk=old.pk).update(request_id="req_from_three_weeks_ago")
    add_activity(token, count=60, at=now - timedelta(hours=3))
    response = user_client.get(detail_url(token), {"request_id": "req_from_three_weeks_ago"})
    (row,) = rows(response)
    assert "req_from_three_weeks_ago" in row


def test_the_search_is_kept_by_htmx_and_by_status(user_client, user):
    token, raw = create_token(user, "Partial")
    wanted = api_call(raw)
    api_call(raw)
    response = user_client.get(
        detail_url(token),
        {"request_id": wanted, "status": "2xx"},
        headers={"HX-Request": "true", "HX-Target": "token-activity"},
    )
    assert response.text.lstrip().startswith('<section id="token-activity"')
    (row,) = rows(response)
    assert wanted in row
    refused = user_client.get(detail_url(token), {"request_id": wanted, "status": "4xx"})
    assert rows(refused) == []
    assert "No request of this token has the ID" in refused.text


def test_another_accounts_request_id_finds_nothing(user_client, user, other_user):
    mine, _raw = create_token(user, "Mine")
    theirs, their_raw = create_token(other_user, "Theirs")
    their_id = api_call(their_raw)
    response = user_client.get(detail_url(mine), {"request_id": their_id})
    assert response.status_code == HTTPStatus.OK
    assert rows(response) == []
    assert "No request of this token has the ID" in response.text
    # Nor through their token's page, which is not the owner's.
    assert user_client.get(detail_url(theirs), {"request_id": their_id}).status_code == (
        HTTPStatus.NOT_FOUND
    )


def test_another_tokens_request_id_is_not_this_tokens(user_client, user):
    first, first_raw = create_token(user, "First")
    _second, second_raw = create_token(user, "Second")
    api_call(first_raw)
    other_id = api_call(second_raw)
    assert rows(user_client.get(detail_url(first), {"request_id": other_id})) == []


@pytest.mark.parametrize(
    "typed",
    [
        "req_\x00abc",
        "x" * 10_000,
        "<script>alert(1)</script>",
        "req_аbc",  # a Cyrillic а
        "req_abc\u200b",  # zero-width space
        "QuickBot-Request-Id: req_abc",
        "a" * 65,
    ],
)
def test_a_value_that_is_no_request_id_is_explained_not_searched(
    user_client, user, typed, django_assert_max_num_queries
):
    token, raw = create_token(user, "Odd input")
    api_call(raw)
    with django_assert_max_num_queries(30) as queries:
        response = user_client.get(detail_url(token), {"request_id": typed})
    assert response.status_code == HTTPStatus.OK
    assert "That is not a request ID" in response.text
    assert 'aria-invalid="true"' in response.text
    assert rows(response) == []
    assert not [query for query in queries.captured_queries if "request_id" in query["sql"]]
    assert "<script>alert(1)" not in response.text
    assert "x" * 101 not in response.text


def test_an_empty_search_is_the_whole_activity(user_client, user):
    token, raw = create_token(user, "Empty search")
    for _ in range(2):
        api_call(raw)
    response = user_client.get(detail_url(token), {"request_id": "   "})
    assert len(rows(response)) == 2
    assert "That is not a request ID" not in response.text
