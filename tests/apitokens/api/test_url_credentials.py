"""`tokens.credentials_in_url` and `tokens.redact_tokens`: the two readers of tokens inside
other text (an API URL; a log line or stored path). Pure functions, so most of this is
property-based."""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apitokens import tokens
from apitokens.tokens import credentials_in_url, find_token_shapes, redact_tokens

live_tokens = st.builds(lambda _: tokens.generate_token(), st.integers())
# Text that cannot hold a token by itself (no "_"), to surround one with.
surroundings = st.text(
    alphabet=st.characters(blacklist_characters="_", blacklist_categories=("Cs",)), max_size=30
)
any_text = st.text(max_size=300)


def percent_encoded(value: str) -> str:
    return "".join(f"%{ord(character):02X}" for character in value)


# --- credentials_in_url -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/me/", ""),
        ("/api/v1/me/", "limit=5&status=200"),
        ("/api/v1/activity/", "token=AbCdEfGh12345678"),
        ("/api/v1/me/", "q=qb_short"),
        ("/api/v1/me/", "tokens=qb_short"),
        ("/api/v1/me/", "x=access_token"),
    ],
)
def test_urls_without_a_credential(path, query):
    assert credentials_in_url(path, query) is None


@pytest.mark.parametrize(
    "query",
    [
        "access_token=",
        "access_token",
        "ACCESS_TOKEN=x",
        "Access_Token=abc",
        "token=qb_",
        "TOKEN=qb_x",
    ],
)
def test_rfc_6750_parameter_is_a_credential_whatever_its_value(query):
    assert credentials_in_url("/api/v1/me/", query) == ()


def test_a_mistyped_token_is_refused_but_not_revoked():
    raw = tokens.generate_token()
    mistyped = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    assert credentials_in_url("/api/v1/me/", f"x={mistyped}") == ()


def test_a_token_right_after_a_token_shaped_run_is_found():
    raw = tokens.generate_token()
    glued = "qb_" + "a" * 36 + raw  # the first 41 characters are token-shaped too
    assert credentials_in_url("/api/", f"x={glued}") == (raw,)
    assert raw in find_token_shapes(glued)


def test_the_same_token_twice_is_revoked_once():
    raw = tokens.generate_token()
    assert credentials_in_url(f"/api/{raw}/", f"a={raw}&{raw}") == (raw,)


@given(
    raw=live_tokens,
    before=surroundings,
    after=surroundings,
    where=st.sampled_from(["path", "name", "value", "encoded-name", "encoded-value"]),
    other=st.lists(st.tuples(surroundings, surroundings), max_size=4),
)
def test_a_live_token_is_found_wherever_it_is_put(raw, before, after, where, other):
    text = before + raw + after
    path = "/api/v1/x/"
    pairs = [f"{quote(name)}={quote(value)}" for name, value in other]
    if where == "path":
        path = f"/api/{text}/"
    elif where == "name":
        pairs.append(f"{quote(text)}=1")
    elif where == "value":
        pairs.append(f"x={quote(text)}")
    elif where == "encoded-name":
        pairs.append(f"{percent_encoded(text)}=1")
    else:
        pairs.append(f"x={percent_encoded(text)}")
    found = credentials_in_url(path, "&".join(pairs))
    assert found is not None
    assert raw in found


@given(path=any_text, query=any_text)
def test_any_url_gives_none_or_only_well_formed_values(path, query):
    found = credentials_in_url(path, query)
    assert found is None or all(tokens.is_well_formed(value) for value in found)


@given(query=st.binary(max_size=300).map(lambda raw: raw.decode("latin-1")))
def test_any_raw_query_string_is_read_without_error(query):
    # WSGI hands QUERY_STRING over as latin-1 text.
    credentials_in_url("/api/", query)


# --- redact_tokens ------------------------------------------------------------------------


def test_a_token_is_shown_as_its_identifier():
    raw = tokens.generate_token()
    assert redact_tokens(f"Not Found: /{raw}/") == f"Not Found: /{tokens.token_identifier(raw)}/"


def test_text_without_a_token_comes_back_unchanged():
    text = "GET /api/v1/me/?limit=5 HTTP/1.1 200 %s qb_short"
    assert redact_tokens(text) is text


def test_a_percent_encoded_token_is_redacted_in_the_decoded_text():
    raw = tokens.generate_token()
    redacted = redact_tokens(f"GET /x?access_token={percent_encoded(raw)} 400")
    assert raw not in redacted and raw not in unquote(redacted)
    assert tokens.token_identifier(raw) in redacted


@given(
    parts=st.lists(st.one_of(live_tokens, any_text), max_size=6),
    encode=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_no_token_survives_redaction(parts, encode):
    written = [
        percent_encoded(part) if flag and tokens.is_well_formed(part) else part
        for part, flag in zip(parts, encode, strict=False)
    ]
    redacted = redact_tokens("".join(written))
    assert find_token_shapes(redacted) == []
    for part in parts:
        if tokens.is_well_formed(part):
            assert part not in redacted


@given(text=any_text)
def test_redaction_is_idempotent(text):
    once = redact_tokens(text)
    assert redact_tokens(once) == once
