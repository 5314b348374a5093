"""The request ID (common/request_id.py): fresh and unguessable, or a trusted proxy's when
it is safe to echo; never a client's own."""

from __future__ import annotations

import re
import string

import pytest
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from common.request_id import (
    PROXY_REQUEST_ID_META,
    request_context_reset,
    request_context_set,
    request_current,
    request_id_current,
    request_id_from,
    request_id_new,
    request_id_valid,
)

SAFE = string.ascii_letters + string.digits + "._-"


def test_a_fresh_id_is_req_and_22_url_safe_characters_and_never_repeats():
    ids = {request_id_new() for _ in range(2000)}
    assert len(ids) == 2000
    for request_id in ids:
        assert re.fullmatch(r"req_[A-Za-z0-9_-]{22}", request_id)
        assert request_id_valid(request_id)


@given(st.text(alphabet=SAFE, min_size=1, max_size=64))
def test_every_short_id_of_safe_characters_is_valid(value):
    assert request_id_valid(value)


@given(st.text(max_size=200))
def test_a_valid_id_is_1_to_64_safe_characters_and_nothing_else(value):
    expected = 0 < len(value) <= 64 and all(character in SAFE for character in value)
    assert request_id_valid(value) is expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a" * 65,
        "a" * 10_000,
        "abc\n",
        "abc\nX-Injected: 1",
        "abc\r\ndef",
        "abc def",
        "abc\x00",
        'abc"}',
        "<script>",
        "ab/cd",
        "аbc",  # a Cyrillic а: looks like "abc"
        "abc\u200b",  # zero-width space
        "١٢٣",  # Arabic-Indic digits: digits, not 0-9
    ],
)
def test_unsafe_values_are_not_ids(value):
    assert not request_id_valid(value)


def test_without_a_trusted_proxy_the_clients_header_is_ignored():
    meta = {PROXY_REQUEST_ID_META: "chosen-by-the-client"}
    request_id = request_id_from(meta, 0)
    assert request_id != "chosen-by-the-client"
    assert request_id.startswith("req_")


def test_behind_a_trusted_proxy_its_valid_id_is_kept():
    meta = {PROXY_REQUEST_ID_META: "0f8c2b1e-7a4d-4c3b-9f2a-1b2c3d4e5f60"}
    assert request_id_from(meta, 1) == "0f8c2b1e-7a4d-4c3b-9f2a-1b2c3d4e5f60"


@pytest.mark.parametrize(
    "sent", ["", "x" * 10_000, "abc\nSet-Cookie: a=b", "two, ids", "a" * 65, "café"]
)
def test_behind_a_trusted_proxy_an_invalid_id_gets_a_fresh_one(sent):
    request_id = request_id_from({PROXY_REQUEST_ID_META: sent}, 1)
    assert request_id != sent
    assert re.fullmatch(r"req_[A-Za-z0-9_-]{22}", request_id)


@given(st.text(max_size=300), st.integers(min_value=0, max_value=3))
def test_the_id_used_is_always_safe_to_echo(sent, proxies):
    request_id = request_id_from({PROXY_REQUEST_ID_META: sent}, proxies)
    assert request_id_valid(request_id)
    assert request_id == sent if proxies and request_id_valid(sent) else request_id != sent


def test_the_current_request_is_set_and_reset():
    request = RequestFactory().get("/")
    request.request_id = "req_current"
    assert request_current() is None
    context = request_context_set(request)
    try:
        assert request_current() is request
        assert request_id_current() == "req_current"
    finally:
        request_context_reset(context)
    assert request_current() is None
    # Outside a request: a fresh ID each time, never a previous request's.
    assert request_id_current() not in ("req_current", request_id_current())
