"""idia — does this CLIP model know this person?

The Identity Inference Attack of "Does CLIP Know My Face?" (Hintersdorf et al., JAIR 2024) as a
library: load a model, run the attack on photos and a name, read the verdict and its evidence.
"""
from . import limits
from .attack import batch_idia, majority_votes
from .cache import TextEmbeddingCache
from .errors import IdiaInputError, ModelUnavailableError
from .images import Photo, load_photo, load_photos
from .models import CATALOGUE, IdiaModel, load_model, parse_spec
from .names import CandidatePool, build_candidate_pool, normalize_name, validate_name
from .result import IdiaResult
from .runner import run_idia
from .settings import IdiaSettings
from .templates import fill_template, load_templates, validate_template

__version__ = "0.1.0"

__all__ = [
    "CATALOGUE", "CandidatePool", "IdiaInputError", "IdiaModel", "IdiaResult", "IdiaSettings",
    "ModelUnavailableError", "Photo", "TextEmbeddingCache", "batch_idia", "build_candidate_pool",
    "fill_template", "limits", "load_model", "load_photo", "load_photos", "load_templates",
    "majority_votes", "normalize_name", "parse_spec", "run_idia", "validate_name", "validate_template",
    "__version__",
]
