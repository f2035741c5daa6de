"""Matplotlib figures shared by the reports and the app.

Why one module: a chart is a number a person reads, so each one is drawn in exactly one place and
every front end (chat messages, evidence.html, the evaluation report) shows the same picture.

Every function returns a ``matplotlib.figure.Figure`` built without ``pyplot`` (no global state,
safe in the app's worker threads) on the Agg canvas. Nothing here computes the attack: the figures
read an ``IdiaResult`` or tables/arrays produced by ``evaluation``.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)

import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

TRUE_COLOUR = "#2e7d32"     # the true name
OTHER_COLOUR = "#c62828"    # the strongest other name
REST_COLOUR = "#b0bec5"     # all other votes
LINE_COLOURS = {"tpr": "#2e7d32", "fpr": "#c62828", "accuracy": "#1565c0",
                "balanced_accuracy": "#6a1b9a", "tnr": "#ef6c00", "fnr": "#6d4c41"}


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _short(text: str, width: int = 34) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def votes_figure(result) -> Figure:
    """Per template: how many photos voted for the true name, for the strongest other name, and
    for anyone else; a tick marks templates whose unique majority is the true name.

    Why: the verdict is a count of templates, so the picture a person needs is one bar per
    template showing whether the true name won that template's vote."""
    pred = np.asarray(result.predictions)                  # [T, P]
    n_t, n_p = pred.shape
    true_idx = int(result.true_index)
    true_votes = (pred == true_idx).sum(axis=1)
    other_votes = np.zeros(n_t, dtype=int)
    other_names: list[str] = []
    for t in range(n_t):
        counts = np.bincount(pred[t], minlength=len(result.candidates))
        counts[true_idx] = -1
        best = int(np.argmax(counts))
        other_votes[t] = max(int(counts[best]), 0)
        other_names.append(result.candidates[best] if counts[best] > 0 else "")
    rest = n_p - true_votes - other_votes
    correct = np.asarray(result.majority) == true_idx

    fig = _new_figure(8.0, max(3.0, 0.32 * n_t + 1.4))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(n_t)[::-1]
    ax.barh(y, true_votes, color=TRUE_COLOUR, label=_short(result.true_name, 40) + " (true name)")
    ax.barh(y, other_votes, left=true_votes, color=OTHER_COLOUR, label="strongest other name")
    ax.barh(y, rest, left=true_votes + other_votes, color=REST_COLOUR, label="other names")
    labels = [("✓ " if ok else "   ") + _short(tpl) for tpl, ok in zip(result.templates, correct)]
    ax.set_yticks(y, labels, fontsize=8)
    for yi, ov, tv, name in zip(y, other_votes, true_votes, other_names):
        if ov > 0 and name:
            ax.text(tv + ov / 2, yi, _short(name, 18), ha="center", va="center", fontsize=6, color="white")
    ax.set_xlim(0, n_p)
    ax.set_xlabel(f"photos voting (of {n_p})")
    verdict = "member" if result.member else "not a member"
    ax.set_title(f"{int(result.correct_templates)}/{n_t} templates pick the true name "
                 f"(tau = {int(result.tau)}): {verdict}", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.6 / max(n_t, 1) - 0.06), ncol=3, fontsize=7,
              frameon=False)
    return fig


def top_names_figure(result, k: int = 10) -> Figure:
    """The k names the photos are most similar to on average (over all templates and photos),
    the true name highlighted and added at the bottom when it is not among them.

    Why: it shows who the model thinks the person is, and how far the true name is from the top."""
    top = result.top_names(k)
    names = [n for n, _ in top]
    sims = [s for _, s in top]
    if result.true_name not in names:
        names.append(result.true_name)
        sims.append(float(np.asarray(result.mean_similarity)[result.true_index]))
    colours = [TRUE_COLOUR if n == result.true_name else REST_COLOUR for n in names]
    fig = _new_figure(7.0, max(2.6, 0.3 * len(names) + 1.2))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(names))[::-1]
    ax.barh(y, sims, color=colours)
    ax.set_yticks(y, [_short(n, 30) for n in names], fontsize=8)
    lo, hi = min(sims), max(sims)
    pad = max((hi - lo) * 0.15, 1e-3)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_xlabel("mean cosine similarity (photos × templates)")
    ax.set_title(f"Names closest to the photos (pool of {result.n_candidates})", fontsize=10)
    return fig


def metrics_vs_photos_figure(df, metrics=("tpr", "fpr", "accuracy")) -> Figure:
    """Metrics (mean over draws, ± sd band) against the number of photos per person.

    ``df`` is ``metrics_by_photos`` (columns ``n_photos``, ``<metric>_mean``, ``<metric>_sd``)."""
    fig = _new_figure(6.5, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    x = np.asarray(df["n_photos"], dtype=float)
    for m in metrics:
        mean = np.asarray(df[f"{m}_mean"], dtype=float)
        sd = np.nan_to_num(np.asarray(df[f"{m}_sd"], dtype=float))
        colour = LINE_COLOURS.get(m)
        ax.plot(x, mean, marker="o", color=colour, label=m.upper() if len(m) <= 3 else m.replace("_", " "))
        ax.fill_between(x, np.clip(mean - sd, 0, 1), np.clip(mean + sd, 0, 1), color=colour, alpha=0.18)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("photos per person")
    ax.set_ylabel("rate (mean ± sd over draws)")
    ax.set_xticks(x)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("IDIA metrics vs number of photos", fontsize=10)
    return fig


def roc_figure(fpr, tpr, auc: float | None = None, n_negatives: int | None = None,
               label: str | None = None) -> Figure:
    """ROC curve on log-log axes (the field's convention for membership inference: what matters
    is the TPR at a very low FPR). FPR = 0 is drawn at half the smallest non-zero FPR, so the TPR
    reached before any non-member is called a member stays visible."""
    fpr = np.asarray(fpr, dtype=float)
    tpr = np.asarray(tpr, dtype=float)
    nonzero = fpr[fpr > 0]
    floor_x = 0.5 * float(nonzero.min()) if nonzero.size else (0.5 / n_negatives if n_negatives else 1e-3)
    keep = tpr > 0                       # log axes: points with TPR = 0 carry nothing to show
    pos = tpr[keep]
    floor_y = 0.8 * float(pos.min()) if pos.size else 1e-3
    fig = _new_figure(5.0, 4.6)
    ax = fig.add_subplot(1, 1, 1)
    text = label or "IDIA score"
    if auc is not None and not math.isnan(auc):
        text += f" (AUC = {auc:.3f})"
    if pos.size:
        ax.step(np.maximum(fpr[keep], floor_x), pos, where="post", color=TRUE_COLOUR, label=text)
    grid = np.logspace(np.log10(floor_x), 0, 50)
    ax.plot(grid, grid, "--", color="grey", lw=0.8, label="chance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor_x * 0.9, 1.05)
    ax.set_ylim(floor_y * 0.9, 1.05)
    ax.set_xlabel("false positive rate" + (f" (1 non-member = {1 / n_negatives:.3g})" if n_negatives else ""))
    ax.set_ylabel("true positive rate")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("ROC (log-log)", fontsize=10)
    return fig


def tpr_by_occurrence_figure(df) -> Figure:
    """TPR per bin of training occurrences with Wilson 95% intervals.

    ``df`` has columns ``bin`` (label), ``tpr``, ``tpr_low``, ``tpr_high``, ``n``."""
    labels = [str(b) for b in df["bin"]]
    tpr = np.asarray(df["tpr"], dtype=float)
    lo = np.asarray(df["tpr_low"], dtype=float)
    hi = np.asarray(df["tpr_high"], dtype=float)
    n = np.asarray(df["n"], dtype=int)
    fig = _new_figure(max(4.5, 0.8 * len(labels) + 2), 3.8)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(labels))
    ax.bar(x, np.nan_to_num(tpr), color=TRUE_COLOUR, alpha=0.85)
    yerr = np.vstack([np.nan_to_num(tpr - lo), np.nan_to_num(hi - tpr)])
    ax.errorbar(x, np.nan_to_num(tpr), yerr=yerr, fmt="none", ecolor="black", capsize=3, lw=1)
    for xi, ni in zip(x, n):
        ax.text(xi, 0.02, f"n={ni}", ha="center", va="bottom", fontsize=7, color="white")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("training occurrences")
    ax.set_ylabel("TPR (Wilson 95% CI)")
    ax.set_title("TPR by number of occurrences", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    return fig


def figure_to_png(fig: Figure, dpi: int = 100) -> bytes:
    """PNG bytes of a figure (for embedding as base64 in HTML or sending to a chat)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def save_figure(fig: Figure, path, dpi: int = 100) -> Path:
    """Write a PNG atomically (a temporary file renamed into place), so an interrupted run never
    leaves a half-written picture."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(figure_to_png(fig, dpi))
    tmp.replace(path)
    return path
