"""The token format (apitokens/tokens.py): generation, checksum, hashing, the Authorization header,
and finding tokens in other text (an API URL, a log line)."""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apitokens import tokens
from apitokens.tokens import (
    HeaderVerdict,
    credentials_in_url,
    find_token_shapes,
    parse_authorization,
    redact_tokens,
)

DOCUMENTED = {
    HeaderVerdict.ABSENT,
    HeaderVerdict.MALFORMED,
    HeaderVerdict.OTHER_SCHEME,
    HeaderVerdict.NOT_A_TOKEN,
    HeaderVerdict.MISTYPED,
    HeaderVerdict.BEARER,
}


@given(st.binary(max_size=1500))
def test_any_byte_string_gets_a_documented_verdict(raw: bytes):
    # WSGI hands header values over as latin-1 decoded text.
    parsed = parse_authorization(raw.decode("latin-1"))
    assert parsed.verdict in DOCUMENTED
    if parsed.verdict == HeaderVerdict.BEARER:
        assert tokens.is_well_formed(parsed.token)
    else:
        assert parsed.token == ""


@given(st.text(min_size=8, max_size=200))
def test_problem_never_reflects_the_presented_value(value: str):
    parsed = parse_authorization(f"Bearer {value}")
    stripped = value.strip()
    if len(stripped) >= 8:
        assert stripped not in parsed.problem


@given(
    st.sampled_from(["bearer", "BEARER", "Bearer", "bEaReR"]), st.sampled_from([" ", "\t", "  "])
)
def test_scheme_is_case_insensitive_and_whitespace_tolerated(scheme: str, gap: str):
    raw = tokens.generate_token()
    parsed = parse_authorization(f" {scheme}{gap}{raw} ")
    assert parsed.verdict == HeaderVerdict.BEARER
    assert parsed.token == raw


@pytest.mark.parametrize(
    ("value", "verdict"),
    [
        (None, HeaderVerdict.ABSENT),
        ("", HeaderVerdict.MALFORMED),
        ("Bearer", HeaderVerdict.MALFORMED),
        ("Bearer a b", HeaderVerdict.MALFORMED),
        ("Bearer a,b", HeaderVerdict.MALFORMED),
        ("Bearer qb_\u00e9", HeaderVerdict.MALFORMED),
        ("Bearer qb_\x00", HeaderVerdict.MALFORMED),
        ("Bearer " + "x" * 1020, HeaderVerdict.MALFORMED),
        ("Basic Zm9vOmJhcg==", HeaderVerdict.OTHER_SCHEME),
        ("Token abc", HeaderVerdict.OTHER_SCHEME),
        ("Bearer abc", HeaderVerdict.NOT_A_TOKEN),
        ("Bearer qb_" + "a" * 38, HeaderVerdict.MISTYPED),
    ],
)
def test_documented_verdicts(value, verdict):
    assert parse_authorization(value).verdict == verdict


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


# Known vectors, computed independently with zlib.crc32 and the published alphabet.
KNOWN_BODY = "qb_" + "a" * 32


KNOWN_CHECKSUM = "1Uqa0R"


def test_checksum_of_known_vector():
    assert tokens.checksum(KNOWN_BODY) == KNOWN_CHECKSUM


def test_base62_encode_pads_and_orders_most_significant_first():
    assert tokens.base62_encode(0, 6) == "000000"
    assert tokens.base62_encode(61, 6) == "00000z"
    assert tokens.base62_encode(62, 6) == "000010"
    assert tokens.base62_encode(2**32 - 1, 6) == "4gfFC3"


def test_generated_token_matches_published_format():
    value = tokens.generate_token()
    assert tokens.TOKEN_PATTERN.fullmatch(value)
    assert len(value) == 41
    assert tokens.is_well_formed(value)
    assert value[-6:] == tokens.checksum(value[:35])


def test_well_formed_rejects_changed_character():
    value = tokens.generate_token()
    flipped = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
    assert not tokens.is_well_formed(flipped)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "qb_",
        "qb_short",
        "xx_" + "a" * 38,
        KNOWN_BODY,
        KNOWN_BODY + KNOWN_CHECKSUM + "x",
        "qb_" + "a" * 31 + "é" + KNOWN_CHECKSUM,
        "QB_" + "a" * 32 + KNOWN_CHECKSUM,
    ],
)
def test_well_formed_rejects_bad_shapes(value):
    assert not tokens.is_well_formed(value)


def test_known_token_is_well_formed():
    assert tokens.is_well_formed(KNOWN_BODY + KNOWN_CHECKSUM)


def test_digest_is_sha256_hex_of_full_value():
    assert tokens.token_digest(KNOWN_BODY + KNOWN_CHECKSUM) == (
        __import__("hashlib").sha256((KNOWN_BODY + KNOWN_CHECKSUM).encode()).hexdigest()
    )


def test_identifier_shows_first_four_random_and_last_four():
    value = "qb_7Hk2" + "b" * 28 + "zzx9Qa"
    assert tokens.token_identifier(value) == "qb_7Hk2…x9Qa"


def test_ten_thousand_tokens_never_collide():
    values = {tokens.generate_token() for _ in range(10_000)}
    assert len(values) == 10_000
