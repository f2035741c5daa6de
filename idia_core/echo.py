"""Visitor text shown back: the one helper every echo goes through.

Whatever a person sent — a name, a model spec, an option, a file name, a share link's field — may be
repeated in a message, and messages are read as markdown (the chat) and as plain text (the CLI, the
API). An echoed value must stay text in both: no link, image, form, emphasis or table; no right-to-
left override that turns what follows around; no 100,000 characters repeated back. So:

- ``visible`` drops bidi controls (U+202A–202E, U+2066–2069, U+200E/200F, U+061C) and the other
  invisible format characters (ZWJ/ZWNJ, which names of some scripts need, stay), and folds control
  characters and line breaks to spaces;
- ``capped`` cuts a value to ``width`` characters with an ellipsis;
- ``escape_markdown`` backslash-escapes the characters that start markdown or HTML (CommonMark
  renders an escaped ASCII punctuation character as itself) and breaks GFM's bare autolinks
  (``http://``, ``www.``, e-mail addresses), leaving what ordinary values hold (letters, digits,
  ``' - . , : /`` and ``_`` inside a word) untouched, so a plain value reads the same everywhere;
- ``shown`` is the three together, ``quoted`` the same between single quotes (how the core's
  messages quote a value) and ``code`` a markdown code span.

Each returns ``Markup``: text that is safe to show as markdown. ``messages.fill`` escapes every value
that is not ``Markup`` (so a reply's placeholders are safe by default), and ``IdiaInputError``
messages are ``Markup`` because every value in them went through ``quoted``/``code``.
"""
from __future__ import annotations

import re
import unicodedata

DEFAULT_WIDTH = 80          # characters of one echoed value in a message
LONG_WIDTH = 2000           # a reply's filled-in value (lists of names) at most

BIDI_CONTROLS = frozenset("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_KEEP_FORMAT = frozenset("\u200c\u200d")   # ZWNJ/ZWJ shape Persian, Indic and other scripts


class Markup(str):
    """Text our own code wrote as markdown, or a visitor's value already escaped: shown as it is."""

    __slots__ = ()


def visible(text) -> str:
    """``text`` without bidi controls and other invisible format characters; control characters and
    line or paragraph separators become spaces."""
    out = []
    for ch in str(text):
        if ch in BIDI_CONTROLS:
            continue
        cat = unicodedata.category(ch)
        if cat == "Cf" and ch not in _KEEP_FORMAT:
            continue
        out.append(" " if cat == "Cc" or ch in "\u2028\u2029" else ch)
    return "".join(out)


def capped(text: str, width: int = DEFAULT_WIDTH) -> str:
    """At most ``width`` characters; a longer text is cut and ends in an ellipsis."""
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


_ALWAYS = frozenset("\\`*[]<>!|~&$#{}")
_EMAIL_TAIL = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9]")


def escape_markdown(text: str) -> Markup:
    """``text`` as markdown that renders as exactly this text (see the module docstring)."""
    out = []
    n = len(text)
    for i, ch in enumerate(text):
        if ch in _ALWAYS:
            out.append("\\" + ch)
        elif ch == "_" and not (0 < i < n - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()):
            out.append("\\_")
        elif ch == ":" and text.startswith("//", i + 1):
            out.append("\\:")
        elif ch == "." and text[max(0, i - 3):i].lower() == "www":
            out.append("\\.")
        elif ch == "@" and _EMAIL_TAIL.match(text, i + 1):
            out.append("\\@")
        else:
            out.append(ch)
    return Markup("".join(out))


def shown(value, width: int = DEFAULT_WIDTH) -> Markup:
    """A visitor's value as safe markdown: visible characters only, at most ``width``, escaped."""
    if isinstance(value, Markup):
        return value
    return escape_markdown(capped(visible(value), width))


def quoted(value, width: int = DEFAULT_WIDTH) -> Markup:
    """``'value'`` for a message: ``shown`` between single quotes."""
    return Markup(f"'{shown(value, width)}'")


def code(value, width: int = DEFAULT_WIDTH) -> Markup:
    """A visitor's value as one markdown code span: never a link, a tag or a line break, whatever it
    holds (its own backticks get a longer fence). Long text is cut with an ellipsis."""
    text = capped(visible(value), width)   # visible() already makes line breaks spaces
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (run + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return Markup(f"{fence}{pad}{text}{pad}{fence}")


def plain(text) -> Markup:
    """Text shown as plain text in markdown: every ASCII punctuation character backslash-escaped
    (CommonMark renders it literally), invisible characters dropped, line breaks folded; so no tag,
    link or emphasis survives."""
    return Markup(re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", visible(text)))
