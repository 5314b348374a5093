from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

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
