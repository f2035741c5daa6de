"""The CLI end to end, as a separate process on real files: JSON out, and exit code 2 with one line
on stderr (never a traceback) for each bad input."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "idia_core", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_check_json_end_to_end(tiny_model_dir, photo_files):
    proc = run_cli("check", "--model", f"local-dir:{tiny_model_dir}", "--name", "Jane Doe",
                   "--add-name", "Janet Doe", "--candidates", "60", "--json", *photo_files)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for key in ("member", "correct_templates", "n_templates", "tau", "n_photos", "n_candidates", "model",
                "fingerprint", "true_name_median_rank", "top_names"):
        assert key in data
    assert data["n_photos"] == 5 and data["n_candidates"] == 60 and data["n_templates"] == 21
    assert data["member"] == (data["correct_templates"] >= data["tau"])
    assert 1 <= data["true_name_median_rank"] <= 60
    assert len(data["photo_sha256"]) == 5


def test_check_readable_output(tiny_model_dir, photo_files):
    proc = run_cli("check", "--model", f"local-dir:{tiny_model_dir}", "--name", "Jane Doe",
                   "--candidates", "30", *photo_files)
    assert proc.returncode == 0, proc.stderr
    assert "Jane Doe" in proc.stdout and "templates" in proc.stdout


def _bad_cases(tmp: Path, good: list):
    text_jpg = tmp / "notes.jpg"
    text_jpg.write_text("not a photo")
    empty = tmp / "empty.jpg"
    empty.write_bytes(b"")
    names = tmp / "names.txt"
    names.write_text("Ann Lee\n{0.__class__}\n")
    return {
        "no photos": ["--name", "Jane Doe"],
        "one photo": ["--name", "Jane Doe", good[0]],
        "missing file": ["--name", "Jane Doe", good[0], good[1], tmp / "nope.jpg"],
        "text as jpg": ["--name", "Jane Doe", good[0], good[1], text_jpg],
        "empty file": ["--name", "Jane Doe", good[0], good[1], empty],
        "empty name": ["--name", "", *good],
        "long name": ["--name", "x" * 2000, *good],
        "format name": ["--name", "{0.__class__}", *good],
        "tau 0": ["--name", "Jane Doe", "--tau", "0", *good],
        "tau 22": ["--name", "Jane Doe", "--tau", "22", *good],
        "tau abc": ["--name", "Jane Doe", "--tau", "abc", *good],
        "pool 0": ["--name", "Jane Doe", "--candidates", "0", *good],
        "pool huge": ["--name", "Jane Doe", "--candidates", "1000000", *good],
        "unknown model": ["--name", "Jane Doe", "--model", "NoSuchNet:foo", *good],
        "bad names file": ["--name", "Jane Doe", "--names-file", names, *good],
        "template set": ["--name", "Jane Doe", "--templates", "nope", *good],
        "missing --name": [*good],
    }


def test_each_bad_input_exits_2_with_one_line(tmp_path, photo_files, tiny_model_dir, capsys):
    """In-process (the same ``main`` the module runs) so that 17 cases don't pay 17 torch imports."""
    from idia_core.cli.main import main

    messages = set()
    for label, args in _bad_cases(tmp_path, photo_files).items():
        model = [] if "--model" in args else ["--model", f"local-dir:{tiny_model_dir}"]
        code = main(["check", *model, *map(str, args)])
        out, err = capsys.readouterr()
        assert code == 2, (label, out, err)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), (label, err)
        messages.add(lines[0])
    assert len(messages) == len(_bad_cases(tmp_path, photo_files))  # each case has its own message


@pytest.mark.parametrize("args", [["--name", "Jane Doe"], ["--name", "Jane Doe", "--tau", "abc", "a.jpg"]])
def test_bad_input_in_a_real_process(args):
    proc = run_cli("check", *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_models_list():
    proc = run_cli("models", "list", "--json")
    assert proc.returncode == 0
    assert any(e["spec"] == "sandbox" for e in json.loads(proc.stdout))


def test_sandbox_evaluate_prints_its_table_with_a_progress_bar():
    """The readable ``sandbox evaluate`` (no --json) shows a progress bar; it used to stop at once
    (``tqdm`` refuses ``bool()`` before it knows its total)."""
    proc = run_cli("sandbox", "evaluate", "--photos", "3", "--draws", "2", "--people-limit", "6",
                   "--reference-limit", "10", "--control-people", "5")
    assert proc.returncode == 0, proc.stderr
    assert "IDIA on the sandbox world" in proc.stdout and "member k=100" in proc.stdout
    assert "attacking sandbox people" in proc.stderr


def test_a_reader_that_stops_early_gets_no_traceback():
    """`python -m idia_core sandbox people | head -1`: the pipe closes under a long listing; the
    command leaves quietly (exit 0, nothing on stderr), as Unix tools do."""
    proc = subprocess.Popen([sys.executable, "-m", "idia_core", "sandbox", "people"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    first = proc.stdout.readline()
    proc.stdout.close()                       # what `head -1` does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert b"name" in first and "Traceback" not in err and "BrokenPipe" not in err
