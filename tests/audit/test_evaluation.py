"""Evaluation: every metric on hand-computed cases, the fast draw path against the rule in
``attack``, the pandas reference of the bench, and the pipeline end to end on a real (tiny) model."""
from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from idia_core.attack import rule as attack
from idia_core import stats
from idia_core.audit import datasets, metrics
from idia_core.audit import evaluation as ev
from idia_core.errors import IdiaInputError
from tests.eval_helpers import write_dataset

ROOT = Path(__file__).resolve().parents[2]


# ---- confusion counts and rates ------------------------------------------------------------------

def test_all_correct():
    conf = metrics.confusion_counts([True, True, False, False], [True, True, False, False])
    assert (conf.tp, conf.fn, conf.fp, conf.tn) == (2, 0, 0, 2)
    r = metrics.rates(conf)
    assert (r["tpr"], r["fnr"], r["fpr"], r["tnr"], r["accuracy"], r["balanced_accuracy"]) == (1, 0, 0, 1, 1, 1)


def test_all_wrong():
    conf = metrics.confusion_counts([False, False, True, True], [True, True, False, False])
    assert (conf.tp, conf.fn, conf.fp, conf.tn) == (0, 2, 2, 0)
    r = metrics.rates(conf)
    assert (r["tpr"], r["fnr"], r["fpr"], r["tnr"], r["accuracy"], r["balanced_accuracy"]) == (0, 1, 1, 0, 0, 0)


def test_mixed_case_by_hand():
    # 3 members: 2 called; 2 non-members: 1 called
    conf = metrics.confusion_counts([1, 1, 0, 1, 0], [1, 1, 1, 0, 0])
    r = metrics.rates(conf)
    assert (conf.tp, conf.fn, conf.fp, conf.tn) == (2, 1, 1, 1)
    assert r["tpr"] == pytest.approx(2 / 3) and r["fpr"] == 0.5 and r["accuracy"] == 0.6
    assert r["balanced_accuracy"] == pytest.approx((2 / 3 + 0.5) / 2)


def test_single_non_member_and_empty_class():
    conf = metrics.confusion_counts([True], [False])
    r = metrics.rates(conf)
    assert (conf.fp, conf.tn) == (1, 0)
    assert r["fpr"] == 1.0 and r["tnr"] == 0.0 and r["accuracy"] == 0.0
    assert math.isnan(r["tpr"]) and math.isnan(r["fnr"]) and math.isnan(r["balanced_accuracy"])


def test_valid_mask_and_batch_axes():
    pred = np.array([[1, 0, 1, 1], [0, 0, 0, 1]], bool)       # two draws
    conf = metrics.confusion_counts(pred, [1, 1, 0, 0], valid=[1, 1, 1, 0])
    assert conf.tp.tolist() == [1, 0] and conf.fn.tolist() == [1, 2]
    assert conf.fp.tolist() == [1, 0] and conf.tn.tolist() == [0, 1]


def test_ties_count_for_nobody():
    # template 0: the true name (7) wins 2-1-1; template 1: 7 and 3 tie 2-2 → no majority; template 2: 3 wins
    pred = np.array([[7, 7, 3, 5], [7, 3, 7, 3], [3, 3, 3, 7]])
    majority = attack.majority_votes(pred)
    assert majority.tolist() == [7, -1, 3]
    correct = attack.correct_templates(majority, 7)
    assert int(correct) == 1
    counts = np.stack([(pred == c).sum(axis=1) for c in (7, 3, 5)], axis=-1)   # [T, 3]; 7 is index 0
    assert attack.wins_majority(counts, 0).tolist() == [True, False, False]
    m = metrics.per_draw_metrics(np.array([[correct, 0]]), [True, False], tau=1)
    assert m["tp"].tolist() == [1] and m["fp"].tolist() == [0]
    m = metrics.per_draw_metrics(np.array([[correct, 0]]), [True, False], tau=2)
    assert m["tp"].tolist() == [0]


def test_mean_sd():
    m, s = metrics.mean_sd(np.array([[0.5, 0.7, 0.9], [1.0, 1.0, 1.0]]))
    assert m.tolist() == pytest.approx([0.7, 1.0]) and s.tolist() == pytest.approx([0.2, 0.0])
    m, s = metrics.mean_sd(np.array([0.4]))
    assert float(m) == 0.4 and float(s) == 0.0
    m, s = metrics.mean_sd(np.array([np.nan, np.nan]))
    assert math.isnan(float(m)) and math.isnan(float(s))


# ---- Wilson ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("k,n,lo,hi", [
    (0, 10, 0.0, 0.2775),       # z²/(n+z²)
    (1, 10, 0.0179, 0.4042),
    (5, 10, 0.2366, 0.7634),
    (10, 10, 0.7225, 1.0),
    (81, 263, 0.2553, 0.3662),  # Wilson (1927) style worked example
    (0, 100, 0.0, 0.0370),
])
def test_wilson_known_values(k, n, lo, hi):
    a, b = stats.wilson_interval(k, n)
    assert float(a) == pytest.approx(lo, abs=1e-4) and float(b) == pytest.approx(hi, abs=1e-4)


def test_wilson_empty_and_vectorised():
    a, b = stats.wilson_interval(np.array([0, 3]), np.array([0, 6]))
    assert math.isnan(a[0]) and math.isnan(b[0])
    assert a[1] < 0.5 < b[1] and a[1] == pytest.approx(1 - b[1])


# ---- tau sweep, ROC, AUC --------------------------------------------------------------------------

def test_tau_sweep_by_hand_and_monotone():
    correct = np.array([0, 2, 5, 1, 0, 3])
    labels = np.array([1, 1, 1, 0, 0, 0], bool)
    sw = metrics.tau_sweep(correct, labels, n_templates=5)
    assert sw["tau"].tolist() == [0, 1, 2, 3, 4, 5]
    assert sw["tpr"].tolist() == pytest.approx([1, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3])
    assert sw["fpr"].tolist() == pytest.approx([1, 2 / 3, 1 / 3, 1 / 3, 0, 0])
    rng = np.random.default_rng(0)
    for _ in range(20):
        c = rng.integers(0, 22, (4, 50))
        lab = rng.random(50) < 0.5
        s = metrics.tau_sweep(c, lab, 21)
        assert s["tpr"].shape == (22, 4)
        assert np.all(np.diff(s["tpr"], axis=0) <= 0) and np.all(np.diff(s["fpr"], axis=0) <= 0)
        assert np.all(s["tpr"][0] == 1) and np.all(s["fpr"][0] == 1)


def test_roc_and_auc_by_hand():
    fpr, tpr, thr = metrics.roc_curve([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 0])
    assert fpr.tolist() == [0, 0, 0, 0.5, 1] and tpr.tolist() == [0, 0.5, 1, 1, 1]
    assert metrics.roc_auc([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 0]) == 1.0
    assert metrics.roc_auc([0.1, 0.2, 0.7, 0.6], [1, 1, 0, 0]) == 0.0
    assert metrics.roc_auc([0.5, 0.5, 0.5, 0.5], [1, 1, 0, 0]) == 0.5
    assert metrics.roc_auc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]) == 0.875       # one tied pair counts 1/2
    fpr, tpr, _ = metrics.roc_curve([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0])      # a tie moves both in one step
    assert list(zip(fpr, tpr)) == [(0, 0), (0, 0.5), (0.5, 1), (1, 1)]
    assert math.isnan(metrics.roc_auc([1, 2], [1, 1]))


def test_auc_matches_trapezoid_of_roc():
    rng = np.random.default_rng(1)
    s = rng.integers(0, 6, 200).astype(float)          # many ties
    lab = rng.random(200) < 0.4
    fpr, tpr, _ = metrics.roc_curve(s, lab)
    assert metrics.roc_auc(s, lab) == pytest.approx(np.trapz(tpr, fpr) if hasattr(np, "trapz") else np.trapezoid(tpr, fpr))


def test_tpr_at_low_fpr():
    fpr = np.array([0, 0, 0.01, 0.2, 1])
    tpr = np.array([0, 0.4, 0.5, 0.9, 1])
    assert metrics.tpr_at_fpr(fpr, tpr, 0.0) == 0.4
    assert metrics.tpr_at_fpr(fpr, tpr, 0.01) == 0.5
    assert metrics.tpr_at_fpr(fpr, tpr, 0.1) == 0.5
    s = metrics.roc_summary(np.array([[3.2, 2.1, 0.5, 1.0, 0.0]]), [1, 1, 1, 0, 0])
    assert s["auc_mean"] == pytest.approx(5 / 6) and s["tpr_at_0_fpr_mean"] == pytest.approx(2 / 3)
    assert s["n_non_members"] == 2 and s["smallest_nonzero_fpr"] == 0.5 and "note_1pct" in s


def test_occurrence_bins_and_table():
    idx, names = metrics.occurrence_bins([1, 3, 10, 3, np.nan])
    assert names == ["1", "3", "10"] and idx.tolist() == [0, 1, 2, 1, -1]
    idx, names = metrics.occurrence_bins(list(range(0, 300, 7)))
    assert names[0] == "[0,25)" and idx[4] == 1                       # 28 → [25,50)
    rows = metrics.occurrence_table(np.array([[0, 1, 2, 3, 1]]), [1, 1, 1, 1, 0], [1, 1, 10, 10, 0], tau=1)
    assert [(r["bin"], r["n"], r["tpr"]) for r in rows] == [("1", 2, 0.5), ("10", 2, 1.0)]


def test_calibration_p_value():
    null = [0, 0, 0, 1, 2]
    assert metrics.calibration_p_value(0, null) == 1.0
    assert metrics.calibration_p_value(2, null) == pytest.approx(2 / 6)
    assert metrics.calibration_p_value(5, null) == pytest.approx(1 / 6)


def test_group_rates():
    rows = metrics.group_rates(np.array([[1, 0, 0, 2], [0, 0, 1, 2]]), [0, 0, 0, 1], ["nm", "nm", "ctrl", "m"], tau=1)
    by = {r["group"]: r for r in rows}
    assert by["nm"]["called_member_mean"] == 0.25 and by["ctrl"]["called_member_mean"] == 0.5
    assert by["m"]["called_member_mean"] == 1.0 and by["m"]["members"] == 1


# ---- draws ----------------------------------------------------------------------------------------

def test_draw_indices_distinct_within_available_reproducible():
    n_av = np.array([5, 3, 8])
    idx, valid = metrics.draw_photo_indices(n_av, 3, 50, np.random.default_rng(0))
    assert idx.shape == (50, 3, 3) and valid.tolist() == [True, True, True]
    for i, n in enumerate(n_av):
        assert np.all(idx[:, i] < n)
        assert all(len(set(row)) == 3 for row in idx[:, i].tolist())
    assert len({tuple(r) for r in idx[:, 2].tolist()}) > 10            # draws differ
    again, _ = metrics.draw_photo_indices(n_av, 3, 50, np.random.default_rng(0))
    assert np.array_equal(idx, again)
    _, valid = metrics.draw_photo_indices(n_av, 4, 2, np.random.default_rng(0))
    assert valid.tolist() == [True, False, True]


def test_fast_draw_path_equals_the_rule():
    """The count-based path must give exactly attack.majority_votes + correct_templates, ties included."""
    rng = np.random.default_rng(3)
    n, t, p = 40, 7, 12
    true_index = rng.integers(0, 50, n)
    pool = np.stack([true_index, rng.integers(0, 50, n), rng.integers(0, 50, n)], axis=1)   # 3 names → many ties
    pred = np.take_along_axis(pool[:, None, None, :].repeat(t, 1).repeat(p, 2),
                              rng.integers(0, 3, (n, t, p))[..., None], axis=-1)[..., 0]
    table = metrics.vote_table(pred, true_index)
    for size in (1, 2, 3, 4, 6, 12):
        idx, _ = metrics.draw_photo_indices(np.full(n, p), size, 9, np.random.default_rng(size))
        fast = metrics.correct_for_draws(table, idx, chunk_elems=2000)      # small chunks: exercise the chunking
        ref = metrics.correct_for_draws_reference(pred, true_index, idx)
        assert np.array_equal(fast, ref), size


def test_fast_path_true_name_never_predicted_and_padding():
    pred = np.array([[[4, 4, 5, -2]], [[1, 1, 1, 1]]])     # person 0 has 3 photos, true name 9 never voted
    table = metrics.vote_table(pred, np.array([9, 1]), n_available=np.array([3, 4]))
    idx, valid = metrics.draw_photo_indices(np.array([3, 4]), 3, 5, np.random.default_rng(0))
    assert metrics.correct_for_draws(table, idx).tolist() == [[0, 1]] * 5


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_evaluation", ROOT / "bench" / "evaluation.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_metrics_equal_pandas_reference():
    bench = _bench_module()
    pred, true_index, labels = bench.synthetic_predictions(30, n_templates=5, n_photos=9, n_candidates=60, seed=2)
    idx = bench.draw_all(30, 9, (1, 2, 5, 9), draws=4)
    vec = bench.vectorised_metrics(pred, true_index, labels, idx)
    ref = bench.pandas_metrics(bench.long_table(pred, idx), true_index, labels, draws=4)
    same, worst = bench.compare(vec, ref)
    assert same, worst


# ---- the pipeline on a real tiny model --------------------------------------------------------------

PEOPLE = {"Anna Berg": 6, "Carl Dorn": 6, "Eva Fink": 5, "Gus Hale": 6, "Ida Jung": 4, "Kai Lorenz": 6}
LABELS = {"Anna Berg": (1, 3), "Carl Dorn": (1, 30), "Eva Fink": (1, 60), "Gus Hale": (0, 0),
          "Ida Jung": (0, 0), "Kai Lorenz": (0, 0)}


@pytest.fixture
def folder_dataset(tmp_path):
    return write_dataset(tmp_path, PEOPLE, LABELS)


def test_evaluate_folder_dataset_writes_every_output(tiny_model_dir, folder_dataset, tmp_path):
    from idia_core.cli.audit import main

    data, labels = folder_dataset
    out = tmp_path / "out"
    rc = main(["evaluate", "--model", f"local-dir:{tiny_model_dir}", "--dataset", str(data), "--labels", str(labels),
               "--photos", "1,3,5", "--draws", "5", "--candidates", "40", "--out", str(out), "--no-progress"])
    assert rc == 0
    for name in ("predictions.csv", "metrics.json", "metrics_by_photos.csv", "metrics_vs_photos.png", "roc.png",
                 "tpr_by_occurrence.png", "report.html", "people.csv", "dataset_hashes.csv", "roc.csv"):
        assert (out / name).is_file(), name
    for png in out.glob("*.png"):
        with Image.open(png) as im:
            assert im.format == "PNG" and im.size[0] > 200
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["complete"] is True
    assert metrics["model"]["fingerprint"] and metrics["dataset"]["photos"] == sum(PEOPLE.values())
    assert [r["n_photos"] for r in metrics["by_photos"]] == [1, 3, 5]
    five = metrics["by_photos"][-1]
    assert five["n_non_members"] == 2                                  # Ida Jung has only 4 photos
    with open(out / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == sum(PEOPLE.values()) * 21
    assert set(rows[0]) >= {"person", "photo", "template", "predicted", "true_name_rank", "predicted_similarity"}
    html = (out / "report.html").read_text()
    for needle in ("IDIA evaluation report", metrics["model"]["fingerprint"], "numpy", "labels.csv",
                   "data:image/png;base64", "seed"):
        assert needle in html
    with open(out / "metrics_by_photos.csv", newline="") as f:
        by = list(csv.DictReader(f))
    assert by[0]["tpr_mean"] and float(by[0]["tpr_low"]) <= float(by[0]["tpr_mean"]) <= float(by[0]["tpr_high"])


def test_evaluate_same_numbers_twice(tiny_model, folder_dataset, tmp_path):
    data, labels = folder_dataset
    ds = datasets.load_folder_dataset(data, labels)
    cfg = ev.EvaluationConfig(model=tiny_model.spec, dataset=str(data), sizes=(1, 3), draws=3, n_candidates=30)
    a = ev.run_evaluation(cfg, ds, tmp_path / "a", model=tiny_model)
    b = ev.run_evaluation(cfg, ds, tmp_path / "b", model=tiny_model)
    assert a.metrics["by_photos"] == b.metrics["by_photos"]
    assert (tmp_path / "a" / "predictions.csv").read_bytes() == (tmp_path / "b" / "predictions.csv").read_bytes()


def test_ctrl_c_leaves_finished_outputs_readable(tiny_model, folder_dataset, tmp_path):
    data, labels = folder_dataset
    ds = datasets.load_folder_dataset(data, labels)
    cfg = ev.EvaluationConfig(model=tiny_model.spec, dataset=str(data), sizes=(1, 3, 5), draws=3, n_candidates=30)

    def progress(done, total, message):
        if message == ev.STAGES["draws"] and done == 2:
            raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        ev.run_evaluation(cfg, ds, out, model=tiny_model, progress=progress)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["complete"] is False and metrics["interrupted"] is True
    assert [r["n_photos"] for r in metrics["by_photos"]] == [1, 3]
    assert "predictions" in metrics["stages_done"]
    assert (out / "predictions.csv").is_file() and not list(out.glob("*.tmp"))
    assert "did not finish" in (out / "report.html").read_text()
    with open(out / "metrics_by_photos.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 2


def test_bad_inputs(tmp_path, folder_dataset, tiny_model):
    from idia_core.cli.audit import main

    data, labels = folder_dataset
    with pytest.raises(IdiaInputError):
        datasets.load_folder_dataset(tmp_path / "nope", labels)
    with pytest.raises(IdiaInputError):
        datasets.load_folder_dataset(data, tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,member\nAnna Berg,maybe\n")
    with pytest.raises(IdiaInputError, match="member must be"):
        datasets.load_folder_dataset(data, bad)
    ds = datasets.load_folder_dataset(data, labels)
    with pytest.raises(IdiaInputError, match="raise --candidates"):
        ev.run_evaluation(ev.EvaluationConfig(model=tiny_model.spec, sizes=(1,), draws=1, n_candidates=3),
                          ds, tmp_path / "o", model=tiny_model)
    assert main(["evaluate", "--dataset", str(data), "--labels", str(labels), "--photos", "0,x",
                 "--out", str(tmp_path / "o2")]) == 2


def test_names_csv_maps_folders(tmp_path, tiny_model):
    data, labels = write_dataset(tmp_path, {"p1": 3, "p2": 3}, {"Jo Ann": (1, 5), "Li Wei": (0, 0)})
    (data / "names.csv").write_text("folder,name\np1,Jo Ann\np2,Li Wei\n")
    ds = datasets.load_folder_dataset(data, labels)
    assert [(p.name, p.member) for p in ds.people] == [("Jo Ann", True), ("Li Wei", False)]
    assert "names.csv" in ds.source_hashes


# ---- the sandbox --------------------------------------------------------------------------------------

SANDBOX = Path(os.environ.get("IDIA_TEST_SANDBOX_DIR") or ROOT / "idia_core" / "sandbox" / "model")


@pytest.mark.skipif(not (SANDBOX / "open_clip_config.json").is_file() or not (SANDBOX / "world.json").is_file(),
                    reason="the sandbox model is not built in this checkout")
def test_evaluate_sandbox_tpr_rises_with_occurrences(tmp_path):
    from idia_core.cli.audit import main

    out = tmp_path / "sb"
    where = ["--model", f"local-dir:{SANDBOX}", "--world", str(SANDBOX / "world.json")] \
        if os.environ.get("IDIA_TEST_SANDBOX_DIR") else []
    rc = main(["evaluate", "--dataset", "sandbox", *where, "--draws", "5", "--photos", "1,3,5", "--sandbox-photos", "6",
               "--max-people", "70", "--candidates", "150", "--out", str(out), "--no-progress"])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    occ = metrics["headline"]["tpr_by_occurrence"]
    assert len(occ) >= 3 and (out / "tpr_by_occurrence.png").is_file()
    low, high = occ[0]["tpr"], max(o["tpr"] for o in occ[-2:])
    assert high > low, occ
    groups = {g["group"] for g in metrics["headline"]["by_group"]}
    assert {"member", "non-member"} <= groups
    assert "controls" in " ".join(metrics["dataset"]["notes"]) or "face-only" in " ".join(metrics["dataset"]["notes"])


def test_sandbox_dataset_from_a_generated_world(tmp_path, tiny_model):
    """The sandbox path (manifest labels, fresh attack renders, roles as groups) on a small world;
    the trained sandbox model is not needed for the plumbing."""
    from idia_core.sandbox.world import generate_world

    world = generate_world(5, n_members_per_k=2, member_ks=(1, 50), n_non_members=3, n_face_only=1,
                           n_name_only=1, n_fillers=0, n_trap_signatures=1, n_look_alikes_per_signature=1)
    path = tmp_path / "world.json"
    world.save(path)
    ds = datasets.load_sandbox_dataset(4, seed=1, world_path=path)
    roles = {p.group for p in ds.people}
    assert roles == {"member", "non-member", "face-only", "name-only", "trap", "look-alike"}
    assert all(p.member == (p.group == "member") for p in ds.people)
    assert sorted(p.occurrences for p in ds.people if p.member) == [1, 1, 50, 50]
    assert all(p.occurrences == 0 for p in ds.people if not p.member)
    assert any("face-only" in n for n in ds.notes)
    out = ev.run_evaluation(ev.EvaluationConfig(model=tiny_model.spec, sizes=(1, 3), draws=2, n_candidates=30),
                            ds, tmp_path / "out", model=tiny_model)
    assert out.complete and {g["group"] for g in out.metrics["headline"]["by_group"]} == roles
    assert [o["bin"] for o in out.metrics["headline"]["tpr_by_occurrence"]] == ["1", "50"]
    # validity controls with the dataset's non-members as reference people: they only take calls away
    ctl = out.metrics["controls"]
    before = {r["group"]: r["called_member_mean"] for r in ctl["by_group_without"]}
    assert ctl["ran"] == len(ds.people) and {r["group"] for r in ctl["by_group_with"]} == roles
    assert all(r["called_member_mean"] <= before[r["group"]] for r in ctl["by_group_with"])
    assert "Validity controls" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    sub = datasets.load_sandbox_dataset(4, seed=1, world_path=path, max_people=4)
    assert 7 <= len(sub.people) <= 9 and {p.group for p in sub.people} == roles


def test_evaluation_pool_is_namesake_free_in_mixed_mode_and_the_papers_in_paper_mode():
    from idia_core.audit.evaluation import build_pool
    from idia_core.text.names import name_parts
    from idia_core.text.paper import paper_first_names, paper_surnames

    people = ["Ann Lee", "Bo Li", "Dana Tichá"]
    names, idx = build_pool(people, 300, seed=0, mode="mixed")
    parts = set().union(*(name_parts(p) for p in people))
    assert len(names) == 300 and [names[i] for i in idx] == people
    assert not [n for n in names[3:] if name_parts(n) & parts]
    names, _ = build_pool(people, 300, seed=0, mode="paper")
    firsts = set(paper_first_names()[0]) | set(paper_first_names()[1])
    assert all(n.split(" ", 1)[0] in firsts and n.split(" ", 1)[1] in set(paper_surnames()) for n in names[3:])
