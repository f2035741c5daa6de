"""Share links: a run's settings, name, added names and photo hashes as URL query parameters.

A link lets someone else (or the same person later) repeat a check exactly: opening it restores the
settings and the name, and when the same photos are uploaded the verdict must come out the same.
Photos never travel in a link, only their SHA-256, so a link reveals a name but no face.
A link is data from a stranger: every field is validated at decode time with the same rules as
typed input (names by the name validator, counts within the session limits, numbers read like typed
numbers, the model in the spec format, a template set by name, a fingerprint as a fingerprint, a
photo hash as 64 hex digits), and an error message never repeats a value except as a code span
(``echo.code``), so a link cannot put markup (a form, a link) into anyone's chat.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from .. import echo, limits
from ..attack.settings import FIELD, FIELDS, IdiaSettings
from ..attack.verdict import Verdict
from ..errors import IdiaInputError
from ..text.names import normalize_name, validate_name
from ..text.templates import validate_template_set_name
from ..validators import as_whole_number, validate_name_mode
from . import public
from .session import SharedRun

VERSION = "1"
MAX_LINK_CHARS = 8000      # browsers and proxies cope with this; longer links get cut silently
_SHA = re.compile(r"^[0-9a-f]{64}$")
_FINGERPRINT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$")
_VERDICT = re.compile(r"^(member|none)-(\d{1,3})$")
_KEYS = {"idia", "name", "add", "photo", "v", "fp", "ctl", "ref"} | {f.link for f in FIELDS}   # FIELDS: the settings'


def encode(run: SharedRun) -> str:
    """The query string (without '?') for a shared run."""
    s = run.settings
    pairs: list[tuple[str, str]] = [("idia", VERSION), (FIELD["model"].link, s.model), ("name", run.name)]
    pairs += [(f.link, str(getattr(s, f.name))) for f in FIELDS if f.name != "model"]
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
    # "_" and "~" are the only characters urlencode leaves that markdown reads (emphasis, strike):
    # encoded too, a link is safe to show bare (``link_markdown``) and decodes the same
    query = urlencode(pairs).replace("_", "%5F").replace("~", "%7E")
    if len(query) > MAX_LINK_CHARS:
        raise IdiaInputError(
            "share_too_long",
            f"The link would be {len(query)} characters long, too long to share safely (the limit is "
            f"{MAX_LINK_CHARS}). It grows with the names you added ({len(run.added_names)}); remove some "
            "and ask again.",
        )
    return query


_BASE_URL = re.compile(r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(:[0-9]{1,5})?/?$")


def link_markdown(base_url: str, query: str) -> echo.Markup:
    """The link to show, bare (the chat makes it a link): ``base/?query`` when the server's address
    is a plain http(s) origin, else ``?query`` alone (the address comes from request headers, which a
    client sets). ``query`` is ``encode``'s output, whose characters (letters, digits, ``% & = + . -``)
    mean nothing to markdown, so it needs no escaping."""
    if not re.fullmatch(r"[A-Za-z0-9%&=+.-]*", query):
        raise ValueError("not a query made by share.encode")
    if base_url and _BASE_URL.match(base_url):
        return echo.Markup(f"{base_url.rstrip('/')}/?{query}")
    return echo.Markup(f"?{query}")


def is_share_query(pairs) -> bool:
    return any(k == "idia" for k, _ in _as_pairs(pairs))


def decode(pairs) -> SharedRun:
    """A ``SharedRun`` from a query string or (key, value) pairs; ``IdiaInputError`` when a value
    is unusable (the message names the parameter and shows its value only as a code span)."""
    if isinstance(pairs, str) and len(pairs) > MAX_LINK_CHARS:
        raise _too_long(len(pairs))
    items = _as_pairs(pairs)
    if sum(len(k) + len(v) + 2 for k, v in items) > MAX_LINK_CHARS:
        raise _too_long(sum(len(k) + len(v) + 2 for k, v in items))
    single: dict[str, str] = {}
    added: list[str] = []
    hashes: list[str] = []
    for key, value in items:
        if key == "add":
            added.append(value)
        elif key == "photo":
            hashes.append(value.strip().lower())
        elif key in _KEYS:
            if key in single and single[key] != value:
                raise IdiaInputError("share_field", f"This share link gives '{key}' twice; a link made by idia "
                                                    "gives it once.")
            single[key] = value
    if single.get("idia") != VERSION:
        raise IdiaInputError("share_version", "This share link is from another version of the app and cannot be opened.")
    if "name" not in single:
        raise IdiaInputError("share_no_name", "This share link has no name in it (the 'name' parameter is missing).")
    name = _field("name", single["name"], lambda v: validate_name(v))
    if len(added) > public.max_added_names():
        raise IdiaInputError("too_many_names", f"This share link adds {len(added)} names; at most "
                                               f"{public.max_added_names()} can be added here.")
    added = [_field("add", n, lambda v: validate_name(v, what="An added name in the link")) for n in added]
    if len(hashes) > limits.MAX_PHOTOS:
        raise IdiaInputError("share_field", f"This share link lists {len(hashes)} photos; a check takes at most "
                                            f"{limits.MAX_PHOTOS}.")
    for h in hashes:
        if not _SHA.match(h):
            raise IdiaInputError("share_bad_hash", f"The link's photo hash {echo.code(h, 24)} is not a SHA-256 "
                                                   "(64 hex digits).")
    settings = _settings(single)
    member, correct, controlled, fingerprint, reference = _recorded(single)
    return SharedRun(settings=settings, name=name, added_names=tuple(added), photo_hashes=tuple(hashes),
                     member=member, correct_templates=correct, fingerprint=fingerprint,
                     verdict=controlled, reference=reference)


def _settings(single: dict[str, str]) -> IdiaSettings:
    """The link's settings (each parameter ``FIELDS`` names), read by ``IdiaSettings.from_raw``: the
    model's format, whole numbers that are numbers, a template set by name (a link must not make
    the server read files); the deployment's own policy comes after (``start.open_link``)."""
    defaults = IdiaSettings()
    mode = _field("mode", single.get(FIELD["name_mode"].link, defaults.name_mode), validate_name_mode)
    raw = {"model": public.check_spec_format(single.get(FIELD["model"].link, defaults.model), "The link's model")}
    raw |= {f.name: _number(f.link, single[f.link]) for f in FIELDS if f.whole and f.link in single}
    raw["template_set"] = _field("templates", single.get(FIELD["template_set"].link, defaults.template_set),
                                 validate_template_set_name)
    raw["name_mode"] = mode
    return _field("settings", "", lambda _: IdiaSettings.from_raw(raw))


def _recorded(single: dict[str, str]) -> tuple:
    """What the link says the shared run gave: (member, templates, controlled verdict, fingerprint,
    reference set), each None when the link does not say; a value idia never writes is refused."""
    member = correct = None
    verdict = single.get("v")
    if verdict:
        m = _VERDICT.match(verdict)
        if not m:
            raise IdiaInputError("share_field", f"The link's verdict {echo.code(verdict, 40)} is not one idia "
                                                "writes (member-K or none-K).")
        member, correct = m.group(1) == "member", int(m.group(2))
    fingerprint = single.get("fp") or None
    if fingerprint is not None and not _FINGERPRINT.match(fingerprint):
        raise IdiaInputError("share_field", f"The link's model fingerprint {echo.code(fingerprint, 40)} is not a "
                                            "fingerprint idia writes.")
    controlled = single.get("ctl") or None
    if controlled is not None and controlled not in {v.value for v in Verdict}:
        raise IdiaInputError("share_field", f"The link's controlled verdict {echo.code(controlled, 40)} is not one "
                                            f"idia writes ({', '.join(Verdict)}).")
    if controlled is not None:
        controlled = Verdict(controlled)
    if controlled is not None and member is not None and controlled.rule_member != member:
        raise IdiaInputError("share_field", f"The link's controlled verdict {echo.code(controlled, 40)} contradicts "
                                            f"its verdict {echo.code(verdict, 40)}; a link made by idia never does.")
    reference = single.get("ref") or None
    if reference is not None:
        reference = reference.strip().lower()
        if not _SHA.match(reference):
            raise IdiaInputError("share_field", f"The link's reference set {echo.code(reference, 24)} is not a "
                                                "SHA-256 (64 hex digits).")
    return member, correct, controlled, fingerprint, reference


def _too_long(n: int) -> IdiaInputError:
    return IdiaInputError("share_too_long", f"This share link is {n} characters long; links made by idia stay under "
                                            f"{MAX_LINK_CHARS}, so it was cut or edited. Ask for a new link.")


def _number(key: str, value):
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not re.match(r"^[0-9.eE+-]{1,20}$", text):
        raise IdiaInputError("share_field", f"The link's '{key}' {echo.code(text, 24)} is not a whole number.")
    return as_whole_number(text, f"The link's '{key}'", "share_field")


def _field(key: str, value, check):
    """Run a validator on a link's value; its message may quote the value, so a failure is re-told
    with the value as a code span only."""
    try:
        return check(value)
    except IdiaInputError as err:
        if key == "settings" or not value:
            raise IdiaInputError(err.code, echo.plain(err.message)) from None
        raise IdiaInputError(err.code, f"The link's '{key}' value {echo.code(value, 40)} was refused: "
                                       f"{_reason(err.message, value)}") from None


def _reason(message: str, value: str) -> str:
    """The validator's message with the value itself taken out (it is shown as code already)."""
    for shown in {value, normalize_name(value), normalize_name(value)[:39] + "…"}:
        if shown:
            message = message.replace(f"'{shown}'", "it").replace(shown, "it")
    return echo.plain(message)


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
