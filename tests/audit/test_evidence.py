"""Evidence bundle: check → write_evidence_bundle → verify, on a real (tiny) model and real files."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from idia_core import run_idia
from idia_core.errors import IdiaInputError
from idia_core.audit.evidence import load_evidence, write_evidence_bundle
from idia_core.audit.verify import verify_evidence
from tests.eval_helpers import make_photo

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def checked(tiny_model, photo_files, tmp_path):
    result = run_idia(tiny_model, photo_files, "Jane Doe", n_candidates=25, seed=4)
    paths = write_evidence_bundle(result, tmp_path / "bundle")
    return result, paths, photo_files


def test_bundle_contents(checked):
    result, paths, photos = checked
    assert set(paths) == {"json", "html"} and paths["json"].name == "evidence.json"
    data = json.loads(paths["json"].read_text())
    rep = data["reproduce"]
    assert rep["photo_sha256"] == list(result.photo_hashes) and len(rep["photo_sha256"]) == 5
    assert rep["fingerprint"] == result.fingerprint and rep["candidates"] == list(result.candidates)
    assert len(rep["templates"]) == 21 and rep["true_name"] == "Jane Doe"
    assert data["votes"]["predictions"] == result.predictions.tolist()
    assert data["verdict"]["correct_templates"] == result.correct_templates
    assert "null_hypothesis" in data["verdict"] and data["versions"]["idia"]
    # photos are never stored: no image bytes, no file names, only hashes
    raw = paths["json"].read_bytes()
    for p in photos:
        assert p.name.encode() not in raw
        assert p.read_bytes()[:64] not in raw
    html = paths["html"].read_text()
    assert "Jane Doe" in html and result.fingerprint in html and "verify" in html
    assert html.count("data:image/png;base64") == 2
    for h in result.photo_hashes:
        assert h in html


def test_round_trip_reproduced(checked, tiny_model):
    _, paths, photos = checked
    outcome = verify_evidence(paths["json"], photos, model=tiny_model)
    assert outcome.reproduced, outcome.summary()
    assert outcome.summary().startswith("reproduced")
    # order does not matter: photos are matched by hash
    assert verify_evidence(paths["json"], list(reversed(photos)), model=tiny_model).reproduced


def test_changed_photo_is_named(checked, tiny_model, tmp_path):
    result, paths, photos = checked
    changed = tmp_path / "changed.png"
    make_photo(99).save(changed)
    new = photos[:2] + [changed] + photos[3:]
    outcome = verify_evidence(paths["json"], new, model=tiny_model)
    assert not outcome.reproduced and not outcome.hashes_match
    text = outcome.summary()
    assert text.startswith("NOT reproduced")
    from idia_core.images import load_photo
    assert load_photo(changed).sha256 in text and "changed.png" in text
    assert result.photo_hashes[2] in text and outcome.missing_hashes == [result.photo_hashes[2]]


def test_edited_bundle_and_other_model(checked, tiny_model, tmp_path):
    from tests.helpers import make_tiny_model_dir

    _, paths, photos = checked
    data = json.loads(paths["json"].read_text())
    data["verdict"]["member"] = not data["verdict"]["member"]
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    out = verify_evidence(edited, photos, model=tiny_model)
    assert not out.reproduced and not out.content_intact and "edited" in out.summary()
    other = make_tiny_model_dir(tmp_path / "other", seed=7)
    out = verify_evidence(paths["json"], photos, model=f"local-dir:{other}")
    assert not out.reproduced and out.fingerprint_match is False and "fingerprint" in out.summary()


def test_bad_evidence_is_input_error(tmp_path, photo_files):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(IdiaInputError):
        load_evidence(bad)
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(IdiaInputError):
        load_evidence(bad)
    with pytest.raises(IdiaInputError):
        load_evidence(tmp_path / "missing.json")


def test_html_escapes_user_text(tiny_model, photo_files, tmp_path):
    result = run_idia(tiny_model, photo_files, "Jane O'Doe", n_candidates=10,
                      templates=["<script>alert(1)</script> {0}", "a photo of {0}"])
    paths = write_evidence_bundle(result, tmp_path / "b")
    html = paths["html"].read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert verify_evidence(paths["json"], photo_files, model=tiny_model).reproduced


def test_verify_cli_exit_codes(checked, tiny_model_dir, tmp_path):
    from idia_core.cli.audit import main

    _, paths, photos = checked
    spec = f"local-dir:{tiny_model_dir}"
    assert main(["verify", str(paths["json"]), *map(str, photos), "--model", spec]) == 0
    changed = tmp_path / "c.png"
    make_photo(5).save(changed)
    assert main(["verify", str(paths["json"]), *map(str, photos[:4]), str(changed), "--model", spec]) == 1
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert main(["verify", str(bad), str(photos[0])]) == 2


@pytest.mark.skipif(not (ROOT / "idia_core" / "__main__.py").is_file(), reason="no python -m idia_core yet")
def test_check_report_then_verify_via_cli(tiny_model_dir, photo_files, tmp_path):
    """The user's path: `check --report DIR` then `verify` (one subprocess each)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    spec = f"local-dir:{tiny_model_dir}"
    bundle = tmp_path / "rep"
    check = subprocess.run([sys.executable, "-m", "idia_core", "check", *map(str, photo_files), "--name", "Jane Doe",
                            "--model", spec, "--candidates", "20", "--report", str(bundle)],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr
    assert (bundle / "evidence.json").is_file() and (bundle / "evidence.html").is_file()
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in photo_files:                                   # a checker's own copy of the files
        shutil.copy(p, copy / p.name)
    ver = subprocess.run([sys.executable, "-m", "idia_core", "verify", str(bundle / "evidence.json"),
                          *map(str, sorted(copy.iterdir()))], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert ver.returncode == 0, ver.stdout + ver.stderr
    assert "reproduced" in ver.stdout


def test_verify_refuses_damaged_votes_and_verdict(tmp_path):
    """An evidence file edited by hand (indices out of range, a verdict without its count) gets a
    message, not a traceback."""
    import json as _json

    from idia_core import IdiaInputError as _Err
    from idia_core.audit.verify import verify_evidence
    from idia_core.audit.evidence import write_evidence_bundle
    from idia_core.attack.run import run_idia as _run
    from tests.helpers import draw_face_photos, make_tiny_model_dir

    model = f"local-dir:{make_tiny_model_dir(tmp_path / 'm', seed=4)}"
    photos = []
    for i, img in enumerate(draw_face_photos(3, seed=8)):
        photos.append(tmp_path / f"p{i}.png")
        img.save(photos[-1])
    paths = write_evidence_bundle(_run(model, photos, "Jane Doe", n_candidates=20), tmp_path / "ev")
    data = _json.loads(paths["json"].read_text())
    votes_broken = _json.loads(_json.dumps(data))
    votes_broken["votes"]["predictions"][0][0] = 10**6
    verdict_broken = _json.loads(_json.dumps(data))
    del verdict_broken["verdict"]["correct_templates"]
    for broken in (votes_broken, verdict_broken):
        with pytest.raises(_Err) as err:
            verify_evidence(broken, photos, model=model)
        assert err.value.code == "evidence_malformed"


def test_bundle_records_the_build_and_verify_names_a_precision_difference(tiny_model_dir, photo_files, tmp_path):
    """A check made in float16 records it; verify re-runs in float16 where it can, and names the
    difference where it cannot (a bundle made on CUDA, verified on a machine without one)."""
    import hashlib

    import torch

    from idia_core import load_model
    from idia_core.audit.evidence import canonical_json

    spec = f"local-dir:{tiny_model_dir}"
    half = load_model(spec, device="cpu", precision="float16")
    result = run_idia(half, photo_files, "Jane Doe", n_candidates=25, seed=4)
    data = json.loads(write_evidence_bundle(result, tmp_path / "b16")["json"].read_text())
    build = data["reproduce"]["model_build"]
    assert (build["precision"], build["device"], build["activation"]) == ("float16", "cpu", "GELU")
    html = (tmp_path / "b16" / "evidence.html").read_text()
    assert "float16 on CPU" in html and build["weights"] in html

    same = verify_evidence(data, photo_files)                       # the recorded precision again
    assert same.fingerprint_match and same.reproduced, same.summary()

    other = verify_evidence(data, photo_files, precision="float32")
    assert other.fingerprint_match is False
    assert "made in float16 on CPU, verified in float32 on CPU" in other.summary()
    assert "same weights and architecture config" in other.summary()

    on_gpu = json.loads(json.dumps(data))                            # as if made on a GPU
    on_gpu["reproduce"]["model_build"]["device"] = "cuda"
    body = {k: v for k, v in on_gpu.items() if k != "content_sha256"}
    on_gpu["content_sha256"] = hashlib.sha256(canonical_json(body)).hexdigest()
    out = verify_evidence(on_gpu, photo_files)
    if torch.cuda.is_available():
        assert out.fingerprint_match, out.summary()
    else:
        assert "made in float16 on CUDA, verified in float32 on CPU" in out.summary()
        assert out.observed   # the check was re-run and compared, not refused


def test_bundle_from_before_builds_were_recorded_still_verifies(checked):
    """Older bundles fingerprinted the weights alone (ARCH-<digest>); their weights still match."""
    import hashlib

    from idia_core.audit.evidence import canonical_json

    result, paths, photos = checked
    data = json.loads(paths["json"].read_text())
    build = data["reproduce"].pop("model_build")
    data["reproduce"]["fingerprint"] = f"clip-{build['weights']}"
    body = {k: v for k, v in data.items() if k != "content_sha256"}
    data["content_sha256"] = hashlib.sha256(canonical_json(body)).hexdigest()
    out = verify_evidence(data, photos)
    assert out.reproduced and out.fingerprint_match and "weights only" in out.summary()
    data["reproduce"]["fingerprint"] = "clip-" + "0" * 24
    body = {k: v for k, v in data.items() if k != "content_sha256"}
    data["content_sha256"] = hashlib.sha256(canonical_json(body)).hexdigest()
    assert verify_evidence(data, photos).fingerprint_match is False
