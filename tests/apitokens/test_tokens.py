import pytest

from apitokens import tokens

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
