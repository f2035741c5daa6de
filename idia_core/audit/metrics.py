"""Pure evaluation metrics: arrays in, arrays or dataclasses out, no I/O.

They read the outputs of ``attack`` (correct-template counts, membership scores) and never
re-implement the rule: majorities come from ``rule.majority_votes``, counts from
``rule.correct_templates``, scores from ``rule.membership_score``. The pipeline that reads
datasets and writes outputs is ``audit.evaluation``; the validity controls are
``attack.controls``; the Wilson interval is ``idia_core.stats``'s.

Conventions (stated in every report):
* a person is *valid* at photo count n only if they have at least n photos; invalid people are left
  out of that count's confusion matrix;
* mean ± sd over draws uses the sample sd (ddof = 1; 0 for a single draw), as the paper reports;
* a rate whose denominator is empty (no non-members → FPR) is NaN, written as null in JSON.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..attack import rule
from ..stats import wilson_interval

RATE_NAMES = ("tpr", "fnr", "fpr", "tnr", "accuracy", "balanced_accuracy")
COUNT_NAMES = ("tp", "fn", "fp", "tn")
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
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


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


def leave_one_out_calibration(correct, labels) -> np.ndarray:
    """``calibration_p_value`` for every person of a dataset, each against the known non-members
    *other than themselves*: a non-member is never part of its own null, which would count its own
    count against it (and give a lone non-member p = 1 by construction). [N] correct templates,
    [N] member labels → [N] p-values, (1 + #{other non-members >= c}) / (1 + #other non-members);
    NaN where there is no other non-member."""
    correct = np.asarray(correct, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    m = int((~labels).sum())
    if m == 0:
        return np.full(correct.shape, np.nan)
    out = calibration_p_value(correct, correct[~labels])     # (1 + a) / (1 + m), a counting itself
    if m == 1:
        out[~labels] = np.nan
    else:                                                    # a non-member without itself: a / m
        out[~labels] = (out[~labels] * (1 + m) - 1) / m
    return out


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
    of a pass over pairs of photos. The rule is ``rule.wins_majority`` on those counts: a template
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
        won = rule.wins_majority(counts, 0, axis=2)                             # [nc, D, T]
        out[:, start:stop] = won.sum(axis=-1).T
        start = stop
    return out


def correct_for_draws_reference(pred_all, true_index, idx) -> np.ndarray:
    """The same numbers straight from ``rule.majority_votes`` on the drawn predictions
    ([D, N, T, n]); slower (pairs of photos), kept to check the fast path against."""
    pred_all = np.asarray(pred_all)
    drawn = np.take_along_axis(pred_all[None], idx[:, :, None, :], axis=-1)
    return rule.correct_templates(rule.majority_votes(drawn), np.asarray(true_index)[None, :])


def per_draw_metrics(correct, labels, tau: int, valid=None) -> dict[str, np.ndarray]:
    """Counts and rates for each draw: ``correct`` [D, N] → {name: [D]}."""
    conf = confusion_counts(rule.is_member(correct, tau), labels, valid)
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
    called = rule.is_member(correct, tau)
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
    called = rule.is_member(correct, tau)
    rows = []
    for b, name in enumerate(names):
        stats = _called_share(called, labels & keep & (bins == b))
        if stats is None:
            continue
        n, m, s, lo, hi = stats
        rows.append({"bin": name, "n": n, "tpr": m, "tpr_sd": s, "tpr_low": lo, "tpr_high": hi})
    return rows
