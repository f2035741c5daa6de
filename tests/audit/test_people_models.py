"""``audit`` on the local engine: every row is what ``check`` says for the same photos, nothing is
lost (Ctrl-C, a vanished photo, a model that does not load) and nothing is written twice (re-runs,
shards), and the report shows the matrix."""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil

import pandas as pd
import pytest

from idia_core.audit import results
from idia_core.audit.people_models import run_audit
from idia_core.audit.results import PARTS_DIR, AuditSettings, read_parts
from idia_core.cli.main import main
from idia_core.errors import IdiaInputError
from tests.audit.conftest import CANDIDATES, comparable


def _check_cli(capsys, spec: str, name: str, photos) -> dict:
    """What `python -m idia_core check --json` says for one person on one model."""
    capsys.readouterr()
    assert main(["check", "--model", spec, "--name", name, "--candidates", str(CANDIDATES), "--json",
                 *map(str, photos)]) == 0
    return json.loads(capsys.readouterr().out)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def test_every_row_is_what_check_says(local_audit, audit_people, capsys):
    table = local_audit.table
    assert len(table) == 8 and set(table["status"]) == {"done"}
    for row in table.to_dict("records"):
        photos = sorted((audit_people / row["folder"]).glob("*.png"))
        want = _check_cli(capsys, row["model"], row["person"], photos)
        got = {"verdict": row["verdict"], "member": row["member"], "correct_templates": row["correct_templates"],
               "fingerprint": row["fingerprint"], "n_candidates": row["n_candidates"], "n_photos": row["n_photos"],
               "pool_rank_p": row["pool_rank_p"]}
        assert got == {k: want[k] for k in got}, row["person"]
        assert _same(row["chance"], float("nan") if want["chance"] is None else want["chance"])
        ctl = want["controls"]
        assert row["controls_ran"] == bool(ctl and ctl["ran"])
        for kind in ("look_alikes", "name_prior"):
            if ctl and ctl["ran"]:
                c = ctl[kind]
                assert (row[f"{kind}_m"], row[f"{kind}_reached"], row[f"{kind}_at_least_observed"]) == \
                       (c["m"], c["reached_tau"], c["at_least_observed"])
                assert _same(row[f"{kind}_chance"], c["chance"])
                assert row["reference_set_sha256"] == ctl["reference_set"]["sha256"]
            else:
                assert pd.isna(row[f"{kind}_m"])
        assert row["photo_set_sha256"] == hashlib.sha256("\n".join(sorted(want["photo_sha256"])).encode()).hexdigest()


def test_the_sandbox_truth_shows_through(local_audit):
    """Known truth of the sandbox world: the members seen 100 and 50 times pass the rule; the
    never-seen non-member does not; the controls ran on the sandbox and not on the tiny model."""
    sb = local_audit.table[local_audit.table["model"] == "sandbox"].set_index("occurrences")
    assert sb.loc[100.0, "member"] and sb.loc[50.0, "member"]
    assert sb["controls_ran"].all()
    tiny = local_audit.table[local_audit.table["model"] != "sandbox"]
    assert not tiny["controls_ran"].any() and set(tiny["verdict"]) <= {"member-unchecked", "non-member"}


def test_a_rerun_writes_nothing_new(local_audit, audit_people, tiny_spec, audit_settings):
    parts = sorted(os.listdir(local_audit.out_dir / PARTS_DIR))
    again = run_audit(audit_people, ["sandbox", tiny_spec], local_audit.out_dir, audit_settings)
    assert again.counts == {"done": 0, "invalid": 0, "failed": 0, "skipped": 8}
    assert sorted(os.listdir(local_audit.out_dir / PARTS_DIR)) == parts
    pd.testing.assert_frame_equal(comparable(again.table), comparable(local_audit.table))


def test_a_rerun_reads_the_labels_as_they_are_now(local_audit, audit_people, tiny_spec, audit_settings, tmp_path):
    """labels.csv edited after an audit (counts found later by ``occurrences``): a re-run checks
    nothing again, yet its table and report carry the new labels."""
    people, out = tmp_path / "people", tmp_path / "out"
    shutil.copytree(audit_people, people)
    shutil.copytree(local_audit.out_dir, out)
    labels = pd.read_csv(people / "labels.csv")
    labels["occurrences"] = [7, 0, 3, 1][:len(labels)]
    labels.to_csv(people / "labels.csv", index=False)
    names = pd.read_csv(people / "names.csv").set_index("name")["folder"]
    again = run_audit(people, ["sandbox", tiny_spec], out, audit_settings)
    assert again.counts["skipped"] == 8 and again.counts["done"] == 0
    want = {names[n]: float(k) for n, k in zip(labels["name"], labels["occurrences"])}
    for table in (again.table, pd.read_parquet(out / "results.parquet")):
        assert {f: float(k) for f, k in zip(table["folder"], table["occurrences"])} == want
    verdicts = ["member", "verdict", "correct_templates"]
    pd.testing.assert_frame_equal(again.table.sort_values(["folder", "model"])[verdicts].reset_index(drop=True),
                                  local_audit.table.sort_values(["folder", "model"])[verdicts].reset_index(drop=True))


def test_interrupted_audit_resumes_to_the_same_table(local_audit, audit_people, tiny_spec, audit_settings, tmp_path,
                                                     monkeypatch):
    monkeypatch.setattr(results, "FLUSH_SECONDS", 0.0)        # every row on disk as soon as it is made
    monkeypatch.setattr(results, "RESULTS_SECONDS", 0.0)
    out = tmp_path / "out"
    seen = []

    def stop_after_three(row):
        seen.append(row)
        on_disk = pd.read_parquet(out / "results.parquet")      # the table grows while the audit runs
        assert len(on_disk) == len(seen) and len(read_parts(out)) == len(seen)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_audit(audit_people, ["sandbox", tiny_spec], out, audit_settings, on_row=stop_after_three)
    assert len(read_parts(out)) == 3 and len(pd.read_parquet(out / "results.parquet")) == 3
    assert (out / "report.html").is_file()
    done = run_audit(audit_people, ["sandbox", tiny_spec], out, audit_settings)
    assert done.counts["skipped"] == 3 and done.counts["done"] == 5
    assert len(read_parts(out)) == 8
    pd.testing.assert_frame_equal(comparable(done.table), comparable(local_audit.table))


def test_shards_merge_into_the_same_table(local_audit, audit_people, tiny_spec, audit_settings, tmp_path, capsys):
    out = tmp_path / "out"
    first = run_audit(audit_people, ["sandbox", tiny_spec], out, audit_settings, shard="0/2")
    assert first.n_people == 2 and len(first.table) == 4
    second = run_audit(audit_people, ["sandbox", tiny_spec], out, audit_settings, shard="1/2")
    assert second.n_people == 2
    pd.testing.assert_frame_equal(comparable(second.table), comparable(local_audit.table))
    # each shard's summary gives the member rates of its own people, not of the whole folder so far
    folders = sorted(local_audit.table["folder"].unique())
    for outcome, mine in ((first, folders[0::2]), (second, folders[1::2])):
        rows = local_audit.table[local_audit.table["folder"].isin(mine) & (local_audit.table["model"] == "sandbox")]
        assert f"sandbox {rows['member'].astype(bool).mean():.0%}" in outcome.summary()
    (out / "results.parquet").unlink()
    assert main(["audit-merge", str(out)]) == 0
    assert "8 rows" in capsys.readouterr().out
    pd.testing.assert_frame_equal(comparable(pd.read_parquet(out / "results.parquet")), comparable(local_audit.table))


def test_a_model_that_fails_to_load_fails_its_rows_only(audit_people, audit_settings, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["audit", str(audit_people), "--models", "sandbox,ViT-B-32:openai", "--out", str(out),
                 "--candidates", str(CANDIDATES), "--no-progress"])
    assert code == 1                     # some rows failed: a re-run retries them
    summary = capsys.readouterr().out
    assert "4 checked" in summary and "4 failed" in summary
    table = pd.read_parquet(out / "results.parquet")
    failed = table[table["model"] == "ViT-B-32:openai"]
    assert set(failed["status"]) == {"failed"} and set(failed["error_code"]) == {"model_not_cached"}
    assert failed["error"].str.contains("not in the local Hugging Face cache").all()
    assert set(table.loc[table["model"] == "sandbox", "status"]) == {"done"}
    # a re-run retries the failed rows and still holds one row per person × model
    again = run_audit(audit_people, "sandbox,ViT-B-32:openai", out, audit_settings)
    assert again.counts == {"done": 0, "invalid": 0, "failed": 4, "skipped": 4}
    assert len(again.table) == 8 and not again.table.duplicated(["folder", "model"]).any()


def test_a_photo_that_vanishes_makes_its_rows_invalid(audit_people, audit_settings, tmp_path):
    people = tmp_path / "people"
    for folder in audit_people.iterdir():
        if folder.is_dir():
            (people / folder.name).mkdir(parents=True)
            for photo in folder.iterdir():
                (people / folder.name / photo.name).write_bytes(photo.read_bytes())
    (people / "names.csv").write_bytes((audit_people / "names.csv").read_bytes())
    last = sorted(p for p in people.iterdir() if p.is_dir())[-1]

    def remove_a_photo(row):
        (last / "01.png").unlink(missing_ok=True)

    outcome = run_audit(people, ["sandbox"], tmp_path / "out", audit_settings, on_row=remove_a_photo)
    row = outcome.table.set_index("folder").loc[last.name]
    assert (row["status"], row["error_code"]) == ("invalid", "audit_photo_unreadable")
    assert "01.png" in row["error"] and outcome.counts == {"done": 3, "invalid": 1, "failed": 0, "skipped": 0}


def test_the_report_shows_matrix_rates_and_occurrences(local_audit):
    html = (local_audit.out_dir / "report.html").read_text(encoding="utf-8")
    assert "IDIA audit: 4 people × 2 models" in html
    for person in local_audit.table["person"].unique():
        assert person in html
    assert "People × models" in html and "Per model" in html and "TPR by training occurrences" in html
    for png in ("matrix.png", "member_rates.png", "tpr_by_occurrence_0.png"):
        assert (local_audit.out_dir / png).stat().st_size > 1000
    summary = local_audit.summary()
    assert "4 people × 2 models" in summary and "8 checked" in summary and "people×models/min" in summary
    # settings left to check's defaults say what they are, never an empty cell
    assert "<th>photos</th><td>all of each person&#x27;s photos (at most 50)</td>" in html
    assert "<th>precision</th><td>IDIA_PRECISION if set" in html and "<td></td>" not in html


def test_one_model_is_one_model(audit_people, audit_settings, tmp_path):
    out = run_audit(audit_people, ["sandbox"], tmp_path / "out", audit_settings, shard="0/4")
    html = (out.out_dir / "report.html").read_text(encoding="utf-8")
    assert "IDIA audit: 1 person × 1 model</h1>" in html
    assert "Audited 1 people" not in out.summary() and "× 1 model (" in out.summary()


@pytest.mark.parametrize("kwargs, code", [
    ({"people_dir": "missing-folder"}, "people_dir_missing"),
    ({"models": ""}, "audit_models"),
    ({"models": "ViT-Q-99:openai"}, "model_unknown"),
    ({"shard": "2/2"}, "audit_shard"),
    ({"shard": "one of two"}, "audit_shard"),
    ({"settings": AuditSettings(photos=2)}, "audit_photos"),
    ({"settings": AuditSettings(control_m="many")}, "control_m_range"),
    ({"settings": AuditSettings(reference="no-such-reference")}, "reference_missing"),
    ({"engine": "spark"}, "audit_engine"),
    ({"workers": 0}, "audit_workers"),
])
def test_bad_audit_input_is_refused_before_anything_runs(audit_people, tmp_path, kwargs, code):
    args = {"people_dir": audit_people, "models": "sandbox", "settings": AuditSettings(n_candidates=CANDIDATES)}
    args.update(kwargs)
    if args["people_dir"] == "missing-folder":
        args["people_dir"] = tmp_path / "missing-folder"
    with pytest.raises(IdiaInputError) as err:
        run_audit(args.pop("people_dir"), args.pop("models"), tmp_path / "out", args.pop("settings"), **args)
    assert err.value.code == code
    assert not (tmp_path / "out" / PARTS_DIR).exists() or not os.listdir(tmp_path / "out" / PARTS_DIR)


def test_an_output_folder_of_other_settings_is_refused(local_audit, audit_people, capsys):
    code = main(["audit", str(audit_people), "--models", "sandbox", "--out", str(local_audit.out_dir),
                 "--candidates", str(CANDIDATES + 1), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "other settings" in err and f"n_candidates: {CANDIDATES} there, {CANDIDATES + 1} now" in err


def test_a_people_folder_without_photos_is_refused(tmp_path, capsys):
    (tmp_path / "people" / "Jane Doe").mkdir(parents=True)
    (tmp_path / "people" / "Jane Doe" / "notes.txt").write_text("no photos here")
    assert main(["audit", str(tmp_path / "people"), "--models", "sandbox", "--out", str(tmp_path / "o")]) == 2
    assert "No person folder with photos" in capsys.readouterr().err


def test_the_cli_shows_progress_and_a_summary(local_audit, audit_people, tiny_spec, capsys):
    code = main(["audit", str(audit_people), "--models", f"sandbox,{tiny_spec}", "--out", str(local_audit.out_dir),
                 "--candidates", str(CANDIDATES)])
    assert code == 0
    captured = capsys.readouterr()
    assert "audit: 100%" in captured.err and "8/8" in captured.err and "check/s" in captured.err
    assert "0 checked, 8 already done" in captured.out and "report.html" in captured.out


def test_a_worker_adopting_a_shared_preparation_encodes_nothing(audit_people, audit_settings, monkeypatch):
    """What travels through Ray's object store is enough: a second worker of the model checks a
    person without encoding a prompt or a reference photo, and says what the first one says."""
    from idia_core.audit.people import load_people, open_person
    from idia_core.audit.worker import ModelWorker
    from idia_core.text.embeddings import clear_pool_memo

    settings = audit_settings.validated()
    people = load_people(audit_people).people
    first = ModelWorker("sandbox", settings)
    shared = first.prepare([p.name for p in people], [len(p.photos) for p in people])
    first.adopt(shared)
    second = ModelWorker("sandbox", settings)
    second.adopt(shared)
    clear_pool_memo()
    calls = {"texts": 0, "images": 0}
    model = second.model
    encode_texts, encode_images = model.encode_texts, model.encode_images

    def count_texts(*a, **k):
        calls["texts"] += 1
        return encode_texts(*a, **k)

    def count_images(*a, **k):
        calls["images"] += 1
        return encode_images(*a, **k)

    monkeypatch.setattr(model, "encode_texts", count_texts)
    monkeypatch.setattr(model, "encode_images", count_images)
    job, photos, _ = open_person(people[0])
    row = second.check(job, photos)
    assert calls == {"texts": 0, "images": 1}           # only the person's own photos
    monkeypatch.undo()
    want = first.check(job, photos)
    assert {k: row[k] for k in ("verdict", "correct_templates", "look_alikes_reached", "name_prior_reached")} == \
           {k: want[k] for k in ("verdict", "correct_templates", "look_alikes_reached", "name_prior_reached")}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder whatever its permissions")
def test_an_unreadable_people_folder_is_refused(audit_people, tmp_path):
    people = tmp_path / "people"
    (people / "Jane Doe").mkdir(parents=True)
    (people / "Jane Doe").chmod(0)
    try:
        with pytest.raises(IdiaInputError) as err:
            run_audit(people, "sandbox", tmp_path / "out")
    finally:
        (people / "Jane Doe").chmod(0o755)
    assert err.value.code == "people_dir_unreadable" and "Jane Doe" in err.value.message


def test_a_resumed_audit_reads_each_persons_photos_once(local_audit, audit_people, tiny_spec, audit_settings,
                                                        monkeypatch):
    """Every row is finished: the rerun needs each photo set's hash once, not once per model (the
    Ray engine already read each person once)."""
    from pathlib import Path

    people = os.path.realpath(audit_people)
    reads = []
    real_read = Path.read_bytes

    def counted(path):
        if os.path.realpath(path).startswith(people + os.sep):
            reads.append(os.path.realpath(path))
        return real_read(path)

    monkeypatch.setattr(Path, "read_bytes", counted)
    again = run_audit(audit_people, ["sandbox", tiny_spec], local_audit.out_dir, audit_settings)
    assert again.counts["skipped"] == 8
    photos = [f for f in reads if not f.endswith(".csv")]
    assert photos and len(photos) == len(set(photos)), sorted(photos)
