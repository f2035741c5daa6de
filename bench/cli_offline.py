"""How fast the CLI says that a model is missing offline (issue 22, item 5).

Runs, each as its own process on an empty Hugging Face cache with ``HF_HUB_OFFLINE=1``:
``python -m idia_core check --model SPEC ...`` for catalogue and hub specs that are not cached
(refused before torch is imported), beside ``python -c "import torch, open_clip"`` (what the
refusal used to wait for) and a check on the embedded sandbox model (which needs torch). Prints
the median wall time of each over a few runs and the ratio of the refusal to the import alone.
Run: ``python bench/cli_offline.py [--runs 5]``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPECS = ("ViT-B-32:laion400m_e32", "ViT-L-14:openai+quickgelu", "hf-hub:someone/not-downloaded")


def timed(cmd: list[str], env: dict, runs: int) -> tuple[float, int]:
    """(median seconds, last exit code) of ``runs`` runs of ``cmd``."""
    times, rc = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        rc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True).returncode
        times.append(time.perf_counter() - start)
    return statistics.median(times), rc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="idia-bench-offline-") as tmp:
        photos = []
        from PIL import Image  # only here: the photos the check is given

        for i in range(3):
            path = Path(tmp) / f"photo{i}.png"
            Image.new("RGB", (64, 64), (40 * i, 120, 90)).save(path)
            photos.append(str(path))
        env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", HF_HOME=str(Path(tmp) / "hf"),
                   HF_HUB_CACHE=str(Path(tmp) / "hf" / "hub"), IDIA_CACHE_DIR=str(Path(tmp) / "idia"))
        py = sys.executable
        imports, _ = timed([py, "-c", "import torch, open_clip"], env, args.runs)
        print(f"{'what':<58}{'median s':>10}{'exit':>6}")
        label = 'python -c "import torch, open_clip" (the old floor)'
        print(f"{label:<58}{imports:>10.2f}{0:>6}")
        worst = 0.0
        for spec in SPECS:
            secs, rc = timed([py, "-m", "idia_core", "check", "--model", spec, "--name", "Jane Doe", *photos], env,
                             args.runs)
            worst = max(worst, secs)
            print(f"{'check --model ' + spec + ' (not cached)':<58}{secs:>10.2f}{rc:>6}")
        sandbox, rc = timed([py, "-m", "idia_core", "check", "--model", "sandbox", "--name", "Jane Doe",
                             "--candidates", "20", "--reference", "none", *photos], env, 1)
        print(f"{'check --model sandbox, 20 names (loads torch; one run)':<58}{sandbox:>10.2f}{rc:>6}")
        print(f"\nslowest refusal / importing torch and open_clip alone: {worst / imports:.2f} "
              f"(slowest refusal {worst:.2f} s; target < 2 s)")


if __name__ == "__main__":
    main()
