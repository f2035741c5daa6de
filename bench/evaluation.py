"""Benchmark: idia's vectorised evaluation metrics vs a straightforward pandas group-by
implementation of the paper's rule, on the same synthetic predictions.

Both sides get the same drawn predictions (people × templates × photos, for every draw and photo
count) and compute, per photo count, TP/FN/FP/TN and TPR/FNR/FPR/TNR/accuracy/balanced accuracy as
mean ± sd over draws. The pandas side does what one would write by hand: count votes per
(size, draw, person, template, name), keep the top count, skip templates whose top count is shared,
count templates won by the true name, apply tau, then aggregate.

Usage:  python bench/evaluation.py [--people 500] [--draws 20] [--pandas-people 50]

At full size the pandas side holds ~47M vote rows; on a small machine it is timed on a subset of
people (``--pandas-people``) and scaled linearly in people (its cost is linear in rows), which the
output says. The vectorised side is timed at full size and on the subset, and metrics are compared
exactly on the subset.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from idia_core.audit import metrics
from idia_core.audit.evaluation import DEFAULT_SIZES

METRICS = metrics.COUNT_NAMES + metrics.RATE_NAMES


def synthetic_predictions(n_people: int, n_templates: int = 21, n_photos: int = 30, n_candidates: int = 1000,
                          seed: int = 0):
    """Per-photo predictions with known truth: members' photos pick the true name with a
    person-specific probability, otherwise one of a few look-alike names (so majorities and ties
    both happen); non-members rarely pick their name."""
    rng = np.random.default_rng(seed)
    true_index = rng.permutation(n_candidates)[:n_people]
    labels = rng.random(n_people) < 0.5
    strength = np.where(labels, rng.uniform(0.05, 0.6, n_people), rng.uniform(0.0, 0.08, n_people))
    lookalikes = rng.integers(0, n_candidates, (n_people, 4))
    other = np.take_along_axis(lookalikes[:, None, None, :].repeat(n_templates, 1).repeat(n_photos, 2),
                               rng.integers(0, 4, (n_people, n_templates, n_photos))[..., None], axis=-1)[..., 0]
    hit = rng.random((n_people, n_templates, n_photos)) < strength[:, None, None]
    pred = np.where(hit, true_index[:, None, None], other)
    return pred.astype(np.int64), true_index, labels


def draw_all(n_people: int, n_photos: int, sizes, draws: int, seed: int = 0):
    n_avail = np.full(n_people, n_photos)
    return {s: metrics.draw_photo_indices(n_avail, s, draws, np.random.default_rng([seed, s]))[0] for s in sizes}


def vectorised_metrics(pred_all, true_index, labels, idx_by_size, tau: int = 1) -> list[dict]:
    """idia's path: the per-person vote table (built once), vote counts per draw by matrix product,
    attack.wins_majority for the rule, then the metric functions."""
    table = metrics.vote_table(pred_all, true_index)
    correct = {s: metrics.correct_for_draws(table, idx) for s, idx in idx_by_size.items()}
    return metrics.metrics_rows(correct, labels, tau)


def long_table(pred_all, idx_by_size):
    """The drawn predictions as a long DataFrame: size, draw, person, template, pred."""
    import pandas as pd

    frames = []
    for s, idx in idx_by_size.items():
        drawn = np.take_along_axis(pred_all[None], idx[:, :, None, :], axis=-1)      # [D, N, T, n]
        d, n, t, k = drawn.shape
        grid = np.indices((d, n, t, k)).reshape(4, -1)
        frames.append(pd.DataFrame({"size": np.full(grid.shape[1], s, dtype=np.int64), "draw": grid[0],
                                    "person": grid[1], "template": grid[2], "pred": drawn.ravel()}))
    return pd.concat(frames, ignore_index=True)


def pandas_metrics(df, true_index, labels, draws: int, tau: int = 1) -> list[dict]:
    """The paper's rule, written plainly with pandas group-bys."""
    import pandas as pd

    keys = ["size", "draw", "person", "template"]
    votes = df.groupby(keys + ["pred"]).size().rename("votes").reset_index()
    top = votes.groupby(keys)["votes"].transform("max")
    leaders = votes[votes["votes"] == top]
    n_leaders = leaders.groupby(keys)["pred"].transform("size")
    winners = leaders[n_leaders == 1]                                   # a tie for the top: no majority
    people = pd.DataFrame({"person": np.arange(len(labels)), "true": true_index, "member": labels})
    winners = winners.merge(people, on="person")
    winners = winners.assign(correct=(winners["pred"] == winners["true"]).astype(int))
    correct = winners.groupby(["size", "draw", "person"])["correct"].sum()
    full = pd.MultiIndex.from_product([sorted(df["size"].unique()), range(draws), range(len(labels))],
                                      names=["size", "draw", "person"])
    correct = correct.reindex(full, fill_value=0).reset_index().merge(people, on="person")
    correct["called"] = correct["correct"] >= tau
    g = correct.groupby(["size", "draw"])
    per = pd.DataFrame({
        "tp": g.apply(lambda x: int((x.called & x.member).sum())),
        "fn": g.apply(lambda x: int((~x.called & x.member).sum())),
        "fp": g.apply(lambda x: int((x.called & ~x.member).sum())),
        "tn": g.apply(lambda x: int((~x.called & ~x.member).sum())),
    })
    per["tpr"] = per.tp / (per.tp + per.fn)
    per["fnr"] = per.fn / (per.tp + per.fn)
    per["fpr"] = per.fp / (per.fp + per.tn)
    per["tnr"] = per.tn / (per.fp + per.tn)
    per["accuracy"] = (per.tp + per.tn) / (per.tp + per.fn + per.fp + per.tn)
    per["balanced_accuracy"] = (per.tpr + per.tnr) / 2
    agg = per.groupby("size").agg(["mean", "std"])
    rows = []
    for size, r in agg.iterrows():
        row = {"n_photos": int(size)}
        for m in METRICS:
            row[f"{m}_mean"] = float(r[(m, "mean")])
            row[f"{m}_sd"] = float(r[(m, "std")]) if draws > 1 else 0.0
        rows.append(row)
    return rows


def compare(a: list[dict], b: list[dict]) -> tuple[bool, float]:
    """Identical up to float round-off? Returns (equal, largest absolute difference)."""
    worst = 0.0
    for ra, rb in zip(a, b, strict=True):
        assert ra["n_photos"] == rb["n_photos"]
        for m in METRICS:
            for suffix in ("_mean", "_sd"):
                x, y = ra[m + suffix], rb[m + suffix]
                if np.isnan(x) and np.isnan(y):
                    continue
                worst = max(worst, abs(x - y))
    return worst <= 1e-12, worst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--people", type=int, default=500)
    ap.add_argument("--photos", type=int, default=30)
    ap.add_argument("--templates", type=int, default=21)
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    ap.add_argument("--pandas-people", type=int, default=50,
                    help="people for the pandas side (0 = all); its time is scaled linearly to --people")
    ap.add_argument("--repeat", type=int, default=3, help="vectorised timing: best of N")
    args = ap.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(","))

    pred_all, true_index, labels = synthetic_predictions(args.people, args.templates, args.photos)
    idx = draw_all(args.people, args.photos, sizes, args.draws)
    n_sub = args.people if args.pandas_people in (0, None) or args.pandas_people >= args.people else args.pandas_people
    sub_idx = {s: i[:, :n_sub] for s, i in idx.items()}
    print(f"setting: {args.people} people × {args.photos} photos × {args.templates} templates × {args.draws} draws "
          f"× {len(sizes)} sizes {sizes}")

    def best(fn):
        times = []
        for _ in range(max(1, args.repeat)):
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
        return min(times), out

    t_vec_full, _ = best(lambda: vectorised_metrics(pred_all, true_index, labels, idx))
    t_vec_sub, vec_sub = best(lambda: vectorised_metrics(pred_all[:n_sub], true_index[:n_sub], labels[:n_sub], sub_idx))
    df = long_table(pred_all[:n_sub], sub_idx)
    t = time.perf_counter()
    pd_sub = pandas_metrics(df, true_index[:n_sub], labels[:n_sub], args.draws)
    t_pd_sub = time.perf_counter() - t
    same, worst = compare(vec_sub, pd_sub)
    print(f"vectorised (idia): {t_vec_full:8.3f} s at {args.people} people; {t_vec_sub:.3f} s at {n_sub} people")
    print(f"pandas group-by:   {t_pd_sub:8.3f} s at {n_sub} people ({len(df):,} vote rows)")
    print(f"ratio at {n_sub} people (both measured): {t_pd_sub / t_vec_sub:.1f}×")
    if n_sub < args.people:
        scaled = t_pd_sub * args.people / n_sub
        print(f"pandas scaled to {args.people} people (linear in rows, ×{args.people / n_sub:g}): ~{scaled:.1f} s "
              f"→ estimated ratio at full size: {scaled / t_vec_full:.1f}× (pandas not run at full size: "
              f"{len(df) * args.people // n_sub:,} rows)")
    print(f"metrics identical on the compared set: {same} (largest |difference| = {worst:.2e})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
