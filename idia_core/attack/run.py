"""``run_idia``: one check from photos and a name to an ``IdiaResult``.

This is the edge where I/O meets the pure attack: photos are decoded and validated, the model is
loaded, the pool's prompts come from the text-embedding cache (encoding only what is missing), and
then ``attack`` does the rest on arrays.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time

import numpy as np

from .. import limits
from ..errors import IdiaInputError
from ..images import Photo, check_photo_count, load_photo
from ..messages import fill
from ..progress import Progress, Steps, measure, seconds_per_unit
from ..sandbox.world import world_of
from ..text.cache import TextEmbeddingCache
from ..text.embeddings import PrivateEmbeddings, candidate_text_embeddings
from ..text.name_fit import fit_pool_to_model
from ..text.names import identity_key, validate_name
from ..text.pool import CandidatePool, build_candidate_pool, unique_names
from ..text.templates import load_templates, validate_templates
from ..validators import validate_control_m, validate_seed, validate_tau
from ..zoo.load import load_model
from ..zoo.model import IdiaModel
from . import rule
from .controls import DEFAULT_M, not_run, run_controls
from .reference import resolve_reference_set, shared_best
from .result import IdiaResult
from .settings import IdiaSettings

TOP_K = 5
# Seconds per unit a check's progress assumes before this process has measured the model: a prompt
# encoded (CPU, ViT-B-32), a photo embedded, the controls once (measured values replace them).
EXPECTED_S = {"text": 0.003, "photos": 0.05, "controls": 0.5}


def paper_real_identities(model) -> tuple[str, ...] | None:
    """The real identities of the ``paper`` pool for this model: the names of the world it was
    trained on where that is known (``sandbox.world.world_of``: the sandbox's), the paper's 548
    (None = the default) on every other model."""
    world = world_of(model.spec if isinstance(model, IdiaModel) else model)
    return world.names if world is not None else None


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
    settings: IdiaSettings | None = None,
    *,
    candidates=None,
    templates=None,
    extra_names=(),
    cache: TextEmbeddingCache | None = None,
    progress: Progress | None = None,
    min_photos: int = limits.MIN_PHOTOS,
    private_cache: PrivateEmbeddings | None = None,
    reference=None,
    control_m: int | None = None,
    **loose,
) -> IdiaResult:
    """Run the IDIA on N photos of one person. ``model`` is an ``IdiaModel`` or a spec string;
    ``settings`` (``IdiaSettings``, default the defaults) gives tau, the pool's size, seed and name
    mode, and the template set; its ``model`` is not read (the result records the model that ran).

    ``candidates``: an explicit pool instead of the seeded one (the target added if absent);
    ``templates``: an explicit list of templates instead of the settings' set (recorded under the
    settings' set name, or ``"custom"`` without settings).

    ``private_cache``: on a server shared by strangers, pass one per user (session): the prompts
    of names that user typed are then cached there, never in the shared cache. Without it (the
    CLI, a researcher's own machine) every prompt goes to the persistent cache.

    ``reference``: the validity controls' reference set (a ``reference.ReferenceSet``, a folder
    with one sub-folder per person, or ``"none"``); default ``IDIA_REFERENCE_DIR``, else the
    sandbox's own on the sandbox model, else the controls are reported as not run.
    ``control_m``: reference people per control (default 50).

    ``loose``: settings given one by one (``tau=``, ``n_candidates=``, ``seed=``, ``template_set=``,
    ``name_mode=``), as before ``settings`` existed; kept so that callers written that way still
    run, and folded into ``settings`` here.

    Raises ``IdiaInputError`` (with a message for the user) for anything the caller can fix."""
    s = _settings(settings, loose, custom_templates=templates is not None)
    clock = _Stopwatch()
    with clock.stage("decode"):
        items = list(images or [])
        check_photo_count(len(items), minimum=max(1, min_photos))
        name, seed, name_mode = validate_name(name), validate_seed(s.seed), s.name_mode
        templates = load_templates(s.template_set) if templates is None else validate_templates(templates)
        tau = validate_tau(s.tau, len(templates))
        real = paper_real_identities(model) if name_mode == "paper" and candidates is None else None
        pool = resolve_pool(name, candidates, extra_names, s.n_candidates, seed, name_mode, real)
        photos: list[Photo] = [load_photo(im) for im in items]
    with clock.stage("load_model"):
        model = model if isinstance(model, IdiaModel) else load_model(model)
    pool = fit_pool_to_model(pool, model, templates)   # a cut target is refused before any encoding
    steps = _check_steps(progress, model.fingerprint, len(photos))
    with clock.stage("text"):
        text_step = steps.step("text", _rate("text", model.fingerprint))
        text_emb = candidate_text_embeddings(model, templates, pool, cache, text_step, private_cache)
    steps.say("photos", fill("progress", "comparing", photos=len(photos), names=len(pool.names), T=len(templates)))
    with clock.stage("images"):
        image_emb = photo_embeddings(model, photos, private_cache)
    measure("photos", model.fingerprint, len(photos), clock.timings["images"])
    ran = IdiaSettings(model=model.spec, tau=tau, n_candidates=len(pool.names), seed=seed,
                       template_set=s.template_set, name_mode=name_mode)   # as run: the model, the pool's size
    with clock.stage("attack"):
        result = evaluate_embeddings(image_emb, text_emb, pool, templates, tau=tau, logit_scale=model.logit_scale,
                                     photos=photos, model=model, settings=ran, timings=clock.timings)
    with clock.stage("controls"):
        controls = check_controls(model, image_emb, text_emb, pool, photos, result.correct_templates, tau, seed,
                                  reference, control_m, templates, steps)
    clock.timings["total"] = clock.elapsed()
    return dataclasses.replace(result, controls=controls)


def _rate(step: str, fingerprint: str) -> float:
    """Seconds per unit of ``step`` on this model: last measured in this process, else expected."""
    return seconds_per_unit(step, fingerprint) or EXPECTED_S[step]


def _check_steps(progress: Progress | None, fingerprint: str, n_photos: int) -> Steps:
    """One check's steps for its progress line: the names (known once the cache is read), the
    photos, the reference people (only when they must be drawn), the controls."""
    return Steps(progress, [("text", 0.0), ("photos", _rate("photos", fingerprint) * n_photos),
                            ("reference", 0.0), ("controls", _rate("controls", fingerprint))])


def photo_embeddings(model: IdiaModel, photos: list[Photo], store: PrivateEmbeddings | None) -> np.ndarray:
    """[P, D] image embeddings of the photos. With a session's ``store``, each photo (by the SHA-256
    of its bytes) is embedded once per model and session, so a check that changes only its settings
    or names asks for no image embedding (no GPU) again; the store goes with the session."""
    if store is None:
        return model.encode_images(photos).numpy()
    keys = [(model.fingerprint, "photo", p.sha256) for p in photos]
    missing = [i for i, k in enumerate(keys) if k not in store]
    if missing:
        for i, vec in zip(missing, model.encode_images([photos[i] for i in missing]).numpy()):
            store[keys[i]] = vec
    return np.stack([store[k] for k in keys])


_LOOSE = frozenset(("tau", "n_candidates", "seed", "template_set", "name_mode"))


def _settings(settings: IdiaSettings | None, loose: dict, custom_templates: bool) -> IdiaSettings:
    """The settings a check runs with: ``settings``, with settings given one by one folded in; an
    explicit template list without settings is recorded as the set ``"custom"``."""
    unknown = sorted(set(loose) - _LOOSE)
    if unknown:
        raise TypeError(f"run_idia() got an unexpected keyword argument {unknown[0]!r}")
    loose = {k: v for k, v in loose.items() if not (k == "template_set" and v is None)}   # None: the default
    if custom_templates and settings is None and "template_set" not in loose:
        loose["template_set"] = "custom"
    return dataclasses.replace(settings if settings is not None else IdiaSettings(), **loose)


class _Stopwatch:
    """Seconds per stage of one check (``IdiaResult.timings``; never shown to other visitors)."""

    def __init__(self):
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = time.perf_counter() - t

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def check_controls(model, image_emb, text_emb, pool: CandidatePool, photos, observed: int, tau: int, seed: int,
                   reference=None, m: int | None = None, templates=(), steps: Steps | None = None):
    """The validity controls of one check (``controls.run_controls``) on its reference set, the
    target and anyone sharing a photo with the check left out of it. The reference people's best
    distractor per photo and template is memoised (``reference.shared_best``), so a check only
    compares its own names (target, added names) for them. ``steps``: the check's progress."""
    m = validate_control_m(DEFAULT_M if m is None else int(m))
    steps = steps or Steps(None, [])
    ref, why = resolve_reference_set(model, len(photos), reference, steps.step("reference"))
    if ref is None:
        return not_run(why)
    steps.say("controls", fill("progress", "controls", m=m))
    started = time.perf_counter()
    emb, ids, keep = ref.without(pool.target, [p.sha256 for p in photos])
    own = set(pool.user_names) | {pool.target}
    columns = np.array([i for i, n in enumerate(pool.names) if n not in own], dtype=np.int64)
    key = (tuple(templates), hashlib.sha256("\n".join(pool.names[i] for i in columns).encode()).hexdigest())
    val, idx = shared_best(ref, text_emb, columns, key)
    out = run_controls(image_emb, emb, text_emb, pool.target_index, observed, tau, reference_ids=ids, m=m,
                       seed=seed, reference_set=ref.identity(), shared=(columns, val[keep], idx[keep]))
    measure("controls", model.fingerprint, 1, time.perf_counter() - started)
    return out


def evaluate_embeddings(image_emb, text_emb, pool: CandidatePool, templates, *, tau, logit_scale,
                        photos, model, settings, timings) -> IdiaResult:
    """The attack and its evidence on embeddings already computed."""
    sims = rule.cosine_similarities(image_emb, text_emb)          # [T, P, C]
    true_index = pool.target_index
    pred = rule.predict(sims, true_index)
    majority = rule.majority_votes(pred)
    n_correct = int(rule.correct_templates(majority, true_index))
    prob = rule.true_name_probability(sims, true_index, logit_scale)
    top_idx, top_sim = rule.top_k(sims, TOP_K)
    return IdiaResult(
        member=bool(rule.is_member(n_correct, tau)),
        correct_templates=n_correct,
        tau=tau,
        true_name=pool.target,
        true_index=true_index,
        templates=tuple(templates),
        candidates=pool.names,
        predictions=pred,
        majority=majority,
        true_name_ranks=rule.true_name_ranks(sims, true_index),
        top_indices=top_idx,
        top_similarities=top_sim,
        mean_similarity=sims.mean(axis=(0, 1)),
        true_name_probability=prob,
        score=float(rule.membership_score(n_correct, prob)),
        pool_rank_p=rule.pool_rank_p_value(majority, len(pool.names), true_index),
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
