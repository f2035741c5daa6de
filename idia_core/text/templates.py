"""Prompt templates: data in ``prompts/templates/``, validated here, filled by plain replacement.

Templates are filled with ``str.replace`` and never with ``str.format``: a name or template a user
typed (``{0.__class__}``) must stay text, never become an attribute lookup.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from .. import limits
from ..echo import quoted
from ..errors import IdiaInputError

PLACEHOLDER = "{0}"
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "prompts" / "templates"
DEFAULT_TEMPLATE_SET = "paper21"
_BRACED = re.compile(r"\{[^{}]*\}")


def validate_template(template: str) -> str:
    """Return the template in canonical form (``{name}`` becomes ``{0}``) or raise why it is unusable."""
    if not isinstance(template, str):
        raise IdiaInputError("template_type", "A template must be text, like 'a photo of {0}'.")
    text = " ".join(template.split())
    if not text:
        raise IdiaInputError("template_empty", "A template is empty. Write one like 'a photo of {0}'.")
    if len(text) > limits.MAX_TEMPLATE_LENGTH:
        raise IdiaInputError(
            "template_too_long",
            f"A template is {len(text)} characters long; the limit is {limits.MAX_TEMPLATE_LENGTH}.",
        )
    text = text.replace("{name}", PLACEHOLDER)
    count = text.count(PLACEHOLDER)
    if count == 0:
        raise IdiaInputError(
            "template_no_placeholder",
            f"The template {quoted(text)} has no placeholder: put {{0}} (or {{name}}) where the name goes.",
        )
    if count > 1:
        raise IdiaInputError(
            "template_many_placeholders",
            f"The template {quoted(text)} has {count} placeholders; use exactly one {{0}}.",
        )
    rest = text.replace(PLACEHOLDER, "")
    if "{" in rest or "}" in rest:
        raise IdiaInputError(
            "template_braces",
            f"The template {quoted(text)} has braces other than its one {{0}} placeholder; remove them.",
        )
    return text


def validate_templates(templates) -> tuple[str, ...]:
    """Validate a whole set: non-empty, within the limit, no duplicates."""
    items = [validate_template(t) for t in templates]
    if not items:
        raise IdiaInputError("templates_empty", "No templates given; the paper's 21 are the default.")
    if len(items) > limits.MAX_TEMPLATES:
        raise IdiaInputError(
            "templates_too_many", f"{len(items)} templates given; the limit is {limits.MAX_TEMPLATES}."
        )
    seen: dict[str, None] = {}
    for t in items:
        seen.setdefault(t, None)
    if len(seen) != len(items):
        raise IdiaInputError("templates_duplicate", "The template set repeats a template; list each once.")
    return tuple(items)


def available_template_sets() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in TEMPLATES_DIR.glob("*.txt")))


@lru_cache(maxsize=32)
def _load_file(path: str) -> tuple[str, ...]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return validate_templates([ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")])


def load_templates(name_or_path: str = DEFAULT_TEMPLATE_SET) -> tuple[str, ...]:
    """A template set by name (a file in ``prompts/templates/``) or by path to a text file."""
    if not isinstance(name_or_path, str):
        raise IdiaInputError("template_set_unknown", f"A template set is named by text, not {type(name_or_path).__name__}.")
    candidate = TEMPLATES_DIR / f"{name_or_path}.txt"
    if candidate.is_file():
        return _load_file(str(candidate))
    path = Path(name_or_path)
    if path.suffix == ".txt" and path.is_file():
        return _load_file(str(path.resolve()))
    raise IdiaInputError(
        "template_set_unknown",
        f"Unknown template set {quoted(name_or_path)}. Available: {', '.join(available_template_sets())}.",
    )


def validate_template_set_name(name) -> str:
    """A template set by name only (no paths): what front ends shared with strangers accept."""
    if not isinstance(name, str) or name.strip() not in available_template_sets():
        shown = name if isinstance(name, str) else type(name).__name__
        raise IdiaInputError(
            "template_set_unknown",
            f"Unknown template set {quoted(shown, 60)}. Available: {', '.join(available_template_sets())}.",
        )
    return name.strip()


def fill_template(template: str, name: str) -> str:
    """The one way a name enters a prompt: plain replacement of the single placeholder."""
    return template.replace(PLACEHOLDER, name)
