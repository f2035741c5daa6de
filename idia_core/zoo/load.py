"""One load per model per process: ``load_model(spec)`` builds a model the first time it is asked
for and hands the same object to every later caller (a few models are kept, least recently used
dropped first)."""
from __future__ import annotations

import threading

import torch

from . import registry
from .build import build_model, normalise_precision
from .model import IdiaModel, default_device
from .registry import ModelKey
from .specs import ModelSpec, parse_spec

_SPEC_LOCKS: dict[ModelKey, threading.Lock] = {}
_SPEC_LOCKS_LOCK = threading.Lock()                # guards _SPEC_LOCKS only, never a load


def load_model(spec: str | ModelSpec, device: str | torch.device | None = None,
               precision: str | None = None) -> IdiaModel:
    """Load (once per process) the model a spec names, built as its weights were trained, in
    ``precision`` (float32/float16/bfloat16; default float16 on CUDA, float32 elsewhere).
    Raises IdiaInputError/ModelUnavailableError: ``model_not_cached`` (offline and not in the cache,
    within a second or two), ``model_dir_no_weights`` (no weights file open_clip would read: every
    spec but ``ARCH:random`` must load a checkpoint, strictly, so no parameter keeps its random
    init), ``model_load_failed`` (e.g. a parameter missing from the file), ``model_needs_packages``.

    A slow load (a download, a large model's hashing) holds only its own spec's lock: other callers
    of other models, or of models already loaded, are served meanwhile."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    dev = torch.device(device) if device is not None else default_device()
    prec = normalise_precision(precision, dev)
    key = ModelKey(parsed.text, str(dev), prec)
    model = registry.get(key)
    if model is not None:
        return model
    with _SPEC_LOCKS_LOCK:
        spec_lock = _SPEC_LOCKS.setdefault(key, threading.Lock())
    with spec_lock:  # one load per spec; a second caller waits for it instead of loading again
        model = registry.get(key)
        if model is None:
            model = build_model(parsed, dev, prec)
            registry.put(key, model)
        with _SPEC_LOCKS_LOCK:
            _SPEC_LOCKS.pop(key, None)
        return model
