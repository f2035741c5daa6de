"""Making a process safe to fork from while its threads compute: one thread per numeric pool.

Behind a forking GPU boundary (a ZeroGPU Space, or ``IDIA_EMULATE_ZEROGPU=1``; see ``zoo.gpu``) the
server forks a worker for each GPU call while its other threads may be inside numpy or torch. A
BLAS or OpenMP thread pool caught mid-call by a fork deadlocks (seen here: a numpy matmul waiting
forever on OpenBLAS's pool after 16 sessions' checks forked). One thread per pool avoids the pools
altogether; the heavy work runs in the workers anyway. Those settings are read when numpy and torch
load, so ``prepare_for_forks`` must run before they are imported: this module imports neither.
"""
from __future__ import annotations

import os

from . import config

EMULATE_ENV = "IDIA_EMULATE_ZEROGPU"     # the forked-worker emulation of ZeroGPU
ZEROGPU_ENV = "SPACES_ZERO_GPU"          # set by Hugging Face on a ZeroGPU Space
POOL_SIZES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def forks_for_gpu(environ=None) -> bool:
    """Whether this process will fork a worker per GPU call."""
    return config.flag(EMULATE_ENV, environ) or config.flag(ZEROGPU_ENV, environ)


def prepare_for_forks(environ=None) -> bool:
    """One thread per numeric pool when this process will fork for the GPU (an operator's own
    settings win). Returns whether it will fork. Call before numpy or torch is imported."""
    env = os.environ if environ is None else environ
    if not forks_for_gpu(env):
        return False
    for var in POOL_SIZES:
        env.setdefault(var, "1")
    return True
