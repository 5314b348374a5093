from __future__ import annotations

from http import HTTPStatus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apitokens import tokens
from apitokens.tokens import HeaderVerdict, parse_authorization

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


@pytest.mark.django_db
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=1200))
def test_any_header_through_the_api_is_never_a_500(client, raw: bytes):
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=raw.decode("latin-1"))
    assert response.status_code in {
        HTTPStatus.BAD_REQUEST,
        HTTPStatus.UNAUTHORIZED,
        HTTPStatus.TOO_MANY_REQUESTS,
    }
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"error", "detail", "docs"}
