"""The GPU boundary: the only heavy tensor work — image embeddings and new text embeddings — as pure
functions of plain data, run where the deployment says.

``embed_pixels(key, pixels)`` and ``embed_tokens(key, tokens)`` take a model key (spec, device,
precision: ``registry.ModelKey``) and a numpy array — preprocessed pixels [N, 3, H, W] float32, or
token ids [N, L] int64 — and return unit-norm float32 embeddings [N, D] as numpy. They find the
model this process holds under the key and touch nothing else: no cache, no session, no file, no
lock. Everything around them (parsing, sessions, files, caches, charts, reports, the turn gate)
stays in the calling process, and embeddings computed here are cached by the caller.

Where they run is one ``Boundary`` for the whole process (``install``; ``current``):

- ``InProcess`` (the default): here, in the calling thread.
- ``ZeroGPU``: as ``@spaces.GPU`` functions on a Hugging Face ZeroGPU Space. Each call runs in a
  forked worker that holds a GPU for the call and spends the visitor's GPU quota; arguments and
  result are pickled; CUDA exists only there; the duration asked for is sized from the work
  (``gpu_seconds``). A quota that ran out, or no GPU to be had, is an ``IdiaInputError`` with a
  message for the visitor, never a stack trace.
- ``ForkedWorker`` (``IDIA_EMULATE_ZEROGPU=1``): ZeroGPU's semantics on this machine, for tests and
  for debugging a Space locally: each call in a fresh forked child on the CPU, arguments and result
  pickled, nothing the child changes reaches this process.

Every call through a forking boundary is counted (``Boundary.calls``) and logged as one line
``idia: GPU call #N: embed_tokens (21000 items, 1.2 s)``, so an operator (or a test) sees which
turns asked for a GPU.
"""
from __future__ import annotations

import logging
import os
import pickle
import re
import signal
import threading
import time
from typing import Callable

import numpy as np
import torch

from .. import config
from ..errors import IdiaInputError
from ..forking import EMULATE_ENV
from . import registry
from .encoding import encode_pixels, encode_tokens_fast, encode_tokens_stock
from .registry import ModelKey

log = logging.getLogger(__name__)
# What a GPU does per second (conservative, float16, a ViT-L on an A10G-class slice), to size the
# duration a ZeroGPU call asks for: a lower duration gets a GPU sooner, a too low one is aborted.
PROMPTS_PER_S = 2000
PHOTOS_PER_S = 100
MIN_GPU_S, MAX_GPU_S = 15, 120   # 120 s is what an anonymous visitor may ask for in one call


# -- the work itself (runs wherever the boundary says) ----------------------------------------------
def embed_tokens(key: ModelKey, tokens: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """[N, L] token ids → [N, D] unit-norm float32 text embeddings, by the exact fast path where
    the text tower allows it (``encoding``), else open_clip's own ``encode_text``."""
    model = _model(key)
    ids = torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.int64))
    if model.text_tower is not None:
        return encode_tokens_fast(model.text_tower, ids, batch_size).numpy()
    return encode_tokens_stock(model.model, ids, batch_size).numpy()


def embed_pixels(key: ModelKey, pixels: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """[N, 3, H, W] preprocessed pixels → [N, D] unit-norm float32 image embeddings."""
    model = _model(key)
    pixels = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    return encode_pixels(model.model, pixels, batch_size).numpy()


def _model(key: ModelKey):
    model = registry.peek(key)
    if model is None:   # a caller always holds the model it asks about: this is a bug, not a user's mistake
        raise RuntimeError(f"no model {key} is held in this process")
    return model


def gpu_seconds(key: ModelKey, array: np.ndarray, *_) -> int:
    """The GPU time a call asks ZeroGPU for: a base for moving the model onto the GPU, plus the
    work at the rates above, between ``MIN_GPU_S`` and ``MAX_GPU_S``."""
    n = int(array.shape[0]) if array.ndim else 0
    work = n / (PHOTOS_PER_S if array.ndim == 4 else PROMPTS_PER_S)
    return int(min(MAX_GPU_S, max(MIN_GPU_S, 10 + 2 * work)))


# -- where it runs -----------------------------------------------------------------------------
class Boundary:
    """Runs ``embed_*`` in this process, in the calling thread."""

    name = "in-process"
    forks = False        # whether calls run in another process (then nothing they change comes back)
    lends_cuda = False   # whether models go on "cuda" although this process may see no GPU (ZeroGPU)

    def __init__(self):
        self.calls = 0
        self._count_lock = threading.Lock()

    def run(self, fn: Callable[..., np.ndarray], key: ModelKey, array: np.ndarray, *more) -> np.ndarray:
        """``fn(key, array, *more)`` wherever this boundary runs it; plain data in and out."""
        self._count()
        return fn(key, array, *more)

    def _count(self) -> int:
        with self._count_lock:
            self.calls += 1
            return self.calls

    def _logged(self, fn, key: ModelKey, array: np.ndarray, call) -> np.ndarray:
        n = self._count()
        t = time.perf_counter()
        out = call()
        print(f"idia: GPU call #{n}: {fn.__name__} ({len(array)} items, {key.spec}, "
              f"{time.perf_counter() - t:.2f} s)", flush=True)
        return out


InProcess = Boundary


class ForkedWorker(Boundary):
    """ZeroGPU's semantics on this machine: each call in a fresh forked child (see ``run_forked``)."""

    name = "forked worker (ZeroGPU emulation)"
    forks = True

    def run(self, fn, key, array, *more):
        return self._logged(fn, key, array, lambda: run_forked(fn, key, array, *more))


class ZeroGPU(Boundary):
    """Each call as a ``@spaces.GPU`` function (``spaces_gpu`` is ``spaces.GPU``), its duration sized
    by ``gpu_seconds``. Build it at start-up: ZeroGPU looks for its GPU functions when the app starts."""

    name = "ZeroGPU"
    forks = True
    lends_cuda = True

    def __init__(self, spaces_gpu):
        super().__init__()
        self._fns = {fn.__name__: spaces_gpu(duration=gpu_seconds)(fn) for fn in (embed_tokens, embed_pixels)}

    def run(self, fn, key, array, *more):
        try:
            return self._logged(fn, key, array, lambda: self._fns[fn.__name__](key, array, *more))
        except Exception as exc:
            raise gpu_error(exc) from exc


_current: Boundary = InProcess()


def install(boundary: Boundary) -> Boundary:
    """Run every ``embed_*`` call of this process through ``boundary`` from now on."""
    global _current
    _current = boundary
    return boundary


def current() -> Boundary:
    return _current


def boundary_from_environment(spaces_module=None, environ=None) -> Boundary:
    """ZeroGPU on a ZeroGPU Space (``spaces`` imported and its config says so), the forked-worker
    emulation with ``IDIA_EMULATE_ZEROGPU=1``, else in-process."""
    if config.flag(EMULATE_ENV, environ):
        return ForkedWorker()
    spaces_config = getattr(getattr(spaces_module, "config", None), "Config", None)
    if spaces_module is not None and getattr(spaces_config, "zero_gpu", False):
        return ZeroGPU(spaces_module.GPU)
    return InProcess()


# -- a forked child, as a ZeroGPU worker is ---------------------------------------------------------
# One fork at a time in this process (the children then run side by side): on Python ≥ 3.12,
# filelock ≥ 4.3 (huggingface_hub's) refuses an os.fork while another thread's fork is between its
# before- and after-fork hooks ("os.fork is unsafe while filelock is changing descriptor ownership").
_FORK_LOCK = threading.Lock()


def run_forked(fn, *args):
    """``fn(*args)`` in a forked child: the arguments are pickled into it and the result (or the
    exception) pickled back through a pipe, so only what the function returns comes back. The child
    runs torch on one thread: OpenMP's pool does not survive a fork, and the parent's other threads
    (and the locks they held) are not there."""
    payload_in = pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL)
    read_end, write_end = os.pipe()
    with _FORK_LOCK:
        pid = os.fork()
    if pid == 0:   # the child: never returns
        os.close(read_end)
        _child(fn, payload_in, write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise RuntimeError(f"the GPU worker died (wait status {status}) before it answered")
    ok, value = pickle.loads(data)
    if not ok:
        raise value
    return value


def _child(fn, payload_in: bytes, write_end: int) -> None:
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)   # the parent's clean-up handlers are the parent's
        torch.set_num_threads(1)
        try:
            out = (True, fn(*pickle.loads(payload_in)))
        except BaseException as exc:   # re-raised in the parent
            out = (False, exc)
        try:
            data = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:   # an exception that does not pickle: its text does
            data = pickle.dumps((False, RuntimeError(f"{type(out[1]).__name__}: {out[1]} ({exc})")))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)
    finally:
        os._exit(0)


# -- what a visitor reads when ZeroGPU says no ------------------------------------------------------
_RETRY = re.compile(r"retry in (\d+:\d{2}:\d{2})", re.I)


def gpu_error(exc: BaseException) -> BaseException:
    """ZeroGPU's refusals (a quota used up, no GPU to be had, a task aborted) as an
    ``IdiaInputError`` a visitor can act on; the original goes to the server log. Anything else
    (a bug) is returned as it is."""
    text = str(exc)
    kind = type(exc).__module__.split(".")[0]
    if kind not in ("gradio", "spaces") and "GPU" not in text:
        return exc
    log.warning("ZeroGPU refused a call: %s: %s", type(exc).__name__, text)
    if "quota" in text.lower():
        when = _RETRY.search(text)
        retry = f" Try again in {when.group(1)}" if when else " Try again later"
        return IdiaInputError(
            "gpu_quota",
            "This Space's GPU time for you is used up for now: ZeroGPU lends every visitor a daily quota "
            f"(a few minutes; more when you are signed in to Hugging Face).{retry}, or run idia on your own "
            "machine (`python app.py`), where no quota applies.")
    return IdiaInputError(
        "gpu_unavailable",
        "No GPU could be had for this check just now (the Space's shared GPUs are busy, or the task took "
        "too long). Try again in a minute; your photos and settings are still here.")
