"""Charts: every figure builds from real inputs and renders to a PNG."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from idia_core.audit import charts
from idia_core import run_idia

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result(tiny_model, tmp_path_factory):
    from tests.helpers import draw_face_photos

    folder = tmp_path_factory.mktemp("chart-photos")
    paths = []
    for i, im in enumerate(draw_face_photos(4, seed=9)):
        paths.append(folder / f"p{i}.png")
        im.save(paths[-1])
    return run_idia(tiny_model, paths, "Jane Doe", n_candidates=15)


def test_votes_figure(result):
    fig = charts.votes_figure(result)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == result.n_templates
    # each template's three bar segments add up to the number of photos
    widths = np.array([p.get_width() for p in ax.patches]).reshape(3, result.n_templates)
    assert np.allclose(widths.sum(axis=0), result.n_photos)
    assert f"{result.correct_templates}/{result.n_templates}" in fig._suptitle.get_text()
    assert charts.figure_to_png(fig).startswith(PNG)


def test_top_names_figure_includes_true_name(result):
    fig = charts.top_names_figure(result, k=3)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "Jane Doe" in labels and 3 <= len(labels) <= 4
    assert charts.figure_to_png(fig).startswith(PNG)


def test_evaluation_figures(tmp_path):
    df = pd.DataFrame({"n_photos": [1, 3, 5], **{f"{m}_{s}": [0.1, 0.5, 0.9] if s == "mean" else [0.05, 0.1, np.nan]
                                                  for m in ("tpr", "fpr", "accuracy") for s in ("mean", "sd")}})
    figs = [charts.metrics_vs_photos_figure(df),
            charts.roc_figure([0, 0, 0.5, 1], [0, 0.5, 1, 1], auc=0.875, n_negatives=2),
            charts.roc_figure([0, 1], [0, 1]),
            charts.tpr_by_occurrence_figure(pd.DataFrame({"bin": ["1", "10"], "tpr": [0.2, np.nan], "tpr_low": [0.1, np.nan],
                                                          "tpr_high": [0.4, np.nan], "n": [5, 0]}))]
    for i, fig in enumerate(figs):
        path = charts.save_figure(fig, tmp_path / f"f{i}.png")
        assert path.read_bytes().startswith(PNG)
        assert not list(tmp_path.glob("*.tmp"))
    assert figs[1].axes[0].get_xscale() == "log" and figs[1].axes[0].get_yscale() == "log"


# -- made for their size (issue 11) ------------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox_results(tmp_path_factory):
    """A real member and a real non-member verdict on the shipped sandbox model (small pool)."""
    from idia_core.sandbox.world import load_world, render_attack_photos

    world = load_world()
    folder = tmp_path_factory.mktemp("sandbox-chart-photos")
    out = {}

    def check(role, person):
        paths = []
        for i, im in enumerate(render_attack_photos(person, 4, seed=3)):
            paths.append(folder / f"{role}{person.index}-{i}.png")
            im.save(paths[-1])
        return run_idia("sandbox", paths, person.name, n_candidates=60)

    out["member"] = check("member", world.person("Émile Loiseau"))
    # a non-member that no template picks (with a small pool a look-alike name can win a template)
    out["non-member"] = next(r for r in (check("non", p) for p in world.people_with_role("non-member")[:12])
                             if r.correct_templates == 0)
    assert out["member"].member
    return out


def _inside(fig):
    """Everything drawn (labels, titles, legends) lies inside the figure: nothing is cut at an edge."""
    fig.canvas.draw()
    tight = fig.get_tightbbox(fig.canvas.get_renderer())     # inches, drawn artists only
    w, h = fig.get_size_inches()
    assert tight.x0 >= -0.01 and tight.y0 >= -0.01 and tight.x1 <= w + 0.01 and tight.y1 <= h + 0.01, (tight, w, h)


def test_non_member_votes_plot_has_meaningful_ticks(sandbox_results):
    r = sandbox_results["non-member"]
    fig = charts.votes_figure(r)
    fig.canvas.draw()
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    # whole photo counts from 0 to the number of photos, never a lone "0.000000"
    assert ticks[0] == "0" and ticks[-1] == str(r.n_photos) and len(ticks) >= 3
    assert all(t.isdigit() for t in ticks), ticks
    assert "no template's majority picked" in fig._suptitle.get_text().replace("\n", " ")
    assert r.true_name in fig._suptitle.get_text().replace("\n", " ")


@pytest.mark.parametrize("role", ["member", "non-member"])
def test_labels_are_whole_and_inside_the_figure(sandbox_results, role):
    r = sandbox_results[role]
    votes = charts.votes_figure(r)
    votes.canvas.draw()
    labels = [t.get_text() for t in votes.axes[0].get_yticklabels()]
    shown = [lab.replace("\n", " ").removeprefix("✓ ").removeprefix("tie · ") for lab in labels]
    assert shown == [charts.template_label(t) for t in r.templates]    # every template in full, none cut
    assert not any("…" in lab for lab in labels)
    _inside(votes)

    top = charts.top_names_figure(r)
    top.canvas.draw()
    names = [t.get_text().replace("\n", " ") for t in top.axes[0].get_yticklabels()]
    assert r.true_name in names and all("…" not in n for n in names)
    assert top.axes[0].get_xlim()[0] <= 0      # an honest similarity axis: bars start at 0
    _inside(top)


@pytest.mark.parametrize("long_name", ["María del Carmen Serrato", "Karl-Heinrich Mende-Wolfsberger",
                                       "Guilherme Barbosa de Albuquerque Cavalcanti"])
def test_top_names_fit_with_long_names(sandbox_results, long_name):
    """Long names widen the name column and narrow the bars; the axis label under them must still
    be whole (a new user saw "(photos × templates" cut at the right edge)."""
    from dataclasses import replace

    r = sandbox_results["non-member"]
    names = list(r.candidates)
    for rank, i in enumerate(np.argsort(-np.asarray(r.mean_similarity))[:10]):
        if i != r.true_index:
            names[i] = f"{long_name} {rank}"
    top = charts.top_names_figure(replace(r, candidates=tuple(names)))
    top.canvas.draw()
    label = top.axes[0].get_xlabel()
    assert "(photos × templates)" in label.replace("\n", " "), label
    _inside(top)


def _contrast_on_white(colour) -> float:
    """WCAG 2 contrast ratio of a text colour against the figure's white (3:1: large or bold text)."""
    from matplotlib.colors import to_rgb

    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(colour)]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return 1.05 / (luminance + 0.05)


@pytest.mark.parametrize("role", ["member", "non-member"])
def test_chat_figure_is_sized_for_the_chat_column(sandbox_results, role, tmp_path):
    from PIL import Image

    r = sandbox_results[role]
    fig = charts.chat_figure(r)
    fig.canvas.draw()
    width_px = fig.get_size_inches()[0] * fig.dpi
    assert width_px <= 400
    assert charts.min_font_pt(fig) * fig.dpi / 72 * 300 / width_px >= 11   # >= 11 px even 300 px wide
    _inside(fig)
    texts = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
    picked, other, tied = charts.template_outcomes(r)
    assert f"picked the name: {int(picked.sum())}" in texts and f"another name: {int(other.sum())}" in texts
    assert f"no majority (tie): {int(tied.sum())}" in texts
    bars = fig.axes[1]
    assert bars.get_xlim()[0] == 0 and r.true_name in [t.get_text().replace("\n", " ") for t in bars.get_yticklabels()]
    # the PNG carries what a page needs to work out its text size
    png = Image.open(charts.save_figure(fig, tmp_path / "chat.png"))
    assert png.info["idia-dpi"] == "100" and float(png.info["idia-min-font-pt"]) == charts.min_font_pt(fig)
    # the verdict after the controls comes first (issue 21: an all-green strip under "Inconclusive")
    first = max(fig.texts, key=lambda t: t.get_position()[1])
    assert first.get_text().lower() == r.verdict_word.lower(), (first.get_text(), r.verdict)
    assert _contrast_on_white(first.get_color()) >= 3, (r.verdict, first.get_color())   # readable


def test_chat_figure_says_inconclusive_and_counts_look_alikes_for_a_caught_trap(sandbox_results):
    """A trap the controls catch: every template picks the name, and the figure still leads with
    "Inconclusive" and says how many look-alikes get the name as often."""
    from idia_core import run_idia
    from idia_core.sandbox.world import load_world, render_attack_photos

    world = load_world()
    trap = world.people_with_role("trap")[0]
    r = run_idia("sandbox", render_attack_photos(trap, 10, seed=0), trap.name, n_candidates=300)
    assert r.verdict == "inconclusive" and r.member
    fig = charts.chat_figure(r)
    texts = [t.get_text() for t in fig.texts]
    la = r.controls.look_alikes
    assert texts[0] == "Inconclusive"
    words = [t for t in fig.texts if t.get_text() != "■"]     # the key's swatches are colours, not words
    assert all(_contrast_on_white(t.get_color()) >= 3 for t in words), [(t.get_text(), t.get_color()) for t in words]
    assert any(f"{la.at_least_observed} of {la.m} look-alikes get the name as often" in t.replace("\n", " ")
               for t in texts), texts
    fig.canvas.draw()
    _inside(fig)
    member = sandbox_results["member"]
    if member.verdict == "member":
        assert any("look-alikes get the name as often" in t for t in (x.get_text() for x in charts.chat_figure(member).texts))
    assert charts.look_alike_line(sandbox_results["non-member"]) is None   # the rule decided: no controls line


def test_compare_figure_one_row_per_model(sandbox_results):
    rows = [("sandbox", sandbox_results["member"]), ("another model", sandbox_results["non-member"])]
    fig = charts.compare_figure(rows)
    fig.canvas.draw()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["sandbox", "another model"]
    assert len(ax.patches) == sum(len(r.templates) for _, r in rows)
    _inside(fig)
