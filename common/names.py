"""Names compared as a person reads them (token names, display names).

`name_clean` NFKC-normalises a name and refuses what a reader cannot see or would misread:
control and format characters (Unicode categories Cc and Cf: zero-width spaces and joiners,
bidirectional marks and overrides, the BOM), every Default_Ignorable_Code_Point (Hangul
fillers, the combining grapheme joiner, variation selectors, tags: drawn as nothing) and a
word that mixes look-alike scripts ("Рroduction" with a Cyrillic Р). `name_skeleton` is the
confusable skeleton of Unicode TR39 (UTS #39, section 4) of the case-folded name, default
ignorables removed: two names with the same skeleton look the same, so uniqueness checks
compare skeletons. The confusables table comes from the `confusable-homoglyphs` package
(Unicode's confusables.txt as JSON); the Default_Ignorable_Code_Point property, which
Python's `unicodedata` lacks, from the `regex` module's Unicode tables.
"""

from __future__ import annotations

import unicodedata
from functools import cache

import regex
from confusable_homoglyphs import categories as script_data
from confusable_homoglyphs.confusables import confusables_data
from django.core.exceptions import ValidationError

# Scripts that carry no identity of their own (digits, punctuation, combining marks).
_NEUTRAL_SCRIPTS = frozenset({"COMMON", "INHERITED"})
# Script mixes that are ordinary writing, not disguise (TR39 "highly restrictive").
_ALLOWED_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def character_name(char: str) -> str:
    """ "U+200B ZERO WIDTH SPACE": how error messages name a character."""
    return f"U+{ord(char):04X} {unicodedata.name(char, 'UNNAMED CHARACTER')}"


# What a reader cannot see: controls, format characters and the characters Unicode says
# to draw as nothing (DerivedCoreProperties.txt), e.g. U+3164 HANGUL FILLER.
_INVISIBLE = regex.compile(r"[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]")


def _script(char: str) -> str:
    return script_data.alias(char)


def invisible_character(value: str) -> str | None:
    """The first control, format (categories Cc, Cf) or default-ignorable character in
    `value`, or None."""
    found = _INVISIBLE.search(value)
    return found.group() if found else None


def mixed_script_character(value: str) -> tuple[str, str, str, str] | None:
    """(character, its script, the word, the word's main script) for the first word that
    mixes scripts, e.g. a Cyrillic letter in a Latin word; None when every word keeps to
    one script (or to a usual mix such as Japanese kanji and kana)."""
    for word in value.split():
        scripts = {_script(char) for char in word} - _NEUTRAL_SCRIPTS
        if len(scripts) <= 1 or any(scripts <= allowed for allowed in _ALLOWED_MIXES):
            continue
        # The word's main script is its most common one; the odd one out is reported.
        counts = {script: sum(_script(char) == script for char in word) for script in scripts}
        main = max(sorted(counts), key=counts.__getitem__)
        odd = next(char for char in word if _script(char) not in _NEUTRAL_SCRIPTS | {main})
        return odd, _script(odd), word, main
    return None


def name_clean(value: str, *, noun: str = "name") -> str:
    """`value` in NFKC (full-width and styled letters become plain ones), or a
    ValidationError naming the refused character (code "control_characters" for invisible
    ones, checked as typed and after NFKC, which can make one; "mixed_script" for a
    look-alike from another script)."""
    typed, value = value, unicodedata.normalize("NFKC", value)
    # Name the character as typed (U+FFA0, not the U+1160 NFKC makes of it) when we can.
    invisible = invisible_character(typed) or invisible_character(value)
    if invisible is not None:
        raise ValidationError(
            "The %(noun)s contains an invisible character, %(character)s. Remove it.",
            code="control_characters",
            params={"noun": noun, "character": character_name(invisible)},
        )
    mixed = mixed_script_character(value)
    if mixed is not None:
        char, script, word, main = mixed
        raise ValidationError(
            "“%(char)s” (%(character)s) is %(script)s, but the rest of “%(word)s” is "
            "%(main)s: it only looks like the letter you meant. Type the word in one alphabet.",
            code="mixed_script",
            params={
                "char": char,
                "character": character_name(char),
                "script": script.title(),
                "word": word,
                "main": main.title(),
            },
        )
    return value


@cache
def _prototypes() -> dict[str, str]:
    """Each confusable character -> its TR39 prototype string.

    The package stores confusables.txt both ways (source -> target and target -> sources).
    A source has exactly one entry; a target with several sources, or of several
    characters, is the prototype. A lone pair (one source, one target) cannot be told apart
    in that form, so it maps to one fixed member: skeleton equality is the same either way.
    """
    prototypes: dict[str, str] = {}
    for key, entries in confusables_data.items():
        if len(key) != 1 or len(entries) != 1:
            continue
        target = entries[0]["c"]
        if len(target) > 1 or len(confusables_data.get(target, ())) > 1:
            prototypes[key] = target
        else:
            chosen = min(key, target, key=lambda char: (not char.isascii(), ord(char)))
            prototypes[key] = chosen
            prototypes[target] = chosen
    return {char: proto for char, proto in prototypes.items() if char != proto}


_DEFAULT_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}+")


def name_skeleton(value: str) -> str:
    """The TR39 skeleton of the case-folded, NFKC-normalised `value`, default ignorables
    removed (as TR39 says): equal skeletons look alike ("Рroduction" with a Cyrillic Р and
    "production" share one, and so do a name stored before fillers were refused and the
    same name without them)."""
    prototypes = _prototypes()
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", value).casefold())
    text = _DEFAULT_IGNORABLE.sub("", text)
    for _ in range(3):  # prototypes are final after one pass; the cap guards the table
        mapped = unicodedata.normalize("NFD", "".join(prototypes.get(c, c) for c in text))
        if mapped == text:
            break
        text = mapped
    return text
