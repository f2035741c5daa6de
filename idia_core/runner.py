"""``run_idia``: one check from photos and a name to an ``IdiaResult``.

This is the edge where I/O meets the pure attack: photos are decoded and validated, the model is
loaded, the pool's prompts come from the text-embedding cache (encoding only what is missing), and
then ``attack`` does the rest on arrays.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from typing import Callable

import numpy as np

from . import attack, limits, text_jobs
from .cache import TextEmbeddingCache, default_cache
from .errors import IdiaInputError
from .images import Photo, check_photo_count, load_photo
from .models import IdiaModel, load_model
from .name_fit import fit_pool_to_model
from .names import CandidatePool, build_candidate_pool, identity_key, unique_names, validate_name
from .result import IdiaResult
from .settings import IdiaSettings, validate_seed, validate_tau
from .templates import DEFAULT_TEMPLATE_SET, fill_template, load_templates, validate_templates

Progress = Callable[[int, int, str], None]
TOP_K = 5
_POOL_MEMO: "OrderedDict[tuple, np.ndarray]" = OrderedDict()
_POOL_MEMO_SIZE = 4
_POOL_LOCK = threading.Lock()


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

    Values pass through float16 whether they were just encoded or read from the cache, so the first
    run and every later run see the same numbers (and so the same verdict)."""
    memo_key = (model.fingerprint, templates, names)
    with _POOL_LOCK:
        hit = _POOL_MEMO.get(memo_key)
        if hit is not None:
            _POOL_MEMO.move_to_end(memo_key)
            return hit
    cache = cache if cache is not None else default_cache()
    prompts = [fill_template(t, n) for t in templates for n in names]
    found, missing = cache.get_many(model.fingerprint, prompts)
    if missing:
        # name by name (all templates of a name together): prefix sharing shares `<start> name`
        # across the templates that start with the name, within one encoder call
        missing.sort(key=lambda i: (i % len(names), i // len(names)))
        vecs = text_jobs.encode_prompts(
            model, [prompts[i] for i in missing],
            lambda ps, vs: cache.put_many(model.fingerprint, ps, vs),
            names=len({i % len(names) for i in missing}), progress=progress, background=background)
        for i, v in zip(missing, vecs):
            found[i] = v
    emb = np.stack(found).astype(np.float32).reshape(len(templates), len(names), -1)
    with _POOL_LOCK:
        _POOL_MEMO[memo_key] = emb
        while len(_POOL_MEMO) > _POOL_MEMO_SIZE:
            _POOL_MEMO.popitem(last=False)
    return emb


class PrivateEmbeddings(dict):
    """Embeddings of prompts built from names a user typed (the person checked, names they added),
    kept with that user's session instead of the shared cache: a shared server must not let one
    visitor learn, from a cache hit or its speed, whom another visitor checked. Copying a session
    shares this object (it only grows), and it goes with the session."""

    def __deepcopy__(self, memo):
        return self


def private_text_embeddings(model: IdiaModel, templates: tuple[str, ...], names: tuple[str, ...],
                            store: PrivateEmbeddings) -> np.ndarray:
    """[T, len(names), D] like ``pool_text_embeddings``, cached only in ``store`` (fp16 there too)."""
    prompts = [fill_template(t, n) for t in templates for n in names]
    keys = [(model.fingerprint, p) for p in prompts]
    missing = [i for i, k in enumerate(keys) if k not in store]
    if missing:
        vecs = model.encode_texts([prompts[i] for i in missing]).numpy().astype(np.float16)
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
    with _POOL_LOCK:
        _POOL_MEMO.clear()


def paper_real_identities(model) -> tuple[str, ...] | None:
    """The real identities of the ``paper`` pool for this model: the sandbox world's own names on
    the sandbox, the paper's 548 (None = the default) on every other model."""
    spec = model.spec if isinstance(model, IdiaModel) else str(model or "").strip()
    if spec == "sandbox":
        from .sandbox.world import load_world

        return load_world().names
    return None


def resolve_pool(name: str, candidates, extra_names, n_candidates: int, seed: int, mode: str,
                 real_identities=None) -> CandidatePool:
    """The candidate pool: an explicit list (the target added if absent) or a seeded pool."""
    if candidates is None:
        return build_candidate_pool(name, extra_names, n_candidates, seed, mode, real_identities=real_identities)
    target = validate_name(name)
    names, dropped = unique_names(candidates, set(), what="A candidate name")
    tkey = identity_key(target)
    names = [n for n in names if identity_key(n) != tkey] + [target]
    if len(names) < limits.MIN_POOL or len(names) > limits.MAX_POOL:
        raise IdiaInputError(
            "pool_size_range",
            f"The candidate list makes a pool of {len(names)} names; it must hold {limits.MIN_POOL} to {limits.MAX_POOL}.",
        )
    return CandidatePool(tuple(names), len(names) - 1, (), tuple(dropped), seed, mode)


def run_idia(
    model,
    images,
    name: str,
    *,
    candidates=None,
    n_candidates: int = limits.DEFAULT_POOL,
    templates=None,
    tau: int = limits.DEFAULT_TAU,
    seed: int = 0,
    extra_names=(),
    name_mode: str = "mixed",
    template_set: str | None = None,
    cache: TextEmbeddingCache | None = None,
    progress: Progress | None = None,
    min_photos: int = limits.MIN_PHOTOS,
    private_cache: PrivateEmbeddings | None = None,
    reference=None,
    control_m: int | None = None,
) -> IdiaResult:
    """Run the IDIA on N photos of one person. ``model`` is an ``IdiaModel`` or a spec string.

    ``private_cache``: on a server shared by strangers, pass one per user (session): the prompts
    of names that user typed are then cached there, never in the shared cache. Without it (the
    CLI, a researcher's own machine) every prompt goes to the persistent cache.

    ``reference``: the validity controls' reference set (a ``reference.ReferenceSet``, a folder
    with one sub-folder per person, or ``"none"``); default ``IDIA_REFERENCE_DIR``, else the
    sandbox's own on the sandbox model, else the controls are reported as not run.
    ``control_m``: reference people per control (default 50).

    Raises ``IdiaInputError`` (with a message for the user) for anything the caller can fix."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    items = list(images or [])
    check_photo_count(len(items), minimum=max(1, min_photos))
    name = validate_name(name)
    seed = validate_seed(seed)
    if templates is None:
        template_set = template_set or DEFAULT_TEMPLATE_SET
        templates = load_templates(template_set)
    else:
        templates = validate_templates(templates)
        template_set = template_set or "custom"
    tau = validate_tau(tau, len(templates))
    real = paper_real_identities(model) if name_mode == "paper" and candidates is None else None
    pool = resolve_pool(name, candidates, extra_names, n_candidates, seed, name_mode, real)
    photos: list[Photo] = [load_photo(im) for im in items]
    timings["decode"] = time.perf_counter() - t0

    t = time.perf_counter()
    if not isinstance(model, IdiaModel):
        model = load_model(model)
    timings["load_model"] = time.perf_counter() - t
    pool = fit_pool_to_model(pool, model, templates)   # a cut target is refused before any encoding

    t = time.perf_counter()
    text_emb = candidate_text_embeddings(model, templates, pool, cache, progress, private_cache)
    timings["text"] = time.perf_counter() - t

    t = time.perf_counter()
    image_emb = model.encode_images(photos).numpy()
    timings["images"] = time.perf_counter() - t

    t = time.perf_counter()
    result = evaluate_embeddings(
        image_emb, text_emb, pool, templates, tau=tau, logit_scale=model.logit_scale,
        photos=photos, model=model,
        settings=IdiaSettings(model=model.spec, tau=tau, n_candidates=len(pool.names), seed=seed,
                              template_set=template_set, name_mode=name_mode),
        timings=timings,
    )
    timings["attack"] = time.perf_counter() - t

    t = time.perf_counter()
    result = dataclasses.replace(result, controls=check_controls(
        model, image_emb, text_emb, pool, photos, result.correct_templates, tau, seed, reference, control_m,
        templates))
    timings["controls"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return result


def check_controls(model, image_emb, text_emb, pool: CandidatePool, photos, observed: int, tau: int, seed: int,
                   reference=None, m: int | None = None, templates=()):
    """The validity controls of one check (``controls.run_controls``) on its reference set, the
    target and anyone sharing a photo with the check left out of it. The reference people's best
    distractor per photo and template is memoised (``reference.shared_best``), so a check only
    compares its own names (target, added names) for them."""
    import hashlib

    from .controls import DEFAULT_M, not_run, run_controls
    from .reference import resolve_reference_set, shared_best

    m = DEFAULT_M if m is None else int(m)
    if m < 1 or m > 1000:
        raise IdiaInputError("control_m_range", f"The controls use 1 to 1000 reference people, not {m}.")
    ref, why = resolve_reference_set(model, len(photos), reference)
    if ref is None:
        return not_run(why)
    emb, ids, keep = ref.without(pool.target, [p.sha256 for p in photos])
    own = set(pool.user_names) | {pool.target}
    columns = np.array([i for i, n in enumerate(pool.names) if n not in own], dtype=np.int64)
    key = (tuple(templates), hashlib.sha256("\n".join(pool.names[i] for i in columns).encode()).hexdigest())
    val, idx = shared_best(ref, text_emb, columns, key)
    return run_controls(image_emb, emb, text_emb, pool.target_index, observed, tau, reference_ids=ids, m=m,
                        seed=seed, reference_set=ref.identity(), shared=(columns, val[keep], idx[keep]))


def evaluate_embeddings(image_emb, text_emb, pool: CandidatePool, templates, *, tau, logit_scale,
                        photos, model, settings, timings) -> IdiaResult:
    """The attack and its evidence on embeddings already computed."""
    sims = attack.cosine_similarities(image_emb, text_emb)          # [T, P, C]
    true_index = pool.target_index
    pred = attack.predict(sims, true_index)
    majority = attack.majority_votes(pred)
    n_correct = int(attack.correct_templates(majority, true_index))
    prob = attack.true_name_probability(sims, true_index, logit_scale)
    top_idx, top_sim = attack.top_k(sims, TOP_K)
    return IdiaResult(
        member=bool(attack.is_member(n_correct, tau)),
        correct_templates=n_correct,
        tau=tau,
        true_name=pool.target,
        true_index=true_index,
        templates=tuple(templates),
        candidates=pool.names,
        predictions=pred,
        majority=majority,
        true_name_ranks=attack.true_name_ranks(sims, true_index),
        top_indices=top_idx,
        top_similarities=top_sim,
        mean_similarity=sims.mean(axis=(0, 1)),
        true_name_probability=prob,
        score=float(attack.membership_score(n_correct, prob)),
        p_value=attack.name_swap_p_value(majority, len(pool.names), true_index),
        photo_hashes=tuple(p.sha256 for p in photos),
        photo_labels=tuple(p.label for p in photos),
        settings=settings,
        model_spec=model.spec,
        fingerprint=model.fingerprint,
        model_build=model.build.to_dict() if getattr(model, "build", None) else {},
        user_names=pool.user_names,
        duplicates_dropped=pool.duplicates_dropped,
        too_long_dropped=pool.too_long_dropped,
        indistinct_dropped=pool.indistinct_dropped,
        timings=timings,
    )
