"""Evaluation mode, the pipeline: the paper's protocol over many people with known membership.

``run_evaluation`` runs in stages, each writing its outputs atomically as soon as it ends, so
Ctrl-C leaves readable files (metrics.json then says what finished):

1. **model** — load it (``zoo``);
2. **prompts** — one pool for everyone (every person plus seeded distractors), fitted to the
   model's tokenizer, its prompts embedded once (``text``): ``candidates.txt``;
3. **photos** — every photo embedded once and predicted once (the rule is ``attack.rule``'s):
   ``predictions.csv``, ``dataset_hashes.csv``;
4. **people** — each person on all their photos, with the validity controls (the dataset's
   non-members as reference people): ``people.csv``;
5. **draws** — random draws of n photos per person for every photo count; a draw only picks
   columns of the prediction table (``metrics.correct_for_draws``): ``metrics_by_photos.csv``;
6. **figures** — ROC/AUC, the tau sweep and TPR by occurrence at the largest count: ``roc.csv``,
   PNG plots, ``metrics.json`` and ``report.html``.

The metrics themselves are pure functions in ``metrics``; the datasets are read by ``datasets``.
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
from typing import Sequence

import numpy as np

from .. import limits
from ..attack import rule
from ..attack.controls import (ALPHA, DEFAULT_M, build_controls, controlled_verdict, counts_from_majority, not_run,
                               person_centroids, select_reference)
from ..attack.verdict import Verdict
from ..errors import IdiaInputError
from ..files import atomic_write
from ..images import load_photo
from ..progress import Progress
from ..provenance import package_versions
from ..text.embeddings import pool_text_embeddings
from ..text.name_fit import fit_evaluation_pool
from ..text.names import identity_key, name_key
from ..text.paper import paper_distractors
from ..text.pool import fill_with_distractors, namesake_parts
from ..text.templates import load_templates
from ..validators import validate_seed, validate_tau
from ..zoo.load import load_model
from ..zoo.model import IdiaModel
from . import charts
from .datasets import EvalDataset
from .evaluation_report import write_evaluation_report
from .metrics import (PAD, correct_for_draws, draw_photo_indices, group_rates, mean_sd,
                      leave_one_out_calibration, metrics_rows, occurrence_table, roc_summary, tau_sweep,
                      vote_table)

DEFAULT_SIZES = tuple(range(1, 30, 2)) + (30,)   # the paper's photo counts: 1, 3, 5, …, 29, 30
SANDBOX_SIZES = (1, 3, 5, 10)
# what ``progress`` is told at each stage (the CLI draws one bar per stage)
STAGES = {"model": "loading the model", "prompts": "encoding prompts", "photos": "embedding photos",
          "draws": "draws × photo counts", "done": "done"}
NULL_TEXT = (
    "Per-person significance (people.csv, on all photos of each person). chance: the validity controls' "
    "chance, the larger of the look-alike and name-prior chances, (1 + #reference people — the dataset's other "
    "non-members — with at least the person's number of templates for the person's name) / (M + 1); exact for "
    "the random reference people, conservative for the look-alikes (chosen for their closeness to the person's "
    "photos, they are not exchangeable with the person). p_value_calibration: the person is like the dataset's "
    "known non-members; p = (1 + #other non-members with at least as many correct templates) / (1 + #other "
    "non-members), a non-member never counted against itself. pool_rank_p, a secondary number and not a "
    "chance: (1 + #other pool names winning at least as many templates) / pool size, which restates the rule "
    "(at most T / pool size whenever the name wins a template).")


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


@dataclass
class EvaluationOutcome:
    out_dir: Path
    files: dict[str, Path]
    metrics: dict
    complete: bool


def build_pool(people_names: Sequence[str], n_candidates: int, seed: int, mode: str) -> tuple[tuple[str, ...], np.ndarray]:
    """One pool for the whole evaluation, as in the paper: every audited person plus seeded
    distractors up to ``n_candidates``. Returns (names, index of each person's name)."""
    keys = [name_key(n) for n in people_names]
    if len(set(keys)) != len(keys):
        raise IdiaInputError("dataset_duplicate_names", "Two people in the dataset have the same name (ignoring case/accents).")
    if len(people_names) > n_candidates:
        raise IdiaInputError("pool_too_small", f"The dataset has {len(people_names)} people but the pool only "
                             f"{n_candidates} names; raise --candidates to at least {len(people_names)}.")
    if n_candidates > limits.MAX_POOL:
        raise IdiaInputError("pool_too_large", f"--candidates {n_candidates} exceeds the limit of {limits.MAX_POOL}.")
    # mixed: namesake-free (no distractor shares a first name or surname with anyone audited);
    # paper: the paper's random first+last pairs beside its real identities (the people audited),
    # drawn as its notebook draws them (``text.paper``)
    seen = {identity_key(n) for n in people_names}
    if mode == "paper":
        names = list(people_names) + paper_distractors(seen, n_candidates - len(people_names), seed)
    else:
        names = list(people_names) + fill_with_distractors(seen, n_candidates - len(people_names), seed, mode,
                                                           namesake_parts(people_names))
    return tuple(names), np.arange(len(people_names))


def person_controls(top, n_avail, centroids, true_index, correct, labels, tau: int, seed: int,
                    m: int = DEFAULT_M) -> list[dict]:
    """The validity controls for every person on all their photos, with the dataset's non-members
    (other than the person) as reference people: each reference person's majorities over their
    first n photos, n = the person's own photo count (people with fewer are left out).

    ``top``: ``rule.top_two`` of every person's photos over the shared pool, four arrays
    [people, T, P_max]. A reference person's photo goes to the person's name only when that name
    leads every other by more than ``rule.TIE_TOLERANCE`` (``rule.predict_from_top_two``) — the
    tie rule of ``check`` and ``sandbox evaluate``, so an exact tie never counts for the name being
    checked whatever its place in the pool."""
    labels = np.asarray(labels, bool)
    best = top[0]
    n_templates = best.shape[1]
    base_by_n: dict[int, np.ndarray] = {}
    rows = []
    for i in range(len(best)):
        n = int(n_avail[i])
        refs = np.flatnonzero(~labels & (np.asarray(n_avail) >= n) & (np.arange(len(best)) != i))
        if n not in base_by_n:   # the plain argmax's majorities: what every name but the checked one gets
            base_by_n[n] = rule.majority_votes(best[:, :, :n])                          # [people, T]
        member = bool(rule.is_member(correct[i], tau))
        if len(refs) == 0:
            ctl = not_run("no other non-member has that many photos")
        else:
            counts = _reference_counts(top, base_by_n[n], refs, n, int(true_index[i]))
            near, rand = select_reference(centroids[i][None], centroids[refs], m, seed + i)
            ctl = build_controls(near, rand, counts, refs, int(correct[i]), tau, n_templates)
        rows.append({"ran": ctl.ran, "verdict": controlled_verdict(member, ctl), "chance": ctl.chance, "controls": ctl,
                     "look_alikes_reached": ctl.look_alikes.reached_tau if ctl.ran else None,
                     "look_alikes_chance": ctl.look_alikes.chance if ctl.ran else None,
                     "name_prior_chance": ctl.name_prior.chance if ctl.ran else None})
    return rows


def _reference_counts(top, base_majority: np.ndarray, refs: np.ndarray, n: int, target: int) -> np.ndarray:
    """[people] templates won by ``target`` for every person (only ``refs`` are read): the plain
    majorities, recomputed with the tie rule for the reference people whose photos have
    ``target`` first by no more than the tolerance (the only ones it changes)."""
    counts = np.zeros(len(base_majority), dtype=np.int64)
    majority = base_majority[refs]
    sub = tuple(a[refs, :, :n] for a in top)
    tied = rule.given_away(sub, target).any(axis=(1, 2))
    if tied.any():
        majority = majority.copy()
        majority[tied] = rule.majority_votes(rule.predict_from_top_two(tuple(a[tied] for a in sub), target))
    counts[refs] = counts_from_majority(majority, target)
    return counts


# -- the pipeline ---------------------------------------------------------------------------------
def run_evaluation(config: EvaluationConfig, dataset: EvalDataset, out_dir, *, model=None,
                   progress: Progress | None = None, cache=None) -> EvaluationOutcome:
    """Run the paper's protocol on ``dataset`` and write every output to ``out_dir`` (the stages
    are the module docstring's). On Ctrl-C, metrics.json and report.html are rewritten with what
    was finished (``"complete": false``) and the interrupt is re-raised."""
    seed, sizes, templates, tau = _checked(config)
    out = _Outputs(Path(out_dir), _first_state(config, dataset))
    progress = progress or (lambda done, total, message: None)
    try:
        progress(0, 1, STAGES["model"])
        model = model if isinstance(model, IdiaModel) else load_model(model or config.model)
        out.state["model"] = {"spec": model.spec, "fingerprint": model.fingerprint, "logit_scale": model.logit_scale,
                              "build": model.build.to_dict() if getattr(model, "build", None) else {}}
        pool, true_index, text_emb = _prompts(out, model, templates, dataset, config, seed, cache, progress)
        preds = _predictions(out, model, dataset, templates, pool, true_index, text_emb, progress)
        truth = _Truth.of(dataset)
        _people(out, dataset, preds, true_index, truth, tau, seed)
        by_size = _draws(out, preds, true_index, truth, sizes, config.draws, tau, seed, progress)
        _headline(out, by_size, truth, tau, len(templates), config.draws)
        out.state["files"] = sorted(set(out.files) | {"metrics.json", "report.html"})
        out.flush(final=True)
        progress(1, 1, STAGES["done"])
        return EvaluationOutcome(out.folder, out.files, out.state, True)
    except KeyboardInterrupt:
        out.state["interrupted"] = True
        out.flush(final=False)
        raise


def _checked(config: EvaluationConfig) -> tuple[int, tuple[int, ...], tuple[str, ...], int]:
    """(seed, photo counts, templates, tau) of a config, or the IdiaInputError that says what is wrong."""
    seed = validate_seed(config.seed)
    sizes = tuple(sorted(set(int(s) for s in config.sizes)))
    if not sizes or sizes[0] < 1:
        raise IdiaInputError("photos_sizes", "--photos needs positive photo counts, e.g. 1,3,5,10.")
    if config.draws < 1:
        raise IdiaInputError("draws_range", "--draws must be at least 1.")
    templates = load_templates(config.template_set)
    return seed, sizes, templates, validate_tau(config.tau, len(templates))


def _first_state(config: EvaluationConfig, dataset: EvalDataset) -> dict:
    return {"config": config.to_dict(), "complete": False, "stages_done": [], "dataset": {
        "name": dataset.name, "description": dataset.description, "n_people": len(dataset.people),
        "source_hashes": dataset.source_hashes, "notes": dataset.notes}, "versions": package_versions(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime()), "null_hypothesis": NULL_TEXT}


@dataclass
class _Outputs:
    """The output folder: each file written atomically as its stage ends, and ``metrics.json`` +
    ``report.html`` (re)written from ``state`` at the end or on an interrupt."""

    folder: Path
    state: dict
    started: float = field(default_factory=time.time)
    files: dict[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, text: str) -> None:
        self.files[name] = atomic_write(self.folder / name, text)

    def flush(self, final: bool) -> None:
        self.state["complete"] = final
        self.state["elapsed_s"] = round(time.time() - self.started, 2)
        safe = _json_safe(self.state)
        self.write("metrics.json", json.dumps(safe, indent=2, ensure_ascii=False) + "\n")
        self.files["report.html"] = write_evaluation_report(self.folder, safe, self.files)


@dataclass(frozen=True)
class _Truth:
    """What the dataset says of each person: member or not, training occurrences, group."""

    labels: np.ndarray        # [N] bool
    occurrences: np.ndarray   # [N] float, NaN where unknown
    groups: np.ndarray        # [N] object

    @classmethod
    def of(cls, dataset: EvalDataset) -> "_Truth":
        return cls(np.array([p.member for p in dataset.people], dtype=bool),
                   np.array([p.occurrences for p in dataset.people], dtype=np.float64),
                   np.array([p.group for p in dataset.people], dtype=object))


def _prompts(out: _Outputs, model, templates, dataset: EvalDataset, config: EvaluationConfig, seed: int, cache,
             progress: Progress):
    """Stage 2: (pool, each person's index in it, [T, C, D] prompt embeddings)."""
    names = [p.name for p in dataset.people]
    pool, _ = build_pool(names, config.n_candidates, seed, config.name_mode)
    pool, fit_dropped = fit_evaluation_pool(model, templates, pool, tuple(names), seed=seed,
                                            mode=config.name_mode)
    true_index = np.array([pool.index(n) for n in names])
    out.state["pool"] = {"size": len(pool), "distractors": len(pool) - len(names), "seed": seed,
                         "mode": config.name_mode, **fit_dropped,
                         "sha256": hashlib.sha256("\n".join(pool).encode()).hexdigest()}
    out.state["templates"] = list(templates)
    out.write("candidates.txt", "\n".join(pool) + "\n")
    total = len(templates) * len(pool)
    progress(0, total, STAGES["prompts"])
    text_emb = pool_text_embeddings(model, templates, pool, cache, lambda d, t, _m: progress(d, t, STAGES["prompts"]))
    progress(total, total, STAGES["prompts"])
    return pool, true_index, text_emb


@dataclass
class _Predictions:
    """Every person's photos, embedded and predicted once (stage 3)."""

    pred: list = field(default_factory=list)     # per person [T, P_i] predicted pool index
    top: list = field(default_factory=list)      # per person rule.top_two: 4 arrays [T, P_i]
    prob: list = field(default_factory=list)     # per person [P_i] mean probability of the true name
    centroids: list = field(default_factory=list)
    correct: list = field(default_factory=list)  # correct templates on all photos
    p_pool: list = field(default_factory=list)   # the pool-rank p on all photos (secondary, not a chance)
    hashes: list = field(default_factory=list)   # {"person", "photo", "sha256"} rows

    @property
    def n_avail(self) -> np.ndarray:
        return np.array([p.shape[1] for p in self.pred], dtype=int)

    def padded_top(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``rule.top_two`` of every person, each [N, T, P_max] (indices padded with ``metrics.PAD``,
        similarities with -inf)."""
        n_avail = self.n_avail
        shape = (len(self.top), self.top[0][0].shape[0], int(n_avail.max()))
        out = [np.full(shape, PAD, dtype=np.int64), np.full(shape, -np.inf, dtype=np.float32),
               np.full(shape, PAD, dtype=np.int64), np.full(shape, -np.inf, dtype=np.float32)]
        for i, parts in enumerate(self.top):
            for a, part in zip(out, parts):
                a[i, :, : part.shape[1]] = part
        return tuple(out)

    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        """([N, T, P_max] predictions padded with ``metrics.PAD``, [N, P_max] probabilities)."""
        n_avail = self.n_avail
        p_max = int(n_avail.max())
        pred_all = np.full((len(self.pred), self.pred[0].shape[0], p_max), PAD, dtype=np.int64)
        prob_all = np.zeros((len(self.pred), p_max))
        for i, (pr, pb) in enumerate(zip(self.pred, self.prob)):
            pred_all[i, :, : pr.shape[1]] = pr
            prob_all[i, : pb.size] = pb
        return pred_all, prob_all


PREDICTIONS_HEADER = ("person,photo,photo_sha256,template,predicted,predicted_similarity,true_name_rank,"
                      "true_similarity\n")


def _predictions(out: _Outputs, model, dataset: EvalDataset, templates, pool, true_index, text_emb,
                 progress: Progress) -> _Predictions:
    """Stage 3: each person's photos embedded once and predicted once; ``predictions.csv`` is
    streamed to a temporary file and renamed into place when every person is done."""
    preds = _Predictions()
    path = out.folder / "predictions.csv"
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(PREDICTIONS_HEADER)
        for i, person in enumerate(dataset.people):
            progress(i, len(dataset.people), STAGES["photos"])
            fh.write(_predict_person(model, person, templates, pool, int(true_index[i]), text_emb, preds))
    tmp.replace(path)
    out.files["predictions.csv"] = path
    progress(len(dataset.people), len(dataset.people), STAGES["photos"])
    out.write("dataset_hashes.csv", _rows_to_csv(preds.hashes))
    digest = hashlib.sha256("\n".join(f"{r['person']}\t{r['sha256']}" for r in preds.hashes).encode()).hexdigest()
    out.state["dataset"]["photos"] = len(preds.hashes)
    out.state["dataset"]["photos_sha256"] = digest
    out.state["stages_done"].append("predictions")
    return preds


def _predict_person(model, person, templates, pool, ti: int, text_emb, preds: _Predictions) -> str:
    """One person's rows of ``predictions.csv``; appends their predictions to ``preds``."""
    sources = person.photos() if callable(person.photos) else person.photos
    photos = [load_photo(src, Path(src).name if isinstance(src, (str, os.PathLike)) else f"render_{j}.png")
              for j, src in enumerate(sources)]
    if not photos:
        raise IdiaInputError("dataset_no_photos", f"{person.name} has no photos.")
    emb = model.encode_images(photos).numpy()
    sims = rule.cosine_similarities(emb, text_emb)          # [T, P, C]
    pred = rule.predict(sims, ti)                           # [T, P], ties not for ti
    ranks = rule.true_name_ranks(sims, ti)                  # [T, P]
    pred_sim = np.take_along_axis(sims, pred[..., None], axis=-1)[..., 0]
    probs = np.array([rule.true_name_probability(sims[:, j:j + 1], ti, model.logit_scale) for j in range(len(photos))])
    maj = rule.majority_votes(pred)
    preds.pred.append(pred)
    preds.top.append(rule.top_two(sims))
    preds.prob.append(probs)
    preds.centroids.append(person_centroids(emb))
    preds.correct.append(int(rule.correct_templates(maj, ti)))
    preds.p_pool.append(rule.pool_rank_p_value(maj, len(pool), ti))
    preds.hashes += [{"person": person.name, "photo": ph.label, "sha256": ph.sha256} for ph in photos]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for t in range(len(templates)):
        for j, ph in enumerate(photos):
            w.writerow([person.name, ph.label, ph.sha256, templates[t], pool[pred[t, j]],
                        f"{pred_sim[t, j]:.6f}", int(ranks[t, j]), f"{sims[t, j, ti]:.6f}"])
    return buf.getvalue()


def _people(out: _Outputs, dataset: EvalDataset, preds: _Predictions, true_index, truth: _Truth, tau: int,
            seed: int) -> None:
    """Stage 4: every person on all their photos, with the validity controls: ``people.csv``."""
    correct = np.asarray(preds.correct)
    labels = truth.labels
    ctl_rows = person_controls(preds.padded_top(), preds.n_avail, np.asarray(preds.centroids), true_index, correct,
                               labels, tau, seed)
    ctl_called = np.array([r["verdict"] == Verdict.MEMBER for r in ctl_rows], dtype=bool)
    out.state["controls"] = {
        "reference": "the dataset's non-members (each person's own photo count; the person left out)",
        "m": DEFAULT_M, "alpha": ALPHA,
        "ran": int(sum(r["ran"] for r in ctl_rows)),
        "by_group_without": group_rates(correct[None], labels, truth.groups, tau),
        "by_group_with": group_rates(np.where(ctl_called, correct, 0)[None], labels, truth.groups, tau),
    }
    cal = leave_one_out_calibration(correct, labels)
    rows = []
    for i, p in enumerate(dataset.people):
        rows.append({"person": p.name, "member": int(p.member), "occurrences": p.occurrences,
                     "group": p.group, "photos": int(preds.n_avail[i]), "correct_templates": int(correct[i]),
                     "called_member": int(rule.is_member(correct[i], tau)),
                     "score": float(rule.membership_score(correct[i], float(preds.prob[i].mean()))),
                     "chance": _nan_if_none(ctl_rows[i]["chance"]), "p_value_calibration": float(cal[i]),
                     "verdict_with_controls": ctl_rows[i]["verdict"],
                     "look_alikes_reaching_tau": ctl_rows[i]["look_alikes_reached"],
                     "look_alikes_chance": ctl_rows[i]["look_alikes_chance"],
                     "name_prior_chance": ctl_rows[i]["name_prior_chance"],
                     "pool_rank_p": float(preds.p_pool[i])})
    out.write("people.csv", _rows_to_csv(rows))


def _nan_if_none(value) -> float:
    return float("nan") if value is None else float(value)


@dataclass(frozen=True)
class _Draws:
    """Per photo count: correct templates and membership scores [draws, N], and who had enough photos [N]."""

    correct: dict
    valid: dict
    scores: dict
    rows: list


def _draws(out: _Outputs, preds: _Predictions, true_index, truth: _Truth, sizes, draws: int, tau: int, seed: int,
           progress: Progress) -> _Draws:
    """Stage 5: ``draws`` random draws of n photos per person for every photo count n;
    ``metrics_by_photos.csv`` is rewritten after each count."""
    pred_all, prob_all = preds.padded()
    n_avail = preds.n_avail
    table = vote_table(pred_all, true_index, n_avail)
    usable = [s for s in sizes if (n_avail >= s).any()]
    skipped = [s for s in sizes if s not in usable]
    if skipped:
        out.state["skipped_sizes"] = skipped
    result = _Draws({}, {}, {}, [])
    for k, size in enumerate(usable):
        progress(k, len(usable), STAGES["draws"])
        idx, valid = draw_photo_indices(n_avail, size, draws, np.random.default_rng([seed, size]))
        correct = np.where(valid[None, :], correct_for_draws(table, idx), 0)
        prob = np.take_along_axis(prob_all[None], idx, axis=-1).mean(axis=-1)
        result.correct[size], result.valid[size] = correct, valid
        result.scores[size] = rule.membership_score(correct, prob)
        result.rows[:] = metrics_rows(result.correct, truth.labels, tau, result.valid)
        out.write("metrics_by_photos.csv", _rows_to_csv(result.rows))
        out.state["by_photos"] = result.rows
    progress(len(usable), len(usable), STAGES["draws"])
    out.state["stages_done"].append("draws")
    return result


def _headline(out: _Outputs, by_size: _Draws, truth: _Truth, tau: int, n_templates: int, draws: int) -> None:
    """Stage 6: ROC/AUC, the tau sweep, groups and TPR by occurrence at the largest photo count,
    ``roc.csv`` and the figures."""
    head = max(by_size.correct)
    c, v, sc = by_size.correct[head], by_size.valid[head], by_size.scores[head]
    labels = truth.labels
    roc = roc_summary(sc, labels, v)
    sweep = tau_sweep(c, labels, n_templates, v)
    sweep_tpr, sweep_tpr_sd = mean_sd(sweep["tpr"], axis=1)
    sweep_fpr, sweep_fpr_sd = mean_sd(sweep["fpr"], axis=1)
    occ_rows = occurrence_table(c, labels, truth.occurrences, tau, v) if np.isfinite(truth.occurrences[labels]).any() else []
    out.state["headline"] = {
        "n_photos": head,
        "row": next(r for r in by_size.rows if r["n_photos"] == head),
        "roc": {k: val for k, val in roc.items() if k not in ("fpr", "tpr", "thresholds")},
        "tau_sweep": [{"tau": int(t), "tpr": float(a), "tpr_sd": float(b), "fpr": float(x), "fpr_sd": float(y)}
                      for t, a, b, x, y in zip(sweep["tau"], sweep_tpr, sweep_tpr_sd, sweep_fpr, sweep_fpr_sd)],
        "by_group": group_rates(c, labels, truth.groups, tau, v),
        "tpr_by_occurrence": occ_rows,
    }
    out.write("roc.csv", _rows_to_csv([{"fpr": float(a), "tpr": float(b), "threshold": float(t)}
                                       for a, b, t in zip(roc["fpr"], roc["tpr"], roc["thresholds"])]))
    figures = {"metrics_vs_photos.png": charts.metrics_vs_photos_figure(_columns(by_size.rows)),
               "roc.png": charts.roc_figure(roc["fpr"], roc["tpr"], roc["auc_mean"], roc["n_non_members"] or None,
                                            label=f"{head} photos, {draws} draws pooled")}
    if occ_rows:
        figures["tpr_by_occurrence.png"] = charts.tpr_by_occurrence_figure(_columns(occ_rows))
    for name, fig in figures.items():
        out.files[name] = charts.save_figure(fig, out.folder / name)
    out.state["stages_done"].append("figures")


def _columns(rows: list[dict]) -> dict[str, list]:
    """Rows as columns (what the charts read: ``table["n_photos"]``)."""
    return {k: [r[k] for r in rows] for k in rows[0]} if rows else {}


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
