"""The embeddings of a pool's prompts, [T, C, D]: every template filled with every candidate name.

What the shared cache has is read from it; what it lacks is encoded once per process (``jobs``)
and stored. Names a visitor typed (the person checked, names they added) never enter the shared
cache on a server: their prompts are kept in the visitor's own ``PrivateEmbeddings``.
"""
from __future__ import annotations

import numpy as np

from ..memo import BoundedMemo
from ..progress import Progress
from ..zoo.model import IdiaModel
from . import jobs
from .cache import TextEmbeddingCache, default_cache
from .pool import CandidatePool
from .templates import fill_template

_POOL_MEMO: BoundedMemo[tuple, np.ndarray] = BoundedMemo(4)   # the last pools asked for, by model and prompts


def pool_text_embeddings(
    model: IdiaModel,
    templates: tuple[str, ...],
    names: tuple[str, ...],
    cache: TextEmbeddingCache | None = None,
    progress: Progress | None = None,
    background: bool = False,
) -> np.ndarray:
    """[T, C, D] float32 unit-norm embeddings of every template filled with every name.

    Missing prompts are encoded through ``text_jobs`` (once per process however many sessions ask
    at the same time; ``background``: yield to every visitor's encoding, for warm-ups).

    Every vector is the float32 the model produced, whether it was just encoded or read from the
    cache (which stores the exact bytes), so the first run and every later run see the same
    numbers (and so the same verdict), and they are stock open_clip ``encode_text``'s to 1e-5."""
    memo_key = (model.fingerprint, templates, names)
    hit = _POOL_MEMO.get(memo_key)
    if hit is not None:
        return hit
    cache = cache if cache is not None else default_cache()
    prompts = [fill_template(t, n) for t in templates for n in names]
    found, missing = cache.get_many(model.fingerprint, prompts)
    if missing:
        # name by name (all templates of a name together): prefix sharing shares `<start> name`
        # across the templates that start with the name, within one encoder call
        missing.sort(key=lambda i: (i % len(names), i // len(names)))
        vecs = jobs.encode_prompts(
            model, [prompts[i] for i in missing],
            lambda ps, vs: cache.put_many(model.fingerprint, ps, vs),
            names=len({i % len(names) for i in missing}), progress=progress, background=background)
        for i, v in zip(missing, vecs):
            found[i] = v
    emb = np.stack(found).astype(np.float32).reshape(len(templates), len(names), -1)
    _POOL_MEMO.put(memo_key, emb)
    return emb


class PrivateEmbeddings(dict):
    """Embeddings of prompts built from names a user typed (the person checked, names they added),
    and of the photos they sent (``attack.run.photo_embeddings``), kept with that user's session
    instead of any shared cache: a shared server must not let one visitor learn, from a cache hit
    or its speed, whom another visitor checked. In memory only. Copying a session shares this
    object (it only grows), and it goes with the session."""

    def __deepcopy__(self, memo):
        return self


def private_text_embeddings(model: IdiaModel, templates: tuple[str, ...], names: tuple[str, ...],
                            store: PrivateEmbeddings) -> np.ndarray:
    """[T, len(names), D] like ``pool_text_embeddings`` (the model's float32 vectors), cached only in
    ``store``."""
    prompts = [fill_template(t, n) for t in templates for n in names]
    keys = [(model.fingerprint, p) for p in prompts]
    missing = [i for i, k in enumerate(keys) if k not in store]
    if missing:
        vecs = model.encode_texts([prompts[i] for i in missing]).numpy().astype(np.float32, copy=False)
        for i, v in zip(missing, vecs):
            store[keys[i]] = v
    return np.stack([store[k] for k in keys]).astype(np.float32).reshape(len(templates), len(names), -1)


def candidate_text_embeddings(model: IdiaModel, templates: tuple[str, ...], pool: CandidatePool,
                              cache: TextEmbeddingCache | None, progress: Progress | None,
                              private: PrivateEmbeddings | None) -> np.ndarray:
    """[T, C, D] for the whole pool. With ``private``, the seeded distractors come from the shared
    cache and the user's own names (target and added names) from the private store."""
    if private is None:
        return pool_text_embeddings(model, templates, pool.names, cache, progress)
    own = set(pool.user_names) | {pool.target}
    public_idx = [i for i, n in enumerate(pool.names) if n not in own]
    private_idx = [i for i, n in enumerate(pool.names) if n in own]
    # a pool of the user's own names only (no seeded distractor left) has no shared part at all
    parts = []
    if public_idx:
        parts.append((public_idx, pool_text_embeddings(model, templates, tuple(pool.names[i] for i in public_idx),
                                                       cache, progress)))
    parts.append((private_idx, private_text_embeddings(model, templates, tuple(pool.names[i] for i in private_idx),
                                                       private)))
    emb = np.empty((len(templates), len(pool.names), parts[-1][1].shape[-1]), dtype=np.float32)
    for idx, values in parts:
        emb[:, idx] = values
    return emb


def clear_pool_memo() -> None:
    _POOL_MEMO.clear()
