"""The per-person evidence bundle: ``evidence.json`` + ``evidence.html``.

Why: a person who finds that a model knows them needs a file they can hand to a data-protection
officer that anyone can re-check. The bundle records everything needed to re-run the check exactly
— model spec and fingerprint, templates, the full candidate pool in order, tau, seed — and every
vote, but never a photo: only the SHA-256 of each photo's original bytes. ``verify`` re-runs it.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from ..attack.verdict import Verdict
from ..errors import IdiaInputError
from ..files import atomic_write
from ..provenance import package_versions
from . import charts, explain
from .html import escape, html_table, img_tag, kv_table, page

EVIDENCE_FORMAT = "idia-evidence"
# Version 2 (this one) leads with the validity controls' chance (``verdict.chance`` and
# ``verdict.significance``) and keeps the pool-rank p as a documented secondary number
# (``verdict.pool_rank_p``; ``verdict.p_value`` and ``verdict.null_hypothesis`` keep the same number
# and its description under version 1's names). Version 1 bundles are read and verified unchanged.
EVIDENCE_VERSION = 2
READABLE_VERSIONS = (1, 2)
CONTROLS_NULL = (
    "Null hypothesis (validity controls): these photos are no more likely to get the name than photos of "
    "other people, the ones who look most like them and random ones. Chance = the larger of the two "
    "controls' (1 + #reference people with at least the observed number of templates) / (M + 1); exact for "
    "the random people, conservative for the look-alikes (chosen for their closeness to these photos, they "
    "are not exchangeable with this person). Not measured (null) when the controls did not run.")
POOL_RANK_NOTE = (
    "Pool-rank p (a secondary number, not a chance): share of the pool (the true name included) whose names "
    "won at least as many templates as the true name. Template wins over the pool sum to at most the number "
    "of templates T, so whenever the true name wins one, p <= T / pool size: it restates the rule, and its "
    "null (every name equally likely to win) fails for a name the model gives to a whole look.")


def canonical_json(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def evidence_dict(result) -> dict:
    """Everything needed to re-check one result, as JSON-safe data (no photos: only hashes)."""
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
            "chance": result.chance,
            "significance": significance_dict(result),
            "pool_rank_p": float(result.pool_rank_p),
            "p_value": float(result.pool_rank_p),
            "null_hypothesis": POOL_RANK_NOTE,
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
    data["content_sha256"] = hashlib.sha256(canonical_json(data)).hexdigest()
    return data


def significance_dict(result) -> dict:
    """The significance as the bundle records it: the controls' chance first (null when they did
    not run), both controls' chances, and the sentence a person reads."""
    controls = result.controls
    ran = controls is not None and controls.ran
    return {"chance": result.chance, "measured": ran, "null_hypothesis": CONTROLS_NULL,
            "look_alikes_chance": controls.look_alikes.chance if ran else None,
            "name_prior_chance": controls.name_prior.chance if ran else None,
            "alpha": controls.look_alikes.alpha if ran else None,
            "statement": explain.significance_sentence(result)}


def write_evidence_bundle(result, out_dir) -> dict[str, Path]:
    """Write ``evidence.json`` and ``evidence.html`` for one ``IdiaResult`` into ``out_dir``.
    Returns {"json": path, "html": path}. Photos are never written, only their SHA-256."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = evidence_dict(result)
    json_path = atomic_write(out / "evidence.json", json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    html_path = atomic_write(out / "evidence.html", evidence_html(result, data))
    return {"json": json_path, "html": html_path}


def evidence_html(result, data: dict | None = None) -> str:
    """The bundle as a page for people: verdict, the votes, the closest names, the hashes and how
    to verify."""
    data = data or evidence_dict(result)
    v = data["verdict"]
    member = v["member"]
    verdict = ("The model picks this name for these photos: <b>member</b>" if member
               else "The model does not pick this name for these photos: <b>not a member</b>")
    if result.verdict is Verdict.INCONCLUSIVE:
        verdict = "The model picks this name for these photos, but also for other faces: <b>inconclusive</b>"
        member = False
    control_html = "".join(f"<p>{escape(line)}</p>" for line in explain.control_lines(result))
    pool_rank = explain.pool_rank_line(result)
    parts = [f"<h1>IDIA evidence: {escape(result.true_name)}</h1>",
             f"<div class='verdict {'member' if member else 'nonmember'}'>{verdict} — "
             f"{v['correct_templates']} of {v['n_templates']} templates have the true name as their unique "
             f"majority (tau = {v['tau']}).</div>",
             "<p class='note'>The Identity Inference Attack (Hintersdorf et al., “Does CLIP Know My Face?”, JAIR 2024): "
             "for each template, each photo is matched to the most similar name in the pool; the template's majority "
             "name counts if it is the true name. A person counts as a member when at least tau templates do.</p>",
             "<h2>Significance: how unlikely is this by chance?</h2>",
             f"<p>{escape(explain.significance_sentence(result))}</p>",
             f"<p class='note'>{escape(CONTROLS_NULL)}</p>",
             (f"<p class='note'>{escape(pool_rank)} {escape(POOL_RANK_NOTE)}</p>" if pool_rank else ""),
             "<h2>Validity controls: does the model pick this name for other faces too?</h2>",
             (f"<p>{escape(explain.verdict_sentence(result))}</p>" if result.verdict is Verdict.INCONCLUSIVE else ""),
             control_html or "<p>Not run.</p>",
             "<h2>Votes per template</h2>",
             img_tag(charts.figure_to_png(charts.votes_figure(result)), "votes per template"),
             html_table([{"template": t["template"], "majority": t["majority"] or "(tie)",
                      "correct": "yes" if t["correct"] else "no",
                      "votes": ", ".join(f"{n}: {c}" for n, c in t["votes"].items())}
                     for t in data["result"]["templates"]]),
             "<h2>Names closest to the photos</h2>",
             img_tag(charts.figure_to_png(charts.top_names_figure(result)), "closest names"),
             f"<p>True name median rank over all queries: {result.true_name_median_rank:g}; top-1 in "
             f"{100 * result.true_name_top1_rate:.1f}% of (photo, template) queries.</p>",
             "<h2>Model and settings</h2>",
             kv_table([("model", result.model_spec), ("fingerprint (weights + architecture config + precision)",
                                                  result.fingerprint)]
                 + build_rows(getattr(result, "model_build", None) or {}) + [
                  ("tau", result.tau), ("candidate pool", f"{result.n_candidates} names (full list in evidence.json)"),
                  ("seed", result.settings.seed), ("name mode", result.settings.name_mode),
                  ("template set", result.settings.template_set), ("created", data["created"])]
                 + [(f"version: {k}", val) for k, val in data["versions"].items()]),
             "<h2>Photos (SHA-256 of the original files; the photos themselves are not stored)</h2>",
             "<ol>" + "".join(f"<li class='hash'>{escape(h)}</li>" for h in result.photo_hashes) + "</ol>",
             "<h2>How to verify</h2>",
             "<p>Anyone with the same photos can re-run the check: <code>python -m idia_core verify evidence.json "
             "PHOTO...</code>. It checks that the photos' SHA-256 hashes match those above, that the model has the same "
             "fingerprint (weights, architecture config and precision; it re-runs in the recorded precision where "
             "the hardware allows and names any difference), and that the votes and the verdict reproduce.</p>",
             f"<p class='note'>Content hash of evidence.json: <span class='hash'>{escape(data['content_sha256'])}</span></p>"]
    return page(f"IDIA evidence: {result.true_name}", "\n".join(parts))


def build_rows(build: dict) -> list[tuple[str, object]]:
    if not build:
        return []
    rows = [("weights digest", build.get("weights")), ("activation", build.get("activation")),
            ("activation the weights were trained with",
             f"{build.get('trained_activation') or 'no record'} (from {build.get('activation_source')})"),
            ("context length", build.get("context_length")),
            ("precision", f"{build.get('precision')} on {str(build.get('device')).upper()}")]
    rows += [("note", n) for n in build.get("notes", [])]
    return rows


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
    if data.get("version") not in READABLE_VERSIONS:
        raise IdiaInputError("evidence_version", f"{p.name} has evidence version {data.get('version')}; this idia "
                             f"reads versions {', '.join(map(str, READABLE_VERSIONS))}.")
    rep = data.get("reproduce")
    need = ("true_name", "model", "fingerprint", "templates", "candidates", "tau", "seed", "photo_sha256")
    if not isinstance(rep, dict) or any(k not in rep for k in need) or "verdict" not in data or "votes" not in data:
        raise IdiaInputError("evidence_fields", f"{p.name} is missing fields needed to re-run the check.")
    return data
