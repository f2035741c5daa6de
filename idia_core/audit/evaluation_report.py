"""The evaluation's ``report.html``: the config, the dataset's identity, the headline metrics,
the figures and the tables of ``metrics.json``, readable without any tool; a run that did not
finish says so at the top."""
from __future__ import annotations

import json
from pathlib import Path

from ..files import atomic_write
from .evidence import build_rows
from .html import escape, html_table, img_tag, kv_table, page


def write_evaluation_report(out_dir, state: dict, files: dict | None = None) -> Path:
    """``report.html`` for an evaluation: config, seed, versions, model spec and fingerprint,
    dataset hashes, the metrics tables and the PNG plots embedded. Works on a partial state
    (an interrupted run) and says so."""
    out = Path(out_dir)
    cfg = state.get("config", {})
    model = state.get("model", {})
    ds = state.get("dataset", {})
    parts = ["<h1>IDIA evaluation report</h1>"]
    if not state.get("complete"):
        parts.append("<div class='verdict nonmember'>This run did not finish (interrupted or still running); "
                     f"stages finished: {escape(', '.join(state.get('stages_done', [])) or 'none')}.</div>")
    head = state.get("headline")
    if head:
        row = head["row"]
        roc = head["roc"]
        parts.append("<h2>Summary</h2>")
        parts.append(kv_table([
            ("photos per person", head["n_photos"]),
            ("TPR (mean ± sd over draws)", f"{_f(row['tpr_mean'])} ± {_f(row['tpr_sd'])}  (Wilson 95%: {_f(row['tpr_low'])}–{_f(row['tpr_high'])}, {row['n_members']} members)"),
            ("FPR (mean ± sd over draws)", f"{_f(row['fpr_mean'])} ± {_f(row['fpr_sd'])}  (Wilson 95%: {_f(row['fpr_low'])}–{_f(row['fpr_high'])}, {row['n_non_members']} non-members)"),
            ("accuracy / balanced accuracy", f"{_f(row['accuracy_mean'])} / {_f(row['balanced_accuracy_mean'])}"),
            ("AUC (continuous score)", f"{_f(roc['auc_mean'])} ± {_f(roc['auc_sd'])}"),
            ("TPR at 0% FPR", f"{_f(roc['tpr_at_0_fpr_mean'])} ± {_f(roc['tpr_at_0_fpr_sd'])}"),
            ("TPR at 1% FPR", f"{_f(roc['tpr_at_1pct_fpr_mean'])} ± {_f(roc['tpr_at_1pct_fpr_sd'])}"),
            ("resting on", f"{roc['n_non_members']} non-members: the smallest non-zero FPR is "
                           f"{_f(roc['smallest_nonzero_fpr'], 4)}" + (f" — {roc['note_1pct']}" if roc.get("note_1pct") else "")),
        ]))
    for name, alt in (("metrics_vs_photos.png", "metrics vs photos"), ("roc.png", "ROC"),
                      ("tpr_by_occurrence.png", "TPR by occurrences")):
        p = out / name
        if p.is_file():
            parts.append(f"<h2>{escape(alt)}</h2>" + img_tag(p.read_bytes(), alt))
    if state.get("by_photos"):
        cols = ["n_photos", "draws", "n_members", "n_non_members", "tpr_mean", "tpr_sd", "tpr_low", "tpr_high",
                "fpr_mean", "fpr_sd", "fpr_low", "fpr_high", "fnr_mean", "tnr_mean", "accuracy_mean", "accuracy_sd",
                "balanced_accuracy_mean"]
        parts.append("<h2>Metrics by number of photos</h2>" + html_table(state["by_photos"], cols))
    if head:
        if head.get("tpr_by_occurrence"):
            parts.append("<h2>TPR by training occurrences</h2>" + html_table(head["tpr_by_occurrence"]))
        parts.append("<h2>Called member, by group</h2><p class='note'>For a group of non-members this is its FPR.</p>"
                     + html_table(head.get("by_group", [])))
        parts.append("<h2>tau sweep</h2>" + html_table(head.get("tau_sweep", [])))
    ctl = state.get("controls")
    if ctl:
        without = {r["group"]: r for r in ctl.get("by_group_without", [])}
        rows = [{"group": r["group"], "n": r["n"], "called member": without.get(r["group"], {}).get("called_member_mean"),
                 "with controls": r["called_member_mean"], "low": r["low"], "high": r["high"]}
                for r in ctl.get("by_group_with", [])]
        parts.append("<h2>Validity controls (all photos per person)</h2><p class='note'>"
                     f"Reference people: {escape(ctl.get('reference', ''))}; M = {escape(ctl.get('m'))} look-alikes and M random; "
                     f"member only when both empirical chances are at most {escape(ctl.get('alpha'))}.</p>" + html_table(rows))
    parts.append("<h2>Significance for one person</h2><p>" + escape(state.get("null_hypothesis", "")) +
                 " Per-person values are in people.csv.</p>")
    parts.append("<h2>Run</h2>" + kv_table(
        [("model spec", model.get("spec")),
         ("fingerprint (weights + architecture config + precision)", model.get("fingerprint"))]
        + build_rows(model.get("build") or {})
        + [(f"config: {k}", v) for k, v in cfg.items()]
        + [("candidate pool", json.dumps(state.get("pool", {}))), ("templates", len(state.get("templates", [])))]
        + [("started", state.get("started")), ("elapsed (s)", state.get("elapsed_s"))]
        + [(f"version: {k}", v) for k, v in state.get("versions", {}).items()]))
    parts.append("<h2>Dataset</h2>" + kv_table(
        [("dataset", ds.get("description")), ("people", ds.get("n_people")), ("photos", ds.get("photos")),
         ("SHA-256 over all photo hashes", ds.get("photos_sha256"))]
        + [(f"SHA-256 of {k}", v) for k, v in (ds.get("source_hashes") or {}).items()]))
    for note in ds.get("notes", []):
        parts.append(f"<p class='note'>{escape(note)}</p>")
    parts.append("<p class='note'>Per-photo hashes: dataset_hashes.csv. Every prediction: predictions.csv. "
                 "Conventions: mean ± sd over draws uses the sample sd; a person counts at a photo count only if "
                 "they have that many photos; Wilson intervals use the mean counts over draws and the number of "
                 "people.</p>")
    if files:
        parts.append("<h2>Files</h2><ul>" + "".join(f"<li><a href='{escape(n)}'>{escape(n)}</a></li>" for n in sorted(files)) + "</ul>")
    return atomic_write(out / "report.html", page("IDIA evaluation report", "\n".join(parts)))


def _f(x, digits: int = 3) -> str:
    if x is None:
        return "–"
    try:
        return f"{float(x):.{digits}f}"
    except (TypeError, ValueError):
        return str(x)
