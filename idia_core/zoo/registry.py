"""The models loaded in this process, by key: one entry per (spec, device, precision).

``load.load_model`` keeps a few models (least recently used dropped first). Every model object
alive in this process is also findable by its key (``remember``/``peek``, weak references): the
GPU boundary's workers get a key, not the object, and find the model a caller holds even after it
left the kept few. ``peek`` takes no lock, because a forked worker must never wait for a lock that
another thread of its parent held when it was forked.
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from ..memo import BoundedMemo

MAX_LOADED_MODELS = 4


@dataclass(frozen=True)
class ModelKey:
    """What names one loaded model (plain data: it crosses the GPU boundary, pickled)."""

    spec: str
    device: str
    precision: str


_LOADED: "BoundedMemo[ModelKey, object]" = BoundedMemo(MAX_LOADED_MODELS)
_LIVE: "dict[ModelKey, weakref.WeakSet]" = {}   # every model object alive, by key (two may share one)
_LOCK = threading.Lock()


def get(key: ModelKey):
    """The loaded model for ``key`` (marked recently used), or None."""
    return _LOADED.get(key)


def put(key: ModelKey, model) -> None:
    """Keep ``model`` under ``key``; beyond ``MAX_LOADED_MODELS`` the least recently used goes."""
    _LOADED.put(key, model)


def remember(key: ModelKey, model) -> None:
    """Make ``model`` findable by ``peek`` for as long as anyone holds it (the model does this itself).
    A model loaded again after it left the kept few is a second object under the same key; either
    serves (the same weights, build and precision)."""
    with _LOCK:
        _LIVE.setdefault(key, weakref.WeakSet()).add(model)


def peek(key: ModelKey):
    """A model object alive under ``key``, or None, without a lock: for code that runs in a forked
    worker, where a lock held by another thread at the fork would never be released."""
    for model in list(_LIVE.get(key, ())):
        return model
    return None


def clear() -> None:
    _LOADED.clear()
