"""bench/gpu_check.py: without CUDA it runs its CPU self-check — the same three steps (pool
encoding, float32 vs float16 verdicts on the sandbox world, the launched app's check endpoint in
both precisions) at small sizes — so the script a GPU run depends on is known to work before any GPU time is spent."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_self_check_runs_every_step_and_prints_one_table(tmp_path):
    temp = tmp_path / "temp"
    temp.mkdir()
    env = dict(os.environ, HF_HUB_OFFLINE="1", IDIA_CACHE_DIR=str(tmp_path / "cache"), TMPDIR=str(temp))
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--self-check"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("step "))
    rows = [line for line in lines[header + 2:] if " | " in line]
    assert [r.split("|")[0].strip() for r in rows] == ["pool encoding", "precision", "app check", "app check"]
    assert all(r.rstrip().endswith("yes") for r in rows)
    assert "float32 vs float16 on CPU" in out and "all rows pass" in out
    assert "/check, float16 on CPU" in out and "/check, float32 on CPU" in out   # the app in both precisions
    # its rendered photos and the app's folders went with the run (torch leaves an empty cache folder)
    assert [p.name for p in temp.rglob("*") if p.is_file() or p.name.startswith("idia-")] == []
