"""Evaluation mode, the pipeline: the paper's protocol over many people with known membership.

Photos and prompts are embedded once; every draw and every photo count reuses those embeddings (a
draw only picks columns of the prediction table). Outputs are written as each stage finishes,
atomically, so Ctrl-C leaves readable files. The metrics themselves (ROC, AUC, TPR at low FPR,
Wilson intervals, …) are pure functions in ``idia_core.metrics`` (re-exported here for old
imports); provenance (package versions) lives in ``idia_core.provenance``.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import attack, limits
from .metrics import *  # noqa: F401,F403  (the metrics used to live here; keep old imports working)
from .metrics import (COUNT_NAMES, PAD, PAPER_BIN_WIDTH, RATE_NAMES, Z95, _called_share,  # noqa: F401
                      _quiet_nan, _ratio)
from .controls import (ALPHA, DEFAULT_M, build_controls, controlled_verdict, counts_from_majority, not_run,
                       person_centroids, select_reference)
from .provenance import package_versions  # noqa: F401

DEFAULT_SIZES = tuple(range(1, 30, 2)) + (30,)   # the paper's photo counts: 1, 3, 5, …, 29, 30
SANDBOX_SIZES = (1, 3, 5, 10)


# =============================================================================================
# Datasets (I/O edge)
# =============================================================================================

@dataclass
class EvalPerson:
    """One audited person: name, truth, and where the photos come from (paths or a renderer)."""

    name: str
    member: bool
    occurrences: float = float("nan")
    group: str = ""
    photos: list = field(default_factory=list)      # paths, or a callable returning PIL images


@dataclass
class EvalDataset:
    name: str
    people: list[EvalPerson]
    description: str = ""
    source_hashes: dict = field(default_factory=dict)    # file → sha256 (labels, manifest, …)
    notes: list[str] = field(default_factory=list)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def _parse_member(value, where: str) -> bool:
    from .errors import IdiaInputError

    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "member", "y", "t"):
        return True
    if text in ("0", "false", "no", "non-member", "nonmember", "n", "f"):
        return False
    raise IdiaInputError("labels_member", f"{where}: member must be 1 or 0 (or true/false), not '{value}'.")


def load_folder_dataset(directory, labels_csv, names_csv=None) -> EvalDataset:
    """One folder per person under ``directory`` (folder name = the person's name, or mapped by a
    ``names.csv`` with columns folder,name); ``labels.csv`` has name,member[,occurrences][,group]."""
    from .errors import IdiaInputError
    from .names import name_key, validate_name

    root = Path(directory)
    if not root.is_dir():
        raise IdiaInputError("dataset_missing", f"The dataset folder {root} does not exist.")
    labels_path = Path(labels_csv) if labels_csv else root / "labels.csv"
    if not labels_path.is_file():
        raise IdiaInputError("labels_missing", f"No labels file at {labels_path}: give --labels labels.csv with columns name,member[,occurrences].")
    mapping: dict[str, str] = {}
    names_path = Path(names_csv) if names_csv else root / "names.csv"
    hashes = {labels_path.name: _sha256_file(labels_path)}
    if names_path.is_file():
        hashes[names_path.name] = _sha256_file(names_path)
        with open(names_path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"folder", "name"} <= set(reader.fieldnames):
                raise IdiaInputError("names_csv_columns", f"{names_path.name} needs the columns folder,name.")
            for row in reader:
                mapping[row["folder"].strip()] = row["name"].strip()
    with open(labels_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        cols = set(reader.fieldnames or [])
        if not {"name", "member"} <= cols:
            raise IdiaInputError("labels_columns", f"{labels_path.name} needs the columns name,member (and optionally occurrences, group).")
        labels: dict[str, tuple[bool, float, str]] = {}
        for i, row in enumerate(reader, start=2):
            name = validate_name(row["name"], what=f"{labels_path.name} line {i}: the name")
            occ = row.get("occurrences")
            try:
                occ_v = float(occ) if occ not in (None, "") else float("nan")
            except ValueError:
                raise IdiaInputError("labels_occurrences", f"{labels_path.name} line {i}: occurrences must be a number, not '{occ}'.") from None
            labels[name_key(name)] = (_parse_member(row["member"], f"{labels_path.name} line {i}"), occ_v,
                                      (row.get("group") or "").strip())
    people: list[EvalPerson] = []
    unlabelled = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        name = validate_name(mapping.get(folder.name, folder.name), what=f"The person folder '{folder.name}'")
        photos = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not photos:
            continue
        lab = labels.get(name_key(name))
        if lab is None:
            unlabelled.append(name)
            continue
        member, occ, group = lab
        people.append(EvalPerson(name, member, occ, group or ("member" if member else "non-member"), photos))
    if not people:
        raise IdiaInputError("dataset_empty", f"No labelled person folders with photos under {root}.")
    notes = []
    if unlabelled:
        notes.append(f"{len(unlabelled)} folder(s) without a label were skipped: {', '.join(unlabelled[:5])}"
                     + ("…" if len(unlabelled) > 5 else ""))
    return EvalDataset(str(root), people, f"folder dataset {root}", hashes, notes)


SANDBOX_LABELLING = (
    "Sandbox labels come from the world manifest: members (photos captioned with their name k times) are "
    "member = 1 with occurrences = k; non-members (never in training) are member = 0. The controls are "
    "member = 0 too, because they were never captioned with their own face and name together: face-only "
    "controls had their face in training k times without their name; name-only controls had their name in "
    "k captions paired with someone else's face. Look-alike traps are member = 0: their name was captioned only "
    "with strangers who share one signature (a hat, glasses, a backdrop) that the trap person carries too; "
    "look-alikes carry a signature and were never named. Their called-member rate is reported per role, as an FPR.")


def load_sandbox_dataset(photos_per_person: int, seed: int = 0, max_people: int | None = None,
                         world_path=None) -> EvalDataset:
    """The sandbox world as an evaluation dataset; photos are fresh attack renders (never used in
    training). ``max_people`` takes a seeded subset stratified by (role, k)."""
    from .errors import IdiaInputError

    try:
        from .sandbox.world import MODEL_DIR, WORLD_FILE, load_world, render_attack_photos
    except ImportError as exc:  # pragma: no cover - the sandbox package ships with idia
        raise IdiaInputError("sandbox_missing", f"The sandbox package is not available ({exc}).") from None
    path = Path(world_path) if world_path else MODEL_DIR / WORLD_FILE
    if not path.is_file():
        raise IdiaInputError("sandbox_world_missing",
                             f"The sandbox world manifest {path} is missing; build the sandbox model first.")
    world = load_world(path)
    people = list(world.people)
    if max_people is not None and max_people < len(people):
        people = _stratified_subset(people, max_people, seed)
    out = []
    for p in people:
        member = p.role == "member"
        render = (lambda person=p: render_attack_photos(person, photos_per_person, seed))
        out.append(EvalPerson(p.name, member, float(p.k) if member else 0.0, p.role, render))
    return EvalDataset("sandbox", out, f"sandbox world (seed {world.seed}, {len(world.people)} people)",
                       {path.name: _sha256_file(path)}, [SANDBOX_LABELLING])


def _stratified_subset(people, n: int, seed: int):
    rng = np.random.default_rng(seed)
    groups: dict[tuple, list] = {}
    for p in people:
        groups.setdefault((p.role, p.k), []).append(p)
    share = n / len(people)
    chosen = []
    for key in sorted(groups, key=str):
        members = groups[key]
        take = max(1, int(round(share * len(members))))
        pick = rng.choice(len(members), size=min(take, len(members)), replace=False)
        chosen.extend(members[i] for i in sorted(pick))
    return sorted(chosen, key=lambda p: p.index)


# =============================================================================================
# The pipeline
# =============================================================================================

@dataclass(frozen=True)
class EvaluationConfig:
    model: str = "sandbox"
    dataset: str = "sandbox"
    sizes: tuple[int, ...] = SANDBOX_SIZES
    draws: int = 20
    tau: int = 1
    n_candidates: int = 1000
    seed: int = 0
    template_set: str = "paper21"
    name_mode: str = "mixed"
    max_people: int | None = None
    sandbox_photos: int | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sizes"] = list(self.sizes)
        return d


Progress = Callable[[str, int, int], None]


def build_pool(people_names: Sequence[str], n_candidates: int, seed: int, mode: str) -> tuple[tuple[str, ...], np.ndarray]:
    """One pool for the whole evaluation, as in the paper: every audited person plus seeded
    distractors up to ``n_candidates``. Returns (names, index of each person's name)."""
    from .errors import IdiaInputError
    from .names import fill_with_distractors, identity_key, name_key, namesake_parts

    keys = [name_key(n) for n in people_names]
    if len(set(keys)) != len(keys):
        raise IdiaInputError("dataset_duplicate_names", "Two people in the dataset have the same name (ignoring case/accents).")
    if len(people_names) > n_candidates:
        raise IdiaInputError("pool_too_small", f"The dataset has {len(people_names)} people but the pool only "
                             f"{n_candidates} names; raise --candidates to at least {len(people_names)}.")
    if n_candidates > limits.MAX_POOL:
        raise IdiaInputError("pool_too_large", f"--candidates {n_candidates} exceeds the limit of {limits.MAX_POOL}.")
    # mixed: namesake-free (no distractor shares a first name or surname with anyone audited);
    # paper: the paper's random first+last pairs beside its real identities (the people audited)
    avoid = namesake_parts(people_names) if mode == "mixed" else frozenset()
    names = list(people_names) + fill_with_distractors({identity_key(n) for n in people_names},
                                                       n_candidates - len(people_names), seed, mode, avoid)
    return tuple(names), np.arange(len(people_names))


def person_controls(pred_all, n_avail, centroids, true_index, correct, labels, tau: int, seed: int,
                    m: int = DEFAULT_M) -> list[dict]:
    """The validity controls for every person on all their photos, with the dataset's non-members
    (other than the person) as reference people: each reference person's majorities over their
    first n photos, n = the person's own photo count (people with fewer are left out)."""
    labels = np.asarray(labels, bool)
    n_templates = pred_all.shape[1]
    maj_by_n: dict[int, np.ndarray] = {}
    rows = []
    for i in range(len(pred_all)):
        n = int(n_avail[i])
        refs = np.flatnonzero(~labels & (np.asarray(n_avail) >= n) & (np.arange(len(pred_all)) != i))
        if n not in maj_by_n:
            maj_by_n[n] = attack.majority_votes(pred_all[:, :, :n])                      # [people, T]
        member = bool(attack.is_member(correct[i], tau))
        if len(refs) == 0:
            ctl = not_run("no other non-member has that many photos")
        else:
            counts = counts_from_majority(maj_by_n[n][refs], int(true_index[i]))
            near, rand = select_reference(centroids[i][None], centroids[refs], m, seed + i)
            ctl = build_controls(near, rand, counts, refs, int(correct[i]), tau, n_templates)
        rows.append({"ran": ctl.ran, "verdict": controlled_verdict(member, ctl),
                     "look_alikes_reached": ctl.look_alikes.reached_tau if ctl.ran else None,
                     "look_alikes_chance": ctl.look_alikes.chance if ctl.ran else None,
                     "name_prior_chance": ctl.name_prior.chance if ctl.ran else None})
    return rows


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _json_safe(obj):
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return obj


def _rows_to_csv(rows: list[dict]) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0].keys()), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
    return buf.getvalue()


@dataclass
class EvaluationOutcome:
    out_dir: Path
    files: dict[str, Path]
    metrics: dict
    complete: bool


def run_evaluation(config: EvaluationConfig, dataset: EvalDataset, out_dir, *, model=None,
                   progress: Progress | None = None, cache=None) -> EvaluationOutcome:
    """Run the paper's protocol on ``dataset`` and write every output to ``out_dir``.

    Photos are embedded once each and the pool's prompts once (through the persistent cache);
    draws and photo counts only select columns of the per-photo prediction table. Each output is
    written atomically as soon as its stage ends; on Ctrl-C, metrics.json and report.html are
    rewritten with what was finished (``"complete": false``) and the interrupt is re-raised."""
    from .errors import IdiaInputError
    from .images import load_photo
    from .models import IdiaModel, load_model
    from .runner import pool_text_embeddings
    from .settings import validate_seed
    from .templates import load_templates

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    seed = validate_seed(config.seed)
    sizes = tuple(sorted(set(int(s) for s in config.sizes)))
    if not sizes or sizes[0] < 1:
        raise IdiaInputError("photos_sizes", "--photos needs positive photo counts, e.g. 1,3,5,10.")
    if config.draws < 1:
        raise IdiaInputError("draws_range", "--draws must be at least 1.")
    templates = load_templates(config.template_set)
    from .settings import validate_tau
    tau = validate_tau(config.tau, len(templates))
    progress = progress or (lambda stage, done, total: None)
    files: dict[str, Path] = {}
    state: dict = {"config": config.to_dict(), "complete": False, "stages_done": [], "dataset": {
        "name": dataset.name, "description": dataset.description, "n_people": len(dataset.people),
        "source_hashes": dataset.source_hashes, "notes": dataset.notes}, "versions": package_versions(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t_start)),
        "null_hypothesis": NULL_TEXT}

    def flush(final: bool = False) -> None:
        state["complete"] = final
        state["elapsed_s"] = round(time.time() - t_start, 2)
        _atomic_write(out / "metrics.json", json.dumps(_json_safe(state), indent=2, ensure_ascii=False) + "\n")
        files["metrics.json"] = out / "metrics.json"
        from . import reports
        files["report.html"] = reports.write_evaluation_report(out, _json_safe(state), files)

    try:
        # -- model and prompts ---------------------------------------------------------------
        progress("model", 0, 1)
        if model is None:
            model = load_model(config.model)
        elif not isinstance(model, IdiaModel):
            model = load_model(model)
        state["model"] = {"spec": model.spec, "fingerprint": model.fingerprint, "logit_scale": model.logit_scale,
                          "build": model.build.to_dict() if getattr(model, "build", None) else {}}
        names = [p.name for p in dataset.people]
        pool, true_index = build_pool(names, config.n_candidates, seed, config.name_mode)
        from .name_fit import fit_evaluation_pool
        pool, fit_dropped = fit_evaluation_pool(model, templates, pool, tuple(names))
        true_index = np.array([pool.index(n) for n in names])
        state["pool"] = {"size": len(pool), "distractors": len(pool) - len(names), "seed": seed,
                         "mode": config.name_mode, **fit_dropped, "sha256": hashlib.sha256("\n".join(pool).encode()).hexdigest()}
        state["templates"] = list(templates)
        _atomic_write(out / "candidates.txt", "\n".join(pool) + "\n")
        files["candidates.txt"] = out / "candidates.txt"
        progress("prompts", 0, len(templates) * len(pool))
        text_emb = pool_text_embeddings(model, templates, pool, cache,
                                        lambda d, t, _m: progress("prompts", d, t))
        progress("prompts", len(templates) * len(pool), len(templates) * len(pool))

        # -- photos: embed once, predict once ------------------------------------------------
        n_people = len(dataset.people)
        pred_list, prob_list, n_avail = [], [], np.zeros(n_people, dtype=int)
        centroids = []
        full_correct = np.zeros(n_people, dtype=int)
        p_swap = np.full(n_people, np.nan)
        full_prob = np.zeros(n_people)
        hash_rows = []
        pred_path = out / "predictions.csv"
        tmp_pred = pred_path.with_name(pred_path.name + ".tmp")
        with open(tmp_pred, "w", encoding="utf-8", newline="") as fpred:
            fpred.write("person,photo,photo_sha256,template,predicted,predicted_similarity,true_name_rank,true_similarity\n")
            for i, person in enumerate(dataset.people):
                progress("photos", i, n_people)
                sources = person.photos() if callable(person.photos) else person.photos
                photos = []
                for j, src in enumerate(sources):
                    label = Path(src).name if isinstance(src, (str, os.PathLike)) else f"render_{j}.png"
                    photos.append(load_photo(src, label))
                if not photos:
                    raise IdiaInputError("dataset_no_photos", f"{person.name} has no photos.")
                emb = model.encode_images(photos).numpy()
                centroids.append(person_centroids(emb))
                sims = attack.cosine_similarities(emb, text_emb)          # [T, P, C]
                ti = int(true_index[i])
                pred = attack.predict(sims, ti)                           # [T, P], ties not for ti
                ranks = attack.true_name_ranks(sims, ti)                   # [T, P]
                pred_sim = np.take_along_axis(sims, pred[..., None], axis=-1)[..., 0]
                probs = np.array([attack.true_name_probability(sims[:, j:j + 1], ti, model.logit_scale)
                                  for j in range(len(photos))])
                maj = attack.majority_votes(pred)
                full_correct[i] = int(attack.correct_templates(maj, ti))
                p_swap[i] = attack.name_swap_p_value(maj, len(pool), ti)
                full_prob[i] = float(probs.mean())
                n_avail[i] = len(photos)
                pred_list.append(pred)
                prob_list.append(probs)
                buf = io.StringIO()
                w = csv.writer(buf, lineterminator="\n")
                for t in range(len(templates)):
                    for j, ph in enumerate(photos):
                        w.writerow([person.name, ph.label, ph.sha256, templates[t], pool[pred[t, j]],
                                    f"{pred_sim[t, j]:.6f}", int(ranks[t, j]), f"{sims[t, j, ti]:.6f}"])
                for ph in photos:
                    hash_rows.append({"person": person.name, "photo": ph.label, "sha256": ph.sha256})
                fpred.write(buf.getvalue())
        tmp_pred.replace(pred_path)
        files["predictions.csv"] = pred_path
        progress("photos", n_people, n_people)
        _atomic_write(out / "dataset_hashes.csv", _rows_to_csv(hash_rows))
        files["dataset_hashes.csv"] = out / "dataset_hashes.csv"
        digest = hashlib.sha256("\n".join(f"{r['person']}\t{r['sha256']}" for r in hash_rows).encode()).hexdigest()
        state["dataset"]["photos"] = len(hash_rows)
        state["dataset"]["photos_sha256"] = digest
        state["stages_done"].append("predictions")

        labels = np.array([p.member for p in dataset.people], dtype=bool)
        occ = np.array([p.occurrences for p in dataset.people], dtype=np.float64)
        groups = np.array([p.group for p in dataset.people], dtype=object)
        p_max = int(n_avail.max())
        pred_all = np.full((n_people, len(templates), p_max), PAD, dtype=np.int64)
        prob_all = np.zeros((n_people, p_max))
        for i, (pr, pb) in enumerate(zip(pred_list, prob_list)):
            pred_all[i, :, : pr.shape[1]] = pr
            prob_all[i, : pb.size] = pb

        table = vote_table(pred_all, true_index, n_avail)

        # -- validity controls: the dataset's non-members as reference people ---------------------
        ctl_rows = person_controls(pred_all, n_avail, np.asarray(centroids), true_index, full_correct, labels, tau,
                                   seed)
        ctl_called = np.array([r["verdict"] == "member" for r in ctl_rows], dtype=bool)
        state["controls"] = {
            "reference": "the dataset's non-members (each person's own photo count; the person left out)",
            "m": DEFAULT_M, "alpha": ALPHA,
            "ran": int(sum(r["ran"] for r in ctl_rows)),
            "by_group_without": group_rates(full_correct[None], labels, groups, tau),
            "by_group_with": group_rates(np.where(ctl_called, full_correct, 0)[None], labels, groups, tau),
        }

        # -- per person, all photos --------------------------------------------------------------
        non_members_full = full_correct[~labels]
        people_rows = []
        cal = calibration_p_value(full_correct, non_members_full) if non_members_full.size else np.full(n_people, np.nan)
        for i, p in enumerate(dataset.people):
            people_rows.append({"person": p.name, "member": int(p.member), "occurrences": p.occurrences,
                                "group": p.group, "photos": int(n_avail[i]), "correct_templates": int(full_correct[i]),
                                "called_member": int(attack.is_member(full_correct[i], tau)),
                                "score": float(attack.membership_score(full_correct[i], full_prob[i])),
                                "p_value_name_swap": float(p_swap[i]), "p_value_calibration": float(cal[i]),
                                "verdict_with_controls": ctl_rows[i]["verdict"],
                                "look_alikes_reaching_tau": ctl_rows[i]["look_alikes_reached"],
                                "look_alikes_chance": ctl_rows[i]["look_alikes_chance"],
                                "name_prior_chance": ctl_rows[i]["name_prior_chance"]})
        _atomic_write(out / "people.csv", _rows_to_csv(people_rows))
        files["people.csv"] = out / "people.csv"

        # -- draws × photo counts ------------------------------------------------------------------
        usable = [s for s in sizes if (n_avail >= s).any()]
        skipped = [s for s in sizes if s not in usable]
        if skipped:
            state["skipped_sizes"] = skipped
        correct_by_size, valid_by_size, scores_by_size = {}, {}, {}
        rows: list[dict] = []
        for k, size in enumerate(usable):
            progress("draws", k, len(usable))
            rng = np.random.default_rng([seed, size])
            idx, valid = draw_photo_indices(n_avail, size, config.draws, rng)
            correct = correct_for_draws(table, idx)
            correct = np.where(valid[None, :], correct, 0)
            prob = np.take_along_axis(prob_all[None], idx, axis=-1).mean(axis=-1)
            correct_by_size[size] = correct
            valid_by_size[size] = valid
            scores_by_size[size] = attack.membership_score(correct, prob)
            rows = metrics_rows(correct_by_size, labels, tau, valid_by_size)
            _atomic_write(out / "metrics_by_photos.csv", _rows_to_csv(rows))
            files["metrics_by_photos.csv"] = out / "metrics_by_photos.csv"
            state["by_photos"] = rows
        progress("draws", len(usable), len(usable))
        state["stages_done"].append("draws")

        # -- headline: the largest photo count -------------------------------------------------------
        head = max(usable)
        c, v, sc = correct_by_size[head], valid_by_size[head], scores_by_size[head]
        roc = roc_summary(sc, labels, v)
        sweep = tau_sweep(c, labels, len(templates), v)
        sweep_tpr, sweep_tpr_sd = mean_sd(sweep["tpr"], axis=1)
        sweep_fpr, sweep_fpr_sd = mean_sd(sweep["fpr"], axis=1)
        state["headline"] = {
            "n_photos": head,
            "row": next(r for r in rows if r["n_photos"] == head),
            "roc": {k2: v2 for k2, v2 in roc.items() if k2 not in ("fpr", "tpr", "thresholds")},
            "tau_sweep": [{"tau": int(t), "tpr": float(a), "tpr_sd": float(b), "fpr": float(x), "fpr_sd": float(y)}
                          for t, a, b, x, y in zip(sweep["tau"], sweep_tpr, sweep_tpr_sd, sweep_fpr, sweep_fpr_sd)],
            "by_group": group_rates(c, labels, groups, tau, v),
        }
        occ_rows = occurrence_table(c, labels, occ, tau, v) if np.isfinite(occ[labels]).any() else []
        state["headline"]["tpr_by_occurrence"] = occ_rows
        roc_rows = [{"fpr": float(a), "tpr": float(b), "threshold": float(t)} for a, b, t in
                    zip(roc["fpr"], roc["tpr"], roc["thresholds"])]
        _atomic_write(out / "roc.csv", _rows_to_csv(roc_rows))
        files["roc.csv"] = out / "roc.csv"

        # -- figures -------------------------------------------------------------------------------------
        from . import charts

        import pandas as pd
        df = pd.DataFrame(rows)
        files["metrics_vs_photos.png"] = charts.save_figure(charts.metrics_vs_photos_figure(df), out / "metrics_vs_photos.png")
        files["roc.png"] = charts.save_figure(
            charts.roc_figure(roc["fpr"], roc["tpr"], roc["auc_mean"], roc["n_non_members"] or None,
                              label=f"{head} photos, {config.draws} draws pooled"), out / "roc.png")
        if occ_rows:
            files["tpr_by_occurrence.png"] = charts.save_figure(
                charts.tpr_by_occurrence_figure(pd.DataFrame(occ_rows)), out / "tpr_by_occurrence.png")
        state["stages_done"].append("figures")
        state["files"] = sorted(set(files) | {"metrics.json", "report.html"})
        flush(final=True)
        progress("done", 1, 1)
        return EvaluationOutcome(out, files, state, True)
    except KeyboardInterrupt:
        state["interrupted"] = True
        flush(final=False)
        raise


NULL_TEXT = (
    "Per-person significance, two nulls. Name swap: the model never learned this face with this name, so the "
    "true name is no more likely to win templates than any other name in the pool facing the same photos; "
    "p = (1 + #other names winning at least as many templates) / pool size. Calibration: the person is like the "
    "dataset's known non-members; p = (1 + #non-members with at least as many correct templates) / (1 + "
    "#non-members), computed on all photos of each person.")
