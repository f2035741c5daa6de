"""idia — does this CLIP model know this person?

The Identity Inference Attack of "Does CLIP Know My Face?" (Hintersdorf et al., JAIR 2024) as a
library: load a model, run the attack on photos and a name, read the verdict and its evidence.
The layout (one folder per concern, each importing only the floors below it) is ARCHITECTURE.md.

The public names below are imported on first use (PEP 562), so ``import idia_core`` and the
command line start without torch: a bad flag, ``--help`` or a missing model answer in a moment.
"""
from importlib import import_module

from . import limits
from .version import __version__

_PUBLIC = {
    "IdiaResult": "attack.result", "batch_idia": "attack.rule", "majority_votes": "attack.rule",
    "run_idia": "attack.run", "IdiaSettings": "attack.settings",
    "IdiaInputError": "errors", "ModelUnavailableError": "errors",
    "Photo": "images", "load_photo": "images", "load_photos": "images",
    "TextEmbeddingCache": "text.cache", "normalize_name": "text.names", "validate_name": "text.names",
    "CandidatePool": "text.pool", "build_candidate_pool": "text.pool",
    "fill_template": "text.templates", "load_templates": "text.templates", "validate_template": "text.templates",
    "CATALOGUE": "zoo.catalogue", "load_model": "zoo.load", "IdiaModel": "zoo.model", "parse_spec": "zoo.specs",
}

__all__ = sorted(_PUBLIC) + ["limits", "__version__"]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'idia_core' has no attribute {name!r}")
    value = getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value   # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
