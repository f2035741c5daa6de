"""Ground-truth evaluation of the IDIA on the sandbox world.

Why: in the sandbox we know who was in the training data, so every verdict can be scored. This
runs the paper's protocol in miniature: a 1000-name pool (every world name plus seeded distractors),
the 21 paper templates, tau = 1, on fresh attack renders (never training photos) of every person,
with several independent draws of N photos; metrics are mean and sd over draws.

The rule itself is the core's (`idia_core.attack.batch_idia`) and the pool's text embeddings come
from the core's cached encoder, so the sandbox scores exactly what `check` would decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .world import ROLES, World, load_world, render_attack_photos

DEFAULT_PHOTOS = 10
DEFAULT_DRAWS = 5
POOL_SIZE = 1000
TAU = 1


@dataclass(frozen=True)
class PersonOutcome:
    """The verdict for one person in each draw."""

    index: int
    name: str
    role: str
    k: int
    member: tuple[bool, ...]  # one per draw
    correct_templates: tuple[int, ...]


def _select_people(world: World, people_limit: int | None, seed: int):
    """All people, or an even share of each (role, k) group when a limit is given (fast tests)."""
    if not people_limit:
        return list(world.people)
    groups: dict[tuple[str, int], list] = {}
    for p in world.people:
        groups.setdefault((p.role, p.k), []).append(p)
    per_group = max(1, people_limit // len(groups))
    return [p for key in sorted(groups) for p in groups[key][:per_group]]


def run_world_idia(
    model,
    world: World,
    people: Sequence,
    n_photos: int = DEFAULT_PHOTOS,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[PersonOutcome]:
    """Run the attack on `people`; `model` is an IdiaModel. One text encoding for all people."""
    from ..attack import batch_idia
    from ..name_fit import fit_pool_to_model
    from ..names import build_candidate_pool
    from ..runner import pool_text_embeddings
    from ..templates import load_templates

    templates = load_templates("paper21")
    all_names = list(world.names)
    # The pool for any person is {all world names} + the same namesake-free seeded distractors
    # (none shares a first name or surname with anyone in the world), exactly what `check` builds
    # with the other people added. Ties never count for the person checked whatever the order
    # (`attack.predict`), so one pool order serves everyone: encode it once, index the target.
    base = fit_pool_to_model(build_candidate_pool(all_names[0], all_names[1:], POOL_SIZE, seed=seed),
                             model, templates)
    union = tuple(base.names)
    pos = {n: i for i, n in enumerate(union)}
    text_emb = pool_text_embeddings(model, templates, union)  # [T, C, D]

    outcomes: list[PersonOutcome] = []
    for j, person in enumerate(people):
        target = pos[person.name]
        photos = render_attack_photos(person, n_photos * n_draws, seed)
        img = model.encode_images(photos).numpy().reshape(n_draws, n_photos, -1)
        res = batch_idia(img, text_emb, np.full(n_draws, target), tau=TAU)
        outcomes.append(PersonOutcome(person.index, person.name, person.role, person.k,
                                      tuple(bool(m) for m in res["member"]),
                                      tuple(int(c) for c in res["correct"])))
        if progress:
            progress(j + 1, len(people))
    return outcomes


def _mean_sd(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def summarise(outcomes: Sequence[PersonOutcome]) -> dict[str, Any]:
    """Ground-truth metrics, each a mean over draws (with its sd alongside).

    Accuracy counts members and non-members (the two groups whose truth is unambiguous); the
    controls are reported as the rate at which they are called member."""
    if not outcomes:
        raise ValueError("no people were evaluated")
    n_draws = len(outcomes[0].member)
    m = {r: np.array([o.member for o in outcomes if o.role == r], dtype=float).reshape(-1, n_draws) for r in ROLES}
    ks = sorted({o.k for o in outcomes if o.role == "member"})
    tpr_by_k, tpr_sd_by_k, count_by_k = {}, {}, {}
    for k in ks:
        arr = np.array([o.member for o in outcomes if o.role == "member" and o.k == k], dtype=float)
        tpr_by_k[str(k)], tpr_sd_by_k[str(k)] = _mean_sd(arr.mean(axis=0))
        count_by_k[str(k)] = len(arr)

    def rate(role: str):
        return _mean_sd(m[role].mean(axis=0)) if len(m[role]) else (float("nan"), 0.0)

    fpr, fpr_sd = rate("non-member")
    fo, fo_sd = rate("face-only")
    no, no_sd = rate("name-only")
    tpr_all, _ = rate("member")
    truth = np.concatenate([m["member"], 1 - m["non-member"]], axis=0)
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
        "accuracy": acc,
        "accuracy_sd": acc_sd,
        "counts": {r: int(len(m[r])) for r in ROLES},
        "draws": n_draws,
    }


def evaluate_world(
    model="sandbox",
    world: World | None = None,
    n_photos: int = DEFAULT_PHOTOS,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    people_limit: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Load the model (a spec or an IdiaModel) and the world, run, and summarise."""
    from ..models import load_model

    if isinstance(model, str):
        model = load_model(model)
    world = world or load_world()
    people = _select_people(world, people_limit, seed)
    cb = None
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(people), desc="attacking sandbox people", unit="person")
        cb = lambda done, total: bar.update(1)  # noqa: E731
    try:
        outcomes = run_world_idia(model, world, people, n_photos, n_draws, seed, cb)
    finally:
        if bar is not None:
            bar.close()
    summary = summarise(outcomes)
    summary.update({"photos": n_photos, "seed": seed, "pool_size": POOL_SIZE, "tau": TAU,
                    "templates": "paper21", "model": getattr(model, "spec", str(model)),
                    "fingerprint": getattr(model, "fingerprint", None), "people": len(people)})
    return summary


def format_table(s: dict[str, Any]) -> str:
    """The summary as a small plain-text table for the terminal."""
    lines = [f"IDIA on the sandbox world: {s['people']} people, {s['photos']} photos x {s['draws']} draws, "
             f"seed {s['seed']}, {s['pool_size']}-name pool, 21 templates, tau {s['tau']}",
             "", f"{'group':<22}{'n':>5}{'called member':>16}{'sd':>8}"]
    for k, v in s["tpr_by_k"].items():
        lines.append(f"{'member k=' + k:<22}{s['members_by_k'][k]:>5}{v:>16.3f}{s['tpr_sd_by_k'][k]:>8.3f}")
    for label, key, sd, role in (("non-member (FPR)", "fpr_non_members", "fpr_sd", "non-member"),
                                 ("face-only control", "member_rate_face_only", "member_rate_face_only_sd", "face-only"),
                                 ("name-only control", "member_rate_name_only", "member_rate_name_only_sd", "name-only")):
        if s["counts"][role]:
            lines.append(f"{label:<22}{s['counts'][role]:>5}{s[key]:>16.3f}{s[sd]:>8.3f}")
    lines += ["", f"accuracy (members + non-members): {s['accuracy']:.3f} (sd {s['accuracy_sd']:.3f})"]
    return "\n".join(lines)
