from __future__ import annotations

import unicodedata

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from common.names import (
    character_name,
    invisible_character,
    mixed_script_character,
    name_clean,
    name_skeleton,
)


@pytest.mark.parametrize(
    ("look_alike", "original"),
    [
        ("Рroduction", "Production"),  # Cyrillic Р
        ("Ρroduction", "Production"),  # Greek Rho
        ("рrоduсtiоn", "production"),  # Cyrillic р, о, с
        ("ＰＲＯＤＵＣＴＩＯＮ", "production"),  # full width (NFKC)
        ("PRODUCTION", "production"),  # case
        ("Token1", "Tokenl"),  # digit one and small L (TR39)
        ("modern", "modem"),  # "rn" and "m" (TR39)
        ("𝐏roduction", "Production"),  # mathematical bold
    ],
)
def test_look_alike_names_share_a_skeleton(look_alike, original):
    assert name_skeleton(look_alike) == name_skeleton(original)


@pytest.mark.parametrize(
    ("first", "second"),
    [("Production", "Staging"), ("Café", "Cafe"), ("Backend 1", "Backend 2"), ("日本", "本日")],
)
def test_different_names_keep_different_skeletons(first, second):
    assert name_skeleton(first) != name_skeleton(second)


def test_the_skeleton_of_a_prototype_is_itself():
    assert name_skeleton("alice production website") == "alice production website"


@pytest.mark.parametrize(
    ("value", "char"),
    [
        ("Alice Production\u200b Website", "\u200b"),  # zero-width space
        ("Alice Production Website\u200f", "\u200f"),  # right-to-left mark
        ("Evil\u202etxt.exe", "\u202e"),  # right-to-left override
        ("Join\u200dme", "\u200d"),  # zero-width joiner
        ("\ufeffBOM", "\ufeff"),  # byte order mark
        ("bell\x07", "\x07"),  # control
        ("Soft\u00adhyphen", "\u00ad"),  # soft hyphen (Cf)
    ],
)
def test_invisible_characters_are_found_and_named_in_the_error(value, char):
    assert invisible_character(value) == char

    with pytest.raises(ValidationError) as error:
        name_clean(value)

    assert error.value.code == "control_characters"
    assert character_name(char) in error.value.messages[0]


def test_a_cyrillic_letter_in_a_latin_word_is_refused_with_its_name():
    assert mixed_script_character("Alice Рroduction") == ("Р", "CYRILLIC", "Рroduction", "LATIN")

    with pytest.raises(ValidationError) as error:
        name_clean("Alice Рroduction Website")

    assert error.value.code == "mixed_script"
    message = error.value.messages[0]
    assert "U+0420 CYRILLIC CAPITAL LETTER ER" in message
    assert "“Рroduction” is Latin" in message


@pytest.mark.parametrize(
    "value",
    [
        "Production Website",
        "Zoë Ørsted",
        "Αθήνα Athens",  # one script per word
        "日本語のテキスト",  # kanji with kana
        "APIキー",  # Latin with katakana
        "한국어 API",
        "محمد",
        "CI-deploy_2",
        "Ada 🚀",
    ],
)
def test_ordinary_names_in_any_script_pass(value):
    assert name_clean(value) == value


def test_names_come_back_in_nfkc():
    assert name_clean("Ｐｒｏｄｕｃｔｉｏｎ") == "Production"
    assert name_clean("ﬁle sync") == "file sync"


# --- Default-ignorable characters: drawn as nothing, so refused ------------------------------

# Derived from Unicode's definition (DerivedCoreProperties.txt), independently of the `regex`
# tables the code uses: Other_Default_Ignorable_Code_Point + Cf + Variation_Selector
# - White_Space - FFF9..FFFB - 13430..1343F - Prepended_Concatenation_Mark.
_OTHER_DEFAULT_IGNORABLE = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x2065, 0x2065),
    (0x3164, 0x3164),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0000),
    (0xE0002, 0xE001F),
    (0xE0080, 0xE00FF),
    (0xE01F0, 0xE0FFF),
)
_VARIATION_SELECTORS = ((0x180B, 0x180D), (0x180F, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
_PREPENDED_CONCATENATION_MARKS = {
    *range(0x0600, 0x0606),
    0x06DD,
    0x070F,
    0x0890,
    0x0891,
    0x08E2,
    0x110BD,
    0x110CD,
}


def _ranges(ranges) -> set[int]:
    return {point for low, high in ranges for point in range(low, high + 1)}


def derived_default_ignorables() -> list[str]:
    format_characters = {
        point for point in range(0x110000) if unicodedata.category(chr(point)) == "Cf"
    }
    points = _ranges(_OTHER_DEFAULT_IGNORABLE) | format_characters | _ranges(_VARIATION_SELECTORS)
    points -= {point for point in points if chr(point).isspace()}
    points -= {*range(0xFFF9, 0xFFFC), *range(0x13430, 0x13440), *_PREPENDED_CONCATENATION_MARKS}
    return [chr(point) for point in sorted(points)]


DEFAULT_IGNORABLES = derived_default_ignorables()


@pytest.mark.parametrize(
    ("char", "shown_as"),
    [
        ("\u3164", "\u3164"),  # HANGUL FILLER
        ("\uffa0", "\uffa0"),  # HALFWIDTH HANGUL FILLER (NFKC makes it U+1160)
        ("\u115f", "\u115f"),  # HANGUL CHOSEONG FILLER
        ("\u1160", "\u1160"),  # HANGUL JUNGSEONG FILLER
        ("\u034f", "\u034f"),  # COMBINING GRAPHEME JOINER
        ("\ufe0f", "\ufe0f"),  # VARIATION SELECTOR-16
        ("\ufe00", "\ufe00"),  # VARIATION SELECTOR-1
        ("\U000e0100", "\U000e0100"),  # VARIATION SELECTOR-17
        ("\u180b", "\u180b"),  # MONGOLIAN FREE VARIATION SELECTOR ONE
        ("\u17b4", "\u17b4"),  # KHMER VOWEL INHERENT AQ
        ("\u2065", "\u2065"),  # unassigned, reserved as default ignorable
        ("\U000e0041", "\U000e0041"),  # TAG LATIN CAPITAL LETTER A
        ("\U000e0fff", "\U000e0fff"),  # unassigned in the ignorable tag block
    ],
)
def test_default_ignorable_fillers_are_refused_and_named(char, shown_as):
    value = f"Production deploy{char}"

    with pytest.raises(ValidationError) as error:
        name_clean(value)

    assert error.value.code == "control_characters"
    assert character_name(shown_as) in error.value.messages[0]


@pytest.mark.parametrize("char", ["\u3164", "\uffa0", "\u115f", "\u034f", "\ufe0f"])
def test_a_name_with_a_filler_looks_the_same_as_the_name_without(char):
    """Names stored before fillers were refused still collide with the plain name."""
    assert name_skeleton(f"Production deploy{char}") == name_skeleton("Production deploy")
    assert name_skeleton(f"Production{char} deploy") == name_skeleton("Production deploy")


def test_every_default_ignorable_code_point_is_refused():
    assert len(DEFAULT_IGNORABLES) > 4000  # the whole property, not a hand-picked few
    accepted = [
        character_name(char)
        for char in DEFAULT_IGNORABLES
        if invisible_character(unicodedata.normalize("NFKC", f"a{char}b")) is None
    ]
    assert accepted == []


def test_visible_neighbours_of_the_fillers_still_pass():
    # Hangul syllables and jamo that draw something, Khmer letters, an emoji alone.
    for value in ("한국어", "\u1100\u1161", "ខ្មែរ", "Ada 🚀"):
        assert invisible_character(value) is None


valid_names = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_"),
    min_size=1,
    max_size=40,
).filter(lambda name: name.strip())


@given(valid_names, st.sampled_from(DEFAULT_IGNORABLES), st.data())
def test_a_default_ignorable_inserted_anywhere_is_refused_or_invisible_to_uniqueness(
    name, char, data
):
    position = data.draw(st.integers(min_value=0, max_value=len(name)))
    disguised = name[:position] + char + name[position:]
    try:
        name_clean(disguised)
    except ValidationError as error:
        assert error.code == "control_characters"
    else:
        raise AssertionError(f"{character_name(char)} was accepted")
    assert name_skeleton(disguised) == name_skeleton(name)
