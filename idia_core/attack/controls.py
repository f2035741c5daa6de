"""Validity controls: would the model say the same name for *other* faces?

A "member" verdict is evidence only if the model picks the name for this face, not for any face of
this look. Two controls answer that with the very same rule (pool, templates, tau, number of
photos) applied to *reference people* — people who are not the target:

1. **name prior**: the target's name put to M random reference people;
2. **look-alikes**: the same, for the M reference people whose photos are nearest to the user's
   photos in the model's image space (cosine of the mean photo embeddings).

Each reports how many reference people reach >= tau templates for the target's name, the
distribution of their correct-template counts, a Wilson 95% interval for that share, and an
empirical chance ``(1 + #{reference people with >= the observed count}) / (M + 1)`` (ties count
against the user). A member verdict stands only when both chances are <= ``ALPHA``; otherwise it is
*inconclusive*. The larger of the two (``ValidityControls.chance``) is *the* statement of how
unlikely a result is by chance: the explanation, the evidence bundle and the evaluation lead with
it (the pool-rank p of ``rule.pool_rank_p_value`` only restates the rule).

How exact each chance is:

* **name prior** — under the null "this person is like a random reference person for this name"
  the user's count is one more draw from the same distribution as the M random people's, so the
  chance is an exact permutation p-value (given a reference set drawn like the target).
* **look-alikes** — *conservative, not exact*. The M nearest neighbours are chosen for how close
  they are to the user's photos, so they are not exchangeable with the target (the permutation
  argument needs that: the target is the centre of the selection, not one draw of it). Chosen to
  share the look, they get a name that follows the look at least as easily as a random person of
  that look would, so the chance tends to be too large rather than too small: a look-alike failure
  errs towards *inconclusive*, and a pass is stronger evidence than the number says.

Pure functions: arrays in, counts and dataclasses out (shapes: R reference people, N photos each,
T templates, C candidates, D embedding size). The rule itself is ``attack``'s.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ..stats import wilson_interval
from . import rule
from .verdict import Verdict

DEFAULT_M = 50
ALPHA = 0.05
NAME_PRIOR = "name_prior"
LOOK_ALIKES = "look_alikes"
_CHUNK_ELEMS = 16_000_000  # similarity entries per block: bounds memory (~64 MB float32)


@dataclass(frozen=True)
class ControlOutcome:
    """One control for one check. ``counts[i]``: correct templates (for the target's name) of
    reference person ``reference_ids[i]``."""

    kind: str
    counts: tuple[int, ...]
    reference_ids: tuple[str, ...]
    observed: int
    tau: int
    n_templates: int
    alpha: float = ALPHA

    @property
    def m(self) -> int:
        return len(self.counts)

    @property
    def reached_tau(self) -> int:
        return int(sum(c >= self.tau for c in self.counts))

    @property
    def at_least_observed(self) -> int:
        return int(sum(c >= self.observed for c in self.counts))

    @property
    def chance(self) -> float:
        return empirical_chance(self.observed, self.counts)

    @property
    def wilson(self) -> tuple[float, float]:
        return wilson_95(self.reached_tau, self.m)

    @property
    def distribution(self) -> list[int]:
        """How many reference people got 0, 1, …, T correct templates."""
        return np.bincount(np.asarray(self.counts, dtype=np.int64), minlength=self.n_templates + 1).tolist()

    @property
    def passed(self) -> bool:
        """The user's photos beat this control: nobody-like-them gets the name as often."""
        return self.m > 0 and self.chance <= self.alpha

    def to_dict(self) -> dict:
        lo, hi = self.wilson
        return {"kind": self.kind, "m": self.m, "tau": self.tau, "observed": self.observed,
                "reached_tau": self.reached_tau, "rate": self.reached_tau / self.m if self.m else None,
                "wilson_95": [lo, hi], "at_least_observed": self.at_least_observed,
                "chance": self.chance, "alpha": self.alpha, "passed": self.passed,
                "max_count": max(self.counts) if self.counts else None,
                "distribution": self.distribution, "counts": list(self.counts),
                "reference_ids": list(self.reference_ids)}

    @classmethod
    def from_dict(cls, d: dict) -> "ControlOutcome":
        return cls(kind=str(d["kind"]), counts=tuple(int(c) for c in d["counts"]),
                   reference_ids=tuple(str(r) for r in d["reference_ids"]), observed=int(d["observed"]),
                   tau=int(d["tau"]), n_templates=len(d["distribution"]) - 1, alpha=float(d["alpha"]))


@dataclass(frozen=True)
class ValidityControls:
    """Both controls of one check and the identity of the reference set they drew from.

    ``reference_set``: {"name", "sha256" (hash of the sorted per-photo hashes — never photos),
    "people", "photos_per_person"}. ``None`` controls mean the control could not be run, with
    ``reason`` saying why."""

    name_prior: ControlOutcome | None
    look_alikes: ControlOutcome | None
    reference_set: dict = field(default_factory=dict)
    seed: int = 0
    reason: str = ""

    @property
    def ran(self) -> bool:
        return self.name_prior is not None and self.look_alikes is not None

    @property
    def weaker(self) -> "ControlOutcome | None":
        """The control with the larger chance (the look-alikes on a tie); None when not run."""
        if not self.ran:
            return None
        return self.name_prior if self.name_prior.chance > self.look_alikes.chance else self.look_alikes

    @property
    def chance(self) -> float | None:
        """How unlikely the result is by chance: the larger of the two controls' chances (a member
        verdict needs both <= alpha); None when the controls did not run."""
        weaker = self.weaker
        return None if weaker is None else weaker.chance

    @property
    def passed(self) -> bool:
        return self.ran and self.look_alikes.passed and self.name_prior.passed

    def to_dict(self) -> dict:
        return {"ran": self.ran, "reason": self.reason, "seed": self.seed, "chance": self.chance,
                "reference_set": dict(self.reference_set),
                NAME_PRIOR: self.name_prior.to_dict() if self.name_prior else None,
                LOOK_ALIKES: self.look_alikes.to_dict() if self.look_alikes else None}

    @classmethod
    def from_dict(cls, d: dict | None) -> "ValidityControls | None":
        if not d:
            return None
        return cls(name_prior=ControlOutcome.from_dict(d[NAME_PRIOR]) if d.get(NAME_PRIOR) else None,
                   look_alikes=ControlOutcome.from_dict(d[LOOK_ALIKES]) if d.get(LOOK_ALIKES) else None,
                   reference_set=dict(d.get("reference_set") or {}), seed=int(d.get("seed", 0)),
                   reason=str(d.get("reason", "")))


def not_run(reason: str) -> ValidityControls:
    return ValidityControls(None, None, {}, 0, reason)


# ---------------------------------------------------------------------------------------------
# Pure array functions


def wilson_95(k: int, n: int) -> tuple[float, float]:
    """Wilson score interval (95%) for k successes out of n; (nan, nan) when n = 0."""
    lo, hi = wilson_interval(np.asarray(k), np.asarray(n))
    return float(lo), float(hi)


def empirical_chance(observed: int, counts) -> float:
    """(1 + #{counts >= observed}) / (M + 1): the permutation p-value of the user's count among
    M reference people's (ties count against the user); 1.0 when M = 0. Exact when the M people
    are exchangeable with the user (random reference people); conservative for the look-alikes
    (module docstring)."""
    counts = np.asarray(counts)
    return float((1 + np.count_nonzero(counts >= observed)) / (counts.size + 1))


def best_over_columns(reference_emb: np.ndarray, text_emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[R, N, D] photos × [T, C', D] prompts → (best similarity, its column) per photo and
    template, both [R, N, T]; the first column wins an exact tie, like ``np.argmax``. Computed in
    blocks of people to bound memory. Used to cache the part of a pool every check shares (the
    seeded distractors), so a check only compares its own few names against it."""
    ref = np.asarray(reference_emb, dtype=np.float32)
    txt = np.asarray(text_emb, dtype=np.float32)
    r, n, d = ref.shape
    t, c, _ = txt.shape
    val = np.full((r, n, t), -np.inf, dtype=np.float32)
    idx = np.zeros((r, n, t), dtype=np.int64)
    if r == 0 or c == 0:
        return val, idx
    flat_txt = np.ascontiguousarray(txt.reshape(t * c, d).T)              # [D, T*C']
    step = max(1, _CHUNK_ELEMS // max(1, n * t * c))
    for s in range(0, r, step):
        block = ref[s:s + step]
        sims = (block.reshape(-1, d) @ flat_txt).reshape(len(block), n, t, c)
        best = sims.argmax(axis=-1)
        idx[s:s + step] = best
        val[s:s + step] = np.take_along_axis(sims, best[..., None], axis=-1)[..., 0]
    return val, idx


def reference_correct_counts(reference_emb: np.ndarray, text_emb: np.ndarray, target_index: int,
                             shared=None) -> np.ndarray:
    """[R, N, D] reference photos × [T, C, D] prompts → [R] templates whose unique majority (over
    each person's N photos) is ``target_index``: the paper's rule, for every reference person at
    once, with ``rule.predict``'s tie rule for the target (it gets a photo only when it leads
    every other name by more than ``rule.TIE_TOLERANCE``), exactly as the user's own count.

    ``shared`` (optional): ``(columns, best_val, best_idx)`` — the best of the columns
    ``columns`` (sorted indices into C) for these R people, from ``best_over_columns`` on
    ``text_emb[:, columns]``; only the other columns are then compared, exactly (the first index
    still wins an exact tie between other names)."""
    ref = np.asarray(reference_emb, dtype=np.float32)
    txt = np.asarray(text_emb, dtype=np.float32)
    if ref.ndim != 3 or txt.ndim != 3 or ref.shape[-1] != txt.shape[-1]:
        raise ValueError("reference_correct_counts expects [R, N, D] and [T, C, D] with the same D")
    if len(ref) == 0:
        return np.zeros(0, dtype=np.int64)
    c = txt.shape[1]
    target = int(target_index)
    if shared is not None and target in set(np.asarray(shared[0]).tolist()):
        shared = None          # the cache's best may be the target itself: compare every column
    if shared is None:
        others = np.delete(np.arange(c), target)
        o_val, o_idx = best_over_columns(ref, txt[:, others])             # [R, N, T], target left out
        best_col = others[o_idx] if len(others) else np.zeros_like(o_idx)
        best_val = o_val
    else:
        columns, s_val, s_idx = shared
        columns = np.asarray(columns, dtype=np.int64)
        rest = np.setdiff1d(np.arange(c), np.append(columns, target))
        r_val, r_idx = best_over_columns(ref, txt[:, rest])
        s_col = columns[s_idx] if len(columns) else np.zeros_like(s_idx)
        r_col = rest[r_idx] if len(rest) else np.zeros_like(r_idx)
        take_rest = (r_val > s_val) | ((r_val == s_val) & (r_col < s_col))
        best_col = np.where(take_rest, r_col, s_col)
        best_val = np.where(take_rest, r_val, s_val)
    target_val = np.einsum("rnd,td->rnt", ref, txt[:, target], optimize=True)   # [R, N, T]
    pred = np.where(target_val > best_val + rule.TIE_TOLERANCE, target, best_col)
    majority = rule.majority_votes(pred.transpose(0, 2, 1))            # [R, T]
    return rule.correct_templates(majority, np.full(len(ref), target))


def person_centroids(emb: np.ndarray) -> np.ndarray:
    """[..., N, D] photo embeddings → [..., D] unit-norm mean embedding per person."""
    mean = np.asarray(emb, dtype=np.float32).mean(axis=-2)
    norm = np.linalg.norm(mean, axis=-1, keepdims=True)
    return mean / np.where(norm > 0, norm, 1)


def nearest_reference(query_emb: np.ndarray, reference_centroids: np.ndarray, m: int) -> np.ndarray:
    """[N, D] the user's photos, [R, D] unit-norm reference centroids → the indices of the ``m``
    reference people most similar (cosine of centroids), most similar first; ties by index.
    Selected by their closeness to the user, they are not exchangeable with the user: the chance
    computed over them is conservative, not exact (module docstring)."""
    cent = np.asarray(reference_centroids, dtype=np.float32)
    m = min(int(m), len(cent))
    if m <= 0:
        return np.zeros(0, dtype=np.int64)
    sims = cent @ person_centroids(query_emb)
    return np.lexsort((np.arange(len(cent)), -sims))[:m]


def random_reference(n_reference: int, m: int, seed: int) -> np.ndarray:
    """``m`` distinct reference indices drawn with a seed (all of them when there are fewer)."""
    m = min(int(m), int(n_reference))
    return np.sort(np.random.default_rng(seed).choice(n_reference, size=m, replace=False))


def select_reference(query_emb, reference_centroids, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(look-alikes, random): the ``m`` reference people nearest to the user's photos and ``m``
    drawn with ``seed``, as indices into ``reference_centroids`` [R, D]."""
    cents = np.asarray(reference_centroids, dtype=np.float32)
    return nearest_reference(query_emb, cents, m), random_reference(len(cents), m, seed)


def counts_from_majority(reference_majority: np.ndarray, target_index) -> np.ndarray:
    """[R, T] reference people's per-template majorities (indices into the same pool) → [R]
    templates won by ``target_index``. For evaluation, where every person's majorities over one
    shared pool are computed once."""
    return (np.asarray(reference_majority) == target_index).sum(axis=-1)


def build_controls(near, rand, counts, ids, observed: int, tau: int, n_templates: int, *,
                   alpha: float = ALPHA, reference_set: dict | None = None, seed: int = 0) -> ValidityControls:
    """Both outcomes from selected indices and ``counts`` (an array over all reference people or a
    {index: count} mapping that covers the selected ones)."""
    def outcome(kind, idx):
        idx = np.asarray(idx).tolist()
        return ControlOutcome(kind, tuple(int(counts[i]) for i in idx), tuple(str(ids[i]) for i in idx),
                              int(observed), int(tau), int(n_templates), alpha)

    return ValidityControls(outcome(NAME_PRIOR, rand), outcome(LOOK_ALIKES, near), dict(reference_set or {}), seed)


def run_controls(query_emb, reference_emb, text_emb, target_index: int, observed: int, tau: int, *,
                 reference_ids=None, m: int = DEFAULT_M, seed: int = 0, reference_set: dict | None = None,
                 reference_centroids=None, alpha: float = ALPHA, shared=None) -> ValidityControls:
    """Both controls for one check.

    ``query_emb`` [N, D]: the user's photos. ``reference_emb`` [R, N', D] with N' >= N: the first N
    photos of each reference person are used, so both sides have the same number of photos.
    ``text_emb`` [T, C, D]: the check's own pool and templates; ``target_index`` the target's name.
    ``observed``: the user's correct templates. ``reference_centroids`` [R, D] (optional, for
    caching) default to the centroids of all N' photos. Only the (at most 2M) selected people are
    run through the rule. ``shared``: ``(columns, best_val [R, N, T], best_idx [R, N, T])`` cached
    for all R people over the pool columns every check shares (see ``reference_correct_counts``)."""
    q = np.asarray(query_emb, dtype=np.float32)
    ref = np.asarray(reference_emb, dtype=np.float32)
    n = q.shape[0]
    if ref.ndim != 3 or len(ref) == 0:
        return not_run("the reference set is empty")
    if ref.shape[1] < n:
        return not_run(f"the reference people have {ref.shape[1]} photos each, fewer than the {n} checked")
    ids = tuple(str(i) for i in (reference_ids if reference_ids is not None else range(len(ref))))
    cents = person_centroids(ref) if reference_centroids is None else np.asarray(reference_centroids)
    near, rand = select_reference(q, cents, m, seed)
    both = np.unique(np.concatenate([near, rand]))
    sub = None if shared is None else (shared[0], shared[1][both], shared[2][both])
    counts = dict(zip(both.tolist(), reference_correct_counts(ref[both, :n], text_emb, target_index, sub).tolist()))
    return build_controls(near, rand, counts, ids, observed, tau, np.asarray(text_emb).shape[0], alpha=alpha,
                          reference_set=reference_set, seed=seed)


def controlled_verdict(member: bool, controls: ValidityControls | None) -> Verdict:
    """The verdict after the controls (``verdict.Verdict``).

    The paper's rule decides non-members; a member verdict needs the user's photos to beat both
    controls; without a reference set it stands, marked unchecked."""
    if not member:
        return Verdict.NON_MEMBER
    if controls is None or not controls.ran:
        return Verdict.MEMBER_UNCHECKED
    return Verdict.MEMBER if controls.passed else Verdict.INCONCLUSIVE


def reference_set_hash(photo_hashes_by_person) -> str:
    """The identity of a reference set: SHA-256 over its people's sorted photo hashes (never
    photos). ``photo_hashes_by_person``: {person id: [sha256 hex of each photo]}."""
    h = hashlib.sha256()
    for pid in sorted(photo_hashes_by_person):
        h.update(pid.encode("utf-8") + b"\0")
        for ph in photo_hashes_by_person[pid]:
            h.update(ph.encode("ascii") + b"\n")
    return h.hexdigest()
