"""Evaluation mode: the paper's protocol over many people with known membership, and the field's
metrics (ROC, AUC, TPR at low FPR, Wilson intervals) on top of it.

Two halves:

* **Pure metric functions** (top of the file): arrays in, arrays or dataclasses out, no I/O. They
  read the outputs of ``attack`` (correct-template counts, membership scores) and never re-implement
  the rule: majorities come from ``attack.majority_votes``, counts from ``attack.correct_templates``,
  scores from ``attack.membership_score``.
* **The pipeline** (``run_evaluation``): photos and prompts are embedded once; every draw and
  every photo count reuses those embeddings (a draw only picks columns of the prediction table).
  Outputs are written as each stage finishes, atomically, so Ctrl-C leaves readable files.

Conventions (stated in every report):
* a person is *valid* at photo count n only if they have at least n photos; invalid people are left
  out of that count's confusion matrix;
* mean ± sd over draws uses the sample sd (ddof = 1; 0 for a single draw), as the paper reports;
* a rate whose denominator is empty (no non-members → FPR) is NaN, written as null in JSON.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import attack, limits

Z95 = 1.959963984540054          # two-sided 95% normal quantile
RATE_NAMES = ("tpr", "fnr", "fpr", "tnr", "accuracy", "balanced_accuracy")
COUNT_NAMES = ("tp", "fn", "fp", "tn")
DEFAULT_SIZES = tuple(range(1, 30, 2)) + (30,)   # the paper's photo counts: 1, 3, 5, …, 29, 30
SANDBOX_SIZES = (1, 3, 5, 10)
PAPER_BIN_WIDTH = 25
PAD = -2                          # prediction table padding where a person has fewer photos


# =============================================================================================
# Pure metric functions
# =============================================================================================

@dataclass(frozen=True)
class Confusion:
    """Counts of a membership decision against the truth; each field has the batch shape."""

    tp: np.ndarray
    fn: np.ndarray
    fp: np.ndarray
    tn: np.ndarray


def confusion_counts(predicted, labels, valid=None) -> Confusion:
    """``predicted`` [..., N] bool (called member), ``labels`` [N] bool (is member), optional
    ``valid`` [N] bool (people that count) → counts over the last axis."""
    predicted = np.asarray(predicted, dtype=bool)
    labels = np.broadcast_to(np.asarray(labels, dtype=bool), predicted.shape)
    keep = np.ones(predicted.shape, dtype=bool) if valid is None else np.broadcast_to(np.asarray(valid, dtype=bool), predicted.shape)
    pos = labels & keep
    neg = ~labels & keep
    return Confusion(
        tp=(predicted & pos).sum(axis=-1),
        fn=(~predicted & pos).sum(axis=-1),
        fp=(predicted & neg).sum(axis=-1),
        tn=(~predicted & neg).sum(axis=-1),
    )


def _ratio(num, den) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def rates(conf: Confusion) -> dict[str, np.ndarray]:
    """TPR, FNR, FPR, TNR, accuracy and balanced accuracy from counts (NaN for an empty class).

    Balanced accuracy is the mean of TPR and TNR: with 150 members and 100 non-members, plain
    accuracy rewards calling everyone a member; balanced accuracy does not."""
    p = conf.tp + conf.fn
    n = conf.fp + conf.tn
    tpr = _ratio(conf.tp, p)
    tnr = _ratio(conf.tn, n)
    return {
        "tpr": tpr,
        "fnr": _ratio(conf.fn, p),
        "fpr": _ratio(conf.fp, n),
        "tnr": tnr,
        "accuracy": _ratio(conf.tp + conf.tn, p + n),
        "balanced_accuracy": (tpr + tnr) / 2.0,
    }


def mean_sd(values, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample sd (ddof = 1, 0 for one value) over ``axis``, ignoring NaN."""
    values = np.asarray(values, dtype=np.float64)
    n = np.sum(~np.isnan(values), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"), _quiet_nan():
        mean = np.nanmean(values, axis=axis)
        sd = np.where(n > 1, np.nanstd(values, axis=axis, ddof=1) if values.shape[axis] > 1 else 0.0, 0.0)
    return mean, np.where(n > 0, sd, np.nan)


class _quiet_nan:
    """Silence numpy's 'mean of empty slice' warnings: an all-NaN slice is a legitimate NaN here."""

    def __enter__(self):
        import warnings
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def wilson_interval(k, n, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion k/n (95% by default); NaN where n = 0.

    Why Wilson: with few non-members and an FPR of 0, the normal interval collapses to [0, 0];
    Wilson still says how large the FPR could plausibly be (3/n-ish for k = 0)."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    # exact endpoints at the extremes (avoid 1e-17 round-off)
    lo = np.where((n > 0) & (k <= 0), 0.0, lo)
    hi = np.where((n > 0) & (k >= n), 1.0, hi)
    return lo, hi


def tau_sweep(n_correct, labels, n_templates: int, valid=None) -> dict[str, np.ndarray]:
    """TPR and FPR for every tau in 0..n_templates (member iff correct >= tau).

    ``n_correct`` is [..., N] (leading axes such as draws are kept). tau = 0 calls everyone a
    member (TPR = FPR = 1); both rates can only fall as tau rises."""
    n_correct = np.asarray(n_correct)
    taus = np.arange(n_templates + 1)
    predicted = n_correct[None, ...] >= taus.reshape((-1,) + (1,) * n_correct.ndim)
    r = rates(confusion_counts(predicted, labels, valid))
    return {"tau": taus, "tpr": r["tpr"], "fpr": r["fpr"]}


def roc_curve(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC points for "member iff score >= threshold", one point per distinct score, from
    (0, 0) (threshold +inf) to (1, 1). Tied scores move both rates in one step."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels, dtype=bool).ravel()
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    y = labels[order]
    tps = np.cumsum(y)
    fps = np.cumsum(~y)
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1] if s.size else np.array([], dtype=int)
    p = max(int(labels.sum()), 0)
    n = max(int((~labels).sum()), 0)
    tpr = np.r_[0.0, tps[last] / p] if p else np.r_[0.0, np.full(last.size, np.nan)]
    fpr = np.r_[0.0, fps[last] / n] if n else np.r_[0.0, np.full(last.size, np.nan)]
    thresholds = np.r_[np.inf, s[last]]
    return fpr, tpr, thresholds


def roc_auc(scores, labels) -> float:
    """Area under the ROC curve as the Mann–Whitney statistic: the probability that a random
    member scores above a random non-member, ties counting one half. NaN if a class is empty."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels, dtype=bool).ravel()
    p = int(labels.sum())
    n = labels.size - p
    if p == 0 or n == 0:
        return float("nan")
    # mid-ranks handle ties exactly
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size, dtype=np.float64)
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    mid = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(mid, counts)
    return float((ranks[labels].sum() - p * (p + 1) / 2.0) / (p * n))


def tpr_at_fpr(fpr, tpr, max_fpr: float) -> float:
    """The best TPR among ROC points whose FPR is at most ``max_fpr`` (0 for a 0% budget means:
    thresholds above every non-member). NaN if no point qualifies (no negatives)."""
    fpr = np.asarray(fpr, dtype=np.float64)
    tpr = np.asarray(tpr, dtype=np.float64)
    ok = fpr <= max_fpr + 1e-12
    if not np.any(ok & ~np.isnan(tpr)):
        return float("nan")
    return float(np.nanmax(tpr[ok]))


def occurrence_bins(occurrences, width: int = PAPER_BIN_WIDTH, max_distinct: int = 10) -> tuple[np.ndarray, list[str]]:
    """Bin index per person and bin labels. Few distinct counts (the sandbox's 1, 3, 10, …) get a
    bin each; otherwise the paper's bins [0, 25), [25, 50), … . NaN occurrences get bin -1."""
    occ = np.asarray(occurrences, dtype=np.float64)
    known = ~np.isnan(occ)
    values = np.unique(occ[known])
    if values.size <= max_distinct:
        idx = np.full(occ.shape, -1, dtype=int)
        idx[known] = np.searchsorted(values, occ[known])
        return idx, [f"{v:g}" for v in values]
    top = int(math.ceil((float(values.max()) + 1) / width))
    idx = np.where(known, np.floor(np.where(known, occ, 0) / width).astype(int), -1)
    return idx, [f"[{i * width},{(i + 1) * width})" for i in range(top)]


def calibration_p_value(observed, null_counts) -> np.ndarray:
    """Share of known non-members (the calibration set) reaching at least the observed number of
    correct templates, with the +1 correction so it is never 0: (1 + #{null >= obs}) / (1 + M).

    Null: the person is like a non-member of this model (never captioned with their own face and
    name); the calibration non-members are drawn from the same distribution."""
    null = np.sort(np.asarray(null_counts, dtype=np.float64).ravel())
    obs = np.asarray(observed, dtype=np.float64)
    at_least = null.size - np.searchsorted(null, obs, side="left")
    return (1.0 + at_least) / (1.0 + null.size)


# ---- draws ------------------------------------------------------------------------------------

def draw_photo_indices(n_available, size: int, draws: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """For each draw and person, ``size`` distinct photo indices chosen uniformly among that
    person's ``n_available`` photos → (idx [draws, N, size], valid [N])."""
    n_available = np.asarray(n_available, dtype=int)
    n_people = n_available.size
    p_max = max(int(n_available.max(initial=0)), size)
    keys = rng.random((draws, n_people, p_max))
    keys[:, np.arange(p_max)[None, :] >= n_available[:, None]] = np.inf
    idx = np.argsort(keys, axis=-1, kind="stable")[..., :size]
    return idx, n_available >= size


@dataclass(frozen=True)
class VoteTable:
    """Every photo's prediction per person, with names renumbered per person so that 0 is the
    true name and 1..k-1 the other names that person's photos ever got (k is small: a few dozen
    names at most, where the pool has a thousand). Built once; every draw and photo count reuses it."""

    local: np.ndarray        # [N, T, P] int32 local name ids (0 = the true name)
    k: np.ndarray            # [N] number of local ids per person
    n_available: np.ndarray  # [N] photos per person (columns past it are padding)


def vote_table(pred_all, true_index, n_available=None) -> VoteTable:
    """Renumber ``pred_all`` [N, T, P] (pool indices) per person; see ``VoteTable``."""
    pred_all = np.asarray(pred_all)
    n_people, _, p_max = pred_all.shape
    n_available = np.full(n_people, p_max) if n_available is None else np.asarray(n_available, dtype=int)
    local = np.zeros(pred_all.shape, dtype=np.int32)
    k = np.zeros(n_people, dtype=np.int64)
    for i in range(n_people):
        vals = pred_all[i, :, : n_available[i]]
        uniq, inv = np.unique(np.r_[int(true_index[i]), vals.ravel()], return_inverse=True)
        inv = inv.reshape(-1)
        t = inv[0]
        ids = inv[1:]
        ids = np.where(ids == t, 0, np.where(ids == 0, t, ids))      # the true name becomes id 0
        local[i, :, : n_available[i]] = ids.reshape(vals.shape)
        k[i] = uniq.size
    return VoteTable(local, k, n_available)


def correct_for_draws(table: VoteTable, idx, chunk_elems: int = 8_000_000) -> np.ndarray:
    """Correct-template counts for drawn photo subsets: ``idx`` [D, N, n] → [D, N].

    Votes per (draw, person, template, name) are a matrix product of a 0/1 selection of the drawn
    photos with each person's one-hot vote table, so every draw costs one small BLAS call instead
    of a pass over pairs of photos. The rule is ``attack.wins_majority`` on those counts: a template
    counts when the true name (id 0) has more votes than any other name; a shared top counts for nobody."""
    d, n_people, _n = idx.shape
    _, n_t, p_max = table.local.shape
    out = np.empty((d, n_people), dtype=np.int64)
    start = 0
    while start < n_people:
        # grow the chunk while its one-hot table stays within budget
        stop, k_max = start, 1
        while stop < n_people:
            k_new = max(k_max, int(table.k[stop]))
            if stop > start and (stop + 1 - start) * p_max * n_t * k_new > chunk_elems:
                break
            k_max, stop = k_new, stop + 1
        nc = stop - start
        onehot = np.zeros((nc, p_max, k_max, n_t), dtype=np.float32)            # names before templates
        loc = table.local[start:stop].transpose(0, 2, 1)                          # [nc, P, T]
        ni, pi, ti = np.indices(loc.shape, sparse=True)
        onehot[ni, pi, loc, ti] = 1.0
        sel = np.zeros((nc, d, p_max), dtype=np.float32)
        np.put_along_axis(sel, idx[:, start:stop, :].transpose(1, 0, 2), 1.0, axis=-1)
        counts = np.matmul(sel, onehot.reshape(nc, p_max, k_max * n_t)).reshape(nc, d, k_max, n_t)
        won = attack.wins_majority(counts, 0, axis=2)                             # [nc, D, T]
        out[:, start:stop] = won.sum(axis=-1).T
        start = stop
    return out


def correct_for_draws_reference(pred_all, true_index, idx) -> np.ndarray:
    """The same numbers straight from ``attack.majority_votes`` on the drawn predictions
    ([D, N, T, n]); slower (pairs of photos), kept to check the fast path against."""
    pred_all = np.asarray(pred_all)
    drawn = np.take_along_axis(pred_all[None], idx[:, :, None, :], axis=-1)
    return attack.correct_templates(attack.majority_votes(drawn), np.asarray(true_index)[None, :])


def per_draw_metrics(correct, labels, tau: int, valid=None) -> dict[str, np.ndarray]:
    """Counts and rates for each draw: ``correct`` [D, N] → {name: [D]}."""
    conf = confusion_counts(attack.is_member(correct, tau), labels, valid)
    out = {name: getattr(conf, name) for name in COUNT_NAMES}
    out.update(rates(conf))
    return out


def summarize_draws(per_draw: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean and sd over draws of every count and rate (keys ``<name>_mean`` and ``<name>_sd``)."""
    row: dict[str, float] = {}
    for name in COUNT_NAMES + RATE_NAMES:
        m, s = mean_sd(per_draw[name])
        row[f"{name}_mean"] = float(m)
        row[f"{name}_sd"] = float(s)
    return row


def metrics_rows(correct_by_size: dict[int, np.ndarray], labels, tau: int, valid_by_size=None) -> list[dict]:
    """One row per photo count: n_photos, draws, counts and rates as mean/sd over draws, with
    Wilson 95% intervals on TPR and FPR (k = mean TP resp. FP, n = members resp. non-members
    valid at that count — the uncertainty from which people were audited)."""
    labels = np.asarray(labels, dtype=bool)
    rows = []
    for size in sorted(correct_by_size):
        valid = None if valid_by_size is None else valid_by_size[size]
        per_draw = per_draw_metrics(correct_by_size[size], labels, tau, valid)
        row = {"n_photos": int(size), "draws": int(np.asarray(correct_by_size[size]).shape[0])}
        keep = np.ones(labels.shape, bool) if valid is None else np.asarray(valid, bool)
        row["n_members"] = int((labels & keep).sum())
        row["n_non_members"] = int((~labels & keep).sum())
        row.update(summarize_draws(per_draw))
        for rate, k, n in (("tpr", row["tp_mean"], row["n_members"]), ("fpr", row["fp_mean"], row["n_non_members"])):
            lo, hi = wilson_interval(k, n)
            row[f"{rate}_low"] = float(lo)
            row[f"{rate}_high"] = float(hi)
        rows.append(row)
    return rows


def roc_summary(scores, labels, valid=None) -> dict:
    """ROC over draws: ``scores`` [D, N] membership scores. Per draw: AUC, TPR at 0% and 1% FPR
    (mean ± sd over draws); the pooled curve for plotting. Says how many non-members the low-FPR
    numbers rest on (the smallest non-zero FPR is 1/n_non_members)."""
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    labels = np.asarray(labels, dtype=bool)
    keep = np.ones(labels.shape, bool) if valid is None else np.asarray(valid, bool)
    lab = labels[keep]
    aucs, t0, t1 = [], [], []
    for row in scores[:, keep]:
        fpr, tpr, _ = roc_curve(row, lab)
        aucs.append(roc_auc(row, lab))
        t0.append(tpr_at_fpr(fpr, tpr, 0.0))
        t1.append(tpr_at_fpr(fpr, tpr, 0.01))
    pooled = scores[:, keep].ravel()
    pooled_labels = np.tile(lab, scores.shape[0])
    fpr, tpr, thr = roc_curve(pooled, pooled_labels)
    n_neg = int((~lab).sum())
    out = {"n_members": int(lab.sum()), "n_non_members": n_neg,
           "smallest_nonzero_fpr": (1.0 / n_neg) if n_neg else None,
           "fpr": fpr, "tpr": tpr, "thresholds": thr}
    for name, vals in (("auc", aucs), ("tpr_at_0_fpr", t0), ("tpr_at_1pct_fpr", t1)):
        m, s = mean_sd(np.asarray(vals, dtype=np.float64))
        out[f"{name}_mean"] = float(m)
        out[f"{name}_sd"] = float(s)
    if n_neg and n_neg < 100:
        out["note_1pct"] = (f"with {n_neg} non-members the smallest non-zero FPR is 1/{n_neg} = {1 / n_neg:.3g} > 1%, "
                            "so TPR at 1% FPR equals TPR at 0% FPR")
    return out


def _called_share(called: np.ndarray, sel: np.ndarray) -> tuple[int, float, float, float, float] | None:
    """Over the selected people: (n, mean ± sd over draws of the share called member, Wilson
    95% interval on the mean count), or None when nobody is selected."""
    n = int(sel.sum())
    if n == 0:
        return None
    m, s = mean_sd(called[:, sel].mean(axis=1))
    lo, hi = wilson_interval(m * n, n)
    return n, float(m), float(s), float(lo), float(hi)


def group_rates(correct, labels, groups, tau: int, valid=None) -> list[dict]:
    """Per group (e.g. the sandbox's roles): people, members, share called member (mean ± sd over
    draws) and its Wilson interval. For a group of non-members that share is its FPR."""
    correct = np.atleast_2d(np.asarray(correct))
    groups = np.asarray(groups, dtype=object)
    labels = np.asarray(labels, dtype=bool)
    keep = np.ones(labels.shape, bool) if valid is None else np.asarray(valid, bool)
    called = attack.is_member(correct, tau)
    out = []
    for g in sorted(set(groups.tolist()), key=str):
        sel = (groups == g) & keep
        stats = _called_share(called, sel)
        if stats is None:
            continue
        n, m, s, lo, hi = stats
        out.append({"group": str(g), "n": n, "members": int(labels[sel].sum()), "called_member_mean": m,
                    "called_member_sd": s, "low": lo, "high": hi})
    return out


def occurrence_table(correct, labels, occurrences, tau: int, valid=None) -> list[dict]:
    """TPR per occurrence bin over members (mean ± sd over draws, Wilson 95% interval)."""
    correct = np.atleast_2d(np.asarray(correct))
    labels = np.asarray(labels, dtype=bool)
    keep = np.ones(labels.shape, bool) if valid is None else np.asarray(valid, bool)
    bins, names = occurrence_bins(np.asarray(occurrences, dtype=np.float64))
    called = attack.is_member(correct, tau)
    rows = []
    for b, name in enumerate(names):
        stats = _called_share(called, labels & keep & (bins == b))
        if stats is None:
            continue
        n, m, s, lo, hi = stats
        rows.append({"bin": name, "n": n, "tpr": m, "tpr_sd": s, "tpr_low": lo, "tpr_high": hi})
    return rows


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
    "k captions paired with someone else's face. Their called-member rate is reported per role, as an FPR.")


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


def package_versions() -> dict[str, str]:
    """Versions of everything that can change a number in the report."""
    from importlib import metadata

    from . import __version__

    out = {"idia": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("numpy", "torch", "open_clip_torch", "pandas", "matplotlib", "pillow"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


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

        # -- per person, all photos --------------------------------------------------------------
        non_members_full = full_correct[~labels]
        people_rows = []
        cal = calibration_p_value(full_correct, non_members_full) if non_members_full.size else np.full(n_people, np.nan)
        for i, p in enumerate(dataset.people):
            people_rows.append({"person": p.name, "member": int(p.member), "occurrences": p.occurrences,
                                "group": p.group, "photos": int(n_avail[i]), "correct_templates": int(full_correct[i]),
                                "called_member": int(attack.is_member(full_correct[i], tau)),
                                "score": float(attack.membership_score(full_correct[i], full_prob[i])),
                                "p_value_name_swap": float(p_swap[i]), "p_value_calibration": float(cal[i])})
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
