"""QuickBot token format: generation, checksum, hashing. Pure functions, no ORM.

A token is ``qb_`` + 32 random base62 characters + a 6-character base62
checksum (CRC-32 of ``qb_`` + the random part). Only its SHA-256 digest is stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib

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
