"""Ground-truth evaluation of the IDIA on the sandbox world.

Why: in the sandbox we know who was in the training data, so every verdict can be scored. This
runs the paper's protocol in miniature: a 1000-name pool (every world name plus seeded distractors),
the 21 paper templates, tau = 1, on fresh attack renders (never training photos) of every person,
with several independent draws of N photos; metrics are mean and sd over draws.

The rule itself is the core's (`idia_core.attack.rule`) and the pool's text embeddings come
from the core's cached encoder, so the sandbox scores exactly what `check` would decide.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from ..attack.controls import (DEFAULT_M, build_controls, controlled_verdict, counts_from_majority, person_centroids,
                               select_reference)
from ..attack.rule import majority_votes, predict_from_top_two, top_two
from ..attack.verdict import Verdict
from ..progress import Progress
from ..sandbox.world import NEVER_NAMED_ROLES, ROLES, World, load_world, render_attack_photos
from ..text.embeddings import pool_text_embeddings
from ..text.name_fit import fit_pool_to_model
from ..text.pool import build_candidate_pool
from ..text.templates import load_templates
from ..zoo.load import load_model

DEFAULT_PHOTOS = 10
DEFAULT_DRAWS = 5
POOL_SIZE = 1000
TAU = 1


@dataclass(frozen=True)
class PersonOutcome:
    """The verdict for one person in each draw, without and with the validity controls."""

    index: int
    name: str
    role: str
    k: int
    member: tuple[bool, ...]  # one per draw: the paper's rule
    correct_templates: tuple[int, ...]
    controlled: tuple[bool, ...] = ()  # one per draw: member after both controls
    look_alikes_reached: tuple[int, ...] = ()  # look-alikes reaching tau for this name, per draw


def _select_people(world: World, people_limit: int | None, seed: int):
    """All people, or an even share of each (role, k) group when a limit is given (fast tests)."""
    if not people_limit:
        return list(world.people)
    groups: dict[tuple[str, int], list] = {}
    for p in world.people:
        groups.setdefault((p.role, p.k), []).append(p)
    per_group = max(1, people_limit // len(groups))
    return [p for key in sorted(groups) for p in groups[key][:per_group]]


def _top_two(model, person, text_flat, n_templates, n_photos, n_draws, seed):
    """(image embeddings [draws, N, D], ``rule.top_two`` of every photo and template, each
    [draws, N, T], over the union pool): enough to apply the tie rule of ``rule.predict`` for any
    target afterwards (``_predict_for``)."""
    photos = render_attack_photos(person, n_photos * n_draws, seed)
    img = model.encode_images(photos).numpy().astype(np.float32).reshape(n_draws, n_photos, -1)
    sims = (img.reshape(-1, img.shape[-1]) @ text_flat).reshape(n_draws, n_photos, n_templates, -1)
    return img, top_two(sims)


def _predict_for(top, target: int) -> np.ndarray:
    """``rule.predict(sims, target)`` from ``_top_two``'s summary (``rule.predict_from_top_two``).
    [..., N, T] → [..., T, N] (ready for ``rule.majority_votes``)."""
    return np.swapaxes(predict_from_top_two(top, target), -1, -2)


def run_world_idia(
    model,
    world: World,
    people: Sequence,
    n_photos: int = DEFAULT_PHOTOS,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    progress: Progress | None = None,
    control_m: int | None = None,
    reference_limit: int | None = None,
) -> list[PersonOutcome]:
    """Run the attack on `people`; `model` is an IdiaModel. One text encoding for all people.

    Every person's pool is {all world names} + the same namesake-free seeded distractors (none
    shares a first name or surname with anyone in the world), fitted to the model, exactly what
    `check` builds with the other people added; only the order differs, and ties never count for
    the name being checked whatever the order (`attack.predict`), so one pool order serves everyone.
    Each person's best and runner-up name per photo and template are computed once over it and
    every count is read from them: the person's own (their name) and, for the validity controls,
    the reference people's (the target's name, with the same tie rule). Reference people: the
    world's never-named people (`NEVER_NAMED_ROLES`) other than the target, with their own fresh
    photos of the same draw; ``reference_limit`` keeps an evenly spaced subset of them (fast runs)."""
    templates = load_templates("paper21")
    pos, text_flat = _union_pool(model, world, templates, seed)
    refs = _reference_people(world, reference_limit)
    todo = {p.index: p for p in list(people) + refs}
    img, top = {}, {}
    for j, idx in enumerate(sorted(todo)):
        img[idx], top[idx] = _top_two(model, todo[idx], text_flat, len(templates), n_photos, n_draws, seed)
        if progress:
            progress(j + 1, len(todo), "attacking sandbox people (and their reference people)")
    ref = _References(np.array([p.index for p in refs]), img, top, n_draws)
    m = DEFAULT_M if control_m is None else control_m
    return [_person_outcome(person, pos[person.name], img, top, ref, len(templates), m, seed) for person in people]


def _union_pool(model, world: World, templates, seed: int) -> tuple[dict[str, int], np.ndarray]:
    """(name -> its column, [D, T*C] prompt embeddings) of the pool every person shares."""
    all_names = list(world.names)
    base = fit_pool_to_model(build_candidate_pool(all_names[0], all_names[1:], POOL_SIZE, seed=seed),
                             model, templates)
    text_emb = pool_text_embeddings(model, templates, tuple(base.names))  # [T, C, D]
    return {n: i for i, n in enumerate(base.names)}, np.ascontiguousarray(text_emb.reshape(-1, text_emb.shape[-1]).T)


def _reference_people(world: World, limit: int | None) -> list:
    """The never-named people; with ``limit``, an evenly spaced subset of them."""
    refs = [p for p in world.people if p.role in NEVER_NAMED_ROLES]
    if limit and limit < len(refs):
        refs = [refs[i] for i in np.linspace(0, len(refs) - 1, limit).round().astype(int)]
    return refs


class _References:
    """The reference people's indices, centroids [R, draws, D] and top-two summaries."""

    def __init__(self, idx: np.ndarray, img: dict, top: dict, n_draws: int):
        self.idx = idx
        self.centroids = (person_centroids(np.stack([img[i] for i in idx])) if len(idx)
                          else np.zeros((0, n_draws, 1), np.float32))
        self.top = tuple(np.stack([top[i][k] for i in idx]) for k in range(4)) if len(idx) else None


def _person_outcome(person, u: int, img: dict, top: dict, ref: _References, t: int, m: int,
                    seed: int) -> PersonOutcome:
    """One person's verdict in each draw, by the rule and with both controls (name ``u``)."""
    n_draws = img[person.index].shape[0]
    correct = (majority_votes(_predict_for(top[person.index], u)) == u).sum(axis=-1)      # [draws]
    keep = ref.idx != person.index
    ids = ref.idx[keep]
    ref_maj = (majority_votes(_predict_for(tuple(a[keep] for a in ref.top), u))
               if len(ids) else np.zeros((0, n_draws, t), int))                           # [R, draws, T]
    controlled, reached = [], []
    for d in range(n_draws):
        if not len(ids):
            controlled.append(False)
            reached.append(0)
            continue
        counts = counts_from_majority(ref_maj[:, d], u)
        near, rand = select_reference(img[person.index][d], ref.centroids[keep, d], m, seed * 1000 + d)
        ctl = build_controls(near, rand, counts, ids, int(correct[d]), TAU, t)
        controlled.append(controlled_verdict(bool(correct[d] >= TAU), ctl) is Verdict.MEMBER)
        reached.append(ctl.look_alikes.reached_tau)
    return PersonOutcome(person.index, person.name, person.role, person.k, tuple(bool(c >= TAU) for c in correct),
                         tuple(int(c) for c in correct), tuple(controlled), tuple(reached))


def _mean_sd(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def _summarise_calls(outcomes: Sequence[PersonOutcome], attr: str) -> dict[str, Any]:
    n_draws = len(outcomes[0].member)
    calls = {r: np.array([getattr(o, attr) for o in outcomes if o.role == r], dtype=float).reshape(-1, n_draws)
             for r in ROLES}
    ks = sorted({o.k for o in outcomes if o.role == "member"})
    tpr_by_k, tpr_sd_by_k, count_by_k = {}, {}, {}
    for k in ks:
        arr = np.array([getattr(o, attr) for o in outcomes if o.role == "member" and o.k == k], dtype=float)
        tpr_by_k[str(k)], tpr_sd_by_k[str(k)] = _mean_sd(arr.mean(axis=0))
        count_by_k[str(k)] = len(arr)

    def rate(role: str):
        return _mean_sd(calls[role].mean(axis=0)) if len(calls[role]) else (float("nan"), 0.0)

    fpr, fpr_sd = rate("non-member")
    fo, fo_sd = rate("face-only")
    no, no_sd = rate("name-only")
    tr, tr_sd = rate("trap")
    la, la_sd = rate("look-alike")
    tpr_all, _ = rate("member")
    truth = np.concatenate([calls["member"], 1 - calls["non-member"]], axis=0)
    acc, acc_sd = _mean_sd(truth.mean(axis=0)) if len(truth) else (float("nan"), 0.0)
    return {
        "tpr_by_k": tpr_by_k,
        "tpr_sd_by_k": tpr_sd_by_k,
        "members_by_k": count_by_k,
        "tpr_all_members": tpr_all,
        "fpr_non_members": fpr,
        "fpr_sd": fpr_sd,
        "member_rate_face_only": fo,
        "member_rate_face_only_sd": fo_sd,
        "member_rate_name_only": no,
        "member_rate_name_only_sd": no_sd,
        "member_rate_traps": tr,
        "member_rate_traps_sd": tr_sd,
        "member_rate_look_alikes": la,
        "member_rate_look_alikes_sd": la_sd,
        "accuracy": acc,
        "accuracy_sd": acc_sd,
    }


def summarise(outcomes: Sequence[PersonOutcome]) -> dict[str, Any]:
    """Ground-truth metrics, each a mean over draws (with its sd alongside), for the paper's rule
    alone (top level) and with the validity controls (``with_controls``: member only when the
    photos also beat the look-alikes and random reference people).

    Accuracy counts members and non-members (the two groups whose truth is unambiguous); the
    controls, traps and look-alikes are reported as the rate at which they are called member."""
    if not outcomes:
        raise ValueError("no people were evaluated")
    out = _summarise_calls(outcomes, "member")
    if all(o.controlled for o in outcomes):
        out["with_controls"] = _summarise_calls(outcomes, "controlled")
    out["counts"] = {r: sum(o.role == r for o in outcomes) for r in ROLES}
    out["draws"] = len(outcomes[0].member)
    return out


def evaluate_world(
    model="sandbox",
    world: World | None = None,
    n_photos: int = DEFAULT_PHOTOS,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    people_limit: int | None = None,
    progress: bool = False,
    control_m: int | None = None,
    reference_limit: int | None = None,
) -> dict[str, Any]:
    """Load the model (a spec or an IdiaModel) and the world, run, and summarise."""
    if isinstance(model, str):
        model = load_model(model)
    world = world or load_world()
    people = _select_people(world, people_limit, seed)
    bar = tqdm(desc="attacking sandbox people (and their reference people)", unit="person") if progress else None

    def advance(done, total, message):
        bar.total = total
        bar.update(1)
    try:
        outcomes = run_world_idia(model, world, people, n_photos, n_draws, seed, advance if bar is not None else None,
                                  control_m,
                                  reference_limit)
    finally:
        if bar is not None:
            bar.close()
    summary = summarise(outcomes)
    summary.update({"photos": n_photos, "seed": seed, "pool_size": POOL_SIZE, "tau": TAU,
                    "templates": "paper21", "model": getattr(model, "spec", str(model)),
                    "fingerprint": getattr(model, "fingerprint", None), "people": len(people),
                    "control_m": control_m or 50,
                    "reference_people": min(reference_limit or 10**9, sum(p.role in ("non-member", "face-only", "look-alike")
                                                                         for p in world.people))})
    return summary


def format_table(s: dict[str, Any]) -> str:
    """The summary as a small plain-text table for the terminal: called-member rate per group,
    without and with the validity controls."""
    w = s.get("with_controls") or {}
    lines = [f"IDIA on the sandbox world: {s['people']} people, {s['photos']} photos x {s['draws']} draws, "
             f"seed {s['seed']}, {s['pool_size']}-name pool, 21 templates, tau {s['tau']}",
             f"validity controls: M = {s.get('control_m', 50)} of {s.get('reference_people', '?')} never-named "
             "reference people (look-alikes: nearest in image space; name prior: random)",
             "", f"{'group':<22}{'n':>5}{'called member':>16}{'sd':>8}{'with controls':>16}{'sd':>8}"]

    def row(label, n, key, sd, tk=None):
        v, d = (s[key][tk], s[sd][tk]) if tk else (s[key], s[sd])
        if w:
            wv, wd = (w[key][tk], w[sd][tk]) if tk else (w[key], w[sd])
            return f"{label:<22}{n:>5}{v:>16.3f}{d:>8.3f}{wv:>16.3f}{wd:>8.3f}"
        return f"{label:<22}{n:>5}{v:>16.3f}{d:>8.3f}"

    for k in s["tpr_by_k"]:
        lines.append(row("member k=" + k, s["members_by_k"][k], "tpr_by_k", "tpr_sd_by_k", k))
    for label, key, sd, role in (("non-member (FPR)", "fpr_non_members", "fpr_sd", "non-member"),
                                 ("face-only control", "member_rate_face_only", "member_rate_face_only_sd", "face-only"),
                                 ("name-only control", "member_rate_name_only", "member_rate_name_only_sd", "name-only"),
                                 ("look-alike trap", "member_rate_traps", "member_rate_traps_sd", "trap"),
                                 ("look-alike (no name)", "member_rate_look_alikes", "member_rate_look_alikes_sd",
                                  "look-alike")):
        if s["counts"].get(role):
            lines.append(row(label, s["counts"][role], key, sd))
    lines += ["", f"accuracy (members + non-members): {s['accuracy']:.3f} (sd {s['accuracy_sd']:.3f})"
              + (f"; with controls {w['accuracy']:.3f} (sd {w['accuracy_sd']:.3f})" if w else "")]
    return "\n".join(lines)
