"""Matplotlib figures shared by the reports and the app.

Why one module: a chart is a number a person reads, so each one is drawn in exactly one place and
every front end (chat messages, evidence.html, the evaluation report) shows the same picture.

Every function returns a ``matplotlib.figure.Figure`` built without ``pyplot`` (no global state,
safe in the app's worker threads) on the Agg canvas. Nothing here computes the attack: the figures
read an ``IdiaResult`` or tables (rows as columns: ``table["n_photos"]``) made by ``evaluation``.
"""
from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)   # before any other matplotlib import: no display is ever needed

import matplotlib.patches  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..attack.verdict import Verdict  # noqa: E402
from ..files import atomic_write  # noqa: E402

TRUE_COLOUR = "#2e7d32"     # the true name
OTHER_COLOUR = "#c62828"    # the strongest other name
REST_COLOUR = "#b0bec5"     # all other votes
NO_MAJORITY_COLOUR = "#fbc02d"   # a template without a unique majority (a tie)
LINE_COLOURS = {"tpr": "#2e7d32", "fpr": "#c62828", "accuracy": "#1565c0",
                "balanced_accuracy": "#6a1b9a", "tnr": "#ef6c00", "fnr": "#6d4c41"}


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _short(text: str, width: int = 34) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _wrap(text: str, width: int, max_lines: int | None = None) -> str:
    """Wrap a label onto lines of at most ``width`` characters (whole words where possible), so a
    label is shown in full instead of cut; ``max_lines`` bounds a label from outside (a name)."""
    lines = textwrap.wrap(str(text), width, break_long_words=True, break_on_hyphens=False) or [""]
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _short(lines[-1] + " …", width)
    return "\n".join(lines)


def template_label(template: str) -> str:
    """A prompt template as a person reads it: the name's slot shown as "[name]"."""
    return str(template).replace("{0}", "[name]")


def min_font_pt(fig: Figure) -> float:
    """The smallest font size (points) of any visible text in the figure; with the DPI and the
    width it is shown at, this says how large its smallest text is on screen (px = pt × dpi / 72 ×
    shown width / drawn width)."""
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return float(min(sizes)) if sizes else 0.0


def template_outcomes(result) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per template, boolean masks: its unique majority is the true name / another name / there
    is no unique majority (a tie, which the paper's rule counts as not correct). Shapes [T]."""
    majority = np.asarray(result.majority)
    picked = majority == int(result.true_index)
    tied = majority < 0
    return picked, ~picked & ~tied, tied


OUTCOME_COLOURS = (TRUE_COLOUR, OTHER_COLOUR, NO_MAJORITY_COLOUR)
CHAT_WIDTH_IN = 3.6         # 360 px at 100 dpi: the chat column on a phone shows it at ≥ 300 px
CHAT_FONT_PT = 10           # 13.9 px drawn; ≥ 11 px down to a 285 px wide rendering
SIDE_WIDTH_IN = 4.6         # the side panel beside the chat (~ 410–460 px) and the reports


def _fixed_figure(width_px: float, blocks: list[float]) -> tuple[Figure, list[float]]:
    """A figure ``width_px`` wide (at 100 dpi) made of vertical blocks of the given pixel heights,
    laid out by hand (constrained layout squeezes small figures unpredictably). Returns the
    figure and the top edge of each block as a figure fraction."""
    height = sum(blocks)
    fig = Figure(figsize=(width_px / 100, height / 100), dpi=100)
    FigureCanvasAgg(fig)
    tops, y = [], height
    for h in blocks:
        tops.append(y / height)
        y -= h
    return fig, tops


def _outcome_key(fig: Figure, top: float, left: float, counts, line_px: float, height_px: float) -> None:
    """The colour key of the template outcomes, one line each with its count."""
    labels = ("picked the name", "another name", "no majority (tie)")
    for i, (label, colour, n) in enumerate(zip(labels, OUTCOME_COLOURS, counts)):
        y = top - (i + 0.5) * line_px / height_px
        fig.text(left, y, "■", color=colour, fontsize=CHAT_FONT_PT + 2, va="center")
        fig.text(left + 0.06, y, f"{label}: {n}" if n != "" else label, fontsize=CHAT_FONT_PT, va="center")


# the chat chart's first word, dark enough to read on white (the matrix's cell fills below are not)
HEADLINE_COLOURS = {Verdict.MEMBER: TRUE_COLOUR, Verdict.MEMBER_UNCHECKED: TRUE_COLOUR, Verdict.INCONCLUSIVE: "#e65100",
                    Verdict.NON_MEMBER: "#546e7a"}


def verdict_headline(result) -> tuple[str, str]:
    """The controlled verdict (``IdiaResult.verdict``) as the chart's first word, and its colour:
    a chart whose cells are all green must still say "Inconclusive" when the controls say so."""
    verdict = Verdict(getattr(result, "verdict", Verdict.MEMBER if result.member else Verdict.NON_MEMBER))
    word = verdict.word
    return word[:1].upper() + word[1:], HEADLINE_COLOURS.get(verdict, REST_COLOUR)


def look_alike_line(result) -> str | None:
    """When the validity controls decide (a rule-member verdict they confirmed or overturned): how
    many of the look-alikes get the name in as many templates as these photos, for the chart beside
    the template count."""
    controls = getattr(result, "controls", None)
    if not result.member or controls is None or not controls.ran:
        return None
    la = controls.look_alikes
    return f"{la.at_least_observed} of {la.m} look-alikes get the name as often"


def chat_figure(result, k: int = 4) -> Figure:
    """The one compact figure a verdict shows in the chat: the verdict after the controls as its
    first word, each template's outcome (picked the name / another name / no majority) as a strip
    of cells with, when the controls decide, how many look-alikes get the name too, and the top
    competitors by mean similarity (axis from 0), the true name always among them. Drawn 360 px
    wide with 10 pt text, so it is readable at 1x in the chat column of a laptop or a phone."""
    picked, other, tied = template_outcomes(result)
    n_t = len(picked)
    top = [(n, s) for n, s in result.top_names(k + 1) if n != result.true_name][:k]
    true_sim = float(np.asarray(result.mean_similarity)[result.true_index])
    rows = sorted(top + [(result.true_name, true_sim)], key=lambda r: -r[1])
    names = [_wrap(n, 16, max_lines=2) for n, _ in rows]
    row_px = [12 + 16 * (n.count("\n") + 1) for n in names]
    word, colour = verdict_headline(result)
    title = f"{int(picked.sum())} of {n_t} templates picked\n" + _wrap(result.true_name, 34, max_lines=3)
    controls = _wrap(look_alike_line(result) or "", 46, max_lines=2)
    title_px = 10 + 22 + 18 * (title.count("\n") + 1) + (17 * (controls.count("\n") + 1) if controls else 0)
    blocks = [title_px, 26, 22, 3 * 19 + 8, 24, sum(row_px), 8]
    fig, tops = _fixed_figure(CHAT_WIDTH_IN * 100, blocks)
    height = sum(blocks)
    fig.text(0.03, tops[0] - 6 / height, word, fontsize=CHAT_FONT_PT + 3, va="top", weight="bold", color=colour)
    fig.text(0.03, tops[0] - 30 / height, title, fontsize=CHAT_FONT_PT + 1, va="top", weight="bold")
    if controls:
        fig.text(0.03, tops[0] - (32 + 18 * (title.count("\n") + 1)) / height, controls, fontsize=CHAT_FONT_PT,
                 va="top", color=colour)
    ax = fig.add_axes((0.03, tops[2], 0.94, 26 / height))
    codes = np.where(picked, 0, np.where(other, 1, 2))
    for t, code in enumerate(codes):
        ax.add_patch(matplotlib.patches.Rectangle((t + 0.06, 0.0), 0.88, 1.0, color=OUTCOME_COLOURS[code]))
    ax.set_xlim(0, n_t)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    _template_number_axis(ax, n_t, pad=2)
    _outcome_key(fig, tops[3] - 4 / height, 0.03, (int(picked.sum()), int(other.sum()), int(tied.sum())),
                 19, height)
    fig.text(0.03, tops[4] - 12 / height, "closest names (mean cosine similarity)", fontsize=CHAT_FONT_PT,
             va="center")
    bx = fig.add_axes((0.40, tops[6], 0.57, sum(row_px) / height))
    centres = height - (blocks[0] + blocks[1] + blocks[2] + blocks[3] + blocks[4]) - (
        np.cumsum(row_px) - np.asarray(row_px) / 2)
    sims = [s for _, s in rows]
    colours = [TRUE_COLOUR if n == result.true_name else REST_COLOUR for n, _ in rows]
    bx.barh(centres, sims, height=np.asarray(row_px) - 8, color=colours)
    bx.set_ylim(blocks[-1], blocks[-1] + sum(row_px))
    bx.set_yticks(centres, names, fontsize=CHAT_FONT_PT)
    for yi, sv in zip(centres, sims):
        bx.text(sv, yi, f" {sv:.2f}" if sv >= 0 else f"{sv:.2f} ", va="center", ha="left" if sv >= 0 else "right",
                fontsize=CHAT_FONT_PT)
    bx.set_xlim(min(0.0, min(sims)) * 1.6, max(max(sims), 1e-6) * 1.28)   # from 0 (below it if negative)
    bx.set_xticks([])
    bx.tick_params(axis="y", length=0, pad=4)
    for side in ("top", "right", "bottom"):
        bx.spines[side].set_visible(False)
    return fig


def votes_figure(result) -> Figure:
    """Per template: how many photos voted for the true name, for the strongest other name, and
    for anyone else; ✓ marks templates whose unique majority is the true name, "tie" those
    without a unique majority. Every template is labelled in full (wrapped, never cut).

    Why: the verdict is a count of templates, so the picture a person needs is one bar per
    template showing whether the true name won that template's vote."""
    pred = np.asarray(result.predictions)                  # [T, P]
    n_t, n_p = pred.shape
    true_idx = int(result.true_index)
    true_votes = (pred == true_idx).sum(axis=1)
    other_votes = np.zeros(n_t, dtype=int)
    for t in range(n_t):
        counts = np.bincount(pred[t], minlength=len(result.candidates))
        counts[true_idx] = -1
        other_votes[t] = max(int(counts[int(np.argmax(counts))]), 0)
    rest = n_p - true_votes - other_votes
    picked, _, tied = template_outcomes(result)

    labels = [("✓ " if ok else "tie · " if tie else "") + _wrap(template_label(tpl), 30)
              for tpl, ok, tie in zip(result.templates, picked, tied)]
    heights = [lab.count("\n") + 1 for lab in labels]
    fig = _new_figure(SIDE_WIDTH_IN, max(3.4, 1.9 + 0.2 * sum(heights) + 0.06 * n_t))   # room for title + key
    ax = fig.add_subplot(1, 1, 1)
    y = -np.cumsum([0] + [(a + b) * 0.3 + 0.5 for a, b in zip(heights[:-1], heights[1:])], dtype=float)
    bar_h = 0.8
    ax.barh(y, true_votes, height=bar_h, color=TRUE_COLOUR, label=_short(result.true_name, 28) + " (true name)")
    ax.barh(y, other_votes, height=bar_h, left=true_votes, color=OTHER_COLOUR, label="strongest other name")
    ax.barh(y, rest, height=bar_h, left=true_votes + other_votes, color=REST_COLOUR, label="other names")
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_ylim(y[-1] - 0.7, y[0] + 0.7)
    ax.set_xlim(0, n_p)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=min(n_p, 6), integer=True))
    ax.set_xlabel(f"photos voting (of {n_p})", fontsize=9)
    ax.tick_params(axis="x", labelsize=9)
    verdict = "member" if result.member else "not a member"
    title = f"{int(picked.sum())}/{n_t} templates pick the true name\n(tau = {int(result.tau)}): {verdict}"
    if not picked.any():
        title += "\n" + _wrap("no template's majority picked " + result.true_name, 44, max_lines=2)
    fig.suptitle(title, fontsize=10, x=0.02, ha="left")
    key = matplotlib.patches.Patch(color="none", label="✓ its majority is the true name;\ntie · no unique majority")
    handles, _ = ax.get_legend_handles_labels()
    fig.legend(handles + [key], [h.get_label() for h in handles + [key]], loc="outside lower right", ncol=1,
               fontsize=9, frameon=False)
    return fig


def top_names_figure(result, k: int = 10) -> Figure:
    """The k names the photos are most similar to on average (over all templates and photos),
    the true name highlighted and added at the bottom when it is not among them. The similarity
    axis starts at 0, so bar lengths compare honestly.

    Why: it shows who the model thinks the person is, and how far the true name is from the top."""
    top = result.top_names(k)
    names = [n for n, _ in top]
    sims = [s for _, s in top]
    if result.true_name not in names:
        names.append(result.true_name)
        sims.append(float(np.asarray(result.mean_similarity)[result.true_index]))
    colours = [TRUE_COLOUR if n == result.true_name else REST_COLOUR for n in names]
    labels = [_wrap(n, 24, max_lines=2) for n in names]
    fig = _new_figure(SIDE_WIDTH_IN, max(2.6, 0.3 * sum(lab.count("\n") + 1 for lab in labels) + 1.3))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(names))[::-1]
    ax.barh(y, sims, color=colours)
    ax.set_yticks(y, labels, fontsize=9)
    for yi, s in zip(y, sims):
        ax.text(s, yi, f" {s:.3f}" if s >= 0 else f"{s:.3f} ", va="center", ha="left" if s >= 0 else "right",
                fontsize=9)
    ax.set_xlim(min(0.0, min(sims)) * 1.35, max(max(sims), 1e-6) * 1.2)
    ax.tick_params(axis="x", labelsize=9)
    # two lines: long names narrow the axes, and constrained layout does not shrink them for a
    # label wider than they are (it would be cut at the figure's right edge)
    ax.set_xlabel("mean cosine similarity\n(photos × templates)", fontsize=9)
    fig.suptitle(f"Names closest to the photos\n(mean over templates and photos; pool of {result.n_candidates})",
                 fontsize=10, x=0.02, ha="left")
    return fig


def compare_figure(rows) -> Figure:
    """Models × templates: each cell is the template's outcome on that model (picked the name /
    another name / no majority). ``rows``: ``[(model label, IdiaResult)]``, at least one. Sized for
    the chat column like ``chat_figure`` (360 px, 10 pt)."""
    n_t = max(len(r.templates) for _, r in rows)
    labels = [_wrap(m, 15, max_lines=3) for m, _ in rows]
    row_px = [max(30, 10 + 16 * (lab.count("\n") + 1)) for lab in labels]
    blocks = [28, 3 * 19 + 8, sum(row_px), 26, 6]
    fig, tops = _fixed_figure(CHAT_WIDTH_IN * 100, blocks)
    height = sum(blocks)
    fig.text(0.03, tops[0] - 6 / height, "Each template's outcome, per model", fontsize=CHAT_FONT_PT + 1,
             va="top", weight="bold")
    ax = fig.add_axes((0.40, tops[3], 0.57, sum(row_px) / height))
    centres = sum(row_px) - (np.cumsum(row_px) - np.asarray(row_px) / 2)
    for centre, h, (_, r) in zip(centres, row_px, rows):
        picked, other, tied = template_outcomes(r)
        for t in range(len(picked)):
            code = 0 if picked[t] else 1 if other[t] else 2
            ax.add_patch(matplotlib.patches.Rectangle((t + 0.05, centre - (h - 6) / 2), 0.9, h - 6,
                                                      color=OUTCOME_COLOURS[code]))
    _outcome_key(fig, tops[1] - 4 / height, 0.03, ("", "", ""), 19, height)
    ax.set_xlim(0, n_t)
    ax.set_ylim(0, sum(row_px))
    ax.set_yticks(centres, labels, fontsize=CHAT_FONT_PT)
    _template_number_axis(ax, n_t, pad=3)
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


# verdicts of an audit's people × models matrix ("invalid": the check refused the input;
# "failed": the model or its worker failed)
VERDICT_COLOURS = {Verdict.MEMBER: TRUE_COLOUR, Verdict.MEMBER_UNCHECKED: "#a5d6a7", Verdict.INCONCLUSIVE: NO_MAJORITY_COLOUR,
                   Verdict.NON_MEMBER: "#eceff1", "invalid": "#ffffff", "failed": OTHER_COLOUR}
VERDICT_LABELS = {**{v: v.word for v in Verdict}, "invalid": "input refused", "failed": "failed"}


def audit_matrix_figure(people, models, cells, note: str = "") -> Figure:
    """People × models: each cell coloured by its verdict (``VERDICT_COLOURS``) and labelled with
    the correct templates (× where no check ran). ``cells``: {(person, model): (verdict, count)}."""
    n_p, n_m = max(1, len(people)), max(1, len(models))
    fig = _new_figure(max(4.6, 2.6 + 1.0 * n_m), max(2.6, 1.6 + 0.24 * n_p))
    ax = fig.add_subplot(1, 1, 1)
    seen = set()
    for i, person in enumerate(people):
        for j, model in enumerate(models):
            verdict, count = cells.get((person, model), ("", None))
            seen.add(verdict)
            y = n_p - 1 - i
            ax.add_patch(matplotlib.patches.Rectangle((j, y), 1, 1, facecolor=VERDICT_COLOURS.get(verdict, "#ffffff"),
                                                      edgecolor="#9e9e9e", lw=0.5))
            ax.text(j + 0.5, y + 0.5, "×" if count is None else str(count), ha="center", va="center", fontsize=8,
                    color="white" if verdict in (Verdict.MEMBER, "failed") else "black")
    ax.set_xlim(0, n_m)
    ax.set_ylim(0, n_p)
    ax.set_xticks(np.arange(len(models)) + 0.5, [_wrap(m, 16, 3) for m in models], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(np.arange(len(people)) + 0.5, [_short(p, 28) for p in reversed(people)], fontsize=8)
    ax.tick_params(length=0)
    handles = [matplotlib.patches.Patch(facecolor=VERDICT_COLOURS[v], edgecolor="#9e9e9e", label=VERDICT_LABELS[v])
               for v in VERDICT_COLOURS if v in seen]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    fig.suptitle("Verdict per person and model (cell: correct templates)" + (f"\n{note}" if note else ""), fontsize=10)
    return fig


def member_rates_figure(models, rule_rates, controlled_rates, counts) -> Figure:
    """Per model: the share of people the paper's rule calls member, and the share that stays
    member with the validity controls. ``counts``: people checked per model."""
    n = len(models)
    fig = _new_figure(6.0, max(2.4, 1.3 + 0.45 * n))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(n)[::-1].astype(float)
    ax.barh(y + 0.2, np.nan_to_num(np.asarray(rule_rates, float)), height=0.38, color=NO_MAJORITY_COLOUR,
            label="member (paper's rule)")
    ax.barh(y - 0.2, np.nan_to_num(np.asarray(controlled_rates, float)), height=0.38, color=TRUE_COLOUR,
            label="member (with controls)")
    ax.set_yticks(y, [f"{_short(m, 30)}\n(n={c})" for m, c in zip(models, counts)], fontsize=8)
    ax.set_xlim(0, 1.0)
    ax.set_xlabel("share of people checked")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Member rate per model", fontsize=10)
    return fig


def figure_to_png(fig: Figure, dpi: int = 100) -> bytes:
    """PNG bytes of a figure (for embedding as base64 in HTML or sending to a chat). The PNG says
    its DPI and its smallest font size (text chunks ``idia-dpi``, ``idia-min-font-pt``), so a page
    that shows it can work out how large its smallest text is on screen."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi,
                metadata={"idia-dpi": str(dpi), "idia-min-font-pt": f"{min_font_pt(fig):g}"})
    return buf.getvalue()


def save_figure(fig: Figure, path, dpi: int = 100) -> Path:
    """Write a PNG atomically (a temporary file renamed into place), so an interrupted run never
    leaves a half-written picture."""
    return atomic_write(path, figure_to_png(fig, dpi))


def _template_number_axis(ax, n_templates: int, pad: float) -> None:
    """Template numbers 1, 5, 10, … (every number up to 10 templates) under cells 0..n-1, no frame."""
    step = 5 if n_templates > 10 else 1
    ticks = [t for t in range(n_templates) if (t + 1) % step == 0 or t == 0]
    ax.set_xticks([t + 0.5 for t in ticks], [str(t + 1) for t in ticks], fontsize=CHAT_FONT_PT)
    ax.tick_params(length=0, pad=pad)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
