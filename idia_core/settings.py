"""The settings of one run, as one frozen, serialisable object shared by CLI, chat, reports and
share links, and the validators for each field (with messages a person can act on)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from . import limits
from .errors import IdiaInputError
from .names import NAME_MODES, validate_pool_size
from .templates import DEFAULT_TEMPLATE_SET


def _as_int(value, what: str, code: str) -> int:
    if isinstance(value, bool):
        raise IdiaInputError(code, f"{what} must be a whole number, not '{value}'.")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise IdiaInputError(code, f"{what} must be a whole number, not {value}.")
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        try:
            as_float = float(text)
        except ValueError:
            raise IdiaInputError(code, f"{what} must be a whole number, not '{text}'.") from None
        if as_float.is_integer():
            return int(as_float)
        raise IdiaInputError(code, f"{what} must be a whole number, not '{text}'.") from None


def as_whole_number(value, what: str, code: str = "option_type") -> int:
    """A whole number from a number or its text (``"1e3"`` is 1000), the one reading every front end
    uses for tau, the pool size and the seed; ``IdiaInputError(code)`` otherwise."""
    return _as_int(value, what, code)


def validate_pool(value) -> int:
    """The pool size from a number or text, read like tau and the seed, then range-checked."""
    if isinstance(value, (str, float)) and not isinstance(value, bool):
        value = _as_int(value, "The pool size", "pool_size_type")
    return validate_pool_size(value)


def validate_tau(tau, n_templates: int = 21) -> int:
    """tau counts templates, so it lies in 1..n_templates (0 would call everyone a member)."""
    value = _as_int(tau, "tau", "tau_type")
    if value < limits.TAU_MIN or value > n_templates:
        raise IdiaInputError(
            "tau_range",
            f"tau = {value} is out of range: it counts templates that must pick the true name, so it must be "
            f"between {limits.TAU_MIN} and {n_templates} (the paper uses 1).",
        )
    return value


def validate_seed(seed) -> int:
    value = _as_int(seed, "The seed", "seed_type")
    if not 0 <= value < 2**32:
        raise IdiaInputError("seed_range", f"The seed must be between 0 and {2**32 - 1}, not {value}.")
    return value


@dataclass(frozen=True)
class IdiaSettings:
    model: str = "sandbox"
    tau: int = limits.DEFAULT_TAU
    n_candidates: int = limits.DEFAULT_POOL
    seed: int = 0
    template_set: str = DEFAULT_TEMPLATE_SET
    name_mode: str = "mixed"

    def validated(self, n_templates: int | None = None) -> "IdiaSettings":
        """A copy with every field checked and converted (tau against the template count)."""
        from .templates import load_templates

        if n_templates is None:
            n_templates = len(load_templates(self.template_set))
        if self.name_mode not in NAME_MODES:
            raise IdiaInputError("name_mode", f"Unknown name mode '{self.name_mode}'; use one of {', '.join(NAME_MODES)}.")
        if not isinstance(self.model, str) or not self.model.strip():
            raise IdiaInputError("model_spec_empty", "No model given. Use 'sandbox' or a spec like 'ViT-B-32:openai'.")
        return replace(
            self,
            model=self.model.strip(),
            tau=validate_tau(self.tau, n_templates),
            n_candidates=validate_pool(self.n_candidates),
            seed=validate_seed(self.seed),
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "IdiaSettings":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in dict(data).items() if k in known})

    def replace(self, **changes) -> "IdiaSettings":
        return replace(self, **changes)
