"""Reports: the per-person evidence bundle (evidence.json + evidence.html), its verification, and
the evaluation report (report.html).

Why an evidence bundle: a person who finds that a model knows them needs a file they can hand to a
data-protection officer that anyone can re-check. The bundle records everything needed to re-run
the check exactly — model spec and weight fingerprint, templates, the full candidate pool in order,
tau, seed — and every vote, but never a photo: only the SHA-256 of each photo's original bytes.
``verify_evidence`` re-runs it with photos the checker supplies and says "reproduced" or names
what does not match.

All text that came from a user (names, templates, file labels) is HTML-escaped before it enters a
page.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import IdiaInputError

EVIDENCE_FORMAT = "idia-evidence"
EVIDENCE_VERSION = 1
NAME_SWAP_NULL = (
    "Null hypothesis (name swap): the model never learned this face with this name, so the true name is no "
    "more likely to win templates than any other name in the pool, all facing the same photos. p-value = share "
    "of the pool (the true name included) whose names won at least as many templates as the true name.")


# =============================================================================================
# Small HTML helpers
# =============================================================================================

def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _img_tag(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}" style="max-width:100%">'


def _table(rows: list[dict], columns: list[str] | None = None, fmt: int = 3) -> str:
    if not rows:
        return "<p><em>none</em></p>"
    columns = columns or list(rows[0].keys())
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            if isinstance(v, float):
                v = f"{v:.{fmt}f}"
            elif v is None:
                v = "–"
            cells.append(f"<td>{_e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _kv(pairs: list[tuple[str, object]]) -> str:
    return "<table class='kv'>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs) + "</table>"


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;font-size:.85em} td,th{border:1px solid #ddd;padding:3px 7px;text-align:left}
th{background:#f5f5f5} .kv th{width:14em} .verdict{font-size:1.3em;padding:.6em 1em;border-radius:6px}
.member{background:#e8f5e9;border:1px solid #2e7d32} .nonmember{background:#fafafa;border:1px solid #999}
code,.hash{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em;word-break:break-all}
.note{color:#555;font-size:.9em}
"""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{_STYLE}</style></head>"
            f"<body>{body}</body></html>\n")


def _atomic_write_text(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


# =============================================================================================
# Evidence bundle
# =============================================================================================

def _canonical(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def evidence_dict(result) -> dict:
    """Everything needed to re-check one result, as JSON-safe data (no photos: only hashes)."""
    from .provenance import package_versions

    full = result.to_dict(full=True)
    data = {
        "format": EVIDENCE_FORMAT,
        "version": EVIDENCE_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": package_versions(),
        "verdict": {
            "member": bool(result.member),
            "correct_templates": int(result.correct_templates),
            "n_templates": result.n_templates,
            "tau": int(result.tau),
            "correct_template_list": list(result.correct_template_list),
            "p_value": float(result.p_value),
            "null_hypothesis": NAME_SWAP_NULL,
            "score": float(result.score),
            "controlled_verdict": result.verdict,
            "controls": result.controls.to_dict() if result.controls is not None else None,
        },
        "reproduce": {
            "true_name": result.true_name,
            "model": result.model_spec,
            "fingerprint": result.fingerprint,
            "model_build": dict(getattr(result, "model_build", None) or {}),
            "templates": list(result.templates),
            "candidates": list(result.candidates),
            "tau": int(result.tau),
            "seed": int(result.settings.seed),
            "name_mode": result.settings.name_mode,
            "template_set": result.settings.template_set,
            "photo_sha256": list(result.photo_hashes),
            # The validity controls' reference set (hash of its photos' hashes, never photos) and M.
            "reference_set": (result.controls.reference_set or None) if result.controls is not None else None,
            "control_m": (result.controls.look_alikes.m if result.controls is not None and result.controls.ran
                          else None),
        },
        "votes": {
            "note": "predictions[t][p] is the index in candidates predicted for template t and photo p; "
                    "majority[t] is the template's unique most-voted index, -1 where tied",
            "predictions": result.predictions.tolist(),
            "majority": [int(x) for x in result.majority],
        },
        "result": full,
    }
    data["content_sha256"] = hashlib.sha256(_canonical(data)).hexdigest()
    return data


def write_evidence_bundle(result, out_dir) -> dict[str, Path]:
    """Write ``evidence.json`` and ``evidence.html`` for one ``IdiaResult`` into ``out_dir``.
    Returns {"json": path, "html": path}. Photos are never written, only their SHA-256."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = evidence_dict(result)
    json_path = _atomic_write_text(out / "evidence.json", json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    html_path = _atomic_write_text(out / "evidence.html", evidence_html(result, data))
    return {"json": json_path, "html": html_path}


def evidence_html(result, data: dict | None = None) -> str:
    """The bundle as a page for people: verdict, the votes, the closest names, the hashes and how
    to verify."""
    from . import charts

    data = data or evidence_dict(result)
    v = data["verdict"]
    from . import explain

    member = v["member"]
    verdict = ("The model picks this name for these photos: <b>member</b>" if member
               else "The model does not pick this name for these photos: <b>not a member</b>")
    if result.verdict == "inconclusive":
        verdict = "The model picks this name for these photos, but also for other faces: <b>inconclusive</b>"
        member = False
    control_html = "".join(f"<p>{_e(line)}</p>" for line in explain.control_lines(result))
    parts = [f"<h1>IDIA evidence: {_e(result.true_name)}</h1>",
             f"<div class='verdict {'member' if member else 'nonmember'}'>{verdict} — "
             f"{v['correct_templates']} of {v['n_templates']} templates have the true name as their unique "
             f"majority (tau = {v['tau']}).</div>",
             "<p class='note'>The Identity Inference Attack (Hintersdorf et al., “Does CLIP Know My Face?”, JAIR 2024): "
             "for each template, each photo is matched to the most similar name in the pool; the template's majority "
             "name counts if it is the true name. A person counts as a member when at least tau templates do.</p>",
             "<h2>Significance</h2>",
             f"<p>p-value = {v['p_value']:.4g} (pool of {result.n_candidates} names). {_e(NAME_SWAP_NULL)}</p>",
             "<h2>Validity controls: does the model pick this name for other faces too?</h2>",
             (f"<p>{_e(explain.verdict_sentence(result))}</p>" if result.verdict == "inconclusive" else ""),
             control_html or "<p>Not run.</p>",
             "<h2>Votes per template</h2>",
             _img_tag(charts.figure_to_png(charts.votes_figure(result)), "votes per template"),
             _table([{"template": t["template"], "majority": t["majority"] or "(tie)",
                      "correct": "yes" if t["correct"] else "no",
                      "votes": ", ".join(f"{n}: {c}" for n, c in t["votes"].items())}
                     for t in data["result"]["templates"]]),
             "<h2>Names closest to the photos</h2>",
             _img_tag(charts.figure_to_png(charts.top_names_figure(result)), "closest names"),
             f"<p>True name median rank over all queries: {result.true_name_median_rank:g}; top-1 in "
             f"{100 * result.true_name_top1_rate:.1f}% of (photo, template) queries.</p>",
             "<h2>Model and settings</h2>",
             _kv([("model", result.model_spec), ("fingerprint (weights + architecture config + precision)",
                                                  result.fingerprint)]
                 + _build_rows(getattr(result, "model_build", None) or {}) + [
                  ("tau", result.tau), ("candidate pool", f"{result.n_candidates} names (full list in evidence.json)"),
                  ("seed", result.settings.seed), ("name mode", result.settings.name_mode),
                  ("template set", result.settings.template_set), ("created", data["created"])]
                 + [(f"version: {k}", val) for k, val in data["versions"].items()]),
             "<h2>Photos (SHA-256 of the original files; the photos themselves are not stored)</h2>",
             "<ol>" + "".join(f"<li class='hash'>{_e(h)}</li>" for h in result.photo_hashes) + "</ol>",
             "<h2>How to verify</h2>",
             "<p>Anyone with the same photos can re-run the check: <code>python -m idia_core verify evidence.json "
             "PHOTO...</code>. It checks that the photos' SHA-256 hashes match those above, that the model has the same "
             "fingerprint (weights, architecture config and precision; it re-runs in the recorded precision where "
             "the hardware allows and names any difference), and that the votes and the verdict reproduce.</p>",
             f"<p class='note'>Content hash of evidence.json: <span class='hash'>{_e(data['content_sha256'])}</span></p>"]
    return _page(f"IDIA evidence: {result.true_name}", "\n".join(parts))


@dataclass
class VerifyOutcome:
    """What ``verify`` found. ``reproduced`` is the single answer; the rest says why."""

    reproduced: bool
    hashes_match: bool
    unknown_photos: list[tuple[str, str]] = field(default_factory=list)   # (label, sha256) not in the record
    missing_hashes: list[str] = field(default_factory=list)              # recorded, not supplied
    fingerprint_match: bool | None = None
    content_intact: bool = True
    recorded: dict = field(default_factory=dict)
    observed: dict = field(default_factory=dict)
    vote_differences: int = 0
    messages: list[str] = field(default_factory=list)

    def summary(self) -> str:
        head = "reproduced" if self.reproduced else "NOT reproduced"
        return "\n".join([head] + [f"- {m}" for m in self.messages])


def _build_rows(build: dict) -> list[tuple[str, object]]:
    if not build:
        return []
    rows = [("weights digest", build.get("weights")), ("activation", build.get("activation")),
            ("activation the weights were trained with",
             f"{build.get('trained_activation') or 'no record'} (from {build.get('activation_source')})"),
            ("context length", build.get("context_length")),
            ("precision", f"{build.get('precision')} on {str(build.get('device')).upper()}")]
    rows += [("note", n) for n in build.get("notes", [])]
    return rows


def verify_setup(recorded_build: dict | None) -> tuple[str, str | None]:
    """(device, precision) to re-run a recorded check in: the recorded ones where this machine has
    that device; else the CPU, in the recorded precision unless that is float16 (which CPUs run
    only slowly and with other kernels), then float32."""
    from .models import default_device

    build = recorded_build or {}
    device, precision = build.get("device"), build.get("precision")
    if device == "cuda" and default_device().type == "cuda":
        return "cuda", precision
    if device == "cuda" or device is None:
        return "cpu", (precision if precision in ("float32", "bfloat16") else "float32") if precision else None
    return "cpu", precision


def load_evidence(path) -> dict:
    """Read and check an evidence.json; IdiaInputError (exit 2) for anything unusable."""
    p = Path(path)
    if not p.is_file():
        raise IdiaInputError("evidence_missing", f"No evidence file at {p}.")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IdiaInputError("evidence_json", f"{p.name} is not valid JSON ({exc}).") from None
    if not isinstance(data, dict) or data.get("format") != EVIDENCE_FORMAT:
        raise IdiaInputError("evidence_format", f"{p.name} is not an idia evidence file (no format '{EVIDENCE_FORMAT}').")
    if data.get("version") != EVIDENCE_VERSION:
        raise IdiaInputError("evidence_version", f"{p.name} has evidence version {data.get('version')}; this idia reads version {EVIDENCE_VERSION}.")
    rep = data.get("reproduce")
    need = ("true_name", "model", "fingerprint", "templates", "candidates", "tau", "seed", "photo_sha256")
    if not isinstance(rep, dict) or any(k not in rep for k in need) or "verdict" not in data or "votes" not in data:
        raise IdiaInputError("evidence_fields", f"{p.name} is missing fields needed to re-run the check.")
    return data


def verify_evidence(evidence, photos, *, model=None, cache=None, precision=None, reference=None) -> VerifyOutcome:
    """Re-run the check recorded in ``evidence`` (a path or a loaded dict) on ``photos`` (paths,
    bytes or images) and compare. ``model`` overrides the recorded spec (e.g. a local copy); the
    weights and architecture config must still be the recorded ones. The check re-runs in the
    recorded precision and device where this machine has them (``verify_setup``; ``precision``
    overrides); a different precision or device is named in the messages (e.g. "made in float16 on
    CUDA, verified in float32 on CPU") and the verdict is still compared. ``reference``: the
    reference folder the controls used (the sandbox's own is found by itself); its hash must match
    the record."""
    from .images import load_photo
    from .models import IdiaModel, load_model
    from .runner import run_idia

    data = load_evidence(evidence) if not isinstance(evidence, dict) else evidence
    rep = data["reproduce"]
    messages: list[str] = []
    stored_hash = data.get("content_sha256")
    body = {k: v for k, v in data.items() if k != "content_sha256"}
    intact = stored_hash is None or hashlib.sha256(_canonical(body)).hexdigest() == stored_hash
    if not intact:
        messages.append("evidence.json was edited after it was written (its content hash does not match).")
    items = list(photos or [])
    if not items:
        raise IdiaInputError("no_photos", "verify needs the photos that were checked: python -m idia_core verify evidence.json PHOTO...")
    loaded = [load_photo(src) for src in items]
    recorded = list(rep["photo_sha256"])
    remaining = list(recorded)
    unknown: list[tuple[str, str]] = []
    matched = {}
    for ph in loaded:
        if ph.sha256 in remaining:
            remaining.remove(ph.sha256)
            matched.setdefault(ph.sha256, []).append(ph)
        else:
            unknown.append((ph.label, ph.sha256))
    for label, h in unknown:
        messages.append(f"photo {label} has SHA-256 {h}, which is not one of the recorded photos")
    for h in remaining:
        messages.append(f"recorded photo {h} was not supplied")
    try:
        recorded_verdict = {"member": bool(data["verdict"]["member"]),
                            "correct_templates": int(data["verdict"]["correct_templates"])}
        if data["verdict"].get("controlled_verdict") is not None:
            recorded_verdict["verdict"] = str(data["verdict"]["controlled_verdict"])
        rec_controls = data["verdict"].get("controls") or None
        if rec_controls is not None and not isinstance(rec_controls, dict):
            raise TypeError("controls is not an object")
    except (KeyError, TypeError, ValueError) as exc:
        raise IdiaInputError("evidence_malformed", f"The evidence file's verdict is damaged or edited ({type(exc).__name__}: "
                             f"{exc}); it cannot be verified.") from None
    outcome = VerifyOutcome(False, not unknown and not remaining, unknown, remaining, None, intact,
                            recorded_verdict, {}, 0, messages)
    if not outcome.hashes_match:
        return outcome

    from .models import describe_difference

    recorded_build = rep.get("model_build") if isinstance(rep.get("model_build"), dict) else {}
    device, run_precision = verify_setup(recorded_build)
    run_precision = precision or run_precision
    if model is None:
        model = load_model(rep["model"], device=device, precision=run_precision)
    elif not isinstance(model, IdiaModel):
        model = load_model(model, device=device, precision=run_precision)
    outcome.fingerprint_match = model.fingerprint == rep["fingerprint"]
    if not recorded_build and model.weights_only_fingerprint == rep["fingerprint"]:
        # a bundle from before builds were recorded: its fingerprint covered the weights only
        outcome.fingerprint_match = True
        messages.append("this bundle records the weights only (no activation or precision); the weights match")
    if not outcome.fingerprint_match:
        observed_build = model.build.to_dict() if model.build else {}
        differences = describe_difference(recorded_build, observed_build)
        same_model = bool(recorded_build) and all(
            recorded_build.get(k) == observed_build.get(k) for k in ("weights", "config"))
        if not same_model:
            what = "; ".join(differences) or "the model differs"
            messages.append(f"the model differs from the recorded one ({what}): fingerprint {model.fingerprint}, "
                            f"recorded {rep['fingerprint']}")
            return outcome
        messages.append(f"same weights and architecture config, but {'; '.join(differences)} (fingerprint "
                        f"{model.fingerprint}, recorded {rep['fingerprint']}); the verdict is compared all the same")
    ordered = [matched[h].pop(0) for h in recorded]
    ran = bool(rec_controls and rec_controls.get("ran"))
    result = run_idia(model, ordered, rep["true_name"], candidates=rep["candidates"], templates=rep["templates"],
                      tau=rep["tau"], seed=rep["seed"], name_mode=rep.get("name_mode", "mixed"),
                      template_set=rep.get("template_set"), cache=cache, min_photos=1,
                      reference=reference if ran else "none",
                      control_m=rep.get("control_m") if ran else None)
    cands = list(rep["candidates"])
    try:
        rec_pred = [[cands[i] for i in row] for row in data["votes"]["predictions"]]
        rec_major = [cands[i] if i >= 0 else None for i in data["votes"]["majority"]]
    except (KeyError, IndexError, TypeError) as exc:
        raise IdiaInputError("evidence_malformed", f"The evidence file's votes are damaged or edited ({type(exc).__name__}: "
                             f"{exc}); it cannot be verified.") from None
    new_pred = [[result.candidates[i] for i in row] for row in result.predictions.tolist()]
    outcome.vote_differences = sum(a != b for ra, rb in zip(rec_pred, new_pred) for a, b in zip(ra, rb))
    outcome.observed = {"member": bool(result.member), "correct_templates": int(result.correct_templates)}
    if "verdict" in recorded_verdict:
        outcome.observed["verdict"] = result.verdict
    controls_same = True
    if ran:
        rec_sha = (rec_controls.get("reference_set") or {}).get("sha256")
        new = result.controls
        new_sha = new.reference_set.get("sha256") if new is not None and new.ran else None
        if rec_sha != new_sha:
            controls_same = False
            messages.append(f"the controls' reference set differs: recorded {rec_sha}, now {new_sha or 'none'}"
                            + ("" if new_sha else " (pass the reference folder with --reference)"))
        else:
            for key in ("name_prior", "look_alikes"):
                old = (rec_controls.get(key) or {}).get("counts")
                now = getattr(new, key).to_dict()["counts"]
                if old != now:
                    controls_same = False
                    messages.append(f"the {key.replace('_', '-')} control's counts differ from the record")
    majority_same = rec_major == result.majority_names
    verdict_same = outcome.observed == recorded_verdict
    if outcome.vote_differences:
        messages.append(f"{outcome.vote_differences} of {sum(len(r) for r in rec_pred)} votes differ from the record")
    if not majority_same:
        messages.append("the per-template majorities differ from the record")
    if not verdict_same:
        messages.append(f"verdict differs: recorded {recorded_verdict}, now {outcome.observed}")
    outcome.reproduced = bool(verdict_same and majority_same and intact and controls_same)
    if outcome.reproduced:
        fp_words = "the model fingerprint matches" if outcome.fingerprint_match else "the same weights and config ran"
        messages.insert(0, f"all {len(recorded)} photo hashes match, {fp_words}, and the verdict "
                           f"({result.verdict}, {result.correct_templates}/"
                           f"{result.n_templates} templates) reproduces"
                           + (", with the same validity controls on the same reference set" if ran else ""))
    return outcome


# =============================================================================================
# Evaluation report
# =============================================================================================

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
                     f"stages finished: {_e(', '.join(state.get('stages_done', [])) or 'none')}.</div>")
    head = state.get("headline")
    if head:
        row = head["row"]
        roc = head["roc"]
        parts.append("<h2>Summary</h2>")
        parts.append(_kv([
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
            parts.append(f"<h2>{_e(alt)}</h2>" + _img_tag(p.read_bytes(), alt))
    if state.get("by_photos"):
        cols = ["n_photos", "draws", "n_members", "n_non_members", "tpr_mean", "tpr_sd", "tpr_low", "tpr_high",
                "fpr_mean", "fpr_sd", "fpr_low", "fpr_high", "fnr_mean", "tnr_mean", "accuracy_mean", "accuracy_sd",
                "balanced_accuracy_mean"]
        parts.append("<h2>Metrics by number of photos</h2>" + _table(state["by_photos"], cols))
    if head:
        if head.get("tpr_by_occurrence"):
            parts.append("<h2>TPR by training occurrences</h2>" + _table(head["tpr_by_occurrence"]))
        parts.append("<h2>Called member, by group</h2><p class='note'>For a group of non-members this is its FPR.</p>"
                     + _table(head.get("by_group", [])))
        parts.append("<h2>tau sweep</h2>" + _table(head.get("tau_sweep", [])))
    ctl = state.get("controls")
    if ctl:
        without = {r["group"]: r for r in ctl.get("by_group_without", [])}
        rows = [{"group": r["group"], "n": r["n"], "called member": without.get(r["group"], {}).get("called_member_mean"),
                 "with controls": r["called_member_mean"], "low": r["low"], "high": r["high"]}
                for r in ctl.get("by_group_with", [])]
        parts.append("<h2>Validity controls (all photos per person)</h2><p class='note'>"
                     f"Reference people: {_e(ctl.get('reference', ''))}; M = {_e(ctl.get('m'))} look-alikes and M random; "
                     f"member only when both empirical chances are at most {_e(ctl.get('alpha'))}.</p>" + _table(rows))
    parts.append("<h2>Significance for one person</h2><p>" + _e(state.get("null_hypothesis", "")) +
                 " Per-person values are in people.csv.</p>")
    parts.append("<h2>Run</h2>" + _kv(
        [("model spec", model.get("spec")),
         ("fingerprint (weights + architecture config + precision)", model.get("fingerprint"))]
        + _build_rows(model.get("build") or {})
        + [(f"config: {k}", v) for k, v in cfg.items()]
        + [("candidate pool", json.dumps(state.get("pool", {}))), ("templates", len(state.get("templates", [])))]
        + [("started", state.get("started")), ("elapsed (s)", state.get("elapsed_s"))]
        + [(f"version: {k}", v) for k, v in state.get("versions", {}).items()]))
    parts.append("<h2>Dataset</h2>" + _kv(
        [("dataset", ds.get("description")), ("people", ds.get("n_people")), ("photos", ds.get("photos")),
         ("SHA-256 over all photo hashes", ds.get("photos_sha256"))]
        + [(f"SHA-256 of {k}", v) for k, v in (ds.get("source_hashes") or {}).items()]))
    for note in ds.get("notes", []):
        parts.append(f"<p class='note'>{_e(note)}</p>")
    parts.append("<p class='note'>Per-photo hashes: dataset_hashes.csv. Every prediction: predictions.csv. "
                 "Conventions: mean ± sd over draws uses the sample sd; a person counts at a photo count only if "
                 "they have that many photos; Wilson intervals use the mean counts over draws and the number of "
                 "people.</p>")
    if files:
        parts.append("<h2>Files</h2><ul>" + "".join(f"<li><a href='{_e(n)}'>{_e(n)}</a></li>" for n in sorted(files)) + "</ul>")
    return _atomic_write_text(out / "report.html", _page("IDIA evaluation report", "\n".join(parts)))


def _f(x, digits: int = 3) -> str:
    if x is None:
        return "–"
    try:
        return f"{float(x):.{digits}f}"
    except (TypeError, ValueError):
        return str(x)
