"""Charts: every figure builds from real inputs and renders to a PNG."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from idia_core import charts, run_idia

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
    assert f"{result.correct_templates}/{result.n_templates}" in ax.get_title()
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
