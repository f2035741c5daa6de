"""Names as people write them: normalisation, validation (any script, the joiners real names use,
nothing that shows nothing), and the keys that say when two names are the same name.

``identity_key`` (NFC, case folded) is a pool candidate's identity before the model is known;
``name_key`` (accents ignored too) matches what a person meant ("is this the name I added?") and
finds namesakes (``name_parts``); ``spelling_key`` also reads "ł" as "l", "ø" as "o", for telling
a person which known name they meant.
"""
from __future__ import annotations

import unicodedata

from .. import limits
from ..echo import quoted, shown
from ..errors import IdiaInputError

_ALLOWED_PUNCTUATION = set(" '’-.,")
# Joiners and marks that belong to real names: middle dots (Chinese and Japanese transcriptions,
# Catalan l·l), Hebrew geresh/gershayim/maqaf, Unicode hyphens.
_NAME_JOINERS = set("\u00b7\u30fb\uff65\u05f3\u05f4\u05be\u2010\u2011")
# Zero-width (non-)joiners shape Persian, Indic and other scripts; they are only meaningful between
# two letters, so they are accepted only there.
_ZERO_WIDTH_JOINERS = {"\u200c", "\u200d"}
# Letters (and marks) that render as nothing: a name made of them looks empty, and mixed into a
# name they make two names look identical. Hangul fillers and the Khmer inherent vowels.
_INVISIBLE_LETTERS = {"\u3164", "\u115f", "\u1160", "\uffa0", "\u17b4", "\u17b5"}
# Particles and connectors that are not a name of their own (namesake matching ignores them).
_PARTICLES = frozenset({
    "al", "af", "av", "bin", "binti", "da", "das", "de", "del", "della", "den", "der", "di", "do",
    "dos", "du", "e", "el", "ibn", "la", "le", "ten", "ter", "van", "von", "y", "zu",
})


def normalize_name(name: str) -> str:
    """Unicode NFC, trimmed, runs of white space folded to one space."""
    return " ".join(unicodedata.normalize("NFC", str(name)).split())


def name_key(name: str) -> str:
    """A loose identity of a name (case and accents ignored): for matching what a person meant
    ("is this the name I added?") and for namesake checks, not for de-duplicating a pool."""
    decomposed = unicodedata.normalize("NFKD", normalize_name(name).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Letters that are letters of their own, not a base letter with a mark (Unicode gives them no
# decomposition), so ``name_key`` keeps them: "Szałata" and "Szalata" differ there. What a person
# means when typing without them: the letter they stand for.
_STROKED = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "ı": "i", "ŧ": "t", "ŀ": "l",
                          "ƚ": "l", "ɨ": "i", "ß": "ss", "æ": "ae", "œ": "oe", "þ": "th", "ĳ": "ij"})


def spelling_key(name: str) -> str:
    """``name_key`` that also reads letters with a stroke or ligatures as the plain letters people
    type for them ("Cyprian Szałata" and "cyprian szalata"): only for telling a person which known
    name they meant (the chat's spelling notes), never for pools or namesakes."""
    return name_key(name).translate(_STROKED)


def identity_key(name: str) -> str:
    """The identity of a pool candidate before the model is known: NFC, case folded. Accents are
    kept, since a CLIP tokenizer encodes "Zoë" and "Zoe" differently (the model-specific merge of
    names with identical tokens is ``name_fit``'s)."""
    return normalize_name(name).casefold()


def name_parts(name: str) -> frozenset[str]:
    """The first names and surnames in a name, as loose keys: split at spaces, hyphens and joiners,
    particles ("de", "van", …) and initials left out. Two names sharing a part are namesakes."""
    key = name_key(name)
    for sep in "-.,'’\u00b7\u30fb\uff65\u05be\u2010\u2011\u200c\u200d":
        key = key.replace(sep, " ")
    return frozenset(p for p in key.split() if len(p) > 1 and p not in _PARTICLES)


def validate_name(name, *, what: str = "The name") -> str:
    """Return the normalised name or raise a message saying exactly what is wrong with it.

    Accepted: letters and combining marks of any script, spaces, ``' ’ - . ,``, the joiners of
    real names (``·`` ``・`` ``׳`` ``״`` ``־``, Unicode hyphens) and ZWNJ/ZWJ between two letters.
    Refused: empty or invisible-only names (Hangul fillers such as U+3164), braces, controls, bidi
    overrides and other format characters, symbols and digits."""
    if name is None or not isinstance(name, str):
        raise IdiaInputError("name_missing", f"{what} is missing. Type the person's full name.")
    text = normalize_name(name)
    if not text:
        raise IdiaInputError("name_empty", f"{what} is empty. Type the person's full name, e.g. 'Jane Doe'.")
    if len(text) > limits.MAX_NAME_LENGTH:
        raise IdiaInputError(
            "name_too_long",
            f"{what} is {len(text)} characters long; names are limited to {limits.MAX_NAME_LENGTH}.",
        )
    if "{" in text or "}" in text:
        raise IdiaInputError(
            "name_braces",
            f"{what} {quoted(_preview(text), 60)} contains curly braces; a name cannot contain {{ or }}.",
        )
    if all(ch in _INVISIBLE_LETTERS or ch in _ZERO_WIDTH_JOINERS or ch.isspace() for ch in text):
        raise IdiaInputError(
            "name_empty",
            f"{what} shows nothing: it is made only of invisible characters ({shown(_codes(text.replace(' ', '')))}). "
            "Type the person's full name in letters, e.g. 'Jane Doe'.",
        )
    bad = [ch for ch in text if not _name_char_ok(ch)]
    if bad:
        if not any(_visible_letter(ch) for ch in text):
            raise IdiaInputError(
                "name_no_letters",
                f"{what} {quoted(_preview(text), 60)} has no letters. Type the person's name in letters.",
            )
        raise IdiaInputError(
            "name_characters",
            f"{what} {quoted(_preview(text), 60)} contains characters a name cannot have ({shown(_codes(bad))}). "
            "Use letters, spaces, hyphens, apostrophes, periods and the joiners of names (· ・ ׳ ״).",
        )
    for i, ch in enumerate(text):
        if ch in _ZERO_WIDTH_JOINERS and not (0 < i < len(text) - 1 and _joinable(text[i - 1])
                                              and _joinable(text[i + 1])):
            raise IdiaInputError(
                "name_characters",
                f"{what} {quoted(_preview(text), 60)} has a zero-width joiner ({shown(_codes(ch))}) that is not "
                "between two letters; remove it.",
            )
    if not any(_visible_letter(ch) for ch in text):
        raise IdiaInputError(
            "name_no_letters", f"{what} {quoted(_preview(text), 60)} has no letters. Type the person's name in letters."
        )
    return text


def _visible_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L") and ch not in _INVISIBLE_LETTERS


def _joinable(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM" and ch not in _INVISIBLE_LETTERS


def _name_char_ok(ch: str) -> bool:
    if ch in _INVISIBLE_LETTERS:
        return False
    cat = unicodedata.category(ch)
    return cat[0] in "LM" or ch in _ALLOWED_PUNCTUATION or ch in _NAME_JOINERS or ch in _ZERO_WIDTH_JOINERS


def _codes(chars) -> str:
    """Characters as a reader can see them: printable ones as themselves, the rest as U+XXXX."""
    out = []
    for ch in sorted(set(chars))[:5]:
        visible = unicodedata.category(ch)[0] in "LNPS" and ch not in _INVISIBLE_LETTERS and ch.isprintable()
        out.append(ch if visible else f"U+{ord(ch):04X}")
    return " ".join(out)


def _preview(text: str, width: int = 40) -> str:
    text = "".join(ch if _name_char_ok(ch) or ch.isprintable() and ch not in _INVISIBLE_LETTERS
                   else f"⟨U+{ord(ch):04X}⟩" for ch in text)
    return text if len(text) <= width else text[: width - 1] + "…"


def parse_name_list(text: str) -> list[str]:
    """Split pasted text into names: one per line, or separated by commas or semicolons."""
    parts: list[str] = []
    for line in str(text).replace(";", "\n").splitlines():
        parts.extend(p for p in (s.strip() for s in line.split(",")) if p)
    return parts
