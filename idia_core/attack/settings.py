"""The settings of one run, as one frozen, serialisable object shared by CLI, chat, the ``check``
API, audits, reports and share links, and the one gate every setting from outside passes.

``FIELDS`` is the one definition of the settings: their order, how a reply names each, its
``check`` option, its share-link parameter and whether it is a whole number. Every list of settings
elsewhere (the API's options, the link's keys, the app's controls, the chat's labels) is read from it.

``IdiaSettings.from_raw`` is the one constructor from values as a person or a client sent them
(numbers or their text, names of template sets): each field is read by its validator in
``idia_core.validators`` (the same code and message wherever it came from), then the ``Policy`` of
the place it came from is applied: ``LAPTOP`` (a researcher's own machine: the CLI, audits) lets
everything the core allows through, template files included; a server builds its own
(``chat.public.policy``: template sets by name only, and on a public deployment only the models
it offers and smaller pools).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Callable, Mapping

from .. import limits
from ..errors import IdiaInputError
from ..text.templates import DEFAULT_TEMPLATE_SET, load_templates, validate_template_set_name
from ..validators import validate_name_mode, validate_pool_size, validate_seed, validate_tau


@dataclass(frozen=True)
class SettingField:
    """One setting: ``name`` (the field of ``IdiaSettings``), ``label`` (how a reply names it),
    ``option`` (the ``check`` API's key), ``link`` (the share link's parameter) and ``whole``
    (a whole number: read by ``validators.as_whole_number``, shown by a control of precision 0)."""

    name: str
    label: str
    option: str
    link: str
    whole: bool = False


FIELDS = (
    SettingField("model", "The model", "model", "model"),
    SettingField("tau", "tau", "tau", "tau", whole=True),
    SettingField("n_candidates", "The pool size", "n_candidates", "n", whole=True),
    SettingField("seed", "The seed", "seed", "seed", whole=True),
    SettingField("template_set", "The template set", "template_set", "templates"),
    SettingField("name_mode", "The name mode", "name_mode", "mode"),
)
FIELD = {f.name: f for f in FIELDS}


def _as_given(value):
    return value


def _model_text(spec) -> str:
    """Any model spec a person may name on their own machine (a spec's own checks run when it loads)."""
    if not isinstance(spec, str) or not spec.strip():
        raise IdiaInputError("model_spec_empty", "No model given. Use 'sandbox' or a spec like 'ViT-B-32:openai'.")
    return spec.strip()


@dataclass(frozen=True)
class Policy:
    """What a place lets a person set. ``model``: the gate every model passes (the spec to load, or
    ``IdiaInputError``); ``pool``: the gate of the pool size after its range check (a public
    server's lower cap); ``template_files``: whether a template set may be a ``.txt`` file's path."""

    name: str = "laptop"
    model: Callable[[str], str] = _model_text
    pool: Callable[[int], int] = _as_given
    template_files: bool = True


LAPTOP = Policy()


@dataclass(frozen=True)
class IdiaSettings:
    model: str = "sandbox"
    tau: int = limits.DEFAULT_TAU
    n_candidates: int = limits.DEFAULT_POOL
    seed: int = 0
    template_set: str = DEFAULT_TEMPLATE_SET
    name_mode: str = "mixed"

    @classmethod
    def from_raw(cls, raw: Mapping, policy: Policy = LAPTOP, *, base: "IdiaSettings | None" = None) -> "IdiaSettings":
        """Settings from values as a person or a client sent them: ``raw`` maps field names to
        values (numbers or their text; missing fields come from ``base``, default the defaults), each
        read by its validator and then held to ``policy``. Read in this order, so the first fault
        is the one reported: model, template set, name mode, pool size, tau (against the set's
        template count), seed. Raises ``IdiaInputError`` with the field's own code."""
        unknown = sorted(str(k) for k in raw if k not in FIELD)
        if unknown:
            raise IdiaInputError("setting_unknown", f"Unknown setting '{unknown[0]}'.")
        given = {**(base or cls()).to_dict(), **raw}
        model = policy.model(given["model"])
        template_set = given["template_set"]
        if not policy.template_files:
            template_set = validate_template_set_name(template_set)   # a set by name; never a path
        n_templates = len(load_templates(template_set))
        name_mode = validate_name_mode(given["name_mode"])
        n_candidates = policy.pool(validate_pool_size(given["n_candidates"]))
        return cls(model=model, tau=validate_tau(given["tau"], n_templates), n_candidates=n_candidates,
                   seed=validate_seed(given["seed"]), template_set=template_set, name_mode=name_mode)

    def validated(self, policy: Policy = LAPTOP) -> "IdiaSettings":
        """A copy with every field checked and converted (``from_raw`` of its own values)."""
        return self.from_raw(self.to_dict(), policy)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "IdiaSettings":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in dict(data).items() if k in known})

    def replace(self, **changes) -> "IdiaSettings":
        return replace(self, **changes)
