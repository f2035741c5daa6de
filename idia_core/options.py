"""The options of one stateless ``check`` call (the app's API), validated on one path.

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

from . import public
from .errors import IdiaInputError
from .names import NAME_MODES, parse_name_list
from .settings import IdiaSettings, validate_pool, validate_seed, validate_tau
from .templates import load_templates, validate_template_set_name

API_OPTIONS = ("model", "tau", "n_candidates", "seed", "template_set", "name_mode", "extra_names")
_WHOLE = ("tau", "n_candidates", "seed")   # whole numbers, read by the core validators


@dataclass(frozen=True)
class CheckOptions:
    settings: IdiaSettings
    extra_names: tuple[str, ...] = ()


def _type_error(key: str, wanted: str, value) -> IdiaInputError:
    shown = "true" if value is True else "false" if value is False else "null" if value is None else \
        type(value).__name__ if isinstance(value, (list, dict)) else repr(value)[:40]
    return IdiaInputError("option_type", f"The option '{key}' must be {wanted}, not {shown}.")


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
        raise IdiaInputError("option_unknown", f"Unknown option(s): {', '.join(public.code(k, 40) for k in unknown[:10])}. "
                                               f"Known: {', '.join(API_OPTIONS)}.")
    defaults = IdiaSettings(model=default_model)
    values: dict = {}
    for key in _WHOLE:
        if key not in options:
            continue
        raw = options[key]
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise _type_error(key, "a whole number", raw)
        values[key] = raw   # read and range-checked below by the core's validator: its code and message
    for key in ("model", "template_set", "name_mode"):
        if key in options and not isinstance(options[key], str):
            raise _type_error(key, "text", options[key])
    model = options.get("model", "").strip() or default_model
    if model != default_model:
        model = _public_model(model, default_model)
    template_set = validate_template_set_name(options.get("template_set", defaults.template_set))
    name_mode = options.get("name_mode", defaults.name_mode).strip().lower()
    if name_mode not in NAME_MODES:
        raise IdiaInputError("name_mode", f"Unknown name mode {public.code(name_mode, 40)}; use one of "
                                          f"{', '.join(NAME_MODES)}.")
    n_candidates = public.check_pool_limit(validate_pool(values.get("n_candidates", defaults.n_candidates)))
    settings = IdiaSettings(
        model=model, tau=validate_tau(values.get("tau", defaults.tau), len(load_templates(template_set))),
        n_candidates=n_candidates, seed=validate_seed(values.get("seed", defaults.seed)),
        template_set=template_set, name_mode=name_mode,
    )
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


def _public_model(spec: str, default_model: str) -> str:
    from .chat.controller import public_model   # the same gate as a typed model (local files, catalogue)

    return public_model(spec)


def _type_name(value) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list"}.get(type(value), type(value).__name__)
