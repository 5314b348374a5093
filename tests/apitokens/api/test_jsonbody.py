"""One JSON body parser for the API (`apitokens/api/jsonbody.py`): size and depth bounded
before decoding, strict JSON, every refusal a 400 in the API's error shape (issue #20, L2)."""

from __future__ import annotations

import contextlib
import json
from http import HTTPStatus

import pytest
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from apitokens.api.jsonbody import (
    MAX_BYTES,
    MAX_DEPTH,
    InvalidJsonBody,
    parse_json_body,
    parse_json_bytes,
)
from apitokens.models import APIToken, SecurityEvent
from tests.apitokens.factories import create_token

ROTATE = "/api/v1/tokens/current/rotate"
REVOKE = "/api/v1/credentials/revoke"

DEEP = "[" * 50_000 + "]" * 50_000


def depth_of(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


def assert_api_400(response, *words: str) -> dict:
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"] == "application/json"
    payload = response.json()
    assert set(payload) == {"error", "detail", "docs", "request_id"}
    assert payload["error"] == "invalid_request"
    for word in words:
        assert word in payload["detail"]
    return payload


# --- The endpoints --------------------------------------------------------------------------


@pytest.fixture
def writer(user):
    return create_token(user, "Writer", scopes=["read", "write"])


BAD_BODIES = [
    pytest.param('{"overlap": ' + DEEP + "}", "nest more than 32 levels", id="deep-array"),
    pytest.param('{"a":' * 20_000 + "1" + "}" * 20_000, "nest more than 32", id="deep-object"),
    pytest.param("[" * 50_000, "nest more than 32", id="deep-unclosed"),
    pytest.param('{"overlap": NaN}', "NaN is not a JSON value", id="nan"),
    pytest.param('{"overlap": -Infinity}', "not a JSON value", id="infinity"),
    pytest.param('{"overlap": 60, "overlap": 604800}', "appears twice", id="repeated-key"),
    pytest.param('{"overlap": 1' + "0" * 5000 + "}", "not valid JSON", id="huge-integer"),
    pytest.param(" " * (MAX_BYTES + 1) + "{}", "larger than 256 KB", id="too-large"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "words"), BAD_BODIES)
def test_rotation_refuses_bodies_past_the_limits_with_a_400(client, writer, body, words):
    token, raw = writer
    response = client.post(
        ROTATE, body, content_type="application/json", headers={"Authorization": f"Bearer {raw}"}
    )
    assert_api_400(response, "expected JSON", words)
    assert APIToken.objects.get(pk=token.pk).digest == token.digest


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "words"), BAD_BODIES)
def test_leak_reports_refuse_bodies_past_the_limits_with_a_400(client, body, words):
    response = client.post(REVOKE, body, content_type="application/json")
    assert_api_400(response, words, '{"credentials"')
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.LEAK_REPORT).exists()


@pytest.mark.django_db
def test_a_leak_report_naming_credentials_twice_is_refused(client, user):
    token, raw = create_token(user)
    body = f'{{"credentials": ["qb_x"], "credentials": [{json.dumps(raw)}]}}'
    assert_api_400(client.post(REVOKE, body, content_type="application/json"), "twice")
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_nesting_at_the_limit_is_read_and_answered_by_the_view(client, writer):
    _, raw = writer
    body = '{"overlap": ' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}"
    response = client.post(
        ROTATE, body, content_type="application/json", headers={"Authorization": f"Bearer {raw}"}
    )
    # Parsed, then refused by the view for what it holds, not for its depth.
    assert_api_400(response, "overlap: expected whole seconds")


# --- The parser -----------------------------------------------------------------------------


def test_a_declared_length_past_the_limit_is_refused_without_reading_the_body():
    request = RequestFactory().post("/api/x", b"{}", content_type="application/json")
    request.META["CONTENT_LENGTH"] = str(MAX_BYTES + 1)

    class Unread:
        def read(self, *args):
            raise AssertionError("the body was read")

    request._stream = Unread()
    with pytest.raises(InvalidJsonBody, match="larger than"):
        parse_json_body(request)


def test_brackets_inside_strings_do_not_count_as_depth():
    body = json.dumps({"credentials": ["[" * 1000, "{" * 1000, '\\"[[[', "]" * 10]})
    assert parse_json_bytes(body.encode()) == json.loads(body)


def test_utf_16_bodies_are_refused():
    with pytest.raises(InvalidJsonBody, match="UTF-8"):
        parse_json_bytes('{"overlap": 1}'.encode("utf-16"))


def test_the_message_never_repeats_the_body():
    secret = "qb_" + "S" * 38
    for body in (secret, "{" + secret, f'{{"{secret}": 1, "{secret}": 2}}'):
        with pytest.raises(InvalidJsonBody) as caught:
            parse_json_bytes(body.encode())
        assert secret not in str(caught.value)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=60,
)


@given(st.binary(max_size=2000))
def test_any_bytes_are_parsed_or_refused_with_the_parsers_error(data):
    with contextlib.suppress(InvalidJsonBody):
        parse_json_bytes(data, max_bytes=1000, max_depth=8)


@given(
    st.lists(
        st.sampled_from(["[", "]", "{", "}", '"', "\\", ",", ":", "1", '"a"', " ", "null"]),
        max_size=3000,
    )
)
def test_any_nesting_is_parsed_or_refused_with_the_parsers_error(pieces):
    try:
        value = parse_json_bytes("".join(pieces).encode(), max_depth=8)
    except InvalidJsonBody:
        return
    assert depth_of(value) <= 8


@given(json_values, st.integers(min_value=0, max_value=12))
def test_valid_json_within_the_depth_is_returned_as_json_loads_would(value, max_depth):
    body = json.dumps(value).encode()
    if depth_of(value) <= max_depth:
        assert parse_json_bytes(body, max_depth=max_depth) == json.loads(body)
    else:
        with pytest.raises(InvalidJsonBody, match="nest more than"):
            parse_json_bytes(body, max_depth=max_depth)


@given(st.integers(min_value=1, max_value=100_000))
def test_deep_nesting_of_any_depth_never_reaches_the_decoder(depth):
    body = ("[" * depth + "]" * depth).encode()
    if depth <= MAX_DEPTH:
        assert depth_of(parse_json_bytes(body)) == depth
    else:
        with pytest.raises(InvalidJsonBody):
            parse_json_bytes(body)
