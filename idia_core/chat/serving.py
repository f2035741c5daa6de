"""The server's shared mechanics, without gradio: how many checks run at once (compute slots), the
URL-length limit (a plain ASGI middleware), and handing freed heap memory back to the OS.

``app.py`` wires these into gradio; they hold no session state and know nothing of the UI.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from typing import Callable

import torch

MAX_URL_CHARS = 16000   # twice a share link's limit (chat.share.MAX_LINK_CHARS); gradio fails beyond 64 kB


def compute_limit(environ=None) -> int:
    """Checks running at once (``IDIA_CONCURRENCY`` overrides): a GPU batches well; on CPU each check
    already uses every core, but two at a time keep one long encoding from holding up every other
    session."""
    env = os.environ if environ is None else environ
    if env.get("IDIA_CONCURRENCY", "").strip().isdigit():
        return max(1, int(env["IDIA_CONCURRENCY"]))
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


class UrlLengthLimit:
    """ASGI middleware: a request whose URL is longer than ``max_chars`` gets HTTP 414 and a page
    that says why (gradio would answer a 64 kB link with an internal error)."""

    def __init__(self, app, max_chars: int = MAX_URL_CHARS):
        self.app, self.max_chars = app, max_chars

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") \
                > self.max_chars:
            body = ("<!doctype html><meta charset=utf-8><title>Link too long</title><p>This link is too long for "
                    f"idia (more than {self.max_chars} characters). Share links made by idia stay well under "
                    "that, so it was cut, joined or edited: ask whoever sent it for a new link, or open "
                    "<a href='/'>idia</a> without it.</p>").encode()
            await send({"type": "http.response.start", "status": 414,
                        "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


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
