"""Parse one chat message's text into an ``Intent``.

Deliberately small and rule-based: the app must answer the same message the same way every time,
offline, and a wrong guess about a name is worse than asking. Parsing only recognises the shape of
a request; validating its values (a name, tau, a model spec) is the core's job, so every front end
gives the same message for the same mistake.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ..names import parse_name_list

KINDS = (
    "none", "help", "reset", "share", "report", "explain", "compare", "status", "clear_photos",
    "name", "add_names", "remove_names", "set", "open_link", "unknown",
)
SETTING_FIELDS = ("tau", "n_candidates", "seed", "model", "template_set", "name_mode")


@dataclass(frozen=True)
class Intent:
    """What a message asks for. ``kind`` is one of ``KINDS``; ``value`` holds the raw text the
    request carries (a name, a setting's value); ``items`` a list (names, model specs);
    ``setting`` the settings field for ``kind == "set"``."""

    kind: str
    value: str | None = None
    items: tuple[str, ...] = field(default_factory=tuple)
    setting: str | None = None


_F = re.IGNORECASE | re.DOTALL
_VERB = r"(?:\s*(?:=|:|to|is)\s*|\s+)"
_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("help", re.compile(r"^(?:help|\?|commands|what can you do\??|how does (?:this|it) work\??|menu)[.!]*$", _F)),
    ("reset", re.compile(r"^(?:reset|start over|restart|new session|clear all|forget everything)[.!]*$", _F)),
    ("share", re.compile(r"^(?:share(?: (?:it|this|a link|the link|link))?|(?:get |give me )?(?:a )?(?:share )?link|permalink)[.!]*$", _F)),
    ("report", re.compile(r"^(?:(?:download|get|make|export)(?: (?:a|the))? )?(?:report|evidence(?: bundle)?|json|html)(?: please)?[.!]*$", _F)),
    ("explain", re.compile(r"^(?:why\??|why not\??|explain(?: (?:it|this|that|more))?|details?|more details|how come\??|per[- ]template|show (?:the )?(?:templates|votes))[.!?]*$", _F)),
    ("status", re.compile(r"^(?:status|settings|show settings|current settings|which model\??|what model\??)[.!?]*$", _F)),
    ("clear_photos", re.compile(r"^(?:clear|remove|delete|forget|drop)(?: (?:the|all|my))? (?:photos|images|pictures|uploads)[.!]*$", _F)),
]
_LINK = re.compile(r"^(?:open\s+)?\S*?\?(?P<query>(?:\S*&)?idia=\S*)$", _F)
_COMPARE = re.compile(r"^compare(?:\s+(?:models?|with|on|against))?\s*:?\s*(?P<rest>.+)$", _F)
_ADD = re.compile(r"^(?:add|include|also (?:try|consider|include)|candidates?\s*:)\s*(?:(?:the\s+)?names?\s*:?\s*)?(?P<rest>.*)$", _F)
_REMOVE = re.compile(r"^(?:remove|drop|delete|exclude)\s*(?:(?:the\s+)?names?\s*:?\s*)?(?P<rest>.*)$", _F)
_NAME = [
    re.compile(r"^(?:is|does)\s+(?:this|that|it|she|he|they|these|those)\s+(?:photo\s+|photos\s+|person\s+|picture\s+|pictures\s+)?(?:show\s+|depict\s+|of\s+)?(?:be\s+)?(?P<name>.*?)\s*\??$", _F),
    re.compile(r"^(?:are\s+(?:these|those|they)(?:\s+photos)?(?:\s+of)?)\s+(?P<name>.*?)\s*\??$", _F),
    re.compile(r"^(?:check|test|try|verify|look up|lookup)(?:\s+(?:for|the\s+name|name))?\s*:?\s*(?P<name>.*?)\s*[.!?]*$", _F),
    re.compile(r"^(?:name|the name|person|who)\s*(?::|=|is)\s*(?P<name>.*?)\s*[.!]*$", _F),
    re.compile(r"^(?:this|that|it|these|they)\s*(?:is|are|'s|’s)\s+(?:photos?\s+of\s+)?(?P<name>.*?)\s*[.!]*$", _F),
    re.compile(r"^(?:it's|it’s|this's)\s+(?P<name>.*?)\s*[.!]*$", _F),
    re.compile(r"^(?:does|did)\s+(?:the\s+model|it|clip|this\s+model)\s+(?:know|see|recogni[sz]e)\s+(?P<name>.*?)\s*\??$", _F),
]
_SETTINGS = [
    ("tau", re.compile(rf"^(?:set\s+)?(?:tau|τ|threshold){_VERB}(?P<v>\S+)$", _F)),
    ("n_candidates", re.compile(rf"^(?:set\s+)?(?:pool(?:\s+size)?|n_candidates|candidates|pool of){_VERB}(?P<v>\S+)(?:\s+names)?$", _F)),
    ("n_candidates", re.compile(r"^(?:use\s+|with\s+)?(?:a\s+pool\s+of\s+)?(?P<v>[-+]?[\d_,.]+(?:e\d+)?)\s+(?:candidate\s+)?(?:names|candidates)$", _F)),
    ("seed", re.compile(rf"^(?:set\s+)?(?:the\s+)?seed{_VERB}(?P<v>\S+)$", _F)),
    ("model", re.compile(rf"^(?:set\s+|use\s+|switch\s+to\s+|change\s+)?(?:the\s+)?model{_VERB}(?P<v>\S+)$", _F)),
    ("model", re.compile(r"^(?:use|switch to)\s+(?P<v>(?:sandbox|hf-hub:\S+|local-dir:\S+|[A-Za-z][\w.-]*:\S+))$", _F)),
    ("template_set", re.compile(rf"^(?:set\s+|use\s+)?(?:the\s+)?template(?:\s+set|s){_VERB}(?P<v>\S+)$", _F)),
    ("template_set", re.compile(r"^(?:use\s+)?(?:the\s+)?(?P<v>[\w-]+)\s+templates$", _F)),
    ("name_mode", re.compile(r"^(?:use\s+)?(?:the\s+)?(?P<v>paper|mixed)\s+(?:names|name pool|pool|distractors)$", _F)),
    ("name_mode", re.compile(rf"^(?:set\s+)?(?:name[\s_]mode){_VERB}(?P<v>\S+)$", _F)),
]
TEMPLATE_ALIASES = {"paper": "paper21", "paper's": "paper21", "default": "paper21", "21": "paper21"}


def parse(text: str | None) -> Intent:
    """The intent of a message's text (files are handled by the controller, not here)."""
    raw = unicodedata.normalize("NFC", text or "").strip()
    if not raw:
        return Intent("none")
    one_line = " ".join(raw.split())
    for kind, pattern in _PATTERNS:
        if pattern.match(one_line):
            return Intent(kind)
    m = _LINK.match(one_line)
    if m:
        return Intent("open_link", value=m.group("query"))
    m = _COMPARE.match(one_line)
    if m:
        specs = [s for s in re.split(r"\s*(?:,|;|\band\b|\bvs\.?|\bversus\b|\s)\s*", m.group("rest").strip(" .")) if s]
        return Intent("compare", items=tuple(specs))
    m = _ADD.match(raw)
    if m:
        return Intent("add_names", value=m.group("rest"), items=tuple(_split_names(m.group("rest"))))
    m = _REMOVE.match(raw)
    if m:
        return Intent("remove_names", value=m.group("rest"), items=tuple(_split_names(m.group("rest"))))
    for setting, pattern in _SETTINGS:
        m = pattern.match(one_line)
        if m:
            value = m.group("v").strip(" .!?")
            if setting == "template_set":
                value = TEMPLATE_ALIASES.get(value.lower(), value)
            if setting == "n_candidates":
                value = value.replace(",", "").replace("_", "")
            return Intent("set", value=value, setting=setting)
    for pattern in _NAME:
        m = pattern.match(raw if "\n" not in raw else one_line)
        if m:
            return Intent("name", value=_strip_quotes(m.group("name")))
    lines = [ln.strip() for ln in raw.splitlines() if ln.strip()]
    if len(lines) >= 2 and all(_looks_like_name(ln) for ln in lines):
        return Intent("add_names", value=raw, items=tuple(lines))
    if _looks_like_name(one_line):
        return Intent("name", value=one_line)
    return Intent("unknown", value=raw)


def _split_names(text: str) -> list[str]:
    """A pasted list (lines, commas, semicolons) or 'A and B' → names, each stripped of quotes."""
    parts = parse_name_list(text)
    if len(parts) == 1 and " and " in parts[0]:
        parts = [p for p in parts[0].split(" and ") if p.strip()]
    return [_strip_quotes(p) for p in parts]


def _strip_quotes(text: str) -> str:
    return text.strip().strip("\"'“”‘’`").strip()


def _looks_like_name(text: str) -> bool:
    """A bare 'Jane Doe' (2–5 capitalised words of letters) counts as naming the person; anything
    less name-like is left to the help reply rather than guessed at."""
    words = text.split()
    if not 2 <= len(words) <= 5 or len(text) > 80:
        return False
    for w in words:
        core = w.strip(".,'’-")
        if not core or not core[0].isupper() or not all(ch.isalpha() or ch in ".'’-" for ch in core):
            return False
    return True
