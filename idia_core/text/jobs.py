"""Encoding the prompts a pool is missing: once per process however many callers need them, with
progress in plain words, and with background warm-ups that always give way to visitors.

- **One encoding per prompt at a time.** A caller claims the prompts no one is encoding yet and
  waits for the others (another session asking for the same new pool at the same moment), so two
  sessions never encode the same prompts twice. If the other caller fails, the waiter encodes
  what it did not get itself.
- **Visitors first.** A background caller (a warm-up) claims one small chunk at a time and only
  while no foreground caller is encoding; so a visitor's check waits at most for one chunk of a
  warm-up of the same model, and never for a warm-up of another model.
- **Progress with an estimate** from the rate measured on this model in this process (the first
  chunk is small, so an estimate comes early): "Encoding 1000 names for this model — about 40 s
  left" (texts in ``prompts/messages/progress.toml``); the rate is also recorded for a whole
  check's progress (``progress.measure("text", fingerprint, …)``: seconds per prompt).
"""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from typing import Callable

import numpy as np

from ..messages import fill
from ..progress import Progress, format_seconds, measure, seconds_per_unit
from ..zoo import gpu
from ..zoo.encoding import equal_parts

Store = Callable[[list[str], np.ndarray], None]

CHUNK = 8192            # most prompts per encoder call (progress steps; larger calls run faster)
FIRST_CHUNK = 256       # the first call is small: its rate gives the estimate early
BACKGROUND_CHUNK = 512  # a visitor waits at most this many prompts behind a warm-up of its model


class _Batch:
    """Prompts one caller has claimed; others needing them wait for ``done``. A ``background``
    batch (a warm-up's) runs at the lowest priority: its rate says nothing about a visitor's."""

    def __init__(self, prompts: list[str], background: bool = False):
        self.prompts = prompts
        self.background = background
        self.done = threading.Event()
        self.vectors: dict[str, np.ndarray] | None = None  # None after ``done``: the owner failed


_LOCK = threading.Lock()
_INFLIGHT: dict[tuple[str, str], _Batch] = {}
_FOREGROUND = threading.Condition()
_foreground_active = 0


def progress_text(names: int, left_s: float | None, *, shared: bool = False) -> str:
    """'Encoding 1000 names for this model — about 40 s left' (None: no rate measured yet)."""
    if left_s is None:
        return fill("progress", "preparing_shared_first" if shared else "preparing_first", names=names)
    if left_s < 3:
        return fill("progress", "almost_done", names=names)
    return fill("progress", "preparing_shared" if shared else "preparing", names=names, left=format_seconds(left_s))


@contextmanager
def _foreground():
    global _foreground_active
    with _FOREGROUND:
        _foreground_active += 1
    try:
        yield
    finally:
        with _FOREGROUND:
            _foreground_active -= 1
            _FOREGROUND.notify_all()


def wait_for_no_visitor() -> None:
    """Block until no foreground caller is encoding (background work calls this between steps)."""
    with _FOREGROUND:
        _FOREGROUND.wait_for(lambda: _foreground_active == 0)


def lower_thread_priority() -> None:
    """Make the calling thread's CPU share yield to others (Linux: a thread has its own nice value)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass


def _finish(batch: _Batch, fingerprint: str, vectors: dict[str, np.ndarray] | None) -> None:
    batch.vectors = vectors
    with _LOCK:
        for p in batch.prompts:
            if _INFLIGHT.get((fingerprint, p)) is batch:
                del _INFLIGHT[(fingerprint, p)]
    batch.done.set()


def _chunks(items: list, first: int, size: int) -> list[list]:
    """``first`` items, then the rest in as few equal parts of at most ``size`` as there can be
    (the encoder is fastest on large calls: no small remainder). Where the GPU boundary runs each
    call in a worker of its own (ZeroGPU: each call waits for a GPU), all in one call."""
    if gpu.current().forks:
        return [items] if items else []
    return ([items[:first]] if items[:first] else []) + equal_parts(items[first:], size)


def encode_prompts(model, prompts: list[str], store: Store, *, names: int | None = None,
                   progress: Progress | None = None, background: bool = False) -> np.ndarray:
    """float32 vectors [len(prompts), D] of prompts no cache had, each encoded once per process,
    exactly as the model produced them.

    ``store(prompts, vectors)`` is called for every chunk this caller encodes (the shared cache).
    ``names``: how many candidate names the prompts stand for (for the progress text). With
    ``background`` the work yields to every foreground caller (see the module docstring)."""
    if not prompts:
        return np.empty((0, model.embed_dim), dtype=np.float32)
    fp = model.fingerprint
    names = names or len(prompts)
    total = len(prompts)
    got: dict[str, np.ndarray] = {}
    shared = False
    redo: list[str] = []

    def report() -> None:
        if progress is None:
            return
        done = len(got)
        per_prompt = seconds_per_unit("text", fp)
        left = (total - done) * per_prompt if per_prompt else None
        progress(done, total, progress_text(names, left, shared=shared))

    if background:
        _encode_in_background(model, prompts, store, got)
    else:
        with _foreground():
            with _LOCK:
                mine = [p for p in dict.fromkeys(prompts) if (fp, p) not in _INFLIGHT]
                theirs = {p: _INFLIGHT[(fp, p)] for p in dict.fromkeys(prompts) if (fp, p) in _INFLIGHT}
                batches = [_Batch(c) for c in _chunks(mine, FIRST_CHUNK, CHUNK)]
                for b in batches:
                    for p in b.prompts:
                        _INFLIGHT[(fp, p)] = b
            shared = any(not b.background for b in theirs.values())   # another visitor's check, not a warm-up
            report()
            pending = list(batches)
            try:
                while pending:
                    batch = pending.pop(0)
                    _encode_batch(model, batch, store, got)
                    report()
            finally:
                for batch in pending:  # only after a failure: the waiters encode these themselves
                    _finish(batch, fp, None)
            for batch in dict.fromkeys(theirs.values()):
                while not batch.done.wait(1.0):
                    report()
                wanted = [p for p in batch.prompts if p in theirs]
                if batch.vectors is None:
                    redo += wanted
                else:
                    got.update((p, batch.vectors[p]) for p in wanted)
                report()
        if redo:
            vecs = encode_prompts(model, redo, store, names=names, progress=None)
            got.update(zip(redo, vecs))
    report()
    return np.stack([got[p] for p in prompts])


def _encode_batch(model, batch: _Batch, store: Store, got: dict[str, np.ndarray]) -> None:
    fp = model.fingerprint
    try:
        t = time.perf_counter()
        vecs = model.encode_texts(batch.prompts).numpy().astype(np.float32, copy=False)
        elapsed = time.perf_counter() - t
        if elapsed > 0 and not batch.background:
            measure("text", fp, len(batch.prompts), elapsed)
        store(batch.prompts, vecs)
    except BaseException:
        _finish(batch, fp, None)
        raise
    vectors = dict(zip(batch.prompts, vecs))
    got.update(vectors)
    _finish(batch, fp, vectors)


def _encode_in_background(model, prompts: list[str], store: Store, got: dict[str, np.ndarray]) -> None:
    """One small chunk at a time, each only once no visitor is encoding; prompts someone else is
    encoding are waited for, not encoded again."""
    fp = model.fingerprint
    todo = list(dict.fromkeys(prompts))
    while todo:
        wait_for_no_visitor()
        with _LOCK:
            chunk, rest, theirs = [], [], {}
            for p in todo:
                if (fp, p) in _INFLIGHT:
                    theirs[p] = _INFLIGHT[(fp, p)]
                elif len(chunk) < BACKGROUND_CHUNK:
                    chunk.append(p)
                else:
                    rest.append(p)
            batch = _Batch(chunk, background=True)
            for p in chunk:
                _INFLIGHT[(fp, p)] = batch
        if chunk:
            _encode_batch(model, batch, store, got)
        retry = []
        for p, other in theirs.items():
            other.done.wait()
            if other.vectors is None:
                retry.append(p)
            else:
                got[p] = other.vectors[p]
        todo = rest + retry
