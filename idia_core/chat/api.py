"""The stateless ``check`` endpoint: photos + name + options → the core's JSON verdict.

Options arrive as JSON from strangers. Each is checked for its JSON type first, then with the core's
own validator (the same rules and messages as a typed setting or a CLI flag), so a bad option is
always an answer, never ignored and never a crash. One code per kind of fault:

- ``option_type``: the options are not a JSON object, or an option has the wrong JSON type
  (text for a list, ``true``, ``null`` or a list for a number, ...);
- ``option_unknown``: a key the API does not know;
- the core's own code and message for a value of the right JSON type that is not allowed, exactly
  as ``run_idia`` or a typed setting answers it (``tau_type`` for ``"ten"`` or ``2.5``, ``tau_range``,
  ``pool_size_range``, ``seed_range``, ``template_set_unknown``, ``name_mode``, ``model_not_offered``,
  ``pool_size_limit``, ``too_many_names``, ...).

Whole numbers (tau, pool size, seed) are accepted as JSON numbers or as text, the same way for each:
``1000``, ``1000.0``, ``"1000"`` and ``"1e3"`` all mean 1000; ``true`` is ``option_type``, ``2.5`` and
``"ten"`` the setting's own ``*_type``.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import limits
from ..attack.run import run_idia
from ..attack.settings import FIELDS, IdiaSettings
from ..audit import explain
from ..echo import code, quoted
from ..errors import IdiaInputError
from ..progress import Progress
from ..text.embeddings import PrivateEmbeddings
from ..text.lookalike import skeleton
from ..text.names import identity_key, parse_name_list
from ..text.templates import DEFAULT_TEMPLATE_SET, available_template_sets
from . import public
from .name_handlers import mixed_script_note
from .public import default_model_spec

API_OPTIONS = tuple(f.option for f in FIELDS) + ("extra_names",)   # the settings' own, then the pool's names


@dataclass(frozen=True)
class OptionDoc:
    """One ``check`` option as the table of docs/api.md shows it: its JSON type, the values it takes, its
    default and the error codes a bad value gets (``tests/chat/test_api_options.py`` sends a value
    for each code and holds the page's table equal to ``options_markdown``)."""

    key: str
    json_type: str
    values: str
    default: str
    codes: tuple[str, ...]


def option_docs() -> tuple[OptionDoc, ...]:
    """The options of ``check`` in the order of ``API_OPTIONS``, their ranges read from the limits
    the validators use."""
    whole = "whole number (a JSON number or text: `1000`, `\"1e3\"`)"
    return (
        OptionDoc("model", "text", "on a public server the operator's default or a catalogue spec "
                  "(`python -m idia_core models list`); on a laptop any spec", "the server's default model "
                  "(`IDIA_MODEL`; `sandbox` on a laptop)", ("option_type", "model_not_offered", "model_unknown")),
        OptionDoc("tau", whole, f"1 … the number of templates (21 for `{DEFAULT_TEMPLATE_SET}`)", str(limits.DEFAULT_TAU),
                  ("option_type", "tau_type", "tau_range")),
        OptionDoc("n_candidates", whole, f"{limits.MIN_POOL} … {limits.MAX_POOL}; at most {limits.PUBLIC_MAX_POOL} "
                  "on a public server", str(limits.DEFAULT_POOL),
                  ("option_type", "pool_size_type", "pool_size_range", "pool_size_limit")),
        OptionDoc("seed", whole, "0 … 2**32 - 1 (the distractor names drawn)", "0",
                  ("option_type", "seed_type", "seed_range")),
        OptionDoc("template_set", "text", ", ".join(f"`{t}`" for t in available_template_sets()) + " (sets are "
                  "named, never paths)", f"`{DEFAULT_TEMPLATE_SET}`", ("option_type", "template_set_unknown")),
        OptionDoc("name_mode", "text", "`mixed` (namesake-free distractors) or `paper` (the paper's pool)", "`mixed`",
                  ("option_type", "name_mode")),
        OptionDoc("extra_names", "a list of texts, or one text of names (commas, semicolons or lines)",
                  f"at most {limits.MAX_USER_NAMES} names, {limits.PUBLIC_MAX_USER_NAMES} on a public server; each "
                  "a valid name", "none", ("option_type", "too_many_names", "name_characters")),
    )


def options_markdown() -> str:
    """The table of ``check`` options in docs/api.md (a test keeps the page's copy equal to this)."""
    lines = ["| option | JSON type | values | default | error codes |", "|---|---|---|---|---|"]
    for d in option_docs():
        lines.append(f"| `{d.key}` | {d.json_type} | {d.values} | {d.default} | "
                     + ", ".join(f"`{c}`" for c in d.codes) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class CheckOptions:
    settings: IdiaSettings
    extra_names: tuple[str, ...] = ()


def _type_error(key: str, wanted: str, value) -> IdiaInputError:
    shown = "true" if value is True else "false" if value is False else "null" if value is None else \
        type(value).__name__ if isinstance(value, (list, dict)) else quoted(value, 40)
    return IdiaInputError("option_type", f"The option {quoted(key)} must be {wanted}, not {shown}.")


def validate_check_options(options, *, default_model: str) -> CheckOptions:
    """``options`` (a JSON value, ``None`` for defaults) → ``CheckOptions`` or ``IdiaInputError``."""
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise IdiaInputError(
            "option_type",
            f"The options must be a JSON object such as {{\"tau\": 1, \"n_candidates\": 1000}}, not "
            f"{'text' if isinstance(options, str) else _type_name(options)}. Known options: {', '.join(API_OPTIONS)}.",
        )
    unknown = sorted(str(k) for k in options if k not in API_OPTIONS)
    if unknown:
        raise IdiaInputError("option_unknown", f"Unknown option(s): {', '.join(code(k, 40) for k in unknown[:10])}. "
                                               f"Known: {', '.join(API_OPTIONS)}.")
    raw = {}
    for f in sorted(FIELDS, key=lambda f: not f.whole):   # whole numbers' JSON types first, then texts
        if f.option not in options:
            continue
        value = options[f.option]
        if f.whole and (isinstance(value, bool) or not isinstance(value, (int, float, str))):
            raise _type_error(f.option, "a whole number", value)
        if not f.whole and not isinstance(value, str):
            raise _type_error(f.option, "text", value)
        raw[f.name] = value   # read and range-checked by the core's validator: its code and message
    if "model" in raw:
        raw["model"] = raw["model"].strip() or default_model
    settings = IdiaSettings.from_raw(raw, public.policy(default_model), base=IdiaSettings(model=default_model))
    return CheckOptions(settings, _extra_names(options.get("extra_names")))


def _extra_names(raw) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        names = parse_name_list(raw)
    elif isinstance(raw, list):
        bad = [x for x in raw if not isinstance(x, str)]
        if bad:
            raise _type_error("extra_names", "a list of names (text)", bad[0])
        names = list(raw)
    else:
        raise _type_error("extra_names", "a list of names or one text of names", raw)
    public.check_added_names_limit(len(names))
    return tuple(names)


def _type_name(value) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list"}.get(type(value), type(value).__name__)


def api_check(files, name: str, options=None, *, default_model: str | None = None,
              progress: Progress | None = None) -> dict:
    """Photos + name + options → the core's JSON verdict, or ``{"ok": false, "error": {code,
    message}}``. ``options``: the JSON value the client sent (``validate_check_options``: anything
    but an object of known options is an error). No session, nothing kept."""
    try:
        opts = validate_check_options(options, default_model=default_model or default_model_spec())
        check_no_lookalikes(name, opts.extra_names)
        result = run_idia(opts.settings.model, list(files or []), name, opts.settings, extra_names=opts.extra_names,
                          progress=progress, private_cache=PrivateEmbeddings())
    except IdiaInputError as err:
        return {"ok": False, "error": {"code": err.code, "message": public.client_message(err)}}
    data = result.to_dict()
    data.pop("timings", None)   # how long encoding took would tell who was checked before
    out = {"ok": True, "verdict": explain.verdict_sentence(result), "result": data}
    note = mixed_script_note(result.true_name)
    if note:
        out["notes"] = [note]
    return out


def check_no_lookalikes(name, extra_names) -> None:
    """Refuse added names a reader cannot tell apart from the person's name or from each other
    (``text.lookalike.skeleton``): one pool never holds "Jane Doe" and Cyrillic "Jаne Dое"."""
    seen = {skeleton(name): str(name)} if isinstance(name, str) else {}
    for extra in extra_names:
        key = skeleton(extra)
        other = seen.get(key)
        if other is not None and identity_key(other) != identity_key(extra):
            raise IdiaInputError(
                "name_look_alike",
                f"The added name {quoted(extra, 60)} looks like {quoted(other, 60)} (letters from another script, or "
                "characters drawn alike); one check cannot hold two names a reader cannot tell apart. Remove one.",
            )
        seen.setdefault(key, str(extra))
