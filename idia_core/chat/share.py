"""Share links: a run's settings, name, added names and photo hashes as URL query parameters.

A link lets someone else (or the same person later) repeat a check exactly: opening it restores the
settings and the name, and when the same photos are uploaded the verdict must come out the same.
Photos never travel in a link, only their SHA-256, so a link reveals a name but no face.
Values are validated on the way in with the core's validators; a hand-edited link gets the same
messages as a typed setting.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from ..errors import IdiaInputError
from ..names import validate_name
from ..settings import IdiaSettings
from ..templates import validate_template_set_name
from .session import SharedRun

VERSION = "1"
MAX_LINK_CHARS = 8000      # browsers and proxies cope with this; longer links get cut silently
_SHA = re.compile(r"^[0-9a-f]{64}$")
_KEYS = {"idia", "model", "name", "add", "tau", "n", "seed", "templates", "mode", "photo", "v", "fp", "ctl", "ref"}
_VERDICTS = ("member", "inconclusive", "member-unchecked", "non-member")


def encode(run: SharedRun) -> str:
    """The query string (without '?') for a shared run."""
    s = run.settings
    pairs: list[tuple[str, str]] = [
        ("idia", VERSION), ("model", s.model), ("name", run.name), ("tau", str(s.tau)),
        ("n", str(s.n_candidates)), ("seed", str(s.seed)), ("templates", s.template_set), ("mode", s.name_mode),
    ]
    pairs += [("add", n) for n in run.added_names]
    pairs += [("photo", h) for h in run.photo_hashes]
    if run.member is not None and run.correct_templates is not None:
        pairs.append(("v", f"{'member' if run.member else 'none'}-{int(run.correct_templates)}"))
    if run.fingerprint:
        pairs.append(("fp", run.fingerprint))
    if run.verdict:
        pairs.append(("ctl", run.verdict))
    if run.reference:
        pairs.append(("ref", run.reference))
    query = urlencode(pairs)
    if len(query) > MAX_LINK_CHARS:
        raise IdiaInputError(
            "share_too_long",
            f"The link would be {len(query)} characters long, too long to share safely (the limit is "
            f"{MAX_LINK_CHARS}). It grows with the names you added ({len(run.added_names)}); remove some "
            "and ask again.",
        )
    return query


def is_share_query(pairs) -> bool:
    return any(k == "idia" for k, _ in _as_pairs(pairs))


def decode(pairs) -> SharedRun:
    """A ``SharedRun`` from a query string or (key, value) pairs; ``IdiaInputError`` when a value
    is unusable (the message names the parameter)."""
    items = _as_pairs(pairs)
    single: dict[str, str] = {}
    added: list[str] = []
    hashes: list[str] = []
    for key, value in items:
        if key == "add":
            added.append(value)
        elif key == "photo":
            hashes.append(value.strip().lower())
        elif key in _KEYS:
            single[key] = value
    if single.get("idia") != VERSION:
        raise IdiaInputError("share_version", "This share link is from another version of the app and cannot be opened.")
    if "name" not in single:
        raise IdiaInputError("share_no_name", "This share link has no name in it (the 'name' parameter is missing).")
    name = validate_name(single["name"])
    for n in added:
        validate_name(n, what="An added name in the link")
    bad = [h for h in hashes if not _SHA.match(h)]
    if bad:
        raise IdiaInputError(
            "share_bad_hash", f"The link's photo hash '{bad[0][:20]}' is not a SHA-256 (64 hex digits)."
        )
    defaults = IdiaSettings()
    settings = IdiaSettings(
        model=single.get("model", defaults.model),
        tau=single.get("tau", defaults.tau),
        n_candidates=single.get("n", defaults.n_candidates),
        seed=single.get("seed", defaults.seed),
        # a link names a template set; never a path (a link must not make the server read files)
        template_set=validate_template_set_name(single.get("templates", defaults.template_set)),
        name_mode=single.get("mode", defaults.name_mode),
    ).validated()
    member = correct = None
    verdict = single.get("v")
    if verdict:
        m = re.match(r"^(member|none)-(\d{1,3})$", verdict)
        if m:
            member, correct = m.group(1) == "member", int(m.group(2))
    ctl = single.get("ctl")
    ref = (single.get("ref") or "").strip().lower()
    return SharedRun(settings=settings, name=name, added_names=tuple(added), photo_hashes=tuple(hashes),
                     member=member, correct_templates=correct, fingerprint=single.get("fp") or None,
                     verdict=ctl if ctl in _VERDICTS else None, reference=ref if _SHA.match(ref) else None)


def _as_pairs(pairs) -> list[tuple[str, str]]:
    if pairs is None:
        return []
    if isinstance(pairs, str):
        return parse_qsl(pairs.lstrip("?"), keep_blank_values=True)
    if isinstance(pairs, dict):
        out = []
        for k, v in pairs.items():
            out += [(k, x) for x in v] if isinstance(v, (list, tuple)) else [(k, v)]
        return [(str(k), str(v)) for k, v in out]
    return [(str(k), str(v)) for k, v in pairs]


def photo_mismatch(expected: tuple[str, ...], got: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[str]]:
    """(uploaded photos not in the link as (label, sha), link hashes not uploaded), as multisets."""
    remaining = list(expected)
    extra: list[tuple[str, str]] = []
    for label, sha in got:
        if sha in remaining:
            remaining.remove(sha)
        else:
            extra.append((label, sha))
    return extra, remaining
