"""The data behind the result views beside the chat (native plots and a photo gallery), as plain
tables, so the app only hands them to its components. Everything is read from the ``IdiaResult``."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..result import IdiaResult
from .session import ChatSession

TOP_K = 12


@dataclass(frozen=True)
class ResultViews:
    top_names: pd.DataFrame | None   # name, similarity, kind ("true name" / "other"), order
    votes: pd.DataFrame | None       # template, votes, kind ("picked the name" / "did not")
    gallery: list = field(default_factory=list)   # [(photo path, caption)]
    summary: str = ""


def empty_views() -> ResultViews:
    """No tables at all (None): gradio 6.31's BarPlot stays blank if its first value is an empty
    table and later values arrive, but draws correctly when it starts from None."""
    return ResultViews(top_names=None, votes=None)


def result_views(state: ChatSession) -> ResultViews:
    """Top names by mean similarity (the true name always shown and marked), the true name's votes
    per template (of the photos), and each photo with the names its predictions went to."""
    result: IdiaResult | None = state.last_result
    if result is None:
        return empty_views()
    top = result.top_names(TOP_K)
    if all(n != result.true_name for n, _ in top):
        top = top[: TOP_K - 1] + [(result.true_name, float(result.mean_similarity[result.true_index]))]
    top_df = pd.DataFrame({
        "name": [n for n, _ in top],
        "similarity": [round(s, 4) for _, s in top],
        "kind": ["true name" if n == result.true_name else "other" for n, _ in top],
    })
    labels = [f"{i + 1:02d} {t.replace('{0}', '…')}" for i, t in enumerate(result.templates)]
    votes_df = pd.DataFrame({
        "template": labels,
        "votes": [int(result.votes(i).get(result.true_name, 0)) for i in range(result.n_templates)],
        "kind": ["picked the name" if ok else "did not" for ok in result.template_correct],
    })
    by_hash = {p.sha256: p.path for p in state.photos}
    gallery = []
    for i, sha in enumerate(result.photo_hashes):
        path = by_hash.get(sha)
        if path is None:
            continue
        names = ", ".join(f"{n} ({c})" for n, c in result.photo_top_names(i, 3))
        gallery.append((path, f"{result.photo_labels[i]}: {names}"))
    verdict = result.verdict_word
    summary = (f"**{result.true_name}** on `{result.model_spec}`: {verdict} — {result.correct_templates} of "
               f"{result.n_templates} templates (tau {result.tau}), {result.n_photos} photos, "
               f"{result.n_candidates} names")
    return ResultViews(top_df, votes_df, gallery, summary)
