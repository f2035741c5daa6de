"""A process that forks a GPU worker per call (ZeroGPU, or its emulation) runs its numeric pools on
one thread each, set before numpy and torch load; an operator's own setting wins; elsewhere nothing
changes."""
import subprocess
import sys
from pathlib import Path

from idia_core.forking import POOL_SIZES, forks_for_gpu, prepare_for_forks

ROOT = Path(__file__).resolve().parents[1]


def test_only_a_forking_process_is_changed():
    laptop = {}
    assert not prepare_for_forks(laptop) and laptop == {}
    for flag in ({"IDIA_EMULATE_ZEROGPU": "1"}, {"SPACES_ZERO_GPU": "true"}):
        env = dict(flag, OMP_NUM_THREADS="4")
        assert forks_for_gpu(env) and prepare_for_forks(env)
        assert env["OMP_NUM_THREADS"] == "4"                       # the operator's own choice
        assert all(env[v] in ("1", "4") for v in POOL_SIZES)
    assert not forks_for_gpu({"IDIA_EMULATE_ZEROGPU": "0", "SPACES_ZERO_GPU": "false"})


def test_the_app_prepares_before_numpy_and_torch_load(tmp_path):
    """Importing app.py with the emulation flag: torch and numpy's BLAS see one thread (a pool
    size read at import cannot be changed afterwards, so app.py must prepare first)."""
    script = ("import os, app, torch; "
              "print(app.GPU.name, torch.get_num_threads(), os.environ['OPENBLAS_NUM_THREADS'])")
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "IDIA_EMULATE_ZEROGPU": "1", "IDIA_CACHE_DIR": str(tmp_path),
           "GRADIO_TEMP_DIR": str(tmp_path / "gradio"), "TMPDIR": str(tmp_path), "MPLBACKEND": "Agg",
           "GRADIO_ANALYTICS_ENABLED": "False", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "forked worker (ZeroGPU emulation) 1 1"
