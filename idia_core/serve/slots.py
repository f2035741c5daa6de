"""What a check costs the server, shared by every visitor: how many checks run at once (compute
slots), and handing freed heap memory back to the OS after one.

Turns that run no check never take a slot (``routing`` tells which do), so they are answered while
checks hold every slot. No gradio import.
"""
from __future__ import annotations

import contextlib
import ctypes
import threading
from typing import Callable

from .. import config


def compute_limit(environ=None) -> int:
    """Checks running at once (``IDIA_CONCURRENCY`` overrides): a GPU batches well; on CPU each check
    already uses every core, but two at a time keep one long encoding from holding up every other
    session."""
    given = config.whole("IDIA_CONCURRENCY", None, environ)
    if given is not None:
        return max(1, given)
    import torch  # only to ask whether a GPU is here; the app has loaded it by now

    return 8 if torch.cuda.is_available() else 2


class ComputeSlots:
    """At most ``limit`` turns that may run a check hold a slot at once; turns that run no check
    never take one, so they are answered while checks hold every slot."""

    def __init__(self, limit: int):
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    @contextlib.contextmanager
    def hold(self, needed: bool, on_wait: Callable[[], None] | None = None):
        """Hold a slot while the block runs (when ``needed``); ``on_wait`` is called once when every
        slot is taken and the caller has to wait (to tell the visitor why nothing happens yet)."""
        if not needed:
            yield
            return
        if not self._slots.acquire(blocking=False):
            if on_wait is not None:
                on_wait()
            self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()


def _libc_malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):   # not glibc: nothing to do
        return None


_MALLOC_TRIM = _libc_malloc_trim()


def return_free_memory() -> None:
    """Hand freed heap pages back to the OS. Each check allocates and frees tens of MB (pool
    embeddings, similarities) from many worker threads; glibc keeps such memory in its arenas, so
    without this a busy server's RSS creeps up by fragmentation though nothing is leaked."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
