"""The API Reference's statements about what counts against the hourly limit hold (issue #22).

The Reference marks each statement with `data-counts="yes|no"` and `data-kinds` (the kinds
of response it names); this test reads them from the rendered page, sends each kind and
checks that X-RateLimit-Used moved, or did not, as stated. The Reference said a 403
ip_not_allowed counts; it never did.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from apitokens.models import SCOPE_READ, SCOPE_WRITE
from apitokens.services import api_token_pause, api_token_revoke
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
PROBE_ADDRESS = "203.0.113.7"
# The statements' wording a reader would take as a claim about the hourly count.
COUNT_CLAIM = re.compile(r"\bcount(s|ed)?\b[^.]*\bhourly\b|\bhourly\b[^.]*\bcount(s|ed)?\b", re.I)
LIST_HEADING = "What counts against the hourly limit:"


class CountStatements(HTMLParser):
    """The marked statements (kind -> "yes"/"no") and the text outside them."""

    def __init__(self) -> None:
        super().__init__()
        self.stated: dict[str, str] = {}
        self.unmarked_text: list[str] = []
        self.open_tags: list[bool] = []  # per open element: inside a marked statement?

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        marked = bool(self.open_tags and self.open_tags[-1])
        if "data-counts" in values:
            for kind in (values.get("data-kinds") or "").split():
                assert self.stated.get(kind, values["data-counts"]) == values["data-counts"], kind
                self.stated[kind] = values["data-counts"]
            marked = True
        if tag not in {"br", "img", "input", "meta", "link", "hr", "wbr", "source"}:
            self.open_tags.append(marked)

    def handle_endtag(self, tag: str) -> None:
        if self.open_tags:
            self.open_tags.pop()

    def handle_data(self, data: str) -> None:
        if not (self.open_tags and self.open_tags[-1]):
            self.unmarked_text.append(data)


@pytest.fixture
def reference(client) -> CountStatements:
    response = client.get(reverse("api-docs"))
    assert response.status_code == HTTPStatus.OK
    parser = CountStatements()
    parser.feed(response.content.decode())
    return parser


class Account:
    """One account's tokens, each kind of request, and the probe that reads its count."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.owner = UserFactory(email="limits@example.com")
        _, self.full = create_token(self.owner, "Full", scopes=(SCOPE_READ, SCOPE_WRITE))
        _, self.read_only = create_token(self.owner, "Read only", scopes=(SCOPE_READ,))
        _, self.fenced = create_token(
            self.owner, "Office only", scopes=(SCOPE_READ,), allowed_ips="203.0.113.0/24"
        )
        _, self.report_only = create_token(
            self.owner,
            "Office, report only",
            scopes=(SCOPE_READ,),
            allowed_ips="203.0.113.0/24",
            allowlist_report_only=True,
        )
        deleted, self.deleted = create_token(self.owner, "Deleted", scopes=(SCOPE_READ,))
        api_token_revoke(token=deleted, actor=self.owner)
        paused, self.paused = create_token(self.owner, "Paused", scopes=(SCOPE_READ,))
        api_token_pause(token=paused, actor=self.owner)

    def send(self, path: str, *, value: str | None, address: str, method: str = "get"):
        headers = {"Authorization": f"Bearer {value}"} if value is not None else {}
        return getattr(self.client, method)(path, headers=headers, REMOTE_ADDR=address)

    def used(self) -> int:
        response = self.send(ME, value=self.full, address=PROBE_ADDRESS)
        assert response.status_code == HTTPStatus.OK
        return int(response.headers["X-RateLimit-Used"])


def _success(account: Account, address: str):
    return account.send(ME, value=account.full, address=address)


def _insufficient_scope(account: Account, address: str):
    path = reverse("api:token-rotate")
    return account.send(path, value=account.read_only, address=address, method="post")


def _bad_parameter(account: Account, address: str):
    return account.send("/api/v1/activity/?limit=0", value=account.full, address=address)


def _not_found(account: Account, address: str):
    return account.send("/api/v1/no-such-endpoint/", value=account.full, address=address)


def _method_not_allowed(account: Account, address: str):
    return account.send(ME, value=account.full, address=address, method="post")


def _ip_not_allowed(account: Account, address: str):
    return account.send(ME, value=account.fenced, address=address)


def _report_only_outside(account: Account, address: str):
    return account.send(ME, value=account.report_only, address=address)


def _missing_token(account: Account, address: str):
    return account.send(ME, value=None, address=address)


def _invalid_token(account: Account, address: str):
    return account.send(ME, value=account.deleted, address=address)


def _token_paused(account: Account, address: str):
    return account.send(ME, value=account.paused, address=address)


def _bad_header(account: Account, address: str):
    return account.send(ME, value=f"{account.full} extra", address=address)


def _token_in_url(account: Account, address: str):
    # The token is deleted for being in a URL: use one made for this.
    _, value = create_token(account.owner, "Sent in a URL", scopes=(SCOPE_READ,))
    return account.send(f"{ME}?access_token={value}", value=None, address=address)


def _address_blocked(account: Account, address: str):
    for _ in range(3):
        account.send(ME, value=account.deleted, address=address)  # spends the allowance
    return account.send(ME, value=account.full, address=address)


# kind -> (how to send it, the status and error code it must answer)
KINDS: dict[str, tuple[Callable, HTTPStatus, str | None]] = {
    "success": (_success, HTTPStatus.OK, None),
    "insufficient_scope": (_insufficient_scope, HTTPStatus.FORBIDDEN, "insufficient_scope"),
    "bad_parameter": (_bad_parameter, HTTPStatus.BAD_REQUEST, "invalid_request"),
    "not_found": (_not_found, HTTPStatus.NOT_FOUND, "not_found"),
    "method_not_allowed": (_method_not_allowed, HTTPStatus.METHOD_NOT_ALLOWED, None),
    "ip_not_allowed": (_ip_not_allowed, HTTPStatus.FORBIDDEN, "ip_not_allowed"),
    "report_only_outside": (_report_only_outside, HTTPStatus.OK, None),
    "missing_token": (_missing_token, HTTPStatus.UNAUTHORIZED, "missing_token"),
    "invalid_token": (_invalid_token, HTTPStatus.UNAUTHORIZED, "invalid_token"),
    "token_paused": (_token_paused, HTTPStatus.UNAUTHORIZED, "token_paused"),
    "bad_header": (_bad_header, HTTPStatus.BAD_REQUEST, "invalid_request"),
    "token_in_url": (_token_in_url, HTTPStatus.BAD_REQUEST, "invalid_request"),
    "address_blocked": (_address_blocked, HTTPStatus.TOO_MANY_REQUESTS, "rate_limited"),
}


def test_the_reference_states_what_counts_for_every_kind_it_names(reference):
    assert set(reference.stated) == set(KINDS)
    assert reference.stated["ip_not_allowed"] == "no"


def test_no_unmarked_sentence_claims_what_counts_against_the_hourly_limit(reference):
    text = " ".join(" ".join(reference.unmarked_text).split())
    sentences = re.split(r"(?<=[.:])\s", text)
    claims = [sentence for sentence in sentences if COUNT_CLAIM.search(sentence)]
    assert claims == [LIST_HEADING]


def test_each_statement_about_the_hourly_count_holds(client, settings, reference):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 2
    account = Account(client)
    # Each request from a network of its own: none spends another's bad-credential allowance.
    addresses = (f"198.51.{network}.9" for network in range(1, 255))
    for kind, stated in reference.stated.items():
        send, status, error = KINDS[kind]
        before = account.used()
        for _ in range(3):
            response = send(account, next(addresses))
            assert response.status_code == status, (kind, response.content)
            if error is not None:
                assert response.json()["error"] == error, kind
        moved = account.used() - before - 1  # minus the probe itself
        assert moved == (3 if stated == "yes" else 0), (kind, stated, moved)
