"""The settings of one run, as one frozen, serialisable object shared by CLI, chat, reports and
share links; each field is checked by its validator in ``idia_core.validators``."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from .. import limits
from ..errors import IdiaInputError
from ..text.templates import DEFAULT_TEMPLATE_SET, load_templates
from ..validators import validate_name_mode, validate_pool_size, validate_seed, validate_tau


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
        if n_templates is None:
            n_templates = len(load_templates(self.template_set))
        if not isinstance(self.model, str) or not self.model.strip():
            raise IdiaInputError("model_spec_empty", "No model given. Use 'sandbox' or a spec like 'ViT-B-32:openai'.")
        return replace(
            self,
            model=self.model.strip(),
            tau=validate_tau(self.tau, n_templates),
            n_candidates=validate_pool_size(self.n_candidates),
            name_mode=validate_name_mode(self.name_mode),
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
