"""The texts people read, kept as data: ``prompts/messages/*.toml``.

Replies of the chat, explanations of a verdict and progress lines live in TOML files beside the
templates (``prompts/``), so wording can change without touching code. ``text`` fills a text's
``$placeholders`` with ``string.Template`` (never ``str.format``), so a name stays text whatever
it holds, and every value goes through ``echo.shown`` unless it is ``echo.Markup`` (text our own
code wrote, or already escaped): a value from outside is never markup, never a bidi override and
never longer than ``echo.LONG_WIDTH``. The filled text is ``Markup``."""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from string import Template

from . import echo

MESSAGES_DIR = Path(__file__).resolve().parent.parent / "prompts" / "messages"


@lru_cache(maxsize=8)
def load_message_file(name: str) -> dict:
    """A TOML file of texts from ``prompts/messages/`` (read once per process)."""
    with open(MESSAGES_DIR / f"{name}.toml", "rb") as fh:
        return tomllib.load(fh)


def fill(file: str, key: str, section: str | None = None, **values) -> str:
    """Text ``key`` (of ``section``, if given) of ``prompts/messages/<file>.toml`` with its
    ``$placeholders`` filled (each escaped unless ``echo.Markup``); missing ones are left visible."""
    texts = load_message_file(file)
    raw = texts[section][key] if section else texts[key]
    return echo.Markup(Template(raw).safe_substitute({k: echo.shown(v, echo.LONG_WIDTH) for k, v in values.items()}))
