"""QuickBot token format: generation, checksum, hashing, finding tokens in other text.
Pure functions, no ORM.

A token is ``qb_`` + 32 random base62 characters + a 6-character base62
checksum (CRC-32 of ``qb_`` + the random part). Only its SHA-256 digest is stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib
from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus

PREFIX = "qb_"
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6
TOKEN_LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH  # 41
BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TOKEN_PATTERN = re.compile(r"^qb_[0-9A-Za-z]{38}$")
_BASE62_SET = frozenset(BASE62_ALPHABET)


def base62_encode(number: int, width: int) -> str:
    """Write a non-negative integer in base62, most significant digit first, zero-padded."""
    if number < 0:
        raise ValueError("base62_encode takes a non-negative integer")
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(BASE62_ALPHABET[remainder])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(body: str) -> str:
    """Return the 6-character checksum of ``qb_`` + random part."""
    return base62_encode(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def generate_token() -> str:
    """Return a new random token value."""
    random_part = "".join(secrets.choice(BASE62_ALPHABET) for _ in range(RANDOM_LENGTH))
    body = PREFIX + random_part
    return body + checksum(body)


def is_well_formed(value: str) -> bool:
    """True when `value` has the token shape and a matching checksum (no database needed)."""
    if len(value) != TOKEN_LENGTH or not value.startswith(PREFIX):
        return False
    rest = value[len(PREFIX) :]
    if not _BASE62_SET.issuperset(rest):
        return False
    body = value[: len(PREFIX) + RANDOM_LENGTH]
    return secrets.compare_digest(value[-CHECKSUM_LENGTH:], checksum(body))


def has_token_shape(value: str) -> bool:
    """True when `value` looks like a QuickBot token, whatever its checksum."""
    return TOKEN_PATTERN.fullmatch(value) is not None


def token_digest(value: str) -> str:
    """SHA-256 hex digest of the full token: what the database stores and looks up."""
    return hashlib.sha256(value.encode("ascii")).hexdigest()


def token_identifier(value: str) -> str:
    """Non-secret display form: ``qb_`` + first 4 random characters + ``…`` + last 4."""
    return f"{value[: len(PREFIX) + 4]}…{value[-4:]}"


def new_public_id() -> str:
    """Random, URL-safe id for a token's pages (never the pk, never the digest)."""
    return "".join(secrets.choice(BASE62_ALPHABET) for _ in range(16))


# --- Tokens inside other text: URLs, log lines, stored paths -----------------------------

# A lookahead, so that a token right after a token-shaped run ("qb_" + 36 characters + "qb_…")
# is found too: matches may overlap.
_TOKEN_ANYWHERE = re.compile(r"(?=qb_[0-9A-Za-z]{38})")
# How many times a log line is percent-decoded looking for a token (a URL quoted in a URL).
_DECODING_ROUNDS = 3
# RFC 6750 section 2.3: the URI query parameter that carries a bearer token.
ACCESS_TOKEN_PARAMETER = "access_token"


def _token_spans(text: str) -> list[tuple[int, int]]:
    """Start and end of each run of `text` covered by token-shaped values (overlaps merged)."""
    if PREFIX not in text:
        return []
    spans: list[tuple[int, int]] = []
    for match in _TOKEN_ANYWHERE.finditer(text):
        start = match.start()
        if spans and start < spans[-1][1]:
            spans[-1] = (spans[-1][0], start + TOKEN_LENGTH)
        else:
            spans.append((start, start + TOKEN_LENGTH))
    return spans


def find_token_shapes(text: str) -> list[str]:
    """Every token-shaped substring of `text` (whatever its checksum; overlapping ones too)."""
    if PREFIX not in text:
        return []
    return [text[m.start() : m.start() + TOKEN_LENGTH] for m in _TOKEN_ANYWHERE.finditer(text)]


def redact_tokens(text: str) -> str:
    """`text` with each token-shaped value shown as its identifier (``qb_AbCd…wXyZ``).

    A value written percent-encoded (twice, three times) counts too: the text is then returned
    decoded, with the values redacted. Text holding no token comes back unchanged (the same
    object).
    """
    spans = _token_spans(text)
    if "%" in text:
        decoded = text
        for _ in range(_DECODING_ROUNDS):
            once_more = unquote(decoded)
            if once_more == decoded:
                break
            decoded = once_more
        if decoded is not text and (decoded_spans := _token_spans(decoded)):
            text, spans = decoded, decoded_spans
    if not spans:
        return text
    parts: list[str] = []
    end = 0
    for start, stop in spans:
        parts.append(text[end:start])
        parts.append(token_identifier(text[start:stop]))
        end = stop
    parts.append(text[end:])
    return "".join(parts)


def credentials_in_url(path: str, query_string: str) -> tuple[str, ...] | None:
    """Whether an API URL carries a credential: None when it does not; otherwise the
    well-formed token values in it (possibly none), to be deleted as exposed.

    A credential is a token-shaped value anywhere in `path` (as the server decoded it) or in
    any query parameter's name or value (percent-decoded), an ``access_token`` parameter in
    any letter case with any value, or a ``token`` parameter whose value starts with ``qb_``
    (``token=<public id>`` is the activity filter). `query_string` is the raw
    ``QUERY_STRING``; a URL without ``qb_``, ``%`` or ``access_token`` in it costs three
    substring checks.
    """
    found = find_token_shapes(path)
    carries = bool(found)
    if query_string and (
        PREFIX in query_string
        or "%" in query_string
        or ACCESS_TOKEN_PARAMETER in query_string.lower()
    ):
        for pair in query_string.split("&"):
            name, _, value = pair.partition("=")
            name, value = unquote_plus(name), unquote_plus(value)
            lowered = name.lower()
            if lowered == ACCESS_TOKEN_PARAMETER or (
                lowered == "token" and value.startswith(PREFIX)
            ):
                carries = True
            shapes = find_token_shapes(name) + find_token_shapes(value)
            if shapes:
                carries = True
                found.extend(shapes)
    if not carries:
        return None
    return tuple(dict.fromkeys(value for value in found if is_well_formed(value)))


# --- Authorization header parsing (RFC 6750) -------------------------------------------

MAX_AUTHORIZATION_LENGTH = 1024
# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# Printable ASCII plus space and horizontal tab: anything else (controls, non-ASCII) is refused.
_HEADER_CHARACTERS = re.compile(r"[\x20-\x7e\t]*")


class HeaderVerdict:
    """What an Authorization header amounts to, before any database access."""

    ABSENT = "absent"  # no header at all: 401 without an error code
    MALFORMED = "malformed"  # 400 invalid_request
    OTHER_SCHEME = "other_scheme"  # Basic, Token, ...: 401 with the challenge
    NOT_A_TOKEN = "not_a_token"  # a b64token, but not shaped like a QuickBot token
    MISTYPED = "mistyped"  # QuickBot shape, checksum does not match
    BEARER = "bearer"  # well-formed QuickBot token: worth one database lookup


@dataclass(frozen=True, slots=True)
class ParsedAuthorization:
    """Outcome of `parse_authorization`: a verdict, a reason for refusals, the token if any.

    `problem` never contains the presented value, so it can be shown and logged safely.
    """

    verdict: str
    token: str = ""
    problem: str = ""


_ABSENT = ParsedAuthorization(HeaderVerdict.ABSENT)
_BEARER_SKIP = len("Bearer ")
_BEARER_LENGTH = _BEARER_SKIP + TOKEN_LENGTH


def parse_authorization(value: str | None) -> ParsedAuthorization:
    """Classify an ``Authorization`` header value (as WSGI hands it over: latin-1 text).

    Pure and total: any input gives one of the documented verdicts, never an exception.
    """
    if value is None:
        return _ABSENT
    if (
        len(value) == _BEARER_LENGTH
        and value.startswith("Bearer ")
        and is_well_formed(value[_BEARER_SKIP:])
    ):
        # The common case, decided at once: every check below would pass for it.
        return ParsedAuthorization(HeaderVerdict.BEARER, token=value[_BEARER_SKIP:])
    if len(value) > MAX_AUTHORIZATION_LENGTH:
        return ParsedAuthorization(
            HeaderVerdict.MALFORMED, problem="The Authorization header is longer than 1 KB."
        )
    if _HEADER_CHARACTERS.fullmatch(value) is None:
        return ParsedAuthorization(
            HeaderVerdict.MALFORMED,
            problem="The Authorization header contains control or non-ASCII characters.",
        )
    if "," in value:
        # Two Authorization headers arrive joined by a comma; neither may be trusted.
        return ParsedAuthorization(
            HeaderVerdict.MALFORMED,
            problem="Send exactly one Authorization header holding one token.",
        )
    parts = value.split()
    if not parts:
        return ParsedAuthorization(
            HeaderVerdict.MALFORMED, problem="The Authorization header is empty."
        )
    if parts[0].lower() != "bearer":
        return ParsedAuthorization(
            HeaderVerdict.OTHER_SCHEME,
            problem="Use the Bearer scheme: 'Authorization: Bearer <token>'.",
        )
    if len(parts) == 1:
        return ParsedAuthorization(
            HeaderVerdict.MALFORMED, problem="The Bearer scheme is not followed by a token."
        )
    if len(parts) > 2:
        return ParsedAuthorization(
            HeaderVerdict.MALFORMED,
            problem="Expected 'Bearer <token>' with nothing after the token.",
        )
    candidate = parts[1]
    if _B64TOKEN.fullmatch(candidate) is None:
        return ParsedAuthorization(
            HeaderVerdict.MALFORMED, problem="The token contains characters a token never has."
        )
    if not has_token_shape(candidate):
        return ParsedAuthorization(
            HeaderVerdict.NOT_A_TOKEN,
            problem=(
                "This is not a complete QuickBot token: tokens start with 'qb_' and are "
                f"{TOKEN_LENGTH} characters long. Copy the whole value."
            ),
        )
    if not is_well_formed(candidate):
        return ParsedAuthorization(
            HeaderVerdict.MISTYPED,
            problem=(
                "This token is mistyped or incomplete: its checksum does not match. "
                "Copy the whole value again."
            ),
        )
    return ParsedAuthorization(HeaderVerdict.BEARER, token=candidate)
