"""``verify``: re-run the check an evidence bundle records, with photos the checker supplies, and
say "reproduced" or name what does not match.

In stages: the bundle's own integrity (its content hash), the photos (SHA-256 against the record),
the model (fingerprint; the same weights and config in another precision or device is named and
still compared), then the re-run itself: votes, per-template majorities, the verdict, and the
validity controls on the same reference set.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..attack.run import run_idia
from ..attack.settings import IdiaSettings
from ..errors import IdiaInputError
from ..images import load_photo
from ..zoo.fingerprints import describe_difference
from ..zoo.load import load_model
from ..zoo.model import IdiaModel, default_device
from .evidence import canonical_json, load_evidence


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


def verify_setup(recorded_build: dict | None) -> tuple[str, str | None]:
    """(device, precision) to re-run a recorded check in: the recorded ones where this machine has
    that device; else the CPU, in the recorded precision unless that is float16 (which CPUs run
    only slowly and with other kernels), then float32."""
    build = recorded_build or {}
    device, precision = build.get("device"), build.get("precision")
    if device == "cuda" and default_device().type == "cuda":
        return "cuda", precision
    if device == "cuda" or device is None:
        return "cpu", (precision if precision in ("float32", "bfloat16") else "float32") if precision else None
    return "cpu", precision


def verify_evidence(evidence, photos, *, model=None, cache=None, precision=None, reference=None) -> VerifyOutcome:
    """Re-run the check recorded in ``evidence`` (a path or a loaded dict) on ``photos`` (paths,
    bytes or images) and compare. ``model`` overrides the recorded spec (e.g. a local copy); the
    weights and architecture config must still be the recorded ones. The check re-runs in the
    recorded precision and device where this machine has them (``verify_setup``; ``precision``
    overrides); a different precision or device is named in the messages (e.g. "made in float16 on
    CUDA, verified in float32 on CPU") and the verdict is still compared. ``reference``: the
    reference folder the controls used (the sandbox's own is found by itself); its hash must match
    the record."""
    data = load_evidence(evidence) if not isinstance(evidence, dict) else evidence
    rep = data["reproduce"]
    messages: list[str] = []
    intact = _content_intact(data)
    if not intact:
        messages.append("evidence.json was edited after it was written (its content hash does not match).")
    items = list(photos or [])
    if not items:
        raise IdiaInputError("no_photos", "verify needs the photos that were checked: python -m idia_core verify evidence.json PHOTO...")
    recorded = list(rep["photo_sha256"])
    matched, unknown, missing = _match_photos([load_photo(src) for src in items], recorded, messages)
    recorded_verdict, rec_controls = _recorded_verdict(data)
    outcome = VerifyOutcome(False, not unknown and not missing, unknown, missing, None, intact,
                            recorded_verdict, {}, 0, messages)
    if not outcome.hashes_match:
        return outcome
    model = _model_as_recorded(rep, model, precision, outcome)
    if model is None:
        return outcome
    ordered = [matched[h].pop(0) for h in recorded]
    ran = bool(rec_controls and rec_controls.get("ran"))
    settings = IdiaSettings(tau=rep["tau"], seed=rep["seed"], name_mode=rep.get("name_mode", "mixed"),
                            template_set=rep.get("template_set") or "custom")   # its own templates run, as recorded
    result = run_idia(model, ordered, rep["true_name"], settings, candidates=rep["candidates"],
                      templates=rep["templates"], cache=cache, min_photos=1,
                      reference=reference if ran else "none",
                      control_m=rep.get("control_m") if ran else None)
    majority_same = _compare_votes(data, result, outcome)
    controls_same = _compare_controls(rec_controls, result, messages) if ran else True
    verdict_same = outcome.observed == recorded_verdict
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


def _content_intact(data: dict) -> bool:
    """Whether the bundle's content hash still matches its content (bundles without one pass)."""
    stored = data.get("content_sha256")
    body = {k: v for k, v in data.items() if k != "content_sha256"}
    return stored is None or hashlib.sha256(canonical_json(body)).hexdigest() == stored


def _match_photos(loaded, recorded: list[str], messages: list[str]):
    """(recorded hash -> the supplied photos with it, [(label, sha) not recorded], [recorded hashes
    not supplied]), as multisets; a message for each mismatch."""
    remaining = list(recorded)
    unknown: list[tuple[str, str]] = []
    matched: dict = {}
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
    return matched, unknown, remaining


def _recorded_verdict(data: dict) -> tuple[dict, dict | None]:
    """The recorded verdict ({member, correct_templates[, verdict]}) and controls, or
    ``evidence_malformed`` when they are damaged."""
    try:
        recorded = {"member": bool(data["verdict"]["member"]),
                    "correct_templates": int(data["verdict"]["correct_templates"])}
        if data["verdict"].get("controlled_verdict") is not None:
            recorded["verdict"] = str(data["verdict"]["controlled_verdict"])
        controls = data["verdict"].get("controls") or None
        if controls is not None and not isinstance(controls, dict):
            raise TypeError("controls is not an object")
    except (KeyError, TypeError, ValueError) as exc:
        raise IdiaInputError("evidence_malformed", f"The evidence file's verdict is damaged or edited ({type(exc).__name__}: "
                             f"{exc}); it cannot be verified.") from None
    return recorded, controls


def _model_as_recorded(rep: dict, model, precision, outcome: VerifyOutcome):
    """The model to re-run with, in the recorded setup where possible, or None when it is not the
    recorded model (the reason is in ``outcome.messages``)."""
    messages = outcome.messages
    recorded_build = rep.get("model_build") if isinstance(rep.get("model_build"), dict) else {}
    device, run_precision = verify_setup(recorded_build)
    run_precision = precision or run_precision
    if not isinstance(model, IdiaModel):
        model = load_model(model or rep["model"], device=device, precision=run_precision)
    outcome.fingerprint_match = model.fingerprint == rep["fingerprint"]
    if not recorded_build and model.weights_only_fingerprint == rep["fingerprint"]:
        # a bundle from before builds were recorded: its fingerprint covered the weights only
        outcome.fingerprint_match = True
        messages.append("this bundle records the weights only (no activation or precision); the weights match")
    if outcome.fingerprint_match:
        return model
    observed_build = model.build.to_dict() if model.build else {}
    differences = describe_difference(recorded_build, observed_build)
    same_model = bool(recorded_build) and all(recorded_build.get(k) == observed_build.get(k) for k in ("weights", "config"))
    if not same_model:
        what = "; ".join(differences) or "the model differs"
        messages.append(f"the model differs from the recorded one ({what}): fingerprint {model.fingerprint}, "
                        f"recorded {rep['fingerprint']}")
        return None
    messages.append(f"same weights and architecture config, but {'; '.join(differences)} (fingerprint "
                    f"{model.fingerprint}, recorded {rep['fingerprint']}); the verdict is compared all the same")
    return model


def _compare_votes(data: dict, result, outcome: VerifyOutcome) -> bool:
    """Counts the votes that differ from the record (into ``outcome``), sets the observed verdict;
    returns whether every template's majority is the recorded one."""
    cands = list(data["reproduce"]["candidates"])
    try:
        rec_pred = [[cands[i] for i in row] for row in data["votes"]["predictions"]]
        rec_major = [cands[i] if i >= 0 else None for i in data["votes"]["majority"]]
    except (KeyError, IndexError, TypeError) as exc:
        raise IdiaInputError("evidence_malformed", f"The evidence file's votes are damaged or edited ({type(exc).__name__}: "
                             f"{exc}); it cannot be verified.") from None
    new_pred = [[result.candidates[i] for i in row] for row in result.predictions.tolist()]
    outcome.vote_differences = sum(a != b for ra, rb in zip(rec_pred, new_pred) for a, b in zip(ra, rb))
    outcome.observed = {"member": bool(result.member), "correct_templates": int(result.correct_templates)}
    if "verdict" in outcome.recorded:
        outcome.observed["verdict"] = result.verdict
    if outcome.vote_differences:
        outcome.messages.append(f"{outcome.vote_differences} of {sum(len(r) for r in rec_pred)} votes differ from the record")
    return rec_major == result.majority_names


def _compare_controls(rec_controls: dict, result, messages: list[str]) -> bool:
    """Whether the re-run's validity controls ran on the recorded reference set with the recorded counts."""
    rec_sha = (rec_controls.get("reference_set") or {}).get("sha256")
    new = result.controls
    new_sha = new.reference_set.get("sha256") if new is not None and new.ran else None
    if rec_sha != new_sha:
        messages.append(f"the controls' reference set differs: recorded {rec_sha}, now {new_sha or 'none'}"
                        + ("" if new_sha else " (pass the reference folder with --reference)"))
        return False
    same = True
    for key in ("name_prior", "look_alikes"):
        old = (rec_controls.get(key) or {}).get("counts")
        if old != getattr(new, key).to_dict()["counts"]:
            same = False
            messages.append(f"the {key.replace('_', '-')} control's counts differ from the record")
    return same
