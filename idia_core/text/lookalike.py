"""Names that look like other names: letters of one script among another's (Cyrillic "а" in
"Jаne Dое"), and two names that a reader cannot tell apart.

The data is Unicode's own (UTS #39 confusables and script properties) through the maintained
``confusable_homoglyphs`` package (pinned in requirements.txt). Two uses:

- ``mixed_script_letters``: the letters of a name that belong to another script than most of its
  letters *and* look like letters of that main script. Such a name is shown with a note, not
  refused: to the model it is a different string from the name it imitates, and the person typing
  it may not know. Scripts that are written together (Han with Hiragana and Katakana in Japanese,
  Han with Hangul, Han with Bopomofo) count as one, as UTS #39's "highly restrictive" level has it.
- ``skeleton``: a key under which look-alikes are equal (each character replaced by its confusable
  representative, ASCII first, after case folding). Two names with one skeleton and different
  spellings cannot both be in one pool: the chat and the API refuse the second.
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from functools import lru_cache

from confusable_homoglyphs import categories, confusables

_WRITTEN_TOGETHER = {"HIRAGANA": "HAN", "KATAKANA": "HAN", "HANGUL": "HAN", "BOPOMOFO": "HAN"}
_NEUTRAL = {"COMMON", "INHERITED"}


def _script(ch: str) -> str:
    script = categories.alias(ch)
    return _WRITTEN_TOGETHER.get(script, script)


def main_script(name: str) -> str | None:
    """The script most of the name's letters are written in (None without letters)."""
    counts = Counter(_script(ch) for ch in name if ch.isalpha() and _script(ch) not in _NEUTRAL)
    return counts.most_common(1)[0][0] if counts else None


def mixed_script_letters(name: str) -> list[tuple[str, str, str]]:
    """(letter, its script, the main-script letter it looks like) for every letter of ``name`` that
    comes from another script than most of its letters and looks like one of that script's; [] for
    a name written in one script (or in scripts written together)."""
    main = main_script(name)
    if main is None:
        return []
    found = []
    for ch in dict.fromkeys(name):
        script = _script(ch)
        if not ch.isalpha() or script in _NEUTRAL or script == main:
            continue
        twins = [h["c"] for h in confusables.confusables_data.get(ch, ())
                 if len(h["c"]) == 1 and _script(h["c"]) == main]
        if twins:
            found.append((ch, categories.alias(ch).title(), twins[0]))
    return found


@lru_cache(maxsize=4096)
def _representative(ch: str) -> str:
    choices = [ch] + [h["c"] for h in confusables.confusables_data.get(ch, ()) if len(h["c"]) == 1]
    return min(choices, key=lambda c: (not c.isascii(), ord(c))).casefold()


def skeleton(name: str) -> str:
    """The look of ``name``: equal for names a reader cannot tell apart ("Jаne Dое", "Jane Doe",
    "JANE DOE"), different for names that differ in a letter ("Zoë", "Zoe")."""
    text = unicodedata.normalize("NFC", " ".join(str(name).split())).casefold()
    return "".join(_representative(ch) for ch in text)


def plain_look(name: str) -> str:
    """``name`` with each mixed-in letter replaced by the main-script letter it imitates."""
    swap = {ch: twin for ch, _, twin in mixed_script_letters(name)}
    return "".join(swap.get(ch, ch) for ch in name)
